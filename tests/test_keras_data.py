"""minigrad.keras's data utilities: mnist.load_data, Tokenizer, pad_sequences, to_categorical.

Each utility is checked against hand-worked expectations (always) and, when the reference is
installed, against it on random inputs: Keras 3's ``keras.utils.pad_sequences`` /
``to_categorical`` (torch backend) and Keras 2's Tokenizer from ``keras_preprocessing`` (Keras 3
dropped ``keras.preprocessing.text``). The MNIST files are tiny fakes written by the tests.
"""
import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad.datasets import IDXError, save_idx
from minigrad.keras import preprocessing, utils
from minigrad.keras.datasets import mnist
from minigrad.keras.preprocessing.text import Tokenizer, text_to_word_sequence, tokenizer_from_json
from minigrad.keras.utils import pad_sequences, to_categorical


def _keras():
    """Keras 3 with the torch backend, or None (the NumPy-only reference cases still run)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except Exception:       # absent, or a backend that cannot import here
        return None
    return keras if keras.backend.backend() == "torch" else None


KERAS = _keras()
needs_keras = pytest.mark.skipif(KERAS is None, reason="Keras 3 with the torch backend is not installed")


# --------------------------------------------------------------------------- mnist.load_data

def _fake_mnist(rng, n_train=7, n_test=3):
    x_tr = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_te = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    return (x_tr, rng.integers(0, 10, n_train).astype(np.uint8)), (x_te, rng.integers(0, 10, n_test).astype(np.uint8))


def _write_idx(directory, data, gz=True):
    (x_tr, y_tr), (x_te, y_te) = data
    ext = ".gz" if gz else ""
    for name, a in (("train-images-idx3-ubyte", x_tr), ("train-labels-idx1-ubyte", y_tr),
                    ("t10k-images-idx3-ubyte", x_te), ("t10k-labels-idx1-ubyte", y_te)):
        save_idx(os.path.join(directory, name + ext), a)


def _same(got, want):
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            assert a.dtype == np.uint8 and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files_from_path(tmp_path, gz):
    data = _fake_mnist(np.random.default_rng(0))
    _write_idx(tmp_path, data, gz)
    _same(mnist.load_data(str(tmp_path)), data)


def test_mnist_reads_npz_file_and_directory(tmp_path):
    data = _fake_mnist(np.random.default_rng(1))
    (x_tr, y_tr), (x_te, y_te) = data
    np.savez(tmp_path / "mnist.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    _same(mnist.load_data(tmp_path / "mnist.npz"), data)
    _same(mnist.load_data(tmp_path), data)


def test_mnist_default_directories(tmp_path, monkeypatch):
    data = _fake_mnist(np.random.default_rng(2))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINIGRAD_DATASETS", str(tmp_path / "sets"))
    home = tmp_path / "home" / ".minigrad" / "datasets" / "mnist"
    home.mkdir(parents=True)
    _write_idx(home, data)
    _same(mnist.load_data(), data)                       # found under ~/.minigrad/datasets/mnist
    other = _fake_mnist(np.random.default_rng(3))
    (tmp_path / "sets" / "mnist").mkdir(parents=True)
    _write_idx(tmp_path / "sets" / "mnist", other)
    _same(mnist.load_data(), other)                      # $MINIGRAD_DATASETS comes first


def test_mnist_missing_files_say_where_and_that_nothing_is_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINIGRAD_DATASETS", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        mnist.load_data()
    msg = str(e.value)
    assert "does not download" in msg and "train-images-idx3-ubyte" in msg and "mnist.npz" in msg
    assert os.path.join(str(tmp_path), ".minigrad", "datasets", "mnist") in msg
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist.load_data(tmp_path / "nowhere")
    # three of the four IDX files are not enough
    data = _fake_mnist(np.random.default_rng(4))
    _write_idx(tmp_path, data)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data(tmp_path)


def test_mnist_corrupt_files_raise_clear_errors(tmp_path):
    data = _fake_mnist(np.random.default_rng(5))
    _write_idx(tmp_path, data, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    raw = path.read_bytes()
    path.write_bytes(b"\x01\x02" + raw[2:])              # bad magic
    with pytest.raises(IDXError, match="magic"):
        mnist.load_data(tmp_path)
    path.write_bytes(raw[:-5])                           # truncated
    with pytest.raises(IDXError, match="truncated"):
        mnist.load_data(tmp_path)
    path.write_bytes(raw)
    save_idx(tmp_path / "train-labels-idx1-ubyte", data[0][1][:5])     # 7 images, 5 labels
    with pytest.raises(IDXError, match=r"\(7, 28, 28\).*\(5,\)"):
        mnist.load_data(tmp_path)
    npz = tmp_path / "bad.npz"
    npz.write_bytes(gzip.compress(b"not a zip"))
    with pytest.raises(ValueError, match="bad.npz"):
        mnist.load_data(npz)
    np.savez(npz, x_train=data[0][0])
    with pytest.raises(ValueError, match="y_train"):
        mnist.load_data(npz)


# --------------------------------------------------------------------------- pad_sequences

def _pad_reference(seqs, maxlen, dtype, padding, truncating, value):
    """pad_sequences written out row by row, for 1-D integer sequences."""
    maxlen = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    out = np.full((len(seqs), maxlen), value, dtype=dtype)
    for i, s in enumerate(seqs):
        kept = list(s)[len(s) - maxlen:] if truncating == "pre" and len(s) > maxlen else list(s)[:maxlen]
        for j, v in enumerate(kept):
            out[i, (maxlen - len(kept) + j) if padding == "pre" else j] = v
    return out


def test_pad_sequences_keras_docstring_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, truncating="post"), [[0, 1], [2, 3], [4, 5]])
    assert pad_sequences(seqs).dtype == np.int32
    assert preprocessing.sequence.pad_sequences is pad_sequences


def test_pad_sequences_features_strings_and_empties():
    seqs = [np.ones((2, 3)), [], np.arange(12.0).reshape(4, 3)]
    out = pad_sequences(seqs, maxlen=3, dtype="float32", padding="post", value=-1.0)
    assert out.shape == (3, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [[1, 1, 1], [1, 1, 1], [-1, -1, -1]])
    np.testing.assert_array_equal(out[1], np.full((3, 3), -1.0))
    np.testing.assert_array_equal(out[2], np.arange(3.0, 12.0).reshape(3, 3))
    words = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)
    assert pad_sequences([], maxlen=4).shape == (0, 4)


@pytest.mark.parametrize("call, err, match", [
    (lambda: pad_sequences(5), ValueError, "list of sequences"),
    (lambda: pad_sequences([[1], 2]), ValueError, "sequence 1 is int 2"),
    (lambda: pad_sequences([[1]], padding="left"), ValueError, "padding must be 'pre' or 'post'"),
    (lambda: pad_sequences([[1]], truncating=None), ValueError, "truncating must be 'pre' or 'post'"),
    (lambda: pad_sequences([[1]], maxlen=-1), ValueError, "maxlen"),
    (lambda: pad_sequences([[1]], maxlen=2.5), ValueError, "maxlen"),
    (lambda: pad_sequences([[1]], value="x"), ValueError, "dtype=object"),
    (lambda: pad_sequences([np.ones((1, 2)), np.ones((1, 3))]), ValueError, r"\(3,\).*\(2,\)"),
    (lambda: pad_sequences([]), ValueError, "no sequences"),
])
def test_pad_sequences_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


_seqs = st.lists(st.lists(st.integers(-50, 50), max_size=7), min_size=1, max_size=6)
_pad_args = dict(seqs=_seqs, maxlen=st.one_of(st.none(), st.integers(0, 9)),
                 padding=st.sampled_from(["pre", "post"]), truncating=st.sampled_from(["pre", "post"]),
                 value=st.integers(-3, 3))


@settings(max_examples=60, deadline=None)
@given(**_pad_args)
def test_pad_sequences_matches_reference(seqs, maxlen, padding, truncating, value):
    got = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    want = _pad_reference(seqs, maxlen, np.int32, padding, truncating, value)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@needs_keras
@settings(max_examples=60, deadline=None)
@given(**_pad_args)
def test_pad_sequences_matches_keras(seqs, maxlen, padding, truncating, value):
    if maxlen == 0:
        maxlen = None           # Keras's s[-0:] keeps the whole sequence there and then fails
    got = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    want = KERAS.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- to_categorical

def test_to_categorical():
    y = to_categorical([0, 2, 1])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, np.eye(3)[[0, 2, 1]])
    assert to_categorical(np.array([[1], [3]]), num_classes=5).shape == (2, 5)      # trailing 1 dropped
    assert to_categorical(np.zeros((2, 3), np.int64), 4).shape == (2, 3, 4)
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    for bad, match in (([0, 3], "out of range"), ([-1], ">= 0"), ([0.5], "integer")):
        with pytest.raises(ValueError, match=match):
            to_categorical(bad, num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        to_categorical([0], num_classes=0)


@needs_keras
@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=12), st.sampled_from([None, 7, 9]),
       st.sampled_from([(-1,), (-1, 1), (2, -1)]))
def test_to_categorical_matches_keras(labels, num_classes, shape):
    if shape == (2, -1) and len(labels) % 2:
        labels = labels + [0]
    x = np.array(labels).reshape(shape)
    got, want = to_categorical(x, num_classes), KERAS.utils.to_categorical(x, num_classes)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- Tokenizer

TEXTS = ["The cat sat on the mat.", "The dog ate my homework!", "My cat, the dog and I."]


def test_tokenizer_word_index_by_frequency_ties_in_first_seen_order():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    # counts: the 4, cat 2, dog 2, my 2, then single words in order of appearance
    assert list(tok.word_index.items())[:4] == [("the", 1), ("cat", 2), ("dog", 3), ("my", 4)]
    assert list(tok.word_index)[4:] == ["sat", "on", "mat", "ate", "homework", "and", "i"]
    assert tok.index_word[1] == "the" and tok.document_count == 3
    assert tok.word_counts["the"] == 4 and tok.word_docs["the"] == 3 and tok.index_docs[1] == 3
    assert tok.texts_to_sequences(["the cat and a bird"]) == [[1, 2, 10]]     # unknown words dropped
    assert tok.sequences_to_texts([[1, 2, 10, 99]]) == ["the cat and"]


def test_tokenizer_num_words_and_oov():
    tok = Tokenizer(num_words=4, oov_token="<OOV>")
    tok.fit_on_texts(TEXTS)
    assert tok.word_index["<OOV>"] == 1 and tok.word_index["the"] == 2     # everything moves up by one
    assert len(tok.word_index) == 12                                         # the index keeps every word
    # only indices < 4 are kept: the, cat, dog; the rest (and unknown words) become <OOV>
    assert tok.texts_to_sequences(["The cat ate a bird"]) == [[2, 3, 1, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 4, 50]]) == ["the cat <OOV> <OOV>"]
    plain = Tokenizer(num_words=3)
    plain.fit_on_texts(TEXTS)
    assert plain.texts_to_sequences(["the cat ate my dog"]) == [[1, 2]]


def test_tokenizer_char_level_lists_filters_and_split():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["abca", "Bd"])
    assert tok.word_index == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert tok.texts_to_sequences(["dab"]) == [[4, 1, 2]]
    tok = Tokenizer(lower=False)
    tok.fit_on_texts([["Hello", "world"], ["Hello"]])                   # texts given as token lists
    assert tok.word_index == {"Hello": 1, "world": 2}
    assert text_to_word_sequence("a-b,c  d", filters=",", split="-") == ["a", "b", "c  d"]
    assert text_to_word_sequence("Hi, THERE!") == ["hi", "there"]


def test_tokenizer_matrices():
    tok = Tokenizer()
    tok.fit_on_texts(TEXTS)
    texts = ["the the cat", "dog"]
    n = len(tok.word_index) + 1
    binary, count = tok.texts_to_matrix(texts), tok.texts_to_matrix(texts, mode="count")
    freq, tfidf = tok.texts_to_matrix(texts, mode="freq"), tok.texts_to_matrix(texts, mode="tfidf")
    assert binary.shape == (2, n) and binary.dtype == np.float64
    assert binary[0, 1] == 1 and binary[0, 2] == 1 and binary.sum() == 3
    assert count[0, 1] == 2 and count[0, 2] == 1 and count[1, 3] == 1
    np.testing.assert_allclose(freq[0, [1, 2]], [2 / 3, 1 / 3], rtol=1e-15)
    # tf = 1 + ln(count); idf = ln(1 + documents / (1 + documents containing the word))
    np.testing.assert_allclose(tfidf[0, 1], (1 + np.log(2)) * np.log(1 + 3 / 4), rtol=1e-15)
    np.testing.assert_allclose(tfidf[1, 3], np.log(1 + 3 / 3), rtol=1e-15)
    with pytest.raises(ValueError, match="vectorization mode 'bag'"):
        tok.texts_to_matrix(texts, mode="bag")
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer().texts_to_matrix(["a"])


def test_tokenizer_json_round_trip_and_bad_input():
    tok = Tokenizer(num_words=5, oov_token="?")
    tok.fit_on_texts(TEXTS)
    back = tokenizer_from_json(tok.to_json())
    assert back.word_index == tok.word_index and back.index_word == tok.index_word
    assert back.texts_to_sequences(TEXTS) == tok.texts_to_sequences(TEXTS)
    np.testing.assert_array_equal(back.texts_to_matrix(TEXTS, "tfidf"), tok.texts_to_matrix(TEXTS, "tfidf"))
    with pytest.raises(TypeError, match=r"single str.*\[text\]"):
        tok.fit_on_texts("the cat")
    with pytest.raises(TypeError, match="int 3"):
        tok.texts_to_sequences([3])
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer(num_words=-1)
    with pytest.raises(TypeError, match="nb_words"):
        Tokenizer(nb_words=3)


_words = st.sampled_from("a b c d e f g Hello hello, WORLD! x-y z.".split())
_texts = st.lists(st.lists(_words, max_size=8).map(" ".join), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(_texts, _texts, st.sampled_from([None, 1, 3, 6]), st.sampled_from([None, "<unk>", "a"]),
       st.booleans(), st.sampled_from(["binary", "count", "freq", "tfidf"]))
def test_tokenizer_matches_keras2(fit, query, num_words, oov_token, char_level, mode):
    kp = pytest.importorskip("keras_preprocessing.text")
    ours = Tokenizer(num_words=num_words, oov_token=oov_token, char_level=char_level)
    ref = kp.Tokenizer(num_words=num_words, oov_token=oov_token, char_level=char_level)
    ours.fit_on_texts(fit)
    ref.fit_on_texts(fit)
    assert list(ours.word_index.items()) == list(ref.word_index.items())
    assert ours.index_word == ref.index_word and dict(ours.word_counts) == dict(ref.word_counts)
    seqs = ours.texts_to_sequences(query)
    assert seqs == ref.texts_to_sequences(query)
    assert ours.sequences_to_texts(seqs + [[0, 1, 2, 40]]) == ref.sequences_to_texts(seqs + [[0, 1, 2, 40]])
    try:
        want = ref.texts_to_matrix(query, mode)
    except ValueError:          # nothing fitted and no num_words: both refuse
        with pytest.raises(ValueError, match="num_words"):
            ours.texts_to_matrix(query, mode)
        return
    np.testing.assert_array_equal(ours.texts_to_matrix(query, mode), want)
