"""Central finite differences with a tolerance derived from the step and the function's scale.

The numerical derivative ``(L(x + eps) - L(x - eps)) / (2 eps)`` has two errors:

* rounding: each evaluation of L is off by about ``n * u * S``, where ``u`` is the float64 unit
  roundoff, ``S`` the sum of the absolute values of the terms L adds up (its *scale*) and ``n`` a
  small count of accumulated roundings; the difference of two such values divided by ``2 eps``
  is off by up to ``n * u * S / eps``.
* truncation: ``eps**2 / 6 * L'''``, which for the smooth losses of these tests is bounded by
  ``eps**2 * S``.

So the absolute tolerance is ``ROUNDINGS * u * S / eps + eps**2 * S``: it depends on the step
and on the function, never on the CPU's particular rounding (a kernel that sums in another order,
an FMA or a wider vector changes the last bits, not this bound). ``ROUNDINGS`` (64, shared with
``mg.gradcheck``) is generous
for the sums of a few hundred products in these tests and still far below any real gradient bug
(an error in a gradient formula is of the order of the gradient itself).
"""
import numpy as np

import minigrad as mg
from minigrad.gradcheck import ROUNDINGS   # the same bound mg.gradcheck adds to its tolerance

U = np.finfo(np.float64).eps / 2      # unit roundoff of float64, 1.1e-16


def fd_atol(scale, eps):
    """Absolute error bound of a central difference of a function of scale ``scale``."""
    s = max(float(scale), 1.0)
    return ROUNDINGS * U * s / eps + eps ** 2 * s


def central_differences(loss, a, eps=1e-6):
    """dL/da by central differences, perturbing ``a`` in place (restored afterwards).

    ``loss()`` returns L, or ``(L, S)`` with S the sum of the absolute values of L's terms.
    Returns ``(gradient, atol)`` with ``atol`` from :func:`fd_atol` at the largest scale seen.
    """
    num = np.zeros_like(a)
    flat, nflat = a.reshape(-1), num.reshape(-1)
    scale = 0.0
    for j in range(flat.size):
        old = flat[j]
        values = []
        for x in (old + eps, old - eps):
            flat[j] = x
            out = loss()
            v, s = out if isinstance(out, tuple) else (out, abs(out))
            values.append(v)
            scale = max(scale, s)
        flat[j] = old
        nflat[j] = (values[0] - values[1]) / (2 * eps)
    return num, fd_atol(scale, eps)


def assert_fd_close(loss, arrays, grads, eps=1e-6, rtol=1e-6):
    """Every ``grads[name]`` equals the central differences of ``loss`` w.r.t. ``arrays[name]``."""
    for name, a in arrays.items():
        num, atol = central_differences(loss, a, eps)
        np.testing.assert_allclose(grads[name], num, rtol=rtol, atol=atol, err_msg=name)


def weighted_sum(*pairs):
    """``(sum(a * w), sum(|a * w|))`` over pairs (a, w): a test loss and its scale."""
    terms = [a * w for a, w in pairs]
    return (float(sum(np.sum(t) for t in terms)), float(sum(np.sum(np.abs(t)) for t in terms)))


def float64_inputs(seed):
    """``t64(*shape, lo=None, requires_grad=True)``: float64 test tensors drawn from one seeded
    generator (``lo``: |values| + lo, for ops defined only on positive inputs such as log)."""
    rng = np.random.default_rng(seed)

    def t64(*shape, lo=None, requires_grad=True):
        a = rng.standard_normal(shape)
        if lo is not None:
            a = np.abs(a) + lo
        return mg.tensor(a, requires_grad=requires_grad, dtype=np.float64)
    return t64
