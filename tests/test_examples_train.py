"""The training examples in quick mode, called in-process through their main(argv).

examples/char_lm.py: the loss goes down, a checkpoint restores identical outputs and optimizer
state, an interrupted + resumed run reproduces the uninterrupted one loss for loss, and
``--sample`` returns the requested number of characters. examples/sine.py: the loss goes down and
the model beats the naive last-value forecast.
"""
import math
import os

import numpy as np
import pytest

import minigrad as mg

from _examples import load_example


_load = load_example


@pytest.fixture(scope="module")
def char_lm():
    return _load("char_lm")


def _quick(tmp_path, name, *extra):
    # One thread: results are bitwise identical for any thread count, and a shared machine
    # cannot stall a test on an OpenMP barrier.
    return ["--quick", "--no-progress", "--threads", "1", "--checkpoint", str(tmp_path / f"{name}.npz"),
            "--plot", str(tmp_path / f"{name}.png"), *extra]


@pytest.fixture(scope="module")
def quick_run(char_lm, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("char_lm")
    return char_lm.main(_quick(tmp, "quick")), tmp


def test_char_lm_quick_learns(char_lm, quick_run):
    res, tmp = quick_run
    losses = np.array(res["losses"])
    assert res["step"] == len(losses) == 30
    assert np.all(np.isfinite(losses))
    assert losses[-5:].mean() < 0.8 * losses[:3].mean()          # from ~log(V) nats down clearly
    assert res["val_bpc"] < math.log2(len(res["vocab"])) - 0.5    # better than uniform on held-out text
    assert os.path.exists(res["checkpoint"])
    pytest.importorskip("matplotlib")
    assert res["plot"] and os.path.getsize(res["plot"]) > 1000


def test_char_lm_checkpoint_round_trip(char_lm, quick_run):
    res, _ = quick_run
    ck = char_lm.load_checkpoint(res["checkpoint"])
    assert ck["step"] == res["step"] and ck["vocab"] == res["vocab"]
    ids = np.random.default_rng(0).integers(0, len(res["vocab"]), size=(20, 3))
    res["model"].eval()
    with mg.no_grad():
        want, _ = res["model"](ids)
        got, _ = ck["model"](ids)
    np.testing.assert_array_equal(got.data, want.data)
    a, b = res["opt"].state_dict(), ck["opt"].state_dict()
    assert a["state"].keys() == b["state"].keys() and len(a["state"]) > 0
    for k in a["state"]:
        assert a["state"][k]["step"] == b["state"][k]["step"]
        np.testing.assert_array_equal(a["state"][k]["exp_avg"], b["state"][k]["exp_avg"])
        np.testing.assert_array_equal(a["state"][k]["exp_avg_sq"], b["state"][k]["exp_avg_sq"])
    assert a["param_groups"][0]["lr"] == b["param_groups"][0]["lr"]
    assert ck["sched"].last_epoch == res["sched"].last_epoch


def test_char_lm_resume_continues_the_same_run(char_lm, tmp_path):
    # Dropout on, so the restored random generator matters too; the plan is fixed by --max-steps.
    common = ["--max-steps", "12", "--warmup", "3", "--dropout", "0.1"]
    straight = char_lm.main(_quick(tmp_path, "straight", *common))
    first = char_lm.main(_quick(tmp_path, "split", *common, "--stop-at", "6"))
    assert first["step"] == 6
    resumed = char_lm.main(_quick(tmp_path, "split", "--resume", str(tmp_path / "split.npz")))
    assert resumed["step"] == 12
    assert resumed["losses"] == straight["losses"]         # exactly: the same run
    assert resumed["losses"][:6] == first["losses"]


def test_char_lm_sample_length(char_lm, quick_run):
    res, _ = quick_run
    out = char_lm.main(["--sample", res["checkpoint"], "--length", "77", "--prime", "import ",
                        "--threads", "1"])
    assert isinstance(out["sample"], str) and len(out["sample"]) == 77


def test_char_lm_text_file(char_lm, tmp_path):
    # --text: any file; characters outside the training vocabulary map to the unknown slot.
    path = tmp_path / "t.txt"
    path.write_text("the quick brown fox jumps over the lazy dog. " * 400 + "\u00e9\u00e9")
    res = char_lm.main(_quick(tmp_path, "text", "--text", str(path), "--max-steps", "8", "--warmup", "2",
                              "--plot", ""))
    assert res["step"] == 8 and res["vocab"][0] == char_lm.UNK
    assert "\u00e9" not in res["vocab"]                          # it only appears in the validation part
    ids = char_lm.encode("fox\u00e9", res["vocab"])
    assert ids[-1] == 0 and np.all(ids[:3] > 0)


def test_sine_quick_beats_naive(tmp_path):
    sine = _load("sine")
    res = sine.main(["--quick", "--threads", "1", "--plot", str(tmp_path / "sine.png")])
    assert res["losses"][-1] < 0.5 * res["losses"][0]
    assert res["mse"] < 0.8 * res["naive_mse"]
    assert res["forecast_mse"] < 0.5 * res["naive_forecast_mse"]


def test_sine_csv(tmp_path):
    sine = _load("sine")
    path = tmp_path / "series.csv"
    t = np.arange(600)
    path.write_text("value\n" + "\n".join(f"{v:.5f}" for v in 3 + 2 * np.sin(2 * np.pi * t / 30)))
    res = sine.main(["--quick", "--threads", "1", "--csv", str(path), "--window", "30", "--plot", ""])
    assert res["mse"] < res["naive_mse"]
