"""Keras's callbacks: the hooks ``fit`` / ``evaluate`` / ``predict`` call, and the standard ones.

``Callback`` has Keras's hook names (``on_train_begin``, ``on_epoch_end(epoch, logs)``,
``on_train_batch_end(batch, logs)``, ``on_test_*``, ``on_predict_*``; ``on_batch_*`` are the
train-batch aliases), ``set_model`` / ``set_params`` and ``self.model``; ``CallbackList`` calls a
list of them in order. ``History`` (always added by ``fit``) collects each epoch's logs.
``ProgbarLogger`` prints Keras's progress line (``verbose=1``: the bar, redrawn in place on a
terminal and printed once per epoch otherwise; ``verbose=2``: one line per epoch).

``LearningRateScheduler`` sets the rate per epoch from a function (per step: a schedule object on
the optimizer, ``keras.optimizers.schedules``). Monitoring callbacks (EarlyStopping,
ModelCheckpoint, ReduceLROnPlateau) pick the direction from
``mode``; ``'auto'`` means max for names containing 'acc' (accuracy) and min otherwise, as Keras.
``TensorBoard`` and ``CSVLogger``/``ModelCheckpoint`` writing files are in ``callbacks_io.py``
and re-exported here.
"""
import inspect
import sys
import time
import warnings

import numpy as np

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "Progbar", "EarlyStopping",
           "ReduceLROnPlateau", "LearningRateScheduler", "LambdaCallback", "TerminateOnNaN", "ModelCheckpoint", "CSVLogger",
           "TensorBoard"]


class Callback:
    """Base class; every hook does nothing. ``self.model`` and ``self.params`` are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs)
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList(Callback):
    """Calls each hook on every callback in order (``CallbackList(callbacks, model=, **params)``)."""

    def __init__(self, callbacks=None, model=None, add_history=False, add_progbar=False, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances, got {type(cb).__name__}")
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)


def _dispatch(name):
    def hook(self, *args):
        for cb in self.callbacks:
            getattr(cb, name)(*args)
    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, _dispatch(_name))


class History(Callback):
    """``history.history``: {metric name: [value per epoch]}; ``history.epoch``: the epoch indices."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


# ------------------------------------------------------------------ progress
def _format_value(v):
    """Keras 2's number format: 4 decimals, scientific for |v| <= 1e-3."""
    v = float(v)
    return f" {v:.4f}" if abs(v) > 1e-3 else f" {v:.4e}"


def _format_time(seconds, unit):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


