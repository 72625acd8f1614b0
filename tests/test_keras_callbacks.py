"""minigrad.keras callbacks: hook order, History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau,
CSVLogger, TensorBoard (read back with TensorBoard's EventAccumulator; skipped without tensorboard).

The monitoring callbacks are driven by scripted logs where the rules matter (which epoch stops,
which weights are restored), and by a real tiny fit where they must work with the loop.
"""
import csv
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import keras
from minigrad.keras import callbacks, layers


def _model():
    mg.manual_seed(0)
    model = keras.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


def _data(n=16):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, :2] * 2).astype(np.float32)


def _drive(cb, model, values, key="val_loss"):
    """Run ``cb`` over scripted epoch logs; each epoch first sets the model's weights to [epoch]."""
    cb.set_model(model)
    cb.on_train_begin()
    epochs = []
    for epoch, v in enumerate(values):
        model.set_weights([np.full_like(w, epoch) for w in model.get_weights()])
        cb.on_epoch_end(epoch, {key: v})
        epochs.append(epoch)
        if model.stop_training:
            break
    cb.on_train_end()
    return epochs


def test_hook_order_in_fit():
    seen = []

    class Recorder(callbacks.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
                seen.append(name)
            return object.__getattribute__(self, name)

    model = _model()
    x, y = _data(8)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, validation_data=(x, y), callbacks=[Recorder()])
    # validation (8 samples in batches of 4, fit's batch size) runs the test hooks, as Keras's does
    epoch = (["on_epoch_begin"] + ["on_train_batch_begin", "on_train_batch_end"] * 2 + ["on_test_begin"]
             + ["on_test_batch_begin", "on_test_batch_end"] * 2 + ["on_test_end", "on_epoch_end"])
    assert seen == ["on_train_begin"] + epoch * 2 + ["on_train_end"]


@pytest.mark.parametrize("restore", [False, True])
def test_early_stopping_patience_and_restore(restore, capsys):
    model = _model()
    model.stop_training = False
    cb = callbacks.EarlyStopping(patience=2, restore_best_weights=restore, verbose=1)
    epochs = _drive(cb, model, [1.0, 0.5, 0.6, 0.7, 0.1])
    assert epochs == [0, 1, 2, 3] and cb.stopped_epoch == 3 and cb.best == 0.5 and cb.best_epoch == 1
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    expected = 1 if restore else 3                    # weights of the best epoch, or the last one
    assert all((w == expected).all() for w in model.get_weights())
    assert ("Restoring model weights from the end of the best epoch: 2." in out) == restore


def test_early_stopping_min_delta_mode_baseline_start():
    model = _model()
    model.stop_training = False
    cb = callbacks.EarlyStopping(monitor="val_acc", min_delta=0.1, patience=1)
    assert _drive(cb, model, [0.5, 0.55, 0.9], key="val_acc") == [0, 1]     # +0.05 is no improvement
    model.stop_training = False
    cb = callbacks.EarlyStopping(patience=2, baseline=0.2)
    assert _drive(cb, model, [0.5, 0.6, 0.7]) == [0, 1]        # the first epoch missed the baseline: no reset
    model.stop_training = False
    cb = callbacks.EarlyStopping(patience=2)
    assert _drive(cb, model, [0.5, 0.6, 0.7]) == [0, 1, 2]
    model.stop_training = False
    cb = callbacks.EarlyStopping(patience=0, start_from_epoch=2)
    assert _drive(cb, model, [0.1, 0.9, 0.9, 0.95]) == [0, 1, 2, 3]


def test_early_stopping_in_fit_stops_training():
    model = _model()
    x, y = _data()
    cb = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
    h = model.fit(x, y, epochs=10, verbose=0, callbacks=[cb])
    assert h.epoch == [0, 1] and cb.stopped_epoch == 1 and model.stop_training


def test_reduce_lr_on_plateau():
    model = _model()
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.0126, verbose=0)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": v}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == pytest.approx(lrs[-1] if epoch == 0 else lrs[-2])
    # 0.05 -> 0.025 at epoch 1; cooldown 2 (its last epoch, 3, counts towards patience again, as
    # Keras); 0.0126 (min_lr, not 0.0125) at epoch 3, then it stays
    assert lrs == pytest.approx([0.05, 0.025, 0.025, 0.0126, 0.0126, 0.0126])
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_changes_the_optimizer_in_fit():
    model = _model()
    x, y = _data()
    h = model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[callbacks.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=0, min_delta=10.0)])
    # the logs carry the rate the epoch trained with (before this epoch's reduction), as Keras
    assert h.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.005])
    assert model.optimizer.learning_rate == pytest.approx(5e-4)


def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    model = _model()
    x, y = _data()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{loss:.2f}.keras")
    h = model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(pattern, monitor="loss")])
    names = sorted(os.listdir(tmp_path))
    assert names == [f"ckpt-{e + 1:02d}-{h.history['loss'][e]:.2f}.keras" for e in range(2)]
    loaded = keras.models.load_model(tmp_path / names[-1])
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    best = _model()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "best.weights.npz"), save_best_only=True, save_weights_only=True)
    cb.set_model(best)
    saved = []
    for epoch, v in enumerate([0.5, 0.7, 0.4]):
        best.set_weights([np.full_like(w, epoch) for w in best.get_weights()])
        cb.on_epoch_end(epoch, {"val_loss": v})
        other = _model()
        other.load_weights(tmp_path / "best.weights.npz")
        saved.append(int(other.get_weights()[0].flat[0]))
    assert saved == [0, 0, 2]                         # epoch 1 (0.7) did not improve on 0.5
    with pytest.raises(ValueError, match=".keras"):
        callbacks.ModelCheckpoint(str(tmp_path / "m.h5"))
    with pytest.raises(KeyError, match="val_acc"):
        cb = callbacks.ModelCheckpoint(str(tmp_path / "{val_acc}.keras"))
        cb.set_model(best)
        cb.on_epoch_end(0, {"loss": 1.0})


def test_csv_logger_rows_and_append(tmp_path):
    path = tmp_path / "log.csv"
    model = _model()
    x, y = _data()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    h = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "0"]
    np.testing.assert_allclose([float(v) for v in rows[2][1:]],
                               [h.history[k][1] for k in rows[0][1:]], rtol=1e-12)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=";")])
    assert open(path).read().splitlines()[0] == "epoch;loss;mae"      # append=False starts afresh


def test_tensorboard_callback_writes_epoch_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    model = _model()
    x, y = _data()
    h = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                  callbacks=[callbacks.TensorBoard(log_dir=tmp_path, histogram_freq=1, update_freq="batch")])
    train = EventAccumulator(str(tmp_path / "train"))
    train.Reload()
    val = EventAccumulator(str(tmp_path / "validation"))
    val.Reload()
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in loss], h.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], h.history["val_loss"], rtol=1e-6)
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == pytest.approx([0.05] * 3)
    assert len(train.Scalars("batch_loss")) == 3 * 1          # 12 training samples: one batch per epoch
    assert len(train.Tags()["histograms"]) == 2


def test_lambda_callback_and_terminate_on_nan():
    model = _model()
    x, y = _data()
    ends = []
    h = model.fit(x, y, epochs=2, verbose=0,
                  callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(e))])
    assert ends == [0, 1] and len(h.history["loss"]) == 2
    with pytest.raises(TypeError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_finish=print)
    y_bad = y.copy()
    y_bad[0, 0] = np.nan
    h = model.fit(x, y_bad, epochs=3, batch_size=4, verbose=0, shuffle=False,
                  callbacks=[callbacks.TerminateOnNaN()])
    assert len(h.epoch) == 1
