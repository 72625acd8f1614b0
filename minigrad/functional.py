"""minigrad.functional (imported as ``F``): softmax, losses, dropout and embedding lookups.

Each function here is ONE fused :class:`~minigrad.tensor.Function` working on NumPy arrays
directly, not a chain of small tensor ops: one tape node instead of five, no intermediate tensors,
and a backward written from the closed-form derivative. The classic example is cross-entropy:

    loss_i = -log softmax(x_i)[t_i]        d loss_i / d x_i = softmax(x_i) - onehot(t_i)

so the forward keeps the softmax probabilities and the backward is one subtraction and a scale.

Shape legend: N batch, C classes, d1.. extra dimensions (PyTorch's (N, C, d1, ...) layout with
the class axis at position 1), M = N*d1*... rows after moving the class axis last, V vocabulary
size, D embedding dimension.

Numerical stability: every softmax subtracts the row maximum before ``exp``, so logits of
magnitude 1e4 give finite results (``exp(1e4)`` alone would overflow to inf).
"""
import numbers

import numpy as np

from .random import default_generator
from .tensor import _FLOAT_DTYPES, Function, Tensor, as_tensor

_REDUCTIONS = ("mean", "sum", "none")


# ====================================================================== argument checks
def _float_tensor(x, fname, name):
    """``x`` as a float tensor (arrays/numbers are wrapped), else a clear TypeError."""
    t = as_tensor(x)
    if t.data.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{fname}: {name} must be a float32/float64 tensor, got dtype {t.data.dtype}")
    return t


def _int_array(idx, fname, name):
    """Class targets / indices as an integer ndarray (integer tensor, array or nested list)."""
    arr = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fname}: {name} must hold integers (class indices), got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_reduction(reduction, fname):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}: unknown reduction {reduction!r}; use one of {', '.join(map(repr, _REDUCTIONS))}")


def _norm_axis(axis, ndim, fname):
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{fname}: axis must be an int, got {type(axis).__name__}")
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{fname}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % max(ndim, 1)


def _class_targets(logits_shape, target, ignore_index, fname, input_name):
    """Validate integer class targets against (N, C, d1, ...) or (C,) inputs; returns int64 array."""
    t = _int_array(target, fname, "target")
    if len(logits_shape) == 0:
        raise ValueError(f"{fname}: {input_name} must have a class axis, got a 0-d tensor")
    if len(logits_shape) == 1:
        expected = ()                       # unbatched: (C,) with a 0-d target
    else:
        expected = (logits_shape[0],) + tuple(logits_shape[2:])
    if t.shape != expected:
        raise ValueError(f"{fname}: target has shape {t.shape} but {input_name} of shape {tuple(logits_shape)} "
                         f"(class axis {0 if len(logits_shape) == 1 else 1}) needs a target of shape {expected}")
    C = logits_shape[0] if len(logits_shape) == 1 else logits_shape[1]
    if C == 0:
        raise ValueError(f"{fname}: {input_name} of shape {tuple(logits_shape)} has no classes")
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"{fname}: target contains class {int(t[bad].flat[0])} outside [0, {C}) "
                         f"(ignore_index={ignore_index})")
    return t


def _classes_last(x):
    """(N, C, d1, ...) or (C,) -> (M, C) with the class axis last (a view when already 2-D)."""
    if x.ndim == 1:
        return x[None, :]
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(g2, shape):
    """Inverse of :func:`_classes_last` for a gradient (M, C) -> ``shape``, C-contiguous."""
    if len(shape) <= 2:
        return g2.reshape(shape)
    lead = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.ascontiguousarray(np.moveaxis(g2.reshape(lead), -1, 1))


def _reduce_rows(loss, valid, reduction, target_shape, dtype):
    """Per-row losses (M,) -> 'none' (target shape), 'sum', or 'mean' over non-ignored rows."""
    if reduction == "none":
        return loss.reshape(target_shape).astype(dtype, copy=False)
    total = loss.sum(dtype=np.float64) if dtype == np.float32 else loss.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):   # all ignored -> 0/0 = nan, as PyTorch
        return np.asarray(total / np.count_nonzero(valid), dtype=dtype)


