"""Matrix multiplication on the C GEMM, with NumPy's ``matmul`` semantics.

Shape legend: M rows of the left operand, K the shared (contracted) dimension, P columns of the
right operand, N a batch.

* (M, K) @ (K, P): one GEMM.
* (..., M, K) @ (K, P) (activations times a weight): the leading axes are flattened so the whole
  batch is ONE (R, K) @ (K, P) GEMM with R = prod(...) * M, and the weight gradient is likewise
  one GEMM over all R rows: dB = A^T @ G.
* (..., M, K) @ (..., K, P): batched GEMM; batch axes broadcast as in NumPy (a broadcast operand
  is materialised and its gradient summed back with :func:`unbroadcast`).
* A 1-D left operand is treated as (1, K) and a 1-D right operand as (K, 1); the added axis is
  removed from the result, exactly as ``np.matmul`` does.

Backward uses the transpose flags of the GEMM -- dA = G @ B^T (``trans_b``) and dB = A^T @ G
(``trans_a``) -- so no transposed copy is ever made, and skips a GEMM whose input needs no gradient.
"""
import math

import numpy as np

from .. import kernels
from ..tensor import Function, _FLOAT_DTYPES
from .arith import float_operands, unbroadcast


def _check(a, b):
    """Validate the shapes of ``a @ b`` and return the result shape (errors name both shapes)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{ka} (last dim of the first) != {kb} (the second's contracted dim)")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    try:
        batch = np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast") from None
    m = () if a.ndim == 1 else (a.shape[-2],)
    p = () if b.ndim == 1 else (b.shape[-1],)
    return batch + m + p


def _rows(x):
    """(..., K) -> (R, K) with R = prod(...), spelled out so zero-size arrays reshape too."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])


class MatMul(Function):
    def forward(self, a, b):
        out_shape = _check(a, b)
        self.save(a, b)
        if a.dtype not in _FLOAT_DTYPES:          # integer matmul: plain NumPy, never recorded
            return np.matmul(a, b)
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if b2.ndim == 2:
            # (..., M, K) @ (K, P): one GEMM over all R = prod(...) * M rows
            out = kernels.gemm(_rows(a2), b2)
        else:
            a3, b3, _ = self._batched(a2, b2)
            out = kernels.gemm_batched(a3, b3)
        return out.reshape(out_shape)

    @staticmethod
    def _batched(a2, b2):
        """Both operands as (N, ., .) arrays with the broadcast batch shape flattened to N."""
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        n = math.prod(batch)
        a3 = np.broadcast_to(a2, batch + a2.shape[-2:]).reshape(n, *a2.shape[-2:])
        b3 = np.broadcast_to(b2, batch + b2.shape[-2:]).reshape(n, *b2.shape[-2:])
        return a3, b3, batch

    def backward(self, g):
        a, b = self.saved
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        ga = gb = None
        if b2.ndim == 2:
            k, p = b2.shape
            a_rows = _rows(a2)                                # (R, K)
            g_rows = _rows(np.ascontiguousarray(g).reshape(a_rows.shape[0], p))  # (R, P)
            if self.needs[0]:
                ga = kernels.gemm(g_rows, b2, trans_b=True).reshape(a.shape)   # G @ B^T
            if self.needs[1]:
                gb = kernels.gemm(a_rows, g_rows, trans_a=True).reshape(b.shape)  # A^T @ G, one GEMM
            return ga, gb
        a3, b3, batch = self._batched(a2, b2)
        g3 = np.ascontiguousarray(g).reshape(a3.shape[0], a3.shape[1], b3.shape[2])
        if self.needs[0]:
            ga3 = kernels.gemm_batched(g3, b3, trans_b=True).reshape(batch + a2.shape[-2:])
            ga = unbroadcast(ga3, a2.shape).reshape(a.shape)
        if self.needs[1]:
            gb3 = kernels.gemm_batched(a3, g3, trans_a=True).reshape(batch + b2.shape[-2:])
            gb = unbroadcast(gb3, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(a, b):
    """``a @ b`` with NumPy's matmul semantics (see the module docstring)."""
    return MatMul.apply(*float_operands(a, b))
