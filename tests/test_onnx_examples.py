"""``--export-onnx`` of examples/char_lm.py: a quick run writes an ONNX file that onnxruntime runs at
another window length and batch size, giving the trained model's logits and states."""
import numpy as np

from _examples import load_example
from _onnx_run import assert_same, flat, randn, run_onnx

import minigrad as mg             # noqa: E402


def test_char_lm_quick_run_exports_the_trained_model(tmp_path):
    char_lm = load_example("char_lm")
    path = tmp_path / "char_lm.onnx"
    res = char_lm.main(["--quick", "--max-steps", "3", "--no-progress", "--threads", "1", "--plot", "",
                        "--checkpoint", str(tmp_path / "ck.npz"), "--export-onnx", str(path)])
    model, V = res["model"], len(res["vocab"])
    ids = np.random.default_rng(0).integers(0, V, (11, 3))
    h0, c0 = randn(1, 3, 64, seed=1), randn(1, 3, 64, seed=2)
    got = run_onnx(path.read_bytes(), {"ids": ids, "h0": h0.data, "c0": c0.data})
    model.eval()
    with mg.no_grad():
        assert_same(got, flat(model(mg.tensor(ids), (h0, c0))))
    # the loaded checkpoint exports the same model (--sample --export-onnx)
    again = tmp_path / "again.onnx"
    char_lm.main(["--sample", str(tmp_path / "ck.npz"), "--length", "5", "--export-onnx", str(again)])
    assert_same(run_onnx(again.read_bytes(), {"ids": ids, "h0": h0.data, "c0": c0.data}), got)
