"""The loss functions of the functional API, one fused :class:`~minigrad.tensor.Function` each.

Classification (class axis 1, PyTorch's (N, C, d1, ...) layout, or unbatched (C,)):
    cross_entropy   loss_i = (1-eps) w[t_i] (lse_i - x_i,t_i) + eps/C sum_c w_c (lse_i - x_ic)
                    dx_i   = c_i [(1-eps) w[t_i] (p_i - e_t_i) + eps/C (W p_i - w)],  W = sum_c w_c
                    (probability targets q: loss_i = -sum_c w_c q'_ic log p_ic, q' = (1-eps) q + eps/C)
    nll_loss        loss_i = -w[t_i] lp_i,t_i
    'mean' divides by sum_i w[t_i] over non-ignored rows (the count of them without weights).
Element-wise (input and target of one shape):
    mse_loss (x-y)^2, l1_loss |x-y|, smooth_l1_loss (beta), huber_loss (delta),
    binary_cross_entropy (probabilities, logs clamped at -100 as PyTorch),
    binary_cross_entropy_with_logits (stable: (1-y) x + (1 + (pw-1) y) softplus(-x)).
    Each forward also forms d loss/d input and d loss/d target element-wise (only when recording),
    so backward is one scaling; 'mean' divides by the number of elements.

Shape legend: M = N*d1*... rows after moving the class axis last, C classes.
Float32 sums accumulate in float64. The softmax part of the cross-entropies runs in the C row
kernels of csrc/softmax.c (the NumPy version it replaced is minigrad.reference.softmax);
linear_cross_entropy (Linear -> cross_entropy fused for big vocabularies) is in
minigrad.nn.linear_ce. Weights (``weight``, ``pos_weight``) are constants.
"""
import numpy as np

from .. import kernels as K
from ..tensor import Function, Tensor
from .argcheck import (check_int, check_real, check_reduction, const_array, float_tensor, int_array,
                       same_shape)

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss",
           "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss"]


# ====================================================================== shared helpers
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


def _grad_target(fn, i):
    """Where a row kernel should put the gradient of ``fn``'s input ``i``: the engine's own
    zero-initialised buffer when the input is a leaf (the kernel adds into it; a returned array
    would be copied once more on its way into ``.grad``), else None -- the kernel then writes a
    new array, which the engine hands to the producer's backward as it is (no zero fill)."""
    return fn.grad_buffer(i) if fn.inputs[i]._node is None else None


def _reduce(loss, reduction, denom, shape, dtype):
    """Element/row losses -> 'none' (``shape``), 'sum', or 'mean' (sum / denom; 0/0 -> nan as PyTorch)."""
    if reduction == "none":
        return loss.reshape(shape).astype(dtype, copy=False)
    total = loss.sum(dtype=np.float64) if dtype == np.float32 else loss.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / denom, dtype=dtype)


def _scale(g, reduction, denom):
    """d reduced loss / d loss_k: the flat upstream gradient ('none'), or one scalar."""
    if reduction == "none":
        return g.reshape(-1)
    if reduction == "sum":
        return float(g)
    return float(g) / denom if denom else 0.0     # every target ignored: nothing gets a gradient


def _class_targets(shape, target, ignore_index, fname, input_name):
    """Validate integer class targets against (N, C, d1, ...) or (C,) inputs; returns int64 array."""
    t = int_array(target, fname, "target")
    if len(shape) == 0:
        raise ValueError(f"{fname}: {input_name} must have a class axis, got a 0-d tensor")
    expected = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    if t.shape != expected:
        raise ValueError(f"{fname}: target has shape {t.shape} but {input_name} of shape {tuple(shape)} "
                         f"(class axis {0 if len(shape) == 1 else 1}) needs a target of shape {expected}")
    C = shape[0] if len(shape) == 1 else shape[1]
    if C == 0:
        raise ValueError(f"{fname}: {input_name} of shape {tuple(shape)} has no classes")
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(f"{fname}: target contains class {int(t[bad].flat[0])} outside [0, {C}) "
                         f"(ignore_index={ignore_index})")
    return t


def _class_weight(weight, shape, dtype, fname):
    if weight is None:
        return None
    C = shape[0] if len(shape) == 1 else shape[1]
    return const_array(weight, fname, "weight", dtype, shape=(C,))


# ====================================================================== classification
def _row_weights(t, valid, weight, dtype):
    """Per-row weights wt (M,): w[t_i] (1 without class weights), 0 where the target is ignored."""
    if weight is None:
        return valid.astype(dtype)
    return np.where(valid, weight[np.where(valid, t, 0)], 0).astype(dtype)


