"""Tensor factories with PyTorch's names and signatures: ``zeros``, ``ones``, ``full``, ``empty``,
``rand``, ``randn``, ``randint``, ``arange``, ``linspace``, their ``*_like`` forms, ``from_numpy``
and the ``new_*`` methods (``t.new_zeros(...)``).

Sizes are given as ints or as one tuple/list: ``zeros(2, 3)`` == ``zeros((2, 3))``. Every factory
takes ``dtype=`` (minigrad or NumPy dtypes), ``requires_grad=`` and ``device=`` (only "cpu").
Default dtypes are PyTorch's: float32 for floats; ``full`` and ``arange`` infer it from their
numbers (an int gives int64, a bool bool, a float float32); ``randint`` gives int64. The ``*_like``
and ``new_*`` forms default to the dtype of the tensor they start from.

Random factories draw from minigrad's generator (``mg.manual_seed``), or from ``generator=``.
``empty`` returns zeros: minigrad never hands out uninitialised memory.
"""
import math
import numbers

import numpy as np

from .dtypes import DEFAULT_FLOAT, as_dtype, check_device, check_numel, float_dtype
from .random import check_generator
from .tensor import Tensor, _as_array


def _size(name, size, dtype):
    """``size`` given as ints or as one tuple/list, checked: a tuple of non-negative ints that an
    array of ``dtype`` can have (see ``dtypes.check_numel``), before anything is allocated."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for n in size:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{name}: sizes must be ints, got {tuple(size)!r}")
        if n < 0:
            raise ValueError(f"{name}: sizes must be non-negative, got {tuple(size)!r}")
        out.append(int(n))
    check_numel(name, "the result", out, dtype)
    return tuple(out)


def _make(name, arr, requires_grad, device):
    check_device(device, name)
    return Tensor(arr, requires_grad=requires_grad, dtype=arr.dtype)


def _infer(name, *values):
    """The dtype PyTorch infers from fill values / range ends: bool, int64 or float32."""
    for v in values:
        if isinstance(v, Tensor):
            if v.data.size != 1:
                raise ValueError(f"{name}: expected a number or a one-element tensor, got a tensor of shape "
                                 f"{v.shape}")
            v = v.item()
        if isinstance(v, (complex, np.complexfloating)):
            raise TypeError(f"{name}: complex values are not supported, got {v!r}")
        if not isinstance(v, (numbers.Real, np.bool_)):
            raise TypeError(f"{name}: expected a number, got {v!r}")
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.dtype(np.bool_)
    if all(isinstance(v, (numbers.Integral, np.bool_)) for v in values):
        return np.dtype(np.int64)
    return DEFAULT_FLOAT


def _constant(name, size, value, dtype, requires_grad, device):
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    return _make(name, np.full(_size(name, size, dt), value, dt), requires_grad, device)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _constant("zeros", size, 0, dtype, requires_grad, device)


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _constant("ones", size, 1, dtype, requires_grad, device)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """Like :func:`zeros` (minigrad never returns uninitialised memory)."""
    return _constant("empty", size, 0, dtype, requires_grad, device)


def full(size, fill_value, *, dtype=None, requires_grad=False, device=None):
    """A tensor of ``size`` holding ``fill_value``; the dtype is inferred from it unless given."""
    dt = as_dtype(dtype) or _infer("full", fill_value)
    size = _size("full", size if isinstance(size, (tuple, list)) else (size,), dt)
    value = _as_array(fill_value.data if isinstance(fill_value, Tensor) else fill_value, dt)
    return _make("full", np.full(size, value, dt), requires_grad, device)


def rand(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Uniform draws on [0, 1)."""
    dt = float_dtype(dtype, "rand")
    arr = check_generator(generator, "rand").random(_size("rand", size, dt), dtype=dt)
    return _make("rand", arr, requires_grad, device)


