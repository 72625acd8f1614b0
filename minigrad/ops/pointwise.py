"""Elementwise functions of one tensor: exp, log, tanh, sigmoid, relu, abs, clip.

Each backward multiplies the output gradient by the local derivative. What that derivative needs
is saved explicitly: the *output* for exp, tanh and sigmoid (their derivatives are cheapest in
terms of y: exp' = y, tanh' = 1 - y^2, sigmoid' = y (1 - y)), the *input* for the others.

tanh and sigmoid run on the C kernels (``minigrad.kernels``); their backward kernels accumulate
``dx += dy * f'(y)`` straight into the engine's gradient buffer of the input, so no temporary
gradient array is made.
"""
import numpy as np

from .. import kernels
from ..tensor import Function


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


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return Relu.apply(x)


def abs(x):
    return Abs.apply(x)


def clip(x, lo=None, hi=None):
    return Clip.apply(x, lo=lo, hi=hi)
