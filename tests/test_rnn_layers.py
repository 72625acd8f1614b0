"""nn.RNN / LSTM / GRU and their cells against the independent NumPy reference (minigrad/reference/rnn.py),
finite differences, and PyTorch when it is installed."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.reference import rnn as ref

MODULES = {"rnn_tanh": lambda *a, **k: nn.RNN(*a, nonlinearity="tanh", **k),
           "rnn_relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
           "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn_tanh": lambda *a, **k: nn.RNNCell(*a, nonlinearity="tanh", **k),
         "rnn_relu": lambda *a, **k: nn.RNNCell(*a, nonlinearity="relu", **k),
         "lstm": nn.LSTMCell, "gru": nn.GRUCell}

# (T, B, I, H, num_layers, bidirectional, bias, batch_first, lengths)
CASES = {
    "basic": (5, 3, 4, 5, 1, False, True, False, None),
    "stacked-bidir-lengths": (6, 4, 3, 4, 2, True, True, False, [6, 2, 4, 1]),
    "batch-first-nobias": (4, 2, 3, 3, 1, False, False, True, [3, 4]),
    "bidir-batch-first-lengths": (5, 3, 2, 3, 1, True, True, True, [5, 3, 1]),
}


def _setup(kind, case, seed=0, unroll=False):
    T, B, I, H, L, bidir, bias, bf, lengths = CASES[case]
    rng = np.random.default_rng(seed)
    params = ref.init_params(kind, I, H, L, bidir, bias, rng)
    mod = MODULES[kind](I, H, num_layers=L, bidirectional=bidir, bias=bias, batch_first=bf,
                        unroll=unroll).double()
    mod.load_state_dict(params)
    D = 2 if bidir else 1
    x = rng.standard_normal((B, T, I) if bf else (T, B, I))
    h0 = rng.standard_normal((L * D, B, H))
    c0 = rng.standard_normal((L * D, B, H))
    R = rng.standard_normal((B, T, D * H) if bf else (T, B, D * H))
    S, Sc = rng.standard_normal((2, L * D, B, H))
    if lengths is not None:  # padding holds garbage on purpose: it must not matter
        for b, n in enumerate(lengths):
            if bf:
                x[b, n:] = 1e3
            else:
                x[n:, b] = 1e3
    return mod, params, (x, h0, c0, R, S, Sc), (L, bidir, bf, lengths)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ref.KINDS)
def test_layer_matches_numpy_reference(kind, case, unroll):
    mod, params, (x, h0, c0, R, S, Sc), (L, bidir, bf, lengths) = _setup(kind, case, unroll=unroll)
    lstm = kind == "lstm"
    hx_ref = (h0, c0) if lstm else h0
    out_r, hn_r, cache = ref.layer_forward(kind, x, hx_ref, params, L, bidir, lengths, bf)
    dx_r, dhx_r, dp_r = ref.layer_backward(R, (S, Sc) if lstm else S, cache)

    tx = mg.tensor(x, requires_grad=True, dtype=np.float64)
    th0 = mg.tensor(h0, requires_grad=True, dtype=np.float64)
    tc0 = mg.tensor(c0, requires_grad=True, dtype=np.float64)
    out, hn = mod(tx, (th0, tc0) if lstm else th0, lengths=lengths)
    loss = (out * R).sum() + ((hn[0] * S).sum() + (hn[1] * Sc).sum() if lstm else (hn * S).sum())
    loss.backward()

    np.testing.assert_allclose(out.data, out_r, rtol=1e-10, atol=1e-12)
    if lstm:
        np.testing.assert_allclose(hn[0].data, hn_r[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hn[1].data, hn_r[1], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tc0.grad, dhx_r[1], rtol=1e-9, atol=1e-11)
        dh0_r = dhx_r[0]
    else:
        np.testing.assert_allclose(hn.data, hn_r, rtol=1e-10, atol=1e-12)
        dh0_r = dhx_r
    np.testing.assert_allclose(tx.grad, dx_r, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(th0.grad, dh0_r, rtol=1e-9, atol=1e-11)
    for name, p in mod.named_parameters():
        np.testing.assert_allclose(p.grad, dp_r[name], rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_cell_matches_numpy_reference(kind):
    rng = np.random.default_rng(1)
    B, I, H = 3, 4, 5
    params = ref.cell_params(ref.init_params(kind, I, H, rng=rng), 0, 0)
    cell = CELLS[kind](I, H).double()
    cell.load_state_dict(params)
    x = rng.standard_normal((B, I))
    lstm = kind == "lstm"
    state = (rng.standard_normal((B, H)), rng.standard_normal((B, H))) if lstm else rng.standard_normal((B, H))
    new_r, cache = ref.cell_forward(kind, x, state, params)
    d_new = (rng.standard_normal((B, H)), rng.standard_normal((B, H))) if lstm else rng.standard_normal((B, H))
    dx_r, dstate_r, dp_r = ref.cell_backward(kind, d_new, cache)

    tx = mg.tensor(x, requires_grad=True, dtype=np.float64)
    ts = tuple(mg.tensor(s, requires_grad=True, dtype=np.float64) for s in (state if lstm else (state,)))
    new = cell(tx, ts if lstm else ts[0])
    news = new if lstm else (new,)
    loss = sum(((n * d).sum() for n, d in zip(news, d_new if lstm else (d_new,))), mg.tensor(0.0, dtype=np.float64))
    loss.backward()
    for n, r in zip(news, new_r if lstm else (new_r,)):
        np.testing.assert_allclose(n.data, r, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(tx.grad, dx_r, rtol=1e-10, atol=1e-12)
    for t, r in zip(ts, dstate_r if lstm else (dstate_r,)):
        np.testing.assert_allclose(t.grad, r, rtol=1e-10, atol=1e-12)
    for name, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad, dp_r[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_cell_and_layer_gradcheck(kind):
    mg.manual_seed(3)
    cell = CELLS[kind](3, 2).double()
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True, dtype=np.float64)
    params = list(cell.parameters())
    assert mg.gradcheck(lambda x, *p: cell(x), [x] + params)

    layer = MODULES[kind](2, 2, num_layers=2, bidirectional=True).double()
    xs = mg.tensor(np.random.default_rng(1).standard_normal((3, 2, 2)), requires_grad=True, dtype=np.float64)
    lengths = np.array([3, 2])

    def f(x, *p):
        out, hn = layer(x, lengths=lengths)
        return out, (hn if kind != "lstm" else hn[1])
    assert mg.gradcheck(f, [xs] + list(layer.parameters()))


@pytest.mark.parametrize("kind", ref.KINDS)
def test_unrolled_equals_fused_and_exposes_every_step(kind):
    rng = np.random.default_rng(5)
    T, B, I, H = 6, 3, 4, 5
    fused = MODULES[kind](I, H)
    unrolled = MODULES[kind](I, H, unroll=True)
    unrolled.load_state_dict(fused.state_dict())
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    out_f, _ = fused(x)
    out_u, _ = unrolled(x)
    np.testing.assert_array_equal(out_f.data, out_u.data)
    steps = unrolled.step_states[(0, 0)]          # h_t tensors of layer 0, forward direction
    assert len(steps) == T
    for h in steps:
        h.retain_grad()
    out_u[-1].sum().backward()                    # the loss sees only the last step...
    norms = [np.linalg.norm(h.grad) for h in steps]
    assert all(n > 0 for n in norms)              # ...yet every earlier h_t receives gradient
    (out_f[-1]).sum().backward()
    for (n, p), q in zip(fused.named_parameters(), unrolled.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6, err_msg=n)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_non_contiguous_weights_give_the_same_results(kind):
    """A weight stored as a transposed view (e.g. assigned from elsewhere) is fine for both time
    loops: the unrolled one's step plan is built from, and checked against, one contiguous copy."""
    rng = np.random.default_rng(6)
    T, B, I, H = 4, 3, 2, 5
    ref_layer = MODULES[kind](I, H, dtype=np.float64)
    x = rng.standard_normal((T, B, I))
    out_ref, _ = ref_layer(x)
    for unroll in (False, True):
        layer = MODULES[kind](I, H, unroll=unroll, dtype=np.float64)
        layer.load_state_dict(ref_layer.state_dict())
        layer.weight_hh_l0.data = np.asfortranarray(layer.weight_hh_l0.data)
        out, _ = layer(x)
        np.testing.assert_array_equal(out.data, out_ref.data)
        out.sum().backward()
        assert layer.weight_hh_l0.grad.shape == layer.weight_hh_l0.shape


