"""Bindings of the linear-chain CRF kernels (csrc/crf.h, references in csrc/crf_ref.c).

Shapes: B sequences, T padded length, K tags. Emissions are (T, B, K) (time first) or
(B, T, K) (``batch_first``), float32 or float64, read in place with their two outer strides;
``start``/``end`` (K,) and ``trans`` (K, K) share their dtype. ``tags`` is (B, T) and
``lengths`` (B,) integers, L_b in [1, T]; only ``tags[b, :L_b]`` is read, each in [0, K).
The C side computes in double: ``nll``, ``logz``, ``alpha`` and the parameter gradients come
back as float64 (the caller rounds to its dtype), ``dem`` in the emissions' dtype and layout.

Every check the C code relies on runs here first (dtypes, shapes, lengths and tags in range,
finite values), naming the argument; ``where`` prefixes the messages (the caller's name).
"""
import numpy as np

from .common import cfunc, check_float_array, contiguous, describe, ffi, lib, ptr

# Sequences per workspace slot: the fixed grouping that makes d trans bitwise identical for any
# thread count (csrc/crf.h, Threads). Small enough that B = 32 still splits over 2 threads.
CHUNK = 4


def _int_ptr(a, ctype="int64_t *"):
    """A typed pointer to integer array ``a``; like ``ptr``, it does not keep ``a`` alive: the
    caller holds every array it passes in a variable until the C call returns."""
    return ffi.cast(ctype, ffi.from_buffer(a, require_writable=False))


