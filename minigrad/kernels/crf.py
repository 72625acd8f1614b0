"""Bindings of the linear-chain CRF kernels (csrc/crf.h, references in csrc/crf_ref.c).

Shapes: B sequences, T padded length, K tags. Emissions are (T, B, K) (time first) or
(B, T, K) (``batch_first``), float32 or float64, read in place with their two outer strides;
``start``/``end`` (K,) and ``trans`` (K, K) share their dtype. ``tags`` is (B, T) and
``lengths`` (B,) integers, L_b in [1, T]; only ``tags[b, :L_b]`` is read, each in [0, K).
The C side computes in double: ``nll``, ``logz``, ``alpha`` and the parameter gradients come
back as float64 (the caller rounds to its dtype), ``dem`` in the emissions' dtype and layout.

Two steps: :func:`prepare` runs every check the C code relies on (dtypes, shapes, lengths and
tags in range, finite values; ``where`` names the caller in the messages) and returns a
:class:`CRFBatch`; :func:`forward`, :func:`backward` and :func:`viterbi` run the kernels on it,
so a forward's batch serves its backward without a second round of checks.
``crf_forward``/``crf_backward``/``crf_viterbi`` do both in one call.
"""
from typing import NamedTuple, Optional

import numpy as np

from .common import cfunc, check_float_array, contiguous, describe, ffi, ptr

# Sequences per workspace slot: the fixed grouping that makes d trans bitwise identical for any
# thread count (csrc/crf.h, Threads). Small enough that B = 32 still splits over 2 threads.
CHUNK = 4


def _int_ptr(a, ctype="int64_t *"):
    """A typed pointer to integer array ``a``; like ``ptr``, it does not keep ``a`` alive: the
    caller holds every array it passes in a variable until the C call returns."""
    return ffi.cast(ctype, ffi.from_buffer(a, require_writable=False))


