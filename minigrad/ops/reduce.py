"""Reductions: sum, mean, max, min over ``dim`` (None = all, an int, a negative int, or a tuple),
and argmax/argmin. ``dim``/``keepdim`` are PyTorch's spellings; NumPy's ``axis``/``keepdims`` are
accepted too (giving both spellings of one argument is an error).

Backward of a reduction *broadcasts* the output gradient back over the reduced axes. To do that the
gradient is first given the keepdims shape (1 on every reduced axis) so NumPy broadcasting lines
the axes up again -- whether or not the forward used ``keepdims``.

``max`` ties: when several elements share the maximum, the gradient is split *equally* between them
(as PyTorch does for a full ``amax``/``max()`` reduction), so the total gradient is preserved and the
result does not depend on element order. ``max(dim)`` with one int ``dim`` is PyTorch's other
form: it returns the named tuple ``(values, indices)`` and its gradient goes to the one element
each index names (the first maximum), again as PyTorch. ``min`` mirrors ``max``.
"""
import builtins
from collections import namedtuple

import numpy as np

from ..grad_mode import check_bool
from ..tensor import Function, Tensor, trace_untaped

# PyTorch's torch.return_types.max / .min: a tuple that also has .values and .indices
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def dim_arg(name, dim, axis, default=None):
    """Resolve PyTorch's ``dim`` and NumPy's ``axis`` spelling of one argument."""
    if axis is None:
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"{name}: got both dim={dim!r} and axis={axis!r}; pass one (dim is "
                        "PyTorch's name, axis NumPy's)")
    return axis


def keepdim_arg(name, keepdim, keepdims):
    """Resolve ``keepdim`` (PyTorch) and ``keepdims`` (NumPy)."""
    if keepdims is None:
        return check_bool(keepdim, f"{name}: keepdim")
    if keepdim:
        raise TypeError(f"{name}: got both keepdim and keepdims; pass one")
    return check_bool(keepdims, f"{name}: keepdims")


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
            raise TypeError(f"mean needs a float tensor, got {x.dtype}; convert it with .float() first")
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        shape = self.inputs[0].data.shape
        count = int(np.prod([shape[i] for i in self.axes]))
        g = g.reshape(_keep_shape(shape, self.axes)) * g.dtype.type(1.0 / builtins.max(count, 1))
        return np.broadcast_to(g, shape)


class Max(Function):
    reduce, name = staticmethod(np.max), "max"

    def forward(self, x, axis=None, keepdims=False):
        self.axes = normalize_axis(self.name, axis, x.ndim, x.shape)
        if x.size == 0:
            raise ValueError(f"{self.name} of an empty tensor of shape {x.shape}")
        out = self.reduce(x, axis=self.axes, keepdims=True)
        self.save(x, out)
        return out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in self.axes])

    def backward(self, g):
        x, out = self.saved
        mask = x == out                                      # every position holding the max
        count = mask.sum(axis=self.axes, keepdims=True)      # ties share the gradient equally
        return mask * (g.reshape(out.shape) / count).astype(x.dtype, copy=False)


class Min(Max):
    reduce, name = staticmethod(np.min), "min"


class ExtremeDim(Function):
    """``max(dim)`` / ``min(dim)``: two outputs, the values and their int64 indices (the first
    extreme along ``dim``). Backward puts each value's gradient on the element its index names."""

    def forward(self, x, dim, keepdim, find):
        if x.shape[dim] == 0:
            raise ValueError(f"max/min over dim {dim} of size 0 (tensor of shape {x.shape})")
        idx = np.expand_dims(find(x, axis=dim), dim)            # keepdim shape, int64
        values = np.take_along_axis(x, idx, axis=dim)
        self.dim = dim
        self.save(idx)
        if not keepdim:
            idx, values = idx.squeeze(dim), values.squeeze(dim)
        return values, idx.astype(np.int64, copy=False)

    def backward(self, g, g_idx=None):
        (idx,) = self.saved
        buf = self.grad_buffer(0)      # may already hold gradient from other uses of x: add to it
        d = self.dim
        np.put_along_axis(buf, idx, np.take_along_axis(buf, idx, axis=d) + g.reshape(idx.shape), axis=d)
        return None


# (these names shadow the builtins inside this module: use builtins.max etc. above)
def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Sum over ``dim`` (all by default); integer and bool tensors sum to int64, as PyTorch."""
    return Sum.apply(x, axis=dim_arg("sum", dim, axis), keepdims=keepdim_arg("sum", keepdim, keepdims))


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return Mean.apply(x, axis=dim_arg("mean", dim, axis), keepdims=keepdim_arg("mean", keepdim, keepdims))


def _extreme(name, cls, find, result, x, dim, keepdim, axis, keepdims):
    dim, keep = dim_arg(name, dim, axis), keepdim_arg(name, keepdim, keepdims)
    if dim is None or isinstance(dim, (tuple, list)):
        return cls.apply(x, axis=dim, keepdims=keep)       # a scalar (or values over several dims)
    if isinstance(x, Tensor) and x.data.ndim == 0 and dim in (0, -1):
        return result(cls.apply(x, axis=None, keepdims=False), Tensor(np.zeros((), np.int64)))
    (d,) = normalize_axis(name, dim, np.ndim(x.data if isinstance(x, Tensor) else x), np.shape(x))
    return result(*ExtremeDim.apply(x, dim=d, keepdim=keep, find=find))


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``max()``: the largest element (a 0-d tensor). ``max(dim)`` with one int: the named tuple
    ``(values, indices)``, as ``torch.max``. A tuple of dims gives the values only."""
    return _extreme("max", Max, np.argmax, MaxResult, x, dim, keepdim, axis, keepdims)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The mirror image of :func:`max`."""
    return _extreme("min", Min, np.argmin, MinResult, x, dim, keepdim, axis, keepdims)


def _arg(name, find, x, dim, keepdim, axis):
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    dim = dim_arg(name, dim, axis)
    if data.size == 0:
        raise ValueError(f"{name} of an empty tensor of shape {data.shape}")
    if dim is None:
        idx = np.asarray(find(data))
        out = Tensor(idx.reshape((1,) * data.ndim) if keepdim else idx, dtype=np.int64)
    else:
        (d,) = normalize_axis(name, dim, data.ndim, data.shape)
        out = Tensor(find(data, axis=d, keepdims=bool(keepdim)), dtype=np.int64)
    if isinstance(x, Tensor):      # minigrad.onnx traces it (never on the tape: no gradient)
        trace_untaped(name, [x], {"dim": None if dim is None else d, "keepdim": bool(keepdim)}, (out,))
    return out


def argmax(x, dim=None, keepdim=False, *, axis=None):
    """Index of the (first) largest element: of the flattened tensor, or along ``dim`` (int64)."""
    return _arg("argmax", np.argmax, x, dim, keepdim, axis)


def argmin(x, dim=None, keepdim=False, *, axis=None):
    """Index of the (first) smallest element: of the flattened tensor, or along ``dim`` (int64)."""
    return _arg("argmin", np.argmin, x, dim, keepdim, axis)
