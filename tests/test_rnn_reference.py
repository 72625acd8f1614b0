"""Proves minigrad/reference/rnn.py right: hand-written BPTT against central finite differences
(float64), and forward values and all gradients against PyTorch (float64, to 1e-10)."""
import numpy as np
import pytest

from minigrad.reference import rnn as ref
from fdcheck import assert_fd_close, weighted_sum

KINDS = ref.KINDS


def _state_arrays(kind, state, prefix):
    if kind == "lstm":
        return {prefix + "h": state[0], prefix + "c": state[1]}
    return {prefix + "h": state}


# ---------------------------------------------------------------------------------------------
# Cell: finite differences
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_cell_gradients_finite_differences(kind, bias):
    rng = np.random.default_rng(1)
    B, I, H = 3, 4, 3
    p = ref.cell_params(ref.init_params(kind, I, H, bias=bias, rng=rng), 0, 0)
    p = {k: (None if v is None else v * 2.0) for k, v in p.items()}  # larger weights: nonlinear regime
    x = rng.standard_normal((B, I))
    state = rng.standard_normal((B, H))
    if kind == "lstm":
        state = (state, rng.standard_normal((B, H)))
    R = rng.standard_normal((B, H))
    S = rng.standard_normal((B, H))

    def loss():
        new, _ = ref.cell_forward(kind, x, state, p)
        if kind == "lstm":
            return weighted_sum((new[0], R), (new[1], S))
        return weighted_sum((new, R))

    new, cache = ref.cell_forward(kind, x, state, p)
    d_new = (R, S) if kind == "lstm" else R
    dx, d_state, dp = ref.cell_backward(kind, d_new, cache)
    assert set(dp) == {k for k, v in p.items() if v is not None}

    arrays = {"x": x, **_state_arrays(kind, state, "s_"), **{k: v for k, v in p.items() if v is not None}}
    grads = {"x": dx, **_state_arrays(kind, d_state, "s_"), **dp}
    assert_fd_close(loss, arrays, grads)


# ---------------------------------------------------------------------------------------------
# Layer: finite differences over every input, initial state and parameter
# ---------------------------------------------------------------------------------------------

LAYER_CASES = [
    # (num_layers, bidirectional, lengths, batch_first, with_masks)
    (1, False, None, False, False),
    (1, True, [4, 2, 3], False, False),       # unsorted, one full length
    (2, True, None, True, False),
    (2, False, [1, 4, 3], True, True),        # dropout masks between layers
    (2, True, [3, 4, 1], False, True),
]


