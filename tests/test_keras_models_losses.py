"""minigrad.keras losses, metrics and optimizers against NumPy references and, when installed, Keras 3.

Float32 values are compared to rtol 1e-5: each loss is a mean of O(1) terms, each computed with a
handful of float32 roundings (relative 6e-8 each), so the two implementations differ by a few
1e-7 relative at most; 1e-5 leaves a factor > 10 and still catches any formula difference
(clipping, eps placement, reductions), which changes the value in the 3rd-4th digit or earlier.
Gradients of every loss are checked by finite differences in float64 (``mg.gradcheck``).
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.keras import losses, metrics, optimizers

from _keras_ref import REFERENCES, need_keras

EPS = 1e-7
RTOL = 1e-5


def _data(seed, shape=(6, 5), dtype=np.float32):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape).astype(dtype)
    e = np.exp(z - z.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    labels = rng.integers(0, shape[-1], shape[:-1])
    onehot = np.eye(shape[-1], dtype=dtype)[labels]
    bits = (rng.random(shape) > 0.5).astype(dtype)
    return z, p, labels, onehot, bits


# NumPy references, float64, Keras's formulas
def _ref(name, y, pred, from_logits):
    pred = pred.astype(np.float64)
    if name in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        if from_logits:
            logp = pred - pred.max(-1, keepdims=True)
            logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        else:
            logp = np.log(np.clip(pred / pred.sum(-1, keepdims=True), EPS, 1 - EPS))
        if name.startswith("sparse"):
            return -np.take_along_axis(logp, y[..., None], -1).mean()
        return -(y * logp).sum(-1).mean()
    if name == "binary_crossentropy":
        p = 1 / (1 + np.exp(-pred)) if from_logits else np.clip(pred, EPS, 1 - EPS)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    d = pred - y
    return (d * d).mean() if name == "mean_squared_error" else np.abs(d).mean()


CASES = [("sparse_categorical_crossentropy", 2), ("categorical_crossentropy", 3), ("binary_crossentropy", 4),
         ("mean_squared_error", 4), ("mean_absolute_error", 4)]
# (name, target kind, from_logits): the regression losses have no from_logits
LOGIT_CASES = [(n, t, f) for n, t in CASES for f in (False, True) if not (f and n.startswith("mean"))]


def _case(name, target_index, from_logits, shape=(6, 5), dtype=np.float32):
    z, p, labels, onehot, bits = _data(len(name) + shape[0], shape, dtype)
    y = (None, None, labels, onehot, bits)[target_index]
    if name == "binary_crossentropy":
        pred = z if from_logits else 1 / (1 + np.exp(-z))
    elif name.startswith("mean"):
        pred = z
    else:
        pred = z if from_logits else p
    return y, pred.astype(dtype)


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("shape", [(6, 5), (1, 2), (3, 4, 7)])
@pytest.mark.parametrize("name,target,from_logits", LOGIT_CASES)
def test_loss_values(name, target, from_logits, shape, reference):
    y, pred = _case(name, target, from_logits, shape)
    kw = {"from_logits": True} if from_logits else {}
    ours = type(losses.get(name))(**kw)(y, mg.tensor(pred)).item()
    if reference == "numpy":
        expected = _ref(name, y, pred, from_logits)
    else:
        keras = need_keras()
        cls = getattr(keras.losses, type(losses.get(name)).__name__)
        expected = float(cls(**kw)(y, pred))
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("name,target", CASES[:3])
def test_fused_pre_activation_equals_probability_path(name, target):
    """from_pre_activation(y, z) == loss(y, activation(z)) away from the 1e-7 clip."""
    y, z = _case(name, target, True, (5, 4), np.float64)
    act = (lambda t: 1 / (1 + np.exp(-t))) if name == "binary_crossentropy" else \
        (lambda t: np.exp(t) / np.exp(t).sum(-1, keepdims=True))
    loss = losses.get(name)
    fused = loss.from_pre_activation(y, mg.tensor(z, dtype=np.float64)).item()
    plain = loss(y, mg.tensor(act(z), dtype=np.float64)).item()
    np.testing.assert_allclose(fused, plain, rtol=1e-12)


@pytest.mark.parametrize("name,target,from_logits", LOGIT_CASES)
def test_loss_gradients(name, target, from_logits):
    y, pred = _case(name, target, from_logits, (3, 4), np.float64)
    if name == "mean_absolute_error":
        pred = pred + np.sign(pred - y) * 0.1          # keep |d| away from the kink at 0
    loss = type(losses.get(name))(from_logits=True) if from_logits else losses.get(name)
    x = mg.tensor(pred, requires_grad=True, dtype=np.float64)
    assert mg.gradcheck(lambda t: loss(y, t), [x])
    if name in ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"):
        assert mg.gradcheck(lambda t: loss.from_pre_activation(y, t), [x])


def test_loss_shape_rules():
    pred = mg.tensor(np.zeros((4, 1), np.float32))
    assert losses.get("mse")(np.ones(4), pred).item() == pytest.approx(1.0)     # (4,) expanded to (4, 1)
    with pytest.raises(ValueError, match=r"targets of shape \(4, 3\) do not match .* \(4, 1\)"):
        losses.get("mse")(np.ones((4, 3)), pred)
    out = mg.tensor(np.zeros((2, 28, 10), np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\) do not match the model's output of shape \(2, 28, 10\)"):
        losses.get("sparse_categorical_crossentropy")(np.zeros(2, int), out)
    with pytest.raises(ValueError, match=r"in \[0, 10\)"):
        losses.get("sparse_categorical_crossentropy")(np.full((2, 28), 10), out)
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        losses.get("hinge")
    assert losses.get(losses.mse).name == "mean_squared_error"


def test_loss_functions_per_sample():
    y, pred = _case("categorical_crossentropy", 3, False, (4, 5))
    per = losses.categorical_crossentropy(y, mg.tensor(pred)).data
    assert per.shape == (4,)
    np.testing.assert_allclose(per.mean(), _ref("categorical_crossentropy", y, pred, False), rtol=RTOL)
    ys, ps = _case("sparse_categorical_crossentropy", 2, True, (3, 2, 5))
    per = losses.sparse_categorical_crossentropy(ys, mg.tensor(ps), from_logits=True).data
    assert per.shape == (3, 2)


# ------------------------------------------------------------------ metrics
def test_accuracy_resolution_and_values():
    _, p, labels, onehot, bits = _data(1, (8, 3))
    m = metrics.get("accuracy", "sparse_categorical_crossentropy", labels.shape, p.shape)
    assert isinstance(m, metrics.SparseCategoricalAccuracy) and m.name == "accuracy"
    assert m(labels, p) == pytest.approx(np.mean(p.argmax(-1) == labels))
    m = metrics.get("acc", "categorical_crossentropy", onehot.shape, p.shape)
    assert isinstance(m, metrics.CategoricalAccuracy) and m.name == "acc"
    assert m(onehot, p) == pytest.approx(np.mean(p.argmax(-1) == labels))
    m = metrics.get("accuracy", "binary_crossentropy", bits.shape, p.shape)
    assert isinstance(m, metrics.BinaryAccuracy)
    assert m(bits, p) == pytest.approx(np.mean((p > 0.5) == bits))
    assert isinstance(metrics.get("accuracy", "mse", (8,), (8, 1)), metrics.BinaryAccuracy)


def test_metric_running_mean_weights_samples_equally():
    m = metrics.MeanAbsoluteError()
    m.update_state(np.zeros((3, 1)), np.ones((3, 1)))           # 3 samples of error 1
    m.update_state(np.zeros((1, 1)), np.full((1, 1), 5.0))      # 1 sample of error 5
    assert m.result() == pytest.approx(2.0)
    m.reset_state()
    assert m.result() == 0.0
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get("f1")
    fn = metrics.get(metrics.categorical_accuracy)
    assert fn.name == "categorical_accuracy" and fn(np.eye(2), np.array([[0.9, 0.1], [0.8, 0.2]])) == 0.5


# ------------------------------------------------------------------ optimizers
def _ref_opt(name, w, grads, hyper):
    """Keras's update rules in float64 over a list of gradients."""
    w = w.astype(np.float64).copy()
    lr = hyper.get("learning_rate")
    s1 = np.zeros_like(w)
    s2 = np.zeros_like(w) + (hyper.get("initial_accumulator_value", 0.1) if name == "Adagrad" else 0)
    for t, g in enumerate(grads, 1):
        g = g.astype(np.float64)
        if name == "SGD":
            mu = hyper.get("momentum", 0.0)
            s1 = mu * s1 - lr * g
            w += (mu * s1 - lr * g) if hyper.get("nesterov") else s1
        elif name == "Adam":
            b1, b2, eps = 0.9, 0.999, 1e-7
            s1 += (g - s1) * (1 - b1)
            s2 += (g * g - s2) * (1 - b2)
            w -= lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * s1 / (np.sqrt(s2) + eps)
        elif name == "RMSprop":
            s2 = 0.9 * s2 + 0.1 * g * g
            w -= lr * g / np.sqrt(s2 + 1e-7)
        else:
            s2 += g * g
            w -= lr * g / np.sqrt(s2 + 1e-7)
    return w


