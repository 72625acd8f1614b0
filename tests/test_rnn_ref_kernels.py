"""The naive reference step kernels (csrc/rnn_ref.c) and the fused ones (csrc/rnn_step.inc).

Two checks per cell kind (rnn tanh, rnn relu, lstm, gru), dtype, shape and lengths mask:
  (a) reference kernels == the independent NumPy float64 cells of minigrad/reference/rnn.py;
  (b) fused kernels == reference kernels, given identical inputs, forward and backward.
Shapes: B in {0, 1, 3, 7, 17, 33} x H in {1, 3, 7, 17, 33} (1, primes, around the 16-wide
GEMM tile edges, zero-size batch). Legend: B batch, H hidden, G gates, GH = G*H.

Tolerances are ulp-scaled: |got - want| <= k * eps(dtype) * S, with S a bound on the magnitude of
the terms that were summed (1 + |gx| + |h_prev| @ |w_hh|^T forward; 1 + |dh_prev seed| + |dh| +
|dgates| @ |w_hh| backward), and k growing like sqrt(H) (the length of the dot products).
"""
import numpy as np
import pytest

import cell_terms as terms
from minigrad import kernels as K

KINDS, GATES = terms.KINDS, terms.GATES
BATCHES = [0, 1, 3, 7, 17, 33]
HIDDENS = [1, 3, 7, 17, 33]
T_STEP = 1  # step index: rows with lengths[b] <= 1 are inactive


def make_case(kind, B, H, dtype, masked, seed):
    """Random step inputs in `dtype`: gx (B,GH), h_prev, c_prev (B,H), w (GH,H), b_hn (H,) for
    the GRU, lengths (B,) or None (with a mask: row 0 active, the last row inactive)."""
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    gx = rng.standard_normal((B, G * H)).astype(dtype)
    w = (0.5 * rng.standard_normal((G * H, H)) / np.sqrt(H)).astype(dtype)
    hp = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    cp = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    bhn = rng.standard_normal(H).astype(dtype) if kind == "gru" else None
    lengths = None
    if masked:
        lengths = rng.integers(0, 3, B).astype(np.int64)
        if B:
            lengths[0] = 2
        if B > 1:
            lengths[-1] = 1
    grads = [rng.standard_normal((B, H)).astype(dtype) for _ in range(4)]  # dh, dc, seeds
    return gx, hp, cp, w, bhn, lengths, grads


def active_rows(lengths, B):
    return np.ones(B, bool) if lengths is None else T_STEP < lengths


# ----------------------------------------------------------------------------- kernel calls
def step_forward(kind, gx, hp, cp, w, bhn, lengths, reference):
    """Forward through minigrad, normalised to (h, c, gates, aux) (tests/cell_terms.py)."""
    return terms.step_forward(kind, gx, hp, cp, w, bhn, lengths, T_STEP, reference=reference)


def step_backward(kind, fwd, hp, cp, w, lengths, dh, dc, seed_h, seed_c, reference):
    """Backward from the forward caches `fwd`, accumulating onto copies of the seeds."""
    return terms.step_backward(kind, fwd, hp, cp, w, lengths, T_STEP, dh, dc, seed_h.copy(),
                               seed_c.copy() if terms.is_lstm(kind) else None, reference=reference)


# ----------------------------------------------------------------------------- NumPy float64
def numpy_step(kind, gx, hp, cp, w, bhn, lengths, dh, dc, seed_h, seed_c):
    """The reference cells' step in the kernels' terms (tests/cell_terms.py), plus the seeds the
    kernels accumulate onto. Returns (forward, backward) as the normalised kernel results."""
    fwd, (dgx, dgh, dhp, dcp) = terms.numpy_step(kind, gx, hp, cp, w, bhn, active_rows(lengths, hp.shape[0]),
                                                 dh, dc if terms.is_lstm(kind) else None)
    return fwd, (dgx, dgh, dhp + seed_h, None if dcp is None else dcp + seed_c)


# ----------------------------------------------------------------------------- comparison
def scales(gx, hp, w, dh, seed_h, dgh):
    """(forward, backward) magnitude bounds S of the sums the kernels evaluate (see the top)."""
    a = lambda x: np.abs(x.astype(np.float64))
    s_fwd = 1 + a(gx).max(initial=0) + (a(hp) @ a(w).T).max(initial=0)
    s_bwd = 1 + a(seed_h).max(initial=0) + a(dh).max(initial=0) + (a(dgh) @ a(w)).max(initial=0)
    return s_fwd, s_bwd


def assert_close(got, want, dtype, H, scale, what):
    if want is None:
        assert got is None, what
        return
    assert got.dtype == dtype and got.shape == want.shape, what
    tol = 4 * np.sqrt(H + 1) * np.finfo(dtype).eps * scale
    err = np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0)
    assert err <= tol, f"{what}: max error {err:.3g} > tolerance {tol:.3g}"


