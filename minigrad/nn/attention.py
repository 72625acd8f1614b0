"""Attention for encoder-decoder models: additive (Bahdanau) and multiplicative (Luong) scores.

Shape legend: B batch, S source positions, Tq queries per batch item (1 while decoding step by
step), Hq query size (the decoder state), Hk key size (the encoder output, D*H_enc when
bidirectional), A the additive attention's hidden size.

Given queries q (B, Tq, Hq), keys k (B, S, Hk) -- the encoder outputs, which are also the
values -- and a boolean mask (B, S) that is True at real source positions:

    additive  (Bahdanau)    e_{b,t,s} = v^T tanh(W q_{b,t} + b + U k_{b,s})        W (A, Hq), U (A, Hk), v (A,)
    dot       (Luong)       e_{b,t,s} = q_{b,t} . k_{b,s}                          needs Hq == Hk
    general   (Luong)       e_{b,t,s} = q_{b,t}^T W_a k_{b,s}                      W_a (Hq, Hk)

    e'_{b,t,s} = e_{b,t,s} if mask[b, s] else -inf
    a_{b,t,:}  = softmax_s(e'_{b,t,:})                 (B, Tq, S)   the attention weights
    c_{b,t}    = sum_s a_{b,t,s} k_{b,s}               (B, Tq, Hk)  the context vector

Masking with -inf (through ``where``) makes a padded position's weight exactly 0 (exp(-inf) = 0)
and its gradient exactly 0: ``where`` sends no gradient to the replaced scores, and the softmax
backward ``a * (g - sum(g a))`` is 0 where a is 0. So padding can never leak into the context.
Every source sequence must have at least one real position (else a row is all -inf -> nan).

Everything is vectorised over the batch and the source positions: the key-side term (U k for
additive, W_a k for general, the transposed keys for dot) does not depend on the query, so
:meth:`Attention.memory` computes it ONCE per source sequence; each decoder step then costs one
small projection of the query, one batched matmul (or a broadcast add + tanh + GEMV for additive)
for the scores, and one batched matmul (B, Tq, S) @ (B, S, Hk) for the context.
"""
import math

import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import Tensor
from .layers import Linear, uniform_
from .module import Module, Parameter

#: The attention score functions (``Attention(kind=...)``), and other accepted names for them.
ATTENTION_KINDS = ("bahdanau", "dot", "general")
ATTENTION_ALIASES = {"additive": "bahdanau", "luong": "general", "multiplicative": "general"}


def attention_kind(kind, allow_none=False):
    """The canonical attention kind of ``kind`` (an entry of ATTENTION_KINDS or an alias); with
    ``allow_none``, None and 'none' give None. Raises ValueError naming the accepted names."""
    if allow_none and kind in (None, "none"):
        return None
    k = ATTENTION_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if k not in ATTENTION_KINDS:
        head = "attention must be None, 'none' or" if allow_none else "attention kind must be"
        raise ValueError(f"{head} one of {ATTENTION_KINDS} (or {tuple(ATTENTION_ALIASES)}), "
                         f"got {kind!r}")
    return k


