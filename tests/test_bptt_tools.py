"""Tests of the BPTT study tools: draw_tape (exact DOT), the per-step gradient recorder (against
the NumPy reference's hand-written BPTT), the IDX loader, and the examples' --quick modes."""
import gzip
import os
import struct

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.bptt import record_state_grads, state_grad_norms
from minigrad.datasets import IDXError, load_idx, load_mnist, save_idx

from minigrad.reference import rnn as ref

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = {"rnn_tanh": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


# ============================================================================ draw_tape
def _small_graph():
    a = mg.Tensor([1.0, 2.0], requires_grad=True, name="a")
    w = mg.Tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True, name="w")
    h = mg.tanh(w @ a)
    h.retain_grad()
    s, c = mg.split(h * 3.0, 1)
    loss = (s * c).sum()
    return loss, h


EXPECTED_SMALL = r'''digraph tape {
  graph [fontname="Helvetica", fontsize=10];
  node [fontname="Helvetica", fontsize=10];
  edge [fontname="Helvetica", fontsize=9];
  l0 [label="w\n(2, 2)\n|grad| 3.62", shape=ellipse, style=filled, fillcolor="#cfe2f3"];
  l1 [label="a\n(2,)\n|grad| 1.7", shape=ellipse, style=filled, fillcolor="#cfe2f3"];
  l2 [label="constant\n() = 3", shape=ellipse, style=dashed, color="#888888", fontcolor="#555555"];
  n0 [label="MatMul\n(2,)", shape=box, style=rounded];
  n1 [label="Tanh\n(2,)", shape=box, style=rounded];
  n2 [label="Mul\n(2,)", shape=box, style=rounded];
  n3 [label="Split\n(1,), (1,)", shape=box, style=rounded];
  n4 [label="Mul\n(1,)", shape=box, style=rounded];
  n5 [label="Sum\n()", shape=box, style=rounded];
  result [label="result\n()", shape=ellipse, style=bold];
  l0 -> n0;
  l1 -> n0;
  n0 -> n1;
  n1 -> n2 [label="|grad| 12.1"];
  l2 -> n2;
  n2 -> n3;
  n3 -> n4 [label="out0"];
  n3 -> n4 [label="out1"];
  n4 -> n5;
  n5 -> result;
}
'''


def test_draw_tape_small_graph_exact(tmp_path):
    loss, h = _small_graph()
    before = mg.draw_tape(loss)                       # no gradients yet: no norms anywhere
    assert "|grad|" not in before and "-> result;" in before
    loss.backward()
    dot = mg.draw_tape(loss, grad_norms=True)
    assert dot == EXPECTED_SMALL
    # the norms on the drawing are the real ones
    assert f"{np.linalg.norm(h.grad):.3g}" == "12.1"
    # path not ending in an image suffix: the DOT text itself is written there
    p = tmp_path / "g.dot"
    assert mg.draw_tape(loss, p, grad_norms=True) == EXPECTED_SMALL
    assert p.read_text() == EXPECTED_SMALL


def _lstm3(seed=0):
    mg.manual_seed(seed)
    lstm = nn.LSTM(2, 3, unroll=True)
    head = nn.Linear(3, 1)
    x = mg.Tensor(np.random.default_rng(seed).random((3, 2, 2)).astype(np.float32), name="x")
    out, _ = lstm(x)
    loss = mg.functional.mse_loss(head(out[-1]), np.zeros((2, 1), np.float32))
    names = dict(lstm.named_parameters())
    names.update({"head." + k: v for k, v in head.named_parameters()})
    return loss, names


