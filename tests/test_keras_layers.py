"""minigrad.keras's Layer contract and core layers: Dense, Activation, Dropout, Embedding, Input,
TimeDistributed; keras.initializers and keras.activations.

Without Keras every case runs against NumPy; with Keras 3 on the torch backend, Dense and
TimeDistributed(Dense) load Keras's weights and match its outputs and gradients in float32
(tests/_keras_layers_check.py), and configs / parameter counts are compared with Keras's.
"""
import json

import numpy as np
import pytest

import minigrad as mg
from minigrad.keras import activations, initializers
from minigrad.keras import layers as L
from minigrad.keras.layers.base import UnknownArgumentError, auto_name, to_snake_case

from _keras_layers_check import compare_with_keras
from _keras_ref import need_keras


# ---------------------------------------------------------------- the contract
def test_auto_names_follow_keras():
    assert [to_snake_case(n) for n in ("Dense", "SimpleRNN", "LSTM", "TimeDistributed", "InputLayer")] == \
        ["dense", "simple_rnn", "lstm", "time_distributed", "input_layer"]
    first = auto_name("MyProbeLayer")
    assert first == "my_probe_layer" and auto_name("MyProbeLayer") == "my_probe_layer_1"
    a, b = L.Dense(2), L.Dense(2)
    assert a.name.startswith("dense") and a.name != b.name
    assert L.Dense(2, name="out").name == "out"


def test_input_shape_and_input_dim_are_kept_with_batch_axis():
    assert L.Dense(3, input_shape=(28, 28))._batch_input_shape == (None, 28, 28)
    assert L.Dense(3, input_dim=7)._batch_input_shape == (None, 7)
    assert L.Dense(3)._batch_input_shape is None
    inp = L.Input((28, 28))
    assert isinstance(inp, L.InputLayer) and inp._batch_input_shape == (None, 28, 28)
    assert L.Input(shape=(5,), batch_size=4)._batch_input_shape == (4, 5)


def test_unknown_kwargs_are_named():
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to Dense: \['colour'\]"):
        L.Dense(3, colour="red")
    with pytest.raises(ValueError):                 # Keras raises ValueError: both work
        L.Embedding(3, 2, bogus=1)
    assert issubclass(UnknownArgumentError, TypeError) and issubclass(UnknownArgumentError, ValueError)


def test_dense_any_rank_matches_numpy_and_gradchecks():
    rng = np.random.default_rng(0)
    layer = L.Dense(5, activation="tanh", dtype="float64")
    x = rng.normal(size=(2, 3, 4))
    y = layer(x)
    k, b = layer.get_weights()
    assert k.shape == (4, 5) and b.shape == (5,) and y.shape == (2, 3, 5) and y.dtype == np.float64
    layer.set_weights([rng.normal(size=(4, 5)), rng.normal(size=5)])
    k, b = layer.get_weights()
    np.testing.assert_allclose(layer(x).data, np.tanh(x @ k + b), rtol=1e-13, atol=1e-14)
    xt = mg.tensor(x, dtype=np.float64, requires_grad=True)
    assert mg.gradcheck(lambda x_, *ws: (layer(x_) ** 2).sum(), [xt, *layer.weights])
    assert layer.count_params() == 4 * 5 + 5
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 5)


def test_float_inputs_become_float32_and_layers_accept_tensors():
    layer = L.Dense(2)
    assert layer(np.ones((3, 4))).dtype == np.float32
    assert layer(np.ones((3, 4), dtype=np.int64)).dtype == np.float32
    t = mg.tensor(np.ones((3, 4)), dtype=np.float64, requires_grad=True)
    layer(t).sum().backward()                           # the cast is on the tape
    assert t.grad.shape == (3, 4)


def test_softmax_layer_exposes_its_logits():
    layer = L.Dense(3, activation="softmax", dtype="float64")
    x = np.random.default_rng(1).normal(size=(4, 2))
    z = layer.call_logits(x)
    assert layer.activation_name == "softmax"
    e = np.exp(z.data - z.data.max(-1, keepdims=True))
    np.testing.assert_allclose(layer(x).data, e / e.sum(-1, keepdims=True), rtol=1e-13)
    assert L.Dense(3).activation_name == "linear" and L.LSTM(3).activation_name is None
    td = L.TimeDistributed(L.Dense(3, activation="softmax"))
    assert td.activation_name == "softmax" and td.call_logits(np.ones((2, 5, 4))).shape == (2, 5, 3)
    assert L.Activation("softmax").activation_name == "softmax"


