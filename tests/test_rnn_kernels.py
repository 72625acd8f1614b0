"""Fused recurrent cell kernels (csrc/rnn_cells.h): step forward/backward and sequence drivers.

References: the NumPy cells of minigrad/reference/rnn.py in float64, put in the kernels' terms by
tests/cell_terms.py, and a finite-difference gradient check of the sequence backward through a
scalar loss. Legend: T time, B batch, H hidden.
"""
import numpy as np
import pytest

from fdcheck import assert_fd_close, weighted_sum
from cell_terms import nl, seq_backward, seq_forward, step_backward, step_forward
import cell_terms as terms
from minigrad import kernels as K

KINDS, GATES = terms.KINDS, terms.GATES
# B covers every row tiling of the step GEMM (tiles of 6 rows; a last tile of 1-2 rows is
# split with the one before it: 7 = 4+3, 8 = 4+4, 32 = 6*4 + 4+4).
SHAPES = [(1, 1), (3, 7), (7, 3), (8, 5), (17, 33), (32, 9), (33, 17), (1, 17)]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def make_inputs(kind, B, H, dtype, T=1, seed=0, b_hn=True):
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    scale = 0.5 if kind != "rnn_relu" else 0.3
    gx = rng.standard_normal((T, B, G * H)).astype(dtype)
    w = (scale * rng.standard_normal((G * H, H)) / np.sqrt(max(H, 1))).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    bhn = rng.standard_normal(H).astype(dtype) if (kind == "gru" and b_hn) else None
    return gx, w, h0, c0, bhn


# ----------------------------------------------------------------------------- step kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,H", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_step_forward_backward_vs_numpy(kind, B, H, dtype):
    gx, w, hp, cp, bhn = make_inputs(kind, B, H, dtype, seed=B * 100 + H)
    gx = gx[0]
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 3, B).astype(np.int64)  # t = 1: rows with length <= 1 are inactive
    lengths[0] = 2                                     # at least one active row ...
    if B > 1:
        lengths[-1] = 1                                # ... and one passing through
    t = 1
    active = 1 < lengths
    dh = rng.standard_normal((B, H)).astype(dtype)
    dc = rng.standard_normal((B, H)).astype(dtype)
    seed_h = rng.standard_normal((B, H)).astype(dtype)  # dh_prev accumulates onto this
    seed_c = rng.standard_normal((B, H)).astype(dtype)
    lstm = terms.is_lstm(kind)
    want_f, want_b = terms.numpy_step(kind, gx, hp, cp, w, bhn, active, dh, dc if lstm else None)
    got = step_forward(kind, gx, hp, cp, w, bhn, lengths, t)
    for r, g in zip(want_f, got):
        assert (r is None) == (g is None)
        if r is not None:
            assert g.dtype == dtype
            np.testing.assert_allclose(g, r, **TOL[dtype])
    h, c, gates, aux = got
    # inactive rows pass the state through exactly
    np.testing.assert_array_equal(h[~active], hp[~active])

    got_b = step_backward(kind, got, hp, cp, w, lengths, t, dh, dc, seed_h.copy(),
                          seed_c.copy() if lstm else None)
    seeds = (0, 0, seed_h, seed_c)
    for r, g, seed in zip(want_b, got_b, seeds):
        assert (r is None) == (g is None)
        if r is not None:
            np.testing.assert_allclose(g, r + seed, **TOL[dtype])


