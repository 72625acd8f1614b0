"""Corpus readers for sequence labelling: CoNLL-2003 (NER) and CoNLL-U (Universal Dependencies).

    sents = read_conll("eng.train", scheme="iob1")          # [(words, tags)], tags converted to BIO
    sents = read_conllu("en_ewt-ud-train.conllu")           # [(words, upos)]
    iobes = bio_to_iobes(tags)                              # train with IOBES (Lample et al. 2016) ...
    bio = iobes_to_bio(iobes)                               # ... and evaluate in BIO again

CoNLL-2003 files have one token per line, space-separated columns ``word POS chunk NER``, a blank
line between sentences and ``-DOCSTART-`` lines between documents. The original release tags with
IOB1 (``I-X`` opens an entity; ``B-X`` only where two entities of the same type touch); most copies
on the web use IOB2 = BIO (every entity opens with ``B-X``). ``read_conll`` converts either to BIO.

CoNLL-U has ten tab-separated columns (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC),
``#`` comment lines and a blank line after each sentence. Multiword-token lines (ID ``1-2``, the
surface form of words that follow) and empty nodes (ID ``1.1``) are not words of the sentence and
are skipped, as taggers do.

A malformed file raises ``CorpusFormatError`` naming the file, the line number and what was expected.
"""
import re

from .sst import _lines     # (line number, text) per line; a non-UTF-8 line is named

__all__ = ["CorpusFormatError", "read_conll", "read_conllu", "iob1_to_bio", "bio_to_iobes", "iobes_to_bio"]

_SCHEMES = ("iob1", "iob2", "bio", "iobes", None)
# a chunk tag: O, or a prefix, a dash and a type
_TAG = {"iob1": re.compile(r"O|[BI]-.+"), "iob2": re.compile(r"O|[BI]-.+"), "bio": re.compile(r"O|[BI]-.+"),
        "iobes": re.compile(r"O|[BIES]-.+")}
_CONLLU_ID = re.compile(r"\d+")
_CONLLU_SKIPPED_ID = re.compile(r"\d+-\d+|\d+\.\d+")     # multiword-token ranges and empty nodes
CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


class CorpusFormatError(ValueError):
    """A corpus file is not in the expected format; the message names the file and the line."""

    def __init__(self, path, lineno, message):
        super().__init__(f"{path}, line {lineno}: {message}")
        self.path, self.lineno = path, lineno


# ------------------------------------------------------------------------------ tag schemes
def iob1_to_bio(tags):
    """IOB1 (or any I-without-B tagging) -> BIO: an ``I-X`` that does not continue an X entity
    (after ``O`` or another type) opens one, so becomes ``B-X``. BIO input comes back unchanged."""
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def bio_to_iobes(tags):
    """BIO -> IOBES: a one-token entity is ``S-X``, the last token of a longer one ``E-X``.
    A stray ``I-X`` that opens an entity is read as ``B-X`` first (``iob1_to_bio``)."""
    tags = iob1_to_bio(tags)
    out = []
    for i, tag in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        continues = nxt == "I-" + tag[2:]           # the entity goes on into the next token
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def iobes_to_bio(tags):
    """IOBES -> BIO: ``S-X`` -> ``B-X``, ``E-X`` -> ``I-X`` (the rest unchanged)."""
    return ["B-" + t[2:] if t.startswith("S-") else "I-" + t[2:] if t.startswith("E-") else t for t in tags]


