"""minigrad.text: turning text into index arrays for the embedding layers.

``Vocab`` and ``build_vocab_from_iterator`` keep torchtext's names and behaviour (torchtext is
retired, but its vocabulary API is what tutorials use). The corpus readers for the examples
(CoNLL, CoNLL-U, SST) live next to it in this package.
"""
from .vocab import Vocab, build_vocab_from_iterator
from .conll import (CorpusFormatError, bio_to_iobes, iob1_to_bio, iobes_to_bio, read_conll,
                    read_conllu)
from .sst import read_sst2_tsv, read_stsa

__all__ = ["Vocab", "build_vocab_from_iterator"]
__all__ += ["read_sst2_tsv", "read_stsa"]
__all__ += ["CorpusFormatError", "read_conll", "read_conllu", "iob1_to_bio", "bio_to_iobes", "iobes_to_bio"]