OPTS = [("SGD", {"learning_rate": 0.1}), ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
        ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}), ("Adam", {"learning_rate": 0.01}),
        ("RMSprop", {"learning_rate": 0.01}), ("Adagrad", {"learning_rate": 0.1})]


def _run_ours(name, hyper, w0, grads):
    p = mg.nn.Parameter(w0.copy())
    opt = getattr(optimizers, name)(**hyper)
    for g in grads:
        p.grad = g.copy()
        opt.apply([p])
    assert opt.iterations == len(grads)
    return p.data


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("name,hyper", OPTS)
def test_optimizer_steps(name, hyper, reference):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(4)]
    ours = _run_ours(name, hyper, w0, grads)
    if reference == "numpy":
        expected = _ref_opt(name, w0, grads, hyper)
    else:
        keras = need_keras()
        v = keras.Variable(w0.copy())
        opt = getattr(keras.optimizers, name)(**hyper)
        for g in grads:
            opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
        expected = keras.ops.convert_to_numpy(v.value)
    np.testing.assert_allclose(ours, expected, rtol=RTOL, atol=1e-6)


def test_optimizer_defaults_and_learning_rate():
    assert optimizers.get("adam").learning_rate == 0.001 and optimizers.get("adam").epsilon == 1e-7
    r = optimizers.get("rmsprop")
    assert (r.learning_rate, r.rho, r.epsilon) == (0.001, 0.9, 1e-7)
    assert optimizers.get("SGD").learning_rate == 0.01
    p = mg.nn.Parameter(np.ones(3, np.float32))
    opt = optimizers.SGD(1.0)
    p.grad = np.ones(3, np.float32)
    opt.apply([p])
    opt.learning_rate = 0.5                       # what ReduceLROnPlateau does between epochs
    p.grad = np.ones(3, np.float32)
    opt.apply([p])
    np.testing.assert_allclose(p.data, [-0.5] * 3)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        optimizers.get("adamax")


@pytest.mark.parametrize("kind", ["clipvalue", "clipnorm", "global_clipnorm"])
def test_gradient_clipping(kind):
    g1, g2 = np.array([3.0, 4.0], np.float32), np.array([0.0, 12.0], np.float32)
    p1, p2 = mg.nn.Parameter(np.zeros(2, np.float32)), mg.nn.Parameter(np.zeros(2, np.float32))
    p1.grad, p2.grad = g1.copy(), g2.copy()
    optimizers.SGD(1.0, **{kind: 1.0}).apply([p1, p2])
    if kind == "clipvalue":
        expected = (-np.clip(g1, -1, 1), -np.clip(g2, -1, 1))
    elif kind == "clipnorm":
        expected = (-g1 / 5, -g2 / 12)
    else:
        expected = (-g1 / 13, -g2 / 13)
    np.testing.assert_allclose(p1.data, expected[0], rtol=1e-6)
    np.testing.assert_allclose(p2.data, expected[1], rtol=1e-6)