def _ce_coefficients(g, reduction, denom, wt, valid, eps, C, dtype):
    """The row coefficients of d loss / d logits = p (a + b W) - a onehot(t) - b w (see the module
    docstring): a = (1-eps) c wt, b = eps/C c on non-ignored rows (None without smoothing), where
    c is d reduced loss / d loss_i."""
    M = wt.shape[0]
    c = np.broadcast_to(np.asarray(_scale(g, reduction, denom), dtype), (M,))
    a = ((1.0 - eps) * c * wt).astype(dtype)
    b = np.where(valid, (eps / C) * c, 0).astype(dtype) if eps else None
    return a, b


class CrossEntropy(Function):
    """Fused log-softmax + pick + reduction with class weights and label smoothing (see the module
    docstring), on the C row kernels (minigrad.kernels.cross_entropy_forward / _backward).
    Saved: probabilities p (M, C), targets (M,), per-row weights wt (M,; zero where ignored),
    the not-ignored mask (M,) and the class weights (C,) or None."""

    def forward(self, x, target, weight, ignore_index, reduction, label_smoothing):
        self.eps, self.reduction, self.x_shape = label_smoothing, reduction, x.shape
        self.ignore_index = ignore_index
        x2 = _classes_last(x)                                   # (M, C), a view
        t = target.reshape(-1)
        loss, p = K.cross_entropy_forward(x2, t, weight, ignore_index, label_smoothing)
        valid = t != ignore_index
        wt = _row_weights(t, valid, weight, x.dtype)
        self.denom = wt.sum(dtype=np.float64)
        self.save(p, t, wt, valid, weight)
        return _reduce(loss, reduction, self.denom, target.shape, x.dtype)

    def backward(self, g):
        p, t, wt, valid, weight = self.saved
        a, b = _ce_coefficients(g, self.reduction, self.denom, wt, valid, self.eps, p.shape[1], p.dtype)
        buf = _grad_target(self, 0) if len(self.x_shape) <= 2 else None   # class axis last
        dx = K.cross_entropy_backward(p, t, a, b, weight, self.ignore_index,
                                      dx=None if buf is None else buf.reshape(p.shape))
        return None if buf is not None else _classes_back(dx, self.x_shape)


class SoftCrossEntropy(Function):
    """Cross-entropy with class-probability targets q (same shape as the input):
    loss_i = -sum_c w_c q'_ic lp_ic, q' = (1-eps) q + eps/C;  dx_i = p_i sum_c a_ic - a_i with
    a = w q';  dq_ic = -(1-eps) w_c lp_ic. 'mean' divides by the number of rows M.
    Saved: log-probabilities lp (M, C) (from the C log_softmax kernel), a (M, C)."""

    def forward(self, x, q, weight, reduction, label_smoothing):
        self.eps, self.reduction, self.x_shape = label_smoothing, reduction, x.shape
        x2, q2 = _classes_last(x), _classes_last(q)
        M, C = x2.shape
        lp = K.log_softmax_forward(x2)
        a = (1.0 - label_smoothing) * q2 + label_smoothing / C if label_smoothing else q2.copy()
        if weight is not None:
            a *= weight
        loss = -(a * lp).sum(axis=1)
        self.denom = M
        self.save(lp, a, weight)
        shape = () if x.ndim == 1 else (x.shape[0],) + x.shape[2:]
        return _reduce(loss, reduction, M, shape, x.dtype)

    def backward(self, g):
        lp, a, weight = self.saved
        c = np.broadcast_to(np.asarray(_scale(g, self.reduction, self.denom), lp.dtype), (lp.shape[0],))[:, None]
        dx = dq = None
        if self.needs[0]:
            dx = np.exp(lp) * a.sum(axis=1, keepdims=True)
            dx -= a
            dx = _classes_back(dx * c, self.x_shape)
        if self.needs[1]:
            dq = -(1.0 - self.eps) * lp * c
            if weight is not None:
                dq *= weight
            dq = _classes_back(dq, self.x_shape)
        return dx, dq


class NLLLoss(Function):
    """loss_i = -w[t_i] lp[i, t_i]; backward writes -scale_i w[t_i] at (i, t_i) of a zero gradient."""

    def forward(self, lp, target, weight, ignore_index, reduction):
        self.reduction, self.x_shape = reduction, lp.shape
        lp2 = _classes_last(lp)
        t = target.reshape(-1)
        valid = t != ignore_index
        wt = _row_weights(t, valid, weight, lp.dtype)
        t = np.where(valid, t, 0)
        loss = -lp2[np.arange(t.size), t] * wt
        self.denom = wt.sum(dtype=np.float64)
        self.save(t, wt)
        return _reduce(loss, reduction, self.denom, target.shape, lp.dtype)

    def backward(self, g):
        t, wt = self.saved
        C = self.x_shape[0] if len(self.x_shape) == 1 else self.x_shape[1]
        dx = np.zeros((t.size, C), g.dtype)
        dx[np.arange(t.size), t] = -_scale(g, self.reduction, self.denom) * wt
        return _classes_back(dx, self.x_shape)


