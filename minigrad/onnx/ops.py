"""ONNX mappings of the tape's ops: one small function per Function class, keyed by its name.

A mapping ``f(g, rec, alt)`` receives the :class:`~minigrad.onnx.graph.Graph`, the traced
:class:`~minigrad.onnx.trace.Record` (input tensors, keyword constants, outputs) and ``alt``, the
same record of the second trace made at grown dynamic axes (None without dynamic axes; only the
ops whose constants are shapes read it). It appends nodes and returns the output value name(s),
one per output of the op. Ops without an entry in :data:`MAPPINGS` make the export fail with an
error naming the op and where it was recorded.
"""
import math

import numpy as np

from .graph import ExportError, elem_type

_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def _ins(g, rec):
    return [g.value(t) for t in rec.inputs]


def _scalar(g, value, like):
    """A 0-d constant of the dtype of tensor ``like`` (exponents, bounds, scales)."""
    return g.const(np.asarray(value, dtype=like.data.dtype))


def _same(op_type):
    """An op that is one ONNX node of the same inputs (Add, Tanh, MatMul ...)."""
    return lambda g, rec, alt: g.node(op_type, _ins(g, rec))


# ------------------------------------------------------------------ pointwise
def _pow_scalar(g, rec, alt):
    (x,) = rec.inputs
    return g.node("Pow", [g.value(x), _scalar(g, rec.consts["p"], x)])


def _log1p(g, rec, alt):
    (x,) = rec.inputs
    return g.node("Log", [g.node("Add", [g.value(x), _scalar(g, 1, x)])])


def _softplus(g, rec, alt):
    """log(1 + exp(beta x)) / beta, x itself where beta x > threshold (torch's softplus)."""
    (x,) = rec.inputs
    xv, beta = g.value(x), _scalar(g, rec.consts["beta"], x)
    bx = g.node("Mul", [xv, beta])
    smooth = g.node("Div", [g.node("Softplus", [bx]), beta])
    return g.node("Where", [g.node("Greater", [bx, _scalar(g, rec.consts["threshold"], x)]), xv, smooth])


def _clip(g, rec, alt):
    """Max with ``lo`` then Min with ``hi`` (bounds may be numbers or arrays)."""
    (x,) = rec.inputs
    out = g.value(x)
    for op_type, bound in (("Max", rec.consts["lo"]), ("Min", rec.consts["hi"])):
        if bound is not None:
            out = g.node(op_type, [out, g.const(bound, x.data.dtype)])
    return out


def _gelu(g, rec, alt):
    (x,) = rec.inputs
    xv = g.value(x)
    half = g.node("Mul", [xv, _scalar(g, 0.5, x)])
    if rec.consts["approximate"] == "none":        # x/2 (1 + erf(x / sqrt 2))
        inner = g.node("Erf", [g.node("Mul", [xv, _scalar(g, math.sqrt(0.5), x)])])
    else:                                          # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Pow", [xv, _scalar(g, 3, x)]), _scalar(g, 0.044715, x)])
        inner = g.node("Tanh", [g.node("Mul", [g.node("Add", [xv, cube]), _scalar(g, math.sqrt(2 / math.pi), x)])])
    return g.node("Mul", [half, g.node("Add", [inner, _scalar(g, 1, x)])])


def _cast(g, rec, alt):
    return g.node("Cast", _ins(g, rec), to=elem_type(rec.consts["dtype"]))


_COMPARE = {"less": "Less", "less_equal": "LessOrEqual", "greater": "Greater", "greater_equal": "GreaterOrEqual",
            "equal": "Equal", "not_equal": "Equal"}


def _compare(g, rec, alt):
    """``<, <=, >, >=, ==, !=`` (boolean outputs; ``!=`` is Not(Equal))."""
    ufunc = rec.consts["ufunc"]
    out = g.node(_COMPARE[ufunc], _ins(g, rec))
    return g.node("Not", [out]) if ufunc == "not_equal" else out


def _arg_extreme(op_type):
    """argmax/argmin: along ``dim``, or over the flattened tensor (``dim=None``)."""
    def f(g, rec, alt):
        (x,) = rec.inputs
        d, keep = rec.consts["dim"], rec.consts["keepdim"]
        if d is not None:
            return g.node(op_type, [g.value(x)], axis=int(d), keepdims=int(keep))
        out = g.node(op_type, [g.node("Reshape", [g.value(x), g.ints([-1])])], axis=0, keepdims=0)
        return g.node("Reshape", [out, g.ints([1] * x.ndim)]) if keep else out
    return f


