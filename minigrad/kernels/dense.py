"""Bindings of the dense kernels: GEMM (csrc/gemm.c), elementwise activations
(csrc/activations.c) and the fused optimizer update (csrc/optim.c)."""
import numpy as np

from .common import _FLOATS, as_float_array, cfunc, check_out, ffi, lib, ptr


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
    """Check one GEMM operand; return ``(array, trans)`` with ``array`` C-contiguous.

    ``dtype`` None: x must be float32/float64; else exactly ``dtype``. A 2-D F-contiguous ``x``
    comes back as ``x.T`` with ``trans`` flipped (no copy); other non-C-contiguous layouts are
    copied. ``ndim`` is an int or a tuple of allowed ranks; ``fn`` names the caller in messages.
    """
    if type(x) is not np.ndarray and not isinstance(x, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    xd = x.dtype
    if dtype is None:
        if xd not in _IS_F64:
            raise TypeError(f"{fn}: {name} must be float32 or float64, got {xd} (shape {x.shape})")
    elif xd != dtype:
        raise TypeError(f"{fn}: {name} has dtype {xd} (shape {x.shape}) but the other operand is "
                        f"{dtype}; mixed dtypes are not supported")
    if x.ndim != ndim and (type(ndim) is int or x.ndim not in ndim):
        raise ValueError(f"{fn}: {name} must be {ndim if type(ndim) is int else ' or '.join(map(str, ndim))}-D, "
                         f"got shape {x.shape}")
    flags = x.flags
    if flags.c_contiguous:
        return x, trans
    if x.ndim == 2 and flags.f_contiguous:
        return x.T, not trans
    return np.ascontiguousarray(x), trans


def _check_gemm_out(out, shape, dtype, fn, a, b):
    check_out(out, shape, dtype)
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        raise ValueError(f"{fn}: out {out.shape} overlaps an input (a {a.shape}, b {b.shape})")


def gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None, reference=False):
    """``out = alpha * op(a) @ op(b) + beta * out`` with op = transpose when the flag is set.

    ``a`` and ``b`` are 2-D float arrays of one dtype; ``out`` (required when ``beta != 0``)
    receives the result in place and must not overlap ``a`` or ``b``. The transposes are read by
    the kernel with strides, never copied; transposed views (``x.T``) are not copied either.
    ``beta == 0`` overwrites ``out`` (NaNs in it are ignored). ``reference=True`` runs the naive
    reference kernel instead (tests only).
    """
    if (type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2
            and a.flags.c_contiguous and b.flags.c_contiguous):
        # fast path (the common case): exact C-contiguous 2-D ndarrays, checked here inline
        dt = a.dtype
        if dt not in _IS_F64 or b.dtype != dt:
            _gemm_operand(a, "a", None, False, 2, "gemm")   # raises the precise error
            _gemm_operand(b, "b", dt, False, 2, "gemm")
        a2, b2, ta, tb = a, b, bool(trans_a), bool(trans_b)
    else:
        a2, ta = _gemm_operand(a, "a", None, bool(trans_a), 2, "gemm")
        dt = a2.dtype
        b2, tb = _gemm_operand(b, "b", dt, bool(trans_b), 2, "gemm")
    m, k = (a2.shape[1], a2.shape[0]) if ta else a2.shape
    k2, n = (b2.shape[1], b2.shape[0]) if tb else b2.shape
    if k != k2:
        raise ValueError(
            f"gemm: inner dimensions differ: op(a) is {(m, k)} (a {a.shape}, trans_a={bool(trans_a)}), "
            f"op(b) is {(k2, n)} (b {b.shape}, trans_b={bool(trans_b)})")
    alpha = float(alpha)
    beta = float(beta)
    if out is None:
        if beta != 0:
            raise ValueError(f"gemm: beta != 0 needs an `out` array of shape {(m, n)} to accumulate into")
        out = np.empty((m, n), dtype=dt)
    else:
        _check_gemm_out(out, (m, n), dt, "gemm", a, b)
    if reference:
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
    """
    a3, ta = _gemm_operand(a, "a", None, bool(trans_a), 3, "gemm_batched")
    dt = a3.dtype
    b3, tb = _gemm_operand(b, "b", dt, bool(trans_b), (2, 3), "gemm_batched")
    nb = a3.shape[0]
    if b3.ndim == 3 and b3.shape[0] != nb:
        raise ValueError(f"gemm_batched: batch sizes differ: a {a.shape}, b {b.shape}")
    m, k = (a3.shape[2], a3.shape[1]) if ta else a3.shape[1:]
    k2, n = (b3.shape[-1], b3.shape[-2]) if tb else b3.shape[-2:]
    if k != k2:
        raise ValueError(f"gemm_batched: inner dimensions differ: a {a.shape} (trans_a={bool(trans_a)}), "
                         f"b {b.shape} (trans_b={bool(trans_b)})")
    alpha = float(alpha)
    beta = float(beta)
    if out is None:
        if beta != 0:
            raise ValueError(f"gemm_batched: beta != 0 needs an `out` array of shape {(nb, m, n)} "
                             "to accumulate into")
        out = np.empty((nb, m, n), dtype=dt)
    else:
        _check_gemm_out(out, (nb, m, n), dt, "gemm_batched", a, b)
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
def _act_flat(a, name, dtype=None):
    # as_float_array goes through np.ascontiguousarray, which turns a 0-d array into shape (1,);
    # reshape back (a free view) so scalars keep their shape.
    return as_float_array(a, name, dtype).reshape(a.shape)


def _act_forward(stem, x, out, fname):
    x = _act_flat(x, f"{fname}: x")
    if out is None:
        out = np.empty(x.shape, dtype=x.dtype)
    else:
        check_out(out, x.shape, x.dtype, f"{fname}: out")
    cfunc(stem, x.dtype)(ptr(out), ptr(x), x.size)
    return out


def _act_backward(stem, dy, y, dx, fname):
    dy = _act_flat(dy, f"{fname}: dy")
    y = _act_flat(y, f"{fname}: y", dy.dtype)
    if y.shape != dy.shape:
        raise ValueError(f"{fname}: dy has shape {dy.shape} but y has shape {y.shape}")
    if dx is None:
        dx = np.zeros(dy.shape, dtype=dy.dtype)
    else:
        check_out(dx, dy.shape, dy.dtype, f"{fname}: dx")
    cfunc(stem, dy.dtype)(ptr(dx), ptr(dy), ptr(y), dy.size)
    return dx


def tanh_forward(x, out=None):
    """``tanh(x)`` elementwise, a few ulp from the correctly rounded value. ``out`` (same shape
    and dtype as ``x``, may be ``x`` itself) receives the result if given."""
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


# ----------------------------------------------------------------------------- optimizers
def adam_update(w, m, v, g, vmax=None, *, c1, beta2, c2, step_size, bc2_sqrt, eps):
    """One fused Adam step over a parameter (csrc/optim.h), in place on ``w``, ``m``, ``v`` (and
    ``vmax`` for amsgrad): m += (g - m)*c1; v = v*beta2 + g*g*c2; w -= m / (sqrt(v)/bc2_sqrt + eps)
    * step_size. All arrays C-contiguous, one shape and dtype; the state arrays must not overlap.
    """
    where = "adam_update"
    arrays = [("w", w), ("m", m), ("v", v), ("g", g)] + ([("vmax", vmax)] if vmax is not None else [])
    for name, a in arrays:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{where}: {name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype not in _FLOATS or a.dtype != w.dtype:
            raise TypeError(f"{where}: {name} has dtype {a.dtype}; every array must have w's "
                            f"float32/float64 dtype ({w.dtype})")
        if a.shape != w.shape:
            raise ValueError(f"{where}: {name} has shape {a.shape}, w has {w.shape}")
        if not a.flags.c_contiguous or (name != "g" and not a.flags.writeable):
            raise ValueError(f"{where}: {name} must be a C-contiguous{'' if name == 'g' else ' writeable'} array")
    outs = [a for name, a in arrays if name != "g"]
    for i, a in enumerate(outs):
        for b in outs[i + 1:] + [g]:
            if np.may_share_memory(a, b):
                raise ValueError(f"{where}: w, m, v, vmax and g must be distinct arrays")
    cfunc("adam_update", w.dtype)(ptr(w), ptr(m), ptr(v), ptr(vmax) if vmax is not None else ffi.NULL,
                                  ptr(g), float(c1), float(beta2), float(c2), float(step_size),
                                  float(bc2_sqrt), float(eps), w.size)