def _layer_problem(kind, L, bidir, lengths, batch_first, with_masks, rng, T=4, B=3, I=2, H=3):
    D = 2 if bidir else 1
    params = ref.init_params(kind, I, H, L, bidir, bias=True, rng=rng)
    params = {k: v * 2.0 for k, v in params.items()}
    xs = (B, T, I) if batch_first else (T, B, I)
    os_ = (B, T, D * H) if batch_first else (T, B, D * H)
    x = rng.standard_normal(xs)
    h0 = rng.standard_normal((L * D, B, H))
    hx = (h0, rng.standard_normal((L * D, B, H))) if kind == "lstm" else h0
    masks = None
    if with_masks:  # inverted-dropout masks with p = 0.4, already scaled
        masks = [(rng.random(os_) > 0.4) / 0.6 for _ in range(L - 1)]
    R = rng.standard_normal(os_)
    S = rng.standard_normal((L * D, B, H))
    Sc = rng.standard_normal((L * D, B, H))
    return params, x, hx, masks, R, S, Sc


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: f"L{c[0]}-bi{int(c[1])}-len{c[2]}-bf{int(c[3])}-m{int(c[4])}")
@pytest.mark.parametrize("kind", KINDS)
def test_layer_gradients_finite_differences(kind, case):
    L, bidir, lengths, batch_first, with_masks = case
    rng = np.random.default_rng(2)
    # the two-layer bidirectional cases have the most parameters: smaller H keeps them fast
    I, H = (3, 2) if (L == 2 and bidir) else (2, 3)
    params, x, hx, masks, R, S, Sc = _layer_problem(kind, L, bidir, lengths, batch_first, with_masks,
                                                    rng, I=I, H=H)
    lstm = kind == "lstm"

    def run():
        return ref.layer_forward(kind, x, hx, params, L, bidir, lengths=lengths,
                                 batch_first=batch_first, masks=masks)

    def loss():
        out, hn, _ = run()
        if lstm:
            return weighted_sum((out, R), (hn[0], S), (hn[1], Sc))
        return weighted_sum((out, R), (hn, S))

    out, hn, cache = run()
    if lengths is not None:  # padding: zero output
        tb = out.transpose(1, 0, 2) if batch_first else out
        for b, n in enumerate(lengths):
            assert np.all(tb[n:, b] == 0)
    dx, dhx, dparams = ref.layer_backward(R, (S, Sc) if lstm else S, cache)
    assert list(dparams) == list(params)
    if lengths is not None:  # padding: zero input gradient
        tb = dx.transpose(1, 0, 2) if batch_first else dx
        for b, n in enumerate(lengths):
            assert np.all(tb[n:, b] == 0)

    arrays = {"x": x, **_state_arrays(kind, hx, "hx_"), **params}
    grads = {"x": dx, **_state_arrays(kind, dhx, "hx_"), **dparams}
    assert_fd_close(loss, arrays, grads)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_content_is_ignored(kind):
    """Whatever the padded steps of x hold (here NaN) changes no result and no gradient."""
    rng = np.random.default_rng(8)
    lengths = [2, 4, 1]
    params, x, hx, masks, R, S, Sc = _layer_problem(kind, 2, True, lengths, False, True, rng)
    d_hn = (S, Sc) if kind == "lstm" else S
    out1, hn1, c1 = ref.layer_forward(kind, x, hx, params, 2, True, lengths=lengths, masks=masks)
    g1 = ref.layer_backward(R, d_hn, c1)
    x2 = x.copy()
    for b, n in enumerate(lengths):
        x2[n:, b] = np.nan
    out2, hn2, c2 = ref.layer_forward(kind, x2, hx, params, 2, True, lengths=lengths, masks=masks)
    g2 = ref.layer_backward(R, d_hn, c2)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(hn1, hn2)
    np.testing.assert_array_equal(g1[0], g2[0])
    np.testing.assert_array_equal(g1[1], g2[1])
    for n in params:
        np.testing.assert_array_equal(g1[2][n], g2[2][n], err_msg=n)


def test_layer_backward_accepts_missing_gradients():
    rng = np.random.default_rng(3)
    params, x, hx, _, R, S, Sc = _layer_problem("lstm", 1, True, None, False, False, rng)
    out, hn, cache = ref.layer_forward("lstm", x, hx, params, 1, True)
    dx1, (dh1, dc1), dp1 = ref.layer_backward(R, None, cache)
    dx2, (dh2, dc2), dp2 = ref.layer_backward(R, (np.zeros_like(S), None), cache)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(dc1, dc2)
    dx3, _, _ = ref.layer_backward(None, (None, Sc), cache)
    assert np.abs(dx3).max() > 0


def test_hx_none_is_zeros_and_bad_inputs_raise():
    rng = np.random.default_rng(4)
    params = ref.init_params("gru", 2, 3, 1, False, rng=rng)
    x = rng.standard_normal((4, 2, 2))
    o1, h1, _ = ref.layer_forward("gru", x, None, params)
    o2, h2, _ = ref.layer_forward("gru", x, np.zeros((1, 2, 3)), params)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(h1, h2)
    with pytest.raises(ValueError, match="lengths"):
        ref.layer_forward("gru", x, None, params, lengths=[5, 1])
    with pytest.raises(ValueError, match="lengths"):
        ref.layer_forward("gru", x, None, params, lengths=[0, 1])
    with pytest.raises(ValueError, match="kind"):
        ref.layer_forward("lstmx", x, None, params)


