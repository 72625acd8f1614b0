"""Loss modules: ``nn.CrossEntropyLoss()``, ``nn.MSELoss()``, ... wrapping the functional forms.

    criterion = nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    loss = criterion(logits, target)        # == F.cross_entropy(logits, target, ...)

Constructor arguments are PyTorch's and are checked when the module is built; class weights
(``weight``) and ``pos_weight`` are buffers, so they appear in ``state_dict()`` and follow
``.to(dtype)`` but are never trained. The deprecated ``size_average`` / ``reduce`` arguments are
not supported: use ``reduction``.
"""
from .argcheck import check_int, check_real, check_reduction, const_array
from .functional import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,
                         l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from .module import Module
from ..tensor import Tensor

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "MSELoss", "NLLLoss",
           "SmoothL1Loss"]


def _weight_buffer(weight, name, owner):
    """An optional float weight (1-D for class weights) as a buffer tensor, or None."""
    if weight is None:
        return None
    arr = const_array(weight, owner, name, None)
    if arr.dtype.kind != "f":
        arr = arr.astype("float32")
    return Tensor(arr, dtype=arr.dtype)


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _weight_buffer(weight, "weight", type(self).__name__))

    def _weight(self, input):
        """The weight in the input's dtype (a float32 buffer serves a float64 model)."""
        w = self.weight
        return None if w is None else w.data.astype(input.dtype, copy=False)


class CrossEntropyLoss(_WeightedLoss):
    """Log-softmax + negative log-likelihood (see :func:`minigrad.nn.functional.cross_entropy`)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index = check_int(ignore_index, "CrossEntropyLoss", "ignore_index")
        self.label_smoothing = check_real(label_smoothing, "CrossEntropyLoss", "label_smoothing", 0.0, 1.0)

    def forward(self, input, target):
        return cross_entropy(input, target, weight=self._weight(input), ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (pair it with ``nn.LogSoftmax(dim=1)``)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = check_int(ignore_index, "NLLLoss", "ignore_index")

    def forward(self, input, target):
        return nll_loss(input, target, weight=self._weight(input), ignore_index=self.ignore_index,
                        reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = check_real(beta, "SmoothL1Loss", "beta", 0.0)

    def forward(self, input, target):
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = check_real(delta, "HuberLoss", "delta", 0.0, lo_open=True)

    def forward(self, input, target):
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]; ``weight`` broadcasts to the input."""

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self._weight(input), reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy, stable for any logit; ``pos_weight`` weights positives."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _weight_buffer(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input, target):
        pw = None if self.pos_weight is None else self.pos_weight.data.astype(input.dtype, copy=False)
        return binary_cross_entropy_with_logits(input, target, weight=self._weight(input),
                                                reduction=self.reduction, pos_weight=pw)
