"""minigrad.keras models: Sequential building, fit / evaluate / predict, summary, save / load.

Tiny synthetic data made here; with Keras 3 installed (torch backend) the same model with the same
weights is compared against Keras: the loss of one ``train_on_batch`` with SGD and the weights
after it, to rtol 1e-5 in float32 (a Dense forward/backward is a few float32 dot products of
length <= 8: relative error ~1e-6), and ``summary()``'s parameter counts.
"""
import io
import os
import re
from contextlib import redirect_stdout

import numpy as np
import pytest

import minigrad as mg
from minigrad import keras
from minigrad.keras import layers

from _keras_ref import need_keras

RTOL = 1e-5


def _blobs(n=96, d=4, k=3, seed=0):
    """k well-separated Gaussian blobs in d dimensions: (x float32 (n, d), labels (n,))."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    centers = rng.normal(scale=3.0, size=(k, d))
    return (centers[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def _classifier(d=4, k=3, hidden=8, activation="softmax"):
    mg.manual_seed(0)
    return keras.Sequential([layers.Input((d,)), layers.Dense(hidden, activation="tanh"),
                             layers.Dense(k, activation=activation)])


def test_fit_lowers_the_loss_and_fills_history():
    x, y = _blobs()
    model = _classifier()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y, epochs=8, batch_size=16, verbose=0, validation_split=0.25)
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert h.epoch == list(range(8)) and all(len(v) == 8 for v in h.history.values())
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0] and h.history["accuracy"][-1] > 0.8
    assert model.history is h and model._fused == "softmax"
    # validation is the LAST quarter, unshuffled, evaluated with the final weights
    val = model.evaluate(x[72:], y[72:], verbose=0, return_dict=True)
    np.testing.assert_allclose(h.history["val_loss"][-1], val["loss"], rtol=1e-6)
    assert h.history["val_accuracy"][-1] == pytest.approx(val["accuracy"])


def test_evaluate_equals_a_hand_computation():
    x, y = _blobs(n=37)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, batch_size=5, verbose=0)      # 8 batches, the last of 2
    p = model.predict(x, batch_size=100, verbose=0).astype(np.float64)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(37), y]).mean(), rtol=RTOL)
    assert acc == pytest.approx(np.mean(p.argmax(-1) == y))
    # batch size never changes predictions
    np.testing.assert_allclose(model.predict(x, batch_size=3, verbose=0), p, rtol=1e-6)
    assert model.predict_on_batch(x[:4]).shape == (4, 3)
    assert model.test_on_batch(x[:4], y[:4], return_dict=True).keys() == {"loss", "accuracy"}


def test_fused_softmax_path_is_stable_and_equals_from_logits():
    x, y = _blobs(n=12)
    fused, logits = _classifier(), _classifier(activation=None)
    logits.set_weights(fused.get_weights())
    fused.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    logits.compile(optimizer=keras.optimizers.SGD(0.1),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    np.testing.assert_allclose(fused.train_on_batch(x, y), logits.train_on_batch(x, y), rtol=1e-6)
    for a, b in zip(fused.get_weights(), logits.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # saturated softmax: log(softmax) would be clipped at -log(1e-7) = 16.1; the fused path is exact
    w = fused.get_weights()
    w[-2] = np.array([[1e3, -1e3, 0]] * 8, np.float32)
    fused.set_weights(w)
    xs = np.ones((2, 4), np.float32)
    loss = fused.test_on_batch(xs, np.array([1, 1]))
    assert loss > 100 and np.isfinite(loss)


def test_regression_with_mse_and_mae_metric():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3).astype(np.float32)        # (N,): Keras expands to (N, 1)
    mg.manual_seed(0)
    model = keras.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    h = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 1e-3 and set(h.history) == {"loss", "mae"}
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[:, 0], [1.0, -2.0, 0.5], atol=0.02)


def test_progress_lines(capsys):
    x, y = _blobs(n=40)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, validation_data=(x[:8], y[:8]))
    lines = capsys.readouterr().out.splitlines()            # captured stdout is not a tty: final lines only
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    num = r"\d+\.\d{4}(e-\d+)?"
    pattern = (rf"3/3 \[==============================\] - \d+s \d+(s|ms|us)/step - loss: {num} - "
               rf"accuracy: {num} - val_loss: {num} - val_accuracy: {num}")
    assert re.fullmatch(pattern, lines[1]), lines[1]
    model.fit(x, y, epochs=1, batch_size=16, verbose=2)
    line = capsys.readouterr().out.splitlines()[1]
    assert re.fullmatch(rf"3/3 - \d+s - loss: {num} - accuracy: {num} - \d+s/epoch - \d+(s|ms|us)/step", line), line
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_redraws_on_a_terminal():
    from minigrad.keras.callbacks import Progbar

    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    bar = Progbar(4, stream=out)
    for i in range(1, 5):
        bar.update(i, [("loss", 0.5)])
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n")
    assert "1/4 [======>.......................] - ETA: " in text
    assert "4/4 [==============================] - 0s" in text


def test_summary_table_and_counts():
    model = _classifier()
    buf = io.StringIO()
    with redirect_stdout(buf):
        model.summary()
    text = buf.getvalue()
    assert f'Model: "{model.name}"' in text and "Layer (type)" in text and "Output Shape" in text
    d1, d2 = model.layers
    assert re.search(rf"{d1.name} \(Dense\)\s+\(None, 8\)\s+40\b", text)
    assert re.search(rf"{d2.name} \(Dense\)\s+\(None, 3\)\s+27\b", text)
    assert "Total params: 67" in text and "Trainable params: 67" in text and "Non-trainable params: 0" in text
    assert model.count_params() == 67


def test_summary_counts_equal_keras():
    k = need_keras()
    model = _classifier(d=5, hidden=7)
    ref = k.Sequential([k.Input((5,)), k.layers.Dense(7, activation="tanh"), k.layers.Dense(3, activation="softmax")])
    assert model.count_params() == ref.count_params()
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in ref.get_weights()]


@pytest.mark.parametrize("loss,activation", [("sparse_categorical_crossentropy", "softmax"),
                                             ("categorical_crossentropy", "softmax"),
                                             ("binary_crossentropy", "sigmoid"), ("mse", None), ("mae", None)])
def test_train_on_batch_equals_keras(loss, activation):
    k = need_keras()
    x, labels = _blobs(n=10)
    y = {"sparse_categorical_crossentropy": labels, "categorical_crossentropy": np.eye(3, dtype=np.float32)[labels],
         "binary_crossentropy": (x[:, :3] > 0).astype(np.float32)}.get(loss, x[:, :3] * 0.5)
    model = _classifier(activation=activation)
    ref = k.Sequential([k.Input((4,)), k.layers.Dense(8, activation="tanh"), k.layers.Dense(3, activation=activation)])
    ref.set_weights(model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
    ref.compile(optimizer=k.optimizers.SGD(0.5), loss=loss)
    np.testing.assert_allclose(model.train_on_batch(x, y), float(ref.train_on_batch(x, y)), rtol=RTOL)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, k.ops.convert_to_numpy(b), rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=RTOL, atol=1e-6)


def test_save_and_load_model_round_trip(tmp_path):
    x, y = _blobs(n=20)
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]               # no temporary left behind
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.compiled and type(loaded.optimizer).__name__ == "Adam"
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    loaded.fit(x, y, epochs=1, verbose=0)                          # trains again
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)
    (tmp_path / "bad.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a .keras file"):
        keras.models.load_model(tmp_path / "bad.keras")


def test_save_and_load_weights(tmp_path):
    model, other = _classifier(), _classifier(hidden=8)
    other.set_weights([w + 1 for w in other.get_weights()])
    model.save_weights(tmp_path / "w.weights.npz")
    other.load_weights(tmp_path / "w.weights.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="HDF5"):
        model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="expects a weight of shape"):
        _classifier(hidden=5).load_weights(tmp_path / "w.weights.npz")


def test_sequential_add_pop_and_build_on_first_data():
    model = keras.Sequential(name="stack")
    model.add(layers.Dense(6, activation="relu"))
    model.add(layers.Dense(2))
    assert not model.built
    out = model.predict(np.zeros((3, 5), np.float32), verbose=0)
    assert out.shape == (3, 2) and model.built and model.output_shape == (None, 2)
    assert model.pop().units == 2 and len(model.layers) == 1
    with pytest.raises(TypeError, match="Only instances of `keras.Layer`"):
        model.add("dense")


def test_wrong_shapes_between_layers_fail_at_build_naming_both():
    first = layers.Dense(4)
    first.build((None, 7))                                   # built for 7 features
    with pytest.raises(ValueError) as e:
        keras.Sequential([layers.Input((5,)), first])
    msg = str(e.value)
    assert first.name in msg and "(None, 5)" in msg and "the model's input" in msg
    d = layers.Dense(3)
    d.build((None, 9))
    with pytest.raises(ValueError, match=rf"layer '{d.name}' \(Dense\) cannot take the output of layer"):
        keras.Sequential([layers.Input((5,)), layers.Dense(4), d])


def test_sequence_output_against_per_sample_labels_is_rejected():
    """Seed 000 as printed: the output keeps the time axis; fit must refuse before training."""
    x = np.zeros((6, 5, 3), np.float32)
    model = keras.Sequential([layers.Input((5, 3)), layers.Dense(4), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"targets of shape \(6,\) do not match the model.s output of shape \(6, 5, 2\)"):
        model.fit(x, np.zeros(6, int), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    if not hasattr(layers, "SimpleRNN"):
        pytest.skip("keras.layers.SimpleRNN is not available on this branch yet")
    rnn = keras.Sequential([layers.Input((5, 3)), layers.SimpleRNN(4, return_sequences=True),
                            layers.SimpleRNN(4, return_sequences=True), layers.Dense(2, activation="softmax")])
    rnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=rf"layer '{rnn.layers[1].name}' \(SimpleRNN\) has return_sequences=True: "
                                         r"set return_sequences=False on the last recurrent layer"):
        rnn.fit(x, np.zeros(6, int), verbose=0)


def test_dropout_is_off_outside_training():
    mg.manual_seed(0)
    model = keras.Sequential([layers.Input((4,)), layers.Dense(16), layers.Dropout(0.5), layers.Dense(2)])
    x = np.ones((5, 4), np.float32)
    a, b = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(a, b)
    kernel1, bias1, kernel2, bias2 = model.get_weights()
    np.testing.assert_allclose(a, (x @ kernel1 + bias1) @ kernel2 + bias2, rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise_clearly():
    model = _classifier()
    x, y = _blobs(n=8)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    with pytest.raises(NotImplementedError, match="loss_weights"):
        model.compile(optimizer="adam", loss="mse", loss_weights=[1.0])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="x and y are both required"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, y[:5], verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="ragged.*pad_sequences"):
        model.predict([[1.0, 2.0], [3.0]], verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(x, y, steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose=3)
    with pytest.raises(NotImplementedError, match="functional API"):
        keras.Model(inputs=None, outputs=None)


def test_steps_per_epoch_and_initial_epoch():
    x, y = _blobs(n=20)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    h = model.fit(x, y, batch_size=8, epochs=3, initial_epoch=1, steps_per_epoch=5, callbacks=[cb], verbose=0)
    assert h.epoch == [1, 2] and seen == list(range(5)) * 2
    assert model.optimizer.iterations == 10


def test_subclassed_model_trains_and_summarises():
    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__(name="two")
            self.hidden = layers.Dense(8, activation="tanh")
            self.out = layers.Dense(3)

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    mg.manual_seed(0)
    x, y = _blobs(n=32)
    model = TwoLayers()
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    h = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0] and len(model.weights) == 4
    lines = []
    model.summary(print_fn=lines.append)
    assert any(re.search(r"dense\S* \(Dense\)\s+\?\s+40", line) for line in lines)
    assert "Total params: 67" in lines


def test_embedding_mask_reaches_the_recurrent_layer():
    """Sequential passes Embedding(mask_zero=True)'s mask on: pre-padding changes no prediction."""
    if not hasattr(layers, "LSTM"):
        pytest.skip("keras.layers.LSTM is not available on this branch yet")
    mg.manual_seed(0)
    model = keras.Sequential([layers.Embedding(20, 6, mask_zero=True), layers.LSTM(5),
                              layers.Dense(1, activation="sigmoid")])
    seqs = np.array([[3, 7, 9, 2], [5, 1, 4, 8]])
    padded = np.concatenate([np.zeros((2, 3), seqs.dtype), seqs], axis=1)
    np.testing.assert_allclose(model.predict(padded, verbose=0), model.predict(seqs, verbose=0), rtol=1e-6)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    h = model.fit(padded, np.array([0, 1]), epochs=2, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_model_train_on_batch_equals_keras(cell):
    """The tutorials' shape of model: (N, T, F) -> recurrent layer -> Dense softmax; one SGD step."""
    k = need_keras()
    if not hasattr(layers, cell):
        pytest.skip(f"keras.layers.{cell} is not available on this branch yet")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 5, 3)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    mg.manual_seed(0)
    model = keras.Sequential([layers.Input((5, 3)), getattr(layers, cell)(7), layers.Dense(4, activation="softmax")])
    ref = k.Sequential([k.Input((5, 3)), getattr(k.layers, cell)(7), k.layers.Dense(4, activation="softmax")])
    assert model.count_params() == ref.count_params()
    ref.set_weights(model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ref.compile(optimizer=k.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ours, theirs = model.train_on_batch(x, y), ref.train_on_batch(x, y)
    np.testing.assert_allclose(ours, [float(v) for v in theirs], rtol=RTOL)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, k.ops.convert_to_numpy(b), rtol=RTOL, atol=1e-6)


def test_fit_with_no_epoch_left_still_returns_a_history():
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = _blobs(n=8)
    h = model.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert isinstance(h, keras.callbacks.History) and h.history == {} and model.history is h


def test_save_is_atomic(tmp_path, monkeypatch):
    """A save that fails midway leaves the previous file whole and no temporary behind."""
    import zipfile
    model = _classifier()
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def broken(self, name, data, *args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.keras"]


def test_save_and_load_recurrent_model(tmp_path):
    """Nested layer configs (Bidirectional around an LSTM) and an Embedding mask survive save/load."""
    if not hasattr(layers, "Bidirectional"):
        pytest.skip("keras.layers.Bidirectional is not available on this branch yet")
    mg.manual_seed(0)
    model = keras.Sequential([layers.Input((6,), dtype="int32"), layers.Embedding(30, 4, mask_zero=True),
                              layers.Bidirectional(layers.LSTM(3)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(1, 30, (8, 6))
    x[:4, :2] = 0
    model.fit(x, np.arange(8) % 2, epochs=1, verbose=0)
    model.save(tmp_path / "rnn.keras")
    loaded = keras.models.load_model(tmp_path / "rnn.keras")
    assert [type(l).__name__ for l in loaded.layers] == ["Embedding", "Bidirectional", "Dense"]
    assert loaded.count_params() == model.count_params()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.optimizer).__name__ == "RMSprop"
