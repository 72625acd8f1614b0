"""The ONNX graph under construction: value names, nodes, initialisers and constants.

Every traced tensor gets one ONNX value name (``Graph.values``: ``id(tensor)`` -> name; the tracer
keeps the tensors alive, so ids stay unique). A tensor that no record produced and that is not a
graph input is a constant of the trace: a parameter or buffer (an initialiser named by its
``state_dict`` key, so tied weights share one initialiser) or another array fixed at trace time
(``const_N``). An array handed to an op as a keyword constant (an embedding's indices, a
``where`` condition) that *is* the data of a traced tensor -- usually a graph input -- is mapped
back to that tensor's value instead of being frozen.
"""
import numpy as np

# ONNX TensorProto element types of the NumPy dtypes minigrad's tensors can have
_ELEM = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.int16): 5,
         np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9, np.dtype(np.float64): 11}


def elem_type(dtype):
    """The ONNX element type of a NumPy dtype, or a TypeError naming it."""
    try:
        return _ELEM[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"minigrad.onnx: dtype {np.dtype(dtype)} has no ONNX export") from None


class ExportError(RuntimeError):
    """A traced model that cannot be written as ONNX (an op without a mapping, a shape that a
    dynamic axis changes where ONNX needs a constant, ...); the message names the op and where it
    was recorded."""


class Graph:
    """Nodes and initialisers being built; see the module docstring for the naming of values."""

    def __init__(self, onnx, opset, param_names):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.nodes, self.initializers = [], []
        self.values = {}             # id(tensor) -> value name
        self.data_values = {}        # id(tensor.data) -> value name (arrays passed as constants)
        self.param_names = param_names
        self._const_of = {}          # id(parameter / constant tensor) -> initialiser name
        self._used = set()
        self._keep = []              # arrays whose ids key _const_of

    # ------------------------------------------------------------------ names
    def fresh(self, hint):
        """A value name not used yet, built from ``hint``."""
        name, k = hint, 0
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def bind(self, tensor, name):
        """``tensor`` is the ONNX value ``name`` from now on."""
        self.values[id(tensor)] = name
        self.data_values[id(tensor.data)] = name

    # ------------------------------------------------------------------ nodes and constants
    def node(self, op_type, inputs, n_out=1, outputs=None, **attrs):
        """Append a node; returns its output name (or the list of them when ``n_out`` > 1)."""
        outputs = outputs or [self.fresh(f"{op_type}_{len(self.nodes)}") for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), list(outputs),
                                                name=f"{op_type}_{len(self.nodes)}", **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def initializer(self, array, hint):
        """A new initialiser holding ``array``; returns its name."""
        name = self.fresh(hint)
        array = np.asarray(array)        # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
        self.initializers.append(self.onnx.numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def const(self, value, dtype=None):
        """A constant initialiser: a Python number or array (``dtype`` converts it)."""
        arr = np.asarray(value, dtype=dtype)
        return self.initializer(arr, "const")

    def ints(self, values):
        """An int64 1-D initialiser (shapes, axes, starts/ends of Slice)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def value(self, t):
        """The value name of tensor ``t``: traced, a parameter/buffer, or a frozen constant."""
        name = self.values.get(id(t))
        if name is not None:
            return name
        name = self._const_of.get(id(t))
        if name is None:
            name = self.data_values.get(id(t.data))
            if name is not None:
                return name
            pname = self.param_names.get(id(t))
            name = self.initializer(t.data, pname if pname is not None else "const")
            self._const_of[id(t)] = name
            self._keep.append(t)
        return name

    def array(self, arr, dtype=None):
        """The value name of an array given as a keyword constant (see the module docstring)."""
        name = self.data_values.get(id(arr))
        if name is not None:
            if dtype is not None and np.dtype(dtype) != arr.dtype:
                name = self.node("Cast", [name], to=elem_type(dtype))
            return name
        return self.const(arr, dtype)

    # ------------------------------------------------------------------ small helpers
    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes)])

    def reduce(self, op_type, x, axes, keepdims):
        """ReduceSum/Mean/Max/Min over ``axes`` (axes an input from opset 13 for ReduceSum and from
        opset 18 for the others, an attribute before)."""
        as_input = op_type == "ReduceSum" or self.opset >= 18
        if as_input:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))
