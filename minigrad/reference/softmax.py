"""Readable references: softmax, log_softmax and cross-entropy in plain NumPy, forward and backward.

These were minigrad's implementations before the C kernels of csrc/softmax.c replaced them; they
stay as the independent reference those kernels are tested against (tests/test_softmax_kernels.py)
and as "the old NumPy path" of bench/bench_softmax.py. Same contracts as minigrad.kernels.softmax:

    softmax(x, axis)                 y = exp(x - max) / sum(exp(x - max))
    softmax_backward(g, y, axis)     dx = y * (g - sum(g * y))
    log_softmax(x, axis)             y = (x - max) - log(sum(exp(x - max)))
    log_softmax_backward(g, y, axis) dx = g - exp(y) * sum(g)
    cross_entropy(x, t, weight, ignore_index, eps)      -> (loss (M,), p (M, C)), x (M, C)
    cross_entropy_backward(p, t, a, b, weight, ignore_index)
                                     dx = p (a + b W) - a onehot(t) - b w, ignored rows 0

Shape legend: M rows, C classes. Every softmax subtracts the maximum first, so |x| = 1e4 is fine.
"""
import numpy as np


def shifted(x, axis):
    """A new array ``x - max(x)`` along ``axis`` (the shift that keeps exp() from overflowing)."""
    return x - x.max(axis=axis, keepdims=True) if x.size else x.copy()


def softmax(x, axis=-1):
    y = shifted(x, axis)
    if y.size:
        np.exp(y, out=y)
        y /= y.sum(axis=axis, keepdims=True)
    return y


def softmax_backward(g, y, axis=-1):
    gy = g * y
    gy -= y * gy.sum(axis=axis, keepdims=True)
    return gy


def log_softmax(x, axis=-1):
    y = shifted(x, axis)
    if y.size:
        y -= np.log(np.exp(y).sum(axis=axis, keepdims=True))
    return y


def log_softmax_backward(g, y, axis=-1):
    return g - np.exp(y) * g.sum(axis=axis, keepdims=True)


def cross_entropy(x, t, weight=None, ignore_index=-100, eps=0.0):
    """Unreduced loss of each row of logits x (M, C) at class indices t (M,) and the
    probabilities p (M, C): loss_i = (1-eps) w[t_i] (lse_i - x_i,t_i) + eps/C sum_c w_c (lse_i - x_ic),
    0 where t_i == ignore_index."""
    M, C = x.shape
    valid = t != ignore_index
    t = np.where(valid, t, 0)                               # ignored rows pick class 0, then masked
    wt = valid.astype(x.dtype) if weight is None else np.where(valid, weight[t], 0).astype(x.dtype)
    z = shifted(x, 1)
    picked = z[np.arange(M), t]
    zw = (z.sum(axis=1) if weight is None else z @ weight) if eps else None
    np.exp(z, out=z)
    s = z.sum(axis=1)
    lse = np.log(s)
    loss = (lse - picked) * wt
    if eps:                        # sum_c w_c (lse - z_c) = W lse - sum_c w_c z_c
        W = C if weight is None else weight.sum()
        loss = (1.0 - eps) * loss + (eps / C) * np.where(valid, W * lse - zw, 0)
    z /= s[:, None]
    return loss.astype(x.dtype, copy=False), z


def cross_entropy_backward(p, t, a, b=None, weight=None, ignore_index=-100):
    """dx (M, C) = p (a + b W) - a onehot(t) - b w on rows whose target is not ignored."""
    M, C = p.shape
    valid = t != ignore_index
    a = np.where(valid, a, 0)
    row = a if b is None else a + np.where(valid, b, 0) * (C if weight is None else weight.sum())
    dx = p * row[:, None]
    dx[~valid] = 0
    dx[np.arange(M)[valid], t[valid]] -= a[valid]
    if b is not None:
        bv = np.where(valid, b, 0)[:, None]
        dx -= bv if weight is None else bv * weight[None, :]
    return dx