def _row_scale(g, valid, reduction, dtype):
    """d reduced-loss / d loss_i for every row (M,), zero on ignored rows."""
    if reduction == "none":
        return np.where(valid, g.reshape(-1), 0).astype(dtype, copy=False)
    n = np.count_nonzero(valid) if reduction == "mean" else 1
    if n == 0:                          # every target ignored: nothing receives a gradient
        return np.zeros(valid.shape, dtype)
    return np.where(valid, g / n, 0).astype(dtype, copy=False)


# ====================================================================== softmax family
def _shifted(x, axis):
    """A new array ``x - max(x)`` along ``axis`` (the shift that keeps exp() from overflowing)."""
    return x - x.max(axis=axis, keepdims=True) if x.size else x.copy()


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)) along ``axis``; dx = y * (g - sum(g * y))."""

    def forward(self, x, axis):
        self.axis = axis
        y = _shifted(x, axis)
        if y.size:
            np.exp(y, out=y)
            y /= y.sum(axis=axis, keepdims=True)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        gy = g * y
        gy -= y * gy.sum(axis=self.axis, keepdims=True)
        return gy


class LogSoftmax(Function):
    """y = (x - max) - log(sum(exp(x - max))) along ``axis``; dx = g - exp(y) * sum(g)."""

    def forward(self, x, axis):
        self.axis = axis
        y = _shifted(x, axis)
        if y.size:
            y -= np.log(np.exp(y).sum(axis=axis, keepdims=True))
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g - np.exp(y) * g.sum(axis=self.axis, keepdims=True)


def softmax(x, axis=-1):
    """Softmax along ``axis`` (numerically stable: the maximum is subtracted first)."""
    x = _float_tensor(x, "softmax", "x")
    return Softmax.apply(x, axis=_norm_axis(axis, x.ndim, "softmax"))


def log_softmax(x, axis=-1):
    """log(softmax(x)) along ``axis``, computed without forming softmax (stable for huge logits)."""
    x = _float_tensor(x, "log_softmax", "x")
    return LogSoftmax.apply(x, axis=_norm_axis(axis, x.ndim, "log_softmax"))


# ====================================================================== classification losses
class CrossEntropy(Function):
    """Fused log-softmax + pick-the-target + reduction.

    forward (rows M, classes C): z = x - max, lse = log sum exp z, loss_i = lse_i - z[i, t_i]
    (with label smoothing eps: (1 - eps) * that + eps * mean_c(lse_i - z_ic)).
    backward: dx_i = (softmax(x_i) - q_i) * scale_i, q_i = (1 - eps) onehot(t_i) + eps / C.
    Saved: the probabilities (M, C), the targets (M,) and the not-ignored mask (M,).
    """

    def forward(self, x, target, ignore_index, reduction, label_smoothing):
        self.reduction, self.eps, self.x_shape = reduction, label_smoothing, x.shape
        x2 = _classes_last(x)                                   # (M, C)
        M, C = x2.shape
        t = target.reshape(-1)
        valid = t != ignore_index
        t = np.where(valid, t, 0)                               # ignored rows pick class 0, then masked
        z = _shifted(x2, 1)                                     # the only (M, C) allocation
        picked = z[np.arange(M), t]
        zsum = z.sum(axis=1) if label_smoothing else None
        np.exp(z, out=z)
        s = z.sum(axis=1)
        lse = np.log(s)
        loss = lse - picked
        if label_smoothing:
            loss = (1.0 - label_smoothing) * loss + label_smoothing * (lse - zsum / C)
        loss = np.where(valid, loss, 0)
        z /= s[:, None]                                         # probabilities
        self.save(z, t, valid)
        return _reduce_rows(loss, valid, reduction, target.shape, x.dtype)

    def backward(self, g):
        p, t, valid = self.saved
        M, C = p.shape
        scale = _row_scale(g, valid, self.reduction, p.dtype)   # (M,)
        dx = p * scale[:, None]
        dx[np.arange(M), t] -= (1.0 - self.eps) * scale
        if self.eps:
            dx -= (self.eps / C) * scale[:, None]
        return _classes_back(dx, self.x_shape)


class NLLLoss(Function):
    """loss_i = -log_probs[i, t_i]; backward writes -scale_i at (i, t_i) of a zero gradient."""

    def forward(self, lp, target, ignore_index, reduction):
        self.reduction, self.x_shape = reduction, lp.shape
        lp2 = _classes_last(lp)
        t = target.reshape(-1)
        valid = t != ignore_index
        t = np.where(valid, t, 0)
        loss = np.where(valid, -lp2[np.arange(t.size), t], 0)
        self.save(t, valid)
        return _reduce_rows(loss, valid, reduction, target.shape, lp.dtype)

    def backward(self, g):
        t, valid = self.saved
        scale = _row_scale(g, valid, self.reduction, g.dtype)
        C = self.x_shape[0] if len(self.x_shape) == 1 else self.x_shape[1]
        dx = np.zeros((t.size, C), g.dtype)
        dx[np.arange(t.size), t] = -scale
        return _classes_back(dx, self.x_shape)


def cross_entropy(logits, target, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (N, C) / (N, C, d1, ...) / (C,) with integer class targets.

    As PyTorch: target has shape (N,) / (N, d1, ...) / (); targets equal to ``ignore_index``
    contribute nothing, and 'mean' divides by the number of non-ignored targets (all ignored ->
    nan). ``label_smoothing`` eps mixes the one-hot target with the uniform distribution.
    """
    logits = _float_tensor(logits, "cross_entropy", "logits")
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    t = _class_targets(logits.shape, target, ignore_index, "cross_entropy", "logits")
    return CrossEntropy.apply(logits, target=t, ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=float(label_smoothing))