def test_input_shape_mismatch_names_layer_and_both_shapes():
    layer = L.Dense(3, name="probe")
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"layer 'probe' \(Dense\).*expected shape \(\.\.\., 4\).*got shape \(2, 5\)"):
        layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"rank >= 2.*got shape \(4,\)"):
        L.Dense(3)(np.ones(4))
    with pytest.raises(ValueError, match=r"expected shape \(None, 28, 28\)"):
        L.Input((28, 28))(np.ones((2, 28, 27)))


def test_calling_a_layer_on_input_says_the_functional_api_is_missing():
    with pytest.raises(TypeError, match="functional API"):
        L.Dense(3)(L.Input((4,)))
    with pytest.raises(TypeError, match="must be numeric"):
        L.Dense(3)(np.array([["a", "b"]]))


def test_set_weights_checks_count_and_shapes_before_writing():
    layer = L.Dense(3)
    layer.build((None, 4))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"Layer 'dense.*' weight 'bias' has shape \(3,\).*\(4,\)"):
        layer.set_weights([np.zeros((4, 3)), np.zeros(4)])
    with pytest.raises(ValueError, match="length 1, but the layer was expecting 2 weights"):
        layer.set_weights([np.zeros((4, 3))])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)               # nothing was written
    with pytest.raises(ValueError, match="isn't built"):
        L.Dense(2).count_params()


def test_trainable_flag_moves_weights():
    layer = L.Dense(2)
    layer.build((None, 3))
    assert len(layer.trainable_weights) == 2 and layer.non_trainable_weights == []
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.weights == [layer.kernel, layer.bias]


def test_embedding_lookup_mask_and_errors():
    emb = L.Embedding(6, 3, mask_zero=True)
    ids = np.array([[0, 0, 1, 5], [2, 3, 0, 0]])
    out = emb(ids)
    np.testing.assert_array_equal(out.data, emb.get_weights()[0][ids])
    np.testing.assert_array_equal(emb.compute_mask(ids), ids != 0)
    assert L.Embedding(6, 3).compute_mask(ids) is None
    assert np.abs(emb.get_weights()[0]).max() <= 0.05              # Keras's uniform(-0.05, 0.05)
    assert emb.count_params() == 18 and emb.compute_output_shape((None, 4)) == (None, 4, 3)
    with pytest.raises(IndexError, match="out of range"):
        emb(np.array([[6]]))
    with pytest.raises(ValueError, match="input_dim"):
        L.Embedding(0, 3)
    with pytest.warns(UserWarning, match="input_length"):
        L.Embedding(6, 3, input_length=4)


def test_dropout_scales_in_training_only():
    layer = L.Dropout(0.5, seed=0)
    x = np.ones((50, 40))
    assert layer(x).data is not None and np.array_equal(layer(x).data, x)
    y = layer(x, training=True).data
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    shared = L.Dropout(0.5, noise_shape=(None, 1, 4), seed=1)(np.ones((3, 5, 4)), training=True).data
    assert (shared == shared[:, :1]).all()                       # one mask for every time step
    with pytest.raises(ValueError, match="rate"):
        L.Dropout(1.5)


def test_time_distributed_dense():
    rng = np.random.default_rng(2)
    td = L.TimeDistributed(L.Dense(2, dtype="float64"))
    x = rng.normal(size=(3, 4, 5))
    y = td(x)
    k, b = td.get_weights()
    np.testing.assert_allclose(y.data, x @ k + b, rtol=1e-13, atol=1e-14)
    assert td.count_params() == 12 and td.compute_output_shape((None, 4, 5)) == (None, 4, 2)
    xt = mg.tensor(x, dtype=np.float64, requires_grad=True)
    assert mg.gradcheck(lambda x_, *ws: (td(x_) ** 2).sum(), [xt, *td.weights])


def test_configs_round_trip_through_json():
    for layer in (L.Dense(3, activation="relu", use_bias=False), L.Embedding(5, 2, mask_zero=True),
                  L.Dropout(0.2, seed=3), L.Activation("tanh"), L.TimeDistributed(L.Dense(2)),
                  L.Dense(2, dtype="float64")):
        config = json.loads(json.dumps(layer.get_config()))
        again = type(layer).from_config(config)
        assert json.loads(json.dumps(again.get_config())) == config
    assert L.Dense.from_config(L.Dense(2, dtype="float64").get_config()).dtype == "float64"
    dense = L.deserialize(L.serialize(L.Dense(4)))
    assert isinstance(dense, L.Dense) and dense.units == 4


