"""minigrad.utils.tensorboard.SummaryWriter: events read back with TensorBoard's own EventAccumulator.

Skipped when the optional ``tensorboard`` package is absent, except the test that importing the
module then fails with the install hint.
"""
import importlib
import os
import sys

import numpy as np
import pytest

import minigrad as mg


def _accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ea = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    return ea


@pytest.fixture
def SummaryWriter():
    pytest.importorskip("tensorboard")
    from minigrad.utils.tensorboard import SummaryWriter
    return SummaryWriter


def test_scalars_round_trip(tmp_path, SummaryWriter):
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("tensor_value", mg.tensor(np.array([2.5], np.float32)), global_step=np.int64(7))
        assert w.get_logdir() == str(tmp_path)
    ea = _accumulator(tmp_path)
    loss = ea.Scalars("loss/train")
    assert [e.step for e in loss] == list(range(5))
    np.testing.assert_allclose([e.value for e in loss], [1.0 / (s + 1) for s in range(5)], rtol=1e-7)
    assert [(e.step, e.value) for e in ea.Scalars("tensor_value")] == [(7, 2.5)]


def test_add_scalars_writes_one_run_per_key(tmp_path, SummaryWriter):
    w = SummaryWriter(tmp_path)
    for step in range(3):
        w.add_scalars("loss", {"train": step, "valid": 2 * step}, step)
    w.close()
    w.close()                                   # idempotent
    for key, scale in (("train", 1), ("valid", 2)):
        ea = _accumulator(tmp_path / f"loss_{key}")
        assert [(e.step, e.value) for e in ea.Scalars("loss")] == [(s, scale * s) for s in range(3)]
    with pytest.raises(RuntimeError, match="closed"):
        w.add_scalar("x", 1.0, 0)


def test_histogram_and_text(tmp_path, SummaryWriter):
    values = np.random.default_rng(0).normal(size=1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("weights", values, 3)
        w.add_histogram("coarse", mg.tensor(values), 4, bins=10)
        w.add_text("notes", "hello *world*", 1)
    ea = _accumulator(tmp_path)
    h = ea.Histograms("weights")[0]
    assert h.step == 3
    hv = h.histogram_value
    assert hv.num == 1000 and hv.min == values.min() and hv.max == values.max()
    assert sum(hv.bucket) == 1000
    np.testing.assert_allclose([hv.sum, hv.sum_squares], [values.sum(), np.dot(values, values)], rtol=1e-12)
    coarse = ea.Histograms("coarse")[0].histogram_value
    assert len(coarse.bucket) == 10 and sum(coarse.bucket) == 1000
    text = ea.Tensors("notes/text_summary")[0]
    assert text.step == 1 and text.tensor_proto.string_val == [b"hello *world*"]


def test_bad_values(tmp_path, SummaryWriter):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="single number"):
            w.add_scalar("x", np.ones(3), 0)
        with pytest.raises(ValueError, match="NaN or infinity"):
            w.add_histogram("h", np.array([1.0, np.nan]), 0)
        with pytest.raises(ValueError, match="empty"):
            w.add_histogram("h", np.array([]), 0)


def test_default_log_dir_is_runs_with_comment(tmp_path, monkeypatch, SummaryWriter):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        path = w.get_logdir()
    assert path.startswith("runs" + os.sep) and path.endswith("_lr0.1") and os.path.isdir(path)


def test_import_without_tensorboard_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)          # import tensorboard -> ImportError
    for name in [m for m in sys.modules if m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "minigrad.utils.tensorboard", raising=False)
    with pytest.raises(ImportError, match=r'pip install "minigrad\[tensorboard\]"'):
        importlib.import_module("minigrad.utils.tensorboard")


def test_char_lm_tensorboard_logs_every_step(tmp_path):
    pytest.importorskip("tensorboard")
    from _examples import load_example
    char_lm = load_example("char_lm")
    res = char_lm.main(["--quick", "--no-progress", "--threads", "1", "--max-steps", "6", "--plot", "",
                        "--checkpoint", str(tmp_path / "lm.npz"), "--tensorboard", str(tmp_path / "tb")])
    ea = _accumulator(tmp_path / "tb")
    loss = ea.Scalars("train/loss")
    assert [e.step for e in loss] == list(range(1, 7))
    np.testing.assert_allclose([e.value for e in loss], res["losses"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in ea.Scalars("train/perplexity")], np.exp(res["losses"]), rtol=1e-5)
    assert len(ea.Scalars("train/lr")) == 6
    assert ea.Scalars("valid/bits_per_char")[-1].value == pytest.approx(res["val_bpc"], rel=1e-6)
