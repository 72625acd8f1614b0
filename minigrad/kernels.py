"""The binding: the one module that talks to the C core ``minigrad._C`` through cffi.

Everything above this file (tensors, ops, layers) hands NumPy arrays to the functions here.
This module owns every check the C code relies on -- dtype, ndim, shapes, C-contiguity -- and
raises a clear ``TypeError``/``ValueError`` before any C code runs, so a bad call can never
crash the interpreter. Arrays are passed to C without copying (``ffi.from_buffer``) when they are
already C-contiguous float32/float64; anything else (a transposed view, a slice with steps) is
copied to a contiguous array first and still gives the right answer.

Naming: ``X`` is a Python-facing function; the C symbol is ``mg_<op>_<forward|backward>_<f32|f64>``.
"""
import os

import numpy as np

try:
    from . import _C
except ImportError as exc:  # pragma: no cover - depends on how minigrad was installed
    here = os.path.dirname(os.path.abspath(__file__))
    raise ImportError(
        f"minigrad's C extension (minigrad._C) was not found next to {here}. If this is the source "
        "tree, Python imported it instead of the installed package: run from another directory "
        "(pytest does; `python -m pytest` puts the current directory first), or install in "
        "editable mode with `pip install -e .`.") from exc

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


# ----------------------------------------------------------------------------- memory
# A training step allocates and frees the same buffers every step (the input projection, the
# gate caches, their gradients: megabytes each). glibc serves blocks above its mmap threshold
# with mmap and returns free heap memory above its trim threshold to the kernel; both start at
# 128 KiB and a heuristic raises them when large blocks are freed -- in some processes. When it
# does not (importing PyTorch first is enough), every step gives its buffers back to the kernel
# and faults them in again page by page: ~1,600 page faults adding ~4 ms to a 10 ms LSTM step
# (bench/README.md). Fixing the thresholds keeps freed buffers for the next step.
MMAP_THRESHOLD = 32 << 20   # blocks up to 32 MiB (glibc's maximum) come from the heap
TRIM_THRESHOLD = 64 << 20   # keep up to 64 MiB of free heap instead of returning it


def tune_malloc(enabled=True):
    """Fix glibc's malloc thresholds for training (done at import unless the environment sets
    ``MINIGRAD_MALLOC_TUNING=0``); ``enabled=False`` restores glibc's static defaults (128 KiB).

    Process-wide, like any malloc setting. Returns True if applied (False on a non-glibc system).
    """
    mmap_t, trim_t = (MMAP_THRESHOLD, TRIM_THRESHOLD) if enabled else (128 << 10, 128 << 10)
    return bool(lib.mg_tune_malloc(mmap_t, trim_t))


if os.environ.get("MINIGRAD_MALLOC_TUNING", "1").strip().lower() not in ("0", "false", "no", "off"):
    tune_malloc()


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


# ----------------------------------------------------------------------------- recurrent cells
# Fused RNN / LSTM / GRU kernels of csrc/rnn_cells.h (read its header comment for the maths and
# the variable-length rules). Legend: T time, B batch, H hidden, G gates (rnn 1, lstm 4, gru 3).
# The layer computes gx = X @ W_ih^T + biases for all steps as one GEMM; these kernels do the
# recurrent part. Step kernels: one time step, caches returned for backward; step backward
# WRITES the gate gradients and ACCUMULATES into dh_prev/dc_prev (zeros unless given). Sequence
# drivers: the whole time loop of one direction in C; they return the caches as a dict.
_CELL_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
# Per kind, the (T,B,.) caches the sequence forward returns: name -> width in units of H.
_SEQ_CACHE = {"rnn": (("hprev", 1), ("out", 1)),
              "lstm": (("hprev", 1), ("cprev", 1), ("gates", 4), ("tanh_c", 1)),
              "gru": (("hprev", 1), ("gates", 3), ("hn", 1))}


def _nullable(a):
    return ffi.NULL if a is None else ptr(a)


def _cell_rc(where, rc):
    """Raise if a C kernel reported -1 (scratch allocation failed); the naive reference step
    kernels return nothing (None)."""
    if rc is not None and rc != 0:
        raise MemoryError(f"{where}: could not allocate the kernel's scratch buffers")


