"""Elementwise arithmetic with NumPy broadcasting: add, sub, mul, div, pow, neg.

Broadcasting in the forward pass means one input element may feed several output elements; in
the backward pass their gradients must be *summed* back to the input's shape. Every op here (and
``where``) does that with the one helper :func:`unbroadcast`.

Operands may be tensors, NumPy arrays or Python numbers; numbers and arrays take the dtype of the
float tensor they meet. An integer *tensor* meeting a float tensor is converted to that float
dtype (NumPy would promote int64 + float32 to float64); integer tensors never carry gradients.
As in PyTorch, an integer tensor meeting a Python float becomes float32 (a float NumPy array: its
dtype), and true division of integers gives float32.
"""
import numpy as np

from ..dtypes import DEFAULT_FLOAT
from ..tensor import Function, Tensor, _FLOAT_DTYPES


def unbroadcast(grad, shape):
    """Sum ``grad`` (the shape of a broadcast result) back down to ``shape``.

    Leading axes that broadcasting added are summed away; axes where ``shape`` has 1 but the
    result does not are summed with keepdims. Returns ``grad`` itself when nothing was broadcast.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def check_broadcast(name, a, b):
    """Raise a ValueError naming both shapes when ``a`` and ``b`` cannot be broadcast together.

    (Hand-written rather than ``np.broadcast_shapes``, which costs microseconds on every op.)
    """
    sa, sb = a.shape, b.shape
    if sa == sb or not sa or not sb:
        return
    for m, n in zip(sa[::-1], sb[::-1]):
        if m != n and m != 1 and n != 1:
            raise ValueError(f"{name}: shapes {sa} and {sb} cannot be broadcast together")


def _float_of(x):
    """The float dtype a non-tensor operand brings: float32 for a Python float, a float array's own
    dtype; None for integers, bools and anything else."""
    if type(x) is float:
        return DEFAULT_FLOAT
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "f":
        return x.dtype if x.dtype in _FLOAT_DTYPES else DEFAULT_FLOAT
    return None


def broadcasts_to(shape, target):
    """Whether an array of ``shape`` broadcasts to exactly ``target`` (for masks and in-place
    operands, whose result keeps the target's shape)."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def float_operands(a, b):
    """Convert an integer/bool tensor meeting a float tensor (or a Python float, or a float array)
    to that float dtype (not differentiable)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        fa, fb = a.data.dtype in _FLOAT_DTYPES, b.data.dtype in _FLOAT_DTYPES
        if fa and not fb:
            b = Tensor(b.data, dtype=a.data.dtype)
        elif fb and not fa:
            a = Tensor(a.data, dtype=b.data.dtype)
    elif ta and a.data.dtype not in _FLOAT_DTYPES:
        dt = _float_of(b)
        if dt is not None:
            a = Tensor(a.data, dtype=dt)
    elif tb and b.data.dtype not in _FLOAT_DTYPES:
        dt = _float_of(a)
        if dt is not None:
            b = Tensor(b.data, dtype=dt)
    return a, b


class Add(Function):
    def forward(self, a, b):
        check_broadcast("add", a, b)
        return a + b

    def backward(self, g):
        a, b = self.inputs
        ga = unbroadcast(g, a.data.shape) if self.needs[0] else None
        gb = unbroadcast(g, b.data.shape) if self.needs[1] else None
        return ga, gb


class Sub(Function):
    def forward(self, a, b):
        check_broadcast("sub", a, b)
        return a - b

    def backward(self, g):
        a, b = self.inputs
        ga = unbroadcast(g, a.data.shape) if self.needs[0] else None
        gb = unbroadcast(-g, b.data.shape) if self.needs[1] else None
        return ga, gb


class Mul(Function):
    def forward(self, a, b):
        check_broadcast("mul", a, b)
        self.save(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        ga = unbroadcast(g * b, a.shape) if self.needs[0] else None
        gb = unbroadcast(g * a, b.shape) if self.needs[1] else None
        return ga, gb


class Div(Function):
    """True division ``a / b``: d/da = 1/b, d/db = -a/b^2."""

    def forward(self, a, b):
        check_broadcast("div", a, b)
        self.save(a, b)
        return a / b

    def backward(self, g):
        a, b = self.saved
        gb_full = g / b
        ga = unbroadcast(gb_full, a.shape) if self.needs[0] else None
        gb = unbroadcast(-gb_full * a / b, b.shape) if self.needs[1] else None
        return ga, gb


class PowScalar(Function):
    """``x ** p`` for a Python number ``p``: d/dx = p * x^(p-1) (zero when p == 0)."""

    def forward(self, x, p):
        self.save(x)
        self.p = p
        return x ** x.dtype.type(p) if x.dtype in _FLOAT_DTYPES else x ** p

    def backward(self, g):
        (x,) = self.saved
        p = self.p
        if p == 0:
            return np.zeros_like(x)
        if p == 1:
            return g
        if p == 2:
            return g * (2 * x)
        return g * (x.dtype.type(p) * x ** x.dtype.type(p - 1))


class Pow(Function):
    """``a ** b`` for two tensors: d/da = b a^(b-1); d/db = a^b log(a) (taken as 0 where a == 0 and
    b >= 0, as PyTorch does; NaN for a negative base, where the real power is undefined anyway)."""

    def forward(self, a, b):
        check_broadcast("pow", a, b)
        out = a ** b
        self.save(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        ga = gb = None
        if self.needs[0]:
            ga = unbroadcast(g * b * a ** (b - 1), a.shape)
        if self.needs[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = out * np.log(a)
            d = np.where((a == 0) & (b >= 0), 0, d).astype(out.dtype, copy=False)
            gb = unbroadcast(g * d, b.shape)
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


# ------------------------------------------------------------------ functional forms
def add(a, b):
    return Add.apply(*float_operands(a, b))


def sub(a, b):
    return Sub.apply(*float_operands(a, b))


def mul(a, b):
    return Mul.apply(*float_operands(a, b))


def div(a, b):
    """True division; two integer operands give float32 (PyTorch), not NumPy's float64."""
    a, b = float_operands(a, b)
    fa = isinstance(a, Tensor) and a.data.dtype in _FLOAT_DTYPES
    if not fa and not (isinstance(b, Tensor) and b.data.dtype in _FLOAT_DTYPES):
        if isinstance(a, Tensor):
            a = Tensor(a.data, dtype=DEFAULT_FLOAT)
        elif isinstance(b, Tensor):
            b = Tensor(b.data, dtype=DEFAULT_FLOAT)
        a, b = float_operands(a, b)
    return Div.apply(a, b)


def pow(a, b):
    """``a ** b``: a number exponent uses the cheaper :class:`PowScalar`; an integer tensor to a
    float power gives float32."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if type(b) is float and a.data.dtype not in _FLOAT_DTYPES:
            a = Tensor(a.data, dtype=DEFAULT_FLOAT)
        return PowScalar.apply(a, p=b)
    return Pow.apply(*float_operands(a, b))


def neg(a):
    return Neg.apply(a)
