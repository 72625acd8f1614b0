"""In-place edits, PyTorch's trailing-underscore methods: ``add_``, ``sub_``, ``mul_``, ``div_``,
``zero_``, ``fill_``, ``copy_``, ``clamp_``, ``masked_fill_``, ``uniform_``, ``normal_``, and
``requires_grad_``. Each writes into the tensor's array and returns the tensor.

They are for parameters and plain data, the way real code uses them: a manual SGD step
``with mg.no_grad(): p.add_(p.grad, alpha=-lr)``, initialisation, resetting a state. The tape
records values, not edits, so an edit is refused where it could make a gradient wrong:

* a leaf that requires grad, while grad mode is on (PyTorch's rule; do it under ``no_grad``);
* a tensor computed by the tape (it has a ``grad_fn``): backward may still read its value, and
  minigrad keeps no version counter to find out -- use the out-of-place form.

Other tensors (data, ``detach()``-ed values, leaves under ``no_grad``) may be edited. As in
PyTorch a ``detach()``-ed tensor shares memory with its source, so edit a ``clone()`` instead when
the source is still needed. The result keeps the tensor's dtype: a float operand is cast to a
float tensor's dtype, and a result that cannot be held (a float into an integer tensor) raises.
"""
import numbers

import numpy as np

from ..dtypes import FLOAT_DTYPES
from ..random import check_generator
from ..tensor import Tensor, _as_array, is_grad_enabled, set_requires_grad
from .arith import broadcasts_to
from .pointwise import clip_bound


def _number(name, what, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: {what} must be a real number, got {v!r}")
    return v


def check_inplace(t, name):
    """Raise RuntimeError when editing ``t`` in place could corrupt the tape or is impossible."""
    if t._node is not None:
        raise RuntimeError(
            f"{name}: in-place edit of a tensor computed by the tape (grad_fn=<{type(t._node).__name__}>); "
            "backward may still need its value and minigrad keeps no version counter to check. Use the "
            "out-of-place form (y = x + ...), or edit x.detach().clone()")
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{name}: a leaf tensor that requires grad is being used in an in-place "
                           "operation; do it under `with mg.no_grad():` (as an optimizer step does)")
    if not t.data.flags.writeable:
        raise RuntimeError(f"{name}: the tensor's array is read-only (a NumPy view that cannot be "
                           "written); clone() it first")


def _operand(name, t, other):
    """``other`` as an array that broadcasts to ``t``'s shape (the result cannot grow)."""
    if isinstance(other, Tensor):
        arr = other.data
    elif isinstance(other, np.ndarray) or (isinstance(other, numbers.Number) and not isinstance(other, complex)):
        arr = np.asarray(other)                 # a Python float keeps its full precision here
    else:
        arr = _as_array(other, None)
    if arr.dtype.kind not in "fiub":            # complex, objects, strings: the tensor dtype rule
        arr = _as_array(arr, None)
    if arr.shape != t.data.shape and not broadcasts_to(arr.shape, t.data.shape):
        raise RuntimeError(f"{name}: an operand of shape {arr.shape} does not broadcast to the "
                           f"tensor's shape {t.data.shape} (an in-place result keeps its shape)")
    return arr


def _apply(name, t, ufunc, other):
    check_inplace(t, name)
    arr = _operand(name, t, other)
    try:
        ufunc(t.data, arr, out=t.data, casting="same_kind")
    except TypeError:     # NumPy's UFuncTypeError: e.g. a float result into an integer tensor
        raise RuntimeError(f"{name}: the result type ({np.result_type(t.data, arr)}) cannot be stored "
                           f"in the tensor's dtype {t.data.dtype}") from None
    return t


def add_(t, other, *, alpha=1):
    """``t += alpha * other``."""
    if _number("add_", "alpha", alpha) != 1:
        other = (other.data if isinstance(other, Tensor) else np.asarray(other)) * alpha
    return _apply("add_", t, np.add, other)


def sub_(t, other, *, alpha=1):
    """``t -= alpha * other``."""
    if _number("sub_", "alpha", alpha) != 1:
        other = (other.data if isinstance(other, Tensor) else np.asarray(other)) * alpha
    return _apply("sub_", t, np.subtract, other)


def mul_(t, other):
    return _apply("mul_", t, np.multiply, other)


def div_(t, other):
    return _apply("div_", t, np.true_divide, other)


def zero_(t):
    check_inplace(t, "zero_")
    t.data[...] = 0
    return t


def _copy(name, t, arr):
    """Write ``arr`` into ``t``, converting its dtype as PyTorch does (float to integer truncates;
    NaN or infinity cannot become an integer)."""
    if t.data.dtype.kind in "iub" and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name}: cannot write NaN or infinity into a {t.data.dtype} tensor")
    np.copyto(t.data, arr, casting="unsafe")
    return t


def fill_(t, value):
    check_inplace(t, "fill_")
    arr = _operand("fill_", t, value)
    if arr.ndim != 0:
        raise RuntimeError(f"fill_: value must be a number or a 0-d tensor, got shape {arr.shape}")
    return _copy("fill_", t, arr)


def copy_(t, src):
    """Copy ``src`` (broadcast to ``t``'s shape) into ``t``."""
    check_inplace(t, "copy_")
    return _copy("copy_", t, _operand("copy_", t, src))


def clamp_(t, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    min, max = clip_bound("clamp_", "min", min), clip_bound("clamp_", "max", max)
    check_inplace(t, "clamp_")
    try:
        np.clip(t.data, min, max, out=t.data, casting="same_kind")
    except TypeError:
        raise RuntimeError(f"clamp_: bounds {min!r}, {max!r} cannot be applied in place to a "
                           f"{t.data.dtype} tensor") from None
    return t


def masked_fill_(t, mask, value):
    check_inplace(t, "masked_fill_")
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill_: the mask must be boolean, got {m.dtype}")
    _operand("masked_fill_", t, m)                         # the mask must broadcast to t's shape
    np.copyto(t.data, _as_array(value, t.data.dtype), where=m)
    return t


def _float_target(t, name):
    if t.data.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: needs a float tensor, got {t.data.dtype}")
    check_inplace(t, name)


def uniform_(t, a=0.0, b=1.0, *, generator=None):
    """Fill with U(a, b) draws from minigrad's generator (or ``generator``)."""
    _float_target(t, "uniform_")
    if not _number("uniform_", "a", a) <= _number("uniform_", "b", b):
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    g = check_generator(generator, "uniform_")
    t.data[...] = g.uniform(a, b, t.data.shape)
    return t


def normal_(t, mean=0.0, std=1.0, *, generator=None):
    """Fill with N(mean, std^2) draws from minigrad's generator (or ``generator``)."""
    _float_target(t, "normal_")
    _number("normal_", "mean", mean)
    if not _number("normal_", "std", std) >= 0:
        raise ValueError(f"normal_: expects std >= 0, got {std}")
    g = check_generator(generator, "normal_")
    t.data[...] = g.normal(mean, std, t.data.shape)
    return t


def requires_grad_(t, requires_grad=True):
    """Set ``requires_grad`` on a leaf (float tensors only); returns the tensor."""
    set_requires_grad(t, requires_grad, "requires_grad_")
    return t