def test_draw_tape_lstm_clusters_params_and_determinism():
    loss, names = _lstm3()
    dot = mg.draw_tape(loss, names=names)
    loss2, names2 = _lstm3()
    assert dot == mg.draw_tape(loss2, names=names2)        # the same computation, the same text
    lines = dot.splitlines()
    for t in range(3):                          # one cluster per time step holding exactly its step
        i = lines.index(f"  subgraph cluster_t{t} {{")
        assert lines[i + 1] == f'    label="t = {t}"; style=dashed; color="#999999";'
        assert lines[i + 2].startswith(f'    n{t + 2} [label="LSTM step t={t}\\n(2, 3), (2, 3)"')
        assert lines[i + 3] == "  }"
    assert dot.count("subgraph cluster_") == 3
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "head.weight", "head.bias"):
        assert sum(f'[label="{name}\\n' in ln for ln in lines) == 1, name      # distinct leaf each
    assert '  n0 [label="LSTM input projection (T=3): weight_ih_l0\\n(3, 2, 12)"' in dot
    assert "  n2 -> n3 [label=\"h\"];" in lines and "  n2 -> n3 [label=\"c\"];" in lines
    assert all(f"  n0 -> n{k};" in lines for k in (2, 3, 4))     # every step reads the projection


def test_draw_tape_lstm_is_honest_about_w_hh():
    """W_hh feeds the recurrence -- its node hands it to every step and forms dW_hh -- and not the
    input projection, which uses only W_ih and the biases (issue 12)."""
    loss, names = _lstm3()
    lines = mg.draw_tape(loss, names=names).splitlines()
    leaf = {ln.split(" [label=\"")[0].strip(): ln.split(" [label=\"")[1].split("\\n")[0]
            for ln in lines if ln.startswith("  l") and "shape=ellipse" in ln}
    by_name = {v: k for k, v in leaf.items()}
    assert '  n1 [label="weight_hh_l0: dW_hh of 3 steps (one GEMM)\\n(12, 3)"' in "\n".join(lines)
    feeds = lambda src: sorted(ln.split("-> ")[1].rstrip(";") for ln in lines if ln.startswith(f"  {src} -> "))
    assert feeds(by_name["weight_hh_l0"]) == ["n1"]
    assert feeds("n1") == ["n2", "n3", "n4"]
    for name in ("x", "weight_ih_l0", "bias_ih_l0", "bias_hh_l0"):
        assert feeds(by_name[name]) == ["n0"], name


def test_draw_tape_renders_or_explains(tmp_path, monkeypatch):
    loss, names = _lstm3()
    if mg.draw.shutil.which("dot"):
        out = tmp_path / "tape.svg"
        mg.draw_tape(loss, out, names=names)
        assert out.read_text().lstrip().startswith("<?xml") and (tmp_path / "tape.dot").exists()
    monkeypatch.setattr(mg.draw.shutil, "which", lambda name: None)
    with pytest.warns(RuntimeWarning, match="Graphviz 'dot' program is not on PATH"):
        text = mg.draw_tape(loss, tmp_path / "t2.png", names=names)
    assert (tmp_path / "t2.dot").read_text() == text and not (tmp_path / "t2.png").exists()
    with pytest.raises(TypeError, match="expects a Tensor"):
        mg.draw_tape(np.zeros(3))


# ============================================================================ gradient flow
def _setup_flow(kind, bidirectional=False, lengths=None, seed=0):
    rng = np.random.default_rng(seed)
    T, B, I, H = 7, 3, 2, 4
    params = ref.init_params(kind, I, H, bidirectional=bidirectional, rng=rng)
    params = {k: v * 1.5 for k, v in params.items()}          # out of the tiny-gradient regime
    mod = MODULES[kind](I, H, bidirectional=bidirectional, unroll=True, dtype=np.float64)
    mod.load_state_dict(params)
    x = rng.standard_normal((T, B, I))
    D = 2 if bidirectional else 1
    R = rng.standard_normal((T, B, D * H))       # a loss on every output step ...
    S = rng.standard_normal((D, B, H))           # ... and on the final state
    return mod, params, x, R, S, lengths


