"""Keras's learning-rate schedules: ``Adam(learning_rate=CosineDecay(1e-3, decay_steps=4690))``.

A schedule is a function of the optimizer's step count: the optimizer evaluates it before every
update, at ``step = optimizer.iterations`` (0 for the first update), so a schedule moves the rate
every batch, not every epoch. Keras's formulas, with ``s`` the step and ``D`` ``decay_steps``:

    ExponentialDecay        lr0 * rate ** (s / D)                 (staircase: floor(s / D))
    InverseTimeDecay        lr0 / (1 + rate * s / D)              (staircase: floor(s / D))
    PolynomialDecay         (lr0 - end) * (1 - min(s, D) / D) ** power + end
                            (cycle: D grows to the first multiple of D >= s)
    CosineDecay             lr0 * ((1 - alpha) * (1 + cos(pi * min(s, D) / D)) / 2 + alpha)
                            (warmup_target: first rise linearly from lr0 to warmup_target over
                            warmup_steps, then decay from warmup_target over D)
    PiecewiseConstantDecay  values[i] for boundaries[i-1] < s <= boundaries[i]

Keras computes them in float32; these compute in float64 (differences ~1e-7 relative). ``get_config``
/ ``from_config`` round-trip each one, and ``serialize`` / ``deserialize`` write and read Keras's
``{"class_name": ..., "config": ...}`` form, which is how an optimizer's config holds its schedule.
"""
import math
import numbers

from ...nn.argcheck import check_real

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PolynomialDecay", "CosineDecay",
           "PiecewiseConstantDecay", "serialize", "deserialize"]


def _number(cls, key, value, positive=False):
    """``value`` checked finite and >= 0 (> 0 with ``positive``), else an error naming the schedule and
    argument; an int stays an int (as Keras's configs keep it), anything else becomes a float."""
    v = check_real(value, cls, key, lo=0.0, lo_open=positive, hi=math.inf, hi_open=True)
    return int(value) if isinstance(value, numbers.Integral) else v


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            config = self.get_config()
        except NotImplementedError:     # a schedule of the user's own without get_config
            return f"{type(self).__name__}()"
        args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name")
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: a rate, ``decay_steps``, ``decay_rate`` and
    ``staircase``; ``_progress(step)`` is ``step / decay_steps``, floored with ``staircase``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(cls, "decay_steps", decay_steps, positive=True)
        self.decay_rate = _number(cls, "decay_rate", decay_rate)
        self.staircase, self.name = bool(staircase), name or cls

    def _progress(self, step):
        p = float(step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; ``staircase`` floors the exponent.
    Arguments: ``(initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay")``."""

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; ``staircase`` floors the ratio.
    Arguments: ``(initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay")``."""

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along ``(1 - s/D) ** power``;
    then constant, or with ``cycle`` the decay restarts over the next multiple of ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(cls, "decay_steps", decay_steps, positive=True)
        self.end_learning_rate = _number(cls, "end_learning_rate", end_learning_rate)
        self.power = _number(cls, "power", power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        s, d = float(step), self.decay_steps
        if self.cycle:
            d *= 1.0 if s == 0 else math.ceil(s / d)
        else:
            s = min(s, d)
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - s / d) ** self.power \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the rate down to ``alpha`` times it over ``decay_steps`` (Loshchilov & Hutter's
    SGDR without restarts), after an optional linear warmup to ``warmup_target`` over ``warmup_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        cls = type(self).__name__
        self.initial_learning_rate = _number(cls, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number(cls, "decay_steps", decay_steps, positive=True)
        self.alpha = _number(cls, "alpha", alpha)
        self.warmup_target = None if warmup_target is None else _number(cls, "warmup_target", warmup_target)
        self.warmup_steps = _number(cls, "warmup_steps", warmup_steps)
        self.name = name

    def _decay(self, s, lr):
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        s = float(step)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), self.initial_learning_rate)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:       # warmup_steps > 0 here
            return (self.warmup_target - self.initial_learning_rate) * (s / self.warmup_steps) \
                + self.initial_learning_rate
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to and including step ``boundaries[0]``, ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstantDecay"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. "
                             f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                             f"values={values} of length {len(values)}.")
        for b in boundaries:            # steps: any finite number, checked before they are compared
            check_real(b, type(self).__name__, "boundaries", hi=math.inf, hi_open=True)
        if any(b >= a for a, b in zip(boundaries[1:], boundaries)):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must increase. Received: {boundaries}")
        self.boundaries = boundaries
        self.values = [_number(type(self).__name__, "values", v) for v in values]
        self.name = name

    def __call__(self, step):
        s = float(step)
        for b, v in zip(self.boundaries, self.values):
            if s <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


def serialize(schedule):
    """Keras's serialized form of a schedule: ``{"module", "class_name", "config", "registered_name"}``."""
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The schedule a ``serialize`` dict describes; ``custom_objects`` maps names of your own classes."""
    known = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, PolynomialDecay, CosineDecay,
                                           PiecewiseConstantDecay)}
    known.update(custom_objects or {})
    name = config.get("class_name") if isinstance(config, dict) else None
    if name not in known:
        raise ValueError(f"Unknown learning rate schedule {name!r} (known: {sorted(known)}; pass yours "
                         "in custom_objects)")
    return known[name].from_config(config["config"])
