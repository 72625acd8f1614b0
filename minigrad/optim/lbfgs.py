"""L-BFGS, PyTorch's algorithm step for step (``torch.optim.LBFGS``, after minFunc).

    opt = optim.LBFGS(model.parameters(), lr=0.8)
    def closure():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        return loss
    opt.step(closure)            # up to max_iter iterations, re-evaluating through the closure

All parameters are viewed as one flat vector x (n elements, the parameters' common dtype); the
gradient g is gathered the same way. Per iteration:

    direction  d = -H g, H the two-loop L-BFGS inverse-Hessian estimate from the last
               ``history_size`` pairs (s = t d, y = g_new - g_old; a pair is kept only if y.s > 1e-10),
               scaled by H_diag = y.s / y.y; the very first iteration uses d = -g
    step       t = min(1, 1 / |g|_1) * lr on the first iteration, then lr; with
               ``line_search_fn='strong_wolfe'`` t is refined by a bracketing / cubic-interpolation
               search satisfying the strong Wolfe conditions (c1 = 1e-4, c2 = 0.9)
    stop       after ``max_iter`` iterations or ``max_eval`` closure calls, or when max|g| <=
               tolerance_grad, g.d > -tolerance_change, max|t d| <= tolerance_change or the loss
               changes by less than tolerance_change

The same comparisons and the same order of operations as PyTorch's implementation are used, so
in float64 the sequence of losses agrees with PyTorch's to rounding. Only one parameter group
is supported (as PyTorch). The state (history, direction, counters) lives in
``state[first parameter]`` as in PyTorch.
"""
import copy
import numbers

import numpy as np

from ..nn.argcheck import check_int, positive_int
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonneg, check_state_dict_layout


_FLAT_KEYS = ("d", "prev_flat_grad", "old_dirs", "old_stps")
_SCALAR_KEYS = ("func_evals", "n_iter", "t", "ro", "al", "H_diag", "prev_loss")


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds``
    (default: the interval between the points); the midpoint if the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = d2_square ** 0.5
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along d from x (loss f, gradient g, slope gtd) starting at step t.

    Returns (f_new, g_new, t, evaluations). Phase 1 brackets an interval holding a point that
    satisfies the strong Wolfe conditions; phase 2 ("zoom") shrinks it by cubic interpolation.
    """
    d_norm = float(np.abs(d).max())
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)         # extrapolate: interpolate within [min_step, max_step]
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: refine the bracket until a point satisfies the conditions
    insuf_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a trial too close to an end of the bracket (twice, or outside it) moves 10 % inside
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            # Armijo fails or no lower than the lowest point: the trial becomes the high end
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None)``; ``max_eval`` defaults to ``max_iter * 5 // 4``.

    Memory: the history holds 2 * history_size flat vectors of all parameters.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if max_eval is None and not isinstance(max_iter, bool) and isinstance(max_iter, numbers.Integral):
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        dtypes = {p.data.dtype for p in self._params}
        if len(dtypes) != 1:
            raise TypeError("LBFGS: all parameters must share one dtype (they form one vector), got "
                            f"{sorted(map(str, dtypes))}")
        self._dtype = dtypes.pop()

    def _check_group(self, group):
        check_nonneg(group, "lr", "tolerance_grad", "tolerance_change")
        for key in ("max_iter", "max_eval", "history_size"):
            positive_int(group[key], key, "LBFGS")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")

    def load_state_dict(self, state_dict):
        """As the base class, except that L-BFGS's state holds flat vectors of all parameters
        (``d``, ``prev_flat_grad``, the history lists): each must have n elements."""
        check_state_dict_layout(state_dict)         # a dict with 'state' and 'param_groups' first
        n = sum(p.data.size for p in self._params)
        flat, rest = {}, copy.deepcopy(state_dict)
        for idx, st in rest.get("state", {}).items():
            for key in _FLAT_KEYS:
                if key not in st:
                    continue
                value = st.pop(key)
                vectors = value if isinstance(value, list) else [value]
                for v in vectors:
                    if not isinstance(v, np.ndarray) or v.shape != (n,):
                        raise ValueError(f"LBFGS.load_state_dict: state {key!r} must hold flat arrays of {n} "
                                         f"elements (all parameters), got {getattr(v, 'shape', type(v).__name__)}")
                cast = [np.array(v, dtype=self._dtype) for v in vectors]
                flat.setdefault(idx, {})[key] = cast if isinstance(value, list) else cast[0]
        super().load_state_dict(rest)
        for idx, entries in flat.items():
            self.state[self._params[idx]].update(entries)

    def _load_param_state(self, idx, st, w):
        """L-BFGS keeps its whole state on the first parameter (PyTorch's layout): two counters and
        the scalars of the last iteration (the flat vectors were checked by load_state_dict)."""
        where = f"LBFGS.load_state_dict: loaded state for parameter index {idx}"
        if not isinstance(st, dict):
            raise TypeError(f"{where} must be a dict, got {type(st).__name__}")
        unknown = [k for k in st if k not in _SCALAR_KEYS]
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))} "
                             f"(expected {list(_SCALAR_KEYS + _FLAT_KEYS)})")
        for k in ("func_evals", "n_iter"):
            if k in st:
                check_int(st[k], "LBFGS.load_state_dict", k, lo=0)
        return dict(st)

    # ------------------------------------------------------------------ the flat view
    def _gather_flat_grad(self):
        return np.concatenate([np.zeros(p.data.size, self._dtype) if p.grad is None else p.grad.reshape(-1)
                               for p in self._params])

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += step_size * update[offset:offset + n].reshape(p.data.shape)
            offset += n

    def _directional_evaluate(self, closure, x, t, d):
        """Loss and flat gradient at x + t d; the parameters are restored to x afterwards."""
        self._add_grad(t, d)
        loss = _as_float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            np.copyto(p.data, saved)
        return loss, flat_grad

    # ------------------------------------------------------------------ one step: up to max_iter iterations
    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the model (zero the
        gradients, compute the loss, call backward, return the loss). Returns the first loss."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step needs a closure that zeroes the gradients, computes the loss, calls "
                            "loss.backward() and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state.get(self._params[0])
        if state is None:
            state = self.state[self._params[0]] = {}
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = _as_float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad if flat_grad.size else True
        if opt_cond:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # ---- direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:                     # curvature condition: keep the pair
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y.dot(y))
                num_old = len(old_dirs)
                al = state.setdefault("al", [None] * history_size)
                q = -flat_grad                     # two-loop recursion, one buffer
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(old_stps[i].dot(q)) * ro[i]
                    q += -al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = float(old_dirs[i].dot(r)) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # ---- step length
            t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tolerance_change:
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p.data.copy() for p in self._params]
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    lambda x, t_, d_: self._directional_evaluate(closure, x, t_, d_),
                    x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:             # no re-evaluation after the last iteration
                    loss = _as_float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            # ---- stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss


def _as_float(loss):
    """The closure's loss as a Python float (a one-element tensor or a number)."""
    if isinstance(loss, Tensor):
        if loss.data.size != 1:
            raise TypeError(f"LBFGS: the closure must return a one-element loss, got a tensor of shape {loss.shape}")
        return float(loss.item())
    try:
        return float(loss)
    except (TypeError, ValueError):
        raise TypeError(f"LBFGS: the closure must return the loss (a one-element tensor or a number), got "
                        f"{type(loss).__name__}") from None
