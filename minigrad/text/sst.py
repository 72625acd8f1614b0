"""Readers for the Stanford Sentiment Treebank (SST) files the sentiment example trains on.

Two formats are in common use, both already tokenised (tokens separated by single spaces):

* GLUE SST-2 (``train.tsv``, ``dev.tsv``): a header line ``sentence<TAB>label``, then one
  ``<sentence><TAB><0|1>`` per line. GLUE's ``test.tsv`` has no labels: header
  ``index<TAB>sentence``, then ``<int><TAB><sentence>``. The training file holds 67,349 phrases
  (every sub-phrase of the training sentences), not sentences.
* ``stsa.binary.{train,dev,test}`` (Kim 2014's sentence-level split, with a labelled test set)
  and ``stsa.fine.*`` (five classes): one ``<label> <sentence>`` per line.

    sents, labels = read_sst2_tsv("sst2/train.tsv", lowercase=True)   # labels: list of int
    sents, labels = read_stsa("sst2/stsa.binary.test")                  # num_classes=2
    sents, indices = read_sst2_tsv("sst2/test.tsv")                     # unlabelled: GLUE's indices

Each sentence comes back as a list of str tokens (``str.split()``); the readers check every line
and raise ``ValueError`` naming the file, the line number and what was expected, so a truncated
or foreign file fails at once instead of training on garbage.
"""
__all__ = ["read_sst2_tsv", "read_stsa"]

LABELLED_HEADER = ("sentence", "label")       # GLUE train.tsv / dev.tsv
UNLABELLED_HEADER = ("index", "sentence")     # GLUE test.tsv


def _lines(path):
    """Yield (line number from 1, text without the line break), decoding UTF-8 line by line so a
    bad byte is reported with its line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}, line {n}: not UTF-8 text ({e.reason} at byte {e.start})") from None
            yield n, text.rstrip("\r\n")


def _tokens(path, n, sentence, lowercase):
    toks = (sentence.lower() if lowercase else sentence).split()
    if not toks:
        raise ValueError(f"{path}, line {n}: expected a sentence, got an empty one")
    return toks


def _int_field(path, n, field, what, line):
    try:
        return int(field)
    except ValueError:
        raise ValueError(f"{path}, line {n}: expected {what}, got {field!r} in {line[:80]!r}") from None


def read_sst2_tsv(path, lowercase=False):
    """Read a GLUE SST-2 TSV file: ``(sentences, labels)``, or ``(sentences, indices)`` for the
    unlabelled ``test.tsv`` (recognised by its ``index<TAB>sentence`` header).

    Args:
        path: the file.
        lowercase: lowercase every token (GLUE's files are lowercase already; others may not be).

    Returns:
        ``sentences``: a list of token lists; ``labels``: a list of 0/1 ints (or GLUE's integer
        indices for the unlabelled file), one per sentence.
    """
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise ValueError(f"{path}: the file is empty; expected the header line 'sentence<TAB>label' "
                         "(or 'index<TAB>sentence' for GLUE's unlabelled test.tsv)")
    header = tuple(first[1].strip().split("\t"))
    if header not in (LABELLED_HEADER, UNLABELLED_HEADER):
        raise ValueError(f"{path}, line 1: expected the header 'sentence<TAB>label' or 'index<TAB>sentence', "
                         f"got {first[1][:80]!r}")
    labelled = header == LABELLED_HEADER
    sentences, values = [], []
    for n, line in lines:
        if not line.strip():
            continue                               # a trailing blank line is harmless
        fields = line.split("\t")
        if len(fields) != 2:
            want = "'sentence<TAB>label'" if labelled else "'index<TAB>sentence'"
            raise ValueError(f"{path}, line {n}: expected two tab-separated fields {want}, "
                             f"got {len(fields)} in {line[:80]!r}")
        if labelled:
            sentence, field = fields
            value = _int_field(path, n, field.strip(), "a label 0 or 1", line)
            if value not in (0, 1):
                raise ValueError(f"{path}, line {n}: expected a label 0 or 1, got {value}")
        else:
            field, sentence = fields
            value = _int_field(path, n, field.strip(), "an integer index", line)
        sentences.append(_tokens(path, n, sentence, lowercase))
        values.append(value)
    if not sentences:
        raise ValueError(f"{path}: only a header line; expected sentences after it")
    return sentences, values


def read_stsa(path, num_classes=2, lowercase=False):
    """Read an ``stsa.binary.*`` (``num_classes=2``) or ``stsa.fine.*`` (``num_classes=5``) file:
    one ``<label> <sentence>`` per line. Returns ``(sentences, labels)`` as :func:`read_sst2_tsv`."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"read_stsa: num_classes must be an int >= 2, got {num_classes!r}")
    sentences, labels = [], []
    for n, line in _lines(path):
        if not line.strip():
            continue
        field, _, sentence = line.strip().partition(" ")
        label = _int_field(path, n, field, f"'<label> <sentence>' with a label in 0..{num_classes - 1}", line)
        if not 0 <= label < num_classes:
            raise ValueError(f"{path}, line {n}: expected a label in 0..{num_classes - 1}, got {label}")
        sentences.append(_tokens(path, n, sentence, lowercase))
        labels.append(label)
    if not sentences:
        raise ValueError(f"{path}: no sentences; expected lines '<label> <sentence>'")
    return sentences, labels