def randn(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Standard normal draws."""
    dt = float_dtype(dtype, "randn")
    arr = check_generator(generator, "randn").standard_normal(_size("randn", size, dt), dtype=dt)
    return _make("randn", arr, requires_grad, device)


def randint(*args, size=None, generator=None, dtype=None, requires_grad=False, device=None):
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high), int64."""
    if size is not None:
        args = args + (size,)
    if len(args) == 2:
        args = (0,) + args
    if len(args) != 3:
        raise TypeError("randint expects (high, size) or (low, high, size)")
    low, high, size = args
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"randint: low and high must be ints, got {low!r}, {high!r}")
    if not low < high:
        raise ValueError(f"randint: expects low < high, got low={low}, high={high}")
    if low < -2 ** 63 or high > 2 ** 63:        # the draws are int64
        raise ValueError(f"randint: low and high must lie in the int64 range [-2**63, 2**63], got "
                         f"low={low}, high={high}")
    size = _size("randint", size if isinstance(size, (tuple, list)) else (size,), np.int64)
    arr = check_generator(generator, "randint").integers(low, high, size, dtype=np.int64)
    dt = as_dtype(dtype)
    return _make("randint", arr if dt is None else arr.astype(dt), requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, requires_grad=False, device=None):
    """``arange(end)`` or ``arange(start, end, step)``: int64 when all three are ints, else float32."""
    if end is None:
        start, end = 0, start
    dt = as_dtype(dtype) or _infer("arange", start, end, step)
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    for v in (start, end, step):
        if not math.isfinite(v):
            raise ValueError(f"arange: start, end and step must be finite, got {start}, {end}, {step}")
    if (end - start) / step > 2 ** 40:
        raise ValueError(f"arange: {start}..{end} by {step} would hold more than 2**40 elements")
    work = np.int64 if dt.kind in "iub" else np.float64      # compute in double, as PyTorch
    return _make("arange", np.arange(start, end, step, dtype=work).astype(dt, copy=False), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default)."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    _infer("linspace", start, end)                       # numbers only (errors name the value)
    check_numel("linspace", "the result", (steps,), np.float64)        # computed in float64
    dt = as_dtype(dtype) or DEFAULT_FLOAT
    return _make("linspace", np.linspace(start, end, int(steps)).astype(dt), requires_grad, device)


# ------------------------------------------------------------------ *_like
def _like_dtype(t, dtype):
    return as_dtype(dtype) or (t.data.dtype if isinstance(t, Tensor) else np.asarray(t).dtype)


def _shape_of(t):
    return np.shape(t.data if isinstance(t, Tensor) else t)


def zeros_like(t, *, dtype=None, requires_grad=False, device=None):
    return _constant("zeros_like", _shape_of(t), 0, _like_dtype(t, dtype), requires_grad, device)


def ones_like(t, *, dtype=None, requires_grad=False, device=None):
    return _constant("ones_like", _shape_of(t), 1, _like_dtype(t, dtype), requires_grad, device)


def empty_like(t, *, dtype=None, requires_grad=False, device=None):
    return _constant("empty_like", _shape_of(t), 0, _like_dtype(t, dtype), requires_grad, device)


def full_like(t, fill_value, *, dtype=None, requires_grad=False, device=None):
    return full(_shape_of(t), fill_value, dtype=_like_dtype(t, dtype), requires_grad=requires_grad,
                device=device)


def rand_like(t, *, generator=None, dtype=None, requires_grad=False, device=None):
    return rand(t.shape, generator=generator, dtype=_like_dtype(t, dtype), requires_grad=requires_grad,
                device=device)


def randn_like(t, *, generator=None, dtype=None, requires_grad=False, device=None):
    return randn(t.shape, generator=generator, dtype=_like_dtype(t, dtype), requires_grad=requires_grad,
                 device=device)


def randint_like(t, low=0, high=None, *, generator=None, dtype=None, requires_grad=False, device=None):
    """``randint_like(t, high)`` or ``randint_like(t, low, high)``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, t.shape, generator=generator, dtype=_like_dtype(t, dtype),
                   requires_grad=requires_grad, device=device)


# ------------------------------------------------------------------ from NumPy, Tensor.new_*
def from_numpy(arr):
    """A tensor of the NumPy array ``arr`` keeping its dtype (float32, float64, integer or bool).

    A C-contiguous array is shared, as in PyTorch: writes to either show in the other. minigrad
    tensors are always C-contiguous, so a strided view (``data[3:, :-1]``, a transpose) is copied
    instead -- the one difference from ``torch.from_numpy``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(arr).__name__}")
    return Tensor(arr)           # keeps the dtype, and the memory of a contiguous array


def new_tensor(self, data, *, dtype=None, requires_grad=False, device=None):
    """A new tensor from ``data`` with this tensor's dtype unless ``dtype`` says otherwise."""
    check_device(device, "new_tensor")
    return Tensor(data, dtype=_like_dtype(self, dtype), requires_grad=requires_grad)


def new_zeros(self, *size, dtype=None, requires_grad=False, device=None):
    return _constant("new_zeros", size, 0, _like_dtype(self, dtype), requires_grad, device)


def new_ones(self, *size, dtype=None, requires_grad=False, device=None):
    return _constant("new_ones", size, 1, _like_dtype(self, dtype), requires_grad, device)


def new_empty(self, *size, dtype=None, requires_grad=False, device=None):
    return _constant("new_empty", size, 0, _like_dtype(self, dtype), requires_grad, device)


def new_full(self, size, fill_value, *, dtype=None, requires_grad=False, device=None):
    return full(size, fill_value, dtype=_like_dtype(self, dtype), requires_grad=requires_grad, device=device)
