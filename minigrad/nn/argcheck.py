"""Argument checks shared by the functional API (:mod:`minigrad.nn.functional`) and its modules.

Every public function validates its arguments here before any array work, so a wrong type,
dtype, shape or value gives one clear exception that names the function, the argument and the
offending value -- never a NumPy error from deep inside a forward.
"""
import numbers

import numpy as np

from ..random import check_generator  # noqa: F401 (re-exported: its home is random.py)
from ..tensor import _FLOAT_DTYPES, Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")
from ..dtypes import INT64_MAX as _INT64_MAX


def float_tensor(x, fname, name):
    """``x`` as a float tensor (arrays/numbers are wrapped), else a clear TypeError."""
    if isinstance(x, (str, bytes, tuple, dict)) or x is None:
        raise TypeError(f"{fname}: {name} must be a tensor, got {type(x).__name__}"
                        + (" (a recurrent layer returns (output, state): pick the output first)"
                           if isinstance(x, tuple) else ""))
    t = as_tensor(x)
    if t.data.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{fname}: {name} must be a float32/float64 tensor, got dtype {t.data.dtype}")
    return t


def int_array(idx, fname, name):
    """Class targets / indices as an int64 ndarray (integer tensor, array or nested list).

    Unsigned values that do not fit in int64 are rejected (a uint64 near 2**64 would otherwise
    wrap to a small negative number such as -100, the default ``ignore_index``).
    """
    arr = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fname}: {name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size and arr.max() > _INT64_MAX:
        raise ValueError(f"{fname}: {name} holds the value {int(arr.max())}, which does not fit in int64 "
                         "(a class index must be small and non-negative)")
    return arr.astype(np.int64, copy=False)


def check_int(value, fname, name, lo=None):
    """A Python/NumPy integer (not a bool), at least ``lo`` when given, returned as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fname}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if lo is not None and value < lo:
        raise ValueError(f"{fname}: {name} must be an int >= {lo}, got {value!r}")
    return int(value)


def positive_int(value, name, fname=None):
    """A positive integer, else ValueError for any other value (PyTorch's choice for sizes and counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{fname + ': ' if fname else ''}{name} must be a positive integer, got {value!r}")
    return int(value)


def check_real(value, fname, name, lo=None, hi=None, lo_open=False, hi_open=False):
    """A real number (not a bool or a string) within [lo, hi] (``lo_open`` / ``hi_open`` exclude an
    end; None is unbounded), as float. NaN is always rejected."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fname}: {name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    too_low = lo is not None and (v <= lo if lo_open else v < lo)
    too_high = hi is not None and (v >= hi if hi_open else v > hi)
    if too_low or too_high or v != v:
        rng = (f"{'(' if lo_open else '['}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}"
               f"{')' if hi_open else ']'}")
        raise ValueError(f"{fname}: {name} must be in {rng}, got {value!r}")
    return v


def check_reduction(reduction, fname):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{fname}: unknown reduction {reduction!r}; use one of {', '.join(map(repr, REDUCTIONS))}")


def norm_axis(axis, ndim, fname):
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{fname}: dim must be an int, got {type(axis).__name__}")
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{fname}: dim {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % max(ndim, 1)


def pick_dim(dim, axis, default, fname):
    """PyTorch's ``dim=`` or NumPy's ``axis=`` (both accepted; giving both is an error)."""
    if dim is not None and axis is not None:
        raise TypeError(f"{fname}: give dim or axis, not both")
    return default if dim is None and axis is None else (dim if dim is not None else axis)


def const_array(x, fname, name, dtype, shape=None):
    """A constant operand (class/element weight, target) as an array of ``dtype`` (no gradient).

    ``shape``: the exact shape required, or None. Tensors that require grad are rejected: minigrad
    does not differentiate through loss weights.
    """
    if isinstance(x, Tensor):
        if x.requires_grad:
            raise TypeError(f"{fname}: {name} must not require grad (weights of a loss are constants)")
        x = x.data
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: {name} must be numeric, got dtype {arr.dtype}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{fname}: {name} must have shape {tuple(shape)}, got {arr.shape}")
    return arr if dtype is None else arr.astype(dtype, copy=False)


def same_shape(x, y, fname):
    """Element-wise losses: input and target must have the same shape (no silent broadcasting)."""
    y_shape = tuple(y.shape) if isinstance(y, (Tensor, np.ndarray)) else np.shape(y)
    if y_shape != x.shape:
        raise ValueError(f"{fname}: input has shape {x.shape} but target has shape {y_shape}; "
                         "they must match exactly (no broadcasting)")
