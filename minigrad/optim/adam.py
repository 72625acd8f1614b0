"""Adam and AdamW (decoupled weight decay), as ``torch.optim.Adam`` / ``torch.optim.AdamW``."""
import numpy as np

from .. import kernels as K
from ..grad_mode import describe
from .optimizer import Optimizer, check_flags, check_nonneg, with_weight_decay


class Adam(Optimizer):
    r"""Adam; for each parameter w with gradient g, at step t = 1, 2, ...:

        g    <- g + weight_decay * w                  (Adam: L2 penalty folded into the gradient)
        w    <- w * (1 - lr * weight_decay)           (AdamW instead: decoupled decay, g untouched)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g^2
        vmax  = max(vmax, v_t);  v_t <- vmax          (if amsgrad)
        denom = sqrt(v_t) / sqrt(1 - beta2^t) + eps   (eps is added AFTER the bias correction)
        w    <- w - lr / (1 - beta1^t) * m_t / denom

    State per parameter: ``'step'`` (int), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v) and
    ``'max_exp_avg_sq'`` (vmax, only with amsgrad).
    """

    _decoupled = False
    state_keys = ("step", "exp_avg", "exp_avg_sq")
    optional_state_keys = ("max_exp_avg_sq",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas   # checked below
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _check_group(self, group):
        check_nonneg(group, "lr", "eps", "weight_decay")
        check_flags(group, "amsgrad")
        betas = group["betas"]
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {describe(betas)}")
        for i, b in enumerate(betas):
            if isinstance(b, bool) or not isinstance(b, (int, float, np.integer, np.floating)):
                raise TypeError(f"beta parameter at index {i} must be a real number, got "
                                f"{describe(b)}")
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b} (must be in [0, 1))")

    def _update(self, w, g, state, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(w.shape, w.dtype)      # C-contiguous, whatever w is
            state["exp_avg_sq"] = np.zeros(w.shape, w.dtype)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros(w.shape, w.dtype)
        state["step"] = t = state["step"] + 1

        if wd != 0:
            if self._decoupled:
                w *= 1 - lr * wd
            else:
                g = with_weight_decay(g, w, wd)  # new array: p.grad belongs to the caller

        # The rest of the step -- m, v (, vmax) and w -- is one pass of a C kernel; csrc/optim.h
        # spells out its order of operations (PyTorch's), each one rounded to w's dtype.
        # (np.ascontiguousarray would turn a 0-d parameter into shape (1,): copy only when needed)
        wc = w if w.flags.c_contiguous else np.ascontiguousarray(w)   # a user-made view: rare
        gc = g if g.flags.c_contiguous else np.ascontiguousarray(g)
        K.adam_update(wc, state["exp_avg"], state["exp_avg_sq"], gc,
                      state.get("max_exp_avg_sq"), c1=1 - beta1, beta2=beta2, c2=1 - beta2,
                      step_size=lr / (1 - beta1 ** t), bc2_sqrt=(1 - beta2 ** t) ** 0.5, eps=eps)
        if wc is not w:
            w[...] = wc


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam step,

        w <- w * (1 - lr * weight_decay)

    and the gradient is NOT modified by weight decay. Otherwise identical to ``Adam``
    (same state, same bias correction and eps placement). Default ``weight_decay=1e-2``.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
