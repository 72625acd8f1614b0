"""The one comparison of a minigrad.keras layer with the same Keras 3 layer (the layer tests' helper).

``compare_with_keras(ours, theirs, x, mask)`` builds both for ``x``, loads Keras's weights (moved
off their initial values) into ours through ``set_weights(theirs.get_weights())``, checks that
the parameter counts are equal, and compares the outputs and the gradients of ``sum(y**2)`` with
respect to the input and every weight (ours converted to Keras's layout). Float32 tolerance:
``ROUNDINGS * u32 * depth`` of the values' scale, ``depth`` = T + 2 chained steps -- a bound on
accumulated rounding, not a measured difference.
"""
import numpy as np

import minigrad as mg
from minigrad.gradcheck import ROUNDINGS

U32 = np.finfo(np.float32).eps / 2


def first(y):
    """The output itself, or the first of (output, *states)."""
    return y[0] if isinstance(y, (list, tuple)) else y


def assert_close_f32(got, ref, depth, what=""):
    """``got`` within the float32 rounding bound of ``ref`` after ``depth`` chained steps."""
    atol = ROUNDINGS * U32 * depth * max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(got, ref, rtol=0, atol=atol, err_msg=what)


def assert_grads_match(ours, theirs, depth):
    """Our weights' gradients (converted to Keras's layouts) equal Keras's, weight by weight."""
    grads = [s.to_keras(s.param.grad) if s.to_keras else s.param.grad for s in ours._all_slots()]
    assert len(grads) == len(theirs.weights)
    for g, v in zip(grads, theirs.weights):
        assert_close_f32(g, v.value.grad.numpy(), depth, v.path)


def compare_with_keras(ours, theirs, x, mask=None):
    import torch
    theirs.build(x.shape)
    ours.build(x.shape)
    rng = np.random.default_rng(0)
    theirs.set_weights([w + rng.uniform(-0.1, 0.1, w.shape).astype(w.dtype) for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    xt = torch.tensor(x, requires_grad=True)
    yk = first(theirs(xt) if mask is None else theirs(xt, mask=torch.tensor(mask)))
    (yk ** 2).sum().backward()
    xm = mg.tensor(x, dtype=x.dtype, requires_grad=True)
    ym = first(ours(xm, mask=mask))
    (ym ** 2).sum().backward()
    depth = (x.shape[1] if x.ndim > 2 else 1) + 2
    assert_close_f32(ym.data, yk.detach().numpy(), depth, "output")
    assert_close_f32(xm.grad, xt.grad.numpy(), depth, "d/dx")
    assert_grads_match(ours, theirs, depth)
