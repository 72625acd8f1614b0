"""The binding's base: the compiled extension ``minigrad._C`` (``ffi``, ``lib``), the argument
checks every wrapper relies on, thread control and malloc tuning."""
import functools
import math
import numbers
import os
import re

import numpy as np

from ..dtypes import FLOAT_DTYPES as _FLOATS, INT64_MAX as _INT64_MAX

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

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_IS_FLOAT = dict.fromkeys(_FLOATS, True)   # `dtype in dict`: a hash lookup, faster than a tuple
_ndarray = np.ndarray
_CTYPE = {np.dtype(np.float32): "float *", np.dtype(np.float64): "double *"}

# ----------------------------------------------------------------------------- checks
# Every check runs on the caller's own arrays, before any copy or allocation: a broadcast view of
# 16 GiB with a wrong shape must be reported, not copied first. Hence two steps everywhere: the
# checks (check_float_array, check_out, check_arrays, check_no_overlap), then ``contiguous``.
def describe(x):
    """``'(2, 3) float32'`` for an array (for messages), the type's name for anything else."""
    if isinstance(x, np.ndarray):
        return f"{x.shape} {_dtype_name(x.dtype)}"
    return type(x).__name__


def _dtype_name(dt):
    if dt.kind == "f" and not dt.isnative:
        return f"{dt} (non-native byte order: use .astype(np.float{dt.itemsize * 8}))"
    return str(dt)


def _check_ndarray(x, name):
    if type(x) is _ndarray:
        return
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if isinstance(x, np.ma.MaskedArray):   # C would read the masked values as data
        raise TypeError(f"{name} is a masked array {describe(x)}: its mask would be ignored; "
                        "pass a plain ndarray (e.g. x.filled(0))")


def check_float_array(x, name, dtype=None, like=None):
    """Check that ``x`` can go to C as a float array, without copying: an ndarray (not a masked
    array) of float32 or float64 -- exactly ``dtype`` if given (``like`` names the argument that
    fixed it, for the message). Returns ``x``."""
    _check_ndarray(x, name)
    if x.dtype not in _IS_FLOAT:
        raise TypeError(f"{name} must be float32 or float64, got {describe(x)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {_dtype_name(x.dtype)} (shape {x.shape}) but "
                        f"{like or 'the kernel'} is {np.dtype(dtype)}; one call takes one dtype")
    return x


def contiguous(x):
    """``x`` itself when C-contiguous and aligned, else a C-contiguous aligned copy of the same
    shape (0-d included). Call only after every check of the call has passed.

    Aligned: a view at an odd byte offset (``np.frombuffer(b, offset=1)``) is C-contiguous but
    its ``double *`` would be misaligned, which is undefined behaviour in C (UBSan reports it;
    aligned vector loads fault). ``np.ascontiguousarray`` would pass it through unchanged."""
    f = x.flags
    return x if f.c_contiguous and f.aligned else np.array(x, order="C")


def check_out(out, shape, dtype, name="out"):
    """Validate a caller-supplied output buffer: an ndarray (not masked) of exactly ``shape``
    (skipped when None) and ``dtype``, writeable, C-contiguous and aligned. Returns ``out``."""
    if type(out) is _ndarray and out.dtype is dtype and (shape is None or out.shape == shape):
        f = out.flags                     # the common case, in one look at the flags
        if f.writeable and f.c_contiguous and f.aligned:
            return out
    _check_ndarray(out, name)
    if shape is not None and out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {_dtype_name(out.dtype)}, expected {np.dtype(dtype)} "
                        f"(shape {out.shape})")
    if not out.flags.writeable:
        raise ValueError(f"{name} {describe(out)} is read-only (a broadcast view or a frozen "
                         "array?); outputs must be writeable")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} {describe(out)} is not C-contiguous (strides {out.strides}); "
                         "outputs are written in place, so they must be C-contiguous")
    if not out.flags.aligned:
        raise ValueError(f"{name} {describe(out)} is not aligned to its {out.dtype.itemsize}-byte "
                         "elements (a view at an odd byte offset?); outputs must be aligned")
    return out


