"""The training loop behind ``Model.fit`` / ``evaluate`` / ``predict`` / ``train_on_batch``.

Data are NumPy arrays (batch axis first); a batch is ``x[indices]`` (one NumPy gather per batch,
no Python work per sample). Each step:

    out  = model(x_batch, training=True)              # pre-activation z when the loss is fused
    loss = loss_fn(y_batch, out)                      # or loss_fn.from_pre_activation(y_batch, z)
    loss.backward();  optimizer.apply(weights)         # gradients cleared before the next step

The loss and metrics shown are running means over the epoch's samples (Keras's trackers).
Validation and prediction run with ``training=False`` (Dropout off) under ``mg.no_grad()``.
``validation_split`` takes the LAST fraction of the arrays, before any shuffling, as Keras does.
"""
import math
import numbers

import numpy as np

from .. import functional as F
from ..grad_mode import no_grad
from ..random import default_generator
from . import metrics as metrics_mod
from .callbacks import CallbackList

__all__ = ["fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch"]


def _verbose(verbose, where):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"{where}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return verbose


def _array(a, what, where):
    if a is None:
        return None
    if isinstance(a, dict):
        raise TypeError(f"{where}: {what} must be a single NumPy array (models with several named inputs "
                        "or outputs are not supported by minigrad.keras)")
    try:
        a = np.asarray(getattr(a, "data", a))
    except ValueError:
        raise ValueError(f"{where}: {what} is ragged (sequences of different lengths): pad them to one "
                         "length first, e.g. with keras.utils.pad_sequences") from None
    if a.ndim == 0:
        raise ValueError(f"{where}: {what} must have a batch axis, got a scalar")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {what} must be numeric, got dtype {a.dtype}")
    return a


def _check_pair(x, y, where):
    if x is None or y is None:
        raise ValueError(f"{where}: x and y are both required (minigrad.keras takes NumPy arrays, not "
                         "datasets or generators)")
    if len(x) != len(y):
        raise ValueError(f"{where}: x and y must have the same number of samples, got x of shape {x.shape} "
                         f"and y of shape {y.shape}")


def _batch_size(batch_size, where):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def _dataset(x, y, batch_size, where):
    """(x, y, batch_size) of fit / evaluate, checked: numeric arrays of as many samples, not empty."""
    x, y = _array(x, "x", where), _array(y, "y", where)
    _check_pair(x, y, where)
    if len(x) == 0:
        raise ValueError(f"{where}: x is empty (0 samples)")
    return x, y, _batch_size(batch_size, where)


def _batches(n, batch_size, order=None):
    """Index arrays (or slices when ``order`` is None) of consecutive batches."""
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        yield slice(start, stop) if order is None else order[start:stop]


def _probabilities(model, out):
    """The model's real output from what the step computed (the activation the loss folded in)."""
    if model._fused is None:
        return out.data
    with no_grad():
        t = out.detach()
        return (F.softmax(t, axis=-1) if model._fused == "softmax" else t.sigmoid()).data


def _step_loss(model, x, y, training):
    out = model._forward(x, training=training, logits=model._fused is not None)
    loss = model.loss_fn.from_pre_activation(y, out) if model._fused else model.loss_fn(y, out)
    return loss, out


def _init_metrics(model, y, out_shape):
    """Resolve the compiled metric names against the first batch (what 'accuracy' means)."""
    if model._metrics is None:
        model._metrics = [metrics_mod.get(m, model.loss_fn.name, np.shape(y), out_shape)
                          for m in model._metric_ids]
    for m in model._metrics:
        m.reset_state()


def _update(model, tracker, y, out, loss, n):
    tracker.update_state(float(loss.item()), sample_weight=n)
    if model._metrics:                  # the probabilities only when a metric reads them
        pred = _probabilities(model, out)
        for m in model._metrics:
            m.update_state(y, pred)


def _logs(model, tracker):
    logs = {"loss": tracker.result()}
    for m in model._metrics:
        logs[m.name] = m.result()
    return logs


def train_on_batch(model, x, y, return_dict=False):
    """One optimizer step on (x, y); returns the batch's loss (and metrics) as Keras."""
    model._require_compiled("train_on_batch")
    x, y = _array(x, "x", "train_on_batch"), _array(y, "y", "train_on_batch")
    _check_pair(x, y, "train_on_batch")
    tracker = metrics_mod.Mean(name="loss")
    logs = _train_step(model, x, y, tracker)
    return _result(logs, return_dict)


def _train_step(model, x, y, tracker, first=True):
    weights = model.trainable_weights
    loss, out = _step_loss(model, x, y, training=True)
    if first:
        _init_metrics(model, y, tuple(out.shape))
    for p in weights:
        p.grad = None
    loss.backward()
    model.optimizer.apply(weights)
    _update(model, tracker, y, out, loss, len(x))
    return _logs(model, tracker)


def _result(logs, return_dict):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def test_on_batch(model, x, y, return_dict=False):
    """The loss (and metrics) of one batch, without training."""
    model._require_compiled("test_on_batch")
    x, y = _array(x, "x", "test_on_batch"), _array(y, "y", "test_on_batch")
    _check_pair(x, y, "test_on_batch")
    return _result(_evaluate_arrays(model, x, y, len(x), None), return_dict)


def predict_on_batch(model, x):
    """The model's output for one batch (a NumPy array)."""
    x = _array(x, "x", "predict_on_batch")
    with no_grad():
        return model._forward(x, training=False).data