# ---------------------------------------------------------------- initializers and activations
@pytest.mark.parametrize("name, check", [
    ("zeros", lambda a: (a == 0).all()),
    ("ones", lambda a: (a == 1).all()),
    ("glorot_uniform", lambda a: np.abs(a).max() <= np.sqrt(6 / (40 + 60))),
    ("he_uniform", lambda a: np.abs(a).max() <= np.sqrt(6 / 40)),
    ("uniform", lambda a: np.abs(a).max() <= 0.05),
    ("glorot_normal", lambda a: np.abs(a).max() <= 2 * np.sqrt(2 / 100) / 0.87962566103423978),
    ("he_normal", lambda a: np.abs(a).max() <= 2 * np.sqrt(2 / 40) / 0.87962566103423978),
    ("orthogonal", lambda a: np.allclose(a.T @ a, np.eye(60), atol=1e-5) or np.allclose(a @ a.T, np.eye(40), atol=1e-5)),
])
def test_initializers(name, check):
    a = initializers.get(name)((40, 60))
    assert a.shape == (40, 60) and a.dtype == np.float32 and check(a)


def test_initializer_seeds_and_lookup():
    a = initializers.GlorotUniform(seed=3)((4, 5))
    np.testing.assert_array_equal(a, initializers.GlorotUniform(seed=3)((4, 5)))
    mg.manual_seed(1)
    b = initializers.get("normal")((3,))
    mg.manual_seed(1)
    np.testing.assert_array_equal(b, initializers.get("normal")((3,)))
    assert isinstance(initializers.get({"class_name": "Constant", "config": {"value": 2.0}}), initializers.Constant)
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 'glorot'"):
        initializers.get("glorot")


def test_activations():
    x = mg.tensor(np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]]), dtype=np.float64)
    v = x.data
    expect = {"linear": v, "relu": np.maximum(v, 0), "tanh": np.tanh(v), "sigmoid": 1 / (1 + np.exp(-v)),
              "softplus": np.log1p(np.exp(v)), "softsign": v / (1 + np.abs(v)), "elu": np.where(v > 0, v, np.expm1(v)),
              "silu": v / (1 + np.exp(-v)), "relu6": np.clip(v, 0, 6), "exponential": np.exp(v),
              "hard_sigmoid": np.clip(v + 3, 0, 6) / 6, "softmax": np.exp(v) / np.exp(v).sum()}
    for name, ref in expect.items():
        np.testing.assert_allclose(activations.get(name)(x).data, ref, rtol=1e-12, atol=1e-15, err_msg=name)
        assert activations.serialize(activations.get(name)) == name
    assert activations.get(None) is activations.linear
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: 'relux'"):
        activations.get("relux")
    xt = mg.tensor(np.array([-1.3, -0.2, 0.4, 2.0]), dtype=np.float64, requires_grad=True)
    for name in ("elu", "selu", "softsign", "silu", "leaky_relu", "gelu"):
        assert mg.gradcheck(lambda t: activations.get(name)(t).sum(), [xt])


# ---------------------------------------------------------------- against Keras itself
@pytest.fixture(scope="module")
def keras():
    return need_keras()


@pytest.mark.parametrize("make", [lambda m: m.Dense(5, activation="relu"),
                                  lambda m: m.TimeDistributed(m.Dense(5, activation="sigmoid"))],
                         ids=["Dense", "TimeDistributed(Dense)"])
def test_dense_matches_keras(keras, make):
    x = np.random.default_rng(3).normal(size=(3, 4, 6)).astype(np.float32)
    compare_with_keras(make(L), make(keras.layers), x)


def test_configs_and_names_match_keras(keras):
    for make in (lambda m: m.Dense(3, activation="softmax"), lambda m: m.Embedding(7, 2, mask_zero=True),
                 lambda m: m.Dropout(0.3), lambda m: m.Activation("relu"), lambda m: m.Masking(-1.0),
                 lambda m: m.TimeDistributed(m.Dense(2))):
        ours, theirs = make(L).get_config(), make(keras.layers).get_config()
        assert set(ours) == set(theirs)
        for key in set(ours) - {"name", "layer"}:
            assert ours[key] == theirs[key], key
    assert L.InputLayer(shape=(3,)).get_config().keys() == keras.layers.InputLayer(shape=(3,)).get_config().keys()
    emb = keras.layers.Embedding(7, 2)
    emb.build((None, 3))
    ours = L.Embedding(7, 2)
    ours.build((None, 3))
    assert ours.count_params() == emb.count_params()
