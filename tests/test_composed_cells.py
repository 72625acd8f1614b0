"""nn.composed: the readable cells built from primitive tape ops must equal the fused C cells --
forward and every gradient, one step and a loop over time -- and pass finite differences."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import composed
from minigrad.nn.cell_registry import CELLS
from minigrad.tensor import tape_nodes

TOL = dict(rtol=1e-12, atol=1e-12)
KINDS = list(CELLS)


def fused_cell(kind, I, H, bias=True):
    return CELLS[kind].make_cell(I, H, bias=bias, dtype=np.float64)


def composed_fn(kind):
    """The composed function for ``kind`` with a uniform signature fn(x, state, w_ih, w_hh, b_ih, b_hh)."""
    spec = CELLS[kind]
    if spec.nonlinearity:
        return lambda x, h, *p: spec.composed(x, h, *p, nonlinearity=spec.nonlinearity)
    return spec.composed


def params_of(m, names):
    return [getattr(m, n, None) for n in names if getattr(m, n, None) is not None]


def state_tensors(kind, arrays):
    ts = [mg.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays[: CELLS[kind].n_state]]
    return ts, (tuple(ts) if CELLS[kind].n_state > 1 else ts[0])


def outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


def backprop(outs, Rs):
    loss = sum(((o * R).sum() for o, R in zip(outs, Rs)), mg.tensor(0.0, dtype=np.float64))
    loss.backward()


CELL_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_composed_cell_equals_fused_cell(kind, bias, batched):
    B, I, H = 3, 4, 5
    mg.manual_seed(1)
    cell = fused_cell(kind, I, H, bias)
    rng = np.random.default_rng(0)
    lead = (B,) if batched else ()
    x = rng.standard_normal(lead + (I,))
    s = rng.standard_normal((2,) + lead + (H,))
    Rs = rng.standard_normal((2,) + lead + (H,))

    results = []
    for use_composed in (False, True):
        cell.zero_grad()
        tx = mg.tensor(x, requires_grad=True, dtype=np.float64)
        ts, state = state_tensors(kind, s)
        if use_composed:
            out = composed_fn(kind)(tx, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        else:
            out = cell(tx, state)
        outs = outputs(out)
        backprop(outs, Rs)
        results.append(([o.data for o in outs], [tx.grad] + [t.grad for t in ts],
                        [p.grad.copy() for p in params_of(cell, CELL_PARAMS)]))
    (fo, fg, fp), (co, cg, cp) = results
    assert len(fo) == len(co) == (2 if kind == "lstm" else 1)
    for a, b in zip(fo + fg + fp, co + cg + cp):
        np.testing.assert_allclose(b, a, **TOL)
    assert len(fp) == (4 if bias else 2)


@pytest.mark.parametrize("kind", KINDS)
def test_composed_cell_is_built_from_primitive_ops(kind):
    """No fused recurrent node on the composed tape: only matmul / add / mul / activations / split."""
    cell = fused_cell(kind, 3, 2)
    x = mg.tensor(np.ones((2, 3)), dtype=np.float64)
    out = composed.cell_step(cell, x)
    names = {type(n).__name__ for o in outputs(out) for n in tape_nodes(o)}
    assert not any("Recurrent" in n or "Projection" in n for n in names), names
    assert "MatMul" in names or any("matmul" in n.lower() for n in names), names
    fused = outputs(cell(x))
    assert any("Recurrent" in type(n).__name__ for n in tape_nodes(fused[0]))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_composed_cell(kind, bias):
    rng = np.random.default_rng(3)
    B, I, H = 2, 3, 2
    G = {"lstm": 4, "gru": 3}.get(kind, 1) * H
    t = lambda *shape: mg.tensor(rng.standard_normal(shape) * 0.7, requires_grad=True, dtype=np.float64)
    x, h, c = t(B, I), t(B, H), t(B, H)
    params = [t(G, I), t(G, H)] + ([t(G), t(G)] if bias else [])
    fn = composed_fn(kind)
    if kind == "lstm":
        f = lambda x, h, c, *p: fn(x, (h, c), *p)
        inputs = [x, h, c] + params
    else:
        f = lambda x, h, *p: fn(x, h, *p)
        inputs = [x, h] + params
    assert mg.gradcheck(f, inputs, atol=1e-7, rtol=1e-5)


LAYERS = {"rnn_tanh": lambda I, H, **k: nn.RNN(I, H, nonlinearity="tanh", **k),
          "rnn_relu": lambda I, H, **k: nn.RNN(I, H, nonlinearity="relu", **k),
          "lstm": nn.LSTM, "gru": nn.GRU}
LAYER_PARAMS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


@pytest.mark.parametrize("unroll", [False, True], ids=["fused-seq", "unrolled"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_composed_loop_equals_layer(kind, bias, unroll):
    """h_t = cell(x_t, h_{t-1}) for t = 0..T-1 with composed cells == nn.RNN/LSTM/GRU."""
    T, B, I, H = 6, 3, 4, 5
    mg.manual_seed(2)
    layer = LAYERS[kind](I, H, bias=bias, unroll=unroll).double()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, I))
    s0 = rng.standard_normal((2, 1, B, H))
    R = rng.standard_normal((T, B, H))
    Rn = rng.standard_normal((2, 1, B, H))
    lstm = kind == "lstm"

    layer.zero_grad()
    tx = mg.tensor(x, requires_grad=True, dtype=np.float64)
    ts, hx = state_tensors(kind, s0)
    out, hn = layer(tx, hx)
    finals = outputs(hn)
    backprop([out] + finals, [R, Rn[0], Rn[1]])
    fused = [out.data] + [f.data for f in finals] + [tx.grad] + [t.grad for t in ts]
    fused_p = [p.grad.copy() for p in params_of(layer, LAYER_PARAMS)]

    layer.zero_grad()
    tx = mg.tensor(x, requires_grad=True, dtype=np.float64)
    ts, _ = state_tensors(kind, s0)
    p = [getattr(layer, n, None) for n in LAYER_PARAMS]
    step = composed_fn(kind)
    state = (ts[0][0], ts[1][0]) if lstm else ts[0][0]
    hs = []
    for t in range(T):
        state = step(tx[t], state, *p)
        hs.append(state[0] if lstm else state)
    out_c = mg.stack(hs, axis=0)
    finals_c = [f.reshape(1, B, H) for f in (state if lstm else (state,))]
    backprop([out_c] + finals_c, [R, Rn[0], Rn[1]])
    comp = [out_c.data] + [f.data for f in finals_c] + [tx.grad] + [t.grad for t in ts]
    comp_p = [q.grad.copy() for q in params_of(layer, LAYER_PARAMS)]

    assert len(fused) == len(comp) and len(fused_p) == len(comp_p) == (4 if bias else 2)
    for a, b in zip(fused + fused_p, comp + comp_p):
        np.testing.assert_allclose(b, a, **TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_composed_modules_share_the_fused_layout(kind):
    """composed.LSTMCell etc. load a fused cell's state_dict unchanged and give its outputs."""
    mg.manual_seed(4)
    fused = fused_cell(kind, 3, 4)
    cls = {"lstm": composed.LSTMCell, "gru": composed.GRUCell}.get(kind, composed.RNNCell)
    kw = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    comp = cls(3, 4, dtype=np.float64, **kw)
    assert list(comp.state_dict()) == list(fused.state_dict())
    comp.load_state_dict(fused.state_dict())
    x = np.random.default_rng(5).standard_normal((2, 3))
    for state in (None, "given"):
        if state == "given":
            s = np.random.default_rng(6).standard_normal((2, 2, 4))
            state = (s[0], s[1]) if kind == "lstm" else s[0]
        a, b = outputs(fused(x, state)), outputs(comp(x, state))
        for u, v in zip(a, b):
            np.testing.assert_allclose(v.data, u.data, **TOL)
    assert repr(comp).startswith(cls.__name__ + "(3, 4")


def test_composed_rnn_cell_rejects_unknown_nonlinearity():
    z = mg.tensor(np.zeros((1, 1)), dtype=np.float64)
    with pytest.raises(ValueError, match="nonlinearity"):
        composed.rnn_cell(z, z, z, z, nonlinearity="sigmoid")


def test_composed_cell_float32_close_to_fused():
    cell = nn.LSTMCell(4, 3)
    x = np.random.default_rng(7).standard_normal((2, 4)).astype(np.float32)
    (h1, c1), (h2, c2) = cell(x), composed.cell_step(cell, x)
    assert h2.dtype == np.float32
    np.testing.assert_allclose(h2.data, h1.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c2.data, c1.data, rtol=1e-5, atol=1e-6)
