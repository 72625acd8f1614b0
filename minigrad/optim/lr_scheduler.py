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
"""
import math
import numbers

__all__ = ["CosineAnnealingLR", "LRScheduler", "LambdaLR", "LinearLR", "LinearWarmup", "StepLR"]


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` from ``self.base_lrs`` and ``self.last_epoch``."""

    _hyper = ()     # names of the hyper-parameters that state_dict() records

    def __init__(self, optimizer, last_epoch=-1):
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not all(isinstance(g, dict) and "lr" in g for g in groups):
            raise TypeError(f"{type(optimizer).__name__} is not an optimizer: expected a "
                            "'param_groups' list of dicts with an 'lr' entry")
        self.optimizer = optimizer
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
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
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
        known = ("last_epoch", "_step_count", "base_lrs", "_last_lr") + tuple(self._hyper)
        for key in known:
            if key in state_dict:
                value = state_dict[key]
                setattr(self, key, list(value) if key in ("base_lrs", "_last_lr") else value)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size): decay by ``gamma`` every ``step_size`` epochs."""

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = float(gamma)
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
        self.T_max = _positive_int("T_max", T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Multiply base_lr by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then keep ``end_factor`` (PyTorch's LinearLR, defaults included)."""

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
        if not 0.0 <= end_factor <= 1.0:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = _positive_int("total_iters", total_iters)
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
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError("lr_lambda must be callable (or a list of callables)")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]


class LinearWarmup(LRScheduler):
    """Linear warm-up: lr = base_lr * min(1, (epoch + 1) / warmup_steps).

    The first step uses base_lr / warmup_steps, step ``warmup_steps - 1`` reaches base_lr and the
    lr stays there. Call ``step()`` once per optimizer update. (Equivalent to PyTorch's
    ``LinearLR(opt, start_factor=1/warmup_steps, total_iters=warmup_steps-1)``.)
    """

    _hyper = ("warmup_steps",)

    def __init__(self, optimizer, warmup_steps, last_epoch=-1):
        self.warmup_steps = _positive_int("warmup_steps", warmup_steps)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        f = min(1.0, (self.last_epoch + 1) / self.warmup_steps)
        return [base * f for base in self.base_lrs]
