"""examples/sentiment.py in quick mode on a tiny synthetic SST-like corpus the tests write.

The toy rule: a sentence of filler words holds one sentiment word ("good"/"great" positive,
"bad"/"awful" negative) at a random place; its label is that word's. The example must learn it
far beyond chance, pool only over real steps (a sentence gets the same logits alone and padded
in a batch), resume a checkpoint into the very same run, and fail clearly on malformed or
missing files.
"""
import os

import numpy as np
import pytest
from _examples import load_example

import minigrad as mg

FILLER = ("the movie film story plot actors scene it is was a an of and to this that its with "
          "director script cast ending music").split()
SENTIMENT = {"good": 1, "great": 1, "bad": 0, "awful": 0}


@pytest.fixture(scope="module")
def sentiment():
    return load_example("sentiment")


def _sentences(rng, n):
    out = []
    for _ in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(2, 9))))
        word = str(rng.choice(list(SENTIMENT)))
        words.insert(int(rng.integers(0, len(words) + 1)), word)
        out.append((SENTIMENT[word], " ".join(words)))
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A directory with train.tsv (GLUE layout), stsa.binary.dev and .test (Kim's layout)."""
    d = tmp_path_factory.mktemp("sst")
    rng = np.random.default_rng(0)
    (d / "train.tsv").write_text("sentence\tlabel\n" + "".join(f"{s} \t{y}\n" for y, s in _sentences(rng, 480)))
    for name in ("stsa.binary.dev", "stsa.binary.test"):
        (d / name).write_text("".join(f"{y} {s}\n" for y, s in _sentences(rng, 80)))
    return d


def _quick(sentiment, corpus, tmp_path, name, *extra):
    # One thread: results are bitwise identical for any thread count, and a shared machine
    # cannot stall a test on an OpenMP barrier.
    return sentiment.main(["--quick", "--no-progress", "--threads", "1", "--data", str(corpus),
                           "--checkpoint", str(tmp_path / f"{name}.npz"), *extra])


def test_quick_learns_the_toy_rule(sentiment, corpus, tmp_path):
    res = _quick(sentiment, corpus, tmp_path, "learn", "--pool", "attention")
    losses = np.asarray(res["losses"])
    assert res["step"] == len(losses) == 4 * 30                    # 480 phrases / 16 a batch, 4 epochs
    assert np.all(np.isfinite(losses)) and losses[-10:].mean() < 0.5 * losses[:5].mean()
    assert res["dev_acc"] >= 0.9 and res["test_acc"] >= 0.85      # chance is 0.5
    # the selected model is the one of the best evaluation (a snapshot, not the trained-on weights)
    assert res["dev_acc"] == max(res["history"]["dev_acc"])
    assert res["shown"].startswith("attention weight per word") and len(res["shown"].splitlines()) == 5
    assert os.path.exists(res["checkpoint"])
    # The attention has found the rule: the sentiment word gets more than a uniform share 1/len
    # (the bidirectional states carry it to its neighbours too, so not all of the weight).
    model, vocab = res["model"], res["vocab"]
    model.eval()
    sents = [line.split()[1:] for line in (corpus / "stsa.binary.test").read_text().splitlines()]
    ratios = []
    with mg.no_grad():
        for words in sents:
            _, w = model(np.array(vocab(words))[:, None], np.array([len(words)]))
            k = next(i for i, word in enumerate(words) if word in SENTIMENT)
            ratios.append(w[0, k] * len(words))
    assert np.mean(ratios) > 1.2


@pytest.mark.parametrize("cell, pool", [("lstm", "mean"), ("gru", "max"), ("gru", "attention")])
def test_pooling_ignores_padding(sentiment, corpus, tmp_path, cell, pool):
    # Every pooling mode runs, and a sentence gets the same logits alone as padded next to a
    # longer one: the padded steps take no part in the pooling.
    res = _quick(sentiment, corpus, tmp_path, f"{cell}_{pool}", "--cell", cell, "--pool", pool,
                 "--epochs", "1", "--show", "2")
    assert res["test_acc"] > 0.5 and res["step"] == 30
    model, vocab = res["model"].double(), res["vocab"]             # float64: rounding ~1e-15
    model.eval()
    short, long = vocab("a good film".split()), vocab("the cast and the music of this film is awful".split())
    x = np.zeros((len(long), 2), np.int64)
    x[:len(short), 0], x[:, 1] = short, long
    with mg.no_grad():
        both, w = model(x, np.array([len(short), len(long)]))
        alone, _ = model(np.array(short)[:, None], np.array([len(short)]))
    # Only the summation order differs (batch of 2 vs 1); leaking padding would change the
    # logits by the size of a hidden state's contribution, many orders above 1e-9.
    np.testing.assert_allclose(both.data[0], alone.data[0], rtol=0, atol=1e-9)
    if pool != "mean":
        assert np.all(w[0, len(short):] == 0)                      # no weight on padding
        np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)


