"""Keras's losses on minigrad tensors: classes (``MeanSquaredError``, ``SparseCategoricalCrossentropy``,
...) and string names (``'mse'``, ``'sparse_categorical_crossentropy'``, ...).

Semantics are Keras 3's: a loss is the mean over the last axis (or the class axis) and then over
the batch (``reduction='sum_over_batch_size'``; ``'sum'`` sums instead). Probability inputs of the
cross-entropies are clipped to [1e-7, 1 - 1e-7] as Keras does (categorical ones renormalised to sum
to 1 first); ``from_logits=True`` takes raw scores through minigrad's fused, stable kernels
(log-softmax + NLL, BCE-with-logits). A model whose last layer ends in softmax (sigmoid) calls
``loss.from_pre_activation(y_true, z)`` with the pre-activation ``z`` instead: the same loss
computed as if ``from_logits=True`` (equal up to the clipping, which only matters where Keras's own
probabilities are below 1e-7), without ever forming log(softmax(z)).

Targets: sparse ones are integer class indices of the output's shape without its class axis
(a trailing axis of 1 is squeezed, as Keras); the other losses take targets of the output's shape,
where a missing or extra trailing axis of size 1 is added or squeezed as Keras does.
"""
import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .layers.base import to_snake_case

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "SparseCategoricalCrossentropy",
           "CategoricalCrossentropy", "BinaryCrossentropy", "LossFunctionWrapper",
           "mean_squared_error", "mean_absolute_error", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mse", "mae", "get"]

EPSILON = 1e-7      # keras.backend.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum")


def _shape(t):
    return tuple(t.shape)


def same_rank(y, shape):
    """Keras's squeeze_or_expand_to_same_rank for targets: a trailing axis of 1 added to ``y`` when
    the prediction of ``shape`` has one more, or dropped when ``y`` has one more."""
    if y.ndim == len(shape) - 1 and shape and shape[-1] == 1:
        return y[..., None]
    if y.ndim == len(shape) + 1 and y.shape[-1] == 1:
        return y[..., 0]
    return y


def _align(name, y_true, y_pred):
    """y_true as an array of y_pred's dtype and shape."""
    y = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    shape = _shape(y_pred)
    y = same_rank(y, shape)
    if y.shape != shape:
        raise ValueError(f"{name}: targets of shape {y.shape} do not match the model's output of shape "
                         f"{shape} (they must be equal up to a trailing axis of size 1)")
    return y.astype(y_pred.dtype, copy=False)


def _sparse_targets(name, y_true, shape):
    """Integer targets of shape ``shape[:-1]`` (a trailing axis of 1 squeezed), flattened."""
    y = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if y.ndim == len(shape) and y.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != tuple(shape[:-1]):
        raise ValueError(f"{name}: targets of shape {y.shape} do not match the model's output of shape "
                         f"{tuple(shape)}: sparse targets hold one class index per output row, so they "
                         f"must have the output's shape without its last (class) axis, {tuple(shape[:-1])}")
    if y.dtype.kind == "f":
        if y.size and not np.all(y == np.round(y)):
            raise ValueError(f"{name}: targets must be integer class indices, got non-integer values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integer class indices, got dtype {y.dtype}")
    n_classes = shape[-1]
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}: target class indices must be in [0, {n_classes}) for an output of "
                         f"{n_classes} classes, got values in [{y.min()}, {y.max()}]")
    return y.reshape(-1)


def _as_tensor(y_pred):
    return y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred))


def _reduce(values, reduction):
    return values.sum() if reduction == "sum" else values.mean()


class Loss:
    """Base class: ``loss(y_true, y_pred)`` -> a scalar minigrad Tensor (differentiable in y_pred)."""

    fused_activation = None        # 'softmax' / 'sigmoid': the output activation from_pre_activation folds in

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"{self.name}: sample_weight is not supported by minigrad.keras")
        return self.call(y_true, _as_tensor(y_pred))

    def from_pre_activation(self, y_true, z):
        """The loss of ``activation(z)`` computed from ``z`` (only when ``fused_activation`` is set)."""
        raise NotImplementedError(f"{self.name} has no fused pre-activation path")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)^2) over the last axis, then over the batch."""

    def __init__(self, name="mean_squared_error", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype)

    def call(self, y_true, y_pred):
        return F.mse_loss(y_pred, _align(self.name, y_true, y_pred), reduction=_torch(self.reduction, y_pred))


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis, then over the batch."""

    def __init__(self, name="mean_absolute_error", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype)

    def call(self, y_true, y_pred):
        return F.l1_loss(y_pred, _align(self.name, y_true, y_pred), reduction=_torch(self.reduction, y_pred))


def _torch(reduction, y_pred):
    """The PyTorch reduction giving Keras's: 'sum' sums the per-sample means (= element sum / last dim)."""
    if reduction == "sum" and y_pred.ndim > 1:
        raise NotImplementedError("reduction='sum' is supported for the cross-entropies only")
    return "sum" if reduction == "sum" else "mean"


class _CrossEntropy(Loss):
    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size", dtype=None,
                 label_smoothing=0.0, axis=-1):
        if label_smoothing or axis != -1:
            raise NotImplementedError(f"{type(self).__name__}: only label_smoothing=0 and axis=-1 are "
                                      f"supported, got label_smoothing={label_smoothing}, axis={axis}")
        super().__init__(name, reduction, dtype)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        return self._loss(y_true, y_pred, self.from_logits)

    def from_pre_activation(self, y_true, z):
        return self._loss(y_true, z, True)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