def _where(g, rec, alt):
    return g.node("Where", [g.array(rec.consts["cond"])] + _ins(g, rec))


# ------------------------------------------------------------------ linear algebra, lookups
def _linear(g, rec, alt):
    """y = x W^T + b: Gemm for a 2-D x, else MatMul with W^T (a Transpose node, so a weight tied to
    an embedding stays one initialiser) plus Add."""
    x, w = rec.inputs[:2]
    names = _ins(g, rec)
    if x.ndim == 2:
        return g.node("Gemm", names, transB=1)
    y = g.node("MatMul", [names[0], g.node("Transpose", [names[1]], perm=[1, 0])])
    return g.node("Add", [y, names[2]]) if len(names) > 2 else y


def _embedding(g, rec, alt):
    (w,) = rec.inputs
    return g.node("Gather", [g.value(w), g.array(rec.consts["indices"], np.int64)], axis=0)


def _softmax(op_type):
    return lambda g, rec, alt: g.node(op_type, _ins(g, rec), axis=int(rec.consts["axis"]))


# ------------------------------------------------------------------ reductions
def _reduce(op_type):
    def f(g, rec, alt):
        (x,) = rec.inputs
        axes = tuple(range(x.ndim)) if rec.consts.get("axis") is None else rec.consts["axis"]
        axes = [int(a) % max(x.ndim, 1) for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]
        return g.reduce(op_type, g.value(x), axes, rec.consts.get("keepdims", False))
    return f


def _extreme_dim(g, rec, alt):
    """max(dim)/min(dim): the values (a reduction) and the int64 indices (ArgMax/ArgMin)."""
    (x,) = rec.inputs
    d, keep = rec.consts["dim"], rec.consts["keepdim"]
    which = "Max" if rec.consts["find"] is np.argmax else "Min"
    xv = g.value(x)
    return (g.reduce("Reduce" + which, xv, [d], keep),
            g.node("Arg" + which, [xv], axis=int(d), keepdims=int(keep)))


# ------------------------------------------------------------------ shapes
def _reshape(g, rec, alt):
    """Reshape to the traced shape. With dynamic axes, an entry that differs in the second trace is
    0 (copy the input's dim) where it equals the input's dim at that position in both traces, else
    -1 (inferred); more than one inferred entry cannot be expressed and raises."""
    (x,) = rec.inputs
    shape = list(rec.consts["shape"])
    if alt is not None:
        other, xs, axs = list(alt.consts["shape"]), x.shape, alt.inputs[0].shape
        for i, (n, m) in enumerate(zip(shape, other)):
            if n != m:
                shape[i] = 0 if i < len(xs) and xs[i] == n and axs[i] == m else -1
        if shape.count(-1) > 1:
            raise ExportError(f"Reshape to {tuple(rec.consts['shape'])} {rec.where}: more than one size "
                              f"depends on a dynamic axis (ONNX Reshape infers only one); reshape with -1 "
                              "or keep the dynamic axes where they are")
    return g.node("Reshape", [g.value(x), g.ints(shape)])


def _permute(g, rec, alt):
    return g.node("Transpose", _ins(g, rec), perm=[int(a) for a in rec.consts["axes"]])


def _expand(g, rec, alt):
    return g.node("Expand", [g.value(rec.inputs[0]), g.ints(rec.consts["shape"])])


def _concat(g, rec, alt):
    return g.node("Concat", _ins(g, rec), axis=int(rec.consts["axis"]))


def _stack(g, rec, alt):
    axis = int(rec.consts["axis"])
    return g.node("Concat", [g.unsqueeze(v, [axis]) for v in _ins(g, rec)], axis=axis)


def _split(g, rec, alt):
    sizes = [int(s) for s in rec.consts["sizes"]]
    outs = g.node("Split", [g.value(rec.inputs[0]), g.ints(sizes)], n_out=len(sizes),
                  axis=int(rec.consts["axis"]))
    return outs if isinstance(outs, list) else [outs]


