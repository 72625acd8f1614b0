"""The cell registry (nn/cell_registry.py), the honest tape of the recurrent layers, and clear
errors for bad recurrent inputs (issues 11 and 12)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.cell_registry import CELLS, MODES, cell_spec
from minigrad.nn.recurrent_ops import HiddenWeights, InputProjection, RecurrentSequence, RecurrentStep
from minigrad.tensor import tape_nodes

KINDS = list(CELLS)
F64 = np.float64


# ----------------------------------------------------------------------------- the registry
def test_one_spelling_and_consistent_specs():
    assert KINDS == ["rnn_tanh", "rnn_relu", "lstm", "gru"]
    for kind, spec in CELLS.items():
        assert spec.name == kind and cell_spec(kind) is spec and cell_spec(spec.mode) is spec
        assert MODES[spec.mode] == kind and cell_spec(spec) is spec
        assert spec.gates == len(spec.gate_names) and spec.n_state == len(spec.state_names)
        assert 1 <= spec.folded_bias <= spec.gates
        assert spec.recurrent_bias == (spec.folded_bias < spec.gates)
        assert spec.seq_output_names == ("output",) + tuple(s + "_n" for s in spec.state_names)
        layer, cell = spec.make_layer(3, 4), spec.make_cell(3, 4)
        assert layer.kind == cell.kind == kind and layer.spec is cell.spec is spec
        assert layer.weight_hh_l0.shape == cell.weight_hh.shape == (spec.gates * 4, 4)
    with pytest.raises(ValueError, match=r"unknown recurrent cell kind 'elman'.*'rnn_tanh'.*'RNN_TANH'"):
        cell_spec("elman")
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


@pytest.mark.parametrize("kind", KINDS)
def test_composed_and_reference_entries_of_the_spec_agree_with_the_fused_cell(kind):
    spec = CELLS[kind]
    mg.manual_seed(0)
    cell = spec.make_cell(3, 4, dtype=F64)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3))
    states = tuple(rng.standard_normal((2, 4)) for _ in range(spec.n_state))
    arg = states if spec.n_state > 1 else states[0]
    fused = cell(x, arg)
    fused = fused if isinstance(fused, tuple) else (fused,)
    kw = {"nonlinearity": spec.nonlinearity} if spec.nonlinearity else {}
    comp = spec.composed(mg.tensor(x, dtype=F64), tuple(mg.tensor(s, dtype=F64) for s in states)
                         if spec.n_state > 1 else mg.tensor(states[0], dtype=F64), *(
                             cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), **kw)
    comp = comp if isinstance(comp, tuple) else (comp,)
    fwd, _ = spec.reference
    params = {n: p.data for n, p in cell.named_parameters()}
    ref_new, _ = fwd(x, arg, params)
    ref_new = ref_new if isinstance(ref_new, tuple) else (ref_new,)
    for a, b, c in zip(fused, comp, ref_new):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.data, c, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- the honest tape
def _nodes(kind, unroll, T=3):
    mg.manual_seed(2)
    layer = CELLS[kind].make_layer(2, 3, unroll=unroll, dtype=F64)
    x = mg.tensor(np.random.default_rng(3).standard_normal((T, 2, 2)), dtype=F64)
    out, _ = layer(x)
    return layer, out, tape_nodes(out)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("kind", KINDS)
def test_w_hh_feeds_the_recurrence_not_the_input_projection(kind, unroll):
    spec = CELLS[kind]
    layer, out, nodes = _nodes(kind, unroll)
    w_hh, b_hh = layer.weight_hh_l0, layer.bias_hh_l0
    users = lambda p: [type(nd) for nd in nodes if any(t is p for t in nd.inputs)]
    assert users(layer.weight_ih_l0) == [InputProjection]
    assert users(w_hh) == [HiddenWeights if unroll else RecurrentSequence]
    # b_hh is added to gx (its folded part) and, for the GRU, used inside the recurrence (b_hn)
    rec = [HiddenWeights if unroll else RecurrentSequence] if spec.recurrent_bias else []
    assert users(b_hh) == [InputProjection] + rec
    if unroll:
        (hw,) = [nd for nd in nodes if type(nd) is HiddenWeights]
        steps = [nd for nd in nodes if type(nd) is RecurrentStep]
        assert len(steps) == 3 and all(nd.inputs[1]._node is hw for nd in steps)


@pytest.mark.parametrize("kind", KINDS)
def test_unrolled_backward_twice_with_retain_graph(kind):
    """The deferred dW_hh node starts every backward afresh: two backwards give twice the gradient."""
    layer, out, _ = _nodes(kind, True)
    R = np.random.default_rng(4).standard_normal(out.shape)
    (out * R).sum().backward(retain_graph=True)
    once = {n: p.grad.copy() for n, p in layer.named_parameters()}
    (out * R).sum().backward()
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[n], rtol=1e-13, atol=1e-15, err_msg=n)


def test_draw_tape_and_tape_summary_name_the_weights():
    layer, out, _ = _nodes("lstm", False)
    dot = mg.draw_tape(out.sum())
    assert '[label="weight_hh_l0\\n(12, 3)"' in dot and '[label="weight_ih_l0\\n(12, 2)"' in dot
    text = mg.tape_summary(out.sum())
    assert "LSTM sequence T=3: weight_hh_l0" in text and "input projection (T=3): weight_ih_l0" in text


# ----------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kind", KINDS)
def test_zero_steps_unrolled_agrees_with_fused(kind):
    spec = CELLS[kind]
    for unroll in (False, True):
        mg.manual_seed(5)
        layer = spec.make_layer(2, 3, unroll=unroll, dtype=F64)
        h0 = tuple(np.random.default_rng(6).standard_normal((1, 4, 3)) for _ in range(spec.n_state))
        out, hn = layer(np.zeros((0, 4, 2)), h0 if spec.n_state > 1 else h0[0])
        hn = hn if isinstance(hn, tuple) else (hn,)
        assert out.shape == (0, 4, 3)
        for a, b in zip(hn, h0):
            np.testing.assert_array_equal(a.data, b)


@pytest.mark.parametrize("bad, exc, match", [
    (dict(lengths=[-1, 2]), ValueError, r"\[1, 5\].*min -1"),
    (dict(lengths=[2, 9]), ValueError, r"\[1, 5\].*max 9"),
    (dict(lengths=[2]), ValueError, r"expected shape \(2,\), got \(1,\)"),
    (dict(lengths=np.array([2.0, 3.0])), TypeError, "integers, got dtype float64"),
    (dict(hx=mg.tensor(np.zeros((1, 2, 4)), dtype=np.float64)), TypeError, "h_0 is float64 but the parameters are float32"),
    (dict(hx=np.zeros((2, 2, 4), np.float32)), ValueError, r"h_0 has shape \(2, 2, 4\), expected \(1, 2, 4\)"),
])
def test_bad_lengths_and_hx_name_the_values(bad, exc, match):
    args = dict(x=np.zeros((5, 2, 3), np.float32), hx=None, lengths=None)
    args.update(bad)
    with pytest.raises(exc, match=match):
        nn.RNN(3, 4)(args["x"], args["hx"], lengths=args["lengths"])


def test_unsorted_lengths_are_fine():
    out, _ = nn.GRU(3, 4)(np.ones((5, 3, 3), np.float32), lengths=[2, 5, 3])
    assert not out.data[2:, 0].any() and out.data[4, 1].any() and not out.data[3:, 2].any()


def test_state_structure_errors_name_the_cell():
    with pytest.raises(ValueError, match=r"LSTM: hx must be a pair \(h, c\), got tuple of 1"):
        nn.LSTM(3, 4)(np.zeros((2, 1, 3), np.float32), (np.zeros((1, 1, 4), np.float32),))
    with pytest.raises(TypeError, match="GRUCell: state must be one tensor h for a gru cell, got a tuple of 2"):
        nn.GRUCell(3, 4)(np.zeros((1, 3), np.float32), (np.zeros((1, 4), np.float32),) * 2)
    with pytest.raises(ValueError, match=r"LSTMCell: state c has shape \(2, 4\), expected \(1, 4\)"):
        nn.LSTMCell(3, 4)(np.zeros((1, 3), np.float32), (np.zeros((1, 4), np.float32), np.zeros((2, 4), np.float32)))


def test_seq2seq_batch_mismatch_names_both_batch_sizes():
    model = nn.Seq2Seq(7, 8, embed_size=4, hidden_size=6, attention="bahdanau")
    src, tgt = np.full((4, 3), 3), np.full((5, 2), 4)
    with pytest.raises(ValueError, match=r"Seq2Seq: batch sizes differ: src \(S, B\) has B = 3, tgt \(T, B\) has B = 2"):
        model(src, None, tgt)
    memory, state = model.encode(src)
    with pytest.raises(ValueError, match=r"Decoder: batch sizes differ: tgt_in \(T, B\) has B = 2, the decoder "
                                         r"state has B = 3, the encoder memory has B = 3"):
        model.decoder(tgt, state, memory)


@pytest.mark.parametrize("kind", KINDS)
def test_frozen_w_hh_unrolled_equals_fused(kind):
    """With W_hh frozen the recurrence node still forms the other gradients (the GRU's b_hn part
    of db_hh included), the same in both forms."""
    grads = []
    for unroll in (False, True):
        layer, out, _ = _nodes(kind, unroll)
        layer.weight_hh_l0.requires_grad = False
        out, _ = layer(mg.tensor(np.random.default_rng(3).standard_normal((3, 2, 2)), dtype=F64))
        (out * out).sum().backward()
        assert layer.weight_hh_l0.grad is None
        grads.append({n: p.grad for n, p in layer.named_parameters() if p.requires_grad})
    for n in grads[0]:
        np.testing.assert_allclose(grads[1][n], grads[0][n], rtol=1e-13, atol=1e-15, err_msg=n)