class Progbar:
    """Keras 2's progress bar: ``update(current, values, finalize=False)`` with ``values`` a list of
    (name, value) pairs (the running means already). ``verbose=1`` draws the bar, ``verbose=2``
    prints a single line when finalised. On a non-terminal stream only the final line is printed."""

    def __init__(self, target, width=30, verbose=1, unit_name="step", stream=None):
        self.target, self.width, self.verbose, self.unit_name = target, width, verbose, unit_name
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self._dynamic = bool(isatty and isatty())
        self._start = time.time()
        self._last_len = 0

    def _bar(self, current):
        if self.target is None:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        bar = f"{current:{digits}d}/{self.target} ["
        filled = int(self.width * current / self.target) if self.target else self.width
        if filled > 0:
            bar += "=" * (filled - 1) + (">" if current < self.target else "=")
        return bar + "." * (self.width - filled) + "]"

    def update(self, current, values=(), finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if self.verbose == 0 or (not finalize and not (self.verbose == 1 and self._dynamic)):
            return
        now = time.time()
        elapsed = now - self._start
        per_unit = elapsed / current if current else 0.0
        metrics = "".join(f" - {k}:{_format_value(v)}" for k, v in values)
        if self.verbose == 1:
            line = self._bar(current)
            if finalize:
                line += f" - {elapsed:.0f}s {_format_time(per_unit, self.unit_name)}"
            elif self.target is not None:
                line += f" - ETA: {per_unit * (self.target - current):.0f}s"
            line += metrics
            if self._dynamic:
                pad = max(self._last_len - len(line), 0)
                self.stream.write("\r" + line + " " * pad)
                self._last_len = len(line)
            else:
                self.stream.write(line)
        else:       # verbose 2: "469/469 - 4s - loss: ... - 4s/epoch - 9ms/step"
            line = f"{current}/{self.target} - {elapsed:.0f}s{metrics} - {elapsed:.0f}s/epoch - " \
                   f"{_format_time(per_unit, self.unit_name)}"
            self.stream.write(line)
        if finalize:
            self.stream.write("\n")
        self.stream.flush()


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and the progress line of each epoch (``params['verbose']`` 1 or 2)."""

    def __init__(self):
        super().__init__()
        self._bar = None

    def _verbose(self):
        return self.params.get("verbose", 1)

    def on_epoch_begin(self, epoch, logs=None):
        if self._verbose() and self.params.get("epochs"):
            sys.stdout.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
        self._bar = Progbar(self.params.get("steps"), verbose=self._verbose())

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.update(self.params.get("steps"), list((logs or {}).items()), finalize=True)
            self._bar = None

    def on_test_begin(self, logs=None):
        if self.params.get("mode") == "test":          # evaluate(): a bar of its own
            self._bar = Progbar(self.params.get("steps"), verbose=self._verbose())

    def on_test_batch_end(self, batch, logs=None):
        if self.params.get("mode") == "test":
            self.on_train_batch_end(batch, logs)

    def on_test_end(self, logs=None):
        if self.params.get("mode") == "test":
            self.on_epoch_end(0, logs)

    def on_predict_begin(self, logs=None):
        self._bar = Progbar(self.params.get("steps"), verbose=self._verbose())

    def on_predict_batch_end(self, batch, logs=None):
        self.on_train_batch_end(batch, None)

    def on_predict_end(self, logs=None):
        self.on_epoch_end(0, None)


# ------------------------------------------------------------------ monitors
def monitor_op(monitor, mode, owner):
    """``np.greater`` or ``np.less`` for ``mode`` ('min' / 'max' / 'auto')."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode {mode!r} is unknown, fallback to auto mode.", stacklevel=3)
        mode = "auto"
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return np.greater if mode == "max" else np.less


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (Keras 3's rules: ``baseline``, ``start_from_epoch``, ``restore_best_weights`` restoring
    the best epoch's weights at the end of training)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.monitor_op = monitor_op(monitor, mode, "EarlyStopping")
        self.min_delta = abs(min_delta) * (1 if self.monitor_op == np.greater else -1)
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = None
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best, self.best_weights = None, None

    def _is_improvement(self, value, reference):
        return reference is None or bool(self.monitor_op(value - self.min_delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()     # no improvement ever: restore the first
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate by ``factor`` when ``monitor`` has not improved by more
    than ``min_delta`` for ``patience`` epochs; then wait ``cooldown`` epochs; never below ``min_lr``."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), float(min_lr)
        self.mode = mode
        self._reset()

    def _reset(self):
        op = monitor_op(self.monitor, self.mode, "ReduceLROnPlateau")
        if op == np.less:
            self.monitor_op, self.best = (lambda a, b: a < b - self.min_delta), np.inf
        else:
            self.monitor_op, self.best = (lambda a, b: a > b + self.min_delta), -np.inf
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch's start to ``schedule(epoch, lr)`` (``epoch`` from 0,
    ``lr`` the current rate; a one-argument ``schedule(epoch)`` works too, as in Keras). The value must be
    a float; each epoch's rate goes into the logs as ``learning_rate``. For a rate that moves every step,
    give the optimizer a ``keras.optimizers.schedules`` object instead."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr, got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = _positional_arity(schedule) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = self.schedule(epoch, float(optimizer.learning_rate)) if self._takes_lr else self.schedule(epoch)
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr!r}")
        optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _positional_arity(fn):
    """How many positional arguments ``fn`` accepts (a large number for ``*args``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):     # a builtin without a signature: assume Keras's new API
        return 2
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class LambdaCallback(Callback):
    """Callbacks from functions: ``on_epoch_begin(epoch, logs)``, ``on_epoch_end``, ``on_train_batch_begin``,
    ``on_train_batch_end``, ``on_train_begin(logs)``, ``on_train_end`` (Keras's names; others too)."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r} (known: {', '.join(_HOOKS)})")
            setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


from .callbacks_io import CSVLogger, ModelCheckpoint, TensorBoard  # noqa: E402  (they subclass Callback)
