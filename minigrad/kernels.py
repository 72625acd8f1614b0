"""The binding: the one module that talks to the C core ``minigrad._C`` through cffi.

Everything above this file (tensors, ops, layers) hands NumPy arrays to the functions here.
This module owns every check the C code relies on -- dtype, ndim, shapes, C-contiguity -- and
raises a clear ``TypeError``/``ValueError`` before any C code runs, so a bad call can never
crash the interpreter. Arrays are passed to C without copying (``ffi.from_buffer``) when they are
already C-contiguous float32/float64; anything else (a transposed view, a slice with steps) is
copied to a contiguous array first and still gives the right answer.

Naming: ``X`` is a Python-facing function; the C symbol is ``mg_<op>_<forward|backward>_<f32|f64>``.
"""
import numpy as np

from . import _C

ffi, lib = _C.ffi, _C.lib

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_CTYPE = {np.dtype(np.float32): "float *", np.dtype(np.float64): "double *"}


# ----------------------------------------------------------------------------- checks
def as_float_array(x, name, dtype=None):
    """Return ``x`` as a C-contiguous float32/float64 ndarray (copying only when needed).

    ``x`` must already be an ndarray (lists are rejected: silent conversion hides bugs).
    If ``dtype`` is given the array must have it.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but {np.dtype(dtype)} was expected")
    return np.ascontiguousarray(x)


def check_out(out, shape, dtype, name="out"):
    """Validate a caller-supplied output buffer: exact shape, dtype, C-contiguous, writeable."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous array")
    return out


def ptr(a):
    """A typed C pointer to the (C-contiguous) array ``a``'s data; no copy.

    Read-only arrays are accepted: the C side takes them as ``const`` inputs.
    """
    return ffi.cast(_CTYPE[a.dtype], ffi.from_buffer(a, require_writable=False))


def cfunc(stem, dtype):
    """The C function ``mg_<stem>_<f32|f64>``."""
    return getattr(lib, f"mg_{stem}_{_SUFFIX[np.dtype(dtype)]}")


# ----------------------------------------------------------------------------- threads
def set_num_threads(n):
    """Set the number of threads the C core uses (results do not depend on it)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads expects an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads expects n >= 1, got {n}")
    lib.mg_set_num_threads(int(n))


def get_num_threads():
    """Number of threads the C core uses (default: all cores; 1 when built without OpenMP)."""
    return int(lib.mg_get_num_threads())


def has_openmp():
    return bool(lib.mg_has_openmp())


def cpu_has_avx2_fma():
    return bool(lib.mg_cpu_has_avx2_fma())


def set_simd(enabled):
    """Use the AVX2/FMA code paths when the CPU has them (True, default) or force generic C."""
    lib.mg_set_simd(1 if enabled else 0)


# ----------------------------------------------------------------------------- GEMM
def _matrix(x, name, dtype=None):
    x = as_float_array(x, name, dtype)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {x.shape}")
    return x


def gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None, reference=False):
    """``out = alpha * op(a) @ op(b) + beta * out`` with op = transpose when the flag is set.

    ``a`` and ``b`` are 2-D float arrays of one dtype; ``out`` (required when ``beta != 0``)
    receives the result in place. The transposes are read by the kernel with strides, never
    copied. ``reference=True`` runs the naive reference kernel instead (tests only).
    """
    a = _matrix(a, "a")
    b = _matrix(b, "b", a.dtype)
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    k2, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if k != k2:
        raise ValueError(
            f"gemm: inner dimensions differ: op(a) is {(m, k)} (a {a.shape}, trans_a={bool(trans_a)}), "
            f"op(b) is {(k2, n)} (b {b.shape}, trans_b={bool(trans_b)})")
    if out is None:
        if beta != 0:
            raise ValueError("gemm: beta != 0 needs an `out` array to accumulate into")
        out = np.empty((m, n), dtype=a.dtype)
    else:
        check_out(out, (m, n), a.dtype)
    fn = cfunc("gemm_ref" if reference else "gemm", a.dtype)
    fn(ptr(out), ptr(a), ptr(b), m, n, k, n, a.shape[1], b.shape[1],
       int(bool(trans_a)), int(bool(trans_b)), float(alpha), float(beta))
    return out


def gemm_batched(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, out=None):
    """Batched ``out[i] = alpha * op(a[i]) @ op(b[i]) + beta * out[i]``.

    ``a`` is (N, ., .); ``b`` is (N, ., .) or a 2-D matrix shared by every batch item. When ``b``
    is shared and ``a`` is not transposed, the whole batch is one (N*M, K) @ (K, P) GEMM.
    """
    a = as_float_array(a, "a")
    b = as_float_array(b, "b", a.dtype)
    if a.ndim != 3 or b.ndim not in (2, 3):
        raise ValueError(f"gemm_batched expects a 3-D `a` and a 2-D or 3-D `b`, got {a.shape} and {b.shape}")
    nb = a.shape[0]
    if b.ndim == 3 and b.shape[0] != nb:
        raise ValueError(f"gemm_batched: batch sizes differ: a {a.shape}, b {b.shape}")
    m, k = (a.shape[2], a.shape[1]) if trans_a else a.shape[1:]
    k2, n = (b.shape[-1], b.shape[-2]) if trans_b else b.shape[-2:]
    if k != k2:
        raise ValueError(f"gemm_batched: inner dimensions differ: a {a.shape} (trans_a={bool(trans_a)}), "
                         f"b {b.shape} (trans_b={bool(trans_b)})")
    if out is None:
        if beta != 0:
            raise ValueError("gemm_batched: beta != 0 needs an `out` array to accumulate into")
        out = np.empty((nb, m, n), dtype=a.dtype)
    else:
        check_out(out, (nb, m, n), a.dtype)
    if b.ndim == 2 and not trans_a:   # one big GEMM over all rows of all batch items
        gemm(a.reshape(nb * m, k), b, False, trans_b, alpha, beta, out.reshape(nb * m, n))
        return out
    sb = 0 if b.ndim == 2 else b.shape[1] * b.shape[2]
    cfunc("gemm_batched", a.dtype)(
        ptr(out), ptr(a), ptr(b), nb, m, n, k, n, a.shape[2], b.shape[-1],
        m * n, a.shape[1] * a.shape[2], sb, int(bool(trans_a)), int(bool(trans_b)),
        float(alpha), float(beta))
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
