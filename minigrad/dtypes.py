"""PyTorch's dtype and device names: ``mg.float32``, ``mg.double``, ``mg.long``, ``mg.device("cpu")``.

minigrad's dtypes *are* NumPy dtypes (``t.dtype`` is a ``numpy.dtype``), so each name here is
simply the matching ``numpy.dtype``: ``mg.float32 == np.float32``, ``t.dtype == mg.float64`` and
``np.zeros(3, mg.long)`` all work, and NumPy dtypes keep working wherever minigrad accepts a dtype.

Tensors live in host memory only. ``device`` exists so that PyTorch's device-selection idiom
(``device = mg.device("cpu")``; ``t.to(device)``; ``t.device``) runs unchanged; asking for any
other device type raises at once instead of failing later.
"""
import builtins
import math
import numbers

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

INT64_MAX = int(np.iinfo(np.int64).max)   # lengths, time steps and class indices are int64 in C
FLOAT_DTYPES = (float32, float64)

# The largest byte count (so also element count and dimension) an ndarray can have: NumPy keeps
# sizes in intp. Above it NumPy's own errors ("Maximum allowed dimension exceeded", "array is too
# big") name no argument; below it a size that does not fit in memory gets NumPy's MemoryError,
# which names the bytes and the shape.
MAX_ARRAY_BYTES = int(np.iinfo(np.intp).max)
DEFAULT_FLOAT = float32     # what Python floats, factories and integer-to-float ops produce


def check_numel(owner, what, shape, dtype):
    """A ValueError naming ``owner``, ``what`` and ``shape`` when an array of that shape and dtype
    cannot exist at all (a dimension or its byte size above ``MAX_ARRAY_BYTES``); call it before
    allocating."""
    itemsize = np.dtype(dtype).itemsize
    nbytes = math.prod(shape) * itemsize
    if nbytes > MAX_ARRAY_BYTES or any(n > MAX_ARRAY_BYTES for n in shape):
        raise ValueError(f"{owner}: {what} of shape {tuple(shape)} ({np.dtype(dtype).name}) would take "
                         f"{nbytes} bytes, more than any array can hold ({MAX_ARRAY_BYTES})")


def as_dtype(dtype, name="dtype"):
    """``dtype`` (a minigrad/NumPy dtype, a NumPy type or a name such as "float64") as a
    ``numpy.dtype``; None stays None. Errors name the value."""
    if dtype is None or isinstance(dtype, np.dtype):
        return dtype
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: {dtype!r} is not a dtype (use mg.float32, mg.float64, mg.int64, "
                        "mg.bool or a NumPy dtype)") from None


def float_dtype(dtype, name):
    """``dtype`` as one of the float dtypes (default float32); other dtypes raise TypeError."""
    dt = as_dtype(dtype, name) or DEFAULT_FLOAT
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}: dtype must be float32 or float64, got {dt}")
    return dt


class device:
    """A device (``torch.device``): only ``"cpu"`` (or ``"cpu:0"``) exists in minigrad.

    ``device("cpu")``, ``device("cpu", 0)`` and ``device(device("cpu"))`` are equal; ``str(d)`` is
    ``"cpu"``. Any other type ("cuda", "mps", ...) raises RuntimeError naming it.
    """

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        kind, _, idx = type.partition(":")
        if idx:
            if not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = builtins.int(idx)
        if kind != "cpu":
            hint = ""
            try:
                np.dtype(type)
                hint = f"; for a dtype pass mg.{type} (not a string)"
            except TypeError:
                pass
            raise RuntimeError(f"device {type!r} is not available: minigrad runs on the CPU only "
                               f"(use 'cpu'){hint}")
        if index is not None and (isinstance(index, builtins.bool) or not isinstance(index, numbers.Integral)
                                  or index != 0):
            raise RuntimeError(f"device: there is one CPU device (index 0), got index {index!r}")
        self.type, self.index = kind, index

    def __eq__(self, other):
        return isinstance(other, device) and other.type == self.type

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        extra = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{extra})"


CPU = device("cpu")


def check_device(dev, name):
    """Accept ``None``, ``"cpu"`` or a ``device``; anything else raises (naming ``name``)."""
    if dev is not None and not isinstance(dev, device):
        if not isinstance(dev, str):
            raise TypeError(f"{name}: device must be a string such as 'cpu' or an mg.device, got {dev!r}")
        device(dev)


# PyTorch's short names. They shadow the builtins `float`, `int` and `bool` in this module's
# globals, so the functions above reach the builtins through `builtins.`.
float, double = float32, float64
long, int, short = int64, int32, int16
bool = bool_
