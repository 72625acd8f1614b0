"""Bindings of the row-wise softmax, log_softmax and cross-entropy kernels (csrc/softmax.h).

Shape legend: N rows, V entries a row (classes), I the entries after the softmax axis. softmax and
log_softmax take an array of any shape and an ``axis`` (seen as (N, V, I), read in place); the
cross-entropy arrays are (N, V) with the class axis last (loss_ops moves it there); ``target`` is
(N,) int64, ``loss``, ``a`` and ``b`` are (N,). As everywhere in this package, every check runs before any C code and
before any copy; forward outputs may be the input itself (in place). The backward kernels ADD
into a ``dx`` the caller passes (which must overlap nothing), and write a new array when none is
passed (no zero-filled buffer to read first); the cross-entropy backward may also write the
gradient over its ``p`` (``dx=p``).
"""
import numpy as np

from .common import (_check_ndarray, cfunc, check_arrays, check_float_array, check_int,
                     check_no_overlap, check_out, check_real, contiguous, describe, ffi, ptr)

_NULL = ffi.NULL


def _int64_ptr(t):
    return ffi.cast("int64_t *", ffi.from_buffer(t, require_writable=False))


def _check_target(target, n, v, ignore_index, where):
    """``target`` (n,) int64 with every entry in [0, v) or equal to ``ignore_index``; returned
    C-contiguous (copied only when it is not)."""
    _check_ndarray(target, f"{where}: target")
    if target.dtype != np.int64:
        raise TypeError(f"{where}: target must be int64 class indices, got {describe(target)}")
    if target.shape != (n,):
        raise ValueError(f"{where}: target has shape {target.shape}, expected ({n},) (one class "
                         "index a row)")
    bad = (target != ignore_index) & ((target < 0) | (target >= v))
    if bad.any():
        raise IndexError(f"{where}: target contains class {int(target[bad][0])} outside [0, {v}) "
                         f"(ignore_index={ignore_index})")
    return contiguous(target)


def _axis_dims(shape, axis, where):
    """(N, V, I) of an array of ``shape`` seen as x[N, V, I] with V the softmax ``axis``."""
    if len(shape) == 0:
        raise ValueError(f"{where}: x must have at least one dimension, got a 0-d array")
    ax = check_int(axis, f"{where}: axis", lo=-len(shape), hi=len(shape) - 1) % len(shape)
    n = int(np.prod(shape[:ax], dtype=np.int64))
    return n, shape[ax], int(np.prod(shape[ax + 1:], dtype=np.int64))


def _rows(stem, x, out, axis, where, reference=False):
    """Forward of softmax / log_softmax along ``axis``: out from x (same shape); out may be x."""
    check_float_array(x, f"{where}: x")
    n, v, inner = _axis_dims(x.shape, axis, where)
    if out is not None:
        check_out(out, x.shape, x.dtype, f"{where}: out")
        check_no_overlap([("out", out)], [("x", x)], inplace=[("out", "x")], where=where)
    if reference and inner != 1:
        raise ValueError(f"{where}: the reference kernel works along the last axis only")
    x = contiguous(x)
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype)
    if reference:
        cfunc(stem + "_ref", x.dtype)(ptr(out), ptr(x), n, v)
    else:
        cfunc(stem + "_forward", x.dtype)(ptr(out), ptr(x), n, v, inner)
    return out


def _rows_backward(stem, dy, y, dx, axis, where):
    """Backward of softmax / log_softmax along ``axis``: dx += f(dy, y) into a given dx (which
    overlaps nothing), or a new dx = f(dy, y)."""
    check_float_array(dy, f"{where}: dy")
    check_float_array(y, f"{where}: y", dy.dtype, "dy")
    if y.shape != dy.shape:
        raise ValueError(f"{where}: dy has shape {dy.shape} but y has shape {y.shape}")
    n, v, inner = _axis_dims(dy.shape, axis, where)
    if dx is not None:
        check_out(dx, dy.shape, dy.dtype, f"{where}: dx")
        check_no_overlap([("dx", dx)], [("dy", dy), ("y", y)], where=where)
    dy, y = contiguous(dy), contiguous(y)
    accumulate = dx is not None
    if dx is None:
        dx = np.empty(dy.shape, dtype=dy.dtype)
    cfunc(stem + "_backward", dy.dtype)(ptr(dx), ptr(dy), ptr(y), int(accumulate), n, v, inner)
    return dx


def softmax_forward(x, out=None, axis=-1):
    """``out = exp(x - max) / sum(exp(x - max))`` along ``axis`` of ``x`` (any shape; a non-last
    axis is read with strides, not copied). ``out`` (same shape and dtype) may be ``x`` itself.
    Entries of -inf get 0; a row that is all -inf or holds a NaN or +inf is NaN (as PyTorch)."""
    return _rows("softmax", x, out, axis, "softmax_forward")


