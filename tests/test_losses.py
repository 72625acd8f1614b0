"""Losses (functional forms and nn modules): NumPy formulas, float64 gradchecks, PyTorch parity
(forward and both gradients) when PyTorch is installed, and the argument checks."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

rng = np.random.default_rng(77)


def t64(shape, scale=1.0, requires_grad=True):
    return mg.tensor(rng.standard_normal(shape) * scale, requires_grad=requires_grad, dtype=np.float64)


def probs(shape):
    return mg.tensor(rng.uniform(0.02, 0.98, shape), requires_grad=True, dtype=np.float64)


def reduce_ref(loss, reduction):
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


# ====================================================================== element-wise: NumPy formulas
def np_elementwise(name, x, y, beta=1.0, weight=None, pos_weight=None):
    d = x - y
    if name == "mse":
        return d * d
    if name == "l1":
        return np.abs(d)
    if name == "smooth_l1":
        return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)
    if name == "huber":
        return np.where(np.abs(d) < beta, 0.5 * d * d, beta * (np.abs(d) - 0.5 * beta))
    w = 1.0 if weight is None else weight
    if name == "bce":
        return -w * (y * np.log(x) + (1 - y) * np.log(1 - x))
    s = 1 / (1 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    return -w * (pw * y * np.log(s) + (1 - y) * np.log(1 - s))


CALLS = {
    "mse": lambda x, y, r: F.mse_loss(x, y, reduction=r),
    "l1": lambda x, y, r: F.l1_loss(x, y, reduction=r),
    "smooth_l1": lambda x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
    "huber": lambda x, y, r: F.huber_loss(x, y, reduction=r, delta=0.7),
    "bce": lambda x, y, r: F.binary_cross_entropy(x, y, reduction=r),
    "bce_logits": lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_elementwise_values_and_gradients(name, reduction, shape):
    if name == "bce":
        x, y = probs(shape), probs(shape)
    elif name == "bce_logits":
        x, y = t64(shape, 3.0), probs(shape)
    else:
        x, y = t64(shape), t64(shape)
    ref = reduce_ref(np_elementwise(name, x.data, y.data, beta=0.7), reduction)
    out = CALLS[name](x, y, reduction)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-14)
    assert out.shape == np.shape(ref)
    # both input and target get gradients (PyTorch differentiates the target too)
    assert mg.gradcheck(lambda a, b: CALLS[name](a, b, reduction), [x, y])


def test_elementwise_constant_target_and_float32():
    x = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    y = rng.standard_normal((4, 3))                     # a float64 array meets a float32 input: cast
    loss = F.smooth_l1_loss(x, y, beta=0.0)             # beta 0 is L1
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), np.abs(x.data - y.astype(np.float32)).mean(), rtol=1e-6)
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.sign(x.data - y.astype(np.float32)) / 12)


def test_bce_with_logits_is_stable_for_huge_logits():
    x = mg.tensor(np.array([1e4, -1e4, 50.0, -50.0]), requires_grad=True, dtype=np.float64)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 50.0, 50.0], atol=1e-15)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, -1.0], atol=1e-15)


def test_bce_weight_and_pos_weight_gradcheck():
    x, y = t64((4, 3), 2.0), probs((4, 3))
    w, pw = rng.uniform(0.5, 2, (3,)), rng.uniform(0.5, 3, (3,))
    ref = np_elementwise("bce_logits", x.data, y.data, weight=w, pos_weight=pw).mean()
    out = F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw)
    np.testing.assert_allclose(out.item(), ref, rtol=1e-12)
    assert mg.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw), [x, y])
    xp = probs((4, 3))
    np.testing.assert_allclose(F.binary_cross_entropy(xp, y, weight=w).item(),
                               np_elementwise("bce", xp.data, y.data, weight=w).mean(), rtol=1e-12)
    assert mg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=w, reduction="sum"), [xp, y])


def test_bce_clamps_logs_at_minus_100():
    loss = F.binary_cross_entropy(mg.tensor(np.array([0.0, 1.0]), dtype=np.float64), np.array([1.0, 0.0]),
                                  reduction="none")
    np.testing.assert_array_equal(loss.data, [100.0, 100.0])


# ====================================================================== classification
def np_weighted_ce(x, t, w, ignore_index=-100, eps=0.0, reduction="mean"):
    """Textbook per-row loop (classes on axis 1) with class weights and label smoothing."""
    C = x.shape[1]
    z = np.moveaxis(x, 1, -1).reshape(-1, C)
    lp = z - z.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    tf = t.reshape(-1)
    loss, den = np.zeros(tf.size), 0.0
    for i, c in enumerate(tf):
        if c == ignore_index:
            continue
        loss[i] = -(1 - eps) * w[c] * lp[i, c] - eps / C * (w * lp[i]).sum()
        den += w[c]
    if reduction == "none":
        return loss.reshape(t.shape)
    return loss.sum() if reduction == "sum" else loss.sum() / den


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2)])
def test_cross_entropy_class_weights(reduction, eps, shape):
    x = t64(shape)
    t = rng.integers(0, 4, (shape[0],) + shape[2:])
    t.flat[1] = 3
    t.flat[0] = -1                                     # ignored
    w = rng.uniform(0.2, 2.0, 4)
    out = F.cross_entropy(x, t, weight=w, ignore_index=-1, reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(out.data, np_weighted_ce(x.data, t, w, -1, eps, reduction), rtol=1e-12, atol=1e-14)
    assert mg.gradcheck(lambda a: F.cross_entropy(a, t, weight=w, ignore_index=-1, reduction=reduction,
                                                  label_smoothing=eps), [x])
    lp = F.log_softmax(x, dim=1)
    nll = F.nll_loss(lp, t, weight=w, ignore_index=-1, reduction=reduction)
    np.testing.assert_allclose(nll.data, np_weighted_ce(x.data, t, w, -1, 0.0, reduction), rtol=1e-12, atol=1e-14)
    assert mg.gradcheck(lambda a: F.nll_loss(a, t, weight=w, ignore_index=-1, reduction=reduction), [t64(shape)])


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_probability_targets(eps):
    x = t64((5, 3, 2))
    q = mg.tensor(rng.dirichlet(np.ones(3), (5, 2)).transpose(0, 2, 1), requires_grad=True, dtype=np.float64)
    w = rng.uniform(0.5, 2.0, 3)
    lp = x.data - x.data.max(1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(1, keepdims=True))
    qs = (1 - eps) * q.data + eps / 3
    ref = -(w[None, :, None] * qs * lp).sum(1)
    out = F.cross_entropy(x, q, weight=w, reduction="none", label_smoothing=eps)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, q, weight=w, label_smoothing=eps).item(), ref.mean(), rtol=1e-12)
    assert mg.gradcheck(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=eps), [x, q])


# ====================================================================== PyTorch parity
def _both(torch, arr):
    return torch.tensor(arr, requires_grad=True)


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_match_torch(name, reduction):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    shape = (4, 3)
    x = probs(shape) if name == "bce" else t64(shape, 2.0)
    y = probs(shape) if name.startswith("bce") else t64(shape)
    tcall = {"mse": lambda a, b: tF.mse_loss(a, b, reduction=reduction),
             "l1": lambda a, b: tF.l1_loss(a, b, reduction=reduction),
             "smooth_l1": lambda a, b: tF.smooth_l1_loss(a, b, reduction=reduction, beta=0.7),
             "huber": lambda a, b: tF.huber_loss(a, b, reduction=reduction, delta=0.7),
             "bce": lambda a, b: tF.binary_cross_entropy(a, b, reduction=reduction),
             "bce_logits": lambda a, b: tF.binary_cross_entropy_with_logits(a, b, reduction=reduction)}[name]
    xt, yt = _both(torch, x.data), _both(torch, y.data)
    ref = tcall(xt, yt)
    g = rng.standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(g))
    out = CALLS[name](x, y, reduction)
    out.backward(g)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(y.grad, yt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_weighted_bce_and_pos_weight_match_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x, y = t64((5, 3), 3.0), probs((5, 3))
    w, pw = rng.uniform(0.5, 2, (5, 1)), rng.uniform(0.5, 3, (3,))
    xt, yt = _both(torch, x.data), _both(torch, y.data)
    ref = tF.binary_cross_entropy_with_logits(xt, yt, weight=torch.tensor(w), pos_weight=torch.tensor(pw))
    ref.backward()
    out = nn.BCEWithLogitsLoss(weight=w, pos_weight=pw)(x, y)
    out.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(y.grad, yt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_and_nll_match_torch(reduction, eps, weighted):
    torch = pytest.importorskip("torch")
    x = t64((4, 5, 3))
    t = rng.integers(0, 5, (4, 3))
    t[0, :2] = 2                                   # ignore_index=2 also a real class elsewhere
    w = rng.uniform(0.3, 2.0, 5) if weighted else None
    tw = None if w is None else torch.tensor(w)
    xt = _both(torch, x.data)
    ref = torch.nn.CrossEntropyLoss(weight=tw, ignore_index=2, reduction=reduction, label_smoothing=eps)(
        xt, torch.tensor(t))
    g = rng.standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(g))
    out = nn.CrossEntropyLoss(weight=w, ignore_index=2, reduction=reduction, label_smoothing=eps)(x, t)
    out.backward(g)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    lp = t64((4, 5, 3))
    lpt = _both(torch, lp.data)
    ref = torch.nn.NLLLoss(weight=tw, ignore_index=2, reduction=reduction)(lpt, torch.tensor(t))
    ref.backward(torch.tensor(g))
    out = nn.NLLLoss(weight=w, ignore_index=2, reduction=reduction)(lp, t)
    out.backward(g)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lp.grad, lpt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_probability_targets_match_torch(eps):
    torch = pytest.importorskip("torch")
    x = t64((6, 4))
    q = mg.tensor(rng.dirichlet(np.ones(4), 6), requires_grad=True, dtype=np.float64)
    w = rng.uniform(0.5, 2.0, 4)
    xt, qt = _both(torch, x.data), _both(torch, q.data)
    ref = torch.nn.functional.cross_entropy(xt, qt, weight=torch.tensor(w), label_smoothing=eps)
    ref.backward()
    out = F.cross_entropy(x, q, weight=w, label_smoothing=eps)
    out.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(q.grad, qt.grad.numpy(), rtol=1e-10, atol=1e-14)


# ====================================================================== modules
def test_loss_modules_hold_weights_as_buffers():
    m = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 3.0]))
    assert list(m.state_dict()) == ["weight"] and list(m.parameters()) == []
    m2 = nn.BCEWithLogitsLoss(pos_weight=np.ones(3))
    assert list(m2.state_dict()) == ["pos_weight"]
    assert nn.MSELoss(reduction="sum")(t64((2,)), t64((2,))).shape == ()
    x = mg.tensor(rng.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    assert m(x, np.array([0, 1, 2])).dtype == np.float32           # float64 weight serves float32


# ====================================================================== bad input
def test_loss_argument_errors():
    x = t64((4, 3))
    t = np.array([0, 1, 2, 0])
    with pytest.raises(TypeError, match=r"label_smoothing must be a number, got '0\.1'"):
        F.cross_entropy(x, t, label_smoothing="0.1")
    with pytest.raises(TypeError, match=r"label_smoothing must be a number, got '0\.1'"):
        nn.CrossEntropyLoss(label_smoothing="0.1")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0\.0, 1\.0\], got nan"):
        F.cross_entropy(x, t, label_smoothing=float("nan"))
    with pytest.raises(ValueError, match=r"18446744073709551516.*does not fit in int64"):
        F.cross_entropy(x, np.array([0, 1, 2, 2 ** 64 - 100], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"18446744073709551516"):
        F.nll_loss(x, np.array([0, 1, 2, 2 ** 64 - 100], dtype=np.uint64))
    with pytest.raises(IndexError, match=r"class 7 outside \[0, 3\)"):
        F.cross_entropy(x, np.array([0, 7, 2, 0], dtype=np.uint8))
    with pytest.raises(TypeError, match=r"ignore_index must be an int, got '-100'"):
        F.cross_entropy(x, t, ignore_index="-100")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(4,\)"):
        F.cross_entropy(x, t, weight=np.ones(4))
    with pytest.raises(TypeError, match="weight must not require grad"):
        F.nll_loss(x, t, weight=t64((3,)))
    with pytest.raises(TypeError, match=r"class probabilities of the input's shape \(4, 3\); got dtype float64 "
                                        r"and shape \(4,\)"):
        F.cross_entropy(x, t.astype(float))
    with pytest.raises(TypeError, match="input must be a tensor, got tuple"):
        F.cross_entropy((x, x), t)
    with pytest.raises(ValueError, match=r"input has shape \(4, 3\) but target has shape \(3,\)"):
        F.l1_loss(x, t64((3,)))
    with pytest.raises(ValueError, match=r"found 1\.5"):
        F.binary_cross_entropy(mg.tensor(np.array([0.5, 1.5]), dtype=np.float64), np.ones(2))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(4,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, np.ones((4, 3)), pos_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"weight of shape \(4, 3, 1\) does not broadcast"):
        F.binary_cross_entropy_with_logits(x, np.ones((4, 3)), weight=np.ones((4, 3, 1)))
    with pytest.raises(ValueError, match=r"delta must be in \(0\.0, inf\], got 0"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match=r"beta must be in \[0\.0, inf\], got -1"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(TypeError, match=r"target must be numeric, got dtype <U1"):
        F.mse_loss(mg.tensor(np.ones(2)), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        F.gelu(x, approximate="erf")