def nll_loss(log_probs, target, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer targets (PyTorch rules)."""
    log_probs = _float_tensor(log_probs, "nll_loss", "log_probs")
    _check_reduction(reduction, "nll_loss")
    t = _class_targets(log_probs.shape, target, ignore_index, "nll_loss", "log_probs")
    return NLLLoss.apply(log_probs, target=t, ignore_index=ignore_index, reduction=reduction)


# ====================================================================== regression loss
class MSELoss(Function):
    """loss = reduce((x - y)^2); dx = 2 (x - y) g * scale, dy = -dx. Saved: the difference."""

    def forward(self, x, y, reduction):
        self.reduction = reduction
        d = x - y
        self.save(d)
        sq = np.square(d)
        if reduction == "none":
            return sq
        total = sq.sum()
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):   # empty input -> nan, as PyTorch
                total = total / sq.size
        return np.asarray(total, dtype=x.dtype)

    def backward(self, g):
        (d,) = self.saved
        if self.reduction == "none":
            gd = d * g
            gd *= d.dtype.type(2.0)
        else:                          # g is 0-d: fold 2 and the mean's 1/n into one scalar
            gd = d * d.dtype.type(2.0 * float(g) / (max(d.size, 1) if self.reduction == "mean" else 1))
        return (gd if self.needs[0] else None), (-gd if self.needs[1] else None)


def mse_loss(x, y, reduction="mean"):
    """Mean squared error; ``x`` and ``y`` must have the same shape (no broadcasting)."""
    x = _float_tensor(x, "mse_loss", "input")
    _check_reduction(reduction, "mse_loss")
    y_shape = y.shape if isinstance(y, Tensor) else np.shape(y)
    if tuple(y_shape) != x.shape:
        raise ValueError(f"mse_loss: input has shape {x.shape} but target has shape {tuple(y_shape)}; "
                         "they must match exactly (no broadcasting)")
    return MSELoss.apply(x, y, reduction=reduction)


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
    x = _float_tensor(x, "dropout", "x")
    if not training or p == 0:
        return x
    if generator is None:
        generator = default_generator()
    elif not isinstance(generator, np.random.Generator):
        raise TypeError(f"dropout: generator must be a numpy.random.Generator, got {type(generator).__name__}")
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
    weight = _float_tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape {weight.shape}")
    V = weight.shape[0]
    idx = _int_array(indices, "embedding", "indices")
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        bad = idx[(idx < 0) | (idx >= V)].flat[0]
        raise IndexError(f"embedding: index {int(bad)} is out of range for a weight with {V} rows "
                         f"(shape {weight.shape}); indices must lie in [0, {V})")
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {V} rows")
        padding_idx = int(padding_idx) % V
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx)
