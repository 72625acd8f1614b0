"""Finite-difference gradient checking: the test every differentiable op must pass.

``gradcheck(fn, inputs)`` compares the tape's gradient with central differences
``(f(x + eps) - f(x - eps)) / 2 eps`` element by element, for every input tensor that requires a
gradient. A non-scalar output ``y`` is reduced to the scalar ``sum(y * R)`` with a fixed random
``R``, so every output element is checked with a different weight. Use float64: in float32 the
finite differences themselves are too noisy to judge anything.

The tolerance is ``atol + rtol * |numerical| + ROUNDINGS * u * S / eps``. The last term is the
rounding error of the central difference itself: each evaluation of the reduced loss is off by
about ``n * u * S`` (``u`` the unit roundoff of the inputs' float dtype, ``S`` the scale of the
loss: the largest ``sum(|y * R|)`` over all evaluations, which bounds ``|loss|``, and ``n`` a
small count of accumulated roundings), and the difference of two of them divided by ``2 eps`` is
off by up to ``n * u * S / eps``. It depends on the step and the function, not on a particular
CPU's rounding (see tests/fdcheck.py, which derives the same bound for the tests).
"""
import math
import numbers
import warnings

import numpy as np

from .grad_mode import describe, no_grad
from .tensor import _FLOAT_DTYPES, Tensor

ROUNDINGS = 64     # roundings accumulated per loss evaluation: generous for sums of a few hundred
                   # products, and still far below a real gradient bug (of the order of the gradient)


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when the tape's gradient and the numerical one disagree."""


def _check_tolerance(name, value, positive):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"gradcheck: {name} must be a real number, got {describe(value)}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(f"gradcheck: {name} must be {need}, got {value!r}")
    return v


def _outputs(fn, inputs):
    """The float tensors ``fn`` returns (integer outputs, e.g. indices, are not differentiable)."""
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    tensors = [o for o in outs if isinstance(o, Tensor)]
    if not tensors:
        raise TypeError(f"gradcheck: fn must return a Tensor or a tuple/list of Tensors, got "
                        f"{type(out).__name__}" + (f" of {[type(o).__name__ for o in outs]}"
                                                   if isinstance(out, (tuple, list)) else ""))
    return [o for o in tensors if o.data.dtype in _FLOAT_DTYPES]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Returns True, or raises :class:`GradcheckError` naming the input, the element and both values
    of the worst mismatch (a NaN on either side is a mismatch). ``inputs`` is a sequence of
    tensors (other values are passed through). An element passes when
    ``|tape - numerical| <= atol + rtol * |numerical| + ROUNDINGS * u * S / eps`` (see the module
    docstring for the rounding term). ``eps`` must be finite and > 0, ``atol`` and ``rtol`` finite
    and >= 0; when the rounding term exceeds the largest gradient a warning says the check is weak.
    ``fn`` must return at least one float tensor; outputs that do not require grad
    (computed under ``no_grad``, or outside the tape) must have a zero numerical gradient, and if
    no output requires grad at all there is nothing to check and a ValueError is raised.
    """
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable, got {describe(fn)}")
    eps = _check_tolerance("eps", eps, positive=True)
    atol = _check_tolerance("atol", atol, positive=False)
    rtol = _check_tolerance("rtol", rtol, positive=False)
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if not inputs[i].data.flags.writeable:
            raise ValueError(f"gradcheck: input {i} (shape {inputs[i].shape}) is read-only; "
                             "finite differences perturb it in place: pass a writeable copy")
    if any(inputs[i].dtype != np.float64 for i in checked):
        warnings.warn("gradcheck on float32 inputs is unreliable; use dtype=np.float64", stacklevel=2)

    rng = np.random.default_rng(0)
    outs = _outputs(fn, inputs)
    if not outs:
        raise TypeError("gradcheck: fn returned only integer tensors; nothing is differentiable")
    shapes = [o.shape for o in outs]
    weights = [rng.standard_normal(s).astype(o.dtype) for s, o in zip(shapes, outs)]
    u = max(np.finfo(d).eps / 2 for d in [inputs[i].dtype for i in checked] + [o.dtype for o in outs])
    scale = [0.0]

    def loss():
        with no_grad():
            ys = _outputs(fn, inputs)
        if [y.shape for y in ys] != shapes:
            raise ValueError(f"gradcheck: fn's output shapes changed from {shapes} to "
                             f"{[y.shape for y in ys]} when an input was perturbed")
        terms = [y.data.astype(np.float64) * w for y, w in zip(ys, weights)]
        scale[0] = max(scale[0], sum(float(np.sum(np.abs(t))) for t in terms))
        return sum(float(np.sum(t)) for t in terms)

    saved = {i: inputs[i].grad for i in checked}
    for i in checked:
        inputs[i].grad = None
    differentiable = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    for k, (o, w) in enumerate(differentiable):
        o.backward(w, retain_graph=k < len(differentiable) - 1)
    analytic = {i: (inputs[i].grad if inputs[i].grad is not None else np.zeros(inputs[i].shape))
                for i in checked}
    for i in checked:
        inputs[i].grad = saved[i]

    numerical = {}
    for i in checked:
        flat = inputs[i].data.reshape(-1)   # a view: perturbs the tensor's own data in place
        num = numerical[i] = np.empty(flat.size)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            fp = loss()
            flat[j] = orig - eps
            fm = loss()
            flat[j] = orig
            num[j] = (fp - fm) / (2 * eps)
    rounding = ROUNDINGS * u * scale[0] / eps
    largest = max(max(float(np.max(np.abs(numerical[i]), initial=0.0)),
                      float(np.max(np.abs(analytic[i]), initial=0.0))) for i in checked)
    if rounding > largest > 0:
        warnings.warn(f"gradcheck: the rounding bound of the finite differences ({rounding:.3g}) exceeds "
                      f"the largest gradient ({largest:.3g}), so only errors larger than that can be "
                      "detected; use float64 inputs, a larger eps, or a loss of smaller scale", stacklevel=2)

    worst = None
    for i in checked:
        a, num = analytic[i].reshape(-1), numerical[i]
        err = np.abs(a - num) - (atol + rtol * np.abs(num) + rounding)
        err = np.where(np.isnan(err), np.inf, err)          # NaN on either side: a mismatch
        j = int(np.argmax(err)) if err.size else 0
        if err.size and err[j] > 0 and (worst is None or err[j] > worst[0]):
            worst = (err[j], i, np.unravel_index(j, inputs[i].shape), float(a[j]), float(num[j]))
    if worst is not None:
        _, i, idx, a, num = worst
        detached = [k for k, o in enumerate(outs) if not o.requires_grad]
        hint = (f"; output(s) {detached} do not require grad: computed under no_grad or outside the "
                "tape (e.g. from .data), yet they change with the input" if detached else "")
        raise GradcheckError(
            f"gradcheck: gradient of input {i} (shape {inputs[i].shape}) at element {tuple(int(v) for v in idx)}: "
            f"tape gives {a!r}, finite differences give {num!r} (atol={atol}, rtol={rtol}, "
            f"rounding bound {rounding:.3g}){hint}")
    if not differentiable:
        raise ValueError("gradcheck: no output of fn requires grad (none depends on an input that "
                         "requires grad), so there is nothing to check")
    return True
