"""minigrad.keras's SimpleRNN / LSTM / GRU / Bidirectional against Keras's semantics.

Without Keras: every case against a small NumPy implementation of Keras's recurrent loop written
here (Keras's equations, weight layouts and gate orders, its mask rule: a masked step keeps the
state and repeats the previous output; ``go_backwards`` returns the reversed-order sequence), in
float64, and the gradients by ``mg.gradcheck`` (float64 finite differences). With Keras 3 on the
torch backend: the same weights loaded into both through ``set_weights(keras.get_weights())``,
outputs and the gradients of ``sum(output**2)`` compared in float32 (Keras's float64 recurrent
layers are not exact to float64: they differ from the exact loop by ~1e-7, so float64 exactness is
checked against the NumPy loop only).

Tolerances: float64 results agree to a few roundings; the float32 bound vs Keras is derived in
tests/_keras_layers_check.py.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.keras import layers as L

from _keras_layers_check import assert_close_f32, assert_grads_match, compare_with_keras
from _keras_ref import need_keras
T, F, UNITS = 5, 4, 6
# rows: post-padded, pre-padded (Keras's default), all valid, all padded
MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


ACT = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "sigmoid": sigmoid}


# ---------------------------------------------------------------- the NumPy reference (Keras's loop)
def keras_cell(kind, x, states, w, act="tanh", reset_after=True):
    """One step of Keras's cell with Keras-layout weights w = [kernel, recurrent_kernel, bias]."""
    k, r, b = w
    f = ACT[act]
    h = states[0]
    if kind == "SimpleRNN":
        h = f(x @ k + h @ r + b)
        return h, (h,)
    if kind == "LSTM":
        z = x @ k + h @ r + b
        i, fg, cc, o = np.split(z, 4, axis=-1)
        c = sigmoid(fg) * states[1] + sigmoid(i) * f(cc)
        h = sigmoid(o) * f(c)
        return h, (h, c)
    u = r.shape[0]
    if reset_after:
        mx, mh = x @ k + b[0], h @ r + b[1]
        z, rr = sigmoid(mx[:, :u] + mh[:, :u]), sigmoid(mx[:, u:2 * u] + mh[:, u:2 * u])
        hh = f(mx[:, 2 * u:] + rr * mh[:, 2 * u:])
    else:
        mx = x @ k + b
        z = sigmoid(mx[:, :u] + h @ r[:, :u])
        rr = sigmoid(mx[:, u:2 * u] + h @ r[:, u:2 * u])
        hh = f(mx[:, 2 * u:] + (rr * h) @ r[:, 2 * u:])
    h = z * h + (1 - z) * hh
    return h, (h,)


def keras_rnn(kind, x, w, mask=None, go_backwards=False, return_sequences=False, zero_output_for_mask=False,
              **cell):
    """Keras's generic rnn loop: (output, final states)."""
    n, t = x.shape[:2]
    u = w[1].shape[0]
    states = tuple(np.zeros((n, u)) for _ in range(2 if kind == "LSTM" else 1))
    if go_backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    prev, outs = np.zeros((n, u)), []
    for s in range(t):
        out, new = keras_cell(kind, x[:, s], states, w, **cell)
        if mask is not None:
            m = mask[:, s, None]
            out = np.where(m, out, 0.0 if zero_output_for_mask else prev)
            new = tuple(np.where(m, a, b) for a, b in zip(new, states))
        states, prev = new, out
        outs.append(out)
    return (np.stack(outs, axis=1) if return_sequences else outs[-1]), states


def keras_shapes(kind, f, u, reset_after=True):
    k = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
    bias = (2, k * u) if (kind == "GRU" and reset_after) else (k * u,)
    return [(f, k * u), (u, k * u), bias]


def random_weights(kind, f, u, seed, **cell):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.6, 0.6, s) for s in keras_shapes(kind, f, u, cell.get("reset_after", True))]


CASES = [("SimpleRNN", {}), ("SimpleRNN", {"act": "relu"}), ("SimpleRNN", {"act": "sigmoid"}), ("LSTM", {}),
         ("LSTM", {"act": "relu"}), ("GRU", {}), ("GRU", {"reset_after": False}), ("GRU", {"act": "sigmoid"})]


def make_layer(kind, cell, units=UNITS, **kw):
    """The float64 minigrad layer of a CASES entry (``act`` is Keras's ``activation``)."""
    args = {("activation" if k == "act" else k): v for k, v in cell.items()}
    return getattr(L, kind)(units, dtype="float64", **args, **kw)