def _getitem(g, rec, alt):
    """NumPy indexing as Slice (slices), Gather (ints and one integer array) and Unsqueeze (None).

    Each index component produces output dims in order: a slice one, an int none, an integer
    array its own ndim, None a new dim of size 1. Slices are applied first (one Slice node), then
    the Gathers from the last indexed axis to the first (so earlier axis numbers stay valid), then
    the Unsqueezes at the output positions of the None entries.
    """
    (x,) = rec.inputs
    index = rec.consts["index"]
    parts = list(index) if isinstance(index, tuple) else [index]
    arrays = [p for p in parts if isinstance(p, np.ndarray)]
    if any(a.dtype == np.bool_ for a in arrays) or any(isinstance(p, (bool, np.bool_)) for p in parts):
        raise ExportError(f"GetItem with a boolean mask {rec.where}: the result's shape depends on the "
                          "mask's values, which ONNX cannot express statically; index with integers")
    ints = [p for p in parts if not isinstance(p, (slice, np.ndarray)) and p is not None and p is not Ellipsis]
    if len(arrays) > 1 or (arrays and ints):
        raise ExportError(f"GetItem with several advanced (array/int) indices {rec.where}: only one integer "
                          "array (with slices) can be exported")
    if Ellipsis in [p for p in parts if not isinstance(p, np.ndarray)]:
        k = next(i for i, p in enumerate(parts) if p is Ellipsis)
        used = sum(1 for p in parts if p is not None and p is not Ellipsis)
        parts[k:k + 1] = [slice(None)] * (x.ndim - used)
    out = g.value(x)
    starts, ends, axes, steps, gathers, nones, out_dims, axis = [], [], [], [], [], [], 0, 0
    for p in parts:
        if p is None:
            nones.append(out_dims)
            out_dims += 1
            continue
        if isinstance(p, slice):
            if p != slice(None):
                step = 1 if p.step is None else int(p.step)
                starts.append((0 if step > 0 else -1) if p.start is None else int(p.start))
                ends.append((_INT64_MAX if step > 0 else _INT64_MIN) if p.stop is None else int(p.stop))
                axes.append(axis)
                steps.append(step)
            out_dims += 1
        else:
            arr = p if isinstance(p, np.ndarray) else np.asarray(int(p), dtype=np.int64)
            gathers.append((axis, arr))
            out_dims += arr.ndim
        axis += 1
    if axes:
        out = g.node("Slice", [out, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for ax, arr in reversed(gathers):
        out = g.node("Gather", [out, g.array(arr, np.int64)], axis=ax)
    if nones:
        out = g.unsqueeze(out, nones)
    if out == g.values.get(id(x)):
        out = g.node("Identity", [out])
    return out


def _identity(g, rec, alt):
    return g.node("Identity", _ins(g, rec)[:1])


def _inside_layer(g, rec, alt):
    raise ExportError(f"{rec.op} {rec.where}: this recurrent op was called directly (not through an "
                      "nn.RNN/LSTM/GRU layer or cell module, which export as ONNX's RNN/LSTM/GRU operators)")


#: Function class name -> mapping (see the module docstring).
MAPPINGS = {
    "Add": _same("Add"), "Sub": _same("Sub"), "Mul": _same("Mul"), "Div": _same("Div"), "Pow": _same("Pow"),
    "PowScalar": _pow_scalar, "Neg": _same("Neg"), "Exp": _same("Exp"), "Log": _same("Log"), "Log1p": _log1p,
    "Sqrt": _same("Sqrt"), "Sin": _same("Sin"), "Cos": _same("Cos"), "Tanh": _same("Tanh"),
    "Sigmoid": _same("Sigmoid"), "Relu": _same("Relu"), "Abs": _same("Abs"), "Softplus": _softplus,
    "Clip": _clip, "Gelu": _gelu, "Compare": _compare, "argmax": _arg_extreme("ArgMax"),
    "argmin": _arg_extreme("ArgMin"), "Cast": _cast, "Where": _where, "Clone": _identity, "Dropout": _identity,
    "MatMul": _same("MatMul"), "LinearFn": _linear, "Embedding": _embedding,
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Sum": _reduce("ReduceSum"), "Mean": _reduce("ReduceMean"), "Max": _reduce("ReduceMax"),
    "Min": _reduce("ReduceMin"), "ExtremeDim": _extreme_dim,
    "Reshape": _reshape, "Permute": _permute, "Expand": _expand, "Concat": _concat, "Stack": _stack,
    "Split": _split, "GetItem": _getitem,
    "InputProjection": _inside_layer, "RecurrentSequence": _inside_layer, "HiddenWeights": _inside_layer,
    "RecurrentStep": _inside_layer, "StackSteps": _inside_layer,
}
