"""Keras's optimizers (``SGD``, ``Adam``, ``RMSprop``, ``Adagrad``) with Keras's defaults and update rules.

A Keras optimizer is made without parameters (``model.compile(optimizer=Adam(1e-3))``) and binds to
the model's weights on the first step. Each one here keeps its per-parameter state in a
``minigrad.optim.Optimizer`` (param groups, identity-keyed state, ``state_dict``) whose ``_update``
is Keras's rule, which differs from PyTorch's in places that change the numbers:

    SGD       m = momentum*m - lr*g;  w += m   (nesterov: w += momentum*m - lr*g)   [PyTorch: b = mu*b + g]
    Adam      alpha = lr*sqrt(1-b2^t)/(1-b1^t);  w -= alpha*m / (sqrt(v) + eps)     [eps outside the
              bias correction: PyTorch's eps is Keras's eps/sqrt(1-b2^t)]
    RMSprop   s = rho*s + (1-rho)*g^2;  w -= lr*g / sqrt(s + eps)                  [eps INSIDE the sqrt]
    Adagrad   a += g^2 (a starts at 0.1);  w -= lr*g / sqrt(a + eps)              [eps inside, a_0 = 0.1]

Before the rule: ``weight_decay`` (decoupled, ``w -= lr*wd*w``) and the gradient clips
(``clipvalue`` per element, ``clipnorm`` per weight, ``global_clipnorm`` over all weights), as Keras.
``learning_rate`` is a number or a schedule (``optimizers.schedules``: ``CosineDecay``, ``ExponentialDecay``,
...; evaluated at ``iterations`` before each update). A number is readable and settable
(``ReduceLROnPlateau`` writes it); a schedule's current rate is readable, and setting a number
raises as in Keras. ``iterations`` counts steps.
"""
import numpy as np

from ... import kernels as K
from ...optim.optimizer import Optimizer as _TorchStyleOptimizer, check_nonneg
from . import schedules
from .schedules import LearningRateSchedule

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "Adagrad", "get", "schedules"]


class _Rule(_TorchStyleOptimizer):
    """The per-parameter state and update of one Keras optimizer (``keras_opt._rule``)."""

    def __init__(self, params, keras_opt):
        self.keras_opt = keras_opt
        self.state_keys = ("step",) + keras_opt.slot_names
        super().__init__(params, dict(lr=keras_opt._lr))

    def _check_group(self, group):
        check_nonneg(group, "lr")

    def _update(self, w, g, state, group):
        if not state:
            state["step"] = 0
            for name in self.keras_opt.slot_names:
                state[name] = np.full(w.shape, self.keras_opt.slot_init(name), w.dtype)
        state["step"] += 1
        lr = float(group["lr"])
        wd = self.keras_opt.weight_decay
        if wd:
            w -= (lr * wd) * w
        self.keras_opt._update(w, g, state, lr)


class Optimizer:
    """Base of Keras's optimizers: hyperparameters, gradient clipping, lazy binding to the weights.

    Subclasses set ``slot_names`` (the per-weight buffers), ``slot_init(name)`` (their start value)
    and ``_update(w, g, state, lr)`` (Keras's rule, in place on ``w`` and the buffers)."""

    slot_names = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unsupported arguments {sorted(kwargs)} (minigrad's "
                            "Keras optimizers take learning_rate, weight_decay, clipnorm, clipvalue, "
                            "global_clipnorm and their own hyperparameters)")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError("Only one of `clipnorm` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, global_clipnorm={global_clipnorm}")
        self._schedule = learning_rate if isinstance(learning_rate, LearningRateSchedule) else None
        if self._schedule is None and callable(learning_rate):
            raise TypeError(f"{type(self).__name__}: learning_rate must be a number or a "
                            "keras.optimizers.schedules.LearningRateSchedule (a function of the step: "
                            f"subclass LearningRateSchedule), got {learning_rate!r}")
        scheduled = self._schedule is not None
        numbers = (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                   ("weight_decay", weight_decay)) + (() if scheduled else (("learning_rate", learning_rate),))
        for key, v in numbers:
            if v is not None and not (isinstance(v, (int, float, np.floating, np.integer))
                                      and not isinstance(v, bool) and np.isfinite(v) and v >= 0):
                raise ValueError(f"{type(self).__name__}: {key} must be a finite number >= 0, got {v!r}")
        self._lr = self._scheduled_lr(0) if scheduled else float(learning_rate)
        self.weight_decay = float(weight_decay) if weight_decay else 0.0
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self._rule = None

    @property
    def learning_rate(self):
        """The rate of the next update: the number, or the schedule evaluated at ``iterations``."""
        return self._scheduled_lr(self.iterations) if self._schedule is not None else self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule):
            self._schedule = value
            self._set_rule_lr(self._scheduled_lr(self.iterations))
            return
        if self._schedule is not None:
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. "
                            "If you need the learning rate to be settable, you should instantiate the "
                            "optimizer with a float `learning_rate` argument.")
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a finite number >= 0, got {value}")
        self._set_rule_lr(value)

    lr = learning_rate     # Keras 2's alias

    def _set_rule_lr(self, value):
        self._lr = value
        if self._rule is not None:
            self._rule.param_groups[0]["lr"] = value

    def _scheduled_lr(self, step):
        """The schedule's rate at ``step``, checked: a schedule that returns garbage fails here, by name."""
        raw = self._schedule(step)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or not np.isfinite(value) or value < 0:
            raise ValueError(f"{type(self).__name__}: the learning-rate schedule {self._schedule!r} returned "
                             f"{raw!r} at step {step}; it must return a finite number >= 0")
        return value

    @property
    def iterations(self):
        """Number of steps taken (Keras's ``optimizer.iterations``)."""
        return self._iterations if self._rule is not None else 0

    def build(self, params):
        """Bind to ``params`` (a list of minigrad Parameters); done by the first ``apply``."""
        self._rule = _Rule(list(params), self)
        self._iterations = 0

    def apply(self, params):
        """One step over ``params`` from their ``.grad`` (clipped in place first, as Keras clips)."""
        if self._rule is None:
            self.build(params)
        if self._schedule is not None:
            self._set_rule_lr(self._scheduled_lr(self._iterations))
        grads = [p.grad for p in params if p.grad is not None]
        if self.clipvalue is not None:
            for g in grads:
                np.clip(g, -self.clipvalue, self.clipvalue, out=g)
        if self.clipnorm is not None:
            for g in grads:
                _scale_to_norm(g, float(np.sqrt(np.sum(np.square(g, dtype=np.float64)))), self.clipnorm)
        if self.global_clipnorm is not None and grads:
            total = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads)))
            for g in grads:
                _scale_to_norm(g, total, self.global_clipnorm)
        self._rule.step()
        self._iterations += 1

    def get_config(self):
        lr = schedules.serialize(self._schedule) if self._schedule is not None else self._lr
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay or None,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm, **self._hyper()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The optimizer ``get_config`` describes (a serialized schedule becomes a schedule again)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def slot_init(self, name):
        return 0.0

    def _hyper(self):
        return {}


