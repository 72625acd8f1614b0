"""minigrad.nn.functional (imported as ``F``): the functional API, PyTorch's ``torch.nn.functional``.

    import minigrad.nn.functional as F        # ``minigrad.functional`` is the same module
    loss = F.cross_entropy(logits, target)

Each function here is ONE fused :class:`~minigrad.tensor.Function` working on NumPy arrays
directly, not a chain of small tensor ops: one tape node instead of five, no intermediate tensors,
and a backward written from the closed-form derivative. The classic example is cross-entropy:

    loss_i = -log softmax(x_i)[t_i]        d loss_i / d x_i = softmax(x_i) - onehot(t_i)

so the forward keeps the softmax probabilities and the backward is one subtraction and a scale.
This file holds the softmax family, the activations, dropout and embedding lookups; the losses
live in :mod:`minigrad.nn.loss_ops` (the fused Linear -> cross-entropy of language-model decoders,
``linear_cross_entropy``, in :mod:`minigrad.nn.linear_ce`) and are re-exported here, and every
argument check in :mod:`minigrad.nn.argcheck`.

Shape legend: N batch, C classes, d1.. extra dimensions (PyTorch's (N, C, d1, ...) layout with
the class axis at position 1), V vocabulary size, D embedding dimension.

Numerical stability: every softmax subtracts the row maximum before ``exp``, so logits of
magnitude 1e4 give finite results (``exp(1e4)`` alone would overflow to inf). The softmax family
and cross-entropy run the C row kernels of csrc/softmax.c; an entry of -inf gets probability 0,
a row that is all -inf (or holds a NaN) is NaN, as in PyTorch.
"""
import math
import numbers

import numpy as np

from .. import kernels as K
from .. import ops
from ..grad_mode import check_bool
from ..tensor import Function
from .argcheck import check_generator, check_int, float_tensor, int_array, norm_axis, pick_dim
from .linear_ce import linear_cross_entropy
from .loss_ops import _grad_target  # where a row kernel writes its input's gradient
from .loss_ops import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,
                       l1_loss, mse_loss, nll_loss, smooth_l1_loss)

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "embedding",
           "gelu", "huber_loss", "l1_loss", "linear", "linear_cross_entropy", "log_softmax", "mse_loss", "nll_loss",
           "relu", "sigmoid", "smooth_l1_loss", "softmax", "tanh"]

relu, sigmoid, tanh = ops.relu, ops.sigmoid, ops.tanh      # one implementation each, in minigrad.ops


def linear(input, weight, bias=None):
    """``input @ weight^T + bias`` as one tape node (the implementation lives with ``nn.Linear``)."""
    from .layers import linear as _linear      # imported here: nn/layers.py itself imports this module
    return _linear(input, weight, bias)

# ====================================================================== softmax family
# The kernels of csrc/softmax.c (minigrad.kernels.softmax) run along any axis of the array as it
# lies: the last axis as rows, another one column-wise with strides (no copy moving the axis).
# The NumPy versions they replaced live on in minigrad.reference.softmax.
class _RowSoftmax(Function):
    """Base of Softmax and LogSoftmax: the kernel ``y = f(x)`` along ``axis`` and its backward
    ``dx = f'(y, g)``, written where :func:`~minigrad.nn.loss_ops._grad_target` says (a leaf's
    gradient buffer, else a new array). Saved: the output y (a 0-d input is seen as (1,))."""
    forward_kernel = backward_kernel = None

    def forward(self, x, axis):
        self.axis, self.shape = axis, x.shape
        y = type(self).forward_kernel(x.reshape(-1) if x.ndim == 0 else x, axis=axis)
        self.save(y)
        return y.reshape(x.shape)

    def backward(self, g):
        (y,) = self.saved
        buf = _grad_target(self, 0)
        dx = type(self).backward_kernel(g.reshape(y.shape), y, axis=self.axis,
                                        dx=None if buf is None else buf.reshape(y.shape))
        return None if buf is not None else dx.reshape(self.shape)


class Softmax(_RowSoftmax):
    """y = exp(x - max) / sum(exp(x - max)) along ``axis``; dx = y * (g - sum(g * y))."""
    forward_kernel = staticmethod(K.softmax_forward)
    backward_kernel = staticmethod(K.softmax_backward)


class LogSoftmax(_RowSoftmax):
    """y = (x - max) - log(sum(exp(x - max))) along ``axis``; dx = g - exp(y) * sum(g)."""
    forward_kernel = staticmethod(K.log_softmax_forward)
    backward_kernel = staticmethod(K.log_softmax_backward)


def softmax(input, dim=None, axis=None):
    """Softmax along ``dim`` (or NumPy's ``axis``; default -1), stable: the maximum is subtracted first.

    PyTorch warns and guesses when ``dim`` is omitted; minigrad uses the last axis.
    """
    x = float_tensor(input, "softmax", "input")
    return Softmax.apply(x, axis=norm_axis(pick_dim(dim, axis, -1, "softmax"), x.ndim, "softmax"))


