"""Dtype and device conversions: ``to``, ``float``, ``double``, ``long``, ``int``, ``bool``,
``type_as``, ``cpu``, ``device``; and ``masked_fill``.

A conversion between the two float dtypes is differentiable (the gradient is cast back, as in
PyTorch); a conversion to an integer or bool dtype gives a tensor that does not require grad.
Converting to the dtype a tensor already has returns the tensor itself (PyTorch's rule), so
``x.float()`` costs nothing on a float32 tensor.
"""
import numpy as np

from ..dtypes import CPU, FLOAT_DTYPES, as_dtype, check_device
from ..dtypes import device as Device
from ..tensor import Function, Tensor, _as_array
from .arith import broadcasts_to
from .layout import clone
from .shape import where


class Cast(Function):
    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.inputs[0].data.dtype)


def cast(x, dtype):
    """``x`` as ``dtype`` (itself when it already has it). Float to integer truncates, as PyTorch;
    NaN or infinity cannot become an integer."""
    dtype = as_dtype(dtype, "to")
    if x.data.dtype == dtype:
        return x
    if dtype not in FLOAT_DTYPES and dtype.kind not in "iub":
        raise TypeError(f"to: unsupported tensor dtype {dtype}; use float32, float64, an integer type or bool")
    if dtype.kind in "iub" and x.data.dtype.kind == "f" and not np.isfinite(x.data).all():
        raise ValueError(f"cannot convert a tensor holding NaN or infinity to {dtype}")
    return Cast.apply(x, dtype=dtype)


def to_args(args, dtype=None, device=None, name="to"):
    """``(dtype, device)`` from the arguments of ``to(...)`` (positional dtype, device string or
    ``mg.device``, a tensor standing for its dtype, or keywords); a device other than the CPU raises."""
    for a in args:
        if isinstance(a, Tensor):
            a = a.data.dtype
        if isinstance(a, (str, Device)):
            if device is not None:
                raise TypeError(f"{name}: device given twice")
            device = a
        elif dtype is None:
            dtype = a
        else:
            raise TypeError(f"{name}: unexpected argument {a!r} (dtype already given as {dtype!r})")
    check_device(device, name)
    return dtype, device


def to(x, *args, dtype=None, device=None, copy=False, non_blocking=False):
    """``to(dtype)``, ``to(device)`` ("cpu" or ``mg.device``), ``to(device, dtype)``,
    ``to(other_tensor)`` (its dtype) -- as ``torch.Tensor.to``. ``copy=True`` always copies."""
    dtype, _ = to_args(args, dtype, device)
    out = x if dtype is None else cast(x, dtype)
    if copy and out is x:
        out = clone(x)
    return out


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
               "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


def type_(x, dtype=None):
    """``x.type()``: the type name ("minigrad.FloatTensor", ...); ``x.type(dtype)``: ``x`` as
    ``dtype`` (as ``torch.Tensor.type``)."""
    if dtype is None:
        name = x.data.dtype.name
        return f"minigrad.{_TYPE_NAMES.get(name, name)}"
    return cast(x, dtype)


def cpu(x):
    """The tensor itself (minigrad tensors always live in host memory)."""
    return x


def tensor_device(x):
    return CPU


def type_as(x, other):
    """``x`` converted to the dtype of ``other``."""
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as expects a tensor, got {type(other).__name__}")
    return cast(x, other.data.dtype)


def masked_fill(x, mask, value):
    """A copy of ``x`` with ``value`` where the boolean ``mask`` (broadcastable to x's shape) is
    true; the gradient reaches ``x`` where the mask is false."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: the mask must be boolean, got {m.dtype}")
    if not broadcasts_to(m.shape, x.shape):
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the tensor's "
                         f"shape {x.shape}")
    if isinstance(value, Tensor):
        if value.data.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.data
    fill = Tensor(_as_array(value, x.data.dtype))
    return where(m, fill, x)


def _caster(dtype):
    def method(self):
        return cast(self, dtype)
    method.__doc__ = f"``x`` as {np.dtype(dtype)} (itself if it already is)."
    return method


float_, double_ = _caster(np.float32), _caster(np.float64)
long_, int_, bool_ = _caster(np.int64), _caster(np.int32), _caster(np.bool_)
