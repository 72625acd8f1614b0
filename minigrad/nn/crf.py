"""A linear-chain conditional random field (CRF) layer, with pytorch-crf's API (``torchcrf.CRF``).

A tagger scores every tag at every step (the emissions E, e.g. a BiLSTM's output through a
Linear layer); the CRF adds a score for every pair of consecutive tags, so the model picks the
best *sequence* of tags rather than the best tag at each step.

Shapes: T time steps (padded), B sequences, K tags (``num_tags``); L_b the real length of
sequence b (from ``mask`` or ``lengths``; every sequence has L_b >= 1).
    emissions   (T, B, K) float32/float64, or (B, T, K) with ``batch_first=True``
    tags        (T, B) integers in [0, K) at the real steps (any value at padded ones), (B, T) batch-first
    mask        (T, B) bool (or 0/1 integers), (B, T) batch-first: each sequence a prefix of
                Trues, the first step True for every sequence
    lengths     B integers in [1, T] -- the alternative to ``mask`` (give one or neither)
Parameters (pytorch-crf's names, all drawn from U(-0.1, 0.1)):
    start_transitions (K,)   s[j]: score of starting with tag j
    end_transitions (K,)     e[j]: score of ending with tag j
    transitions (K, K)       A[i, j]: score of tag i followed by tag j

Equations, for one sequence y_0 .. y_{L-1}:
    score(y)   = s[y_0] + E_0[y_0] + sum_{t=1}^{L-1} (A[y_{t-1}, y_t] + E_t[y_t]) + e[y_{L-1}]
    p(y | E)   = exp(score(y)) / Z,   Z = sum over all K^L tag sequences y' of exp(score(y'))
The forward algorithm computes log Z in O(L K^2) instead of enumerating K^L paths:
    alpha_0(j) = s[j] + E_0[j]
    alpha_t(j) = logsumexp_i(alpha_{t-1}(i) + A[i, j]) + E_t[j]
    log Z      = logsumexp_j(alpha_{L-1}(j) + e[j])
``forward`` returns the negative log-likelihood  -log p(y | E) = log Z - score(y)  (note:
pytorch-crf's ``CRF.forward`` returns the log-likelihood itself, +log p; minigrad returns the
loss to minimise, like every other loss). Its gradient is expected counts minus observed counts,
with the marginals of the backward (beta) recursion:
    beta_{L-1}(i) = e[i],   beta_{t-1}(i) = logsumexp_j(A[i, j] + E_t[j] + beta_t(j))
    d/d E_t[j]  = p(y_t = j) - [y_t = j],           p(y_t = j) = exp(alpha_t(j) + beta_t(j) - log Z)
    d/d A[i, j] = sum_t p(y_{t-1} = i, y_t = j) - #{t: y_{t-1} = i, y_t = j}
    d/d s[j]    = p(y_0 = j) - [y_0 = j],           d/d e[j] = p(y_{L-1} = j) - [y_{L-1} = j]
``decode`` is the Viterbi algorithm: the forward recursion with max in place of logsumexp,
    delta_0(j) = s[j] + E_0[j],  delta_t(j) = max_i(delta_{t-1}(i) + A[i, j]) + E_t[j],
then the argmaxes are followed back from argmax_j(delta_{L-1}(j) + e[j]); ties go to the
smallest tag index. Both recursions run in C over the whole batch (csrc/crf.c; see
docs/bptt.md for how they relate to backpropagation through time).
"""
import numpy as np

from ..kernels import crf as kcrf
from ..tensor import Function, Tensor
from .argcheck import float_tensor, int_array
from .direction import check_lengths
from .layers import check_dtype, check_size, uniform_
from .module import Module, Parameter

__all__ = ["CRF"]

CRF_REDUCTIONS = ("none", "sum", "mean", "token_mean")


