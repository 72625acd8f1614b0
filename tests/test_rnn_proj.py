"""LSTM projections (PyTorch's proj_size, LSTMP): h_t = W_hr (o_t * tanh(c_t)), h of width P.

Checked against PyTorch (fused and unrolled, stacked, bidirectional, padded, given h_0/c_0), the
NumPy reference's hand-written BPTT, the composed cell, and finite differences."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import composed
from minigrad.reference import rnn as ref

F64 = np.float64
T, B, I, H, P = 5, 3, 4, 6, 3


def _data(L, D, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, B, I)), rng.standard_normal((L * D, B, P)), rng.standard_normal((L * D, B, H))


def _run(mod, x, hx, lengths, unroll):
    mod.unroll = unroll
    mod.zero_grad()
    mx = mg.tensor(x, requires_grad=True, dtype=F64)
    mh = None if hx is None else tuple(mg.tensor(a, requires_grad=True, dtype=F64) for a in hx)
    out, (hn, cn) = mod(mx, mh, lengths=lengths)
    (out.sum() + (hn * hn).sum() + (cn * cn).sum()).backward()
    grads = {n: p.grad for n, p in mod.named_parameters()}
    return out.data, hn.data, cn.data, mx.grad, None if mh is None else tuple(t.grad for t in mh), grads


CASES = [dict(L=1, bid=False, lengths=None, hx=False), dict(L=2, bid=True, lengths=[5, 2, 4], hx=True),
         dict(L=2, bid=False, lengths=[3, 5, 1], hx=True)]


def test_parameters_are_pytorchs():
    m = nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=P)
    names = ref.param_names(2, True, True, proj=True)
    assert list(m.state_dict()) == names
    shapes = {n: a.shape for n, a in ref.init_params("lstm", I, H, 2, True, proj_size=P).items()}
    assert {n: a.shape for n, a in m.state_dict().items()} == shapes
    assert shapes["weight_hh_l0"] == (4 * H, P) and shapes["weight_hr_l0"] == (P, H)
    assert shapes["weight_ih_l1"] == (4 * H, 2 * P)
    assert "proj_size=3" in repr(m)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("case", CASES, ids=["plain", "bidir-lengths-hx", "stacked-lengths-hx"])
def test_matches_pytorch(case, unroll):
    torch = pytest.importorskip("torch")
    L, bid, lengths, use_hx = case["L"], case["bid"], case["lengths"], case["hx"]
    D = 2 if bid else 1
    t = torch.nn.LSTM(I, H, num_layers=L, bidirectional=bid, proj_size=P).double()
    m = nn.LSTM(I, H, num_layers=L, bidirectional=bid, proj_size=P, dtype=F64)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x, h0, c0 = _data(L, D)
    tx = torch.tensor(x, requires_grad=True)
    th = (torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True))
    inp = tx if lengths is None else torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.tensor(lengths), enforce_sorted=False)
    to, (thn, tcn) = t(inp, th if use_hx else None)
    if lengths is not None:
        to, _ = torch.nn.utils.rnn.pad_packed_sequence(to, total_length=T)
    (to.sum() + thn.square().sum() + tcn.square().sum()).backward()
    out, hn, cn, dx, dhx, grads = _run(m, x, (h0, c0) if use_hx else None, lengths, unroll)
    tol = dict(rtol=1e-10, atol=1e-12)
    for a, b in ((out, to), (hn, thn), (cn, tcn), (dx, tx.grad)):
        np.testing.assert_allclose(a, b.detach().numpy(), **tol)
    if use_hx:
        for a, b in zip(dhx, th):
            np.testing.assert_allclose(a, b.grad.numpy(), **tol)
    tparams = dict(t.named_parameters())
    for name, g in grads.items():
        np.testing.assert_allclose(g, tparams[name].grad.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("case", CASES, ids=["plain", "bidir-lengths-hx", "stacked-lengths-hx"])
def test_matches_numpy_reference_bptt(case):
    L, bid, lengths, use_hx = case["L"], case["bid"], case["lengths"], case["hx"]
    D = 2 if bid else 1
    params = ref.init_params("lstm", I, H, L, bid, rng=1, proj_size=P)
    m = nn.LSTM(I, H, num_layers=L, bidirectional=bid, proj_size=P, dtype=F64)
    m.load_state_dict(params)
    x, h0, c0 = _data(L, D, seed=2)
    hx = (h0, c0) if use_hx else None
    r_out, (r_hn, r_cn), cache = ref.layer_forward("lstm", x, hx, params, L, bid, lengths)
    dx, dhx, dparams = ref.layer_backward(np.ones_like(r_out), (2 * r_hn, 2 * r_cn), cache)
    out, hn, cn, gx, ghx, grads = _run(m, x, hx, lengths, False)
    tol = dict(rtol=1e-10, atol=1e-12)
    for a, b in ((out, r_out), (hn, r_hn), (cn, r_cn), (gx, dx)):
        np.testing.assert_allclose(a, b, **tol)
    if use_hx:
        for a, b in zip(ghx, dhx):
            np.testing.assert_allclose(a, b, **tol)
    for name, g in grads.items():
        np.testing.assert_allclose(g, dparams[name], err_msg=name, **tol)


def test_composed_cell_loop_equals_layer():
    mg.manual_seed(3)
    m = nn.LSTM(I, H, proj_size=P, dtype=F64)
    x, h0, c0 = _data(1, 1, seed=4)
    out, (hn, cn) = m(x, (h0, c0))
    h, c = mg.tensor(h0[0], dtype=F64), mg.tensor(c0[0], dtype=F64)
    w = (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
    for t in range(T):
        h, c = composed.lstm_cell(mg.tensor(x[t], dtype=F64), (h, c), *w, w_hr=m.weight_hr_l0)
        np.testing.assert_allclose(h.data, out.data[t], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c.data, cn.data[0], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
def test_gradcheck(unroll):
    mg.manual_seed(5)
    m = nn.LSTM(2, 3, proj_size=2, bidirectional=True, unroll=unroll, dtype=F64)
    rng = np.random.default_rng(6)
    x = mg.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True, dtype=F64)
    h0 = mg.tensor(rng.standard_normal((2, 2, 2)), requires_grad=True, dtype=F64)
    c0 = mg.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True, dtype=F64)
    params = [p for _, p in m.named_parameters()]

    def f(x, h0, c0, *ps):
        out, (hn, cn) = m(x, (h0, c0), lengths=[3, 2])
        return (out * out).sum() + (hn * cn[:, :, :2]).sum()

    assert mg.gradcheck(f, [x, h0, c0] + params)


def test_float32_close_to_float64_and_edge_cases():
    m64 = nn.LSTM(I, H, proj_size=P, dtype=F64)
    m32 = nn.LSTM(I, H, proj_size=P)
    m32.load_state_dict({k: v.astype(np.float32) for k, v in m64.state_dict().items()})
    x = np.random.default_rng(7).standard_normal((T, B, I))
    o64, _ = m64(x)
    o32, _ = m32(x.astype(np.float32))
    np.testing.assert_allclose(o32.data, o64.data, rtol=0, atol=1e-5)
    # zero steps return the initial states; unbatched input works
    h0, c0 = np.ones((1, B, P)), np.ones((1, B, H))
    out, (hn, cn) = m64(np.zeros((0, B, I)), (h0, c0))
    assert out.shape == (0, B, P)
    np.testing.assert_array_equal(hn.data, h0)
    np.testing.assert_array_equal(cn.data, c0)
    out, (hn, cn) = m64(x[:, 0])
    assert out.shape == (T, P) and hn.shape == (1, P) and cn.shape == (1, H)
    np.testing.assert_allclose(out.data, o64.data[:, 0], rtol=1e-13, atol=1e-14)


def test_bad_proj_size():
    with pytest.raises(ValueError, match="proj_size is supported by the LSTM only, got proj_size=2 for GRU"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="smaller than hidden_size, got proj_size=4 and hidden_size=4"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="non-negative int, got -1"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match=r"h_0 has shape \(1, 2, 4\), expected \(1, 2, 3\)"):
        nn.LSTM(3, 4, proj_size=3)(np.zeros((5, 2, 3), np.float32),
                                   (np.zeros((1, 2, 4), np.float32), np.zeros((1, 2, 4), np.float32)))
