"""Keras's weight initializers (``keras.initializers``), drawing from minigrad's generator.

Each initializer is called as ``init(shape, dtype=None)`` and returns a NumPy array in Keras's
layout (a Dense kernel is (in, out); fans follow Keras: for a matrix ``fan_in = shape[0]``,
``fan_out = shape[1]``; for higher ranks the leading axes are the receptive field). ``seed=None``
draws from minigrad's default generator (``mg.manual_seed`` makes runs repeatable); an int seed
gives the initializer a private stream.

``get(identifier)`` accepts Keras's string names (``'glorot_uniform'``, ``'orthogonal'``,
``'zeros'``, ``'uniform'``, ...), an initializer object, a Keras config dict or a callable.
"""
import math
import numbers

import numpy as np

from ..grad_mode import describe
from ..random import default_generator

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal",
           "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
           "Orthogonal", "get", "serialize"]


def compute_fans(shape):
    """(fan_in, fan_out) as Keras computes them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``__call__(shape, dtype=None)`` -> array; ``get_config()`` / ``from_config()``."""

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"{type(self).__name__}: seed must be an int or None, got {describe(seed)}")
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def generator(self):
        return self._rng if self._rng is not None else default_generator()

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _dtype(dtype):
    return np.dtype(np.float32 if dtype is None else dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        if not isinstance(value, numbers.Real):
            raise TypeError(f"Constant: value must be a number, got {describe(value)}")
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return np.full(tuple(shape), self.value, dtype=_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Zeros(Initializer):
    def __init__(self):
        super().__init__()

    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), dtype=_dtype(dtype))

    def get_config(self):
        return {}


class Ones(Zeros):
    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), dtype=_dtype(dtype))


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=None):
        return self.generator().uniform(self.minval, self.maxval, tuple(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        return self.generator().normal(self.mean, self.stddev, tuple(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def truncated_normal(rng, shape, stddev):
    """N(0, stddev) with values beyond two standard deviations redrawn (Keras's truncated normal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return (self.mean + truncated_normal(self.generator(), tuple(shape), self.stddev)).astype(_dtype(dtype))


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: scale / fan (fan_in, fan_out or their mean), uniform or truncated normal."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError("VarianceScaling: distribution must be 'uniform', 'truncated_normal' or "
                             f"'untruncated_normal', got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        rng = self.generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, shape)
        elif self.distribution == "truncated_normal":
            out = truncated_normal(rng, shape, math.sqrt(scale) / 0.87962566103423978)
        else:
            out = rng.normal(0.0, math.sqrt(scale), shape)
        return out.astype(_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _variance_scaling(name, scale, mode, distribution):
    """A named VarianceScaling preset (GlorotUniform, HeNormal, ...) whose config is the seed (and
    Keras 3.15's ``input_axes`` / ``output_axes``, which must be None here)."""
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        if input_axes is not None or output_axes is not None:
            raise NotImplementedError(f"{name}: input_axes / output_axes are not supported by minigrad.keras")
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed, "input_axes": None, "output_axes": None}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": f"VarianceScaling(scale={scale}, mode={mode!r}, "
                                                      f"distribution={distribution!r}), as Keras's {name}."})


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix over (prod(shape[:-1]), shape[-1]) times ``gain`` (Keras's)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have at least 2 dimensions, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self.generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))                  # a uniform (Haar) distribution, as Keras
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


_ALIASES = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "uniform": RandomUniform, "random_uniform": RandomUniform, "normal": RandomNormal,
    "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "variance_scaling": VarianceScaling,
}
_CLASSES = {c.__name__: c for c in set(_ALIASES.values())}


def get(identifier):
    """An initializer from a Keras name, a class name, a config dict, an instance or a callable."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"unknown initializer config {identifier!r}")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r} (known: "
                             f"{', '.join(sorted(_ALIASES))})")
        return cls()
    raise ValueError(f"Could not interpret initializer identifier: {describe(identifier)}")


def serialize(initializer):
    """Keras's serialised form of an initializer (the dict in a layer's config)."""
    if not isinstance(initializer, Initializer):
        raise ValueError(f"cannot serialize {describe(initializer)}: not a minigrad.keras initializer")
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}