def _smoothing(label_smoothing, fname):
    return check_real(label_smoothing, fname, "label_smoothing", 0.0, 1.0)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (N, C) / (N, C, d1, ...) / (C,), as ``torch.nn.functional.cross_entropy``.

    ``target``: integer class indices of shape (N,) / (N, d1, ...) / (), or class probabilities
    of the input's shape (a float tensor; differentiable). Targets equal to ``ignore_index``
    contribute nothing; ``weight`` (C,) rescales each class; 'mean' divides by the summed weight of
    the non-ignored targets (all ignored -> nan), or by the row count for probability targets.
    ``label_smoothing`` eps mixes the target with the uniform distribution.
    """
    fname = "cross_entropy"
    input = float_tensor(input, fname, "input")
    check_reduction(reduction, fname)
    eps = _smoothing(label_smoothing, fname)
    ignore_index = check_int(ignore_index, fname, "ignore_index")
    w = _class_weight(weight, input.shape, input.dtype, fname)
    tdt = target.dtype if isinstance(target, (Tensor, np.ndarray)) else np.asarray(target).dtype
    if tdt.kind == "f":                                        # class probabilities
        q = float_tensor(target, fname, "target")
        if q.shape != input.shape:
            raise TypeError(f"{fname}: target must hold integers (class indices), or be class probabilities "
                            f"of the input's shape {input.shape}; got dtype {tdt} and shape {q.shape}")
        if input.ndim == 0:
            raise ValueError(f"{fname}: input must have a class axis, got a 0-d tensor")
        return SoftCrossEntropy.apply(input, q, weight=w, reduction=reduction, label_smoothing=eps)
    t = _class_targets(input.shape, target, ignore_index, fname, "input")
    return CrossEntropy.apply(input, target=t, weight=w, ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=eps)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer targets (PyTorch's rules,
    ``weight`` and ``ignore_index`` as :func:`cross_entropy`)."""
    fname = "nll_loss"
    input = float_tensor(input, fname, "input")
    check_reduction(reduction, fname)
    ignore_index = check_int(ignore_index, fname, "ignore_index")
    w = _class_weight(weight, input.shape, input.dtype, fname)
    t = _class_targets(input.shape, target, ignore_index, fname, "input")
    return NLLLoss.apply(input, target=t, weight=w, ignore_index=ignore_index, reduction=reduction)


# ====================================================================== element-wise losses
def _mse(x, y, _):
    d = x - y
    dx = 2.0 * d
    return np.square(d, out=d), dx      # d squared in place: one input-sized buffer less at peak


def _l1(x, y, _):
    d = x - y
    return np.abs(d), np.sign(d)


def _smooth_l1(x, y, beta):
    d = x - y
    ad = np.abs(d)
    if beta == 0.0:                        # PyTorch: beta == 0 is exactly the L1 loss
        return ad, np.sign(d)
    small = ad < beta
    return np.where(small, 0.5 * d * d / beta, ad - 0.5 * beta), np.where(small, d / beta, np.sign(d))


def _huber(x, y, delta):
    d = x - y
    ad = np.abs(d)
    small = ad < delta
    return np.where(small, 0.5 * d * d, delta * (ad - 0.5 * delta)), np.where(small, d, delta * np.sign(d))


def _bce(x, y, _):
    """-(y log x + (1-y) log(1-x)) with each log clamped at -100; d/dx = (x-y) / max(x(1-x), 1e-12)."""
    with np.errstate(divide="ignore"):
        lx, l1x = np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)
    loss = -(y * lx + (1 - y) * l1x)
    dx = (x - y) / np.maximum(x * (1 - x), 1e-12)
    return loss, dx, l1x - lx


def _bce_logits(x, y, pos_weight):
    """(1-y) x + c softplus(-x), c = 1 + (pw-1) y; d/dx = (1-y) - c sigmoid(-x)."""
    sp = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)           # softplus(-x), stable
    sig_neg = np.exp(-(sp + x))                                     # sigmoid(-x) = exp(-softplus(x))
    if pos_weight is None:
        return (1 - y) * x + sp, (1 - y) - sig_neg, -x
    c = 1 + (pos_weight - 1) * y
    return (1 - y) * x + c * sp, (1 - y) - c * sig_neg, -x + (pos_weight - 1) * sp


