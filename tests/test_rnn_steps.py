"""The unrolled time loop's per-step calls (nn.recurrent_ops.RecurrentStep through a
kernels.cells.BoundStep): the pass's arrays are checked once, before the first step, and the
steps then call C unchecked -- so every array a step can receive from outside the pass (the
caller's states, the engine's gradients, hooks' gradients) must still be right or be refused."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.cell_registry import CELLS
from minigrad.nn.direction import run_direction
from minigrad.reference import rnn as ref


def _weights(spec, I, H, rng, dtype=np.float64):
    G = spec.gates
    mk = lambda *s: mg.tensor(rng.standard_normal(s) * 0.5, requires_grad=True, dtype=dtype)
    return mk(G * H, I), mk(G * H, H), mk(G * H), mk(G * H)


def _grads(spec, unroll, x, states, ws, lengths=None, reverse=False, hook=None):
    """Gradients of a fixed random projection of output and final states, w.r.t. everything."""
    for t in (x, *states, *ws):
        t.grad = None
    out, finals, steps = run_direction(spec, x, states, *ws, lengths=lengths, reverse=reverse, unroll=unroll)
    if hook is not None:
        for s in steps:
            s[0].register_hook(hook)
    rng = np.random.default_rng(1)
    loss = (out * rng.standard_normal(out.shape)).sum()
    for f in finals:
        loss = loss + (f * rng.standard_normal(f.shape)).sum()
    loss.backward()
    return [None if t.grad is None else t.grad.copy() for t in (x, *states, *ws)]


@pytest.mark.parametrize("kind", ref.KINDS)
@pytest.mark.parametrize("reverse", [False, True])
def test_unrolled_steps_match_the_fused_loop(kind, reverse):
    spec, rng = CELLS[kind], np.random.default_rng(0)
    T, B, I, H = 5, 3, 2, 4
    x = mg.tensor(rng.standard_normal((T, B, I)), requires_grad=True, dtype=np.float64)
    states = [mg.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
              for _ in spec.state_names]
    ws = _weights(spec, I, H, rng)
    lengths = np.array([5, 2, 4], np.int64)
    fused = _grads(spec, False, x, states, ws, lengths, reverse)
    unrolled = _grads(spec, True, x, states, ws, lengths, reverse)
    for a, b in zip(fused, unrolled):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_one_tensor_given_as_h0_and_c0():
    """h_0 and c_0 the same tensor: its two gradients must add up (the step kernel's two
    accumulating outputs must not be one buffer)."""
    spec, rng = CELLS["lstm"], np.random.default_rng(2)
    T, B, I, H = 4, 2, 3, 3
    x = mg.tensor(rng.standard_normal((T, B, I)), dtype=np.float64)
    s = mg.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
    ws = _weights(spec, I, H, rng)
    fused = _grads(spec, False, x, [s, s], ws)
    unrolled = _grads(spec, True, x, [s, s], ws)
    h, c = (mg.tensor(s.data.copy(), requires_grad=True, dtype=np.float64) for _ in range(2))
    apart = _grads(spec, True, x, [h, c], ws)
    np.testing.assert_allclose(unrolled[1], fused[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(unrolled[1], apart[1] + apart[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_hooked_gradient_in_any_layout_is_used_as_given(kind):
    """A hook on h_t may return a Fortran-ordered or strided array: the step makes it
    C-contiguous before C reads it (same numbers as the unhooked run, doubled by the hook)."""
    spec, rng = CELLS[kind], np.random.default_rng(3)
    T, B, I, H = 4, 3, 2, 5
    x = mg.tensor(rng.standard_normal((T, B, I)), requires_grad=True, dtype=np.float64)
    states = [mg.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
              for _ in spec.state_names]
    ws = _weights(spec, I, H, rng)
    plain = _grads(spec, True, x, states, ws, hook=lambda g: 2 * g)
    fortran = _grads(spec, True, x, states, ws, hook=lambda g: np.asfortranarray(2 * g))
    strided = _grads(spec, True, x, states, ws, hook=lambda g: np.repeat(2 * g, 2, axis=1)[:, ::2])
    for a, b, c in zip(plain, fortran, strided):
        np.testing.assert_array_equal(b, a)
        np.testing.assert_array_equal(c, a)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_bad_initial_state_is_refused_before_the_first_step(kind):
    spec, rng = CELLS[kind], np.random.default_rng(4)
    T, B, I, H = 3, 2, 2, 3
    x = mg.tensor(rng.standard_normal((T, B, I)), dtype=np.float64)
    ws = _weights(spec, I, H, rng)
    states = [mg.tensor(np.zeros((B, H + 1)), dtype=np.float64) for _ in spec.state_names]
    with pytest.raises(ValueError, match=rf"{spec.state_names[0]} has shape \(2, 4\)"):
        run_direction(spec, x, states, *ws, unroll=True)
    states = [mg.tensor(np.zeros((B, H)), dtype=np.float64) for _ in spec.state_names]
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 3\]"):
        run_direction(spec, x, states, *ws, lengths=np.array([4, 1]), unroll=True)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("kind", ref.KINDS)
@pytest.mark.parametrize("B, H", [(0, 3), (2, 0)])
def test_zero_size_steps(kind, B, H, unroll):
    """B or H zero (unrolled: no plan is made; the bound kernel is the one that takes W_hh)."""
    spec, rng = CELLS[kind], np.random.default_rng(5)
    T, I = 3, 2
    x = mg.tensor(rng.standard_normal((T, B, I)), requires_grad=True, dtype=np.float64)
    states = [mg.tensor(np.zeros((B, H)), requires_grad=True, dtype=np.float64) for _ in spec.state_names]
    ws = _weights(spec, I, H, rng)
    grads = _grads(spec, unroll, x, states, ws)
    assert grads[0].shape == (T, B, I) and not grads[0].any()


def _respelled(spec):
    """A new cell kind that is nothing but a spec: ``spec``'s rows under another name (the same C
    family, so no C to add). Everything the layers run must come from these rows."""
    from minigrad.nn.cell_registry import CellSpec
    return CellSpec(spec.name + "_copy", spec.mode + "_COPY", spec.gate_names, spec.state_names, spec.c_cell,
                    spec.step_caches, spec.step_saved, spec.seq_cache, spec.seq_backward_reads,
                    spec.folded_bias, spec.separate_hidden_grad, spec.nonlinearity, spec.gates_over_gx,
                    spec.composed_name, spec.supports_projection)


@pytest.mark.parametrize("kind", ref.KINDS)
@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
def test_a_kind_given_only_as_a_spec_runs_both_time_loops(kind, unroll):
    """The binding (kernels/cells.py) and the nodes dispatch on the spec's rows alone: a spec the
    registry has never seen gives the registered kind's numbers, forward and backward."""
    spec, rng = CELLS[kind], np.random.default_rng(6)
    T, B, I, H = 4, 3, 2, 3
    x = mg.tensor(rng.standard_normal((T, B, I)), requires_grad=True, dtype=np.float64)
    states = [mg.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
              for _ in spec.state_names]
    ws = _weights(spec, I, H, rng)
    lengths = np.array([4, 1, 3], np.int64)
    want = _grads(spec, unroll, x, states, ws, lengths)
    got = _grads(_respelled(spec), unroll, x, states, ws, lengths)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_a_kind_given_only_as_a_spec_makes_layers_and_cells(kind):
    """make_layer / make_cell of an unregistered spec: RNNBase / RNNCellBase run it as they are,
    with the registered kind's parameter names and numbers."""
    spec = CELLS[kind]
    new = _respelled(spec)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 4))
    for unroll in (False, True):
        a, b = spec.make_layer(4, 3, unroll=unroll, dtype=np.float64), new.make_layer(4, 3, unroll=unroll,
                                                                                    dtype=np.float64)
        assert type(b).__name__ == "RNNBase" and b.spec is new
        b.load_state_dict(a.state_dict())
        np.testing.assert_array_equal(b(x)[0].data, a(x)[0].data)
    a, b = spec.make_cell(4, 3, dtype=np.float64), new.make_cell(4, 3, dtype=np.float64)
    assert type(b).__name__ == "RNNCellBase" and b.spec is new
    b.load_state_dict(a.state_dict())
    ya, yb = a(x[0]), b(x[0])
    for p, q in zip(ya if isinstance(ya, tuple) else (ya,), yb if isinstance(yb, tuple) else (yb,)):
        np.testing.assert_array_equal(q.data, p.data)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
