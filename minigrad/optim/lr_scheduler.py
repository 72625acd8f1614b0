"""Learning-rate schedules that drive ``param_group['lr']`` of a minigrad optimizer, PyTorch-style.

    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)            # opt.step() inside
        sched.step()          # after the optimizer, as in PyTorch

Contract with the optimizer: it has ``param_groups``, a list of dicts holding ``'lr'``. As in
PyTorch, constructing a scheduler stores each group's current lr as ``'initial_lr'`` (unless it
is already there), uses those as ``base_lrs`` and immediately performs step 0, so
``get_last_lr()`` is the lr for the first epoch. Each ``step()`` advances ``last_epoch`` and
writes ``lr(last_epoch)`` into every group.

Every schedule here is computed in closed form from ``base_lrs`` and ``last_epoch`` (the
formulas of PyTorch's ``_get_closed_form_lr``), so results never drift and ``step(epoch)`` can
jump anywhere. PyTorch's default step is the recursive ("chainable") form, which agrees with
these to rounding (about 1e-15 relative) unless something else also edits ``group['lr']``; this
module does not support chaining two schedulers on one optimizer.

Scheduler state (``state_dict()``) is plain numbers and lists, so it can go into ``mg.save``.

``ReduceLROnPlateau`` is the exception to the closed form, as in PyTorch: it reacts to a metric
(``sched.step(val_loss)``) and multiplies the current lrs by ``factor`` after ``patience`` epochs
without improvement. ``OneCycleLR`` also sets the optimizer's momentum (or Adam's beta1) per step.
"""
import math
import numbers

import numpy as np

