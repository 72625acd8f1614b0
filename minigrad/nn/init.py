"""nn.init: fill parameters in place with PyTorch's initialisation schemes.

    nn.init.uniform_(model.encoder.weight, -0.1, 0.1)
    nn.init.zeros_(model.decoder.bias)
    nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))

Every function writes into ``tensor.data`` in place (the array keeps its identity, dtype and
shape, so optimizers holding references see the new values), records nothing on the tape and
returns the tensor, as PyTorch's do. Random draws come from ``generator`` (a
``numpy.random.Generator``) or minigrad's default generator (``mg.manual_seed`` makes them
reproducible); values are drawn in float64 and rounded to the tensor's dtype.

Fans (PyTorch's rule): for a weight of shape (out, in, *k), fan_in = in * prod(k) and
fan_out = out * prod(k); tensors with fewer than 2 dimensions have no fans.
"""
import math
import numbers

import numpy as np

from ..tensor import Tensor
from .argcheck import check_generator

__all__ = ["calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
           "orthogonal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_"]


def _target(tensor, fname):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{fname}: expected a Tensor or Parameter, got {type(tensor).__name__}")
    if tensor.data.dtype.kind != "f":
        raise TypeError(f"nn.init.{fname}: expected a float tensor, got dtype {tensor.data.dtype}")
    return tensor


def _number(value, fname, name, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"nn.init.{fname}: {name} must be a finite number, got {value!r}")
    if positive and value < 0:
        raise ValueError(f"nn.init.{fname}: {name} must be non-negative, got {value!r}")
    return float(value)


def _fill(tensor, values):
    tensor.data[...] = values               # in place, cast to the tensor's dtype
    return tensor


# ---------------------------------------------------------------------- plain fills
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    t = _target(tensor, "uniform_")
    a, b = _number(a, "uniform_", "a"), _number(b, "uniform_", "b")
    if a > b:
        raise ValueError(f"nn.init.uniform_: a must be <= b, got a={a}, b={b}")
    return _fill(t, check_generator(generator, "nn.init.uniform_").uniform(a, b, size=t.data.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    t = _target(tensor, "normal_")
    mean, std = _number(mean, "normal_", "mean"), _number(std, "normal_", "std", positive=True)
    return _fill(t, check_generator(generator, "nn.init.normal_").normal(mean, std, size=t.data.shape))


def constant_(tensor, val):
    """Fill with the number ``val``."""
    t = _target(tensor, "constant_")
    if isinstance(val, bool) or not isinstance(val, numbers.Real):
        raise TypeError(f"nn.init.constant_: val must be a number, got {val!r}")
    return _fill(t, val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


# ---------------------------------------------------------------------- fans and gains
def _calculate_fan_in_and_fan_out(tensor, fname="fans"):
    shape = tensor.data.shape
    if len(shape) < 2:
        raise ValueError(f"nn.init.{fname}: fan in and fan out cannot be computed for a tensor with fewer "
                         f"than 2 dimensions (shape {shape})")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode, fname):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init.{fname}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, fname)
    return fan_in if mode == "fan_in" else fan_out


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear / conv* / sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (slope ``param``, default 0.01); selu: 3/4.
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, numbers.Real):
            raise ValueError(f"nn.init.calculate_gain: negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nn.init.calculate_gain: unsupported nonlinearity {nonlinearity!r}; use one of "
                     f"{', '.join(linear + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


# ---------------------------------------------------------------------- scaled schemes
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    t = _target(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t, "xavier_uniform_")
    std = _number(gain, "xavier_uniform_", "gain") * math.sqrt(2.0 / float(max(fan_in + fan_out, 1)))
    a = math.sqrt(3.0) * std
    return _fill(t, check_generator(generator, "nn.init.xavier_uniform_").uniform(-a, a, size=t.data.shape))


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    t = _target(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t, "xavier_normal_")
    std = _number(gain, "xavier_normal_", "gain") * math.sqrt(2.0 / float(max(fan_in + fan_out, 1)))
    return _fill(t, check_generator(generator, "nn.init.xavier_normal_").normal(0.0, std, size=t.data.shape))


def _kaiming_std(t, a, mode, nonlinearity, fname):
    fan = _fan(t, mode, fname)
    return calculate_gain(nonlinearity, a) / math.sqrt(max(fan, 1))   # fan 0 only for empty tensors


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    t = _target(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    return _fill(t, check_generator(generator, "nn.init.kaiming_uniform_").uniform(-bound, bound, size=t.data.shape))


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    t = _target(tensor, "kaiming_normal_")
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(t, check_generator(generator, "nn.init.kaiming_normal_").normal(0.0, std, size=t.data.shape))


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix: QR of a Gaussian (rows, cols) matrix, signs fixed by diag(R)
    (Saxe et al.), times ``gain``; rows = shape[0], cols = the product of the other dimensions."""
    t = _target(tensor, "orthogonal_")
    if t.data.ndim < 2:
        raise ValueError(f"nn.init.orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {t.data.shape}")
    gain = _number(gain, "orthogonal_", "gain")
    if t.data.size == 0:
        return t
    rows = t.data.shape[0]
    cols = t.data.size // rows
    flat = check_generator(generator, "nn.init.orthogonal_").standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))              # unique decomposition: R with a positive diagonal
    if rows < cols:
        q = q.T
    return _fill(t, (gain * q).reshape(t.data.shape))