def _work(B, T, K, reference):
    """The double workspace of crf.h: fast kernels 2K^2 + 2K + ceil(B/CHUNK)(K^2 + 6K),
    references (T + 1) K."""
    n = 2 * K * K + 2 * K + -(-B // CHUNK) * (K * K + 6 * K)
    return np.empty(max(n, (T + 1) * K) if reference else n, np.float64)


def check_crf_args(where, em, start, end, trans, batch_first, lengths=None, tags=None):
    """Validate one CRF call; returns ``(B, T, K, sb, st, lengths, tags)`` with lengths (B,) and
    tags (B, T) as C-contiguous int64 (tags None when not given).

    ``lengths`` None means every sequence has length T. Nothing is copied before every check
    has passed."""
    check_float_array(em, f"{where}: emissions")
    if em.ndim != 3:
        raise ValueError(f"{where}: emissions must be 3-D ({'(B, T, K)' if batch_first else '(T, B, K)'}), "
                         f"got shape {em.shape}")
    (B, T, K) = (em.shape if batch_first else (em.shape[1], em.shape[0], em.shape[2]))
    for name, p, shape in (("start_transitions", start, (K,)), ("end_transitions", end, (K,)),
                           ("transitions", trans, (K, K))):
        check_float_array(p, f"{where}: {name}", em.dtype, "emissions")
        if p.shape != shape:
            raise ValueError(f"{where}: {name} has shape {p.shape}, expected {shape} for emissions "
                             f"{em.shape} with K = {K} tags")
    if K < 1:
        raise ValueError(f"{where}: emissions {em.shape} have no tags (K = 0)")
    if K >= 2 ** 31:
        raise ValueError(f"{where}: K = {K} tags is too many (at most 2**31 - 1)")
    if lengths is None:
        if B and T < 1:
            raise ValueError(f"{where}: emissions {em.shape} have T = 0 steps; every sequence "
                             "needs at least one")
        lengths = np.full(B, T, np.int64)
    else:
        lengths = np.asarray(lengths)
        if lengths.dtype.kind not in "iu" or lengths.shape != (B,):
            raise ValueError(f"{where}: lengths must be {B} integers (one per sequence), got {describe(lengths)}")
        if B and (lengths.min() < 1 or lengths.max() > T):
            raise ValueError(f"{where}: lengths must lie in [1, {T}] (T, the padded length), got "
                             f"min {lengths.min()} max {lengths.max()}")
        lengths = np.ascontiguousarray(lengths, np.int64)
    if tags is not None:
        tags = np.asarray(tags)
        if tags.dtype.kind not in "iu" or tags.shape != (B, T):
            raise ValueError(f"{where}: tags must be integers of shape {(B, T)} (batch, time), got "
                             f"{describe(tags)}")
        valid = np.arange(T)[None, :] < lengths[:, None]           # (B, T): the real steps
        real = tags[valid]
        if real.size and (real.min() < 0 or real.max() >= K):
            bad = int(real[(real < 0) | (real >= K)][0])
            raise ValueError(f"{where}: tags hold {bad} at a real (unmasked) step; tags must lie in "
                             f"[0, {K}) for K = {K} tags")
        tags = np.ascontiguousarray(tags, np.int64)
    for name, a in (("emissions", em), ("start_transitions", start), ("end_transitions", end),
                    ("transitions", trans)):
        if not np.isfinite(a).all():
            raise ValueError(f"{where}: {name} {describe(a)} holds NaN or infinite values (to forbid "
                             "a transition use a large negative score such as -1e4)")
    it = em.itemsize
    if em.strides[2] != it or em.strides[0] % it or em.strides[1] % it or not em.flags.aligned:
        em = contiguous(em)                 # the kernels need whole-element strides, last axis 1
    # element strides of the sequence and time axes (the kernels read em[b*sb + t*st + k])
    s0, s1 = em.strides[0] // em.itemsize, em.strides[1] // em.itemsize
    sb, st = (s0, s1) if batch_first else (s1, s0)
    return em, B, T, K, sb, st, lengths, tags


def _ptr_em(em):
    """A pointer to the first element of ``em`` (strided, last axis contiguous: checked above)."""
    ctype = "float *" if em.dtype == np.float32 else "double *"
    if em.size == 0:
        return ffi.NULL
    return ffi.cast(ctype, em.__array_interface__["data"][0])


def crf_forward(em, tags, lengths, start, end, trans, batch_first=False, reference=False,
                where="crf_forward"):
    """Per-sequence ``nll`` (B,), ``logz`` (B,) and ``alpha`` (B, T, K), all float64 (crf.h)."""
    em, B, T, K, sb, st, lengths, tags = check_crf_args(where, em, start, end, trans, batch_first,
                                                        lengths, tags)
    start, end, trans = contiguous(start), contiguous(end), contiguous(trans)
    nll, logz = np.empty(B), np.empty(B)
    alpha = np.empty((B, T, K))
    work = _work(B, T, K, reference)
    stem = "crf_forward_ref" if reference else "crf_forward"
    cfunc(stem, em.dtype)(ptr(nll), ptr(logz), ptr(alpha), ptr(work),
                          _ptr_em(em), _int_ptr(tags), _int_ptr(lengths), ptr(start), ptr(end),
                          ptr(trans), B, T, K, sb, st, CHUNK)
    return nll, logz, alpha


def crf_backward(g, alpha, logz, em, tags, lengths, start, end, trans, batch_first=False,
                 reference=False, where="crf_backward"):
    """Gradients of sum_b g[b] * nll_b: ``dem`` (the emissions' shape and dtype, zero at padded
    steps) and float64 ``dstart`` (K,), ``dend`` (K,), ``dtrans`` (K, K). ``alpha``/``logz``
    are crf_forward's for the same arguments."""
    em, B, T, K, sb, st, lengths, tags = check_crf_args(where, em, start, end, trans, batch_first,
                                                        lengths, tags)
    g = np.ascontiguousarray(g, np.float64)
    if g.shape != (B,) or alpha.shape != (B, T, K) or logz.shape != (B,) \
            or alpha.dtype != np.float64 or logz.dtype != np.float64:
        raise ValueError(f"{where}: g {describe(g)}, alpha {describe(alpha)}, logz {describe(logz)} "
                         f"do not match B={B}, T={T}, K={K} (float64)")
    start, end, trans = contiguous(start), contiguous(end), contiguous(trans)
    alpha, logz = contiguous(alpha), contiguous(logz)
    dem = np.empty(em.shape, em.dtype)
    # dem is written with em's strides: give em the same (C-contiguous) layout
    em = contiguous(em)
    s0, s1 = em.strides[0] // em.itemsize, em.strides[1] // em.itemsize
    sb, st = (s0, s1) if batch_first else (s1, s0)
    dstart, dend, dtrans = np.empty(K), np.empty(K), np.empty((K, K))
    work = _work(B, T, K, reference)
    stem = "crf_backward_ref" if reference else "crf_backward"
    cfunc(stem, em.dtype)(_ptr_em(dem), ptr(dstart), ptr(dend), ptr(dtrans),
                          ptr(work), ptr(g), ptr(alpha), ptr(logz),
                          _ptr_em(em), _int_ptr(tags), _int_ptr(lengths), ptr(start), ptr(end),
                          ptr(trans), B, T, K, sb, st, CHUNK)
    return dem, dstart, dend, dtrans


def crf_viterbi(em, lengths, start, end, trans, batch_first=False, reference=False,
                where="crf_viterbi"):
    """Best paths ``best`` (B, T) int64 (-1 at padded steps) and their scores (B,) float64."""
    em, B, T, K, sb, st, lengths, _ = check_crf_args(where, em, start, end, trans, batch_first,
                                                     lengths)
    start, end, trans = contiguous(start), contiguous(end), contiguous(trans)
    best, score = np.empty((B, T), np.int64), np.empty(B)
    bp = np.empty((B, T, K), np.int32)
    work = _work(B, T, K, reference)
    stem = "crf_viterbi_ref" if reference else "crf_viterbi"
    cfunc(stem, em.dtype)(_int_ptr(best), ptr(score), _int_ptr(bp, "int32_t *"),
                          ptr(work), _ptr_em(em), _int_ptr(lengths),
                          ptr(start), ptr(end), ptr(trans), B, T, K, sb, st, CHUNK)
    return best, score
