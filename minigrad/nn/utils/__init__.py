"""Training utilities for minigrad models: gradient clipping and truncated-BPTT state handling
(``nn.utils.rnn`` holds packed sequences).

    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.25)
    nn.utils.clip_grad_value_(model.parameters(), clip_value=1.0)
    hidden = nn.utils.repackage_hidden(hidden)   # between BPTT windows

Semantics follow ``torch.nn.utils``: parameters whose ``grad`` is None are skipped, gradients
are modified in place (``p.grad`` keeps its identity, so optimizers that hold references see the
change), and the work is vectorised per parameter (one NumPy reduction / one scaling each, no
Python loop over elements).
"""
import math
import numbers

import numpy as np

from ...grad_mode import check_bool, describe
from . import rnn

__all__ = ["clip_grad_norm_", "clip_grad_value_", "repackage_hidden", "rnn"]


def _nonneg(value, fname, name):
    """A non-negative number (inf allowed: 'compute the norm, clip nothing'); a negative bound would
    flip the gradients' signs and NaN would turn them all into NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fname}: {name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not v >= 0:
        raise ValueError(f"{fname}: {name} must be >= 0, got {value!r}")
    return v


def _grads(parameters):
    """The non-None gradients of a single tensor or an iterable of tensors, as a list."""
    if hasattr(parameters, "grad"):          # a single tensor / parameter
        parameters = [parameters]
    elif not hasattr(parameters, "__iter__"):
        raise TypeError(f"parameters must be a tensor or an iterable of tensors, got {type(parameters).__name__}")
    grads = []
    for i, p in enumerate(parameters):
        if not hasattr(p, "grad"):
            raise TypeError(f"parameters must be tensors (with a .grad), element {i} is {describe(p)}")
        g = p.grad
        if g is None:
            continue
        if not isinstance(g, np.ndarray):
            raise TypeError(f"expected p.grad to be a NumPy array or None, got {type(g).__name__}")
        grads.append(g)
    return grads


def _norm_type(norm_type):
    if isinstance(norm_type, str):
        if norm_type.lower() not in ("inf", "-inf"):
            raise ValueError(f"norm_type must be a positive number, 'inf' or '-inf', got {norm_type!r}")
        return float(norm_type)
    p = float(norm_type)
    if not (p > 0 or math.isinf(p)):
        raise ValueError(f"norm_type must be a positive number, inf or -inf, got {norm_type!r}")
    return p


def _tensor_norm(g, p):
    """The p-norm of one array viewed as a vector (empty arrays have norm 0, as in PyTorch)."""
    if g.size == 0:
        return 0.0
    if p == math.inf:
        return float(np.max(np.abs(g)))
    if p == -math.inf:
        return float(np.min(np.abs(g)))
    flat = g.reshape(-1)                      # a view for contiguous grads
    if p == 2.0:
        return float(np.sqrt(np.dot(flat, flat)))   # BLAS dot, no temporary
    if p == 1.0:
        return float(np.abs(flat).sum())
    return float(np.sum(np.abs(flat) ** p) ** (1.0 / p))


def _total_norm(grads, p):
    """Norm of all grads concatenated, computed as the norm of the per-tensor norms (PyTorch)."""
    norms = np.array([_tensor_norm(g, p) for g in grads], dtype=np.float64)
    if p == math.inf:
        return float(norms.max())
    if p == -math.inf:
        return float(norms.min())
    if p == 2.0:
        return float(np.sqrt(np.dot(norms, norms)))
    return float(np.sum(norms ** p) ** (1.0 / p))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    ``parameters`` is a tensor or an iterable of tensors (a generator is fine; it is consumed
    once). The total norm is that of all gradients concatenated into one vector; every gradient
    is multiplied by ``min(max_norm / (total + 1e-6), 1)``. Returns the total norm *before*
    clipping as a Python float (0.0 if no parameter has a gradient). A non-finite total norm
    raises ``RuntimeError`` when ``error_if_nonfinite`` is set; otherwise, as in PyTorch, the
    gradients are scaled by the (NaN) coefficient.
    """
    p = _norm_type(norm_type)
    max_norm = _nonneg(max_norm, "clip_grad_norm_", "max_norm")
    error_if_nonfinite = check_bool(error_if_nonfinite, "clip_grad_norm_: error_if_nonfinite")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    total = _total_norm(grads, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {p} of the gradients is non-finite ({total}), so it cannot be "
            "clipped; set error_if_nonfinite=False to scale the gradients anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):       # a coefficient of 1 would change nothing
        for g in grads:
            g *= g.dtype.type(coef)              # stays in the gradient's dtype, in place
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = _nonneg(clip_value, "clip_grad_value_", "clip_value")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def repackage_hidden(h):
    """Cut a recurrent state off from the tape, for truncated backpropagation through time.

    ``h`` is a tensor, ``None`` or a (nested) tuple/list of them (an LSTM's ``(h, c)``, one state
    per layer, ...); the result has the same structure with every tensor replaced by
    ``t.detach()``, which shares the data but has no history. Carrying the detached state into
    the next window keeps the values flowing while gradients stop at the window boundary, so
    memory and time per step stay bounded.
    """
    if h is None:
        return None
    if isinstance(h, (tuple, list)):
        items = [repackage_hidden(v) for v in h]
        return type(h)(*items) if hasattr(h, "_fields") else type(h)(items)   # namedtuples too
    if hasattr(h, "detach"):
        return h.detach()
    raise TypeError(f"repackage_hidden expects a tensor or a (nested) tuple of tensors, got {type(h).__name__}")
