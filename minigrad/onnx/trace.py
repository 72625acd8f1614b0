"""Tracing one forward pass for :func:`minigrad.onnx.export`: the list of records it maps to ONNX.

While :func:`tracing` is active, ``minigrad.tensor._tracer`` is the :class:`Tracer`, and two hooks
report to it (each costs one check of that name when no export runs):

* ``Function.apply`` calls :meth:`Tracer.record_op` for every op, whether or not anything requires
  a gradient: the Function class, its input tensors, the constants it was given (axes, shapes,
  exponents, index arrays ...) and its output tensors. The ops that never go on the tape (the
  comparisons, argmax/argmin) report through ``minigrad.tensor.trace_untaped``.
* ``Module.__call__`` calls :meth:`Tracer.call_module`. A recurrent layer or cell (nn.RNN, LSTM,
  GRU and their cells) becomes ONE module record -- its arguments, outputs and the module itself,
  whose parameters the exporter repacks for ONNX's RNN/LSTM/GRU operators -- and its internal ops
  are not recorded. Any other module just runs, with its dotted name pushed on a path so that
  every record knows where it was made.

Each record also keeps the first line of the user's code on the stack (outside minigrad/), so an
op without an ONNX mapping can be reported as "op X in module 'decoder.attention', at model.py:42".
The tracer holds on to every tensor it saw, so ``id()`` of a tensor stays unique during an export.
"""
import importlib
import os
import sys
import threading
from contextlib import contextmanager

from ..nn.rnn import RNNBase, RNNCellBase


_tape = importlib.import_module("..tensor", __package__)   # the module (minigrad.tensor is also a function)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # .../minigrad


class Record:
    """One traced step: an op (``module is None``) or a recurrent module called as a whole.

    ``op`` is the Function class name (``"Add"``, ``"LinearFn"``) or the module's class name
    (``"LSTM"``); ``inputs`` the input tensors of an op; ``consts`` its keyword constants, or for a
    module ``{"args": ..., "kwargs": ...}``; ``outputs`` a tuple of output tensors (for a module
    the outputs as returned); ``where`` a readable location.
    """

    __slots__ = ("op", "inputs", "consts", "outputs", "where", "module")

    def __init__(self, op, inputs, consts, outputs, where, module=None):
        self.op, self.inputs, self.consts, self.outputs = op, inputs, consts, outputs
        self.where, self.module = where, module


def _user_line():
    """``file:line`` of the innermost frame outside the minigrad package (the user's code)."""
    f = sys._getframe(2)
    while f is not None:
        path = os.path.abspath(f.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep):
            return f"{os.path.basename(path)}:{f.f_lineno}"
        f = f.f_back
    return "?"


class Tracer:
    """Collects the :class:`Record` list of one forward pass of ``root`` (see the module docstring)."""

    def __init__(self, root):
        self.records = []
        self.seen = []                                    # keeps every traced tensor alive
        self.names = {id(m): name for name, m in root.named_modules()}
        self.path = [type(root).__name__]
        self.thread = threading.get_ident()

    def _where(self):
        mod = ".".join(p for p in self.path[1:] if p) or "<top level>"
        return f"in module '{mod}' ({self.path[0]} model), at {_user_line()}"

    def record_op(self, op, inputs, consts, outputs):
        """One op: ``op`` a Function class or (for an op off the tape) a name."""
        if threading.get_ident() != self.thread:          # another thread's work is not the model's
            return
        self.seen.append((inputs, outputs))
        name = op if isinstance(op, str) else op.__name__
        self.records.append(Record(name, list(inputs), consts, tuple(outputs), self._where()))

    def call_module(self, module, args, kwargs):
        if threading.get_ident() != self.thread:
            return module.forward(*args, **kwargs)
        self.path.append(self.names.get(id(module), type(module).__name__))
        try:
            if not isinstance(module, (RNNBase, RNNCellBase)):
                return module.forward(*args, **kwargs)
            _tape._tracer = None                          # the layer is one node: not its inner ops
            try:
                out = module.forward(*args, **kwargs)
            finally:
                _tape._tracer = self
            self.seen.append((args, kwargs, out))
            self.records.append(Record(type(module).__name__, None, {"args": args, "kwargs": kwargs}, out,
                                       self._where(), module=module))
            return out
        finally:
            self.path.pop()


@contextmanager
def tracing(root):
    """Record the ops of the forward passes run inside the block (see :class:`Tracer`); yields the
    tracer. One trace at a time: a nested or concurrent trace raises RuntimeError."""
    if _tape._tracer is not None:
        raise RuntimeError("minigrad.onnx: an export is already tracing (one trace at a time)")
    tracer = Tracer(root)
    _tape._tracer = tracer
    try:
        yield tracer
    finally:
        _tape._tracer = None