class AttentionMemory:
    """What attention needs of one batch of source sequences, prepared once.

    ``values`` (B, S, Hk) the keys/values; ``proj`` the precomputed key-side term ((B, S, A) for
    additive, (B, Hq, S) for general and dot, transposed so a step's scores are one batched
    matmul); ``mask`` (B, S) bool, True at real positions. :meth:`index` selects or repeats batch
    rows (beam search runs B*beam rows).
    """

    __slots__ = ("values", "proj", "mask")

    def __init__(self, values, proj, mask):
        self.values, self.proj, self.mask = values, proj, mask

    @property
    def batch_size(self):
        return self.values.shape[0]

    def index(self, rows):
        """A memory of the batch rows ``rows`` (an int array; repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64)
        return AttentionMemory(self.values[rows], self.proj[rows], self.mask[rows])


def make_mask(lengths, S, B):
    """(B, S) bool mask, True at positions s < lengths[b] (all True when ``lengths`` is None)."""
    if lengths is None:
        return np.ones((B, S), dtype=bool)
    lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if lengths.shape != (B,):
        raise ValueError(f"attention: lengths must have shape ({B},), got {lengths.shape}")
    if B and (lengths.min() < 1 or lengths.max() > S):
        raise ValueError(f"attention: lengths must lie in [1, {S}], got min {lengths.min()} max {lengths.max()}")
    return np.arange(S)[None, :] < lengths[:, None]


class Attention(Module):
    """Additive (``'bahdanau'``) or multiplicative (``'dot'``, ``'general'``) attention.

    ``attn = Attention(query_size, key_size, kind)``; ``mem = attn.memory(keys, mask)`` once per
    source batch; then ``context, weights = attn(query, mem)`` with query (B, Hq) -> context
    (B, Hk), weights (B, S), or query (B, Tq, Hq) -> (B, Tq, Hk), (B, Tq, S).
    Parameters: additive ``W`` (Linear Hq -> A with bias), ``U`` (Linear Hk -> A, no bias), ``v``
    (A,); general ``W_a`` (Linear Hk -> Hq, no bias, so ``W_a k`` is precomputed); dot none.
    """

    def __init__(self, query_size, key_size, kind="bahdanau", attn_size=None, dtype=np.float32):
        super().__init__()
        kind = attention_kind(kind)
        if kind == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs query_size == key_size, got {query_size} and {key_size}; "
                             "use 'general' to learn a (query, key) matrix")
        self.kind, self.query_size, self.key_size = kind, int(query_size), int(key_size)
        if kind == "bahdanau":
            self.attn_size = int(attn_size or query_size)
            self.W = Linear(query_size, self.attn_size, dtype=dtype)
            self.U = Linear(key_size, self.attn_size, bias=False, dtype=dtype)
            self.v = uniform_(Parameter(np.empty((self.attn_size,), dtype)), 1.0 / math.sqrt(self.attn_size))
        elif kind == "general":
            self.W_a = Linear(key_size, query_size, bias=False, dtype=dtype)

    def memory(self, keys, mask=None):
        """Prepare keys (B, S, Hk) and mask (B, S) (True = real position) for repeated queries."""
        if keys.ndim != 3 or keys.shape[2] != self.key_size:
            raise ValueError(f"attention: keys must have shape (B, S, {self.key_size}), got {keys.shape}")
        B, S, _ = keys.shape
        if mask is None:
            mask = np.ones((B, S), dtype=bool)
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.shape != (B, S) or mask.dtype != np.bool_:
            raise ValueError(f"attention: mask must be a bool array of shape ({B}, {S}), "
                             f"got {mask.dtype} {mask.shape}")
        if self.kind == "bahdanau":
            proj = self.U(keys)                                    # (B, S, A)
        elif self.kind == "general":
            proj = self.W_a(keys).transpose(1, 2)                  # (B, Hq, S)
        else:
            proj = keys.transpose(1, 2)                            # (B, Hk, S)
        return AttentionMemory(keys, proj, mask)

    def scores(self, q, mem):
        """Unmasked scores (B, Tq, S) for queries q (B, Tq, Hq)."""
        if self.kind == "bahdanau":
            B, Tq, _ = q.shape
            wq = self.W(q).reshape(B, Tq, 1, self.attn_size)       # (B, Tq, 1, A)
            A = mem.proj.shape[2]
            hidden = ops.tanh(wq + mem.proj.reshape(B, 1, mem.proj.shape[1], A))   # (B, Tq, S, A)
            return hidden @ self.v                                 # (B, Tq, S): one GEMV over all rows
        return q @ mem.proj                                        # (B, Tq, Hq) @ (B, Hq, S)

    def forward(self, query, mem):
        single = query.ndim == 2
        if query.ndim not in (2, 3) or query.shape[-1] != self.query_size:
            raise ValueError(f"attention: query must have shape (B, {self.query_size}) or "
                             f"(B, Tq, {self.query_size}), got {query.shape}")
        B = query.shape[0]
        if B != mem.batch_size:
            raise ValueError(f"attention: query batch {B} does not match the memory's batch {mem.batch_size}")
        q = query.reshape(B, 1, self.query_size) if single else query
        e = self.scores(q, mem)                                    # (B, Tq, S)
        e = ops.where(mem.mask[:, None, :], e, -np.inf)            # padded positions -> -inf
        a = F.softmax(e, axis=-1)                                  # exactly 0 at padded positions
        ctx = a @ mem.values                                       # (B, Tq, S) @ (B, S, Hk)
        if single:
            return ctx.reshape(B, self.key_size), a.reshape(B, a.shape[2])
        return ctx, a

    def extra_repr(self):
        s = f"{self.query_size}, {self.key_size}, kind={self.kind!r}"
        return s + (f", attn_size={self.attn_size}" if self.kind == "bahdanau" else "")
