"""Tests for minigrad.functional: forward values against NumPy (and PyTorch when installed),
gradients by finite differences in float64, and the argument checks."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.tensor import tape_nodes

rng = np.random.default_rng(1234)


def t64(shape, scale=1.0, requires_grad=True):
    return mg.tensor(rng.standard_normal(shape) * scale, requires_grad=requires_grad, dtype=np.float64)


def np_log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_cross_entropy(x, t, ignore_index=-100, reduction="mean", eps=0.0):
    """Reference by the textbook formula on the class axis 1, looping over rows."""
    lp = np_log_softmax(x, 1)
    lp = np.moveaxis(lp, 1, -1).reshape(-1, x.shape[1])
    tf = t.reshape(-1)
    losses = np.zeros(tf.size)
    for i, c in enumerate(tf):
        if c != ignore_index:
            losses[i] = -(1 - eps) * lp[i, c] - eps * lp[i].mean()
    n = np.sum(tf != ignore_index)
    if reduction == "none":
        return losses.reshape(t.shape)
    return losses.sum() if reduction == "sum" else (losses.sum() / n if n else np.nan)


# ============================================================================ softmax family
@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1), ((7,), 0), ((2, 1, 3), -2)])
def test_softmax_log_softmax_values_and_grads(shape, axis):
    x = t64(shape)
    ref = np_log_softmax(x.data, axis)
    np.testing.assert_allclose(F.log_softmax(x, axis).data, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(F.softmax(x, axis).data, np.exp(ref), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.softmax(x, axis).data.sum(axis=axis), 1.0, rtol=1e-12)
    assert mg.gradcheck(lambda a: F.softmax(a, axis), [x])
    assert mg.gradcheck(lambda a: F.log_softmax(a, axis), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_huge_logits_are_stable(dtype):
    x = mg.tensor(np.array([[1e4, -1e4, 0.0], [1e4, 1e4 - 1.0, -1e4]]), dtype=dtype, requires_grad=True)
    s, ls = F.softmax(x), F.log_softmax(x)
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(ls.data))
    np.testing.assert_allclose(s.data[0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(ls.data[1, :2], np_log_softmax(np.array([1.0, 0.0]), 0), rtol=1e-5)
    assert s.dtype == dtype and ls.dtype == dtype
    loss = F.cross_entropy(x, np.array([1, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(loss.item(), (2e4 + np.log1p(np.exp(-1.0))) / 2, rtol=1e-5)


def test_softmax_float32_dtype_and_axis_errors():
    x = mg.tensor(np.ones((2, 3), np.float32))
    assert F.softmax(x).dtype == np.float32
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        F.softmax(x, axis=2)
    with pytest.raises(TypeError, match="float32/float64"):
        F.log_softmax(mg.tensor(np.arange(3)))


# ============================================================================ cross_entropy / nll
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2), (2, 3, 2, 3), (1, 1)])
def test_cross_entropy_against_numpy_and_gradcheck(shape, reduction):
    x = t64(shape, scale=2.0)
    N, C = shape[0], shape[1]
    t = rng.integers(0, C, (N,) + shape[2:])
    if t.size > 2:
        t.reshape(-1)[1] = -100                       # one ignored target
    out = F.cross_entropy(x, t, reduction=reduction)
    np.testing.assert_allclose(out.data, np_cross_entropy(x.data, t, reduction=reduction), rtol=1e-12, atol=1e-12)
    assert out.shape == (t.shape if reduction == "none" else ())
    assert mg.gradcheck(lambda a: F.cross_entropy(a, t, reduction=reduction), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_label_smoothing(reduction):
    x = t64((4, 5, 2))
    t = rng.integers(0, 5, (4, 2))
    t[0, 0] = 7
    out = F.cross_entropy(x, t, ignore_index=7, reduction=reduction, label_smoothing=0.2)
    np.testing.assert_allclose(out.data, np_cross_entropy(x.data, t, 7, reduction, 0.2), rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda a: F.cross_entropy(a, t, ignore_index=7, reduction=reduction,
                                                  label_smoothing=0.2), [x])


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = t64((3, 4))
    t = np.array([2, 0, 3])
    F.cross_entropy(x, t, reduction="sum").backward()
    expected = np.exp(np_log_softmax(x.data, 1))
    expected[np.arange(3), t] -= 1
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-15)
    assert len(tape_nodes(F.cross_entropy(x, t))) == 1      # one fused node, not a chain of ops


def test_cross_entropy_ignore_index_and_all_ignored():
    x = t64((4, 3))
    t = np.array([0, -100, 2, -100])
    out = F.cross_entropy(x, t)
    kept = F.cross_entropy(mg.tensor(x.data[[0, 2]], dtype=np.float64), t[[0, 2]])
    np.testing.assert_allclose(out.item(), kept.item(), rtol=1e-12)   # mean over the 2 kept rows
    out.backward()
    assert np.all(x.grad[[1, 3]] == 0)
    x.grad = None
    none_ = F.cross_entropy(x, np.full(4, -100))
    assert np.isnan(none_.item())
    none_.backward()
    assert np.all(x.grad == 0)
    assert F.cross_entropy(x, np.full(4, -100), reduction="sum").item() == 0.0


def test_cross_entropy_unbatched_and_integer_tensor_target():
    x = t64((5,))
    out = F.cross_entropy(x, np.array(3))
    np.testing.assert_allclose(out.item(), -np_log_softmax(x.data, 0)[3], rtol=1e-12)
    assert mg.gradcheck(lambda a: F.cross_entropy(a, np.array(3)), [x])
    xb = t64((2, 5))
    a = F.cross_entropy(xb, mg.tensor(np.array([1, 4], np.int32)))
    b = F.cross_entropy(xb, np.array([1, 4]))
    assert a.item() == b.item()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    x = t64((4, 3, 2))
    t = rng.integers(0, 3, (4, 2))
    t[1, 1] = -1
    lp = F.log_softmax(x, 1)
    out = F.nll_loss(lp, t, ignore_index=-1, reduction=reduction)
    np.testing.assert_allclose(out.data, np_cross_entropy(x.data, t, -1, reduction), rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda a: F.nll_loss(a, t, ignore_index=-1, reduction=reduction), [x])
    assert mg.gradcheck(lambda a: F.nll_loss(F.log_softmax(a, 1), t, ignore_index=-1, reduction=reduction), [x])


def test_class_target_errors():
    x = t64((4, 3))
    with pytest.raises(ValueError, match=r"target has shape \(3,\).*input of shape \(4, 3\).*\(4,\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"target has shape \(4,\).*\(4, 3, 2\).*\(4, 2\)"):
        F.cross_entropy(t64((4, 3, 2)), np.array([0, 1, 2, 0]))
    with pytest.raises(IndexError, match=r"class 3 outside \[0, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 3, 0]))
    with pytest.raises(IndexError, match=r"class -1 outside"):
        F.nll_loss(x, np.array([0, -1, 1, 0]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(x, np.array([True, False, True, True]))
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), label_smoothing=1.5)


# ============================================================================ mse_loss
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    x, y = t64((3, 4)), t64((3, 4))
    ref = (x.data - y.data) ** 2
    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(F.mse_loss(x, y, reduction).data, ref, rtol=1e-12)
    assert mg.gradcheck(lambda a, b: F.mse_loss(a, b, reduction), [x, y])
    z = mg.tensor(y.data, dtype=np.float64)                    # target without grad / as an array
    assert mg.gradcheck(lambda a: F.mse_loss(a, z, reduction), [x])
    np.testing.assert_allclose(F.mse_loss(x, y.data, reduction).data, ref, rtol=1e-12)


def test_mse_loss_errors():
    with pytest.raises(ValueError, match=r"input has shape \(3, 4\) but target has shape \(4,\)"):
        F.mse_loss(t64((3, 4)), t64((4,)))
    with pytest.raises(ValueError, match="unknown reduction"):
        F.mse_loss(t64((2,)), t64((2,)), reduction="mena")
    with pytest.raises(TypeError, match="input is float64 but target is float32"):
        F.mse_loss(t64((2,)), mg.tensor(np.zeros(2, np.float32)))


# ============================================================================ dropout
def test_dropout_statistics_scaling_and_gradient():
    x = mg.tensor(np.ones((400, 500)), requires_grad=True, dtype=np.float64)
    y = F.dropout(x, p=0.3, generator=np.random.default_rng(0))
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.005                      # 200k draws: sd ~ 0.001
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    g = rng.standard_normal(x.shape)
    y.backward(g)
    np.testing.assert_allclose(x.grad, g * kept / 0.7)
    small = t64((3, 4))
    assert mg.gradcheck(lambda a: F.dropout(a, 0.5, generator=np.random.default_rng(5)), [small])


def test_dropout_identity_cases_and_p_one():
    x = t64((3, 4))
    assert F.dropout(x, p=0.0) is x
    assert F.dropout(x, p=0.7, training=False) is x
    y = F.dropout(x, p=1.0)
    assert np.all(y.data == 0) and np.all(np.isfinite(y.data))
    y.backward(np.ones(x.shape))
    assert np.all(x.grad == 0)
    f32 = mg.tensor(np.ones(5, np.float32), requires_grad=True)
    assert F.dropout(f32, 0.5).dtype == np.float32


def test_dropout_seeded_reproducibility():
    x = mg.tensor(np.ones((50, 40)))
    mg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    mg.manual_seed(7)
    a2 = F.dropout(x, 0.5).data
    gen = mg.default_generator()
    mg.manual_seed(7)                 # reseeding in place: an earlier reference sees the new stream
    assert mg.default_generator() is gen
    np.testing.assert_array_equal(a, a2)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(F.dropout(x, 0.5, generator=np.random.default_rng(3)).data,
                                  F.dropout(x, 0.5, generator=np.random.default_rng(3)).data)


def test_dropout_and_seed_errors():
    for p in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="probability p must be a number in"):
            F.dropout(t64((2,)), p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout(t64((2,)), 2.0, training=False)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        F.dropout(t64((2,)), 0.5, generator=3)
    with pytest.raises(ValueError, match="non-negative"):
        mg.manual_seed(-1)
    with pytest.raises(TypeError, match="integer"):
        mg.manual_seed(1.5)


# ============================================================================ embedding
def test_embedding_forward_and_repeated_indices_accumulate():
    w = t64((6, 3))
    idx = np.array([[1, 4, 1], [0, 1, 5]])
    out = F.embedding(idx, w)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.data, w.data[idx])
    g = rng.standard_normal(out.shape)
    out.backward(g)
    expected = np.zeros((6, 3))
    for (i, j), r in np.ndenumerate(idx):
        expected[r] += g[i, j]
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)
    assert mg.gradcheck(lambda a: F.embedding(idx, a), [w])


def test_embedding_padding_idx_and_accumulation_into_existing_grad():
    w = t64((5, 2))
    idx = mg.tensor(np.array([0, 2, 2, 4, 0], np.int32))
    out = F.embedding(idx, w, padding_idx=2)
    np.testing.assert_array_equal(out.data[1], w.data[2])      # the lookup itself is normal
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(w.grad, [[2, 2], [0, 0], [0, 0], [0, 0], [1, 1]])
    w.grad = None
    F.embedding(np.array([1, 4]), w, padding_idx=-1).backward(np.ones((2, 2)))   # -1 means row 4
    np.testing.assert_array_equal(w.grad[4], [0, 0])
    # two lookups in one graph: the shared gradient buffer accumulates both
    assert mg.gradcheck(lambda v: (F.embedding(np.array([3, 1]), v), F.embedding(np.array([[3, 3]]), v)), [w])


def test_embedding_large_index_array_matches_bincount():
    V, D = 50, 7
    w = mg.tensor(np.zeros((V, D)), requires_grad=True, dtype=np.float64)
    idx = rng.integers(0, V, (300, 40))
    g = rng.standard_normal((300, 40, D))
    F.embedding(idx, w).backward(g)
    expected = np.stack([np.bincount(idx.ravel(), weights=g[..., k].ravel(), minlength=V) for k in range(D)], 1)
    np.testing.assert_allclose(w.grad, expected, rtol=1e-10, atol=1e-10)


def test_embedding_errors():
    w = t64((4, 3))
    with pytest.raises(IndexError, match=r"index 4 is out of range for a weight with 4 rows"):
        F.embedding(np.array([0, 4]), w)
    with pytest.raises(IndexError, match=r"index -1"):
        F.embedding(np.array([-1]), w)
    with pytest.raises(TypeError, match="integers"):
        F.embedding(np.array([0.0, 1.0]), w)
    with pytest.raises(ValueError, match=r"weight must be 2-D.*\(4,\)"):
        F.embedding(np.array([0]), t64((4,)))
    with pytest.raises(ValueError, match="padding_idx 9"):
        F.embedding(np.array([0]), w, padding_idx=9)


# ============================================================================ PyTorch references
def test_torch_softmax_and_cross_entropy():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x = t64((4, 5, 3))
    for axis in (0, 1, 2):
        np.testing.assert_allclose(F.softmax(x, axis).data, tF.softmax(torch.tensor(x.data), axis).numpy(), rtol=1e-12)
        np.testing.assert_allclose(F.log_softmax(x, axis).data, tF.log_softmax(torch.tensor(x.data), axis).numpy(),
                                   rtol=1e-12)
    t = rng.integers(0, 5, (4, 3))
    t[0, :] = -100
    for reduction in ("mean", "sum", "none"):
        for eps in (0.0, 0.15):
            xt = torch.tensor(x.data, requires_grad=True)
            ref = tF.cross_entropy(xt, torch.tensor(t), reduction=reduction, label_smoothing=eps)
            ref.backward(torch.ones_like(ref))
            x.grad = None
            out = F.cross_entropy(x, t, reduction=reduction, label_smoothing=eps)
            out.backward(np.ones(out.shape))
            np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    ref = tF.cross_entropy(torch.tensor(x.data), torch.full((4, 3), -100))
    assert np.isnan(F.cross_entropy(x, np.full((4, 3), -100)).item()) and torch.isnan(ref)


def test_torch_nll_mse_embedding():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    lp = t64((6, 4))
    t = np.array([0, 3, 1, -100, 2, 2])
    np.testing.assert_allclose(F.nll_loss(lp, t).item(), tF.nll_loss(torch.tensor(lp.data), torch.tensor(t)).item(),
                               rtol=1e-12)
    a, b = t64((3, 2)), t64((3, 2))
    np.testing.assert_allclose(F.mse_loss(a, b).item(), tF.mse_loss(torch.tensor(a.data), torch.tensor(b.data)).item(),
                               rtol=1e-12)
    w = t64((7, 3))
    idx = np.array([[1, 2, 1], [6, 0, 2]])
    g = rng.standard_normal((2, 3, 3))
    wt = torch.tensor(w.data, requires_grad=True)
    tF.embedding(torch.tensor(idx), wt, padding_idx=1).backward(torch.tensor(g))
    F.embedding(idx, w, padding_idx=1).backward(g)
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-12)
