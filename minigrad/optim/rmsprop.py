"""RMSprop (optionally centered, with momentum), as ``torch.optim.RMSprop``."""
import numpy as np

from .optimizer import Optimizer, check_flags, check_nonneg, ema_square_, lerp_, with_weight_decay


class RMSprop(Optimizer):
    r"""RMSprop; for each parameter w with gradient g, at step t:

        g    <- g + weight_decay * w                       (if weight_decay != 0)
        s_t   = alpha * s_{t-1} + (1 - alpha) * g^2        (square_avg)
        a_t   = alpha * a_{t-1} + (1 - alpha) * g          (grad_avg, if centered)
        avg   = sqrt(s_t - a_t^2) + eps   if centered  else  sqrt(s_t) + eps
        b_t   = momentum * b_{t-1} + g / avg;  w <- w - lr * b_t     (if momentum > 0, b_0 = 0)
        w    <- w - lr * g / avg                                      (otherwise)

    State per parameter: ``'step'``, ``'square_avg'``, ``'momentum_buffer'`` (momentum > 0),
    ``'grad_avg'`` (centered).
    """

    state_keys = ("step", "square_avg")
    optional_state_keys = ("momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check_group(self, group):
        check_nonneg(group, "lr", "eps", "momentum", "weight_decay", "alpha")
        if group["alpha"] > 1:    # PyTorch only asks alpha >= 0, but above 1 s_t can turn negative: NaN
            raise ValueError(f"Invalid alpha value: {group['alpha']} (must be in [0, 1]; above 1 the "
                             "running average of g^2 can turn negative and sqrt gives NaN)")
        check_flags(group, "centered")

    def _update(self, w, g, state, group):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, momentum = float(group["weight_decay"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(w)
        state["step"] += 1
        if wd != 0:
            g = with_weight_decay(g, w, wd)  # new array: p.grad belongs to the caller

        sq = state["square_avg"]
        avg = np.empty_like(w)                  # scratch, then the denominator
        ema_square_(sq, g, alpha, avg)          # sq = alpha * sq + (1 - alpha) * g^2
        if group["centered"]:
            ga = state.get("grad_avg")
            if ga is None:
                ga = state["grad_avg"] = np.zeros_like(w)
            lerp_(ga, g, 1 - alpha, avg)        # ga = alpha * ga + (1 - alpha) * g
            np.multiply(ga, ga, out=avg)
            np.subtract(sq, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(sq, out=avg)
        avg += eps

        np.divide(g, avg, out=avg)              # avg now holds g / avg
        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(w)
            buf *= momentum
            buf += avg
            np.multiply(buf, lr, out=avg)
        else:
            avg *= lr
        w -= avg
