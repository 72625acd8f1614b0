"""examples/keras_*.py (the tutorials' Keras programs) in quick mode on tiny data the tests write.

MNIST is a fake IDX set whose digit k is a bright band at rows 2k..2k+2 (so a row reader can
learn it), the next-word text a few repeated sentences. Each program must run, learn beyond
chance where its data allow, and fail clearly on the tutorial's wrong model and on missing data.
"""
import os

import numpy as np
import pytest
from _examples import load_example

from minigrad.datasets import save_idx


def _fake_images(rng, n):
    """uint8 (n, 28, 28) noise with a bright band at rows 2k..2k+2 for label k, and the labels."""
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 2 * k:2 * k + 3] = 255
    return x, y


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    (x_tr, y_tr), (x_te, y_te) = _fake_images(rng, 320), _fake_images(rng, 96)
    for name, a in (("train-images-idx3-ubyte.gz", x_tr), ("train-labels-idx1-ubyte.gz", y_tr),
                    ("t10k-images-idx3-ubyte.gz", x_te), ("t10k-labels-idx1-ubyte.gz", y_te)):
        save_idx(os.path.join(d, name), a)
    return str(d)


@pytest.fixture(scope="module")
def mnist_rows():
    return load_example("keras_mnist_rows")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_mnist_rows_learns_the_fake_digits(mnist_rows, mnist_dir, cell):
    out = mnist_rows.main(["--quick", "--data", mnist_dir, "--cell", cell, "--epochs", "8", "--batch-size", "32",
                           "--verbose", "0"])
    assert len(out["history"].history["loss"]) == 8
    assert out["history"].history["loss"][-1] < out["history"].history["loss"][0]
    # evaluate's accuracy is the fraction of argmax(predict) equal to the label
    assert out["test_acc"] == pytest.approx(out["predict_acc"], abs=1e-6)
    assert out["test_acc"] > 0.5                     # chance is 0.1
    # Keras's counts: gates * units * (inputs + units + 1), GRU (reset_after) one more bias row
    gates, extra = {"rnn": (1, 0), "lstm": (4, 0), "gru": (3, 1)}[cell]
    expect = sum(gates * u * (i + u + 1 + extra) for i, u in ((28, 128), (128, 64))) + 10 * (64 + 1)
    assert out["model"].count_params() == expect


def test_mnist_rows_bidirectional_variant(mnist_rows, mnist_dir):
    out = mnist_rows.main(["--quick", "--data", mnist_dir, "--cell", "gru", "--bidirectional", "--epochs", "8",
                           "--batch-size", "32", "--verbose", "0"])
    assert out["history"].history["loss"][-1] < out["history"].history["loss"][0]
    assert out["test_acc"] > 0.5
    # the first GRU twice (forward and backward), the second reads their 256 concatenated features
    gru = lambda i, u: 3 * u * (i + u + 2)
    assert out["model"].count_params() == 2 * gru(28, 128) + gru(256, 64) + 10 * (64 + 1)


def test_mnist_rows_lr_sets_adams_learning_rate(mnist_rows, mnist_dir):
    out = mnist_rows.main(["--quick", "--data", mnist_dir, "--cell", "gru", "--lr", "0.003", "--verbose", "0"])
    assert out["model"].optimizer.learning_rate == pytest.approx(0.003)


def test_mnist_rows_cosine_decays_the_rate_to_zero_over_the_run(mnist_rows, mnist_dir):
    # CosineDecay(0.002, decay_steps = every step of the 2 epochs): the rate ends at 0
    out = mnist_rows.main(["--quick", "--data", mnist_dir, "--lr", "0.002", "--cosine", "--epochs", "2",
                           "--verbose", "0"])
    opt = out["model"].optimizer
    assert opt.iterations >= 2
    assert opt.get_config()["learning_rate"]["config"]["decay_steps"] == opt.iterations
    assert opt.learning_rate == pytest.approx(0.0, abs=1e-12)     # the end of the half cosine


def test_mnist_rows_as_printed_is_rejected_with_the_fix(mnist_rows, mnist_dir):
    # the tutorial's model outputs (N, 28, 10) for (N,) labels: the error says what to change
    with pytest.raises(ValueError, match=r"(?s)\(None, 28, 10\).*return_sequences=False"):
        mnist_rows.main(["--quick", "--data", mnist_dir, "--as-printed", "--verbose", "0"])


def test_mnist_rows_without_files_says_where_to_put_them(mnist_rows, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MINIGRAD_DATASETS", raising=False)
    with pytest.raises(SystemExit) as e:
        mnist_rows.main(["--quick"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "does not download" in err and "train-images-idx3-ubyte" in err and ".minigrad" in err


def test_stacked_rnn_builds_on_the_first_batch(mnist_dir):
    out = load_example("keras_stacked_rnn").main(["--quick", "--data", mnist_dir, "--epochs", "3", "--verbose", "0"])
    model = out["model"]
    assert model.built and model.count_params() == 64 * (28 + 64 + 1) + 64 * (64 + 64 + 1) + 10 * (64 + 1)
    assert out["test_acc"] > 0.5 and np.isfinite(out["test_loss"])


def test_sine_beats_the_last_value_forecast(tmp_path):
    pytest.importorskip("sklearn")
    plot = tmp_path / "sine.png"
    out = load_example("keras_sine").main(["--verbose", "0", "--plot", str(plot)])      # the tutorial's 20 epochs
    assert out["y_pred"].shape == out["y_true"].shape == (10, 1)
    assert out["test_mse"] < 0.1 * out["naive_mse"]
    assert plot.stat().st_size > 0


SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "my bird can sing"]


def test_next_word_learns_repeated_sentences(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("\n".join(SENTENCES * 4 + ["one"]) + "\n")      # "one" is too short: skipped
    with pytest.warns(UserWarning, match="input_length"):     # the tutorial passes Keras 2's input_length
        out = load_example("keras_next_word").main(["--data", str(text), "--quick", "--epochs", "40", "--verbose", "0"])
    tok = out["tokenizer"]
    assert tok.document_count == 4 * sum(len(s.split()) for s in SENTENCES)    # one text per prefix
    assert tok.word_index["the"] == 1
    assert len(out["history"].history["loss"]) == 40
    assert out["accuracy"] > 0.6
    # greedy continuations start with the given words and only use known words
    for s in out["samples"]:
        assert set(s.split()) <= set(tok.word_index)


def test_next_word_without_data_says_what_to_get(capsys):
    with pytest.raises(SystemExit) as e:
        load_example("keras_next_word").main(["--quick"])
    assert e.value.code == 2 and "ptb.train.txt" in capsys.readouterr().err
