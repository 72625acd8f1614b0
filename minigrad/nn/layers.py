"""The basic layers: Linear, Embedding, Dropout.

``Linear`` is one fused tape node, ``y = x @ W^T + b`` over all leading dimensions at once: the
forward is a single GEMM with ``trans_b`` (no transposed copy of W), and backward forms
``dx = g @ W`` and ``dW += g^T @ x`` as two GEMMs, accumulating into the engine's buffers.
"""
import math
import numbers

import numpy as np

from .. import kernels as K
from .. import functional as F
from ..dtypes import MAX_ARRAY_BYTES, check_numel
from ..random import default_generator
from ..grad_mode import check_bool, describe
from ..tensor import Function
from .container import Sequential  # noqa: F401  (its home is nn/container.py; kept importable here)
from . import init
from .module import Module, Parameter

from ..dtypes import FLOAT_DTYPES as _FLOATS


def check_size(owner, name, value, minimum=0):
    """``value`` as an int in [``minimum``, ``MAX_ARRAY_BYTES``], or a TypeError / ValueError naming
    ``owner``, the argument and the value (instead of NumPy's "negative dimensions are not allowed"
    or "Maximum allowed dimension exceeded" much later)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    if value > MAX_ARRAY_BYTES:
        raise ValueError(f"{owner}: {name} = {value!r} is larger than any array dimension can be "
                         f"({MAX_ARRAY_BYTES}, the largest np.intp)")
    return int(value)


def check_dtype(owner, dtype):
    """``dtype`` as np.float32 / np.float64 (the dtypes a parameter may have), or a TypeError naming it."""
    try:
        dt = np.dtype(dtype) if dtype is not None else None   # np.dtype(None) would be float64
    except TypeError:
        dt = None
    if dt is None or dt not in _FLOATS:
        shown = dt.name if dt is not None else repr(dtype)
        raise TypeError(f"{owner}: dtype must be np.float32 or np.float64, got {shown}")
    return dt


def uniform_(p, bound, generator=None):
    """Fill parameter ``p`` in place from U(-bound, bound) (PyTorch's default for these layers)."""
    return init.uniform_(p, -bound, bound, generator)


class LinearFn(Function):
    """y (..., O) = x (..., I) @ W^T (I, O) + b (O,)."""

    def forward(self, x, w, b=None):
        for name, a in (("input", x), ("weight", w), ("bias", b)):
            if a is not None and a.dtype not in _FLOATS:
                raise TypeError(f"linear: {name} must be a float32/float64 tensor, got dtype {a.dtype} "
                                f"(shape {a.shape})")
        if w.ndim != 2:
            raise ValueError(f"linear: weight must have shape (out_features, in_features), got {w.shape}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape ({w.shape[0]},) for a weight of shape {w.shape}, "
                             f"got {b.shape}")
        if x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {w.shape} "
                             f"(expected last dimension {w.shape[1]})")
        x2 = x.reshape(int(np.prod(x.shape[:-1])), w.shape[1])   # not -1: sizes may be zero
        y = K.gemm(x2, w, trans_b=True)
        if b is not None:
            y += b
        self.save(x2, w)
        self.x_shape = x.shape
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        x2, w = self.saved
        g2 = g.reshape(x2.shape[0], w.shape[0])
        dx = K.gemm(g2, w).reshape(self.x_shape) if self.needs[0] else None
        if self.needs[1]:
            K.gemm(g2, x2, trans_a=True, beta=1.0, out=self.grad_buffer(1))   # dW += g^T x
        db = g2.sum(axis=0) if len(self.needs) > 2 and self.needs[2] else None
        return dx, None, db


def linear(x, weight, bias=None):
    """``x @ weight^T + bias`` as one tape node (see :class:`LinearFn`)."""
    return LinearFn.apply(x, weight) if bias is None else LinearFn.apply(x, weight, bias)


class Linear(Module):
    """``y = x W^T + b``; weight (out_features, in_features), both U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = in_features = check_size("Linear", "in_features", in_features)
        self.out_features = out_features = check_size("Linear", "out_features", out_features)
        bias = check_bool(bias, "Linear: bias")
        dtype = check_dtype("Linear", dtype)
        check_numel("Linear", "weight", (out_features, in_features), dtype)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = uniform_(Parameter(np.empty((out_features, in_features), dtype)), bound)
        self.bias = uniform_(Parameter(np.empty((out_features,), dtype)), bound) if bias else None

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer indices (...) -> rows of ``weight`` (num_embeddings, embedding_dim).

    Initialised N(0, 1) as PyTorch; the ``padding_idx`` row is zero and receives no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        num_embeddings = check_size("Embedding", "num_embeddings", num_embeddings, minimum=1)
        embedding_dim = check_size("Embedding", "embedding_dim", embedding_dim)
        dtype = check_dtype("Embedding", dtype)
        # the N(0, 1) draw is made in float64 whatever the dtype: that is the largest array
        check_numel("Embedding", "weight (drawn in float64)", (num_embeddings, embedding_dim), np.float64)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got "
                                f"{describe(padding_idx)}")
            padding_idx = int(padding_idx)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx {padding_idx} out of range for {num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        w = default_generator().standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Parameter(w)

    def forward(self, indices):
        return F.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` while training; the identity in eval mode."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: p must be a real number in [0, 1], got {describe(p)}")
        if not 0.0 <= p <= 1.0:                       # NaN fails too
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
