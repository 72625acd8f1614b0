"""Keras's metrics on NumPy predictions: running means over the batches of an epoch.

A metric is stateful as in Keras: ``update_state(y_true, y_pred)`` adds a batch (each sample
weighs the same, so the epoch's value is the mean over all samples, whatever the batch sizes),
``result()`` reads the running mean, ``reset_state()`` starts again. Nothing here records on the
tape: metrics see ``prediction.data`` (NumPy arrays).

``'accuracy'`` / ``'acc'`` becomes the accuracy Keras would pick for the model's loss and shapes:
binary (a single output unit or binary_crossentropy), sparse categorical (integer targets without
the class axis) or categorical (one-hot targets); the reported name stays the string given.
"""
import numpy as np

from .layers.base import to_snake_case
from .losses import same_rank

__all__ = ["Metric", "Mean", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
           "Accuracy", "MeanSquaredError", "MeanAbsoluteError", "MeanMetricWrapper", "sparse_categorical_accuracy",
           "categorical_accuracy", "binary_accuracy", "get"]


def _np(a):
    return np.asarray(getattr(a, "data", a))


class Metric:
    """Base class: a running mean of ``per_sample(y_true, y_pred)`` (subclasses define it)."""

    def __init__(self, name=None, dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        self._total, self._count = 0.0, 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"metric {self.name}: sample_weight is not supported")
        values = np.asarray(self.per_sample(_np(y_true), _np(y_pred)), dtype=np.float64)
        self._total += float(values.sum())
        self._count += values.size

    def result(self):
        return self._total / self._count if self._count else 0.0

    def __call__(self, y_true, y_pred):
        """One batch on a fresh state (Keras's stateless call)."""
        self.reset_state()
        self.update_state(y_true, y_pred)
        return self.result()

    def get_config(self):
        return {"name": self.name}


class Mean(Metric):
    """Weighted running mean of values (``update_state(values, sample_weight=None)``), e.g. the loss."""

    def update_state(self, values, sample_weight=None):
        v = np.asarray(values, dtype=np.float64)
        w = np.ones_like(v) if sample_weight is None else np.broadcast_to(np.asarray(sample_weight, np.float64), v.shape)
        self._total += float((v * w).sum())
        self._count += float(w.sum())


def _squeeze_to(y_true, ndim):
    """Drop a trailing axis of size 1 from integer targets whose rank equals the prediction's."""
    if y_true.ndim == ndim and y_true.ndim and y_true.shape[-1] == 1:
        return y_true[..., 0]
    return y_true


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred, -1) equals the integer target, per sample."""
    y_pred = _np(y_pred)
    y_true = _squeeze_to(_np(y_true), y_pred.ndim)
    return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred, -1) equals argmax(y_true, -1), per sample."""
    return (np.argmax(_np(y_pred), axis=-1) == np.argmax(_np(y_true), axis=-1)).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Mean over the last axis of (y_pred > threshold) == y_true, per sample."""
    y_pred = _np(y_pred)
    y_true = same_rank(_np(y_true), y_pred.shape)
    return ((y_pred > threshold) == (y_true > 0.5)).astype(np.float32).mean(axis=-1)


class SparseCategoricalAccuracy(Metric):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name)

    per_sample = staticmethod(sparse_categorical_accuracy)


class CategoricalAccuracy(Metric):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name)

    per_sample = staticmethod(categorical_accuracy)


class BinaryAccuracy(Metric):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def per_sample(self, y_true, y_pred):
        return binary_accuracy(y_true, y_pred, self.threshold)


class Accuracy(Metric):
    """Exact equality of predictions and targets (Keras's ``Accuracy`` class, not the string)."""

    def per_sample(self, y_true, y_pred):
        return (y_true.reshape(y_pred.shape) == y_pred).astype(np.float32)


class MeanSquaredError(Metric):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name)

    def per_sample(self, y_true, y_pred):
        return np.square(y_pred - same_rank(y_true, y_pred.shape)).mean(axis=-1)


class MeanAbsoluteError(Metric):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name)

    def per_sample(self, y_true, y_pred):
        return np.abs(y_pred - same_rank(y_true, y_pred.shape)).mean(axis=-1)


class MeanMetricWrapper(Metric):
    """A metric from a function ``fn(y_true, y_pred) -> per-sample values`` (NumPy), averaged."""

    def __init__(self, fn, name=None, dtype=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def per_sample(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


_BY_NAME = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy, "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def _accuracy_for(loss_name, y_true_shape, y_pred_shape):
    """The accuracy class Keras picks for 'accuracy' given the loss and the shapes."""
    if loss_name == "binary_crossentropy" or (y_pred_shape and y_pred_shape[-1] == 1):
        return BinaryAccuracy
    if loss_name == "sparse_categorical_crossentropy" or len(y_true_shape) < len(y_pred_shape):
        return SparseCategoricalAccuracy
    if len(y_true_shape) == len(y_pred_shape) and y_true_shape and y_true_shape[-1] == 1:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier, loss_name=None, y_true_shape=(), y_pred_shape=()):
    """A Metric from a Keras name or class instance. 'accuracy'/'acc' need the loss's name and the
    target/prediction shapes to pick the variant (see the module docstring)."""
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        return _accuracy_for(loss_name, tuple(y_true_shape), tuple(y_pred_shape))(name=identifier)
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier](name=identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r} (known: 'accuracy', 'acc', "
                     f"{', '.join(repr(k) for k in sorted(_BY_NAME))}, a metrics.Metric instance or a function)")