def ids(case):
    kind, cell = case
    return kind + "".join(f"-{k}={v}" for k, v in cell.items())


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_reference_of_keras_loop(case, go_backwards, return_sequences, masked):
    kind, cell = case
    rng = np.random.default_rng(1)
    n = MASK.shape[0]
    x = rng.normal(size=(n, T, F))
    mask = MASK if masked else None
    layer = make_layer(kind, cell, go_backwards=go_backwards, return_sequences=return_sequences,
                       return_state=True)
    layer.build((None, T, F))
    w = random_weights(kind, F, UNITS, 2, **cell)
    layer.set_weights(w)
    out, *states = layer(x, mask=mask)
    ref, ref_states = keras_rnn(kind, x, w, mask, go_backwards, return_sequences, **cell)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)
    for s, r in zip(states, ref_states):
        np.testing.assert_allclose(s.data, r, rtol=1e-12, atol=1e-12)
    for a, b in zip(layer.get_weights(), w):         # the Keras layouts round-trip exactly
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_float64(case, masked):
    """Composed paths (other activations, GRU reset_after=False) and masked runs, checked by finite differences."""
    kind, cell = case
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.normal(size=(MASK.shape[0], T, 2)), dtype=np.float64, requires_grad=True)
    layer = make_layer(kind, cell, units=3, return_sequences=True)
    layer.build((None, T, 2))
    layer.set_weights(random_weights(kind, 2, 3, 4, **cell))
    mask = MASK if masked else None
    assert mg.gradcheck(lambda x_, *ws: (layer(x_, mask=mask) ** 2).sum(), [x, *layer.weights])


def test_masked_steps_get_no_gradient_and_change_nothing():
    rng = np.random.default_rng(5)
    layer = L.LSTM(UNITS, dtype="float64")
    x = rng.normal(size=(MASK.shape[0], T, F))
    x2 = x.copy()
    x2[~MASK] = 100.0                                   # garbage at padded steps changes nothing
    a, b = layer(x, mask=MASK), layer(x2, mask=MASK)
    np.testing.assert_array_equal(a.data, b.data)
    xt = mg.tensor(x, dtype=np.float64, requires_grad=True)
    (layer(xt, mask=MASK) ** 2).sum().backward()
    assert (xt.grad[~MASK] == 0).all() and (xt.grad[MASK] != 0).any()


@pytest.mark.parametrize("case", CASES[:1] + CASES[2:4] + CASES[5:7], ids=[ids(c) for c in CASES[:1] + CASES[2:4] + CASES[5:7]])
def test_awkward_sizes(case):
    """An empty batch, one time step, one unit, and a single fully masked row."""
    kind, cell = case
    for rs in (False, True):
        assert make_layer(kind, cell, return_sequences=rs)(np.zeros((0, 4, 2))).shape == ((0, 4, 6) if rs else (0, 6))
    layer = make_layer(kind, cell, units=1, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 1, 3))
    w = layer.get_weights() if layer.built else None
    y = layer(x, mask=np.array([[True], [False]]))
    ref, _ = keras_rnn(kind, x, layer.get_weights(), np.array([[True], [False]]), False, True, **cell)
    np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=1e-15)
    assert w is None and (y.data[1] == 0).all()
    with pytest.raises(ValueError, match="no time steps"):
        layer(np.zeros((2, 0, 3)))


def test_mask_with_a_hole_is_rejected():
    mask = np.ones((2, T), bool)
    mask[1, 2] = False
    with pytest.raises(ValueError, match="row 1 is not one contiguous block"):
        L.GRU(3)(np.zeros((2, T, F)), mask=mask)
    with pytest.raises(ValueError, match=r"mask has shape \(2, 4\)"):
        L.GRU(3)(np.zeros((2, T, F)), mask=np.ones((2, 4), bool))


def test_embedding_mask_reaches_the_recurrent_layer():
    """Embedding(mask_zero=True) -> LSTM: pre-padded rows equal the unpadded sequences run alone."""
    emb = L.Embedding(10, 4, mask_zero=True, dtype="float64")
    lstm = L.LSTM(5, dtype="float64")
    ids_ = np.array([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5], [0, 0, 0, 0, 7]])
    out = lstm(emb(ids_), mask=emb.compute_mask(ids_))
    for row, valid in zip(range(3), ids_ != 0):
        alone = lstm(emb(ids_[row:row + 1, valid]))
        np.testing.assert_allclose(out.data[row], alone.data[0], rtol=1e-12, atol=1e-14)


