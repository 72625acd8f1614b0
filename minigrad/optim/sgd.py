"""Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``."""
import numpy as np

from .optimizer import Optimizer, check_flags, check_nonneg, with_weight_decay


class SGD(Optimizer):
    r"""SGD; for each parameter w with gradient g, at step t (b is the momentum buffer):

        g   <- g + weight_decay * w                          (if weight_decay != 0)
        b_1  = g                                             (first step: no dampening)
        b_t  = momentum * b_{t-1} + (1 - dampening) * g      (if momentum != 0)
        d    = g + momentum * b_t   if nesterov  else  b_t   (d = g if momentum == 0)
        w   <- w - lr * d

    State per parameter: ``'momentum_buffer'`` (only when momentum != 0).
    """

    optional_state_keys = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check_group(self, group):
        check_nonneg(group, "lr", "momentum", "dampening", "weight_decay")
        check_flags(group, "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, w, g, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, wd = float(group["dampening"]), float(group["weight_decay"])
        own = False                        # True once d is a temporary we may overwrite
        d = g
        if wd != 0:
            d, own = with_weight_decay(g, w, wd), True
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, copy=True, order="C")
            else:
                buf *= momentum
                if dampening == 0:
                    buf += d
                else:
                    buf += (1 - dampening) * d
            if group["nesterov"]:
                look_ahead = np.multiply(buf, momentum, out=np.empty_like(w))
                look_ahead += d
                d, own = look_ahead, True
            else:
                d, own = buf, False
        if own:
            d *= lr
            w -= d
        else:
            w -= lr * d