def softmax_backward(dy, y, dx=None, axis=-1):
    """``dx += y * (dy - sum(dy * y))`` along ``axis`` (``y`` the forward output); returns ``dx``
    (a new array holding the gradient when not given)."""
    return _rows_backward("softmax", dy, y, dx, axis, "softmax_backward")


def log_softmax_forward(x, out=None, axis=-1):
    """``out = x - max - log(sum(exp(x - max)))`` along ``axis`` (as softmax_forward)."""
    return _rows("log_softmax", x, out, axis, "log_softmax_forward")


def log_softmax_backward(dy, y, dx=None, axis=-1):
    """``dx += dy - exp(y) * sum(dy)`` along ``axis`` (``y`` the forward output); returns ``dx``
    (a new array holding the gradient when not given)."""
    return _rows_backward("log_softmax", dy, y, dx, axis, "log_softmax_backward")


def softmax_reference(x):
    """Naive libm softmax in double along the last axis (csrc/softmax_ref.c), for tests."""
    return _rows("softmax", x, None, -1, "softmax_reference", reference=True)


def log_softmax_reference(x):
    """Naive libm log_softmax in double along the last axis (csrc/softmax_ref.c), for tests."""
    return _rows("log_softmax", x, None, -1, "log_softmax_reference", reference=True)


def _ce_consts(weight, ignore_index, dtype, v, where):
    ignore_index = check_int(ignore_index, f"{where}: ignore_index", lo=-(1 << 63))
    if weight is None:
        return _NULL, ignore_index, None
    check_float_array(weight, f"{where}: weight", dtype, "x")
    if weight.shape != (v,):
        raise ValueError(f"{where}: weight has shape {weight.shape}, expected ({v},) (one a class)")
    weight = contiguous(weight)
    return ptr(weight), ignore_index, weight


def cross_entropy_forward(x, target, weight=None, ignore_index=-100, label_smoothing=0.0, p=None,
                          reference=False):
    """Per-row cross-entropy of logits ``x`` (N, V) at class indices ``target`` (N,) int64.

    Returns ``(loss, p)``: ``loss`` (N,) is the unreduced loss of each row (0 where ``target``
    is ``ignore_index``), with class weights ``weight`` (V,) and label smoothing in [0, 1] as
    ``torch.nn.functional.cross_entropy(..., reduction='none')``; ``p`` (N, V) the
    probabilities softmax(x), written into the ``p`` given (which may be ``x`` itself: the
    logits are then overwritten) or a new array. ``reference=True`` runs the naive kernel.
    """
    where = "cross_entropy_forward"
    (dims, dt) = check_arrays(where, [("x", x, "N V")], [("p", p, "N V")], inplace=[("p", "x")])
    n, v = x.shape
    if v == 0:
        raise ValueError(f"{where}: x of shape {x.shape} has no classes")
    eps = check_real(label_smoothing, f"{where}: label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {eps}")
    wptr, ignore_index, keep = _ce_consts(weight, ignore_index, dt, v, where)
    target = _check_target(target, n, v, ignore_index, where)
    x = contiguous(x)
    if p is None:
        p = np.empty(x.shape, dtype=dt)
    loss = np.empty(n, dtype=dt)
    stem = "cross_entropy_ref" if reference else "cross_entropy_forward"
    cfunc(stem, dt)(ptr(loss), ptr(p), ptr(x), _int64_ptr(target), wptr, ignore_index, eps, n, v)
    return loss, p


def cross_entropy_backward(p, target, a, b=None, weight=None, ignore_index=-100, dx=None):
    """``dx[i] += p[i] (a_i + b_i W) - a_i onehot(target_i) - b_i weight`` for the rows whose
    target is not ``ignore_index`` (W = sum(weight), V without weights; ``weight`` None means
    all ones). ``a`` (N,) scales ``p - onehot``, ``b`` (N,) the label-smoothing term (None: 0).
    ``dx`` (N, V) given: added into (it must overlap nothing) -- except ``dx=p``, which writes
    the gradient OVER the probabilities (ignored rows 0), for callers that need p no longer
    (the fused Linear -> cross-entropy). ``dx`` None: a new array holding the gradient."""
    where = "cross_entropy_backward"
    inplace = dx is p and dx is not None
    (dims, dt) = check_arrays(where, [("p", p, "N V"), ("a", a, "N"), ("b", b, "N", True)],
                              [("dx", dx, "N V")], inplace=[("dx", "p")] if inplace else ())
    n, v = p.shape
    wptr, ignore_index, keep = _ce_consts(weight, ignore_index, dt, v, where)
    target = _check_target(target, n, v, ignore_index, where)
    accumulate = dx is not None and not inplace
    p, a = (p if inplace else contiguous(p)), contiguous(a)
    b = None if b is None else contiguous(b)
    if dx is None:
        dx = np.empty(p.shape, dtype=dt)
    cfunc("cross_entropy_backward", dt)(ptr(dx), ptr(p), _int64_ptr(target), wptr, ptr(a),
                                        _NULL if b is None else ptr(b), ignore_index,
                                        int(accumulate), n, v)
    return dx
