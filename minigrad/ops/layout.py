"""PyTorch's shape methods, built on the ops of ``shape``: view, flatten, unsqueeze, squeeze, t,
narrow, chunk, expand, contiguous, clone.

A minigrad tensor's array is always C-contiguous, so ``view`` is ``reshape`` (NumPy returns a view
that shares memory, as PyTorch's view does) and ``contiguous()`` returns the tensor itself.
``expand`` is the one exception to sharing: its result is materialised (a broadcast array would
be read-only and not contiguous), so it costs the memory of the expanded shape. ``narrow`` and
``chunk`` share memory only when the piece is itself contiguous (slices of the first dim).
"""
import math

import numpy as np

from ..dtypes import check_numel
from ..grad_mode import describe
from ..tensor import Function
from .arith import unbroadcast
from .reduce import dim_arg
from .shape import _axis, _shape_arg, getitem, reshape, split, transpose


def _dim(name, d, ndim, shape):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int, got {d!r}")
    return _axis(name, int(d), ndim, shape)


def view(x, *shape):
    """``x`` with a new shape (one entry may be -1), sharing memory. ``view(dtype)`` (a
    reinterpretation of the bytes) is not supported."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        raise TypeError(f"view: expected a shape, got {shape[0]!r} (view(dtype) is not supported; "
                        "use .to(dtype))")
    return reshape(x, *shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one (a 0-d tensor becomes shape (1,))."""
    shape = x.shape
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = _dim("flatten", start_dim, x.ndim, shape), _dim("flatten", end_dim, x.ndim, shape)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {shape})")
    return reshape(x, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unsqueeze(x, dim):
    """Insert a dim of size 1 at ``dim`` (-ndim-1 <= dim <= ndim)."""
    d = _dim("unsqueeze", dim, x.ndim + 1, x.shape)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x, dim=None, *, axis=None):
    """Remove dims of size 1: all of them, or only ``dim`` (an int or a tuple), where a dim whose
    size is not 1 is left alone -- PyTorch's rule."""
    dim = dim_arg("squeeze", dim, axis)
    shape = x.shape
    if dim is None:
        drop = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        nd = max(x.ndim, 1)                       # a 0-d tensor accepts dim 0 / -1
        drop = {d for d in (_dim("squeeze", k, nd, shape) for k in dims) if d < x.ndim and shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in drop))


def t(x):
    """Transpose of a tensor with at most 2 dims (0-d and 1-d tensors come back unchanged)."""
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dims, got shape {x.shape}; use "
                         "transpose(dim0, dim1) or permute")
    return transpose(x) if x.ndim == 2 else reshape(x, x.shape)


def narrow(x, dim, start, length):
    """Elements ``start .. start+length-1`` along ``dim`` (``start`` may be negative)."""
    d = _dim("narrow", dim, x.ndim, x.shape)
    n = x.shape[d]
    for name, v in (("start", start), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"narrow: {name} must be an int, got {describe(v)}")
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start!r} is out of range for dim {d} of size {n} (shape {x.shape})")
    start = int(start) % n if start < 0 else int(start)
    if not 0 <= length <= n - start:
        raise ValueError(f"narrow: start ({start}) + length ({length!r}) exceeds dim {d} of size {n} "
                         f"(shape {x.shape})")
    return getitem(x, (slice(None),) * d + (slice(start, start + int(length)),))


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` pieces of ceil(n / chunks) along ``dim`` (the last may be smaller, and
    there may be fewer than ``chunks`` pieces), as ``torch.chunk``."""
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    d = _dim("chunk", dim, x.ndim, x.shape)
    return split(x, max(-(-x.shape[d] // int(chunks)), 1), d)


class Expand(Function):
    def forward(self, x, shape):
        return np.broadcast_to(x, shape).copy()     # materialised: contiguous and writable

    def backward(self, g):
        return unbroadcast(g, self.inputs[0].data.shape)


def expand(x, *sizes):
    """``x`` broadcast to ``sizes`` (-1 keeps a dim; new dims go in front), as ``torch.expand``."""
    sizes = _shape_arg(sizes, "expand")
    shape = x.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the number of "
                         f"dims of the tensor (shape {shape})")
    out = []
    for i, n in enumerate(sizes):
        if i < lead:
            if n < 0:
                raise ValueError(f"expand: the size of a new leading dim cannot be {n} (sizes {sizes})")
            out.append(n)
            continue
        m = shape[i - lead]
        if n == -1:
            n = m
        if n != m and m != 1 or n < 0:
            raise ValueError(f"expand: the expanded size {n} must match the existing size {m} at "
                             f"non-singleton dim {i}; target sizes {sizes}, tensor shape {shape}")
        out.append(n)
    check_numel("expand", "the result", out, x.dtype)          # it is materialised
    return Expand.apply(x, shape=tuple(out))


def expand_as(x, other):
    return expand(x, other.shape)


def contiguous(x):
    """The tensor itself: minigrad tensors are always C-contiguous."""
    return x


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


def clone(x):
    """A copy with its own memory; differentiable (the gradient passes through unchanged)."""
    return Clone.apply(x)


# ------------------------------------------------------------------ shape queries
def size(x, dim=None):
    """``x.size()`` is the shape (a tuple); ``x.size(d)`` the length of dim ``d``."""
    if dim is None:
        return x.data.shape
    return x.data.shape[_dim("size", dim, x.data.ndim, x.data.shape)]


def dim(x):
    """The number of dims (``ndim``)."""
    return x.data.ndim


def numel(x):
    """The number of elements."""
    return x.data.size
