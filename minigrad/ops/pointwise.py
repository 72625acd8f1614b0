"""Elementwise functions of one tensor: exp, log, log1p, sqrt, sin, cos, tanh, sigmoid, softplus,
relu, abs, clip.

Dtypes follow PyTorch: the functions with non-integer results (exp, log, log1p, sqrt, sin, cos,
tanh, sigmoid, softplus) turn an integer or bool input into the default float dtype, float32
(not NumPy's float64); relu, abs and clip keep an integer input's dtype.

Each backward multiplies the output gradient by the local derivative. What that derivative needs
is saved explicitly: the *output* for exp, tanh and sigmoid (their derivatives are cheapest in
terms of y: exp' = y, tanh' = 1 - y^2, sigmoid' = y (1 - y)), the *input* for the others.

tanh and sigmoid run on the C kernels (``minigrad.kernels``); their backward kernels accumulate
``dx += dy * f'(y)`` straight into the engine's gradient buffer of the input, so no temporary
gradient array is made.
"""
import numbers

import numpy as np

from .. import kernels
from ..dtypes import DEFAULT_FLOAT, FLOAT_DTYPES
from ..grad_mode import describe
from ..tensor import Function, Tensor


class Exp(Function):
    def forward(self, x):
        y = np.exp(x)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g * y


class Log(Function):
    def forward(self, x):
        self.save(x)
        return np.log(x)

    def backward(self, g):
        (x,) = self.saved
        return g / x


class Log1p(Function):
    """log(1 + x), accurate for small x: d/dx = 1 / (1 + x)."""

    def forward(self, x):
        self.save(x)
        return np.log1p(x)

    def backward(self, g):
        (x,) = self.saved
        return g / (1 + x)


class Sqrt(Function):
    """d sqrt(x)/dx = 1 / (2 y) (inf at 0, as PyTorch)."""

    def forward(self, x):
        y = np.sqrt(x)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        with np.errstate(divide="ignore"):
            return g / (2 * y)


class Sin(Function):
    def forward(self, x):
        self.save(x)
        return np.sin(x)

    def backward(self, g):
        (x,) = self.saved
        return g * np.cos(x)


class Cos(Function):
    def forward(self, x):
        self.save(x)
        return np.cos(x)

    def backward(self, g):
        (x,) = self.saved
        return -g * np.sin(x)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear (= x) where beta x > threshold, as
    ``torch.nn.functional.softplus``; the derivative is sigmoid(beta x) (1 in the linear part)."""

    def forward(self, x, beta, threshold):
        bx = x * x.dtype.type(beta)
        linear = bx > threshold
        self.save(bx, linear)
        return np.where(linear, x, np.logaddexp(x.dtype.type(0), bx) / x.dtype.type(beta))

    def backward(self, g):
        bx, linear = self.saved
        with np.errstate(over="ignore"):          # exp(-bx) = inf where bx << 0: s = 0, correct
            s = 1 / (1 + np.exp(-bx))
        return g * np.where(linear, 1, s).astype(g.dtype, copy=False)


class Tanh(Function):
    def forward(self, x):
        y = kernels.tanh_forward(x)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        kernels.tanh_backward(g, y, self.grad_buffer(0))   # dx += dy * (1 - y^2)
        return None


class Sigmoid(Function):
    def forward(self, x):
        y = kernels.sigmoid_forward(x)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        kernels.sigmoid_backward(g, y, self.grad_buffer(0))  # dx += dy * y (1 - y)
        return None


class Relu(Function):
    def forward(self, x):
        self.save(x)
        return np.maximum(x, x.dtype.type(0))

    def backward(self, g):
        (x,) = self.saved
        return g * (x > 0)


class Abs(Function):
    """d|x|/dx = sign(x), taken as 0 at x == 0 (as PyTorch)."""

    def forward(self, x):
        self.save(x)
        return np.abs(x)

    def backward(self, g):
        (x,) = self.saved
        return g * np.sign(x)


class Clip(Function):
    """Clamp to [lo, hi] (either may be None). The gradient passes where lo <= x <= hi -- the
    boundary included, PyTorch's rule -- and is 0 where the value was clipped."""

    def forward(self, x, lo, hi):
        self.save(x)
        self.lo, self.hi = lo, hi
        if lo is None and hi is None:
            raise ValueError("clip: at least one of lo and hi must be given")
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return g * inside


def floating(x):
    """``x`` as a float tensor: an integer/bool tensor (or array, or number) becomes float32."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.data.dtype not in FLOAT_DTYPES:
        x = Tensor(x.data, dtype=DEFAULT_FLOAT)
    return x


def exp(x):
    return Exp.apply(floating(x))


def log(x):
    return Log.apply(floating(x))


def log1p(x):
    return Log1p.apply(floating(x))


def sqrt(x):
    return Sqrt.apply(floating(x))


def sin(x):
    return Sin.apply(floating(x))


def cos(x):
    return Cos.apply(floating(x))


def tanh(x):
    return Tanh.apply(floating(x))


def sigmoid(x):
    return Sigmoid.apply(floating(x))


def softplus(x, beta=1.0, threshold=20.0):
    """``torch.nn.functional.softplus``: log(1 + exp(beta x)) / beta (x itself where beta x > threshold)."""
    for what, v in (("beta", beta), ("threshold", threshold)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"softplus: {what} must be a number, got {v!r}")
    if not beta > 0:
        raise ValueError(f"softplus: beta must be positive, got {beta!r}")
    return Softplus.apply(floating(x), beta=float(beta), threshold=float(threshold))


def relu(x):
    return Relu.apply(x)


def abs(x):
    return Abs.apply(x)


def clip_bound(owner, which, v):
    """A bound of clip/clamp: None, a real number, or a (non-differentiable) array/tensor of numbers;
    anything else is a TypeError naming it (instead of NumPy's ufunc-loop message)."""
    if isinstance(v, Tensor):
        if v.requires_grad:
            raise TypeError(f"{owner}: {which} is a tensor that requires grad; gradients to a bound "
                            "are not supported (pass bound.detach())")
        v = v.data
    if v is None or (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))):
        return v
    if isinstance(v, np.ndarray) and v.dtype.kind in "iuf":
        return v
    shown = f"an array of dtype {v.dtype}" if isinstance(v, np.ndarray) else describe(v)
    raise TypeError(f"{owner}: {which} must be a real number, a numeric tensor or None, got {shown}")


def clip(x, lo=None, hi=None):
    return Clip.apply(x, lo=clip_bound("clip", "lo", lo), hi=clip_bound("clip", "hi", hi))


def clamp(x, min=None, max=None):
    """``torch.clamp``: :func:`clip` with PyTorch's argument names."""
    return Clip.apply(x, lo=clip_bound("clamp", "min", min), hi=clip_bound("clamp", "max", max))
