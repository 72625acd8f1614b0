"""Adagrad, as ``torch.optim.Adagrad``."""
import numpy as np

from .optimizer import Optimizer, check_nonneg, with_weight_decay


class Adagrad(Optimizer):
    r"""Adagrad; for each parameter w with gradient g, at step t = 1, 2, ...:

        g   <- g + weight_decay * w                  (if weight_decay != 0)
        clr  = lr / (1 + (t - 1) * lr_decay)
        S_t  = S_{t-1} + g^2                         (S_0 = initial_accumulator_value)
        w   <- w - clr * g / (sqrt(S_t) + eps)

    State per parameter: ``'step'``, ``'sum'`` (S).
    """

    state_keys = ("step", "sum")

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check_group(self, group):
        check_nonneg(group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update(self, w, g, state, group):
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        wd = float(group["weight_decay"])
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(w, float(group["initial_accumulator_value"]))
        state["step"] = t = state["step"] + 1
        if wd != 0:
            g = with_weight_decay(g, w, wd)  # new array: p.grad belongs to the caller
        clr = lr / (1 + (t - 1) * lr_decay)

        S = state["sum"]
        tmp = np.multiply(g, g, out=np.empty_like(w))
        S += tmp
        np.sqrt(S, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        w -= tmp