@pytest.mark.parametrize("kind", ref.KINDS)
def test_float32_close_to_float64(kind):
    mod, params, (x, h0, c0, R, S, Sc), (L, bidir, bf, lengths) = _setup(kind, "stacked-bidir-lengths")
    mod32 = MODULES[kind](mod.input_size, mod.hidden_size, num_layers=L, bidirectional=bidir)
    mod32.load_state_dict(params)
    out64, _ = mod(x.astype(np.float64), lengths=lengths)
    out32, _ = mod32(x.astype(np.float32), lengths=lengths)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, out64.data, rtol=1e-4, atol=1e-5)


def test_unbatched_input_and_default_init_range():
    lstm = nn.LSTM(3, 4, num_layers=2)
    out, (h, c) = lstm(np.zeros((5, 3), np.float32))
    assert out.shape == (5, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    bound = 1 / np.sqrt(4)
    for name, p in lstm.named_parameters():
        assert np.all(np.abs(p.data) <= bound), name
    names = [n for n, _ in nn.GRU(3, 4, bidirectional=True).named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                     "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"]


def test_dropout_between_layers_only_in_training():
    mg.manual_seed(0)
    rnn = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    a, _ = rnn(x)
    b, _ = rnn(x)
    assert not np.allclose(a.data, b.data)       # different masks
    rnn.eval()
    c, _ = rnn(x)
    d, _ = rnn(x)
    np.testing.assert_array_equal(c.data, d.data)


@pytest.mark.parametrize("bad, exc, match", [
    (dict(x=np.zeros((5, 2, 4), np.float32)), ValueError, r"\(T, B, 3\).*\(5, 2, 4\)"),
    (dict(x=mg.tensor(np.zeros((5, 2, 3)), dtype=np.float64)), TypeError, "float64.*float32"),
    (dict(hx=np.zeros((1, 3, 4), np.float32)), ValueError, r"h_0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"),
    (dict(lengths=[5, 5, 5]), ValueError, r"expected shape \(2,\)"),
    (dict(lengths=[6, 1]), ValueError, r"\[1, 5\]"),
    (dict(lengths=[0, 1]), ValueError, r"\[1, 5\]"),
    (dict(lengths=[1.5, 2.0]), TypeError, "integers"),
])
def test_bad_input_is_rejected_before_any_kernel_runs(bad, exc, match):
    rnn = nn.GRU(3, 4)
    args = dict(x=np.zeros((5, 2, 3), np.float32), hx=None, lengths=None)
    args.update(bad)
    with pytest.raises(exc, match=match):
        rnn(args["x"], args["hx"], lengths=args["lengths"])


def test_lstm_hx_must_be_a_pair():
    with pytest.raises(ValueError, match="pair"):
        nn.LSTM(3, 4)(np.zeros((2, 1, 3), np.float32), (np.zeros((1, 1, 4), np.float32),))


@pytest.mark.parametrize("kind", ref.KINDS)
def test_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    T, B, I, H, L = 5, 3, 4, 6, 2
    kw = dict(num_layers=L, bidirectional=True, batch_first=True)
    tmod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(kind)
    tmod = tmod(I, H, **kw) if tmod else torch.nn.RNN(I, H, nonlinearity=kind[4:], **kw)
    tmod = tmod.double()
    mod = MODULES[kind](I, H, **kw).double()
    mod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((B, T, I))
    lengths = [5, 2, 4]
    tx = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    tout, thn = tmod(packed)
    tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=True, total_length=T)
    thn = thn[0] if kind == "lstm" else thn
    (tout.sum() + thn.square().sum()).backward()

    mx = mg.tensor(x, requires_grad=True, dtype=np.float64)
    out, hn = mod(mx, lengths=lengths)
    hn = hn[0] if kind == "lstm" else hn
    (out.sum() + (hn * hn).sum()).backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mx.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    tparams = dict(tmod.named_parameters())
    for name, p in mod.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
