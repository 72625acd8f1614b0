"""A vocabulary: token <-> index, with torchtext's ``Vocab`` API.

    vocab = build_vocab_from_iterator(sentences, min_freq=2, specials=["<pad>", "<unk>"])
    vocab.set_default_index(vocab["<unk>"])     # unknown tokens map here instead of raising
    ids = vocab(["the", "cat"])                 # [int, int]
    vocab.lookup_tokens(ids)                    # ["the", "cat"]

Order (as torchtext): the specials first (or last with ``special_first=False``), then the other
tokens by decreasing frequency, ties broken alphabetically -- so the same corpus always gives the
same indices, whatever order its sentences were read in.
"""
from collections import Counter

import numpy as np

__all__ = ["Vocab", "build_vocab_from_iterator"]


class Vocab:
    """A fixed list of tokens (``itos``) and its inverse (``stoi``).

    Args:
        tokens: the tokens in index order; no duplicates.

    ``vocab[token]`` and ``vocab(tokens)`` raise ``KeyError`` for a token not in the vocabulary
    unless a default index was set with ``set_default_index``.
    """

    def __init__(self, tokens):
        tokens = list(tokens)
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"Vocab: tokens must be str, got {type(t).__name__} {t!r}")
        stoi = {t: i for i, t in enumerate(tokens)}
        if len(stoi) != len(tokens):
            dup = next(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"Vocab: token {dup!r} appears more than once")
        self._itos, self._stoi, self._default = tokens, stoi, None

    def __len__(self):
        return len(self._itos)

    def __contains__(self, token):
        return token in self._stoi

    def __getitem__(self, token):
        i = self._stoi.get(token, self._default)
        if i is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary and no default index is set "
                           "(call set_default_index)")
        return i

    def __call__(self, tokens):
        """The indices of a list of tokens (``lookup_indices``)."""
        return self.lookup_indices(tokens)

    def __repr__(self):
        return f"Vocab({len(self)} tokens, default index {self._default})"

    def set_default_index(self, index):
        """Map unknown tokens to ``index`` (an index into this vocabulary), or raise again with None."""
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"Vocab.set_default_index: index must be an int or None, got {index!r}")
            if not 0 <= index < len(self):
                raise ValueError(f"Vocab.set_default_index: index {index} is outside [0, {len(self)})")
            index = int(index)
        self._default = index

    def get_default_index(self):
        return self._default

    def lookup_indices(self, tokens):
        return [self[t] for t in tokens]

    def lookup_token(self, index):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self):
            raise IndexError(f"Vocab.lookup_token: index {index!r} is outside [0, {len(self)})")
        return self._itos[index]

    def lookup_tokens(self, indices):
        return [self.lookup_token(i) for i in indices]

    def get_itos(self):
        return list(self._itos)

    def get_stoi(self):
        return dict(self._stoi)

    def state_dict(self):
        """What ``mg.save`` needs to rebuild the vocabulary: its tokens and default index."""
        return {"itos": list(self._itos), "default_index": -1 if self._default is None else self._default}

    @classmethod
    def from_state_dict(cls, state):
        vocab = cls(state["itos"])
        default = int(state["default_index"])
        vocab.set_default_index(None if default < 0 else default)
        return vocab


def build_vocab_from_iterator(iterator, min_freq=1, specials=None, special_first=True, max_tokens=None):
    """A ``Vocab`` of every token seen at least ``min_freq`` times in ``iterator``.

    Args:
        iterator: yields lists (or other iterables) of str tokens, e.g. one per sentence.
        min_freq: tokens seen fewer times are left out (map them to ``<unk>`` with a default index).
        specials: tokens placed first (``special_first``) or last, whatever their count.
        max_tokens: the largest vocabulary size, specials included; the most frequent tokens stay.
    """
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"build_vocab_from_iterator: min_freq must be an int >= 1, got {min_freq!r}")
    specials = list(specials or [])
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens <= len(specials)):
        raise ValueError(f"build_vocab_from_iterator: max_tokens must be an int > len(specials) = "
                         f"{len(specials)}, got {max_tokens!r}")
    counts = Counter()
    for tokens in iterator:
        if isinstance(tokens, str):
            raise TypeError("build_vocab_from_iterator: the iterator must yield lists of tokens, got a str "
                            f"({tokens[:20]!r}); split it first")
        counts.update(tokens)
    special_set = set(specials)
    ranked = sorted((t for t, n in counts.items() if n >= min_freq and t not in special_set),
                    key=lambda t: (-counts[t], t))
    if max_tokens is not None:
        ranked = ranked[:max_tokens - len(specials)]
    return Vocab(specials + ranked if special_first else ranked + specials)
