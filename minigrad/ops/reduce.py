"""Reductions: sum, mean, max over ``axis`` (None = all, an int, a negative int, or a tuple).

Backward of a reduction *broadcasts* the output gradient back over the reduced axes. To do that the
gradient is first given the keepdims shape (1 on every reduced axis) so NumPy broadcasting lines
the axes up again -- whether or not the forward used ``keepdims``.

``max`` ties: when several elements share the maximum, the gradient is split *equally* between them
(as PyTorch does for a full ``amax``/``max()`` reduction), so the total gradient is preserved and the
result does not depend on element order.
"""
import builtins

import numpy as np

from ..tensor import Function


def normalize_axis(name, axis, ndim, shape):
    """``axis`` as a sorted tuple of non-negative ints (all axes for None); errors name the shape."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} is out of range for a tensor of shape {shape}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _keep_shape(shape, axes):
    """``shape`` with every reduced axis set to 1 (the keepdims shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axis("sum", axis, x.ndim, x.shape)
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        shape = self.inputs[0].data.shape
        return np.broadcast_to(g.reshape(_keep_shape(shape, self.axes)), shape)


class Mean(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axis("mean", axis, x.ndim, x.shape)
        if x.dtype.kind not in "f":
            raise TypeError(f"mean needs a float tensor, got {x.dtype}")
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        shape = self.inputs[0].data.shape
        count = int(np.prod([shape[i] for i in self.axes]))
        g = g.reshape(_keep_shape(shape, self.axes)) * g.dtype.type(1.0 / builtins.max(count, 1))
        return np.broadcast_to(g, shape)


class Max(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axis("max", axis, x.ndim, x.shape)
        if x.size == 0:
            raise ValueError(f"max of an empty tensor of shape {x.shape}")
        out = np.max(x, axis=self.axes, keepdims=True)
        self.save(x, out)
        return out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in self.axes])

    def backward(self, g):
        x, out = self.saved
        mask = x == out                                      # every position holding the max
        count = mask.sum(axis=self.axes, keepdims=True)      # ties share the gradient equally
        return mask * (g.reshape(out.shape) / count).astype(x.dtype, copy=False)


# (these names shadow the builtins inside this module: use builtins.max etc. above)
def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    return Max.apply(x, axis=axis, keepdims=keepdims)
