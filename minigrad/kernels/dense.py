"""Bindings of the dense kernels: GEMM (csrc/gemm.c) and elementwise activations
(csrc/activations.c). The fused optimizer updates (csrc/optim.c) are in optim.py."""
import numpy as np

from .common import (_check_ndarray, cfunc, check_flag, check_float_array, check_no_overlap,
                     check_out, check_real, contiguous, describe, ffi, lib, ptr)


# ----------------------------------------------------------------------------- GEMM
# The recurrent layers issue many small GEMMs per time step, so the per-call cost of this wrapper
# matters (a 4x4 call should cost a few microseconds, like numpy.matmul). The checks are the same
# as everywhere else; only their form is tuned: exact-type tests before attribute lookups, the
# C entry points and dtype flags looked up once (below), and arrays handed to C with one
# ffi.from_buffer each through the untyped mg_gemm_any (no typed cast per operand).
# Operands are never copied when C-contiguous, and not when F-contiguous either: an F-contiguous
# matrix is the transpose of a C-contiguous one, so its .T is passed with the transpose flag
# flipped (a transposed view like ``x.T`` costs nothing). Other layouts are copied.
_IS_F64 = {np.dtype(np.float32): 0, np.dtype(np.float64): 1}
_ndarray = np.ndarray
_from_buffer = ffi.from_buffer
_gemm_any = lib.mg_gemm_any
_gemm_batched_any = lib.mg_gemm_batched_any
_GEMM_REF = {np.dtype(np.float32): lib.mg_gemm_ref_f32, np.dtype(np.float64): lib.mg_gemm_ref_f64}


def _gemm_operand(x, name, dtype, trans, ndim, fn):
    """Check one GEMM operand, without copying; return ``(array, trans)``.

    ``dtype`` None: x must be float32/float64; else exactly ``dtype``. A 2-D F-contiguous ``x``
    comes back as ``x.T`` with ``trans`` flipped (a free view); other non-C-contiguous layouts
    come back as they are, for ``contiguous`` to copy once every check of the call has passed.
    ``ndim`` is an int or a tuple of allowed ranks; ``fn`` names the caller in messages.
    """
    if type(x) is not np.ndarray:
        _check_ndarray(x, f"{fn}: {name}")
    xd = x.dtype
    if dtype is None:
        if xd not in _IS_F64:
            raise TypeError(f"{fn}: {name} must be float32 or float64, got {describe(x)}")
    elif xd != dtype:
        raise TypeError(f"{fn}: {name} has dtype {xd} (shape {x.shape}) but the other operand is "
                        f"{dtype}; mixed dtypes are not supported")
    if x.ndim != ndim and (type(ndim) is int or x.ndim not in ndim):
        raise ValueError(f"{fn}: {name} must be {ndim if type(ndim) is int else ' or '.join(map(str, ndim))}-D, "
                         f"got shape {x.shape}")
    flags = x.flags
    if x.ndim == 2 and not flags.c_contiguous and flags.f_contiguous:
        return x.T, not trans
    return x, trans


def _gemm_out(out, shape, dtype, fn, a, b):
    """Validate a caller's ``out``: shape, dtype, writeable, C-contiguous, no overlap with a, b."""
    check_out(out, shape, dtype, f"{fn}: out")
    if (out.base is None and a.base is None and b.base is None and out is not a and out is not b
            and out.flags.owndata and a.flags.owndata and b.flags.owndata):
        return out      # three arrays each owning its memory: disjoint (the per-call fast path)
    check_no_overlap([("out", out)], [("a", a), ("b", b)], where=fn)
    return out


def gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None, reference=False):
    """``out = alpha * op(a) @ op(b) + beta * out`` with op = transpose when the flag is set.

    ``a`` and ``b`` are 2-D float arrays of one dtype; ``out`` (required when ``beta != 0``)
    receives the result in place and must not overlap ``a`` or ``b`` at all (no in-place use).
    ``alpha`` and ``beta`` are finite real numbers. Zero-size dimensions work (K = 0 gives
    ``beta * out``). The transposes are read by the kernel with strides, never copied;
    transposed views (``x.T``) are not copied either; other layouts are copied once every check
    has passed. ``beta == 0`` overwrites ``out`` (NaNs in it are ignored). ``reference=True``
    runs the naive reference kernel instead (tests only).
    """
    ta, tb = check_flag(trans_a, "gemm: trans_a"), check_flag(trans_b, "gemm: trans_b")
    if (type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2
            and a.flags.carray and b.flags.carray):   # carray: C-contiguous, aligned, writeable
        # fast path (the common case): exact C-contiguous 2-D ndarrays, checked here inline
        dt = a.dtype
        if dt not in _IS_F64 or b.dtype != dt:
            _gemm_operand(a, "a", None, False, 2, "gemm")   # raises the precise error
            _gemm_operand(b, "b", dt, False, 2, "gemm")
        a2, b2 = a, b
    else:
        a2, ta = _gemm_operand(a, "a", None, ta, 2, "gemm")
        dt = a2.dtype
        b2, tb = _gemm_operand(b, "b", dt, tb, 2, "gemm")
    m, k = (a2.shape[1], a2.shape[0]) if ta else a2.shape
    k2, n = (b2.shape[1], b2.shape[0]) if tb else b2.shape
    if k != k2:
        raise ValueError(
            f"gemm: inner dimensions differ: op(a) is {(m, k)} (a {a.shape}, trans_a={bool(trans_a)}), "
            f"op(b) is {(k2, n)} (b {b.shape}, trans_b={bool(trans_b)})")
    alpha, beta = check_real(alpha, "gemm: alpha"), check_real(beta, "gemm: beta")
    if out is None:
        if beta != 0:
            raise ValueError(f"gemm: beta != 0 needs an `out` array of shape {(m, n)} to accumulate into")
        out = np.empty((m, n), dtype=dt)
    else:
        _gemm_out(out, (m, n), dt, "gemm", a, b)
    a2, b2 = contiguous(a2), contiguous(b2)     # every check passed: copy odd layouts now
    if check_flag(reference, "gemm: reference"):
        _GEMM_REF[dt](ptr(out), ptr(a2), ptr(b2), m, n, k, n, a2.shape[1], b2.shape[1],
                      int(ta), int(tb), alpha, beta)
        return out
    _gemm_any(_IS_F64[dt], _from_buffer(out), _from_buffer(a2), _from_buffer(b2), m, n, k, n,
              a2.shape[1], b2.shape[1], ta, tb, alpha, beta)
    return out


def gemm_batched(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None):
    """Batched ``out[i] = alpha * op(a[i]) @ op(b[i]) + beta * out[i]``.

    ``a`` is (N, ., .); ``b`` is (N, ., .) or a 2-D matrix shared by every batch item. When ``b``
    is shared and ``a`` is not transposed, the whole batch is one (N*M, K) @ (K, P) GEMM.
    Checks, zero sizes and ``out`` (no overlap with ``a`` or ``b``) as in ``gemm``.
    """
    fn = "gemm_batched"
    a3, ta = _gemm_operand(a, "a", None, check_flag(trans_a, f"{fn}: trans_a"), 3, fn)
    dt = a3.dtype
    b3, tb = _gemm_operand(b, "b", dt, check_flag(trans_b, f"{fn}: trans_b"), (2, 3), fn)
    nb = a3.shape[0]
    if b3.ndim == 3 and b3.shape[0] != nb:
        raise ValueError(f"gemm_batched: batch sizes differ: a {a.shape}, b {b.shape}")
    m, k = (a3.shape[2], a3.shape[1]) if ta else a3.shape[1:]
    k2, n = (b3.shape[-1], b3.shape[-2]) if tb else b3.shape[-2:]
    if k != k2:
        raise ValueError(f"gemm_batched: inner dimensions differ: a {a.shape} (trans_a={bool(trans_a)}), "
                         f"b {b.shape} (trans_b={bool(trans_b)})")
    alpha, beta = check_real(alpha, f"{fn}: alpha"), check_real(beta, f"{fn}: beta")
    if out is None:
        if beta != 0:
            raise ValueError(f"gemm_batched: beta != 0 needs an `out` array of shape {(nb, m, n)} "
                             "to accumulate into")
        out = np.empty((nb, m, n), dtype=dt)
    else:
        _gemm_out(out, (nb, m, n), dt, fn, a, b)
    a3, b3 = contiguous(a3), contiguous(b3)
    if b3.ndim == 2 and not ta:   # one big GEMM over all rows of all batch items
        _gemm_any(_IS_F64[dt], _from_buffer(out), _from_buffer(a3), _from_buffer(b3), nb * m, n,
                  k, n, a3.shape[2], b3.shape[1], False, tb, alpha, beta)
        return out
    sb = 0 if b3.ndim == 2 else b3.shape[1] * b3.shape[2]
    _gemm_batched_any(_IS_F64[dt], _from_buffer(out), _from_buffer(a3), _from_buffer(b3), nb, m,
                      n, k, n, a3.shape[2], b3.shape[-1], m * n, a3.shape[1] * a3.shape[2], sb,
                      ta, tb, alpha, beta)
    return out


