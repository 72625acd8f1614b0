"""A character-level word encoder for taggers: a BiLSTM over each word's characters (Lample et
al. 2016, "Neural Architectures for Named Entity Recognition", section 4.1).

Every word is spelled as a row of character ids; the encoder embeds the characters, runs a
bidirectional LSTM over each word and concatenates the forward direction's final state (after
the word's last character) with the backward direction's final state (after it has read back to
the word's FIRST character). The vector captures prefixes, suffixes and capitalisation, which a
word-embedding table cannot for rare or unseen words.

Shapes: ``...`` any leading shape (e.g. (T, B) or (B, T) words of a batch of sentences),
L the longest spelling, C ``num_chars``, E ``embedding_dim``, H ``hidden_size``,
D = 2 if bidirectional else 1:
    chars    (..., L) integers in [0, C): word w's characters in chars[w, :lengths[w]]; the
             slots after a word's end are ignored (conventionally ``padding_idx``)
    lengths  (...) integers in [0, L]; a length-0 word (an empty padding slot) gives zeros
    output   (..., D*H): [h_fwd(last char), h_bwd(first char)] (just h_fwd when not bidirectional)

All the words of all sentences go through ONE ``nn.LSTM`` call with ``lengths=`` (time-first
(L', N, E) with N the non-empty words and L' their longest length): no Python loop over words.
``dropout`` (inverted, training only) is applied to the character embeddings.
"""
import numpy as np

from .. import ops
from ..tensor import Tensor
from .argcheck import int_array
from .layers import Dropout, Embedding, check_dtype, check_size
from .module import Module
from .rnn import LSTM

__all__ = ["CharEncoder"]


class CharEncoder(Module):
    """Char-BiLSTM word features (see the module docstring).

    Args:
        num_chars: C, the size of the character vocabulary.
        embedding_dim: E, the character embedding width (default 25, as Lample et al.).
        hidden_size: H, the LSTM width per direction (default 25).
        padding_idx: the padding character id (its embedding row is zero and gets no gradient),
            or None.
        bidirectional: concatenate both directions (True, default) or use the forward one only.
        dropout: dropout probability on the character embeddings while training.
        dtype: np.float32 (default) or np.float64.

    Submodules: ``embedding`` (nn.Embedding (C, E)), ``lstm`` (nn.LSTM(E, H, bidirectional)),
    ``dropout`` (nn.Dropout). ``output_size`` is D*H.
    """

    def __init__(self, num_chars, embedding_dim=25, hidden_size=25, padding_idx=0, bidirectional=True,
                 dropout=0.0, dtype=np.float32):
        super().__init__()
        num_chars = check_size("CharEncoder", "num_chars", num_chars, minimum=1)
        if bidirectional not in (True, False):
            raise TypeError(f"CharEncoder: bidirectional must be True or False, got {bidirectional!r}")
        dtype = check_dtype("CharEncoder", dtype)
        self.embedding = Embedding(num_chars, embedding_dim, padding_idx=padding_idx, dtype=dtype)
        self.lstm = LSTM(self.embedding.embedding_dim, hidden_size, bidirectional=bool(bidirectional),
                         dtype=dtype)
        self.dropout = Dropout(dropout)
        self.num_chars, self.padding_idx = num_chars, self.embedding.padding_idx
        self.bidirectional = bool(bidirectional)
        self.output_size = self.lstm.hidden_size * (2 if self.bidirectional else 1)

    def extra_repr(self):
        return (f"{self.num_chars}, embedding_dim={self.embedding.embedding_dim}, "
                f"hidden_size={self.lstm.hidden_size}, bidirectional={self.bidirectional}")

    def _check(self, chars, lengths):
        """(N, L) int64 chars with every slot past a word's end set to the padding id, (N,) lengths,
        and the leading shape."""
        fname = "CharEncoder"
        c = int_array(chars, fname, "chars")
        if c.ndim < 1:
            raise ValueError(f"{fname}: chars must have shape (..., L) (one row of character ids per "
                             f"word), got a 0-d value")
        lead, L = c.shape[:-1], c.shape[-1]
        n = int(np.prod(lead, dtype=np.int64))
        ln = int_array(lengths, fname, "lengths")
        if ln.shape != lead:
            raise ValueError(f"{fname}: lengths must have shape {lead} (one per word of chars {c.shape}), "
                             f"got {ln.shape}")
        ln = ln.reshape(n)
        if n and (ln.min() < 0 or ln.max() > L):
            raise ValueError(f"{fname}: lengths must lie in [0, {L}] (L, the padded spelling length), got "
                             f"min {ln.min()} max {ln.max()}")
        c = c.reshape(n, L)
        real = np.arange(L)[None, :] < ln[:, None]                       # (N, L)
        ids = c[real]
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_chars):
            bad = int(ids[(ids < 0) | (ids >= self.num_chars)][0])
            raise IndexError(f"{fname}: character id {bad} is out of range for num_chars={self.num_chars}; "
                             f"ids inside a word must lie in [0, {self.num_chars})")
        pad = 0 if self.padding_idx is None else self.padding_idx
        return np.where(real, c, pad), ln, lead

    def forward(self, chars, lengths):
        """Word vectors (..., D*H) of the words spelled by ``chars`` (..., L) with ``lengths`` (...)."""
        c, ln, lead = self._check(chars, lengths)
        dt = self.embedding.weight.dtype
        words = np.flatnonzero(ln > 0)                                  # the non-empty words
        if words.size == 0:
            return Tensor(np.zeros(lead + (self.output_size,), dt), dtype=dt)
        wl = ln[words]
        x = self.embedding(c[words, :int(wl.max())].T)                  # (L', M, E), time-first
        _, (h_n, _) = self.lstm(self.dropout(x), lengths=wl)           # h_n (D, M, H)
        feats = ops.concat([h_n[0], h_n[1]], axis=1) if self.bidirectional else h_n[0]   # (M, D*H)
        if words.size < ln.size:     # put zero rows at the empty words: row 0 of [0; feats]
            slot = np.zeros(ln.size, np.int64)
            slot[words] = np.arange(1, words.size + 1)
            zero = Tensor(np.zeros((1, self.output_size), dt), dtype=dt)
            feats = ops.concat([zero, feats], axis=0)[slot]
        return feats.reshape(lead + (self.output_size,))