def check_real(x, name, finite=True):
    """``x`` as a Python float: a real number (not bool, not complex), finite unless told."""
    if type(x) is float and (x - x == 0.0 or not finite):   # the common case; x - x is 0 iff finite
        return x
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    try:
        v = float(x)
    except OverflowError:          # an int beyond the float range
        v = math.inf
    if finite and not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}"
                         + ("" if isinstance(x, float) else f" ({x!r:.40})"))
    return v


def check_flag(x, name):
    """``x`` as a bool: True / False (or a NumPy bool, or the ints 0 / 1); anything else -- a
    string such as 'no' is truthy -- raises TypeError."""
    if x is True or x is False:
        return x
    if isinstance(x, (np.bool_, int, np.integer)) and x in (0, 1):
        return bool(x)
    raise TypeError(f"{name} must be True or False, got {type(x).__name__} {x!r}")


def check_int(x, name, lo=None, hi=_INT64_MAX):
    """``x`` as a Python int (int or NumPy integer, not bool) in [lo, hi]."""
    if type(x) is int and (lo is None or x >= lo) and (hi is None or x <= hi):
        return x                          # the common case, before any isinstance
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} {x!r}")
    v = int(x)
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, got {v}")
    return v


@functools.lru_cache(maxsize=None)
def _pattern(pattern):
    """'T B 4H' -> ((1, 'T'), (1, 'B'), (4, 'H')); a plain number n -> (n, None)."""
    dims = []
    for tok in pattern.split():
        k, sym = re.fullmatch(r"(\d*)([A-Za-z]?)", tok).groups()
        dims.append((int(k) if k else 1, sym or None))
    return tuple(dims)


def _binding_order(pattern):
    """``(index, k, symbol)`` of each dimension of ``pattern``, plain symbols and numbers first,
    so that in 'H 4H'-like patterns H is bound by its plain occurrence."""
    dims = [(i, k, sym) for i, (k, sym) in enumerate(_pattern(pattern))]
    return tuple(sorted(dims, key=lambda d: d[1] != 1 and d[2] is not None))


_ORDERS = {}   # pattern -> _binding_order(pattern): a plain dict lookup on the per-call path


def _match(where, name, shape, pattern, dims, source):
    """Check ``shape`` against ``pattern``, binding unbound symbols in ``dims`` (plain symbols
    first, then multiples: 'kH' binds H = size / k)."""
    order = _ORDERS.get(pattern) or _ORDERS.setdefault(pattern, _binding_order(pattern))
    if len(shape) == len(order):
        for i, k, sym in order:
            size = shape[i]
            if sym is None:
                if size != k:
                    break
                continue
            d = dims.get(sym)
            if d is None:
                if size % k:
                    break
                dims[sym], source[sym] = size // k, name
            elif size != k * d:
                break
        else:
            return
    spec = _pattern(pattern)
    want = ", ".join((sym if k == 1 else f"{k}*{sym}") if sym else str(k) for k, sym in spec)
    if len(spec) == 1:
        want += ","
    bound = [f"{s}={dims[s]} from {source[s]}" for s in sorted(dims)
             if source[s] != name and any(s == sym for _, sym in spec)]
    if not bound:   # the array disagrees with itself (e.g. w_hh (15, 4) for (4*H, H))
        raise ValueError(f"{where}: {name} must have shape ({want}), got {tuple(shape)}")
    concrete = "(" + ", ".join(str(k * dims[sym]) if sym in dims else (str(k) if sym is None else "?")
                                for k, sym in spec) + ("," if len(spec) == 1 else "") + ")"
    raise ValueError(f"{where}: {name} has shape {tuple(shape)}, expected ({want}) = {concrete} "
                     "with " + ", ".join(bound))