def log_softmax(input, dim=None, axis=None):
    """log(softmax(x)) along ``dim`` (default -1), computed without forming softmax (stable)."""
    x = float_tensor(input, "log_softmax", "input")
    return LogSoftmax.apply(x, axis=norm_axis(pick_dim(dim, axis, -1, "log_softmax"), x.ndim, "log_softmax"))


# ====================================================================== GELU
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# NumPy has no erf: libm's erfc, element by element (~0.1 us each). Phi(x) = erfc(-x / sqrt 2) / 2
# has no cancellation for negative x, unlike (1 + erf(x / sqrt 2)) / 2.
_erfc = np.frompyfunc(math.erfc, 1, 1)


class Gelu(Function):
    """Exact:  y = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2;  dy/dx = Phi(x) + x phi(x).
    'tanh':   y = x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3);
              dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2.
    Saved: the input x (and Phi(x) or tanh(u))."""

    def forward(self, x, approximate):
        self.approximate = approximate
        if approximate == "none":
            s = _erfc(x * -_SQRT_HALF).astype(x.dtype) * x.dtype.type(0.5)   # Phi(x)
        else:
            s = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        self.save(x, s)
        return x * s if approximate == "none" else 0.5 * x * (1 + s)

    def backward(self, g):
        x, s = self.saved
        if self.approximate == "none":
            d = s + x * np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2 * math.pi))
        else:
            d = 0.5 * (1 + s) + 0.5 * x * (1 - s * s) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return (g * d).astype(g.dtype, copy=False)


def gelu(input, approximate="none"):
    """Gaussian error linear unit, ``approximate='none'`` (exact, erf) or ``'tanh'`` (PyTorch's)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(float_tensor(input, "gelu", "input"), approximate=approximate)


# ====================================================================== dropout
class Dropout(Function):
    """Inverted dropout: y = x * mask / (1 - p), mask ~ Bernoulli(1 - p). Saved: the bool mask."""

    def forward(self, x, p, generator):
        self.scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
        if p >= 1.0:
            mask = np.zeros(x.shape, bool)
        else:   # draw in the tensor's own dtype: float32 draws are half the work of float64
            mask = generator.random(x.shape, dtype=x.dtype) >= p
        self.save(mask)
        y = x * x.dtype.type(self.scale)
        y *= mask
        return y

    def backward(self, g):
        (mask,) = self.saved
        dx = g * g.dtype.type(self.scale)
        dx *= mask
        return dx


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training only).

    With ``p == 0`` or ``training=False`` the input tensor itself is returned. The mask comes from
    ``generator`` (a ``numpy.random.Generator``) or minigrad's default generator
    (see :func:`minigrad.manual_seed`).
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be a number in [0, 1], got {p!r}")
    x = float_tensor(x, "dropout", "x")
    training = check_bool(training, "dropout: training")
    generator = check_generator(generator, "dropout")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=float(p), generator=generator)


# ====================================================================== embedding
_SCATTER_CHUNK = 1 << 22   # elements per np.add.at call: bounds the int64 flat-index temporary


class Embedding(Function):
    """out[...] = weight[indices[...]]  (indices (...), weight (V, D) -> out (..., D)).

    backward scatter-adds the output gradient rows into dweight; a row used k times receives the
    sum of k gradients. ``np.add.at`` on the *flattened* weight (one index per element) is several
    times faster than ``np.add.at(dw, rows, g)`` on 2-D rows and needs no (V*D) float64 temporary
    like ``np.bincount``. Rows equal to ``padding_idx`` are skipped: they get no gradient.
    Saved: the int64 indices.
    """

    def forward(self, weight, indices, padding_idx):
        self.padding_idx = padding_idx
        self.save(indices)
        return np.take(weight, indices, axis=0)

    def backward(self, g):
        (idx,) = self.saved
        dw = self.grad_buffer(0)                           # (V, D), accumulates in place
        V, D = dw.shape
        rows = idx.reshape(-1)
        g2 = g.reshape(-1, D)
        if self.padding_idx is not None:
            keep = rows != self.padding_idx
            rows, g2 = rows[keep], g2[keep]
        flat_dw = dw.reshape(-1)
        cols = np.arange(D, dtype=np.int64)
        step = max(1, _SCATTER_CHUNK // max(D, 1))
        for s in range(0, rows.size, step):
            r = rows[s:s + step]
            np.add.at(flat_dw, (r[:, None] * D + cols).reshape(-1), g2[s:s + step].reshape(-1))
        return None


def embedding(indices, weight, padding_idx=None):
    """Look up rows of ``weight`` (V, D) at integer ``indices`` of any shape -> (..., D)."""
    weight = float_tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape {weight.shape}")
    V = weight.shape[0]
    idx = int_array(indices, "embedding", "indices")
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        bad = idx[(idx < 0) | (idx >= V)].flat[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for a weight with {V} rows "
                         f"(shape {weight.shape}); indices must lie in [0, {V})")
    if padding_idx is not None:
        padding_idx = check_int(padding_idx, "embedding", "padding_idx")
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {V} rows")
        padding_idx = int(padding_idx) % V
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx)
