"""Finite-difference gradient checking: the test every differentiable op must pass.

``gradcheck(fn, inputs)`` compares the tape's gradient with central differences
``(f(x + eps) - f(x - eps)) / 2 eps`` element by element, for every input tensor that requires a
gradient. A non-scalar output ``y`` is reduced to the scalar ``sum(y * R)`` with a fixed random
``R``, so every output element is checked with a different weight. Use float64: in float32 the
finite differences themselves are too noisy to judge anything.
"""
import warnings

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when the tape's gradient and the numerical one disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor)]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Returns True, or raises :class:`GradcheckError` naming the input, the element and both values
    of the worst mismatch. ``inputs`` is a sequence of tensors (other values are passed through).
    """
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    if any(inputs[i].dtype != np.float64 for i in checked):
        warnings.warn("gradcheck on float32 inputs is unreliable; use dtype=np.float64", stacklevel=2)

    rng = np.random.default_rng(0)
    outs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]

    def loss():
        with no_grad():
            return sum(float(np.sum(o.data.astype(np.float64) * w)) for o, w in zip(_outputs(fn, inputs), weights))

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

    worst = None
    for i in checked:
        x = inputs[i].data
        flat = x.reshape(-1)             # a view: perturbs the tensor's own data in place
        a = analytic[i].reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            fp = loss()
            flat[j] = orig - eps
            fm = loss()
            flat[j] = orig
            num = (fp - fm) / (2 * eps)
            err = abs(a[j] - num) - (atol + rtol * abs(num))
            if err > 0 and (worst is None or err > worst[0]):
                worst = (err, i, np.unravel_index(j, x.shape), a[j], num)
    if worst is not None:
        _, i, idx, a, num = worst
        raise GradcheckError(
            f"gradcheck: gradient of input {i} (shape {inputs[i].shape}) at element {tuple(int(v) for v in idx)}: "
            f"tape gives {a!r}, finite differences give {num!r} (atol={atol}, rtol={rtol})")
    return True