class ElementwiseLoss(Function):
    """reduce(w * l(x, y)) for an element-wise l; the forward forms dl/dx (and dl/dy when the
    target needs a gradient: -dl/dx unless ``rule`` returns its own). Saved: w*dl/dx, w*dl/dy."""

    def forward(self, x, y, rule, param, weight, reduction):
        self.reduction, self.denom = reduction, x.size
        out = rule(x, y, param)
        loss, dx = out[0], out[1]
        if weight is not None:
            loss, dx = loss * weight, dx * weight
        needs = getattr(self, "needs", None)
        if needs is not None:              # recording: keep the derivatives for backward
            dy = None
            if needs[1]:
                dy = -dx if len(out) == 2 else (out[2] * weight if weight is not None else out[2])
            self.save(dx.astype(x.dtype, copy=False), None if dy is None else dy.astype(x.dtype, copy=False))
        return _reduce(loss, reduction, x.size, x.shape, x.dtype)

    def backward(self, g):
        dx, dy = self.saved
        c = _scale(g, self.reduction, self.denom)
        if self.reduction == "none":
            c = c.reshape(dx.shape)
        return (dx * c if self.needs[0] else None), (dy * c if dy is not None else None)


def _check_broadcasts(arr, shape, fname, name):
    """A weight must broadcast to the input's shape without enlarging it."""
    try:
        ok = np.broadcast_shapes(arr.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{fname}: {name} of shape {arr.shape} does not broadcast to the input's shape {shape}")


def _elementwise(fname, input, target, reduction, rule, param=None, weight=None):
    input = float_tensor(input, fname, "input")
    check_reduction(reduction, fname)
    if isinstance(target, Tensor):
        target = float_tensor(target, fname, "target")
        if target.dtype != input.dtype:
            raise TypeError(f"{fname}: input is {input.dtype} but target is {target.dtype}; convert one of them "
                            "(minigrad does not promote silently)")
    else:
        if target is None or isinstance(target, (str, bytes)):
            raise TypeError(f"{fname}: target must be a tensor or an array, got {type(target).__name__}")
        target = Tensor(const_array(target, fname, "target", input.dtype), dtype=input.dtype)
    same_shape(input, target, fname)
    if weight is not None:
        weight = const_array(weight, fname, "weight", input.dtype)
        _check_broadcasts(weight, input.shape, fname, "weight")
    return ElementwiseLoss.apply(input, target, rule=rule, param=param, weight=weight, reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error; ``input`` and ``target`` must have the same shape (no broadcasting)."""
    return _elementwise("mse_loss", input, target, reduction, _mse)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error |input - target| (gradient sign(input - target), 0 at equality)."""
    return _elementwise("l1_loss", input, target, reduction, _l1)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target; beta=0 is L1)."""
    beta = check_real(beta, "smooth_l1_loss", "beta", 0.0)
    return _elementwise("smooth_l1_loss", input, target, reduction, _smooth_l1, beta)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target; delta > 0)."""
    delta = check_real(delta, "huber_loss", "delta", 0.0, lo_open=True)
    return _elementwise("huber_loss", input, target, reduction, _huber, delta)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (y log x + (1-y) log(1-x)) for probabilities x in [0, 1] (logs clamped at -100 as PyTorch).

    Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it is stable for any logit.
    """
    fname = "binary_cross_entropy"
    x = float_tensor(input, fname, "input")
    if x.size and not ((x.data >= 0) & (x.data <= 1)).all():
        bad = x.data[~((x.data >= 0) & (x.data <= 1))].flat[0]
        raise ValueError(f"{fname}: every input must be a probability in [0, 1], found {bad} "
                         "(use binary_cross_entropy_with_logits on raw scores)")
    return _elementwise(fname, x, target, reduction, _bce, weight=weight)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable formula (no overflow for any logit).

    ``pos_weight`` (broadcast along the last axis, e.g. one per class) weights the positive term:
    loss = -w [pw y log sigma(x) + (1-y) log(1 - sigma(x))].
    """
    fname = "binary_cross_entropy_with_logits"
    x = float_tensor(input, fname, "input")
    pw = None
    if pos_weight is not None:
        pw = const_array(pos_weight, fname, "pos_weight", x.dtype)
        _check_broadcasts(pw, x.shape, fname, "pos_weight")
    return _elementwise(fname, x, target, reduction, _bce_logits, pw, weight)