def test_init_params_shapes_and_range():
    p = ref.init_params("lstm", 5, 4, num_layers=2, bidirectional=True, bias=True, rng=0)
    assert list(p) == ref.param_names(2, True, True)
    assert p["weight_ih_l0"].shape == (16, 5)
    assert p["weight_ih_l1_reverse"].shape == (16, 8)
    assert p["weight_hh_l1"].shape == (16, 4)
    assert p["bias_hh_l0_reverse"].shape == (16,)
    assert all(np.abs(v).max() <= 0.5 for v in p.values())
    q = ref.init_params("gru", 5, 4, bias=False, rng=0, dtype=np.float32)
    assert list(q) == ["weight_ih_l0", "weight_hh_l0"] and q["weight_ih_l0"].dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Against PyTorch
# ---------------------------------------------------------------------------------------------

def _torch_module(torch, kind, I, H, L, bidir, bias, batch_first):
    common = dict(num_layers=L, bias=bias, batch_first=batch_first, bidirectional=bidir)
    if kind == "lstm":
        return torch.nn.LSTM(I, H, **common)
    if kind == "gru":
        return torch.nn.GRU(I, H, **common)
    return torch.nn.RNN(I, H, nonlinearity=kind[4:], **common)


def _torch_run(torch, mod, x, hx, lengths, batch_first):
    """Run a torch RNN module on a padded batch, packing it when lengths are given."""
    T = x.shape[1] if batch_first else x.shape[0]
    if lengths is None:
        return mod(x, hx)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                                     enforce_sorted=False)
    out, hn = mod(packed, hx)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, hn


TORCH_CASES = [
    # (num_layers, bidirectional, bias, lengths, batch_first)
    (1, False, True, None, False),
    (2, True, True, None, False),
    (2, True, False, [5, 2, 6], False),     # unsorted, one full length
    (2, True, True, [1, 6, 3], True),
    (1, True, True, [6, 6, 6], False),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: f"L{c[0]}-bi{int(c[1])}-b{int(c[2])}-len{c[3]}-bf{int(c[4])}")