@pytest.mark.parametrize("kind", list(MODULES))
def test_recorder_matches_numpy_bptt(kind):
    mod, params, x, R, S, _ = _setup_flow(kind)
    out, hn = mod(x)
    rec = record_state_grads(mod)
    h_n = hn[0] if kind == "lstm" else hn
    ((out * R).sum() + (h_n * S).sum()).backward()
    norms = rec.norms()
    assert norms.shape == (x.shape[0],) and norms.dtype == np.float64

    _, _, cache = ref.layer_forward(kind, x, None, params)
    d_hn = (S, None) if kind == "lstm" else S
    want = ref.state_gradients(R, d_hn, cache)[(0, 0)]                  # (T, B, H)
    np.testing.assert_allclose(norms, [np.linalg.norm(g) for g in want], rtol=1e-10)
    # the loss-only-at-the-end case: the last step's norm is what the loss sends directly
    rec.remove()


def test_recorder_reverse_direction_with_lengths():
    lengths = np.array([7, 4, 2])
    mod, params, x, R, S, lengths = _setup_flow("gru", bidirectional=True, lengths=lengths, seed=3)
    out, hn = mod(x, lengths=lengths)
    fwd, bwd = record_state_grads(mod, 0, 0), record_state_grads(mod, 0, 1)
    ((out * R).sum() + (hn * S).sum()).backward()
    _, _, cache = ref.layer_forward("gru", x, None, params, bidirectional=True, lengths=lengths)
    want = ref.state_gradients(R, S, cache)
    for rec, d in ((fwd, 0), (bwd, 1)):
        np.testing.assert_allclose(rec.norms(), [np.linalg.norm(g) for g in want[(0, d)]], rtol=1e-10)


def test_state_grad_norms_helper_and_errors():
    mod, params, x, R, S, _ = _setup_flow("lstm")
    mod.unroll = False
    norms, loss = state_grad_norms(mod, x, lambda out: (out[-1] * R[-1]).sum())
    assert mod.unroll is False and norms.shape == (7,)
    assert loss == pytest.approx(float((mod(x)[0].data[-1] * R[-1]).sum()))
    _, _, cache = ref.layer_forward("lstm", x, None, params)
    d_out = np.zeros_like(R)
    d_out[-1] = R[-1]
    want = ref.state_gradients(d_out, None, cache)[(0, 0)]
    np.testing.assert_allclose(norms, [np.linalg.norm(g) for g in want], rtol=1e-10)
    assert np.all(np.diff(norms) > 0)            # default-ish init: gradient shrinks going back
    fused = nn.GRU(2, 3)
    fused(np.zeros((4, 1, 2), np.float32))
    with pytest.raises(RuntimeError, match="unroll=True"):
        record_state_grads(fused)
    mod.unroll = True
    mod(x)
    with pytest.raises(ValueError, match=r"available: \[\(0, 0\)\]"):
        record_state_grads(mod, layer=1)