def _evaluate_arrays(model, x, y, batch_size, callbacks):
    tracker = metrics_mod.Mean(name="loss")
    with no_grad():
        for i, sl in enumerate(_batches(len(x), batch_size)):
            if callbacks is not None:
                callbacks.on_test_batch_begin(i)
            xb, yb = x[sl], y[sl]
            loss, out = _step_loss(model, xb, yb, training=False)
            if i == 0:
                _init_metrics(model, yb, tuple(out.shape))
            _update(model, tracker, yb, out, loss, len(xb))
            if callbacks is not None:
                callbacks.on_test_batch_end(i, _logs(model, tracker))
    return _logs(model, tracker)


def evaluate(model, x, y, batch_size=None, verbose="auto", callbacks=None, return_dict=False, steps=None):
    """The mean loss (and metrics) over (x, y): a number, a list ``[loss, metric, ...]`` or a dict."""
    model._require_compiled("evaluate")
    x, y, batch_size = _dataset(x, y, batch_size, "evaluate")
    if steps is not None:
        x, y = x[: steps * batch_size], y[: steps * batch_size]
    cbs = CallbackList(callbacks, model=model, add_progbar=_verbose(verbose, "evaluate") > 0,
                       verbose=_verbose(verbose, "evaluate"), steps=math.ceil(len(x) / batch_size), mode="test")
    cbs.on_test_begin()
    logs = _evaluate_arrays(model, x, y, batch_size, cbs)
    cbs.on_test_end(logs)
    return _result(logs, return_dict)


def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """The model's outputs for x, batch by batch, concatenated (a NumPy array)."""
    x = _array(x, "x", "predict")
    batch_size = _batch_size(batch_size, "predict")
    if steps is not None:
        x = x[: steps * batch_size]
    v = _verbose(verbose, "predict")
    cbs = CallbackList(callbacks, model=model, add_progbar=v > 0, verbose=v,
                       steps=math.ceil(len(x) / batch_size), mode="predict")
    cbs.on_predict_begin()
    outs = []
    with no_grad():
        for i, sl in enumerate(_batches(len(x), batch_size)):
            cbs.on_predict_batch_begin(i)
            outs.append(model._forward(x[sl], training=False).data)
            cbs.on_predict_batch_end(i, {"outputs": outs[-1]})
    cbs.on_predict_end()
    if not outs:
        raise ValueError("predict: x is empty (0 samples)")
    return np.concatenate(outs, axis=0)


def _split(x, y, validation_split, validation_data):
    """(x, y, validation pair or None): the last ``validation_split`` of the data, unshuffled."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val), got "
                             f"{type(validation_data).__name__}")
        if len(validation_data) == 3:
            raise NotImplementedError("fit: validation sample weights are not supported")
        xv, yv = (_array(a, name, "fit") for a, name in zip(validation_data, ("x_val", "y_val")))
        _check_pair(xv, yv, "fit (validation_data)")
        return x, y, (xv, yv)
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
    if validation_split == 0:
        return x, y, None
    split_at = int(math.floor(len(x) * (1.0 - validation_split)))
    if split_at == 0 or split_at == len(x):
        raise ValueError(f"fit: validation_split={validation_split} leaves no training or no validation "
                         f"sample out of {len(x)}")
    return x[:split_at], y[:split_at], (x[split_at:], y[split_at:])


def fit(model, x, y, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
        validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None):
    """Keras's ``fit`` on NumPy arrays; returns the History (see the module docstring)."""
    model._require_compiled("fit")
    x, y, batch_size = _dataset(x, y, batch_size, "fit")
    for name, v in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"fit: {name} must be a non-negative integer, got {v!r}")
    verbose = _verbose(verbose, "fit")
    x, y, val = _split(x, y, validation_split, validation_data)
    n = len(x)
    if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or not isinstance(
            steps_per_epoch, numbers.Integral) or steps_per_epoch < 1):
        raise ValueError(f"fit: steps_per_epoch must be a positive integer or None, got {steps_per_epoch!r}")
    steps = math.ceil(n / batch_size) if steps_per_epoch is None else int(steps_per_epoch)
    cbs = CallbackList(callbacks, model=model, add_history=True, add_progbar=verbose > 0,
                       verbose=verbose, epochs=epochs, steps=steps, batch_size=batch_size, mode="train")
    model._check_targets(x[:batch_size], y[:batch_size])   # the clear shape error before any training
    model.stop_training = False
    rng = default_generator()
    cursor = 0                              # steps_per_epoch: where the next epoch's batches start
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        order = rng.permutation(n) if shuffle else np.arange(n)
        if steps_per_epoch is not None:     # cycle through the data, continuing across epochs
            order = np.resize(np.roll(order, -cursor), steps * batch_size)
            cursor = (cursor + steps * batch_size) % n
        tracker = metrics_mod.Mean(name="loss")
        logs = {}
        for i, idx in enumerate(_batches(len(order), batch_size, order)):
            cbs.on_train_batch_begin(i)
            logs = _train_step(model, x[idx], y[idx], tracker, first=(i == 0))
            cbs.on_train_batch_end(i, logs)
            if model.stop_training:
                break
        logs = dict(logs)
        if val is not None:
            vb = _batch_size(validation_batch_size or batch_size, "fit")
            cbs.on_test_begin()
            val_logs = _evaluate_arrays(model, val[0], val[1], vb, cbs)
            cbs.on_test_end(val_logs)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end(logs if epochs > initial_epoch else {})
    return model.history