def test_masking_layer_masks_padded_float_steps():
    """Masking(0.) -> GRU equals the GRU with the explicit mask; the masked steps are zeroed."""
    x = np.random.default_rng(8).normal(size=MASK.shape + (F,))
    x[~MASK] = 0.0
    masking, gru = L.Masking(0.0, dtype="float64"), L.GRU(UNITS, return_sequences=True, dtype="float64")
    np.testing.assert_array_equal(masking.compute_mask(x), MASK)
    y = gru(masking(x), mask=masking.compute_mask(x))
    np.testing.assert_array_equal(y.data, gru(x, mask=MASK).data)
    assert L.Masking.from_config(masking.get_config()).mask_value == 0.0


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("masked", [False, True])
def test_bidirectional_matches_numpy(merge_mode, masked):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(MASK.shape[0], T, F))
    mask = MASK if masked else None
    layer = L.Bidirectional(L.GRU(UNITS, return_sequences=True, dtype="float64"), merge_mode=merge_mode)
    layer.build((None, T, F))
    wf, wb = random_weights("GRU", F, UNITS, 7), random_weights("GRU", F, UNITS, 8)
    layer.set_weights(wf + wb)
    y = layer(x, mask=mask)
    # Keras forces zero outputs at masked steps inside Bidirectional when returning sequences
    f, _ = keras_rnn("GRU", x, wf, mask, False, True, zero_output_for_mask=True)
    b, _ = keras_rnn("GRU", x, wb, mask, True, True, zero_output_for_mask=True)
    b = b[:, ::-1]
    ref = {"concat": lambda: np.concatenate([f, b], -1), "sum": lambda: f + b, "mul": lambda: f * b,
           "ave": lambda: (f + b) / 2, None: lambda: (f, b)}[merge_mode]()
    if merge_mode is None:
        for a, r in zip(y, ref):
            np.testing.assert_allclose(a.data, r, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=1e-12)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in wf + wb]
    assert layer.forward_layer.name.startswith("forward_gru") and layer.backward_layer.go_backwards


def test_initial_state_and_return_state():
    layer = L.LSTM(3, return_state=True, dtype="float64")
    x = np.random.default_rng(0).normal(size=(2, 4, 2))
    out, h, c = layer(x)
    np.testing.assert_array_equal(out.data, h.data)
    # continuing from the returned state equals running the whole sequence
    whole = L.LSTM(3, dtype="float64")
    whole.build((None, 8, 2))
    whole.set_weights(layer.get_weights())
    x2 = np.random.default_rng(1).normal(size=(2, 4, 2))
    out2, _, _ = layer(x2, initial_state=[h, c])
    np.testing.assert_allclose(out2.data, whole(np.concatenate([x, x2], 1)).data, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"initial state has shape \(2, 4\), expected \(2, 3\)"):
        layer(x, initial_state=[np.zeros((2, 4)), np.zeros((2, 4))])


def test_default_initialisers_are_keras():
    mg.manual_seed(0)
    lstm = L.LSTM(8)
    lstm.build((None, 3, 5))
    k, r, b = lstm.get_weights()
    limit = np.sqrt(6 / (5 + 32))                      # glorot_uniform over (in, 4u)
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    np.testing.assert_allclose(r @ r.T, np.eye(8), atol=1e-5)   # orthogonal rows of (u, 4u)
    np.testing.assert_array_equal(b, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])   # unit_forget_bias
    assert lstm.count_params() == 4 * (5 * 8 + 8 * 8 + 8)
    gru = L.GRU(8, reset_after=False)
    gru.build((None, 3, 5))
    assert gru.count_params() == 3 * (5 * 8 + 8 * 8 + 8)


def test_dropout_is_training_only_and_shared_over_time():
    layer = L.SimpleRNN(4, dropout=0.5, seed=1, return_sequences=True, dtype="float64")
    x = np.ones((3, 6, 8))
    a, b = layer(x), layer(x)
    np.testing.assert_array_equal(a.data, b.data)      # inference: no dropout
    assert not np.array_equal(layer(x, training=True).data, a.data)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"recurrent_dropout": 0.2}, NotImplementedError, "recurrent_dropout"),
    ({"stateful": True}, NotImplementedError, "stateful"),
    ({"dropout": 1.5}, ValueError, "dropout"),
    ({"units": 0}, ValueError, "units"),
    ({"kernel_regularizer": "l2"}, NotImplementedError, "kernel_regularizer"),
    ({"bogus": 1}, TypeError, "bogus"),
])
def test_bad_arguments(kwargs, exc, match):
    kwargs = {"units": 3, **kwargs}
    with pytest.raises(exc, match=match):
        L.LSTM(**kwargs)


def test_bad_inputs():
    layer = L.GRU(3)
    with pytest.raises(ValueError, match=r"expected shape \(None, None, None\) \(rank 3\), got shape \(2, 4\)"):
        layer(np.zeros((2, 4)))
    layer(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"expected shape \(None, None, 5\) \(rank 3\), got shape \(2, 4, 6\)"):
        layer(np.zeros((2, 4, 6)))
    with pytest.raises(ValueError, match=r"weight 'recurrent_kernel' has shape \(3, 9\).*\(9, 3\)"):
        layer.set_weights([np.zeros((5, 9)), np.zeros((9, 3)), np.zeros((2, 9))])
    with pytest.raises(ValueError, match="expecting 3 weights"):
        layer.set_weights([np.zeros((5, 9))])


