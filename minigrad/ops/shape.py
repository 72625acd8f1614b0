"""Ops that move elements without changing their values: reshape, permute/transpose, indexing,
concat, stack, split, and where (which picks each element from one of two tensors).

The gradient of a data-movement op is the gradient moved back. Indexing scatters it: with *basic*
indices (ints, slices, None, Ellipsis, boolean masks) no element can be picked twice, so
``buf[idx] += g`` is exact and fast; with integer-array ("fancy") indices an element may be picked
several times, and ``np.add.at`` accumulates repeated indices. Both write straight into the
engine's gradient buffer of the input, so taking many slices of one tensor (x[t] for every time
step) costs one buffer, not one full-size array per slice.
"""
import operator

import numpy as np

from ..grad_mode import describe
from ..tensor import Function, Tensor
from .arith import check_broadcast, float_operands, unbroadcast
from .reduce import dim_arg


# ------------------------------------------------------------------ reshape / permute
class Reshape(Function):
    def forward(self, x, shape):
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                             f"into shape {tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.inputs[0].data.shape)


class Permute(Function):
    def forward(self, x, axes):
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {tuple(axes)} is not a permutation of the axes of shape {x.shape}")
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, g):
        return np.transpose(g, np.argsort(self.axes))


def _shape_arg(shape, name="reshape"):
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both give (2, 3); entries must be ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple([operator.index(n) for n in shape])
    except TypeError:
        raise TypeError(f"{name}: sizes must be ints, got {tuple(shape)!r}") from None


def reshape(x, *shape):
    shape = _shape_arg(shape)
    if any(n < -1 for n in shape):             # NumPy would read any negative size as -1
        raise ValueError(f"reshape: sizes must be >= 0 (or -1 for one inferred size), got {shape}")
    return Reshape.apply(x, shape=shape)


def _axis(name, ax, ndim, shape):
    if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
        raise TypeError(f"{name}: an axis must be an int, got {describe(ax)}")
    if not -ndim <= ax < ndim:
        raise ValueError(f"{name}: axis {ax} is out of range for a tensor of shape {shape}")
    return ax % ndim


def permute(x, *axes):
    nd = x.ndim
    axes = tuple(_axis("permute", int(a), nd, x.shape) for a in _shape_arg(axes, "permute"))
    return Permute.apply(x, axes=axes)


def transpose(x, dim0=None, dim1=None):
    """Swap two axes (``torch.transpose``); without arguments reverse all axes (like ``.T``)."""
    nd = x.ndim
    if dim0 is None and dim1 is None:
        return Permute.apply(x, axes=tuple(range(nd))[::-1])
    if dim0 is None or dim1 is None:
        raise TypeError("transpose takes two axes (or none to reverse all axes)")
    axes = list(range(nd))
    i, j = _axis("transpose", dim0, nd, x.shape), _axis("transpose", dim1, nd, x.shape)
    axes[i], axes[j] = axes[j], axes[i]
    return Permute.apply(x, axes=tuple(axes))


# ------------------------------------------------------------------ indexing
def _index_part(k):
    """One component of an index: tensors and lists become arrays; ints, slices, None, ``...``
    stay; anything else (a float, a string, ...) is an IndexError naming it."""
    if isinstance(k, Tensor):
        k = k.data
    elif isinstance(k, list):
        k = np.asarray(k)
    if isinstance(k, np.ndarray):
        if k.dtype.kind not in "iub":
            raise IndexError(f"index arrays must be integers or booleans, got {k.dtype}")
    elif not (k is None or k is Ellipsis or isinstance(k, (slice, bool, np.bool_)) or hasattr(k, "__index__")):
        raise IndexError(f"only integers, slices, ..., None and integer or boolean arrays/tensors are "
                         f"valid indices, got {describe(k)}")
    return k


def _normalize_index(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    parts = tuple(_index_part(k) for k in parts)
    fancy = any(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in parts)
    return (parts if isinstance(idx, tuple) else parts[0]), fancy


class GetItem(Function):
    def forward(self, x, index, fancy):
        self.index, self.fancy = index, fancy
        return x[index]

    def backward(self, g):
        buf = self.grad_buffer(0)
        if self.fancy:
            np.add.at(buf, self.index, g)     # repeated integer indices accumulate
        else:
            buf[self.index] += g              # basic indices/masks: each element at most once
        return None


def getitem(x, idx):
    index, fancy = _normalize_index(idx)
    return GetItem.apply(x, index=index, fancy=fancy)


# ------------------------------------------------------------------ concat / stack / split
def _check_same_but(name, arrays, axis):
    first = arrays[0]
    for a in arrays[1:]:
        if a.ndim != first.ndim or any(n != m for i, (n, m) in enumerate(zip(a.shape, first.shape)) if i != axis):
            raise ValueError(f"{name}: shapes {first.shape} and {a.shape} differ outside axis {axis}")


class Concat(Function):
    def forward(self, *arrays, axis):
        _check_same_but("concat", arrays, axis)
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, np.cumsum(self.sizes)[:-1], axis=self.axis))


