"""The differentiable operations, and the Tensor operators and methods that call them.

One small :class:`~minigrad.tensor.Function` subclass per op, grouped by kind:

* ``arith``     add, sub, mul, div, pow, neg (NumPy broadcasting; ``unbroadcast``)
* ``linalg``    matmul on the C GEMM
* ``reduce``    sum, mean, max
* ``shape``     reshape, permute/transpose, indexing, concat, stack, split, where
* ``pointwise`` exp, log, tanh, sigmoid, relu, abs, clip

Importing this package attaches ``+ - * / ** @``, unary ``-``, their reflected forms, the
comparisons (non-differentiable boolean tensors) and the methods (``t.sum()``, ``t.T``, ``t[i]``...)
to :class:`~minigrad.tensor.Tensor`.
"""
import numpy as np

from ..tensor import Tensor, as_tensor
from .arith import add, div, mul, neg, pow, sub, unbroadcast
from .linalg import matmul
from .pointwise import abs, clip, exp, log, relu, sigmoid, tanh
from .reduce import max, mean, sum
from .shape import concat, getitem, permute, reshape, split, stack, transpose, where

__all__ = ["abs", "add", "clip", "concat", "div", "exp", "getitem", "log", "matmul", "max", "mean",
           "mul", "neg", "permute", "pow", "relu", "reshape", "sigmoid", "split", "stack", "sub",
           "sum", "tanh", "transpose", "unbroadcast", "where"]


def _compare(ufunc):
    """A comparison operator: a boolean tensor, never recorded on the tape."""
    def op(self, other):
        if other is None:
            return NotImplemented      # `t == None` is False, `t != None` True (identity fallback)
        other = as_tensor(other, self)
        return Tensor(ufunc(self.data, other.data))
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
    T.__abs__ = abs


_attach()