def _rows(t):
    """(..., C) -> (M, C): Keras's class axis is the last one, PyTorch's kernels take rows."""
    return t.reshape(-1, t.shape[-1]) if t.ndim != 2 else t


def _clipped_log(p, renormalise):
    if renormalise:
        p = p / p.sum(axis=-1, keepdims=True)
    return p.clip(EPSILON, 1.0 - EPSILON).log()


class SparseCategoricalCrossentropy(_CrossEntropy):
    """-log p[y] with integer targets y; ``from_logits`` as Keras."""

    fused_activation = "softmax"

    def __init__(self, from_logits=False, name="sparse_categorical_crossentropy", **kwargs):
        super().__init__(from_logits, name, **kwargs)

    def _loss(self, y_true, y_pred, logits):
        if y_pred.ndim < 1:
            raise ValueError(f"{self.name}: the output must have a class axis, got shape {_shape(y_pred)}")
        t = _sparse_targets(self.name, y_true, _shape(y_pred))
        red = "sum" if self.reduction == "sum" else "mean"
        if logits:
            return F.cross_entropy(_rows(y_pred), t, reduction=red)
        return F.nll_loss(_rows(_clipped_log(y_pred, True)), t, reduction=red)


class CategoricalCrossentropy(_CrossEntropy):
    """-sum(y * log p) over the class (last) axis with one-hot / probability targets y."""

    fused_activation = "softmax"

    def __init__(self, from_logits=False, name="categorical_crossentropy", **kwargs):
        super().__init__(from_logits, name, **kwargs)

    def _loss(self, y_true, y_pred, logits):
        y = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
        if y.shape != _shape(y_pred):
            raise ValueError(f"{self.name}: targets of shape {y.shape} must have the model's output shape "
                             f"{_shape(y_pred)} (one-hot rows; for integer class labels use "
                             "sparse_categorical_crossentropy or keras.utils.to_categorical)")
        y = y.astype(y_pred.dtype, copy=False)
        if logits:
            red = "sum" if self.reduction == "sum" else "mean"
            return F.cross_entropy(_rows(y_pred), y.reshape(-1, y.shape[-1]) if y.ndim != 2 else y, reduction=red)
        return _reduce(-(_clipped_log(y_pred, True) * y).sum(axis=-1), self.reduction)


class BinaryCrossentropy(_CrossEntropy):
    """-(y log p + (1-y) log(1-p)) averaged over the last axis, then over the batch."""

    fused_activation = "sigmoid"

    def __init__(self, from_logits=False, name="binary_crossentropy", **kwargs):
        super().__init__(from_logits, name, **kwargs)

    def _loss(self, y_true, y_pred, logits):
        y = _align(self.name, y_true, y_pred)
        if self.reduction == "sum":
            raise NotImplementedError(f"{self.name}: reduction='sum' is not supported")
        if logits:
            return F.binary_cross_entropy_with_logits(y_pred, y)
        return F.binary_cross_entropy(y_pred.clip(EPSILON, 1.0 - EPSILON), y)


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred) -> per-sample losses`` (a Tensor), averaged."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction)
        self.fn, self.kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        out = self.fn(y_true, y_pred, **self.kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"loss function {self.name!r} must return a minigrad Tensor, got {type(out).__name__}")
        return _reduce(out, self.reduction) if out.ndim else out


# ----------------------------------------------------------------- functions (per-sample values)
def mean_squared_error(y_true, y_pred):
    """Per-sample mean((y_pred - y_true)^2) over the last axis (Keras's function)."""
    y_pred = _as_tensor(y_pred)
    d = y_pred - _align("mean_squared_error", y_true, y_pred)
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean(|y_pred - y_true|) over the last axis (Keras's function)."""
    y_pred = _as_tensor(y_pred)
    return (y_pred - _align("mean_absolute_error", y_true, y_pred)).abs().mean(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample -log p[y] (shape of y_pred without its class axis)."""
    y_pred = _as_tensor(y_pred)
    t = _sparse_targets("sparse_categorical_crossentropy", y_true, _shape(y_pred))
    logp = F.log_softmax(y_pred, axis=-1) if from_logits else _clipped_log(y_pred, True)
    return F.nll_loss(_rows(logp), t, reduction="none").reshape(_shape(y_pred)[:-1])


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample -sum(y log p) over the class axis."""
    y_pred = _as_tensor(y_pred)
    logp = F.log_softmax(y_pred, axis=-1) if from_logits else _clipped_log(y_pred, True)
    y = np.asarray(y_true, dtype=y_pred.dtype)
    return -(logp * y).sum(axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample binary cross-entropy averaged over the last axis."""
    y_pred = _as_tensor(y_pred)
    y = _align("binary_crossentropy", y_true, y_pred)
    if from_logits:
        per = F.binary_cross_entropy_with_logits(y_pred, y, reduction="none")
    else:
        per = F.binary_cross_entropy(y_pred.clip(EPSILON, 1.0 - EPSILON), y, reduction="none")
    return per.mean(axis=-1)


mse, mae = mean_squared_error, mean_absolute_error

_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "MeanSquaredError": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError, "MeanAbsoluteError": MeanAbsoluteError,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "CategoricalCrossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy, "BinaryCrossentropy": BinaryCrossentropy,
}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy, binary_crossentropy: BinaryCrossentropy}


def get(identifier):
    """A Loss from a Keras name (``'mse'``, ``'sparse_categorical_crossentropy'``, ...), a Loss
    instance (as is), one of this module's functions or any ``fn(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise ValueError(f"Could not interpret loss identifier: {identifier!r} (known: "
                         f"{sorted(k for k in _BY_NAME if k.islower())})")
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
