"""keras.preprocessing.text: Keras 2's ``Tokenizer`` (Keras 3 removed it) with its exact semantics.

    tok = Tokenizer(num_words=1000, oov_token="<OOV>")
    tok.fit_on_texts(["The cat sat.", "The dog sat on the cat!"])
    tok.word_index                  # {'<OOV>': 1, 'the': 2, 'cat': 3, 'sat': 4, 'dog': 5, 'on': 6}
    tok.texts_to_sequences(["the bird sat"])      # [[2, 1, 4]]
    tok.texts_to_matrix(texts, mode="tfidf")      # (len(texts), num_words) float64

Keras 2's rules, kept here exactly:

* ``text_to_word_sequence``: lower-case (``lower``), replace every character of ``filters`` by
  ``split``, split on ``split``, drop empty pieces. With ``char_level`` (or a text that is already
  a list of tokens) the text's items are the tokens.
* ``word_index``: index 1 is the most frequent word, ties in order of first appearance; index 0
  is never assigned (it is the padding value). ``oov_token``, when given, takes index 1 and
  every word moves up by one.
* ``num_words``: the index is built over all words, but ``texts_to_sequences`` (and the
  matrices) keep only indices < ``num_words``: the ``num_words - 1`` most frequent words; a word
  outside them becomes ``oov_token``'s index when there is one, else it is dropped.
* ``texts_to_matrix`` modes: ``binary`` (1 if present), ``count``, ``freq`` (count / sequence
  length), ``tfidf`` ((1 + ln count) * ln(1 + documents / (1 + documents containing the word))).
"""
import json
import numbers
from collections import OrderedDict, defaultdict

import numpy as np

from ...grad_mode import describe

__all__ = ["Tokenizer", "text_to_word_sequence", "tokenizer_from_json"]

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(input_text, filters=DEFAULT_FILTERS, lower=True, split=" "):
    """The words of ``input_text``: lower-cased, ``filters`` characters turned into ``split``, split."""
    if not isinstance(input_text, str):
        raise TypeError(f"text_to_word_sequence: expected a str, got {describe(input_text)}")
    if not isinstance(split, str) or not split:
        raise ValueError(f"text_to_word_sequence: split must be a non-empty str, got {describe(split)}")
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in input_text.split(split) if w]


def _texts(fname, texts):
    # a bare string would be iterated character by character: almost always a mistake
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"Tokenizer.{fname}: expected a list of texts, got a single {type(texts).__name__}; "
                        "wrap it in a list: [text]")
    if not hasattr(texts, "__iter__"):
        raise TypeError(f"Tokenizer.{fname}: expected a list of texts, got {describe(texts)}")
    return texts