class CRFNegLogLikelihood(Function):
    """-log p(tags | emissions) of every sequence, reduced. Saved: alpha (B, T, K) and log Z (B,)
    of the forward algorithm (float64); ``self.batch`` is the checked call (kernels.crf.CRFBatch:
    emissions, tags (B, T), lengths (B,), parameters), which the backward reuses as it is."""

    def forward(self, em, start, end, trans, tags, lengths, batch_first, reduction):
        self.batch = c = kcrf.prepare("CRF", em, start, end, trans, batch_first, lengths, tags)
        nll, logz, alpha = kcrf.forward(c)
        self.reduction = reduction
        self.save(alpha, logz)
        if reduction == "none":
            return nll.astype(em.dtype)
        self.denom = {"sum": 1, "mean": c.B, "token_mean": int(c.lengths.sum())}[reduction]
        with np.errstate(invalid="ignore", divide="ignore"):    # an empty batch: 0/0 -> nan, as PyTorch
            return np.asarray(nll.sum() / self.denom, dtype=em.dtype)

    def backward(self, g):
        alpha, logz = self.saved
        c = self.batch
        if self.reduction == "none":
            gb = np.asarray(g, np.float64)
        else:
            gb = np.full(c.B, float(g) / self.denom if self.denom else 0.0)
        dem, ds, de, da = kcrf.backward(c, gb, alpha, logz)
        dt = c.em.dtype
        return dem, ds.astype(dt), de.astype(dt), da.astype(dt)