def _relu_flag(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return int(nonlinearity == "relu")


def _cell_weight(where, kind, w_hh):
    """Validate w_hh (G*H, H); returns (w_hh, H)."""
    g = _CELL_GATES[kind]
    w = as_float_array(w_hh, f"{where}: w_hh")
    if w.ndim != 2 or w.shape[0] != g * w.shape[1]:
        raise ValueError(f"{where}: w_hh must have shape ({g}*H, H), got {w.shape}")
    return w, w.shape[1]


def _cell_arrays(where, dtype, items):
    """Validate (name, array, shape[, optional]) items: ndarray, `dtype`, exact shape.

    Returns the C-contiguous arrays (None for an omitted optional one).
    """
    out = []
    for name, x, shape, *opt in items:
        if x is None and opt and opt[0]:
            out.append(None)
            continue
        a = as_float_array(x, f"{where}: {name}", dtype)
        if a.shape != tuple(shape):
            raise ValueError(f"{where}: {name} has shape {a.shape}, expected {tuple(shape)}")
        out.append(a)
    return out


def _cell_lengths(where, lengths, batch, steps=None):
    """Validate ``lengths`` ((B,) integer ndarray, values in [0, T]); returns (array, C pointer)."""
    if lengths is None:
        return None, ffi.NULL
    if not isinstance(lengths, np.ndarray) or lengths.dtype.kind not in "iu":
        raise TypeError(f"{where}: lengths must be an integer numpy.ndarray, got "
                        f"{getattr(lengths, 'dtype', type(lengths).__name__)}")
    if lengths.shape != (batch,):
        raise ValueError(f"{where}: lengths has shape {lengths.shape}, expected ({batch},)")
    L = np.ascontiguousarray(lengths, dtype=np.int64)
    hi = np.iinfo(np.int64).max if steps is None else steps
    if batch and (lengths.min() < 0 or lengths.max() > hi):
        raise ValueError(f"{where}: lengths must lie in [0, {'T' if steps is None else steps}], "
                         f"got min {lengths.min()} max {lengths.max()}")
    return L, ffi.cast("int64_t *", ffi.from_buffer(L))


def _cell_step_index(where, t):
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError(f"{where}: t must be an int, got {type(t).__name__}")
    if t < 0:
        raise ValueError(f"{where}: t must be >= 0, got {t}")
    return int(t)


def _cell_outputs(where, dtype, given, specs, zero=False):
    """Output buffers: allocate (np.zeros if `zero` else np.empty) or validate the given ones.

    ``given`` is None or a tuple matching ``specs`` ((name, shape) pairs).
    """
    if given is None:
        make = np.zeros if zero else np.empty
        return [make(shape, dtype) for _, shape in specs]
    if not isinstance(given, (tuple, list)) or len(given) != len(specs):
        raise TypeError(f"{where}: out must be a tuple of {len(specs)} arrays "
                        f"({', '.join(n for n, _ in specs)})")
    return [check_out(o, shape, dtype, f"{where}: {name}") for o, (name, shape) in zip(given, specs)]


def _cell_no_alias(where, outputs, inputs):
    for o in outputs:
        for i in inputs:
            if o is not None and i is not None and np.may_share_memory(o, i):
                raise ValueError(f"{where}: output buffers must not overlap the inputs")


def _cell_out(where, dtype, a, name, shape, zero=False):
    """One output buffer: allocated when ``a`` is None, else validated (and then used as is)."""
    return _cell_outputs(where, dtype, None if a is None else (a,), [(name, shape)], zero)[0]


def _step_fn(stem, dtype, reference):
    """The C step kernel ``mg_<stem>_<f32|f64>``; ``reference=True`` (a keyword of every step
    wrapper; tests only) picks its naive version in csrc/rnn_ref.c, e.g. mg_lstm_forward_ref_f64."""
    return cfunc(stem + "_ref" if reference else stem, dtype)


class StepPlan:
    """W_hh packed once for many single steps of one cell and one direction (the step plans of
    csrc/rnn_cells.h). Without a plan every step kernel packs W_hh again; the unrolled layer
    makes one plan per layer direction for its forward steps and one for its backward steps.

    The plan packs a copy of ``w_hh`` taken at creation and serves only steps of this ``kind``
    ('rnn', 'lstm', 'gru'), ``batch`` rows, direction (``backward``) and this very w_hh array
    (all checked at every use): change the weights and the plan is stale, so make a new one.
    """

    def __init__(self, kind, w_hh, batch, backward=False):
        where = "StepPlan"
        if kind not in _CELL_GATES:
            raise ValueError(f"{where}: kind must be one of {sorted(_CELL_GATES)}, got {kind!r}")
        w, H = _cell_weight(where, kind, w_hh)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1 or H < 1:
            raise ValueError(f"{where}: needs batch >= 1 and H >= 1, got batch={batch!r}, H={H}")
        handle = cfunc("rnn_plan_new", w.dtype)(ptr(w), int(batch), H, _CELL_GATES[kind], int(bool(backward)))
        if handle == ffi.NULL:
            raise MemoryError(f"{where}: could not allocate the packed W_hh ({w.shape}, {w.dtype})")
        self.handle = ffi.gc(handle, lib.mg_rnn_plan_delete)
        self.kind, self.batch, self.backward, self.w_hh = kind, int(batch), bool(backward), w

    def check(self, where, kind, w_hh, batch, backward):
        """Raise ValueError unless this plan was made for such a step."""
        want = (kind, batch, backward)
        have = (self.kind, self.batch, self.backward)
        if want != have or w_hh is not self.w_hh:
            what = lambda k, b, bw: f"{k} {'backward' if bw else 'forward'} steps with B={b}"
            raise ValueError(f"{where}: the plan was made for {what(*have)} and w_hh {self.w_hh.shape} "
                             f"{self.w_hh.dtype}; this is one of {what(*want)}"
                             + ("" if w_hh is self.w_hh else " with another w_hh array"))


def _step_kernel(where, stem, kind, w, batch, reference, plan):
    """(C kernel, its weight argument) for one step: the kernel that packs w_hh itself, or, given
    a StepPlan, its *_planned form with the plan where w_hh goes (same argument positions)."""
    if plan is None:
        return _step_fn(stem, w.dtype, reference), ptr(w)
    if not isinstance(plan, StepPlan):
        raise TypeError(f"{where}: plan must be a kernels.StepPlan, got {type(plan).__name__}")
    if reference:
        raise ValueError(f"{where}: the naive reference kernels take no plan")
    plan.check(where, kind, w, batch, stem.endswith("backward"))
    return cfunc(stem + "_planned", w.dtype), plan.handle


def _step_setup(where, kind, state, w_hh, lengths, t, name="h_prev"):
    """Common checks of a step kernel. ``state`` is a (B,H) array fixing B: returns
    (w_hh, state, B, H, dtype, lengths, lptr, t)."""
    w, hdim = _cell_weight(where, kind, w_hh)
    hp = as_float_array(state, f"{where}: {name}", w.dtype)
    if hp.ndim != 2 or hp.shape[1] != hdim:
        raise ValueError(f"{where}: {name} has shape {hp.shape}, expected (B, {hdim}) "
                         f"to match w_hh {w.shape}")
    L, lptr = _cell_lengths(where, lengths, hp.shape[0])
    return w, hp, hp.shape[0], hdim, w.dtype, L, lptr, _cell_step_index(where, t)


def rnn_step_forward(gx_t, h_prev, w_hh, lengths=None, t=0, nonlinearity="tanh", out=None,
                     reference=False, plan=None):
    """One Elman step: ``h = act(gx_t + h_prev @ w_hh.T)``; returns h (B,H) (also its own cache)."""
    where = "rnn_step_forward"
    relu = _relu_flag(nonlinearity)
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "rnn", h_prev, w_hh, lengths, t)
    (gx,) = _cell_arrays(where, dt, [("gx_t", gx_t, (B, H))])
    h = _cell_out(where, dt, out, "h", (B, H))
    _cell_no_alias(where, [h], [gx, hp, w])
    fn, wp = _step_kernel(where, "rnn_forward", "rnn", w, B, reference, plan)
    rc = fn(ptr(h), ptr(gx), ptr(hp), wp, lp, t, B, H, relu)
    _cell_rc(where, rc)
    return h


