"""The binding's base: the compiled extension ``minigrad._C`` (``ffi``, ``lib``), the argument
checks every wrapper relies on, thread control and malloc tuning."""
import os

import numpy as np

try:
    from .. import _C
except ImportError as exc:  # pragma: no cover - depends on how minigrad was installed
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


_TOO_HARD = getattr(np, "exceptions", np).TooHardError    # np.exceptions from NumPy 1.25


def _overlap(a, b):
    """True if arrays ``a`` and ``b`` share any byte (exact; a too-hard case counts as overlap)."""
    if not np.may_share_memory(a, b):          # bounds only: cheap, and the usual answer
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except _TOO_HARD:
        return True


def check_no_overlap(outputs, inputs=(), inplace=()):
    """Raise ValueError if a C kernel's buffers would alias in a way it does not support.

    ``outputs`` and ``inputs`` are sequences of ``(name, array)`` (``None`` arrays are skipped).
    No two outputs may share memory, and no output may share memory with an input -- except the
    ``(output_name, input_name)`` pairs in ``inplace``, which may be *the same* buffer exactly
    (same data pointer, shape and strides: an elementwise kernel may run in place), never a
    partial overlap. Call it after the shape checks and before any copy or allocation.
    """
    outputs = [(n, a) for n, a in outputs if a is not None]
    inputs = [(n, a) for n, a in inputs if a is not None]
    for i, (n1, a1) in enumerate(outputs):
        for n2, a2 in outputs[i + 1:]:
            if _overlap(a1, a2):
                raise ValueError(f"output buffers {n1} and {n2} overlap in memory; pass separate arrays")
        for n2, a2 in inputs:
            if not _overlap(a1, a2):
                continue
            same = (a1.__array_interface__["data"][0] == a2.__array_interface__["data"][0]
                    and a1.shape == a2.shape and a1.strides == a2.strides)
            if (n1, n2) in inplace and same:
                continue
            how = "may only be the very same array as" if (n1, n2) in inplace else "must not overlap"
            raise ValueError(f"output {n1} overlaps input {n2} in memory: {n1} {how} {n2}")


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