class Stack(Function):
    def forward(self, *arrays, axis):
        for a in arrays[1:]:
            if a.shape != arrays[0].shape:
                raise ValueError(f"stack: shapes {arrays[0].shape} and {a.shape} differ")
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, g):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] for i in range(g.shape[self.axis]))


class Split(Function):
    """Several outputs: backward receives one gradient per piece (None for pieces not used)."""

    def forward(self, x, sizes, axis):
        self.axis = axis
        self.offsets = np.cumsum([0] + list(sizes))
        return tuple(np.split(x, self.offsets[1:-1], axis=axis))

    def backward(self, *grads):
        buf = self.grad_buffer(0)
        lead = (slice(None),) * self.axis
        for k, g in enumerate(grads):
            if g is not None:
                buf[lead + (slice(self.offsets[k], self.offsets[k + 1]),)] += g
        return None


def _as_list(name, ts):
    if isinstance(ts, Tensor) or not isinstance(ts, (list, tuple)) or len(ts) == 0:
        raise TypeError(f"{name} expects a non-empty list or tuple of tensors")
    return list(ts)


def concat(ts, dim=None, *, axis=None):
    """Join tensors along an existing dim (``torch.cat``; ``mg.cat`` is the same function)."""
    axis = dim_arg("cat", dim, axis, 0)
    ts = _as_list("concat", ts)
    shape = np.shape(ts[0].data if isinstance(ts[0], Tensor) else ts[0])
    if len(shape) == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated")
    return Concat.apply(*ts, axis=_axis("concat", axis, len(shape), shape))


def stack(ts, dim=None, *, axis=None):
    """Join same-shaped tensors along a new dim."""
    axis = dim_arg("stack", dim, axis, 0)
    ts = _as_list("stack", ts)
    shape = np.shape(ts[0].data if isinstance(ts[0], Tensor) else ts[0])
    out_shape = (len(ts),) + shape          # (only for the error message: the rank is what counts)
    return Stack.apply(*ts, axis=_axis("stack", axis, len(out_shape), out_shape))


def split(x, split_size_or_sections, dim=None, *, axis=None):
    """Split like ``torch.split`` (also ``t.split``): an int is the size of each chunk (the last
    may be smaller), a list gives the sizes, which must add up to the length of ``dim``. Returns a
    tuple."""
    axis = _axis("split", dim_arg("split", dim, axis, 0), x.ndim, x.shape)
    n = x.shape[axis]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        if s <= 0:
            raise ValueError(f"split: chunk size must be positive, got {s}")
        sizes = [min(s, n - i) for i in range(0, n, s)] or [0]
    else:
        if not isinstance(s, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                                                   for v in s):
            raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, got {describe(s)}")
        sizes = [int(v) for v in s]
        if any(v < 0 for v in sizes) or sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (axis {axis} of shape {x.shape})")
    out = Split.apply(x, sizes=sizes, axis=axis)
    return out if isinstance(out, tuple) else (out,)


# ------------------------------------------------------------------ where
class Where(Function):
    def forward(self, a, b, cond):
        check_broadcast("where", a, b)
        try:
            np.broadcast_shapes(cond.shape, a.shape, b.shape)
        except ValueError:
            raise ValueError(f"where: condition shape {cond.shape} cannot be broadcast with "
                             f"shapes {a.shape} and {b.shape}") from None
        self.save(cond)
        return np.where(cond, a, b)

    def backward(self, g):
        (cond,) = self.saved
        a, b = self.inputs
        zero = g.dtype.type(0)
        ga = unbroadcast(np.where(cond, g, zero), a.data.shape) if self.needs[0] else None
        gb = unbroadcast(np.where(cond, zero, g), b.data.shape) if self.needs[1] else None
        return ga, gb


def where(cond, a, b):
    """Elementwise ``a`` where ``cond`` else ``b`` (``cond``: a boolean array or tensor)."""
    c = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != np.bool_:
        raise TypeError(f"where: the condition must be boolean, got {c.dtype}")
    a, b = float_operands(a, b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    return Where.apply(a, b, cond=c)