def check_arrays(where, inputs, outputs=(), inplace=(), dims=None):
    """All the array checks of one kernel call, on the caller's arrays, before any copy.

    ``inputs``: ``(name, array, pattern[, optional])``; ``outputs``: ``(name, array, pattern)``,
    where an output array of None means the wrapper allocates it. A pattern spells the shape,
    e.g. ``'B 4H'``: symbols are bound by the first array that has them (in order; a multiple
    ``4H`` binds H = size / 4) and every other array must agree. Inputs: float ndarrays of one
    dtype (the first input's); outputs: that dtype, C-contiguous, writeable; then
    ``check_no_overlap`` (``inplace`` as there). Returns ``(dims, dtype)``: the bound symbols.
    """
    # Per-call cost matters (the step kernels run once per time step): each array gets a cheap
    # test first, and the full check -- which builds the message -- only when that test fails.
    dims = {} if dims is None else dict(dims)
    source = dict.fromkeys(dims, "the call")
    dtype = first = None
    for item in inputs:
        name, a, pattern = item[0], item[1], item[2]
        if a is None and len(item) > 3 and item[3]:
            continue
        dt = a.dtype if type(a) is _ndarray else None
        if dt is None or (dt not in _IS_FLOAT if dtype is None else dt is not dtype):
            check_float_array(a, f"{where}: {name}", dtype, first)
        if dtype is None:
            dtype, first = a.dtype, name
        _match(where, name, a.shape, pattern, dims, source)
    for name, a, pattern in outputs:
        if a is not None:
            f = a.flags if type(a) is _ndarray else None
            if f is None or a.dtype is not dtype or not (f.writeable and f.c_contiguous and f.aligned):
                check_out(a, None, dtype, f"{where}: {name}")
            _match(where, name, a.shape, pattern, dims, source)
    check_no_overlap(outputs, inputs, inplace, where)
    return dims, dtype


_TOO_HARD = getattr(np, "exceptions", np).TooHardError    # np.exceptions from NumPy 1.25


_may_share = np.may_share_memory    # bounds only: ~0.5 us a pair


def _owner(a):
    """The ndarray that owns ``a``'s memory (``a`` itself, or the root of its chain of views), or
    None when that is not known (memory from another buffer object: bytes, mmap, as_strided)."""
    while True:
        b = a.base
        if b is None:
            return a if a.flags.owndata else None
        if type(b) is not _ndarray:
            return None
        a = b


def _overlap(a, b):
    """True if arrays ``a`` and ``b`` share any byte (exact; a too-hard case counts as overlap)."""
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except _TOO_HARD:
        return True


def check_no_overlap(outputs, inputs=(), inplace=(), where=None):
    """Raise ValueError if a C kernel's buffers would alias in a way it does not support.

    ``outputs`` and ``inputs`` are sequences of ``(name, array)`` (``None`` arrays are skipped;
    longer items, such as check_arrays' ``(name, array, pattern)``, are read the same way).
    No two outputs may share memory, and no output may share memory with an input -- except the
    ``(output_name, input_name)`` pairs in ``inplace``, which may be *the same* buffer exactly
    (same data pointer, shape and strides: an elementwise kernel may run in place), never a
    partial overlap. Call it after the shape checks and before any copy or allocation.
    ``where`` (the caller's name) prefixes the message.
    """
    # Arrays owned by two different ndarrays cannot overlap: one identity test per pair, and the
    # bounds test (np.may_share_memory) only for views of one owner or of foreign memory.
    outputs = [(it[0], it[1], _owner(it[1])) for it in outputs if it[1] is not None]
    if not outputs:
        return          # the wrapper allocates every output: nothing of the caller's is written
    inputs = [(it[0], it[1], _owner(it[1])) for it in inputs if it[1] is not None]
    owners = {id(o) for _, _, o in outputs if o is not None}
    if len(owners) == len(outputs) and not any(o is None or id(o) in owners for _, _, o in inputs):
        return          # each output owned by its own ndarray, owning no input: the usual case
    for i, (n1, a1, o1) in enumerate(outputs):
        for n2, a2, o2 in outputs[i + 1:]:
            if (o1 is None or o2 is None or o1 is o2) and _may_share(a1, a2) and _overlap(a1, a2):
                pre = f"{where}: " if where else ""
                raise ValueError(f"{pre}output buffers {n1} and {n2} overlap in memory; pass distinct, "
                                 "non-overlapping arrays")
        for n2, a2, o2 in inputs:
            if (o1 is not None and o2 is not None and o1 is not o2) or not _may_share(a1, a2) \
                    or not _overlap(a1, a2):
                continue
            same = (a1.__array_interface__["data"][0] == a2.__array_interface__["data"][0]
                    and a1.shape == a2.shape and a1.strides == a2.strides)
            if (n1, n2) in inplace and same:
                continue
            how = "may only be the very same array as" if (n1, n2) in inplace else "must not overlap"
            pre = f"{where}: " if where else ""
            raise ValueError(f"{pre}output {n1} overlaps input {n2} in memory: {n1} {how} {n2}")