def test_lstm_backward_without_dc_equals_zero_dc():
    gx, w, hp, cp, _ = make_inputs("lstm", 5, 6, np.float64)
    h, c, g, tc = K.lstm_step_forward(gx[0], hp, cp, w)
    dh = np.random.default_rng(2).standard_normal((5, 6))
    a = K.lstm_step_backward(dh, None, g, tc, cp, w)
    b = K.lstm_step_backward(dh, np.zeros((5, 6)), g, tc, cp, w)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_gru_without_b_hn_equals_zero_b_hn():
    gx, w, hp, _, _ = make_inputs("gru", 4, 5, np.float64)
    a = K.gru_step_forward(gx[0], hp, w)
    b = K.gru_step_forward(gx[0], hp, w, np.zeros(5))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_step_forward_writes_into_given_slices():
    """The layer hands per-step slices of its (T,B,.) cache buffers to the step kernels."""
    T, B, H = 3, 4, 5
    gx, w, hp, cp, _ = make_inputs("lstm", B, H, np.float64, T=T)
    hs, cs, gs, ts = (np.full((T, B, k * H), np.nan) for k in (1, 1, 4, 1))
    views = (hs[1], cs[1], gs[1], ts[1])
    res = K.lstm_step_forward(gx[1], hp, cp, w, out=views)
    assert all(r is v for r, v in zip(res, views))
    ref = K.lstm_step_forward(gx[1], hp, cp, w)
    for a, b in zip(res, ref):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(hs[0]).all() and np.isnan(gs[2]).all()


# ----------------------------------------------------------------------------- sequence drivers
def steps_loop(kind, gx, h0, c0, w, bhn, lengths, reverse, dout, dh_n, dc_n, plans=(None, None)):
    """The sequence written as a Python loop over the step kernels (what the driver must equal);
    ``plans``: the (forward, backward) kernels.StepPlan every step reuses, or None per call."""
    fwd, bwd = plans
    T, B, _ = gx.shape
    order = range(T - 1, -1, -1) if reverse else range(T)
    mask = lambda t: (np.arange(B) < B) if lengths is None else (t < lengths)
    h, c = h0, c0
    out = np.zeros((T, B, h0.shape[1]), gx.dtype)
    caches = {}
    for t in order:
        hp, cp = h, c
        h, c2, g, aux = step_forward(kind, gx[t], hp, cp, w, bhn, lengths, t, fwd)
        c = c2 if kind == "lstm" else c
        caches[t] = (hp, cp, h, g, aux)
        out[t] = np.where(mask(t)[:, None], h, 0)
    dgx, dgh = np.zeros(gx.shape, gx.dtype), np.zeros(gx.shape, gx.dtype)
    order = list(order)
    md = lambda t: np.where(mask(t)[:, None], dout[t], 0).astype(gx.dtype)
    dh = md(order[-1]) + dh_n
    dc = dc_n.copy()
    for s in range(T - 1, -1, -1):
        t = order[s]
        hp, cp, hh, g, aux = caches[t]
        dh_next = md(order[s - 1]) if s > 0 else np.zeros_like(dh)
        if kind.startswith("rnn"):
            dgx[t], _ = K.rnn_step_backward(dh, out[t], w, lengths, t, nl(kind), dh_prev=dh_next, plan=bwd)
        elif kind == "lstm":
            dc_next = np.zeros_like(dc)
            dgx[t], _, _ = K.lstm_step_backward(dh, dc, g, aux, cp, w, lengths, t,
                                                dh_prev=dh_next, dc_prev=dc_next, plan=bwd)
            dc = dc_next
        else:
            dgx[t], dgh[t], _ = K.gru_step_backward(dh, g, aux, hp, w, lengths, t, dh_prev=dh_next,
                                                    plan=bwd)
        dh = dh_next
    return out, h, c, dgx, dgh, dh, dc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_seq_driver_equals_step_loop_bitwise(kind, reverse, dtype):
    T, B, H = 6, 7, 5
    gx, w, h0, c0, bhn = make_inputs(kind, B, H, dtype, T=T, seed=3)
    rng = np.random.default_rng(4)
    lengths = np.array([6, 1, 3, 6, 0, 2, 5], dtype=np.int64)
    dout = rng.standard_normal((T, B, H)).astype(dtype)
    dh_n = rng.standard_normal((B, H)).astype(dtype)
    dc_n = rng.standard_normal((B, H)).astype(dtype)
    out, h_n, c_n, cache = seq_forward(kind, gx, h0, c0, w, bhn, lengths, reverse)
    dgx, dgh, dh0, dc0 = seq_backward(kind, dout, dh_n, dc_n if kind == "lstm" else None,
                                      cache, w, lengths, reverse)
    r_out, r_hn, r_cn, r_dgx, r_dgh, r_dh0, r_dc0 = steps_loop(kind, gx, h0, c0, w, bhn, lengths, reverse,
                                                               dout, dh_n, dc_n)
    np.testing.assert_array_equal(out, r_out)
    np.testing.assert_array_equal(h_n, r_hn)
    np.testing.assert_array_equal(dgx, r_dgx)
    np.testing.assert_array_equal(dh0, r_dh0)
    if kind == "lstm":
        np.testing.assert_array_equal(c_n, r_cn)
        np.testing.assert_array_equal(dc0, r_dc0)
    if kind == "gru":
        np.testing.assert_array_equal(dgh, r_dgh)
    # padded outputs are zero; a row of length 0 keeps its initial state
    assert not out[:, 4].any()
    np.testing.assert_array_equal(h_n[4], h0[4])
    # hprev holds the state entering each step
    first = T - 1 if reverse else 0
    np.testing.assert_array_equal(cache["hprev"][first], h0)


