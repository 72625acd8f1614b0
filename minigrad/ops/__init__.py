"""The differentiable operations, and the Tensor operators and methods that call them.

One small :class:`~minigrad.tensor.Function` subclass per op, grouped by kind:

* ``arith``     add, sub, mul, div, pow, neg (NumPy broadcasting; ``unbroadcast``)
* ``linalg``    matmul on the C GEMM
* ``reduce``    sum, mean, max, min, argmax, argmin
* ``shape``     reshape, permute/transpose, indexing, concat, stack, split, where
* ``layout``    PyTorch's shape methods on top of ``shape``: view, flatten, unsqueeze, squeeze,
  t, narrow, chunk, expand, clone; size(), dim(), numel()
* ``pointwise`` exp, log, log1p, sqrt, sin, cos, tanh, sigmoid, softplus, relu, abs, clip
* ``convert``   to(dtype / device), float(), double(), long(), type_as, masked_fill
* ``inplace``   add_, sub_, mul_, div_, zero_, fill_, copy_, clamp_, uniform_, normal_ ... (with
  the checks that keep the tape correct)

Importing this package attaches ``+ - * / ** @``, unary ``-``, their reflected forms, the
comparisons (non-differentiable boolean tensors) and the methods (``t.sum()``, ``t.T``, ``t[i]``...)
to :class:`~minigrad.tensor.Tensor`.
"""
import numpy as np

from .. import creation
from ..tensor import Tensor, as_tensor, trace_untaped
from . import convert, inplace, layout
from .arith import add, div, mul, neg, pow, sub, unbroadcast
from .convert import masked_fill
from .layout import chunk, clone, expand, flatten, narrow, squeeze, t, unsqueeze, view
from .linalg import matmul
from .pointwise import abs, clamp, clip, cos, exp, log, log1p, relu, sigmoid, sin, softplus, sqrt, tanh
from .reduce import argmax, argmin, max, mean, min, sum
from .shape import concat, getitem, permute, reshape, split, stack, transpose, where

cat = concat    # PyTorch's name

__all__ = ["abs", "add", "argmax", "argmin", "cat", "chunk", "clamp", "clip", "clone", "concat", "cos", "div",
           "exp", "expand", "flatten", "getitem", "log", "log1p", "masked_fill", "matmul", "max", "mean",
           "min", "mul", "narrow", "neg", "permute", "pow", "relu", "reshape", "sigmoid", "sin",
           "softplus", "split", "sqrt", "squeeze", "stack", "sub", "sum", "t", "tanh", "transpose",
           "unbroadcast", "unsqueeze", "view", "where"]


def _compare(ufunc):
    """A comparison operator: a boolean tensor, never recorded on the tape."""
    def op(self, other):
        if other is None:
            return NotImplemented      # `t == None` is False, `t != None` True (identity fallback)
        other = as_tensor(other, self)
        out = Tensor(ufunc(self.data, other.data))
        trace_untaped("Compare", [self, other], {"ufunc": ufunc.__name__}, (out,))   # for minigrad.onnx
        return out
    op.__name__ = f"__{ufunc.__name__}__"
    return op


def _attach():
    T = Tensor
    T.__array_ufunc__ = None     # NumPy defers to the reflected Tensor operator: ndarray * t works
    T.__add__ = add
    T.__radd__ = lambda self, other: add(other, self)
    T.__sub__ = sub
    T.__rsub__ = lambda self, other: sub(other, self)
    T.__mul__ = mul
    T.__rmul__ = lambda self, other: mul(other, self)
    T.__truediv__ = div
    T.__rtruediv__ = lambda self, other: div(other, self)
    T.__pow__ = pow
    T.__rpow__ = lambda self, other: pow(as_tensor(other, self), self)
    T.__matmul__ = matmul
    T.__rmatmul__ = lambda self, other: matmul(other, self)
    T.__neg__ = neg
    T.__getitem__ = getitem
    T.__lt__, T.__le__ = _compare(np.less), _compare(np.less_equal)
    T.__gt__, T.__ge__ = _compare(np.greater), _compare(np.greater_equal)
    T.__eq__, T.__ne__ = _compare(np.equal), _compare(np.not_equal)
    T.__hash__ = lambda self: id(self)   # defining __eq__ must not make tensors unhashable
    T.matmul = matmul
    T.sum, T.mean, T.max = sum, mean, max
    T.reshape, T.transpose, T.permute = reshape, transpose, permute
    T.T = property(lambda self: transpose(self))
    T.exp, T.log, T.tanh, T.sigmoid = exp, log, tanh, sigmoid
    T.relu, T.abs, T.clip = relu, abs, clip
    T.clamp = clamp
    T.__abs__ = abs
    _attach_pytorch_surface(T)


def _attach_pytorch_surface(T):
    """The PyTorch-named methods of issue 14 (shape, dtype/device, in-place, factories)."""
    T.min, T.argmax, T.argmin = min, argmax, argmin
    T.sqrt, T.sin, T.cos, T.log1p = sqrt, sin, cos, log1p
    T.size, T.dim, T.numel = layout.size, layout.dim, layout.numel
    T.view, T.flatten, T.unsqueeze, T.squeeze, T.t = view, flatten, unsqueeze, squeeze, t
    T.view_as = lambda self, other: view(self, other.shape)
    T.narrow, T.chunk, T.expand, T.expand_as = narrow, chunk, expand, layout.expand_as
    T.contiguous, T.clone = layout.contiguous, clone
    T.split = split
    T.to, T.type_as, T.cpu, T.masked_fill = convert.to, convert.type_as, convert.cpu, masked_fill
    T.type = convert.type_
    T.float, T.double, T.long = convert.float_, convert.double_, convert.long_
    T.int, T.bool = convert.int_, convert.bool_
    T.device = property(convert.tensor_device)
    T.is_floating_point = lambda self: self.data.dtype.kind == "f"
    T.is_contiguous = lambda self: True            # minigrad tensors always are
    T.tolist = lambda self: self.data.tolist()
    for name in ("add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "clamp_", "masked_fill_",
                 "uniform_", "normal_", "requires_grad_"):
        setattr(T, name, getattr(inplace, name))
    for name in ("new_tensor", "new_zeros", "new_ones", "new_empty", "new_full"):
        setattr(T, name, getattr(creation, name))


_attach()