@pytest.mark.parametrize("kind", KINDS)
def test_layer_matches_torch(kind, case):
    torch = pytest.importorskip("torch")
    L, bidir, bias, lengths, batch_first = case
    T, B, I, H = 6, 3, 3, 4
    D = 2 if bidir else 1
    lstm = kind == "lstm"
    rng = np.random.default_rng(5)
    params = ref.init_params(kind, I, H, L, bidir, bias=bias, rng=rng)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    h0 = rng.standard_normal((L * D, B, H))
    c0 = rng.standard_normal((L * D, B, H))
    hx = (h0, c0) if lstm else h0
    R = rng.standard_normal((B, T, D * H) if batch_first else (T, B, D * H))
    S = rng.standard_normal((L * D, B, H))
    Sc = rng.standard_normal((L * D, B, H))

    out, hn, cache = ref.layer_forward(kind, x, hx, params, L, bidir, lengths=lengths,
                                       batch_first=batch_first)
    dx, dhx, dparams = ref.layer_backward(R, (S, Sc) if lstm else S, cache)

    mod = _torch_module(torch, kind, I, H, L, bidir, bias, batch_first).double()
    assert [n for n, _ in mod.named_parameters()] == list(params)
    with torch.no_grad():
        for n, p in mod.named_parameters():
            p.copy_(torch.from_numpy(params[n]))
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0, requires_grad=True)
    tc0 = torch.tensor(c0, requires_grad=True)
    tout, thn = _torch_run(torch, mod, tx, (th0, tc0) if lstm else th0, lengths, batch_first)
    tloss = (tout * torch.from_numpy(R)).sum()
    if lstm:
        tloss = tloss + (thn[0] * torch.from_numpy(S)).sum() + (thn[1] * torch.from_numpy(Sc)).sum()
    else:
        tloss = tloss + (thn * torch.from_numpy(S)).sum()
    tloss.backward()

    tol = dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out, tout.detach().numpy(), **tol)
    if lstm:
        np.testing.assert_allclose(hn[0], thn[0].detach().numpy(), **tol)
        np.testing.assert_allclose(hn[1], thn[1].detach().numpy(), **tol)
        np.testing.assert_allclose(dhx[1], tc0.grad.numpy(), **tol)
        np.testing.assert_allclose(dhx[0], th0.grad.numpy(), **tol)
    else:
        np.testing.assert_allclose(hn, thn.detach().numpy(), **tol)
        np.testing.assert_allclose(dhx, th0.grad.numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    for n, p in mod.named_parameters():
        np.testing.assert_allclose(dparams[n], p.grad.numpy(), err_msg=n, **tol)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_matches_torch(kind):
    torch = pytest.importorskip("torch")
    B, I, H = 3, 4, 5
    rng = np.random.default_rng(6)
    p = ref.cell_params(ref.init_params(kind, I, H, rng=rng), 0, 0)
    x = rng.standard_normal((B, I))
    h = rng.standard_normal((B, H))
    c = rng.standard_normal((B, H))
    R, S = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    state = (h, c) if kind == "lstm" else h
    new, cache = ref.cell_forward(kind, x, state, p)
    dx, dstate, dp = ref.cell_backward(kind, (R, S) if kind == "lstm" else R, cache)

    if kind == "lstm":
        cell = torch.nn.LSTMCell(I, H)
    elif kind == "gru":
        cell = torch.nn.GRUCell(I, H)
    else:
        cell = torch.nn.RNNCell(I, H, nonlinearity=kind[4:])
    cell = cell.double()
    with torch.no_grad():
        for n, q in cell.named_parameters():
            q.copy_(torch.from_numpy(p[n]))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "lstm":
        th1, tc1 = cell(tx, (th, tc))
        (th1 * torch.from_numpy(R)).sum().add((tc1 * torch.from_numpy(S)).sum()).backward()
        np.testing.assert_allclose(new[0], th1.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(new[1], tc1.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dstate[1], tc.grad.numpy(), rtol=1e-10, atol=1e-10)
        dh = dstate[0]
    else:
        th1 = cell(tx, th)
        (th1 * torch.from_numpy(R)).sum().backward()
        np.testing.assert_allclose(new, th1.detach().numpy(), rtol=1e-12, atol=1e-12)
        dh = dstate
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dh, th.grad.numpy(), rtol=1e-10, atol=1e-10)
    for n, q in cell.named_parameters():
        np.testing.assert_allclose(dp[n], q.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=n)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_dropout_masks_match_stacked_torch_layers(kind):
    """masks= equals two one-layer torch modules with the mask multiplied in between."""
    torch = pytest.importorskip("torch")
    T, B, I, H, L = 5, 3, 2, 3, 2
    lengths = [3, 5, 2]
    lstm = kind == "lstm"
    rng = np.random.default_rng(7)
    params = ref.init_params(kind, I, H, L, True, rng=rng)
    x = rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((2 * L, B, H))
    c0 = rng.standard_normal((2 * L, B, H))
    mask = (rng.random((T, B, 2 * H)) > 0.5) / 0.5
    R = rng.standard_normal((T, B, 2 * H))
    out, hn, cache = ref.layer_forward(kind, x, (h0, c0) if lstm else h0, params, L, True,
                                       lengths=lengths, masks=[mask])
    dx, dhx, dparams = ref.layer_backward(R, None, cache)

    tx = torch.tensor(x, requires_grad=True)
    mods, y = [], tx
    for l in range(L):
        mod = _torch_module(torch, kind, I if l == 0 else 2 * H, H, 1, True, True, False).double()
        with torch.no_grad():
            for n, q in mod.named_parameters():
                q.copy_(torch.from_numpy(params[n.replace("_l0", f"_l{l}")]))
        s = slice(2 * l, 2 * l + 2)
        hx = (torch.from_numpy(h0[s]), torch.from_numpy(c0[s])) if lstm else torch.from_numpy(h0[s])
        if l > 0:
            y = y * torch.from_numpy(mask)
        y, _ = _torch_run(torch, mod, y, hx, lengths, False)
        mods.append(mod)
    (y * torch.from_numpy(R)).sum().backward()

    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for l, mod in enumerate(mods):
        for n, q in mod.named_parameters():
            np.testing.assert_allclose(dparams[n.replace("_l0", f"_l{l}")], q.grad.numpy(),
                                       rtol=1e-10, atol=1e-10, err_msg=f"layer {l} {n}")