def np_seq_forward(kind, gx, h0, c0, w, bhn, lengths, reverse):
    T, B, _ = gx.shape
    h, c = h0, c0
    out = np.zeros((T, B, h0.shape[1]))
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        active = t < lengths
        (h, c2, _, _), _ = terms.numpy_step(kind, gx[t], h, c, w, bhn, active)
        c = c2 if kind == "lstm" else c
        out[t] = np.where(active[:, None], h, 0)
    return out, h, c


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_seq_forward_vs_numpy_and_backward_vs_finite_differences(kind, reverse):
    """float64: forward against NumPy; backward against central differences of a scalar loss
    L = sum(out*R) + sum(h_n*S) (+ sum(c_n*U)) w.r.t. gx, h0, c0 and, through the layer's
    dW_hh = sum_t dgh_t^T @ hprev_t and db_hn = sum dgh_n, w.r.t. w_hh and b_hn."""
    T, B, H = 4, 3, 3
    gx, w, h0, c0, bhn = make_inputs(kind, B, H, np.float64, T=T, seed=5)
    if kind == "rnn_relu":  # keep pre-activations away from the kink
        gx += np.sign(gx) * 0.05
    lengths = np.array([4, 2, 3], dtype=np.int64)
    rng = np.random.default_rng(6)
    R, S, U = rng.standard_normal((T, B, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    lstm = kind == "lstm"

    out, h_n, c_n, cache = seq_forward(kind, gx, h0, c0, w, bhn, lengths, reverse)
    r_out, r_hn, r_cn = np_seq_forward(kind, gx, h0, c0, w, bhn, lengths, reverse)
    np.testing.assert_allclose(out, r_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n, r_hn, rtol=1e-12, atol=1e-12)
    if lstm:
        np.testing.assert_allclose(c_n, r_cn, rtol=1e-12, atol=1e-12)

    def loss():
        o, hn, cn = np_seq_forward(kind, gx, h0, c0, w, bhn, lengths, reverse)
        return weighted_sum((o, R), (hn, S), *([(cn, U)] if lstm else []))

    dgx, dgh, dh0, dc0 = seq_backward(kind, R, S, U if lstm else None, cache, w, lengths, reverse)
    grads = {"gx": dgx, "h0": dh0, "w_hh": np.einsum("tbg,tbh->gh", dgh, cache["hprev"])}
    arrays = {"gx": gx, "h0": h0, "w_hh": w}
    if lstm:
        grads["c0"], arrays["c0"] = dc0, c0
    if kind == "gru":
        grads["b_hn"], arrays["b_hn"] = dgh[:, :, 2 * H:].sum((0, 1)), bhn
    assert_fd_close(loss, arrays, grads)


@pytest.mark.parametrize("kind", KINDS)
def test_seq_without_lengths_or_gradients(kind):
    """lengths=None equals full lengths; None gradients equal zero arrays; T = 0 returns h0."""
    T, B, H = 3, 2, 4
    gx, w, h0, c0, bhn = make_inputs(kind, B, H, np.float64, T=T, seed=8)
    full = np.full(B, T, dtype=np.int64)
    a = seq_forward(kind, gx, h0, c0, w, bhn, None, False)
    b = seq_forward(kind, gx, h0, c0, w, bhn, full, False)
    for x, y in zip(a[:3], b[:3]):
        if x is not None:
            np.testing.assert_array_equal(x, y)
    dout = np.random.default_rng(9).standard_normal((T, B, H))
    z = np.zeros((B, H))
    g1 = seq_backward(kind, dout, None, None, a[3], w, None, False)
    g2 = seq_backward(kind, dout, z, z if kind == "lstm" else None, a[3], w, full, False)
    for x, y in zip(g1, g2):
        if x is not None:
            np.testing.assert_array_equal(x, y)
    out, h_n, c_n, cache = seq_forward(kind, gx[:0], h0, c0, w, bhn, None, False)
    assert out.shape == (0, B, H)
    np.testing.assert_array_equal(h_n, h0)
    g = seq_backward(kind, None, h0, c0 if kind == "lstm" else None, cache, w, None, False)
    np.testing.assert_array_equal(g[2], h0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_unpadded_out_and_hprev_share_one_buffer(kind, reverse):
    """Without lengths, out[t] is the state entering the next step: out and the hprev cache are
    views of one (T+1, B, H) buffer. Same bits as the two-buffer path (explicit full lengths)."""
    T, B, H = 5, 3, 4
    gx, w, h0, c0, bhn = make_inputs(kind, B, H, np.float64, T=T, seed=23)
    full = np.full(B, T, dtype=np.int64)
    shared = seq_forward(kind, gx, h0, c0, w, bhn, None, reverse)
    apart = seq_forward(kind, gx, h0, c0, w, bhn, full, reverse)
    out, cache = shared[0], shared[3]
    assert np.shares_memory(out, cache["hprev"]) and not np.shares_memory(apart[0], apart[3]["hprev"])
    nxt = slice(None, -1) if reverse else slice(1, None)      # the step that follows t
    np.testing.assert_array_equal(cache["hprev"][nxt], out[slice(1, None) if reverse else slice(None, -1)])
    for a, b in zip(shared[:3], apart[:3]):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    for k in cache:
        np.testing.assert_array_equal(cache[k], apart[3][k])
    dout = np.random.default_rng(24).standard_normal((T, B, H))
    for a, b in zip(seq_backward(kind, dout, None, None, cache, w, None, reverse),
                    seq_backward(kind, dout, None, None, apart[3], w, full, reverse)):
        if a is not None:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_gates_in_place_over_gx_is_bitwise_identical(reverse, dtype):
    """overwrite_gx=True writes the gate cache over gx (one (T,B,4H) buffer less) and changes
    no result: same outputs, same cache, same gradients, bit for bit."""
    T, B, H = 5, 7, 13
    gx, w, h0, c0, _ = make_inputs("lstm", B, H, dtype, T=T, seed=21)
    lengths = np.array([5, 1, 3, 5, 2, 4, 5], dtype=np.int64)
    out, h_n, c_n, cache = K.lstm_seq_forward(gx, h0, c0, w, lengths, reverse)
    gx2 = gx.copy()
    out2, h_n2, c_n2, cache2 = K.lstm_seq_forward(gx2, h0, c0, w, lengths, reverse, overwrite_gx=True)
    assert cache2["gates"] is gx2
    for a, b in [(out, out2), (h_n, h_n2), (c_n, c_n2)] + [(cache[k], cache2[k]) for k in cache]:
        np.testing.assert_array_equal(a, b)
    dout = np.random.default_rng(22).standard_normal((T, B, H)).astype(dtype)
    for a, b in zip(K.lstm_seq_backward(dout, None, None, cache, w, lengths, reverse),
                    K.lstm_seq_backward(dout, None, None, cache2, w, lengths, reverse)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="overwrite_gx"):
        K.lstm_seq_forward(gx[:, :, :].T.copy().T, h0, c0, w, overwrite_gx=True)   # F-ordered: a copy


@pytest.mark.parametrize("kind", KINDS)
def test_zero_size(kind):
    for B, H in ((0, 3), (2, 0)):
        gx, w, h0, c0, bhn = make_inputs(kind, B, H, np.float32, T=2)
        out, h_n, c_n, cache = seq_forward(kind, gx, h0, c0, w, bhn, None, False)
        assert out.shape == (2, B, H)
        g = seq_backward(kind, out, None, None, cache, w, None, False)
        assert g[0].shape == gx.shape


@pytest.mark.skipif(not K.has_openmp(), reason="built without OpenMP")
@pytest.mark.parametrize("kind", KINDS)
def test_one_and_two_threads_bitwise_identical(kind):
    T, B, H = 3, 62, 160  # B*G*H >= 8192: the pointwise loop really runs on 2 threads; 62 = 6*9 + 4+4
    gx, w, h0, c0, bhn = make_inputs(kind, B, H, np.float32, T=T, seed=10)
    lengths = np.random.default_rng(11).integers(1, T + 1, B).astype(np.int64)
    dout = np.random.default_rng(12).standard_normal((T, B, H)).astype(np.float32)
    old = K.get_num_threads()
    res = []
    try:
        for n in (1, 2):
            K.set_num_threads(n)
            out, h_n, c_n, cache = seq_forward(kind, gx, h0, c0, w, bhn, lengths, True)
            res.append((out, h_n) + seq_backward(kind, dout, None, None, cache, w, lengths, True))
    finally:
        K.set_num_threads(old)
    for x, y in zip(*res):
        if x is not None:
            np.testing.assert_array_equal(x, y)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_before_c():
    B, H = 3, 4
    gx, w, hp, cp, _ = make_inputs("lstm", B, H, np.float64, T=5)
    with pytest.raises(ValueError, match=r"w_hh must have shape \(4\*H, H\)"):
        K.lstm_step_forward(gx[0], hp, cp, w[:-1])
    with pytest.raises(ValueError, match=r"gx_t has shape \(3, 15\)"):
        K.lstm_step_forward(gx[0][:, :-1], hp, cp, w)
    with pytest.raises(ValueError, match="h_prev has shape"):
        K.lstm_step_forward(gx[0], hp[:, :2], cp, w)
    with pytest.raises(TypeError, match="c_prev has dtype float32"):
        K.lstm_step_forward(gx[0], hp, cp.astype(np.float32), w)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        K.lstm_step_forward(gx[0].tolist(), hp, cp, w)
    with pytest.raises(ValueError, match=r"lengths has shape \(2,\)"):
        K.lstm_step_forward(gx[0], hp, cp, w, np.array([1, 2]))
    with pytest.raises(TypeError, match="lengths must be an integer"):
        K.lstm_step_forward(gx[0], hp, cp, w, np.ones(3))
    with pytest.raises(ValueError, match="lengths must lie in"):
        K.lstm_step_forward(gx[0], hp, cp, w, np.array([1, -1, 2]))
    with pytest.raises(ValueError, match="t must be >= 0"):
        K.lstm_step_forward(gx[0], hp, cp, w, t=-1)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 5\]"):
        K.lstm_seq_forward(gx, hp, cp, w, np.array([1, 6, 2]))
    with pytest.raises(ValueError, match=r"gx has shape \(5, 3, 15\)"):
        K.lstm_seq_forward(gx[:, :, :-1], hp, cp, w)
    with pytest.raises(ValueError, match="nonlinearity"):
        K.rnn_seq_forward(gx[:, :, :H], hp, w[:H], nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="overlap"):
        K.rnn_step_forward(gx[0, :, :H], hp, w[:H], out=hp)
    with pytest.raises(ValueError, match=r"h has shape \(3, 3\)"):
        K.rnn_step_forward(gx[0, :, :H], hp, w[:H], out=np.empty((3, 3)))
    with pytest.raises(TypeError, match="out must be a tuple of 4"):
        K.lstm_step_forward(gx[0], hp, cp, w, out=(np.empty((B, H)),))
    out, h_n, c_n, cache = K.lstm_seq_forward(gx, hp, cp, w)
    with pytest.raises(TypeError, match="cache must be the dict"):
        K.lstm_seq_backward(None, None, None, {"hprev": cache["hprev"]}, w)
    bad = dict(cache, gates=cache["gates"][:, :, :-1])
    with pytest.raises(ValueError, match=r"cache\['gates'\] has shape"):
        K.lstm_seq_backward(None, None, None, bad, w)
    with pytest.raises(ValueError, match=r"dout has shape"):
        K.lstm_seq_backward(out[:-1], None, None, cache, w)
    gw = make_inputs("gru", B, H, np.float64)[1]
    with pytest.raises(ValueError, match=r"b_hn has shape \(3,\)"):
        K.gru_step_forward(gx[0, :, :3 * H], hp, gw, np.zeros(3))


# ----------------------------------------------------------------------------- step plans
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_step_plan_reused_over_steps_is_bitwise_identical(kind, dtype):
    """A StepPlan packs W_hh once for many steps; the results are the per-call kernels' bits."""
    T, B, H = 3, 8, 13
    gx, w, h0, c0, bhn = make_inputs(kind, B, H, dtype, T=T, seed=31)
    lengths = np.array([3, 1, 2, 3, 3, 2, 1, 3], dtype=np.int64)
    rng = np.random.default_rng(32)
    dout, dh_n, dc_n = (rng.standard_normal(s).astype(dtype) for s in ((T, B, H), (B, H), (B, H)))
    k = "rnn" if kind.startswith("rnn") else kind
    plans = (K.StepPlan(k, w, B), K.StepPlan(k, w, B, backward=True))
    args = (kind, gx, h0, c0, w, bhn, lengths, False, dout, dh_n, dc_n)
    for a, b in zip(steps_loop(*args), steps_loop(*args, plans=plans)):
        np.testing.assert_array_equal(a, b)


def test_step_plan_rejects_other_steps():
    gx, w, h0, c0, _ = make_inputs("lstm", 4, 5, np.float64, seed=32)
    fwd = K.StepPlan("lstm", w, 4)
    with pytest.raises(ValueError, match="B=4.*B=3"):
        K.lstm_step_forward(gx[0][:3], h0[:3], c0[:3], w, plan=fwd)
    with pytest.raises(ValueError, match="forward steps.*backward steps"):
        K.lstm_step_backward(h0, c0, np.zeros((4, 20)), h0, c0, w, plan=fwd)
    with pytest.raises(ValueError, match="another w_hh array"):
        K.lstm_step_forward(gx[0], h0, c0, w.copy(), plan=fwd)
    with pytest.raises(ValueError, match="lstm forward"):
        K.gru_step_forward(gx[0][:, :15], h0, w[:15], plan=fwd)
    with pytest.raises(ValueError, match="reference"):
        K.lstm_step_forward(gx[0], h0, c0, w, plan=fwd, reference=True)
    with pytest.raises(TypeError, match="StepPlan"):
        K.lstm_step_forward(gx[0], h0, c0, w, plan="fast")
    with pytest.raises(ValueError, match="batch >= 1"):
        K.StepPlan("lstm", w, 0)
    with pytest.raises(ValueError, match="kind"):
        K.StepPlan("elman", w, 4)
    with pytest.raises(ValueError, match=r"\(4\*H, H\)"):
        K.StepPlan("lstm", w[:7], 4)