def test_config_round_trip():
    for layer in (L.SimpleRNN(3, activation="relu", go_backwards=True), L.LSTM(4, return_sequences=True),
                  L.GRU(2, reset_after=False), L.Bidirectional(L.LSTM(3), merge_mode="sum")):
        config = layer.get_config()
        import json
        again = type(layer).from_config(json.loads(json.dumps(config)))
        assert again.get_config() == json.loads(json.dumps(config))


# ---------------------------------------------------------------- against Keras itself
@pytest.fixture(scope="module")
def keras():
    return need_keras()


KERAS_CASES = [("SimpleRNN", {}), ("SimpleRNN", {"activation": "relu"}), ("LSTM", {}), ("GRU", {}),
               ("GRU", {"reset_after": False})]


# (go_backwards, return_sequences, padding): each option with each other at least once
RUNS = [(False, False, None), (True, True, None), (False, True, "post"), (True, False, "pre"), (False, True, "pre"),
        (True, True, "post"), (False, False, "pre")]


@pytest.mark.parametrize("kind, kw", KERAS_CASES, ids=[k + str(v) for k, v in KERAS_CASES])
@pytest.mark.parametrize("go_backwards, return_sequences, padding", RUNS)
def test_matches_keras(keras, kind, kw, go_backwards, return_sequences, padding):
    dtype = "float32"        # (Keras's float64 recurrent layers round somewhere in float32: 1e-7 off exact)
    x = np.random.default_rng(2).normal(size=(MASK.shape[0], T, F)).astype(dtype)
    mask = None
    if padding is not None:
        lengths = np.array([3, 1, 5, 0])
        t = np.arange(T)
        mask = t < lengths[:, None] if padding == "post" else t >= T - lengths[:, None]
    args = dict(kw, go_backwards=go_backwards, return_sequences=return_sequences, dtype=dtype)
    compare_with_keras(getattr(L, kind)(UNITS, **args), getattr(keras.layers, kind)(UNITS, **args), x, mask)


@pytest.mark.parametrize("merge_mode, kind, masked", [("concat", "LSTM", False), ("sum", "GRU", False),
                                                      ("mul", "LSTM", False), ("ave", "GRU", False),
                                                      ("concat", "GRU", True), ("ave", "LSTM", True)])
def test_bidirectional_matches_keras(keras, merge_mode, kind, masked):
    x = np.random.default_rng(3).normal(size=(MASK.shape[0], T, F)).astype(np.float32)
    ours = L.Bidirectional(getattr(L, kind)(UNITS, return_sequences=True), merge_mode=merge_mode)
    theirs = keras.layers.Bidirectional(getattr(keras.layers, kind)(UNITS, return_sequences=True),
                                        merge_mode=merge_mode)
    compare_with_keras(ours, theirs, x, MASK if masked else None)


def test_configs_have_keras_keys(keras):
    for name, args in [("SimpleRNN", (3,)), ("LSTM", (3,)), ("GRU", (3,))]:
        ours, theirs = getattr(L, name)(*args).get_config(), getattr(keras.layers, name)(*args).get_config()
        assert set(ours) == set(theirs)
        for key in set(ours) - {"name"}:
            assert ours[key] == theirs[key], key


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_embedding_mask_into_recurrent_matches_keras(keras, kind, padding):
    """Embedding(mask_zero=True) -> LSTM/GRU, Keras computing its own mask: outputs and gradients."""
    import torch
    lengths = np.array([2, 5, 1, 3])
    ids_ = np.zeros((4, T), np.int64)
    for row, n in enumerate(lengths):
        tokens = 1 + np.arange(n) % 6
        if padding == "pre":
            ids_[row, T - n:] = tokens
        else:
            ids_[row, :n] = tokens
    pairs = [(L.Embedding(7, F, mask_zero=True), keras.layers.Embedding(7, F, mask_zero=True)),
             (getattr(L, kind)(UNITS, return_sequences=True), getattr(keras.layers, kind)(UNITS, return_sequences=True))]
    shape = (None, T)
    for ours, theirs in pairs:
        theirs.build(shape)
        ours.build(shape)
        ours.set_weights(theirs.get_weights())
        shape = (None, T, F)
    (emb, rnn), (kemb, krnn) = zip(*pairs)
    ym = rnn(emb(ids_), mask=emb.compute_mask(ids_))
    (ym ** 2).sum().backward()
    tids = torch.tensor(ids_)
    yk = krnn(kemb(tids), mask=kemb.compute_mask(tids, None))
    (yk ** 2).sum().backward()
    assert_close_f32(ym.data, yk.detach().numpy(), T + 2, "output")
    for ours, theirs in zip((emb, rnn), (kemb, krnn)):
        assert_grads_match(ours, theirs, T + 2)