# ----------------------------------------------------------------------------- activations
# Elementwise tanh / sigmoid / exp (csrc/activations.c). Any shape: the kernel sees the flat
# C-contiguous array. Backward takes the forward OUTPUT y (both derivatives are functions of it)
# and accumulates into dx, like every gradient kernel of the C core.
def _act_forward(stem, x, out, fname):
    check_float_array(x, f"{fname}: x")
    if out is not None:       # in place (out is x) is safe: element i is read before it is written
        check_out(out, x.shape, x.dtype, f"{fname}: out")
        check_no_overlap([("out", out)], [("x", x)], inplace=[("out", "x")], where=fname)
    x = contiguous(x)
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype)
    cfunc(stem, x.dtype)(ptr(out), ptr(x), x.size)
    return out


def _act_backward(stem, dy, y, dx, fname):
    check_float_array(dy, f"{fname}: dy")
    check_float_array(y, f"{fname}: y", dy.dtype, "dy")
    if y.shape != dy.shape:
        raise ValueError(f"{fname}: dy has shape {dy.shape} but y has shape {y.shape}")
    if dx is not None:        # dx is added into: it may not share memory with dy or y
        check_out(dx, dy.shape, dy.dtype, f"{fname}: dx")
        check_no_overlap([("dx", dx)], [("dy", dy), ("y", y)], where=fname)
    dy, y = contiguous(dy), contiguous(y)
    if dx is None:
        dx = np.zeros(dy.shape, dtype=dy.dtype)
    cfunc(stem, dy.dtype)(ptr(dx), ptr(dy), ptr(y), dy.size)
    return dx


def tanh_forward(x, out=None):
    """``tanh(x)`` elementwise, a few ulp from the correctly rounded value. ``out`` (same shape
    and dtype as ``x``) receives the result if given; it may be ``x`` itself (in place: the
    kernel reads each element before writing it) but must not overlap ``x`` otherwise.
    The same holds for every ``*_forward(x, out)`` here; the ``*_backward(dy, y, dx)`` kernels
    add into ``dx``, which must not overlap ``dy`` or ``y`` at all."""
    return _act_forward("tanh_forward", x, out, "tanh_forward")


def tanh_backward(dy, y, dx=None):
    """``dx += dy * (1 - y**2)`` with ``y = tanh(x)``; returns ``dx`` (fresh zeros if not given)."""
    return _act_backward("tanh_backward", dy, y, dx, "tanh_backward")


def sigmoid_forward(x, out=None):
    """``1 / (1 + exp(-x))`` elementwise, computed without overflow for any ``x``."""
    return _act_forward("sigmoid_forward", x, out, "sigmoid_forward")


def sigmoid_backward(dy, y, dx=None):
    """``dx += dy * y * (1 - y)`` with ``y = sigmoid(x)``; returns ``dx`` (fresh zeros if none)."""
    return _act_backward("sigmoid_backward", dy, y, dx, "sigmoid_backward")


def exp_forward(x, out=None):
    """``exp(x)`` elementwise (the same MG_EXP the recurrent cells use; inf above the range)."""
    return _act_forward("exp_forward", x, out, "exp_forward")


def exp_backward(dy, y, dx=None):
    """``dx += dy * y`` with ``y = exp(x)``; returns ``dx`` (fresh zeros if not given)."""
    return _act_backward("exp_backward", dy, y, dx, "exp_backward")


def tanh_reference(x):
    """Naive libm tanh (evaluated in double), for tests."""
    return _act_forward("tanh_ref", x, None, "tanh_reference")


def sigmoid_reference(x):
    """Naive libm sigmoid (evaluated in double, stable two-sided form), for tests."""
    return _act_forward("sigmoid_ref", x, None, "sigmoid_reference")


def exp_reference(x):
    """Naive libm exp (evaluated in double), for tests."""
    return _act_forward("exp_ref", x, None, "exp_reference")