from ..grad_mode import check_bool, describe
from ..nn.argcheck import check_int, check_real, positive_int
from ..tensor import Tensor

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "LinearWarmup",
           "OneCycleLR", "ReduceLROnPlateau", "StepLR"]


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` from ``self.base_lrs`` and ``self.last_epoch``."""

    _hyper = ()     # names of the hyper-parameters that state_dict() records

    def __init__(self, optimizer, last_epoch=-1):
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not all(isinstance(g, dict) and "lr" in g for g in groups):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer: expected a "
                            "'param_groups' list of dicts with an 'lr' entry")
        self.optimizer = optimizer
        last_epoch = check_int(last_epoch, type(self).__name__, "last_epoch", lo=-1)
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr'; resuming a schedule with "
                                   f"last_epoch={last_epoch} needs the optimizer state it was saved with")
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self):
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance one epoch (or jump to ``epoch``) and write the new lrs into the param groups."""
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else check_int(epoch, f"{type(self).__name__}.step",
                                                                              "epoch")
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lrs set by the latest ``step()``, one per param group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything needed to resume: epoch counters, base lrs and hyper-parameters."""
        d = {"last_epoch": self.last_epoch, "_step_count": self._step_count,
             "base_lrs": list(self.base_lrs), "_last_lr": list(self._last_lr)}
        d.update({name: getattr(self, name) for name in self._hyper})
        return d

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned (keys PyTorch adds and this class lacks are ignored).

        Like PyTorch, this does not touch the optimizer: load the optimizer's own state dict to
        restore its current lrs.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{owner}: expected a dict (from state_dict()), got {describe(state_dict)}")
        known = ("last_epoch", "_step_count", "base_lrs", "_last_lr") + tuple(self._hyper)
        values = {key: state_dict[key] for key in known if key in state_dict}
        for key in ("last_epoch", "_step_count"):          # checked before anything changes
            if key in values:
                check_int(values[key], owner, key)
        n = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr"):
            if key in values:
                v = values[key]
                if not isinstance(v, (list, tuple)) or len(v) != n or not all(
                        isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v):
                    raise TypeError(f"{owner}: {key} must be a list of {n} numbers (one per param group), "
                                    f"got {describe(v)}")
                values[key] = list(v)
        for key, value in values.items():
            setattr(self, key, value)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size): decay by ``gamma`` every ``step_size`` epochs."""

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = check_real(gamma, "StepLR", "gamma", lo=0.0)      # a negative or NaN gamma: garbage lrs
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.

    Reaches ``eta_min`` at epoch ``T_max``; beyond it the cosine continues (it rises again with
    period 2*T_max), as PyTorch's schedule does (no warm restarts are implied).
    """

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = positive_int(T_max, "T_max")
        self.eta_min = check_real(eta_min, "CosineAnnealingLR", "eta_min", lo=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Multiply base_lr by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then keep ``end_factor`` (PyTorch's LinearLR, defaults included)."""

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        check_real(start_factor, "LinearLR", "start_factor", 0.0, 1.0, lo_open=True)
        check_real(end_factor, "LinearLR", "end_factor", 0.0, 1.0)
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = positive_int(total_iters, "total_iters")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t = min(self.total_iters, self.last_epoch)
        f = self.start_factor + (self.end_factor - self.start_factor) * t / self.total_iters
        return [base * f for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch); ``lr_lambda`` is a function or one function per group.

    ``state_dict()`` does not contain the functions (they cannot be saved without pickle):
    re-create the scheduler with the same functions and then load its state.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(getattr(optimizer, "param_groups", []))
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"expected {n} lr_lambdas (one per param group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        bad = [f for f in self.lr_lambdas if not callable(f)]
        if bad:
            raise TypeError(f"LambdaLR: lr_lambda must be callable (or a list of callables, one per param "
                            f"group), got {describe(bad[0])}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = []
        for f, base in zip(self.lr_lambdas, self.base_lrs):
            factor = f(self.last_epoch)
            if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not math.isfinite(factor):
                raise (ValueError if isinstance(factor, numbers.Real) else TypeError)(
                    f"LambdaLR: lr_lambda({self.last_epoch}) returned {describe(factor)}; expected a finite number")
            lrs.append(base * factor)
        return lrs


class LinearWarmup(LRScheduler):
    """Linear warm-up: lr = base_lr * min(1, (epoch + 1) / warmup_steps).

    The first step uses base_lr / warmup_steps, step ``warmup_steps - 1`` reaches base_lr and the
    lr stays there. Call ``step()`` once per optimizer update. (Equivalent to PyTorch's
    ``LinearLR(opt, start_factor=1/warmup_steps, total_iters=warmup_steps-1)``.)
    """

    _hyper = ("warmup_steps",)

    def __init__(self, optimizer, warmup_steps, last_epoch=-1):
        self.warmup_steps = positive_int(warmup_steps, "warmup_steps")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        f = min(1.0, (self.last_epoch + 1) / self.warmup_steps)
        return [base * f for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch: decay by ``gamma`` every epoch."""

    _hyper = ("gamma",)

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_real(gamma, "ExponentialLR", "gamma", lo=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


def _per_group(name, optimizer, value):
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"expected {n} values for {name} (one per param group), got {len(value)}")
        return list(value)
    return [value] * n


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin): lr rises from max_lr / div_factor to ``max_lr`` over the
    first ``pct_start`` of ``total_steps`` and anneals to max_lr / (div_factor * final_div_factor)
    ('cos' or 'linear'); momentum moves the opposite way between ``max_momentum`` and
    ``base_momentum`` when ``cycle_momentum``. ``three_phase`` adds PyTorch's symmetric descent
    back to the initial lr before the final annealing. Call ``step()`` once per batch;
    stepping past ``total_steps`` raises ValueError.
    """

    _hyper = ("total_steps",)

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if total_steps is not None:
            self.total_steps = positive_int(total_steps, "total_steps")
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = positive_int(epochs, "epochs") * positive_int(steps_per_epoch, "steps_per_epoch")
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        pct_start = check_real(pct_start, "OneCycleLR", "pct_start", 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        div_factor = check_real(div_factor, "OneCycleLR", "div_factor", lo=0.0, lo_open=True)
        final_div_factor = check_real(final_div_factor, "OneCycleLR", "final_div_factor", lo=0.0,
                                      lo_open=True)
        T = self.total_steps
        if check_bool(three_phase, "OneCycleLR: three_phase"):
            self._phases = [(float(pct_start * T) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * T) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                            (T - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(float(pct_start * T) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (T - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer: expected a 'param_groups' list")
        max_lrs = [check_real(m, "OneCycleLR", "max_lr", lo=0.0) for m in _per_group("max_lr", optimizer, max_lr)]
        if last_epoch == -1:
            for group, m in zip(groups, max_lrs):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = check_bool(cycle_momentum, "OneCycleLR: cycle_momentum")
        if self.cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in defaults
            if last_epoch == -1:
                momenta = [[check_real(v, "OneCycleLR", name, 0.0, 1.0) for v in _per_group(name, optimizer, value)]
                           for name, value in (("max_momentum", max_momentum), ("base_momentum", base_momentum))]
                for group, mx, base in zip(groups, *momenta):
                    self._set_momentum(group, mx)
                    group["max_momentum"], group["base_momentum"] = mx, base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, m):
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[lr0], group[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m0], group[m1], pct))
                    break
                start = end
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply every lr by ``factor`` once the metric passed to ``step(metric)`` has not improved
    for more than ``patience`` epochs (then wait ``cooldown`` epochs), never below ``min_lr``.

    'Improved' (``mode='min'``): metric < best * (1 - threshold) ('rel') or < best - threshold
    ('abs'); ``mode='max'`` mirrors it. A reduction smaller than ``eps`` is skipped. PyTorch's
    semantics exactly; the lrs are read from and written to the optimizer's groups.
    """

    _state = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps",
              "best", "num_bad_epochs", "cooldown_counter", "last_epoch", "_last_lr", "mode_worse")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not all(isinstance(g, dict) and "lr" in g for g in groups):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer: expected a 'param_groups' list of "
                            "dicts with an 'lr' entry")
        self.factor = check_real(factor, "ReduceLROnPlateau", "factor", 0.0, 1.0, hi_open=True)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer, self.mode, self.threshold_mode = optimizer, mode, threshold_mode
        self.threshold = check_real(threshold, "ReduceLROnPlateau", "threshold", lo=0.0)
        self.patience = check_int(patience, "ReduceLROnPlateau", "patience", lo=0)
        self.cooldown = check_int(cooldown, "ReduceLROnPlateau", "cooldown", lo=0)
        self.eps = check_real(eps, "ReduceLROnPlateau", "eps", lo=0.0)
        self.min_lrs = [check_real(m, "ReduceLROnPlateau", "min_lr", lo=0.0)
                        for m in _per_group("min_lr", optimizer, min_lr)]
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._step_count = 0
        self._last_lr = [g["lr"] for g in groups]
        self.best, self.num_bad_epochs, self.cooldown_counter = self.mode_worse, 0, 0

    def _is_better(self, a, best):
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, metrics, epoch=None):
        """Record one epoch's ``metrics`` (a number or one-element tensor) and reduce the lrs if due."""
        if isinstance(metrics, bool) or not (isinstance(metrics, numbers.Real) or hasattr(metrics, "item")):
            raise TypeError(f"ReduceLROnPlateau.step expects the metric as a number, got {metrics!r}")
        n = np.size(metrics.data if isinstance(metrics, Tensor) else metrics)   # Tensor.size() is a method
        if hasattr(metrics, "item") and n != 1:
            raise TypeError(f"ReduceLROnPlateau.step expects one metric value, got an array of shape {metrics.shape}")
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else check_int(epoch, "ReduceLROnPlateau.step",
                                                                              "epoch")
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0                 # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            for i, group in enumerate(self.optimizer.param_groups):
                old = float(group["lr"])
                new = max(old * self.factor, self.min_lrs[i])
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def state_dict(self):
        return {k: (list(v) if isinstance(v, list) else v) for k, v in ((k, getattr(self, k)) for k in self._state)}

    def load_state_dict(self, state_dict):
        for k in self._state:
            if k in state_dict:
                setattr(self, k, list(state_dict[k]) if isinstance(state_dict[k], list) else state_dict[k])