def _scale_to_norm(g, norm, max_norm):
    """Keras's clip_by_norm: g * max_norm / max(norm, max_norm), in place."""
    if norm > max_norm:
        g *= g.dtype.type(max_norm / norm)


class SGD(Optimizer):
    """``SGD(learning_rate=0.01, momentum=0.0, nesterov=False)``; see the module docstring."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, w, g, state, lr):
        if not self.momentum:
            w -= lr * g
            return
        m = state["momentum"]
        m *= self.momentum
        m -= lr * g
        if self.nesterov:
            w += self.momentum * m - lr * g
        else:
            w += m


class Adam(Optimizer):
    """``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        for key, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= b < 1:
                raise ValueError(f"Adam: {key} must be in [0, 1), got {b}")
        if not epsilon >= 0:
            raise ValueError(f"Adam: epsilon must be >= 0, got {epsilon}")
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), bool(amsgrad)
        self.slot_names = ("m", "v") + (("vhat",) if amsgrad else ())

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}

    def _update(self, w, g, state, lr):
        t = state["step"]
        alpha = lr * (1 - self.beta_2 ** t) ** 0.5 / (1 - self.beta_1 ** t)
        # the fused kernel's w -= step_size * m / (sqrt(v)/bc2_sqrt + eps) is Keras's rule with
        # step_size = alpha and bc2_sqrt = 1
        wc = w if w.flags.c_contiguous else np.ascontiguousarray(w)
        gc = g if g.flags.c_contiguous else np.ascontiguousarray(g)
        K.adam_update(wc, state["m"], state["v"], gc, state.get("vhat"), c1=1 - self.beta_1,
                      beta2=self.beta_2, c2=1 - self.beta_2, step_size=alpha, bc2_sqrt=1.0, eps=self.epsilon)
        if wc is not w:
            w[...] = wc


class RMSprop(Optimizer):
    """``RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= rho <= 1 or not 0 <= momentum <= 1 or not epsilon >= 0:
            raise ValueError(f"RMSprop: rho and momentum must be in [0, 1] and epsilon >= 0, got "
                             f"rho={rho}, momentum={momentum}, epsilon={epsilon}")
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), bool(centered)
        self.slot_names = ("velocity",) + (("momentum",) if momentum else ()) + (("average_grad",) if centered else ())

    def _hyper(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

    def _update(self, w, g, state, lr):
        v = state["velocity"]
        v *= self.rho
        v += (1 - self.rho) * np.square(g)
        denom = v + self.epsilon
        if self.centered:
            a = state["average_grad"]
            a *= self.rho
            a += (1 - self.rho) * g
            denom -= np.square(a)
        increment = lr * g / np.sqrt(denom)
        if self.momentum:
            m = state["momentum"]
            m *= self.momentum
            m += increment
            increment = m
        w -= increment


class Adagrad(Optimizer):
    """``Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not initial_accumulator_value >= 0 or not epsilon >= 0:
            raise ValueError("Adagrad: initial_accumulator_value and epsilon must be >= 0, got "
                             f"{initial_accumulator_value}, {epsilon}")
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)
        self.slot_names = ("accumulator",)

    def slot_init(self, name):
        return self.initial_accumulator_value

    def _hyper(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}

    def _update(self, w, g, state, lr):
        a = state["accumulator"]
        a += np.square(g)
        w -= lr * g / np.sqrt(a + self.epsilon)


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a Keras string name (``'adam'``, ``'sgd'``, ``'rmsprop'``, ``'adagrad'``,
    any case) or an Optimizer instance (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (minigrad.keras knows "
                     f"{sorted(_BY_NAME)} or an optimizers.Optimizer instance)")