# ============================================================================ IDX files
def _idx_bytes(code, arr_be):
    """An IDX file written by hand (independent of save_idx)."""
    return bytes([0, 0, code, arr_be.ndim]) + struct.pack(f">{arr_be.ndim}I", *arr_be.shape) + arr_be.tobytes()


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("code,dtype", [(0x08, ">u1"), (0x0D, ">f4")])
def test_load_idx_reads_handwritten_files(tmp_path, gz, code, dtype):
    rng = np.random.default_rng(0)
    a = (rng.random((5, 3, 4)) * 255).astype(dtype)
    data = _idx_bytes(code, a)
    p = tmp_path / ("f.idx.gz" if gz else "f.idx")
    p.write_bytes(gzip.compress(data) if gz else data)
    got = load_idx(p)
    assert got.shape == (5, 3, 4) and got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_save_load_idx_round_trip_all_types(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    for name in ("a.idx", "a.idx.gz"):
        save_idx(tmp_path / name, a)
        np.testing.assert_array_equal(load_idx(tmp_path / name), a)
    assert (tmp_path / "a.idx.gz").read_bytes()[:2] == b"\x1f\x8b"
    save_idx(tmp_path / "s.idx", np.array([], np.uint8))                    # empty 1-D
    assert load_idx(tmp_path / "s.idx").shape == (0,)


def test_load_idx_errors(tmp_path):
    a = np.arange(12, dtype=">u1").reshape(3, 4)
    good = _idx_bytes(0x08, a)
    cases = {"magic": (b"\x01\x00" + good[2:], "bad IDX magic"),
             "type": (good[:2] + b"\x07" + good[3:], "unknown IDX element type 0x07"),
             "short": (good[:3], "too short"),
             "header": (good[:6], "truncated header"),
             "data": (good[:-1], r"truncated data: shape \(3, 4\) of uint8 needs 12 bytes, only 11"),
             "extra": (good + b"\x00", "1 unexpected bytes"),
             "gzip": (b"\x1f\x8b" + b"garbage", "cannot be decompressed")}
    for name, (blob, msg) in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(IDXError, match=msg):
            load_idx(p)
    with pytest.raises(TypeError, match="no IDX type code"):
        save_idx(tmp_path / "x.idx", np.zeros(3, np.complex64))


def test_load_mnist_finds_standard_names(tmp_path):
    x = np.zeros((4, 28, 28), np.uint8)
    y = np.arange(4, dtype=np.uint8)
    save_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    save_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    save_idx(tmp_path / "t10k-images.idx3-ubyte", x[:2])        # the dotted spelling, raw
    save_idx(tmp_path / "t10k-labels.idx1-ubyte", y[:3])
    with pytest.raises(IDXError, match="do not match"):
        load_mnist(tmp_path)
    save_idx(tmp_path / "t10k-labels.idx1-ubyte", y[:2])
    (xtr, ytr), (xte, yte) = load_mnist(tmp_path)
    assert xtr.shape == (4, 28, 28) and yte.tolist() == [0, 1]
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path / "nowhere")


# ============================================================================ examples
@pytest.fixture(autouse=True)
def _keep_threads():
    n = mg.get_num_threads()            # the examples set the thread count; leave it as found
    yield
    mg.set_num_threads(n)


def _example(name):
    """Import examples/<name>.py as a module (run in-process: no second interpreter start-up)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(ROOT, "examples", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gradient_flow_example_quick(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    _example("bptt_gradient_flow").main(["--quick", "--jobs", "1", "--out", str(tmp_path / "flow.png")])
    out = capsys.readouterr().out
    assert (tmp_path / "flow.png").stat().st_size > 0
    for kind in ("RNN", "LSTM", "GRU"):
        assert f"{kind}" in out
    assert "dL/dh_1" in out and "clip" in out


def test_digits_example_quick_and_mnist_path(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    digits = _example("digits_rows")
    digits.main(["--quick", "--threads", "1", "--out", str(tmp_path / "cm.png")])
    out = capsys.readouterr().out
    assert "test accuracy" in out and (tmp_path / "cm.png").stat().st_size > 0
    # the MNIST code path on a tiny synthetic IDX set (28 x 28 images, written here)
    rng = np.random.default_rng(0)
    d = tmp_path / "mnist"
    d.mkdir()
    for split, n in (("train", 60), ("t10k", 20)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = np.zeros((n, 28, 28), np.uint8)
        x[np.arange(n), 2 * y + 3, 5:20] = 255                # a class-dependent bright row
        save_idx(d / f"{split}-images-idx3-ubyte.gz", x)
        save_idx(d / f"{split}-labels-idx1-ubyte", y)
    digits.main(["--quick", "--threads", "1", "--mnist", str(d), "--out", str(tmp_path / "cm2.png")])
    out = capsys.readouterr().out
    assert "28 steps of 28 pixels" in out and "test accuracy" in out
