"""F.linear_cross_entropy (minigrad/nn/linear_ce.py): the fused Linear -> cross-entropy.

It must give what ``F.cross_entropy(F.linear(x, W, b), t, ...)`` gives -- values and every
gradient -- for every option (class weights, ignore_index, label smoothing, reductions, no bias,
unbatched input), survive a second backward (retain_graph), match PyTorch 2.13's function of the
same name, and keep fewer (N, V) arrays alive than the unfused pair (measured with tracemalloc,
which sees NumPy's data allocations).
"""
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

N, H, V = 7, 5, 13


def t64(shape, seed):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True, dtype=np.float64)


def targets(seed=0, n=N, ignore=-100):
    t = np.random.default_rng(seed).integers(0, V, n)
    t[2 % n] = ignore
    return t


OPTIONS = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.2),
           dict(weight=np.linspace(0.5, 2.0, V)), dict(ignore_index=3, reduction="none"),
           dict(weight=np.linspace(0.5, 2.0, V), label_smoothing=0.1, reduction="sum")]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}" for k in o) or "default")
@pytest.mark.parametrize("bias", [True, False])
def test_equals_linear_then_cross_entropy_and_gradchecks(opts, bias):
    x, w = t64((N, H), 1), t64((V, H), 2)
    b = t64((V,), 3) if bias else None
    t = targets(ignore=opts.get("ignore_index", -100))
    fused = F.linear_cross_entropy(x, w, t, linear_bias=b, **opts)
    plain = F.cross_entropy(F.linear(x, w, b), t, **opts)
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-13, atol=1e-14)
    g = np.random.default_rng(4).standard_normal(fused.shape)
    params = [x, w] + ([b] if bias else [])
    fused.backward(g)
    got = [p.grad.copy() for p in params]
    for p in params:
        p.grad = None
    plain.backward(g)
    for gf, p in zip(got, params):
        np.testing.assert_allclose(gf, p.grad, rtol=1e-12, atol=1e-13)
    if bias:
        assert mg.gradcheck(lambda x, w, b: F.linear_cross_entropy(x, w, t, linear_bias=b, **opts), [x, w, b])
    else:
        assert mg.gradcheck(lambda x, w: F.linear_cross_entropy(x, w, t, **opts), [x, w])


def test_reused_input_and_unbatched():
    x, w, b = t64((N, H), 5), t64((V, H), 6), t64((V,), 7)
    t = targets(1)
    # x feeds both the projection and a second loss; w is used twice
    assert mg.gradcheck(lambda x, w, b: F.linear_cross_entropy(x * x, w, t, linear_bias=b)
                        + F.linear_cross_entropy(x, w, t), [x, w, b])
    x1 = t64((H,), 8)
    loss = F.linear_cross_entropy(x1, w, np.int64(4), linear_bias=b, reduction="none")
    assert loss.shape == ()
    np.testing.assert_allclose(loss.data, F.cross_entropy(F.linear(x1, w, b), np.int64(4), reduction="none").data,
                               rtol=1e-13)
    assert mg.gradcheck(lambda x1, w: F.linear_cross_entropy(x1, w, np.int64(4)), [x1, w])


def test_second_backward_recomputes_the_consumed_probabilities():
    x, w, b = t64((N, H), 9), t64((V, H), 10), t64((V,), 11)
    loss = F.linear_cross_entropy(x, w, targets(2), linear_bias=b, label_smoothing=0.1)
    loss.backward(retain_graph=True)
    first = [p.grad.copy() for p in (x, w, b)]
    loss.backward()
    for g1, p in zip(first, (x, w, b)):
        np.testing.assert_array_equal(p.grad, 2 * g1)      # bitwise: same kernels, same order


