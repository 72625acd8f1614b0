"""The fused Linear -> cross-entropy of language-model decoders: ``F.linear_cross_entropy``.

    loss = F.linear_cross_entropy(h, decoder.weight, target, linear_bias=decoder.bias)
    # == F.cross_entropy(F.linear(h, decoder.weight, decoder.bias), target), in less memory

Name and signature are PyTorch 2.13's ``torch.nn.functional.linear_cross_entropy(input,
linear_weight, target, *, linear_bias=None, weight=None, reduction='mean', ignore_index=None,
label_smoothing=0.0)``: ``weight`` keeps its cross_entropy meaning (class weights), so the
projection's parameters are ``linear_weight`` / ``linear_bias``; ``ignore_index=None`` means -100.
PyTorch's ``options`` (its chunking strategy) has no counterpart: minigrad has one strategy.

Shape legend: N rows (time steps * batch), H in_features (the hidden size), V classes (the
vocabulary). input (N, H) or (H,), linear_weight (V, H), linear_bias (V,), target (N,) or ().

Memory -- the point of fusing. Linear followed by cross_entropy keeps two (N, V) arrays alive
from the forward to the backward (the logits, held by the tape as cross_entropy's input, and the
probabilities cross_entropy saves) and creates a third in the backward (d logits). Here the
logits are computed into one (N, V) buffer, which the C kernel overwrites in place with the
probabilities (minigrad.kernels.cross_entropy_forward with ``p`` = the logits), and which the
backward overwrites in place again with d logits = scale * (p - onehot) (smoothing and class
weights included; kernels.cross_entropy_backward with dx=p) before the two GEMMs
d input = d logits @ W and d W += d logits^T @ input. One (N, V) array in all, plus (N, H) and
(V, H) ones. Because the backward consumes the probabilities, a second backward through the
same graph (``retain_graph=True``) first recomputes them from the saved input and weights
(bitwise the same: every kernel is deterministic).
"""
import numpy as np

from .. import kernels as K
from ..tensor import Function
from .argcheck import check_int, check_reduction, float_tensor
from .loss_ops import (_ce_coefficients, _class_targets, _class_weight, _reduce, _row_weights,
                       _smoothing)

__all__ = ["linear_cross_entropy"]


class LinearCrossEntropy(Function):
    """loss = reduce(cross_entropy(x @ W^T + b, t)) for x (N, H), W (V, H), b (V,).
    Saved: x, W, b, the (N, V) probabilities (consumed by the backward), targets t (N,), the
    per-row weights wt (N,), the not-ignored mask (N,) and the class weights (V,) or None."""

    def forward(self, x, w, b=None, *, target, weight, ignore_index, reduction, label_smoothing, out_shape):
        self.eps, self.reduction, self.ignore_index = label_smoothing, reduction, ignore_index
        loss, p = self._probabilities(x, w, b, target, weight)
        valid = target != ignore_index
        wt = _row_weights(target, valid, weight, x.dtype)
        self.denom = wt.sum(dtype=np.float64)
        self.fresh = True                       # p still holds probabilities (not yet consumed)
        self.save(x, w, b, p, target, wt, valid, weight)
        return _reduce(loss, reduction, self.denom, out_shape, x.dtype)

    def _probabilities(self, x, w, b, target, weight):
        """logits (N, V) = x W^T + b, overwritten in place by p = softmax(logits).
        Returns (the per-row losses (N,), p)."""
        logits = K.gemm(x, w, trans_b=True)
        if b is not None:
            logits += b
        return K.cross_entropy_forward(logits, target, weight, self.ignore_index, self.eps, p=logits)

    def backward(self, g):
        x, w, b, p, t, wt, valid, weight = self.saved
        if not self.fresh:                      # a second backward (retain_graph): recompute
            p = self._probabilities(x, w, b, t, weight)[1]
        self.fresh = False
        a, bs = _ce_coefficients(g, self.reduction, self.denom, wt, valid, self.eps, w.shape[0], p.dtype)
        d = K.cross_entropy_backward(p, t, a, bs, weight, self.ignore_index, dx=p)     # (N, V), over p
        dx = K.gemm(d, w) if self.needs[0] else None                                  # (N, H)
        if self.needs[1]:
            K.gemm(d, x, trans_a=True, beta=1.0, out=self.grad_buffer(1))              # dW += d^T x
        db = d.sum(axis=0) if len(self.needs) > 2 and self.needs[2] else None
        return dx, None, db


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, weight, ...)`` fused so
    that only one (N, V) array is ever alive (see the module docstring); PyTorch's signature.

    ``input`` (N, H) or unbatched (H,); ``linear_weight`` (V, H); ``linear_bias`` (V,) or None;
    ``target`` int class indices (N,) or (); ``weight`` (V,) class weights; ``ignore_index``
    (None means -100), ``reduction`` and ``label_smoothing`` as :func:`cross_entropy`.
    Class-probability targets are not supported here (use cross_entropy on linear's output).
    """
    fname = "linear_cross_entropy"
    x = float_tensor(input, fname, "input")
    w = float_tensor(linear_weight, fname, "linear_weight")
    b = None if linear_bias is None else float_tensor(linear_bias, fname, "linear_bias")
    if w.ndim != 2:
        raise ValueError(f"{fname}: linear_weight must have shape (classes, in_features), got {w.shape}")
    V, H = w.shape
    if x.ndim not in (1, 2) or x.shape[-1] != H:
        raise ValueError(f"{fname}: input must have shape (N, {H}) or ({H},) for a linear_weight of "
                         f"shape {w.shape}, got {x.shape}")
    if b is not None and b.shape != (V,):
        raise ValueError(f"{fname}: linear_bias must have shape ({V},) for a linear_weight of shape "
                         f"{w.shape}, got {b.shape}")
    for name, t in (("linear_weight", w), ("linear_bias", b)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{fname}: input is {x.dtype} but {name} is {t.dtype} (shape {t.shape}); "
                            "minigrad does not promote silently")
    check_reduction(reduction, fname)
    eps = _smoothing(label_smoothing, fname)
    ignore_index = -100 if ignore_index is None else check_int(ignore_index, fname, "ignore_index")
    tdt = getattr(target, "dtype", None) or np.asarray(target).dtype
    if np.dtype(tdt).kind == "f":
        raise TypeError(f"{fname}: target must hold integer class indices, got dtype {tdt}; for "
                        "class probabilities use cross_entropy(linear(input, linear_weight), target)")
    logits_shape = (V,) if x.ndim == 1 else (x.shape[0], V)
    t = _class_targets(logits_shape, target, ignore_index, fname, "the logits")
    cw = _class_weight(weight, logits_shape, x.dtype, fname)
    x2 = x.reshape(1, H) if x.ndim == 1 else x
    operands = (x2, w) if b is None else (x2, w, b)
    return LinearCrossEntropy.apply(*operands, target=t.reshape(-1), weight=cw, ignore_index=ignore_index,
                                    reduction=reduction, label_smoothing=eps, out_shape=t.shape)