@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("B", BATCHES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_reference_vs_numpy_and_fused(kind, dtype, B, masked):
    for H in HIDDENS:
        gx, hp, cp, w, bhn, lengths, (dh, dc, seed_h, seed_c) = make_case(
            kind, B, H, dtype, masked, seed=1000 * B + H)
        want_f, want_b = numpy_step(kind, gx, hp, cp, w, bhn, lengths, dh, dc, seed_h, seed_c)
        s_fwd, s_bwd = scales(gx, hp, w, dh, seed_h, want_b[1])
        ref_f = step_forward(kind, gx, hp, cp, w, bhn, lengths, reference=True)
        fused_f = step_forward(kind, gx, hp, cp, w, bhn, lengths, reference=False)
        # backward of both kernels from the SAME caches (the reference forward's), so (b)
        # compares only the backward kernels
        args = (hp, cp, w, lengths, dh, dc, seed_h, seed_c)
        ref_b = step_backward(kind, ref_f, *args, reference=True)
        fused_b = step_backward(kind, ref_f, *args, reference=False)
        # (a) the reference kernel's backward is fed its own (dtype) caches; NumPy's are float64:
        # the difference is the rounding of those caches, within the same ulp-scaled bound.
        for name, r, f, wnt in zip(["h", "c", "gates", "aux"], ref_f, fused_f, want_f):
            assert_close(r, wnt, dtype, H, s_fwd, f"{kind} H={H} reference forward {name}")
            assert_close(f, r, dtype, H, s_fwd, f"{kind} H={H} fused vs reference forward {name}")
        for name, r, f, wnt in zip(["dgx", "dgh", "dh_prev", "dc_prev"], ref_b, fused_b, want_b):
            assert_close(r, wnt, dtype, H, s_bwd, f"{kind} H={H} reference backward {name}")
            assert_close(f, r, dtype, H, s_bwd, f"{kind} H={H} fused vs reference backward {name}")

        # inactive rows pass state and gradients through exactly and cache exact zeros
        off = ~active_rows(lengths, B)
        h, c, gates, aux = ref_f
        np.testing.assert_array_equal(h[off], hp[off])
        np.testing.assert_array_equal(ref_b[2][off], seed_h[off] + dh[off])
        for x in (gates, aux, ref_b[0], ref_b[1]):
            if x is not None:
                assert not x[off].any()
        if terms.is_lstm(kind):
            np.testing.assert_array_equal(c[off], cp[off])
            np.testing.assert_array_equal(ref_b[3][off], seed_c[off] + dc[off])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_optional_inputs(dtype):
    """LSTM dc=None means dc = 0 and GRU b_hn=None means b_hn = 0, in the reference kernels too
    (bitwise), and fused == reference there as well."""
    B, H = 5, 7
    gx, hp, cp, w, _, lengths, (dh, _, seed_h, seed_c) = make_case("lstm", B, H, dtype, True, 3)
    fwd = K.lstm_step_forward(gx, hp, cp, w, lengths, T_STEP, reference=True)
    z = np.zeros((B, H), dtype)
    for reference in (True, False):
        a = K.lstm_step_backward(dh, None, fwd[2], fwd[3], cp, w, lengths, T_STEP, reference=reference)
        b = K.lstm_step_backward(dh, z, fwd[2], fwd[3], cp, w, lengths, T_STEP, reference=reference)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    fused = K.lstm_step_backward(dh, None, fwd[2], fwd[3], cp, w, lengths, T_STEP)
    for x, y in zip(a, fused):
        assert_close(x, y, dtype, H, 4.0, "lstm dc=None fused vs reference")

    gx, hp, _, w, _, lengths, _ = make_case("gru", B, H, dtype, True, 4)
    a = K.gru_step_forward(gx, hp, w, None, lengths, T_STEP, reference=True)
    b = K.gru_step_forward(gx, hp, w, np.zeros(H, dtype), lengths, T_STEP, reference=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    fused = K.gru_step_forward(gx, hp, w, None, lengths, T_STEP)
    for x, y in zip(a, fused):
        assert_close(x, y, dtype, H, 4.0, "gru b_hn=None fused vs reference")


def test_reference_relu_propagates_nan():
    """relu as `pre < 0 ? 0 : pre`: a NaN pre-activation gives NaN, as in the fused kernel."""
    gx = np.array([[np.nan, -1.0, 2.0]])
    w = np.zeros((3, 3))
    hp = np.zeros((1, 3))
    for reference in (True, False):
        h = K.rnn_step_forward(gx, hp, w, nonlinearity="relu", reference=reference)
        assert np.isnan(h[0, 0]) and h[0, 1] == 0 and h[0, 2] == 2