def rnn_step_backward(dh, h, w_hh, lengths=None, t=0, nonlinearity="tanh", dgates=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one Elman step: returns (dgates (B,H), dh_prev (B,H) accumulated into)."""
    where = "rnn_step_backward"
    relu = _relu_flag(nonlinearity)
    w, hh, B, H, dt, L, lp, t = _step_setup(where, "rnn", h, w_hh, lengths, t, "h")
    (dhh,) = _cell_arrays(where, dt, [("dh", dh, (B, H))])
    dg = _cell_out(where, dt, dgates, "dgates", (B, H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    _cell_no_alias(where, [dg, dhp], [dhh, hh, w])
    _cell_no_alias(where, [dg], [dhp])
    fn, wp = _step_kernel(where, "rnn_backward", "rnn", w, B, reference, plan)
    rc = fn(ptr(dg), ptr(dhp), ptr(dhh), ptr(hh), wp, lp, t, B, H, relu)
    _cell_rc(where, rc)
    return dg, dhp


def lstm_step_forward(gx_t, h_prev, c_prev, w_hh, lengths=None, t=0, out=None, reference=False, plan=None):
    """One LSTM step; returns (h, c, gates (B,4H) post-activation i,f,g,o, tanh_c).

    ``out``: optional tuple of 4 buffers in that order (e.g. slices of (T,B,.) caches).
    """
    where = "lstm_step_forward"
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "lstm", h_prev, w_hh, lengths, t)
    gx, cp = _cell_arrays(where, dt, [("gx_t", gx_t, (B, 4 * H)), ("c_prev", c_prev, (B, H))])
    outs = _cell_outputs(where, dt, out, [("h", (B, H)), ("c", (B, H)), ("gates", (B, 4 * H)),
                                          ("tanh_c", (B, H))])
    _cell_no_alias(where, outs, [gx, hp, cp, w])
    fn, wp = _step_kernel(where, "lstm_forward", "lstm", w, B, reference, plan)
    rc = fn(*map(ptr, outs), ptr(gx), ptr(hp), ptr(cp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return tuple(outs)


def lstm_step_backward(dh, dc, gates, tanh_c, c_prev, w_hh, lengths=None, t=0,
                       dgates=None, dh_prev=None, dc_prev=None, reference=False, plan=None):
    """Backward of one LSTM step (dc may be None); returns (dgates (B,4H), dh_prev, dc_prev)."""
    where = "lstm_step_backward"
    w, dhh, B, H, dt, L, lp, t = _step_setup(where, "lstm", dh, w_hh, lengths, t, "dh")
    dcc, g, tc, cp = _cell_arrays(where, dt, [("dc", dc, (B, H), True), ("gates", gates, (B, 4 * H)),
                                              ("tanh_c", tanh_c, (B, H)), ("c_prev", c_prev, (B, H))])
    dg = _cell_out(where, dt, dgates, "dgates", (B, 4 * H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    dcp = _cell_out(where, dt, dc_prev, "dc_prev", (B, H), zero=True)
    _cell_no_alias(where, [dg, dhp, dcp], [dhh, dcc, g, tc, cp, w])
    _cell_no_alias(where, [dg], [dhp, dcp])
    fn, wp = _step_kernel(where, "lstm_backward", "lstm", w, B, reference, plan)
    rc = fn(ptr(dg), ptr(dhp), ptr(dcp), ptr(dhh), _nullable(dcc), ptr(g), ptr(tc), ptr(cp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return dg, dhp, dcp


def gru_step_forward(gx_t, h_prev, w_hh, b_hn=None, lengths=None, t=0, out=None, reference=False, plan=None):
    """One GRU step; returns (h, gates (B,3H) post-activation r,z,n, hn = h_prev @ W_hn^T + b_hn)."""
    where = "gru_step_forward"
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "gru", h_prev, w_hh, lengths, t)
    gx, bhn = _cell_arrays(where, dt, [("gx_t", gx_t, (B, 3 * H)), ("b_hn", b_hn, (H,), True)])
    outs = _cell_outputs(where, dt, out, [("h", (B, H)), ("gates", (B, 3 * H)), ("hn", (B, H))])
    _cell_no_alias(where, outs, [gx, hp, w, bhn])
    fn, wp = _step_kernel(where, "gru_forward", "gru", w, B, reference, plan)
    rc = fn(*map(ptr, outs), ptr(gx), ptr(hp), wp, _nullable(bhn), lp, t, B, H)
    _cell_rc(where, rc)
    return tuple(outs)


def gru_step_backward(dh, gates, hn, h_prev, w_hh, lengths=None, t=0, dgx=None, dgh=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one GRU step; returns (dgx (B,3H), dgh (B,3H), dh_prev (B,H) accumulated into).

    dgx: grads of the input-side pre-activations (gx); dgh: of h_prev @ W_hh^T + b_hh.
    """
    where = "gru_step_backward"
    w, dhh, B, H, dt, L, lp, t = _step_setup(where, "gru", dh, w_hh, lengths, t, "dh")
    g, hnn, hp = _cell_arrays(where, dt, [("gates", gates, (B, 3 * H)), ("hn", hn, (B, H)),
                                          ("h_prev", h_prev, (B, H))])
    dx = _cell_out(where, dt, dgx, "dgx", (B, 3 * H))
    dg = _cell_out(where, dt, dgh, "dgh", (B, 3 * H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    _cell_no_alias(where, [dx, dg, dhp], [dhh, g, hnn, hp, w])
    _cell_no_alias(where, [dx], [dg, dhp])
    _cell_no_alias(where, [dg], [dhp])
    fn, wp = _step_kernel(where, "gru_backward", "gru", w, B, reference, plan)
    rc = fn(ptr(dx), ptr(dg), ptr(dhp), ptr(dhh), ptr(g), ptr(hnn), ptr(hp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return dx, dg, dhp


def _seq_setup(where, kind, gx, w_hh, lengths):
    """Common checks of a sequence driver: returns (w_hh, gx, T, B, H, dtype, lengths, lptr)."""
    w, hdim = _cell_weight(where, kind, w_hh)
    x = as_float_array(gx, f"{where}: gx", w.dtype)
    if x.ndim != 3 or x.shape[2] != w.shape[0]:
        raise ValueError(f"{where}: gx has shape {x.shape}, expected (T, B, {w.shape[0]}) "
                         f"to match w_hh {w.shape}")
    T, B = x.shape[:2]
    L, lp = _cell_lengths(where, lengths, B, T)
    return w, x, T, B, hdim, w.dtype, L, lp


def _seq_forward(kind, gx, h0, c0, w_hh, b_hn, lengths, reverse, relu=0, overwrite_gx=False):
    where = f"{kind}_seq_forward"
    w, x, T, B, H, dt, L, lp = _seq_setup(where, kind, gx, w_hh, lengths)
    h0, c0, bhn = _cell_arrays(where, dt, [("h0", h0, (B, H)), ("c0", c0, (B, H), kind != "lstm"),
                                           ("b_hn", b_hn, (H,), True)])
    out, h_n, c_n = np.empty((T, B, H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
    cache = {name: out if name == "out" else np.empty((T, B, k * H), dt)
             for name, k in _SEQ_CACHE[kind] if not (overwrite_gx and name == "gates")}
    if overwrite_gx:
        if x is not gx or not x.flags.writeable:
            raise ValueError(f"{where}: overwrite_gx needs gx to be a writeable C-contiguous {dt} array")
        cache["gates"] = x
    rev = int(bool(reverse))
    if kind == "rnn":
        rc = cfunc("rnn_seq_forward", dt)(ptr(out), ptr(cache["hprev"]), ptr(h_n), ptr(x), ptr(h0), ptr(w),
                                     lp, T, B, H, rev, relu)
        _cell_rc(where, rc)
        return out, h_n, cache
    if kind == "lstm":
        rc = cfunc("lstm_seq_forward", dt)(ptr(out), *(ptr(cache[n]) for n, _ in _SEQ_CACHE[kind]),
                                      ptr(h_n), ptr(c_n), ptr(x), ptr(h0), ptr(c0), ptr(w), lp, T, B, H, rev)
        _cell_rc(where, rc)
        return out, h_n, c_n, cache
    rc = cfunc("gru_seq_forward", dt)(ptr(out), *(ptr(cache[n]) for n, _ in _SEQ_CACHE[kind]),
                                 ptr(h_n), ptr(x), ptr(h0), ptr(w), _nullable(bhn), lp, T, B, H, rev)
    _cell_rc(where, rc)
    return out, h_n, cache


def _seq_backward(kind, dout, dh_n, dc_n, cache, w_hh, lengths, reverse, relu=0):
    where = f"{kind}_seq_backward"
    if not isinstance(cache, dict) or any(n not in cache for n, _ in _SEQ_CACHE[kind]):
        raise TypeError(f"{where}: cache must be the dict returned by {kind}_seq_forward "
                        f"(keys {[n for n, _ in _SEQ_CACHE[kind]]})")
    # The state cache hprev (T,B,H) fixes T and B here (there is no gx in backward).
    w, hdim = _cell_weight(where, kind, w_hh)
    hprev = as_float_array(cache["hprev"], f"{where}: cache['hprev']", w.dtype)
    if hprev.ndim != 3 or hprev.shape[2] != hdim:
        raise ValueError(f"{where}: cache['hprev'] has shape {hprev.shape}, expected (T, B, {hdim})")
    T, B, H = hprev.shape
    dt = w.dtype
    L, lp = _cell_lengths(where, lengths, B, T)
    c = dict(zip([n for n, _ in _SEQ_CACHE[kind]], _cell_arrays(
        where, dt, [(f"cache[{n!r}]", cache[n], (T, B, k * H)) for n, k in _SEQ_CACHE[kind]])))
    do, dhn, dcn = _cell_arrays(where, dt, [("dout", dout, (T, B, H), True), ("dh_n", dh_n, (B, H), True),
                                            ("dc_n", dc_n, (B, H), True)])
    G = _CELL_GATES[kind]
    dg, dh0, dc0 = np.empty((T, B, G * H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
    rev = int(bool(reverse))
    if kind == "rnn":
        rc = cfunc("rnn_seq_backward", dt)(ptr(dg), ptr(dh0), _nullable(do), _nullable(dhn), ptr(c["out"]),
                                           ptr(w), lp, T, B, H, rev, relu)
        res = (dg, dh0)
    elif kind == "lstm":
        rc = cfunc("lstm_seq_backward", dt)(ptr(dg), ptr(dh0), ptr(dc0), _nullable(do), _nullable(dhn),
                                            _nullable(dcn), ptr(c["gates"]), ptr(c["tanh_c"]), ptr(c["cprev"]),
                                            ptr(w), lp, T, B, H, rev)
        res = (dg, dh0, dc0)
    else:
        dgh = np.empty((T, B, G * H), dt)
        rc = cfunc("gru_seq_backward", dt)(ptr(dg), ptr(dgh), ptr(dh0), _nullable(do), _nullable(dhn),
                                           ptr(c["gates"]), ptr(c["hn"]), ptr(c["hprev"]), ptr(w),
                                           lp, T, B, H, rev)
        res = (dg, dgh, dh0)
    if rc != 0:
        raise MemoryError(f"{where}: could not allocate the (4, {B}, {H}) workspace")
    return res


def rnn_seq_forward(gx, h0, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Elman RNN over a whole sequence: gx (T,B,H), h0 (B,H), w_hh (H,H).

    Returns (out (T,B,H) with zeros at padded steps, h_n (B,H), cache) where cache holds
    'hprev' (T,B,H), the state entering each step, and 'out'.
    """
    return _seq_forward("rnn", gx, h0, None, w_hh, None, lengths, reverse, _relu_flag(nonlinearity))


def rnn_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Backward of rnn_seq_forward; dout (T,B,H) and dh_n (B,H) may be None (zeros).

    Returns (dgates (T,B,H) = grads of the pre-activations, dh0 (B,H)).
    """
    return _seq_backward("rnn", dout, dh_n, None, cache, w_hh, lengths, reverse, _relu_flag(nonlinearity))


def lstm_seq_forward(gx, h0, c0, w_hh, lengths=None, reverse=False, overwrite_gx=False):
    """LSTM over a whole sequence: gx (T,B,4H), h0, c0 (B,H), w_hh (4H,H).

    Returns (out (T,B,H), h_n, c_n, cache) with cache 'hprev', 'cprev', 'gates' (T,B,4H), 'tanh_c'.
    ``overwrite_gx=True`` stores the gates in gx itself (cache['gates'] is gx): one (T,B,4H)
    buffer less, and gx's input values are gone afterwards.
    """
    return _seq_forward("lstm", gx, h0, c0, w_hh, None, lengths, reverse, overwrite_gx=overwrite_gx)


def lstm_seq_backward(dout, dh_n, dc_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of lstm_seq_forward; dout, dh_n, dc_n may be None. Returns (dgates (T,B,4H), dh0, dc0)."""
    return _seq_backward("lstm", dout, dh_n, dc_n, cache, w_hh, lengths, reverse)


def gru_seq_forward(gx, h0, w_hh, b_hn=None, lengths=None, reverse=False):
    """GRU over a whole sequence: gx (T,B,3H) (b_hn not folded in), h0 (B,H), w_hh (3H,H), b_hn (H,).

    Returns (out (T,B,H), h_n, cache) with cache 'hprev', 'gates' (T,B,3H), 'hn'.
    """
    return _seq_forward("gru", gx, h0, None, w_hh, b_hn, lengths, reverse)


def gru_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of gru_seq_forward; returns (dgx (T,B,3H), dgh (T,B,3H), dh0 (B,H))."""
    return _seq_backward("gru", dout, dh_n, None, cache, w_hh, lengths, reverse)