class CRF(Module):
    """Linear-chain CRF over ``num_tags`` tags (see the module docstring for the equations).

    Args:
        num_tags: K, the number of tags (>= 1).
        batch_first: emissions, tags and mask are (B, T, ...) instead of (T, B, ...).
        dtype: np.float32 (default) or np.float64, the parameters' dtype.

    Attributes: ``start_transitions`` (K,), ``end_transitions`` (K,), ``transitions`` (K, K)
    (``transitions[i, j]``: the score of tag i followed by tag j), as pytorch-crf.
    """

    def __init__(self, num_tags, batch_first=False, dtype=np.float32):
        super().__init__()
        self.num_tags = check_size("CRF", "num_tags", num_tags, minimum=1)
        if batch_first not in (True, False):
            raise TypeError(f"CRF: batch_first must be True or False, got {batch_first!r}")
        self.batch_first = bool(batch_first)
        dt = check_dtype("CRF", dtype)
        K = self.num_tags
        self.start_transitions = uniform_(Parameter(np.empty(K, dt)), 0.1)
        self.end_transitions = uniform_(Parameter(np.empty(K, dt)), 0.1)
        self.transitions = uniform_(Parameter(np.empty((K, K), dt)), 0.1)

    def extra_repr(self):
        return f"num_tags={self.num_tags}" + (", batch_first=True" if self.batch_first else "")

    # ------------------------------------------------------------------ argument checks
    def _emissions(self, emissions, fname):
        em = float_tensor(emissions, fname, "emissions")
        K, dt = self.num_tags, self.transitions.dtype
        if em.ndim != 3 or em.shape[2] != K:
            layout = "(B, T, num_tags)" if self.batch_first else "(T, B, num_tags)"
            raise ValueError(f"{fname}: emissions must have shape {layout} with num_tags = {K}, got {em.shape}")
        if em.dtype != dt:
            raise TypeError(f"{fname}: emissions are {em.dtype} but the CRF's parameters are {dt}; "
                            "convert one of them (.double() / .float())")
        return em

    def _lengths(self, em, mask, lengths, fname):
        """(B,) int64 lengths from ``mask`` or ``lengths`` (all T when neither is given)."""
        T, B = (em.shape[1], em.shape[0]) if self.batch_first else em.shape[:2]
        if mask is not None and lengths is not None:
            raise ValueError(f"{fname}: give mask or lengths, not both")
        if lengths is not None:
            try:
                L = check_lengths(lengths, B, T)                       # the recurrent layers' check
            except (TypeError, ValueError) as e:
                raise type(e)(f"{fname}: {e}") from None
            return np.full(B, T, np.int64) if L is None else L
        if mask is None:
            if B and T == 0:
                raise ValueError(f"{fname}: emissions {em.shape} have no time steps; a CRF needs at "
                                 "least one per sequence")
            return np.full(B, T, np.int64)
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        want = (B, T) if self.batch_first else (T, B)
        if m.shape != want:
            raise ValueError(f"{fname}: mask must have shape {want} like the emissions' first two axes, "
                             f"got {m.shape}")
        if m.dtype != np.bool_:
            if m.dtype.kind not in "iu" or (m.size and not np.isin(m, (0, 1)).all()):
                raise TypeError(f"{fname}: mask must be boolean (or 0/1 integers), got dtype {m.dtype}")
            m = m.astype(bool)
        if self.batch_first:
            m = m.T                                                   # (T, B)
        if B and T and not m[0].all():
            raise ValueError(f"{fname}: mask of the first time step must be all True (sequence "
                             f"{int(np.flatnonzero(~m[0])[0])} has an empty start)")
        if B and T == 0:
            raise ValueError(f"{fname}: emissions {em.shape} have no time steps")
        L = m.sum(axis=0).astype(np.int64)
        prefix = np.arange(T)[:, None] < L[None, :]
        if not np.array_equal(prefix, m):
            b = int(np.flatnonzero((prefix != m).any(axis=0))[0])
            raise ValueError(f"{fname}: the mask of sequence {b} is not a prefix of Trues followed by "
                             f"Falses (a gap inside a sequence); pad only at the end")
        return L

    def _tags(self, tags, em, fname):
        """(B, T) int64 tags from (T, B) (or batch-first (B, T)) integers."""
        y = int_array(tags, fname, "tags")
        want = em.shape[:2]
        if y.shape != want:
            raise ValueError(f"{fname}: tags must have shape {want} (the emissions' first two axes), "
                             f"got {y.shape}")
        return np.ascontiguousarray(y if self.batch_first else y.T)

    # ------------------------------------------------------------------ the API
    def forward(self, emissions, tags, mask=None, lengths=None, reduction="mean"):
        """The negative log-likelihood -log p(tags | emissions) (pytorch-crf returns +log p).

        Args:
            emissions: (T, B, K) float tensor or array ((B, T, K) with ``batch_first``).
            tags: (T, B) integers ((B, T) with ``batch_first``), in [0, K) at every real step.
            mask: optional (T, B) bool ((B, T)): True at real steps, a prefix of each sequence.
            lengths: optional B integers in [1, T], the alternative to ``mask``.
            reduction: 'none' -> (B,) per sequence; 'sum'; 'mean' (over the batch: sum / B);
                'token_mean' (sum / number of real tokens).

        Returns:
            A tensor: (B,) for 'none', else a scalar.
        """
        fname = "CRF.forward"
        if not isinstance(reduction, str) or reduction not in CRF_REDUCTIONS:
            raise ValueError(f"{fname}: unknown reduction {reduction!r}; use one of "
                             f"{', '.join(map(repr, CRF_REDUCTIONS))}")
        em = self._emissions(emissions, fname)
        L = self._lengths(em, mask, lengths, fname)
        y = self._tags(tags, em, fname)
        return CRFNegLogLikelihood.apply(em, self.start_transitions, self.end_transitions,
                                         self.transitions, tags=y, lengths=L,
                                         batch_first=self.batch_first, reduction=reduction)

    def decode(self, emissions, mask=None, lengths=None):
        """The most likely tag sequence of every sequence (Viterbi), as B lists of ints, each of its
        own length L_b. Shapes as ``forward``; no gradient is recorded."""
        fname = "CRF.decode"
        em = self._emissions(emissions, fname)
        L = self._lengths(em, mask, lengths, fname)
        best, _ = kcrf.crf_viterbi(em.data, L, self.start_transitions.data, self.end_transitions.data,
                                   self.transitions.data, self.batch_first, where=fname)
        return [row[:n].tolist() for row, n in zip(best, L.tolist())]
