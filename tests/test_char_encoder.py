"""nn.CharEncoder: the batched char-BiLSTM word encoder against a per-word loop of nn.LSTM.

The reference runs the encoder's own embedding and LSTM on one word at a time (no padding, no
lengths=), so agreement shows the batched call with lengths= reads each word exactly. Both
compute the same float operations per word, so they agree to a few roundings of the outputs
(which lie in (-1, 1)).
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

DTYPES = (np.float32, np.float64)


def per_word(enc, chars, lengths):
    """The reference: a Python loop over words, each through enc.embedding and enc.lstm alone."""
    lead, L = chars.shape[:-1], chars.shape[-1]
    flat, fl = chars.reshape(-1, L), lengths.reshape(-1)
    out = np.zeros((flat.shape[0], enc.output_size), enc.embedding.weight.dtype)
    for w, n in enumerate(fl):
        if n == 0:
            continue
        x = enc.embedding(flat[w, :n][:, None])                      # (n, 1, E)
        _, (h, _) = enc.lstm(x)                                        # h (D, 1, H)
        out[w] = np.concatenate([h.numpy()[d, 0] for d in range(h.shape[0])])
    return out.reshape(lead + (enc.output_size,))


def words(shape, L, num_chars, seed=0, pad=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, L + 1, shape)
    chars = rng.integers(1, num_chars, shape + (L,))
    chars[np.arange(L) >= lengths[..., None]] = pad
    return chars, lengths


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("shape,L", [((5, 3), 7), ((11,), 1), ((2, 1), 13), ((), 4)])
def test_matches_a_per_word_loop(dtype, bidirectional, shape, L):
    enc = nn.CharEncoder(17, embedding_dim=6, hidden_size=5, bidirectional=bidirectional, dtype=dtype)
    chars, lengths = words(shape, L, 17, seed=L)
    if shape == ():
        lengths = np.asarray(3)
    out = enc(chars, lengths)
    assert out.shape == shape + (10 if bidirectional else 5,) and out.dtype == dtype
    tol = 16 * np.finfo(dtype).eps
    np.testing.assert_allclose(out.numpy(), per_word(enc, chars, lengths), rtol=0, atol=tol)


def test_empty_words_give_zeros_and_no_gradient():
    enc = nn.CharEncoder(10, 4, 3, dtype=np.float64)
    chars, lengths = words((4, 3), 5, 10, seed=1)
    lengths[0, :] = 0
    lengths[2, 1] = 0
    out = enc(chars, lengths)
    assert (out.numpy()[lengths == 0] == 0).all()
    assert (np.abs(out.numpy()[lengths > 0]).sum(axis=-1) > 0).all()
    w = np.zeros(out.shape)
    w[lengths == 0] = 1.0                    # a loss that only sees the empty words
    (out * w).sum().backward()
    assert all((p.grad is None) or not p.grad.any() for p in enc.parameters())


def test_all_words_empty():
    enc = nn.CharEncoder(10, 4, 3)
    out = enc(np.zeros((2, 3, 5), np.int64), np.zeros((2, 3), np.int64))
    assert out.shape == (2, 3, 6) and not out.numpy().any()
    assert enc(np.zeros((0, 5), np.int64), np.zeros(0, np.int64)).shape == (0, 6)


def test_padding_after_the_word_is_ignored():
    enc = nn.CharEncoder(12, 4, 3, dtype=np.float64)
    chars, lengths = words((6,), 8, 12, seed=2)
    garbage = chars.copy()
    rng = np.random.default_rng(3)
    past = np.arange(8) >= lengths[:, None]
    garbage[past] = rng.integers(-5, 50, past.sum())    # even ids outside the vocabulary
    np.testing.assert_array_equal(enc(chars, lengths).numpy(), enc(garbage, lengths).numpy())
    wide = np.concatenate([chars, np.zeros((6, 4), np.int64)], axis=1)     # a longer padded L
    np.testing.assert_array_equal(enc(chars, lengths).numpy(), enc(wide, lengths).numpy())


def test_gradcheck():
    enc = nn.CharEncoder(9, 3, 2, padding_idx=0, dtype=np.float64)
    chars, lengths = words((3, 2), 4, 9, seed=4)
    lengths[1, 1] = 0
    lengths[0, 0] = 4
    chars[0, 0] = [1, 2, 3, 4]               # no padding id inside a word (its row gets no gradient)
    params = list(enc.parameters())
    w = np.random.default_rng(5).normal(size=(3, 2, 4))
    assert mg.gradcheck(lambda *_: (enc(chars, lengths) * w).sum(), params)


def test_tensor_inputs_and_dropout():
    enc = nn.CharEncoder(9, 3, 2, dropout=0.5)
    chars, lengths = words((4,), 5, 9, seed=6)
    enc.eval()
    a = enc(mg.tensor(chars), mg.tensor(lengths)).numpy()
    np.testing.assert_array_equal(a, enc(chars, lengths).numpy())
    enc.train()
    mg.manual_seed(0)
    b = enc(chars, lengths).numpy()
    assert not np.array_equal(a, b)              # dropout on the embeddings changes the features


@pytest.mark.parametrize("make,exc,match", [
    (lambda e, c, n: e(c, n[:2]), ValueError, r"lengths must have shape \(3,\)"),
    (lambda e, c, n: e(c, n + 10), ValueError, r"lengths must lie in \[0, 4\]"),
    (lambda e, c, n: e(c, n - 5), ValueError, r"lengths must lie in \[0, 4\]"),
    (lambda e, c, n: e(c + 100, n), IndexError, "character id 10[0-9] is out of range"),
    (lambda e, c, n: e(c.astype(float), n), TypeError, "chars must hold integers"),
    (lambda e, c, n: e(c, n.astype(float)), TypeError, "lengths must hold integers"),
    (lambda e, c, n: e(np.int64(3), np.int64(1)), ValueError, "chars must have shape"),
])
def test_bad_inputs(make, exc, match):
    enc = nn.CharEncoder(9, 3, 2)
    chars, lengths = words((3,), 4, 9, seed=7)
    lengths[:] = 4
    with pytest.raises(exc, match=match):
        make(enc, chars, lengths)


def test_bad_constructor():
    with pytest.raises(ValueError, match="num_chars"):
        nn.CharEncoder(0)
    with pytest.raises(TypeError, match="bidirectional"):
        nn.CharEncoder(5, bidirectional="both")
    with pytest.raises(ValueError, match="dropout"):
        nn.CharEncoder(5, dropout=1.5)