# ---------------------------------------------------------------------------------- readers
def read_conll(path, scheme="iob1", tag_column=-1, to="bio"):
    """Sentences of a CoNLL-2003-style file as a list of ``(words, tags)`` pairs of str lists.

    Args:
        path: the file (UTF-8; space- or tab-separated columns, the word first).
        scheme: the file's tagging, ``"iob1"`` (the original CoNLL-2003 release), ``"iob2"``/``"bio"``,
            ``"iobes"``, or ``None`` for tags that are not chunk tags (no check, no conversion).
        tag_column: which column holds the tag (default the last).
        to: ``"bio"`` or ``"iobes"``: the scheme of the tags returned (ignored with ``scheme=None``).

    Every token line must have the same number of columns (at least two) as the file's first one,
    and each tag must fit ``scheme``; otherwise ``CorpusFormatError`` names the line.
    """
    if scheme not in _SCHEMES:
        raise ValueError(f"read_conll: scheme must be one of {_SCHEMES}, got {scheme!r}")
    if to not in ("bio", "iobes"):
        raise ValueError(f"read_conll: to must be 'bio' or 'iobes', got {to!r}")
    pattern = _TAG.get(scheme)
    sentences, words, tags, ncols = [], [], [], None

    def flush():
        if words:
            bio = list(tags) if scheme is None else iob1_to_bio(iobes_to_bio(tags))
            sentences.append((list(words), bio_to_iobes(bio) if scheme is not None and to == "iobes" else bio))
            words.clear()
            tags.clear()

    for lineno, line in _lines(path):
        cols = line.split()
        if not cols:
            flush()
            continue
        if cols[0] == "-DOCSTART-":
            flush()
            continue
        if ncols is None:
            if len(cols) < 2:
                raise CorpusFormatError(path, lineno, f"expected a word and its tag separated by a space, "
                                        f"got {line!r}")
            if not -len(cols) <= tag_column < len(cols):
                raise CorpusFormatError(path, lineno, f"tag_column {tag_column} does not exist in a line of "
                                        f"{len(cols)} columns: {line!r}")
            ncols = len(cols)
        elif len(cols) != ncols:
            raise CorpusFormatError(path, lineno, f"expected {ncols} columns as on the file's first token "
                                    f"line, got {len(cols)}: {line!r}")
        tag = cols[tag_column]
        if pattern is not None and not pattern.fullmatch(tag):
            allowed = "O, B-X or I-X" if scheme != "iobes" else "O, B-X, I-X, E-X or S-X"
            raise CorpusFormatError(path, lineno, f"expected a {scheme.upper()} tag ({allowed}) in column "
                                    f"{tag_column}, got {tag!r}")
        words.append(cols[0])
        tags.append(tag)
    flush()
    return sentences


def read_conllu(path, column="upos"):
    """Sentences of a CoNLL-U file as a list of ``(words, tags)`` pairs, the tags from ``column``
    (a CoNLL-U column name: ``"upos"`` by default, or ``"xpos"``, ``"deprel"``, ...).

    Comment lines (``#``) are skipped, and so are multiword-token ranges (``1-2``) and empty
    nodes (``1.1``): the words of a sentence are its integer-ID lines, which must be numbered
    1, 2, 3, ... Each such line needs exactly ten tab-separated columns.
    """
    if column not in CONLLU_COLUMNS:
        raise ValueError(f"read_conllu: column must be one of {CONLLU_COLUMNS}, got {column!r}")
    col = CONLLU_COLUMNS.index(column)
    sentences, words, tags = [], [], []
    for lineno, line in _lines(path):
        if not line.strip():
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise CorpusFormatError(path, lineno, f"expected 10 tab-separated CoNLL-U columns "
                                    f"(ID FORM LEMMA UPOS ...), got {len(cols)}: {line!r}")
        if _CONLLU_SKIPPED_ID.fullmatch(cols[0]):
            continue
        if not _CONLLU_ID.fullmatch(cols[0]):
            raise CorpusFormatError(path, lineno, f"expected a word ID (1, 2, ...), a range (1-2) or an "
                                    f"empty node (1.1) in the first column, got {cols[0]!r}")
        if int(cols[0]) != len(words) + 1:
            raise CorpusFormatError(path, lineno, f"expected word ID {len(words) + 1} (IDs count up from 1 "
                                    f"in each sentence; is a blank line missing?), got {cols[0]}")
        words.append(cols[1])
        tags.append(cols[col])
    if words:
        sentences.append((words, tags))
    return sentences