def test_resume_continues_the_same_run(sentiment, corpus, tmp_path):
    # Dropout on (quick mode), so the restored random generator matters too.
    common = ["--epochs", "1", "--eval-every", "0.25"]
    straight = _quick(sentiment, corpus, tmp_path, "straight", *common)
    first = _quick(sentiment, corpus, tmp_path, "split", *common, "--stop-at", "11")
    assert first["step"] == 11
    resumed = sentiment.main(["--no-progress", "--threads", "1", "--checkpoint", str(tmp_path / "split.npz"),
                              "--resume", str(tmp_path / "split.npz")])
    assert resumed["step"] == straight["step"] == 30
    assert resumed["losses"] == straight["losses"]                # exactly: the same run
    assert resumed["history"]["dev_acc"] == straight["history"]["dev_acc"]
    assert resumed["test_acc"] == straight["test_acc"]
    assert resumed["dev_acc"] == max(resumed["history"]["dev_acc"])
    ck = sentiment.load_checkpoint(str(tmp_path / "split.npz"))
    assert ck["step"] == 30 and ck["vocab"].get_itos() == straight["vocab"].get_itos()


def test_malformed_file_names_the_line(sentiment, corpus, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("stsa.binary.dev", "stsa.binary.test"):
        (bad / name).write_text((corpus / name).read_text())
    (bad / "train.tsv").write_text("sentence\tlabel\na good film\t1\na bad film 0\n")
    with pytest.raises(ValueError, match=r"train.tsv, line 3: expected two tab-separated fields"):
        _quick(sentiment, bad, tmp_path, "bad")


def test_missing_data_says_what_to_get(sentiment, tmp_path):
    with pytest.raises(SystemExit, match=r"(?s)no --data DIR given.*train.tsv.*stsa.binary.dev.*stsa.binary.test"):
        sentiment.main(["--quick", "--no-progress"])
    with pytest.raises(SystemExit, match=r"(?s)the directory .* lacks the SST files"):
        sentiment.main(["--quick", "--no-progress", "--data", str(tmp_path)])


def test_time_budget_stops_and_evaluates_the_last_step(sentiment, corpus, tmp_path):
    # A budget of a few milliseconds: the loop stops after its first step(s), well before the
    # planned 4 epochs, and the last step is evaluated on dev so it can be selected.
    res = _quick(sentiment, corpus, tmp_path, "budget", "--minutes", "0.0001")
    assert 1 <= res["step"] < 4 * 30
    assert res["history"]["eval_step"][-1] == res["step"] == res["best_step"]


def test_best_model_is_a_snapshot(sentiment, corpus, tmp_path):
    # Model selection keeps the weights of the best evaluation: training on must not change them.
    res = _quick(sentiment, corpus, tmp_path, "snap", "--epochs", "0.5")
    model, history = res["last_model"], {"eval_step": [], "dev_acc": []}
    ids = sentiment.encode([["good"], ["awful", "film"]], res["vocab"])
    best = sentiment.validate(model, ids, np.array([1, 0]), 1, {"acc": -1.0, "step": 0}, history)
    before = {k: v.copy() for k, v in best["model"].items()}
    for p in model.parameters():
        p.data += 1.0                                              # what optimizer steps do, in place
    for k, v in best["model"].items():
        np.testing.assert_array_equal(v, before[k])


def test_vectors_file(sentiment, corpus, tmp_path):
    # GloVe text format: "word v1 ... vD"; words outside the vocabulary are skipped; a word2vec
    # header line "count dim" is allowed; a line of the wrong width or a non-number is named.
    vocab = sentiment.build_vocab_from_iterator([["good", "film"]], specials=["<pad>", "<unk>"])
    path = tmp_path / "vec.txt"
    path.write_text("3 4\ngood 1 2 3 4\nunseen 5 6 7 8\nfilm 0.5 0 0 -0.5\n")
    weight = np.zeros((len(vocab), 4), np.float32)
    assert sentiment.load_vectors(str(path), vocab, weight) == 2
    np.testing.assert_array_equal(weight[vocab["good"]], [1, 2, 3, 4])
    np.testing.assert_array_equal(weight[vocab["film"]], [0.5, 0, 0, -0.5])
    assert not weight[:2].any()
    path.write_text("good 1 2 3 4\nfilm 1 2 3\n")
    with pytest.raises(ValueError, match=r"vec.txt, line 2: expected a word and 4 numbers \(--embed 4\), got 3"):
        sentiment.load_vectors(str(path), vocab, weight)
    path.write_text("good 1 2 x 4\n")
    with pytest.raises(ValueError, match=r"vec.txt, line 1: expected 4 numbers after the word 'good'"):
        sentiment.load_vectors(str(path), vocab, weight)
    # end to end: the example starts from the file's vectors
    path.write_text("good " + " ".join(["0.5"] * 24) + "\n")
    res = _quick(sentiment, corpus, tmp_path, "vec", "--vectors", str(path), "--epochs", "0.5")
    assert res["step"] == 15 and np.isfinite(res["losses"]).all()
