"""minigrad.text.Vocab and build_vocab_from_iterator: torchtext's order, lookups and errors."""
import pytest

from minigrad.text import Vocab, build_vocab_from_iterator


def test_order_specials_then_frequency_then_alphabet():
    v = build_vocab_from_iterator([["b", "a", "c"], ["c", "b", "c"]], specials=["<pad>", "<unk>"])
    assert v.get_itos() == ["<pad>", "<unk>", "c", "b", "a"]
    assert v.get_stoi()["a"] == 4 and len(v) == 5 and "a" in v and "z" not in v
    last = build_vocab_from_iterator([["b", "a", "c"], ["c", "b", "c"]], specials=["<unk>"], special_first=False)
    assert last.get_itos() == ["c", "b", "a", "<unk>"]


def test_min_freq_and_max_tokens():
    sents = [["x"] * 3 + ["y"] * 2 + ["z"]]
    assert build_vocab_from_iterator(sents, min_freq=2).get_itos() == ["x", "y"]
    assert build_vocab_from_iterator(sents, specials=["<unk>"], max_tokens=2).get_itos() == ["<unk>", "x"]


def test_default_index_and_lookups():
    v = build_vocab_from_iterator([["a", "b"]], specials=["<unk>"])
    with pytest.raises(KeyError, match="'q'"):
        v["q"]
    v.set_default_index(v["<unk>"])
    assert v(["a", "q", "b"]) == [1, 0, 2]
    assert v.lookup_tokens([2, 1]) == ["b", "a"]
    with pytest.raises(IndexError, match="outside"):
        v.lookup_token(3)
    w = Vocab.from_state_dict(v.state_dict())
    assert w.get_itos() == v.get_itos() and w["q"] == 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="more than once"):
        Vocab(["a", "a"])
    with pytest.raises(TypeError, match="str"):
        Vocab(["a", 1])
    with pytest.raises(TypeError, match="split it first"):
        build_vocab_from_iterator(["a sentence"])
    with pytest.raises(ValueError, match="min_freq"):
        build_vocab_from_iterator([["a"]], min_freq=0)
    with pytest.raises(ValueError, match="outside"):
        build_vocab_from_iterator([["a"]]).set_default_index(5)
