"""examples/word_lm.py on a tiny corpus the test writes: training, schedule, checkpoints, resume, generation."""
import math

import numpy as np
import pytest

from _examples import load_example

word_lm = load_example("word_lm")

# A tiny corpus with structure a model can learn quickly: a few templates over a small vocabulary.
SUBJ, VERB, OBJ = ["the cat", "a dog", "my bird", "the fish"], ["sees", "likes", "eats", "finds"], \
    ["the ball", "a bone", "some seeds", "the water"]


def write_corpus(d, names=("train.txt", "valid.txt", "test.txt"), sizes=(400, 60, 60), seed=0):
    rng = np.random.default_rng(seed)
    for name, n in zip(names, sizes):
        lines = [f"{SUBJ[i]} {VERB[j]} {OBJ[k]}" for i, j, k in rng.integers(0, 4, size=(n, 3))]
        (d / name).write_text("\n".join(lines) + "\n")
    return d


def run(d, tmp_path, *extra):
    return word_lm.main(["--data", str(d), "--quick", "--no-progress", "--threads", "1",
                         "--checkpoint", str(tmp_path / "ck.npz"), "--plot", str(tmp_path / "p.png"), *extra])


def test_no_data_says_what_to_get(tmp_path):
    for argv in ([], ["--data", str(tmp_path)]):
        with pytest.raises(SystemExit) as e:
            word_lm.main(argv + ["--no-progress"])
        assert "ptb.train.txt" in str(e.value) and "train.txt" in str(e.value) and "--data" in str(e.value)


@pytest.mark.parametrize("names", [("train.txt", "valid.txt", "test.txt"),
                                   ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
                                   ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")])
def test_corpus_layouts_and_vocabulary(tmp_path, names):
    write_corpus(tmp_path, names)
    (tmp_path / names[2]).write_text("the cat sees a zebra\n\n")      # an unseen word, a blank line
    vocab, ids = word_lm.load_corpus(str(tmp_path))
    assert vocab.lookup_token(0) == "<eos>" and "<unk>" in vocab
    assert len(vocab) == 2 + len({w for s in SUBJ + VERB + OBJ for w in s.split()})
    assert vocab.lookup_tokens(ids["test"].tolist()) == ["the", "cat", "sees", "a", "<unk>", "<eos>"]
    assert ids["train"].dtype == np.int64 and ids["train"].size == 400 * 6


def test_paper_schedule_and_presets():
    small = word_lm.PRESETS["zaremba-small"]
    lrs = [word_lm.epoch_lr(small, e) for e in range(1, 14)]
    assert lrs[:4] == [1.0] * 4 and lrs[4] == 0.5 and lrs[12] == 0.5 ** 9
    medium = word_lm.PRESETS["zaremba-medium"]
    assert word_lm.epoch_lr(medium, 6) == 1.0 and math.isclose(word_lm.epoch_lr(medium, 8), 1 / 1.2 ** 2)
    assert (medium["hidden"], medium["dropout"], medium["epochs"], medium["bptt"]) == (650, 0.5, 39, 35)
    large = word_lm.PRESETS["zaremba-large"]
    assert (large["hidden"], large["dropout"], large["clip"], large["init"]) == (1500, 0.65, 10.0, 0.04)


def test_explicit_options_override_the_preset():
    args = word_lm.parse_args(["--preset", "zaremba-medium", "--hidden", "64", "--lr", "0.5"])
    run_ = word_lm.run_options(args)
    assert (run_["hidden"], run_["lr"], run_["dropout"], run_["epochs"]) == (64, 0.5, 0.5, 39)
    with pytest.raises(SystemExit, match="--bptt must be >= 1"):
        word_lm.run_options(word_lm.parse_args(["--bptt", "0"]))


def test_training_learns_and_writes_plot_and_checkpoint(tmp_path):
    write_corpus(tmp_path)
    out = run(tmp_path, tmp_path, "--max-batches", "60", "--epochs", "3", "--optimizer", "adam", "--lr", "0.01")
    h = out["history"]
    assert len(h["valid_ppl"]) == len(h["test_ppl"]) == 3 and h["lr"] == [0.01, 0.01, 0.01]
    V = len(out["vocab"])
    # uniform guessing is ppl V = 18; the templates leave 4 choices for 3 of a line's 6 tokens (ppl 2)
    assert h["valid_ppl"][-1] < 0.5 * V and h["valid_ppl"][-1] < h["valid_ppl"][0]
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "ck.npz").exists()


def test_resume_mid_epoch_equals_uninterrupted(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        write_corpus(d)
    full = run(a, a, "--epochs", "2")
    first = run(b, b, "--epochs", "2", "--stop-after", "17")      # stops inside epoch 2 (12 windows/epoch)
    assert first["stopped"] and first["epoch"] == 2
    rest = word_lm.main(["--resume", str(b / "ck.npz"), "--no-progress", "--threads", "1",
                         "--checkpoint", str(b / "ck.npz"), "--plot", ""])
    assert not rest["stopped"]
    assert rest["history"]["valid_ppl"] == full["history"]["valid_ppl"]
    for (k, p), (k2, q) in zip(full["model"].state_dict().items(), rest["model"].state_dict().items()):
        assert k == k2 and np.array_equal(np.asarray(p), np.asarray(q)), k


@pytest.mark.parametrize("extra", [("--cell", "gru"), ("--tied", "--optimizer", "adam", "--lr", "0.01")])
def test_variants_train(tmp_path, extra):
    write_corpus(tmp_path)
    out = run(tmp_path, tmp_path, "--epochs", "1", *extra)
    assert np.isfinite(out["history"]["valid_ppl"][0])
    m = out["model"]
    if "--tied" in extra:
        assert m.decoder.weight is m.embedding.weight
        assert m.num_parameters() == sum(int(np.prod(p.shape)) for p in m.parameters())


def test_tied_needs_equal_sizes():
    with pytest.raises(ValueError, match="embedding size to equal the hidden size"):
        word_lm.WordLM(10, 8, embed=6, tied=True)


def test_generate_from_checkpoint(tmp_path, capsys):
    write_corpus(tmp_path)
    run(tmp_path, tmp_path, "--epochs", "1")
    out = word_lm.main(["--generate", str(tmp_path / "ck.npz"), "--length", "12", "--prime", "the cat",
                        "--temperature", "0.7"])
    words = out["text"].split()
    vocab = {w for s in SUBJ + VERB + OBJ for w in s.split()} | {"<unk>"}
    assert 0 < len(words) <= 12 and set(words) <= vocab
    assert "the cat" in capsys.readouterr().out
