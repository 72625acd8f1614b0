"""The fused recurrent node's checks and bound kernels (nn.recurrent_ops.RecurrentSequence through a
kernels.sequences.BoundSequence): a pass checks its arrays once, in forward (``check_pass``), and its
backward runs on the pointers forward kept (a ``SeqPass`` saved with the caches) -- so the
backward must still be right for every gradient the engine can hand it, twice with
``retain_graph``, and must not keep the caches alive after it ran."""
import gc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.kernels import sequences as KC
from minigrad.nn import recurrent_ops
from minigrad.nn.cell_registry import CELLS
from minigrad.nn.direction import check_lengths, run_direction


def _weights(spec, I, H, rng, dtype=np.float64):
    G = spec.gates
    mk = lambda *s: mg.tensor(rng.standard_normal(s) * 0.5, requires_grad=True, dtype=dtype)
    return mk(G * H, I), mk(G * H, H), mk(G * H), mk(G * H)


def _inputs(spec, T, B, I, H, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((T, B, I)), requires_grad=True, dtype=dtype)
    states = tuple(mg.tensor(rng.standard_normal((B, H)) * 0.5, requires_grad=True, dtype=dtype)
                   for _ in spec.state_names)
    return x, states, _weights(spec, I, H, rng, dtype)


def _grads(spec, unroll, x, states, ws, lengths=None, reverse=False, transpose=False):
    """Gradients of a fixed random projection of the output (through a transpose when asked: the
    engine then hands the node a non-C-contiguous dout) and of the final states."""
    for t in (x, *states, *ws):
        t.grad = None
    out, finals, _ = run_direction(spec, x, states, *ws, lengths=lengths, reverse=reverse, unroll=unroll)
    rng = np.random.default_rng(1)
    if transpose:
        out = out.transpose(0, 1)
    loss = (out * rng.standard_normal(out.shape)).sum()
    for f in finals:
        loss = loss + (f * rng.standard_normal(f.shape)).sum()
    loss.backward()
    return [t.grad.copy() for t in (x, *states, *ws)]


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_equals_unrolled_with_strided_output_gradient(kind, reverse):
    """A transposed use of the output gives the fused backward a strided dout; it must read it
    as the values, not as memory (the unrolled steps are the reference: same equations)."""
    spec = CELLS[kind]
    x, states, ws = _inputs(spec, 5, 3, 4, 6)
    lengths = check_lengths([5, 2, 4], 3, 5)
    fused = _grads(spec, False, x, states, ws, lengths, reverse, transpose=True)
    unrolled = _grads(spec, True, x, states, ws, lengths, reverse, transpose=True)
    for a, b in zip(fused, unrolled):
        # one C loop vs T step kernels, same float64 operations up to summation order
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", list(CELLS))
def test_fused_backward_twice_with_retain_graph(kind):
    """The SeqPass kept by forward serves a second backward: twice the gradient."""
    spec = CELLS[kind]
    x, states, ws = _inputs(spec, 4, 2, 3, 5, seed=3)
    out, finals, _ = run_direction(spec, x, states, *ws, lengths=check_lengths([4, 3], 2, 4))
    R = np.random.default_rng(4).standard_normal(out.shape)
    (out * R).sum().backward(retain_graph=True)
    once = [t.grad.copy() for t in (x, *states, *ws)]
    (out * R).sum().backward()
    for a, t in zip(once, (x, *states, *ws)):
        np.testing.assert_allclose(t.grad, 2 * a, rtol=1e-13, atol=1e-15)


def test_checks_once_per_pass_and_never_in_backward(monkeypatch):
    """A 2-layer bidirectional layer runs 4 passes: 4 checks in forward, none in backward."""
    calls = []
    real = recurrent_ops.check_pass
    monkeypatch.setattr(recurrent_ops, "check_pass", lambda *a, **k: (calls.append(a[0]), real(*a, **k)))
    layer = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    out, h_n = layer(mg.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)), dtype=np.float32))
    assert calls == ["gru_seq_forward"] * 4
    (out.sum() + h_n.sum()).backward()
    assert len(calls) == 4
    assert all(p.grad is not None for p in layer.parameters())


def test_caches_are_freed_by_backward():
    """The SeqPass's pointers keep the caches alive only as long as the node's saved arrays."""
    spec = CELLS["gru"]
    x, states, ws = _inputs(spec, 4, 2, 3, 5)
    out, _, _ = run_direction(spec, x, states, *ws)
    node = out._node
    gates = weakref.ref(node.saved[1 + [n for n, _ in spec.seq_cache].index("gates")])
    gc.collect()
    assert gates() is not None
    out.sum().backward()
    gc.collect()
    assert gates() is None          # the node itself is still alive (out._node)
    assert out._node is node


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bound_sequence_made_once_per_spec_and_dtype(dtype):
    spec = CELLS["lstm"]
    a = spec.bound_sequence(np.dtype(dtype))
    assert a is spec.bound_sequence(np.dtype(dtype))
    assert a is not CELLS["gru"].bound_sequence(np.dtype(dtype))
    assert a.dtype == dtype and a.overwrite        # the LSTM writes its gates over gx


@pytest.mark.parametrize("kind", list(CELLS))
def test_bad_states_refused_before_c(kind):
    """The one check of a pass names the kernel and the argument, as the public kernels do."""
    spec = CELLS[kind]
    x, states, ws = _inputs(spec, 3, 2, 3, 4)
    bad = (mg.tensor(np.zeros((2, 5))),) + states[1:]
    with pytest.raises(ValueError, match=rf"{spec.c_cell}_seq_forward: h0 has shape \(2, 5\)"):
        run_direction(spec, x, bad, *ws)


def test_public_sequence_kernels_use_the_bound_form():
    """kernels.gru_seq_forward/backward (checked) and the bound form give the same bits."""
    rng = np.random.default_rng(5)
    T, B, H = 4, 3, 5
    gx, h0 = rng.standard_normal((T, B, 3 * H)), rng.standard_normal((B, H))
    w, bhn = rng.standard_normal((3 * H, H)), rng.standard_normal(H)
    lengths = np.array([4, 1, 3], np.int64)
    out, h_n, cache = KC.gru_seq_forward(gx, h0, w, bhn, lengths, reverse=True)
    dout = rng.standard_normal((T, B, H))
    dgx, dgh, dh0 = KC.gru_seq_backward(dout, None, cache, w, lengths, reverse=True)
    bound = CELLS["gru"].bound_sequence(np.dtype(np.float64))
    out2, (h_n2,), _, rec = bound.forward(gx.copy(), [h0], w, bhn, lengths, True, ())
    dgx2, dgh2, (dh02,) = bound.backward(dout, [None], rec)
    for a, b in ((out, out2), (h_n, h_n2), (dgx, dgx2), (dgh, dgh2), (dh0, dh02)):
        np.testing.assert_array_equal(a, b)
