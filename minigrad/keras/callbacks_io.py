"""The callbacks that write files: ``ModelCheckpoint``, ``CSVLogger``, ``TensorBoard`` (imported by callbacks.py).

``ModelCheckpoint`` formats ``filepath`` with the epoch (1-based) and the epoch's logs
(``'ckpt-{epoch:02d}-{val_loss:.2f}.keras'``) and writes through ``model.save`` /
``model.save_weights``, which write atomically. ``TensorBoard`` writes ``epoch_<metric>`` scalars
(and ``batch_<metric>`` with ``update_freq='batch'`` or every N batches) to ``log_dir/train`` and
``log_dir/validation`` (``val_`` stripped), as Keras does, through
``minigrad.utils.tensorboard.SummaryWriter`` (the optional ``tensorboard`` package).
"""
import csv
import os

import numpy as np

from .callbacks import Callback, monitor_op

__all__ = ["ModelCheckpoint", "CSVLogger", "TensorBoard"]


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after every epoch, or only when ``monitor`` improves."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError(f"ModelCheckpoint: save_freq={save_freq!r}: only 'epoch' is supported")
        self.filepath = os.fspath(filepath)
        if save_weights_only and self.filepath.endswith(".h5"):
            raise ValueError("ModelCheckpoint: minigrad.keras writes weights as .npz, not HDF5: use a "
                             f"filepath ending in .weights.npz (got {self.filepath!r})")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). Received: "
                             f"filepath={self.filepath}")
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        self.monitor_op = monitor_op(monitor, mode, "ModelCheckpoint")
        self.best = initial_value_threshold

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: key {e} is not in "
                           f"the epoch's logs {sorted(logs)}") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                import warnings
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            if self.best is not None and not self.monitor_op(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                best = np.inf if self.best is None and self.monitor_op == np.less else \
                    -np.inf if self.best is None else self.best
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class CSVLogger(Callback):
    """One CSV row per epoch: ``epoch`` (0-based) then the logs' keys in sorted order (Keras's layout);
    ``append=True`` continues an existing file without a second header."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys = self.writer = self._file = None

    def on_train_begin(self, logs=None):
        self._header = not (self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys = self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
            if self._header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _csv_value(v):
    return v if isinstance(v, str) else float(v)


class TensorBoard(Callback):
    """Scalars for TensorBoard: ``TensorBoard(log_dir='logs', update_freq='epoch', histogram_freq=0)``.

    ``histogram_freq=N`` also writes each weight's histogram every N epochs."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, update_freq="epoch", **kwargs):
        super().__init__()
        from ..utils.tensorboard import SummaryWriter     # the ImportError naming the extra, up front
        self._writer_cls = SummaryWriter
        unsupported = sorted(k for k, v in kwargs.items() if v)
        if unsupported:
            raise NotImplementedError(f"TensorBoard: {', '.join(unsupported)} not supported by minigrad.keras")
        if update_freq not in ("epoch", "batch") and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._step = 0

    def _writer(self, name):
        if name not in self._writers:
            self._writers[name] = self._writer_cls(os.path.join(self.log_dir, name))
        return self._writers[name]

    def on_train_begin(self, logs=None):
        self._step = 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_freq != "epoch" and self._step % self.update_freq == 0:
            for k, v in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{k}", float(v), self._step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if "learning_rate" not in logs and getattr(self.model, "optimizer", None) is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        for k, v in logs.items():
            if k.startswith("val_"):
                self._writer("validation").add_scalar(f"epoch_{k[4:]}", float(v), epoch)
            else:
                self._writer("train").add_scalar(f"epoch_{k}", float(v), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for layer in self.model.layers:
                for i, w in enumerate(layer.get_weights()):
                    self._writer("train").add_histogram(f"{layer.name}/{i}", w, epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}