def _work(B, T, K, reference):
    """The double workspace of crf.h: fast kernels 3K^2 + 2K + ceil(B/CHUNK)(K^2 + 6K),
    references (T + 1) K."""
    n = 3 * K * K + 2 * K + -(-B // CHUNK) * (K * K + 6 * K)
    return np.empty(max(n, (T + 1) * K) if reference else n, np.float64)


class CRFBatch(NamedTuple):
    """One checked CRF call, ready for the kernels: ``em`` C-contiguous (and ``dem`` will have its
    layout), ``lengths`` (B,) and ``tags`` (B, T) C-contiguous int64 (tags None for Viterbi),
    the parameters C-contiguous in em's dtype, and the element strides (sb, st) of em."""
    em: np.ndarray
    tags: Optional[np.ndarray]
    lengths: np.ndarray
    start: np.ndarray
    end: np.ndarray
    trans: np.ndarray
    B: int
    T: int
    K: int
    sb: int
    st: int


def prepare(where, em, start, end, trans, batch_first, lengths=None, tags=None):
    """Validate one CRF call and return its :class:`CRFBatch` (copies only after every check).

    ``lengths`` None means every sequence has length T; ``tags`` None means no tags (Viterbi).
    Raises TypeError/ValueError naming ``where``, the argument, its shape and dtype or values."""
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
        if lengths.size and lengths.min() == T:
            real = tags                                            # no padding: every tag is read
        else:
            real = tags[np.arange(T)[None, :] < lengths[:, None]]  # the real (unpadded) steps
        if real.size and (real.min() < 0 or real.max() >= K):
            bad = int(real[(real < 0) | (real >= K)][0])
            raise ValueError(f"{where}: tags hold {bad} at a real (unmasked) step; tags must lie in "
                             f"[0, {K}) for K = {K} tags")
    for name, a in (("emissions", em), ("start_transitions", start), ("end_transitions", end),
                    ("transitions", trans)):
        if not np.isfinite(a).all():
            raise ValueError(f"{where}: {name} {describe(a)} holds NaN or infinite values (to forbid "
                             "a transition use a large negative score such as -1e4)")
    if tags is not None:
        tags = np.ascontiguousarray(tags, np.int64)
    em = contiguous(em)
    sb, st = (T * K, K) if batch_first else (K, B * K)   # element strides of the sequence and time axes
    return CRFBatch(em, tags, lengths, contiguous(start), contiguous(end), contiguous(trans),
                    B, T, K, sb, st)


def forward(c, reference=False):
    """Per-sequence ``nll`` (B,), ``logz`` (B,) and ``alpha`` (B, T, K), all float64 (crf.h), of the
    :class:`CRFBatch` ``c`` (which must have tags). ``reference``: the naive kernel (tests)."""
    if c.tags is None:
        raise ValueError("crf forward: the batch has no tags (prepare(..., tags=...) them first)")
    nll, logz, alpha = np.empty(c.B), np.empty(c.B), np.empty((c.B, c.T, c.K))
    work = _work(c.B, c.T, c.K, reference)
    cfunc("crf_forward_ref" if reference else "crf_forward", c.em.dtype)(
        ptr(nll), ptr(logz), ptr(alpha), ptr(work), ptr(c.em), _int_ptr(c.tags), _int_ptr(c.lengths),
        ptr(c.start), ptr(c.end), ptr(c.trans), c.B, c.T, c.K, c.sb, c.st, CHUNK)
    return nll, logz, alpha


def backward(c, g, alpha, logz, reference=False):
    """Gradients of sum_b g[b] * nll_b (g: B floats): ``dem`` (em's shape and dtype, zero at padded
    steps) and float64 ``dstart`` (K,), ``dend`` (K,), ``dtrans`` (K, K). ``alpha``/``logz``
    are :func:`forward`'s for the same batch."""
    if c.tags is None:
        raise ValueError("crf backward: the batch has no tags (prepare(..., tags=...) them first)")
    g = np.ascontiguousarray(g, np.float64)
    if g.shape != (c.B,) or alpha.shape != (c.B, c.T, c.K) or logz.shape != (c.B,) \
            or alpha.dtype != np.float64 or logz.dtype != np.float64:
        raise ValueError(f"crf backward: g {describe(g)}, alpha {describe(alpha)}, logz {describe(logz)} "
                         f"do not match B={c.B}, T={c.T}, K={c.K} (float64)")
    alpha, logz = contiguous(alpha), contiguous(logz)
    dem = np.empty(c.em.shape, c.em.dtype)
    dstart, dend, dtrans = np.empty(c.K), np.empty(c.K), np.empty((c.K, c.K))
    work = _work(c.B, c.T, c.K, reference)
    cfunc("crf_backward_ref" if reference else "crf_backward", c.em.dtype)(
        ptr(dem), ptr(dstart), ptr(dend), ptr(dtrans), ptr(work), ptr(g), ptr(alpha), ptr(logz),
        ptr(c.em), _int_ptr(c.tags), _int_ptr(c.lengths), ptr(c.start), ptr(c.end), ptr(c.trans),
        c.B, c.T, c.K, c.sb, c.st, CHUNK)
    return dem, dstart, dend, dtrans


def viterbi(c, reference=False):
    """Best paths ``best`` (B, T) int64 (-1 at padded steps) and their scores (B,) float64."""
    best, score = np.empty((c.B, c.T), np.int64), np.empty(c.B)
    bp = np.empty((c.B, c.T, c.K), np.int32)
    work = _work(c.B, c.T, c.K, reference)
    cfunc("crf_viterbi_ref" if reference else "crf_viterbi", c.em.dtype)(
        _int_ptr(best), ptr(score), _int_ptr(bp, "int32_t *"), ptr(work), ptr(c.em),
        _int_ptr(c.lengths), ptr(c.start), ptr(c.end), ptr(c.trans), c.B, c.T, c.K, c.sb, c.st, CHUNK)
    return best, score


# One-call forms (checks + kernel), for tests and direct use.
def crf_forward(em, tags, lengths, start, end, trans, batch_first=False, reference=False,
                where="crf_forward"):
    """:func:`forward` of ``prepare(...)``: ``nll``, ``logz``, ``alpha``."""
    return forward(prepare(where, em, start, end, trans, batch_first, lengths, tags), reference)


def crf_backward(g, alpha, logz, em, tags, lengths, start, end, trans, batch_first=False,
                 reference=False, where="crf_backward"):
    """:func:`backward` of ``prepare(...)``: ``dem``, ``dstart``, ``dend``, ``dtrans``."""
    return backward(prepare(where, em, start, end, trans, batch_first, lengths, tags), g, alpha, logz,
                    reference)


def crf_viterbi(em, lengths, start, end, trans, batch_first=False, reference=False,
                where="crf_viterbi"):
    """:func:`viterbi` of ``prepare(...)``: ``best`` (B, T) and ``score`` (B,)."""
    return viterbi(prepare(where, em, start, end, trans, batch_first, lengths), reference)