class Tokenizer:
    """Turns texts into sequences of word indices (Keras 2's ``keras.preprocessing.text.Tokenizer``).

    Attributes after ``fit_on_texts``: ``word_counts`` (OrderedDict word -> count, in order of
    first appearance), ``word_docs`` (word -> number of texts containing it), ``index_docs``
    (index -> the same), ``word_index`` / ``index_word``, ``document_count``.
    """

    def __init__(self, num_words=None, filters=DEFAULT_FILTERS, lower=True, split=" ", char_level=False,
                 oov_token=None, analyzer=None, document_count=0, **kwargs):
        if kwargs:
            raise TypeError(f"Tokenizer: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        if num_words is not None and (isinstance(num_words, bool) or not isinstance(num_words, numbers.Integral)
                                      or num_words < 0):
            raise ValueError(f"Tokenizer: num_words must be None or a non-negative integer, got {describe(num_words)}")
        if not isinstance(filters, str):
            raise TypeError(f"Tokenizer: filters must be a str of characters, got {describe(filters)}")
        if not isinstance(split, str) or not split:
            raise ValueError(f"Tokenizer: split must be a non-empty str, got {describe(split)}")
        if analyzer is not None and not callable(analyzer):
            raise TypeError(f"Tokenizer: analyzer must be callable or None, got {describe(analyzer)}")
        self.num_words = num_words
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.analyzer = analyzer
        self.document_count = document_count
        self.word_counts = OrderedDict()
        self.word_docs = defaultdict(int)
        self.index_docs = defaultdict(int)
        self.word_index = {}
        self.index_word = {}

    def _tokens(self, text):
        """The tokens of one text: its items (char_level or a list of tokens) or its words."""
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer: each text must be a str (or a list of tokens), got {describe(text)}")
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """Count the words of ``texts`` (a list of strings, or of token lists) and rebuild ``word_index``."""
        for text in _texts("fit_on_texts", texts):
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        # most frequent first; sorted() is stable, so ties keep their order of first appearance
        ranked = [w for w, _ in sorted(self.word_counts.items(), key=lambda wc: wc[1], reverse=True)]
        vocab = ([] if self.oov_token is None else [self.oov_token]) + ranked
        self.word_index = dict(zip(vocab, range(1, len(vocab) + 1)))
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences):
        """Count documents per index from integer sequences (needed by ``sequences_to_matrix(mode='tfidf')``)."""
        for seq in _texts("fit_on_sequences", sequences):
            self.document_count += 1
            for i in set(seq):
                self.index_docs[i] += 1

    def _kept(self, index):
        """``index`` if it is below ``num_words`` (or there is no limit), else the OOV index or None."""
        if self.num_words and index >= self.num_words:
            return self.word_index.get(self.oov_token)
        return index

    def texts_to_sequences_generator(self, texts):
        """Yield, per text, the list of its word indices (see the module docstring for ``num_words``)."""
        oov = self.word_index.get(self.oov_token)
        for text in _texts("texts_to_sequences", texts):
            vect = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                i = oov if i is None else self._kept(i)
                if i is not None:
                    vect.append(i)
            yield vect

    def texts_to_sequences(self, texts):
        """A list with one list of word indices per text."""
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences):
        """Yield, per sequence, its words joined by spaces (unknown indices: the OOV token or dropped)."""
        oov = self.word_index.get(self.oov_token)
        for seq in _texts("sequences_to_texts", sequences):
            words = []
            for num in seq:
                i = num if num in self.index_word else oov
                i = None if i is None else self._kept(i)
                if i is not None:
                    words.append(self.index_word[i])
            yield " ".join(words)

    def sequences_to_texts(self, sequences):
        """A list with one string per sequence of indices."""
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts, mode="binary"):
        """(len(texts), num_words) float64 bag-of-words matrix; ``mode``: binary, count, tfidf or freq."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """(len(sequences), num_words) float64 matrix of integer sequences; columns >= num_words are ignored."""
        if mode not in _MODES:
            raise ValueError(f"Tokenizer: unknown vectorization mode {mode!r}; use one of {', '.join(_MODES)}")
        if self.num_words:
            num_words = self.num_words
        elif self.word_index:
            num_words = len(self.word_index) + 1
        else:
            raise ValueError("Tokenizer: specify a dimension (the num_words argument), or fit on some text data first")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer: fit the Tokenizer on some data before using tfidf mode")
        sequences = list(_texts("sequences_to_matrix", sequences))
        x = np.zeros((len(sequences), num_words))
        for row, seq in enumerate(sequences):
            if not len(seq):
                continue
            counts = defaultdict(int)
            for j in seq:
                if j < num_words:
                    counts[j] += 1
            for j, c in counts.items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[row, j] = (1 + np.log(c)) * idf
        return x

    def get_config(self):
        """Keras 2's config: the constructor arguments and the fitted counts (dicts as JSON strings)."""
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
                "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
                "word_index": json.dumps(self.word_index)}

    def to_json(self, **kwargs):
        """``{"class_name": "Tokenizer", "config": get_config()}`` as a JSON string (``tokenizer_from_json`` reads it)."""
        return json.dumps({"class_name": self.__class__.__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string):
    """The ``Tokenizer`` saved by ``to_json``."""
    config = dict(json.loads(json_string).get("config", {}))
    fitted = {k: json.loads(config.pop(k)) for k in ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}
    tok = Tokenizer(**config)
    tok.word_counts = OrderedDict(fitted["word_counts"])
    tok.word_docs = defaultdict(int, fitted["word_docs"])
    tok.index_docs = defaultdict(int, {int(k): v for k, v in fitted["index_docs"].items()})
    tok.index_word = {int(k): v for k, v in fitted["index_word"].items()}
    tok.word_index = fitted["word_index"]
    return tok