def ptr(a):
    """A typed C pointer to the (checked: C-contiguous, aligned) float array ``a``'s data; no copy.

    Read-only arrays are accepted: the C side takes them as ``const`` inputs.
    """
    try:
        ctype = _CTYPE[a.dtype]
    except (AttributeError, KeyError, TypeError):
        raise TypeError(f"ptr needs a float32/float64 numpy.ndarray, got {describe(a)}") from None
    return ffi.cast(ctype, ffi.from_buffer(a, require_writable=False))


def cfunc(stem, dtype):
    """The C function ``mg_<stem>_<f32|f64>``."""
    try:
        suffix = _SUFFIX[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"cfunc: dtype must be float32 or float64, got {dtype!r}") from None
    return getattr(lib, f"mg_{stem}_{suffix}")


# ----------------------------------------------------------------------------- threads
def set_num_threads(n):
    """Set the number of threads the C core uses (results do not depend on it).

    Any int ``n >= 1`` is accepted, as in PyTorch; the count in force is ``min(n,
    max_num_threads())`` -- more threads than that can crash OpenMP (libgomp fails to create
    100000 threads, or exits allocating the team) and never speed up these compute-bound loops.
    ``get_num_threads()`` reports the count in force.
    """
    n = check_int(n, "set_num_threads: n", lo=1, hi=None)
    lib.mg_set_num_threads(min(n, lib.mg_max_threads()))


def max_num_threads():
    """The most threads the C core uses: min(OpenMP's thread limit (OMP_THREAD_LIMIT), 4 x the
    processors this process may run on); 1 when built without OpenMP (csrc/runtime.h)."""
    return int(lib.mg_max_threads())


def get_num_threads():
    """Number of threads the C core uses: as set, else OpenMP's default (OMP_NUM_THREADS, else all
    cores), in both cases at most ``max_num_threads()``; 1 when built without OpenMP."""
    return int(lib.mg_get_num_threads())


def has_openmp():
    return bool(lib.mg_has_openmp())


def cpu_has_avx2_fma():
    return bool(lib.mg_cpu_has_avx2_fma())


def set_simd(enabled):
    """Use the AVX2/FMA code paths when the CPU has them (True, default) or force generic C
    (False). Anything but a bool raises TypeError."""
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(f"set_simd expects True (AVX2/FMA paths when the CPU has them) or False "
                        f"(generic C), got {type(enabled).__name__} {enabled!r}")
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
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(f"tune_malloc expects True or False, got {type(enabled).__name__} {enabled!r}")
    mmap_t, trim_t = (MMAP_THRESHOLD, TRIM_THRESHOLD) if enabled else (128 << 10, 128 << 10)
    return bool(lib.mg_tune_malloc(mmap_t, trim_t))


if os.environ.get("MINIGRAD_MALLOC_TUNING", "1").strip().lower() not in ("0", "false", "no", "off"):
    tune_malloc()