def test_float32_matches_torch():
    torch = pytest.importorskip("torch")
    if not hasattr(torch.nn.functional, "linear_cross_entropy"):
        pytest.skip("this PyTorch has no linear_cross_entropy")
    rng = np.random.default_rng(12)
    n, h, v = 33, 17, 1031
    x = rng.standard_normal((n, h)).astype(np.float32)
    w = (rng.standard_normal((v, h)) * 0.3).astype(np.float32)
    b = rng.standard_normal(v).astype(np.float32)
    t = rng.integers(0, v, n)
    t[5] = -100
    cw = rng.uniform(0.5, 2, v).astype(np.float32)
    mx, mw, mb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ml = F.linear_cross_entropy(mx, mw, t, linear_bias=mb, weight=cw, label_smoothing=0.1)
    tl = torch.nn.functional.linear_cross_entropy(tx, tw, torch.tensor(t), linear_bias=tb,
                                                  weight=torch.tensor(cw), label_smoothing=0.1)
    np.testing.assert_allclose(ml.item(), tl.item(), rtol=1e-5)
    ml.backward()
    tl.backward()
    for m, tt in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(m.grad, tt.grad.numpy(), rtol=1e-4, atol=1e-6)


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_below_linear_then_cross_entropy():
    """Unfused: logits and probabilities alive together, plus d logits in the backward (>= 2 (N, V)
    arrays at the peak); fused: one (N, V) buffer plus (N, H) / (V, H) ones."""
    n, h, v = 64, 8, 4096
    rng = np.random.default_rng(13)
    x = mg.tensor(rng.standard_normal((n, h)), requires_grad=True, dtype=np.float64)
    w = mg.tensor(rng.standard_normal((v, h)) * 0.1, requires_grad=True, dtype=np.float64)
    b = mg.tensor(np.zeros(v), requires_grad=True, dtype=np.float64)
    t = rng.integers(0, v, n)
    nv = n * v * 8

    def run(fused):
        def step():
            for p in (x, w, b):
                p.grad = None
            if fused:
                loss = F.linear_cross_entropy(x, w, t, linear_bias=b)
            else:
                loss = F.cross_entropy(F.linear(x, w, b), t)
            loss.backward()
        return step

    run(True)(), run(False)()                      # warm up (first-call allocations)
    fused, plain = _peak(run(True)), _peak(run(False))
    small = (n * h + 3 * v * h + 4 * v + 8 * n) * 8   # x/w-sized arrays, bias, per-row vectors
    assert plain >= 2 * nv
    assert fused <= nv + small
    assert fused < 0.6 * plain


def test_bad_inputs():
    x, w, b = t64((N, H), 1), t64((V, H), 2), t64((V,), 3)
    t = targets()
    with pytest.raises(ValueError, match=r"input must have shape \(N, 5\)"):
        F.linear_cross_entropy(t64((N, H + 1), 1), w, t)
    with pytest.raises(ValueError, match="linear_weight must have shape"):
        F.linear_cross_entropy(x, t64((V,), 1), t)
    with pytest.raises(ValueError, match=r"linear_bias must have shape \(13,\)"):
        F.linear_cross_entropy(x, w, t, linear_bias=t64((V + 1,), 1))
    with pytest.raises(TypeError, match="float64 but linear_weight is float32"):
        F.linear_cross_entropy(x, mg.tensor(w.data.astype(np.float32)), t)
    with pytest.raises(TypeError, match="integer class indices"):
        F.linear_cross_entropy(x, w, np.zeros((N, V)))
    with pytest.raises(ValueError, match="target has shape"):
        F.linear_cross_entropy(x, w, t[:3])
    with pytest.raises(IndexError, match="outside"):
        F.linear_cross_entropy(x, w, np.full(N, V))
    with pytest.raises(ValueError, match="reduction"):
        F.linear_cross_entropy(x, w, t, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.linear_cross_entropy(x, w, t, label_smoothing=2.0)
    with pytest.raises(ValueError, match="weight"):
        F.linear_cross_entropy(x, w, t, weight=np.ones(V + 1))