def test_strided_recurrent_bias(unroll):
    """The GRU's b_hn is a slice of bias_hh; a strided bias_hh (assigned from elsewhere) is bound
    to the steps as a contiguous copy, with the same numbers."""
    ref_layer = CELLS["gru"].make_layer(3, 4, dtype=np.float64)
    x = np.random.default_rng(8).standard_normal((3, 2, 3))
    layer = CELLS["gru"].make_layer(3, 4, unroll=unroll, dtype=np.float64)
    layer.load_state_dict(ref_layer.state_dict())
    layer.bias_hh_l0.data = np.repeat(layer.bias_hh_l0.data, 2)[::2]
    assert not layer.bias_hh_l0.data.flags.c_contiguous
    np.testing.assert_array_equal(layer(x)[0].data, ref_layer(x)[0].data)


@pytest.mark.parametrize("kind", ref.KINDS)
def test_unrolled_steps_bitwise_equal_for_one_and_two_threads(kind):
    """Each pass's BoundSteps use plans made at the thread count in force; results may not
    depend on it (no reduction is split across threads)."""
    spec, rng = CELLS[kind], np.random.default_rng(9)
    T, B, I, H = 4, 13, 5, 37                      # B, H not multiples of the GEMM tiles
    x = mg.tensor(rng.standard_normal((T, B, I)), requires_grad=True, dtype=np.float64)
    states = [mg.tensor(rng.standard_normal((B, H)), requires_grad=True, dtype=np.float64)
              for _ in spec.state_names]
    ws = _weights(spec, I, H, rng)
    lengths = rng.integers(1, T + 1, B).astype(np.int64)
    before = mg.get_num_threads()
    try:
        runs = []
        for n in (1, 2):
            mg.set_num_threads(n)
            runs.append(_grads(spec, True, x, states, ws, lengths, reverse=True))
    finally:
        mg.set_num_threads(before)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(b, a)
