"""minigrad.data: LM stream batching, padding and reproducible minibatch indices."""
import numpy as np
import pytest

from minigrad.data import batchify, lm_batches, minibatches, pad_batch, pad_sequences


def test_batchify_streams_are_contiguous_columns():
    tokens = np.arange(103)
    s = batchify(tokens, 4)
    assert s.shape == (25, 4) and s.flags.c_contiguous and s.dtype == tokens.dtype
    for b in range(4):
        np.testing.assert_array_equal(s[:, b], np.arange(b * 25, (b + 1) * 25))   # tail 100..102 dropped
    assert batchify([5, 6, 7], 1).shape == (3, 1)
    with pytest.raises(ValueError, match="cannot fill"):
        batchify(np.arange(3), 4)
    with pytest.raises(ValueError, match="1-D"):
        batchify(np.zeros((2, 3)), 1)
    with pytest.raises(ValueError, match="batch_size"):
        batchify(np.arange(10), 0)


@pytest.mark.parametrize("n_tokens, B, L", [(103, 4, 7), (40, 2, 19), (40, 2, 20), (12, 3, 100), (9, 3, 1)])
def test_lm_batches_windows(n_tokens, B, L):
    s = batchify(np.arange(n_tokens), B)
    n_steps = s.shape[0]
    windows = list(lm_batches(s, L))
    lens = [x.shape[0] for x, _ in windows]
    assert all(l == L for l in lens[:-1]) and 1 <= lens[-1] <= L
    assert sum(lens) == n_steps - 1                         # every row but the last is an input once
    for x, y in windows:
        assert x.shape == y.shape and x.shape[1] == B
        np.testing.assert_array_equal(y, x + 1)             # arange tokens: the next token is +1
    np.testing.assert_array_equal(np.concatenate([x for x, _ in windows]), s[:-1])
    np.testing.assert_array_equal(np.concatenate([y for _, y in windows]), s[1:])


def test_lm_batches_checks_arguments_eagerly():
    with pytest.raises(ValueError, match="seq_len"):
        lm_batches(np.zeros((5, 2)), 0)
    with pytest.raises(ValueError, match="n_steps"):
        lm_batches(np.zeros(5), 2)
    assert list(lm_batches(np.zeros((1, 2)), 3)) == []


@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_batch_tokens(batch_first):
    seqs = [np.array([1, 2, 3]), np.array([4]), np.array([], dtype=np.int64), np.array([5, 6])]
    out, lengths = pad_batch(seqs, padding_value=-1, batch_first=batch_first)
    assert lengths.dtype == np.int64 and lengths.tolist() == [3, 1, 0, 2]
    expect = np.array([[1, 2, 3], [4, -1, -1], [-1, -1, -1], [5, 6, -1]])
    np.testing.assert_array_equal(out, expect if batch_first else expect.T)
    assert out.flags.c_contiguous and out.dtype == np.int64


def test_pad_batch_features_and_dtype():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    out, lengths = pad_batch(seqs, dtype=np.float32)
    assert out.shape == (5, 3, 3) and out.dtype == np.float32
    for b, s in enumerate(seqs):
        np.testing.assert_array_equal(out[: len(s), b], s.astype(np.float32))
        assert (out[len(s):, b] == 0).all()
    np.testing.assert_array_equal(lengths, [2, 5, 1])
    out_bf, _ = pad_batch([[1.5, 2.5], [3.5]], batch_first=True)      # plain lists work too
    np.testing.assert_array_equal(out_bf, [[1.5, 2.5], [3.5, 0.0]])
    with pytest.raises(ValueError, match="feature shape"):
        pad_batch([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="at least one"):
        pad_batch([])


def test_pad_sequences_is_a_deprecated_alias_of_pad_batch():
    # the old name still works, gives the same arrays, and the warning names both functions
    seqs = [np.array([1, 2, 3]), np.array([4])]
    with pytest.warns(DeprecationWarning, match=r"pad_batch.*keras\.utils\.pad_sequences"):
        out, lengths = pad_sequences(seqs, padding_value=-1)
    ref_out, ref_lengths = pad_batch(seqs, padding_value=-1)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(lengths, ref_lengths)


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (1, 5, False), (0, 4, False)])
def test_minibatches_cover_each_index_once(n, bs, drop_last):
    batches = list(minibatches(n, bs, generator=np.random.default_rng(1), drop_last=drop_last))
    sizes = [len(b) for b in batches]
    assert all(s == bs for s in sizes[:-1])
    if drop_last:
        assert all(s == bs for s in sizes) and len(batches) == n // bs
    else:
        everything = np.concatenate(batches) if batches else np.zeros(0, np.int64)
        np.testing.assert_array_equal(np.sort(everything), np.arange(n))
    for b in batches:
        assert b.dtype == np.int64


def test_minibatches_reproducible():
    a = [b.tolist() for b in minibatches(50, 8, generator=123)]
    b = [b.tolist() for b in minibatches(50, 8, generator=123)]
    assert a == b and sum(a, []) != list(range(50))                       # shuffled, same order
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    e1 = [np.concatenate(list(minibatches(50, 8, generator=g1))) for _ in range(3)]
    e2 = [np.concatenate(list(minibatches(50, 8, generator=g2))) for _ in range(3)]
    for x, y in zip(e1, e2):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(e1[0], e1[1])                                 # a new order each epoch
    ordered = np.concatenate(list(minibatches(50, 8, shuffle=False)))
    np.testing.assert_array_equal(ordered, np.arange(50))
    with pytest.raises(TypeError, match="generator"):
        minibatches(5, 2, generator="seed")
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(5, 0)
