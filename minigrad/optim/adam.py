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
        self._bound = {}                 # (id(group), dtype) -> kernels.AdamGroup, made at a step

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

    def __getstate__(self):              # copy / pickle: the C pointers are rebuilt at the next step
        return {k: v for k, v in self.__dict__.items() if k != "_bound"}

    def __setstate__(self, d):
        self.__dict__.update(d, _bound={})

    def _step_group(self, group, items):
        """Adam on one group: the state of each parameter advanced in Python, then the arithmetic
        of every parameter in one C call (``kernels.AdamGroup``: its w, m, v (, vmax) bound once
        and kept while they are the same arrays; only the gradients are new at each step).
        A parameter whose array is a non-contiguous view takes the per-parameter path."""
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad = bool(group["amsgrad"])
        fused, scale = {}, {}            # dtype -> [(w, g, state, t)]; t -> (step_size, bc2_sqrt)
        for p, w, g in items:
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {}
            t, g = self._advance(w, g, state, lr, wd, amsgrad)
            if t not in scale:
                scale[t] = (lr / (1 - beta1 ** t), (1 - beta2 ** t) ** 0.5)
            f = w.flags
            if f.c_contiguous and f.aligned and f.writeable:
                fused.setdefault(w.dtype, []).append((w, g, state, t))
            else:                        # a user-made view: update a contiguous copy, write it back
                wc = w if f.c_contiguous and f.aligned else np.array(w, order="C")   # (a read-only w
                K.adam_update(wc, state["exp_avg"], state["exp_avg_sq"], g,         # is reported here)
                              state.get("max_exp_avg_sq"), c1=1 - beta1, beta2=beta2, c2=1 - beta2,
                              step_size=scale[t][0], bc2_sqrt=scale[t][1], eps=eps)
                if wc is not w:
                    w[...] = wc
        for dtype, members in fused.items():
            ws = [m[0] for m in members]
            ms = [m[2]["exp_avg"] for m in members]
            vs = [m[2]["exp_avg_sq"] for m in members]
            vmaxs = [m[2]["max_exp_avg_sq"] for m in members] if amsgrad else None
            key = (id(group), dtype)
            bound = self._bound.get(key)
            if bound is None or not bound.bound(ws, ms, vs, vmaxs):
                self._forget_removed_groups()
                bound = self._bound[key] = K.AdamGroup(ws, ms, vs, vmaxs)
            # The arithmetic -- m, v (, vmax) and w -- is csrc/optim.h's, which spells out its
            # order of operations (PyTorch's), each one rounded to w's dtype.
            bound.step([m[1] for m in members], [scale[m[3]][0] for m in members],
                       [scale[m[3]][1] for m in members], c1=1 - beta1, beta2=beta2, c2=1 - beta2, eps=eps)

    def _forget_removed_groups(self):
        """Drop the bindings of param groups no longer in ``param_groups`` (they hold the arrays of
        parameters the user has let go); done whenever a binding is made, which is rare."""
        live = {id(group) for group in self.param_groups}
        for key in [k for k in self._bound if k[0] not in live]:
            del self._bound[key]

    def _advance(self, w, g, state, lr, wd, amsgrad):
        """Create the state on the first step, count the step, apply weight decay; returns (t, g)."""
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(w.shape, w.dtype)      # C-contiguous, whatever w is
            state["exp_avg_sq"] = np.zeros(w.shape, w.dtype)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros(w.shape, w.dtype)
        state["step"] = t = state["step"] + 1
        if wd != 0:
            if self._decoupled:
                w *= 1 - lr * wd
            else:
                g = with_weight_decay(g, w, wd)  # new array: p.grad belongs to the caller
        return t, g


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam step,

        w <- w * (1 - lr * weight_decay)

    and the gradient is NOT modified by weight decay. Otherwise identical to ``Adam``
    (same state, same bias correction and eps placement). Default ``weight_decay=1e-2``.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
