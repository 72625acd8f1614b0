"""``export``: trace a model's forward pass and write it as an ONNX model (see the package docstring).

Steps: check the arguments; run the forward pass in eval mode, without gradients, under the tracer
(twice with dynamic axes: once at the given sizes and once grown by one along each dynamic axis,
and the two traces must agree on everything but the dims that follow those axes); name the graph
inputs (the Tensors in ``args``, flattened in order), map every record to ONNX nodes, add an
Identity per graph output (the tensors the model returned, flattened), check the model with
``onnx.checker`` and save it to ``f`` (a path or a binary file object).
"""
import os
import warnings

import numpy as np

from .. import __version__ as _version
from ..grad_mode import describe, no_grad
from ..nn.module import Module
from ..tensor import Tensor
from .graph import ExportError, Graph, elem_type
from .ops import MAPPINGS
from .recurrent import export_module
from .trace import tracing

DEFAULT_OPSET = 17
MIN_OPSET = 14        # the recurrent operators' `layout` and Reshape's allowzero era


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("minigrad.onnx.export needs the onnx package: pip install \"minigrad[onnx]\" "
                          "(onnx, and onnxruntime to run the exported file)") from None
    return onnx


def _flatten(obj, out):
    """The Tensors in ``obj`` (nested tuples/lists/dicts), in order, appended to ``out``."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _flatten(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flatten(o, out)
    return out


def _replace(obj, fn):
    """``obj`` rebuilt with every Tensor t replaced by ``fn(t)``."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_replace(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _replace(v, fn) for k, v in obj.items()}
    return obj


def _split_args(args):
    """``args`` as (positional tuple, kwargs): a Tensor alone is one argument; a trailing dict in a
    tuple holds keyword arguments (torch.onnx.export's convention)."""
    if not isinstance(args, tuple):
        args = (args,)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _dynamic_axes(dynamic_axes, names):
    """{value name: {axis: dim name}} from PyTorch's forms ({name: [axes]} or {name: {axis: dim}})."""
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input nor an output "
                             f"name (the names are {sorted(names)})")
        if isinstance(axes, dict):
            out[name] = {int(a): str(d) for a, d in axes.items()}
        elif isinstance(axes, (list, tuple)):
            out[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
        else:
            raise TypeError(f"export: dynamic_axes[{name!r}] must be a list of axes or a dict axis -> name, "
                            f"got {describe(axes)}")
    return out


def _grow(t, axes):
    """``t``'s data grown by one along each of ``axes`` (the last slice repeated), as a new tensor."""
    a = t.data
    for ax in axes:
        if not -a.ndim <= ax < a.ndim:
            raise ValueError(f"export: dynamic axis {ax} is out of range for an input of shape {t.shape}")
        a = np.concatenate([a, np.take(a, [-1], axis=ax)], axis=ax)
    return Tensor(a, dtype=a.dtype)


def _trace(model, args, kwargs):
    with no_grad(), tracing(model) as tracer:
        out = model(*args, **kwargs)
    return tracer.records, out


# ------------------------------------------------------------------ comparing the two traces
def _same_const(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same_const(x, y) for x, y in zip(a, b))
    if isinstance(a, Tensor):
        return isinstance(b, Tensor) and a.shape == b.shape
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _check_alike(records, alt_records, traced_data):
    """Raise unless the second trace ran the same ops with the same constants, except reshape targets
    and arrays that are the data of traced tensors (the graph's inputs and intermediate values)."""
    if [r.op for r in records] != [r.op for r in alt_records]:
        k = next((i for i, (r, s) in enumerate(zip(records, alt_records)) if r.op != s.op),
                 min(len(records), len(alt_records)))
        where = records[k].where if k < len(records) else "at the end of the forward pass"
        raise ExportError(f"the forward pass runs different ops when the dynamic axes grow (first difference: "
                          f"record {k}, {where}); its control flow depends on a size, which ONNX cannot follow")
    for r, s in zip(records, alt_records):
        for t, u in zip(r.inputs or (), s.inputs or ()):
            if id(t.data) not in traced_data and t.shape != u.shape:
                raise ExportError(f"{r.op} {r.where}: an input of shape {t.shape} is a constant of the trace (made "
                                  f"inside forward, e.g. zeros(batch, ...)) but changes with the dynamic axes "
                                  f"({u.shape} when they grow); pass it as a model input or make that axis static")
        consts = r.consts if r.module is None else dict(enumerate(r.consts["args"]), **r.consts["kwargs"])
        others = s.consts if s.module is None else dict(enumerate(s.consts["args"]), **s.consts["kwargs"])
        for key, v in consts.items():
            if (r.op == "Reshape" and key == "shape") or (isinstance(v, np.ndarray) and id(v) in traced_data):
                continue
            if r.module is not None and _flatten(v, []):
                continue                                   # a layer's tensor arguments are graph values
            if not _same_const(v, others.get(key)):
                raise ExportError(f"{r.op} {r.where}: its argument {key!r} changes with the dynamic axes "
                                  f"({_show(v)} at the export sizes, {_show(others.get(key))} when they grow), "
                                  "but the ONNX graph would freeze it; pass it as a model input or make "
                                  "that axis static")


def _show(v):
    return f"array{v.shape}" if isinstance(v, np.ndarray) else repr(v)


# ------------------------------------------------------------------ the graph's inputs and outputs
def _value_info(helper, name, t, dims):
    shape = [dims.get(i, n) for i, n in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, elem_type(t.dtype), shape)


def export(model, args, f, export_params=True, verbose=False, training=None, input_names=None,
           output_names=None, opset_version=None, do_constant_folding=True, dynamic_axes=None):
    """Export ``model`` as ONNX by tracing ``model(*args)`` once (PyTorch's ``torch.onnx.export``).

    Args:
        model: an ``nn.Module``; traced in eval mode (dropout off), its mode restored afterwards.
        args: the example input: a Tensor or a tuple of arguments (a trailing dict holds keyword
            arguments). Every Tensor in it (nested tuples flattened) becomes a graph input, in
            order; other values (None, ints, arrays) are fixed at their traced values.
        f: a path or a binary file object to write the model to.
        export_params: must be True (the parameters are always stored as initialisers).
        verbose: print the graph.
        training: ignored except that ``TrainingMode.TRAINING``-like True raises (inference export).
        input_names, output_names: names of the graph inputs / outputs (default ``input_0``..,
            ``output_0``..), as many as the flattened inputs / outputs at most.
        opset_version: the ONNX opset (default 17; 14 up to what the installed onnx knows).
        do_constant_folding: accepted for compatibility; the graph holds no foldable subgraphs
            beyond the repacked recurrent weights, which are folded at export time.
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: "dim name"}}`` for inputs and
            outputs whose sizes vary (batch, sequence length): they become symbolic dims.

    Raises :class:`~minigrad.onnx.ExportError` for an op without an ONNX mapping (naming it and
    where it was recorded) or a traced constant that a dynamic axis changes.
    """
    onnx = _require_onnx()
    opset = _check_arguments(onnx, model, f, export_params, training, input_names, output_names, opset_version)
    pos, kw = _split_args(args)
    inputs = _flatten((pos, kw), [])
    in_names = _names(input_names, len(inputs), "input")
    dyn = _dynamic_axes(dynamic_axes, set(in_names) | set(output_names or []))
    records, out, alt_records, alt_out = _traces(model, pos, kw, inputs, in_names, dyn)
    outputs = _flatten(out, [])
    out_names = _names(output_names, len(outputs), "output")

    params = {id(p): n for n, p in model.named_parameters()}
    params.update({id(b): n for n, b in model.named_buffers()})
    g = Graph(onnx, opset, params)
    graph_inputs = []
    for t, name in zip(inputs, in_names):
        g.fresh(name)
        g.bind(t, name)
        graph_inputs.append(_value_info(onnx.helper, name, t, dyn.get(name, {})))
    for name in out_names:
        g.fresh(name)
    if alt_records is not None:
        traced = {id(t.data) for t in inputs}
        traced.update(id(t.data) for r in records for t in _flatten(r.outputs, []))
        _check_alike(records, alt_records, traced)
    _map_records(g, records, alt_records)
    graph_outputs = _graph_outputs(g, outputs, _flatten(alt_out, []) if alt_out is not None else outputs,
                                   out_names, dyn, params)
    helper = onnx.helper
    graph = helper.make_graph(g.nodes, f"minigrad_{type(model).__name__}", graph_inputs, graph_outputs,
                              initializer=g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="minigrad", producer_version=_version,
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.printer.to_text(graph))
    onnx.save_model(proto, f)


def _check_arguments(onnx, model, f, export_params, training, input_names, output_names, opset_version):
    """Every argument checked before anything runs; returns the opset."""
    if not isinstance(model, Module):
        raise TypeError(f"export: model must be an nn.Module, got {describe(model)}")
    if export_params is not True:
        raise ValueError("export: export_params=False is not supported; parameters are always initialisers")
    if not (isinstance(f, (str, os.PathLike)) or hasattr(f, "write")):
        raise TypeError(f"export: f must be a path or a binary file object, got {describe(f)}")
    for what, names in (("input_names", input_names), ("output_names", output_names)):
        if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
            raise TypeError(f"export: {what} must be a list of strings, got {names!r}")
    if training:
        raise ValueError("export: only inference graphs are exported (training=True is not supported)")
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset_version must be an int in [{MIN_OPSET}, {newest}], got {opset_version!r}")
    return opset


def _names(given, n, kind):
    """``given`` names (at most ``n``) completed with ``<kind>_<i>``."""
    names = list(given or [])
    if len(names) > n:
        raise ValueError(f"export: {len(names)} {kind}_names for {n} {kind} tensors")
    return names + [f"{kind}_{i}" for i in range(len(names), n)]


def _traces(model, pos, kw, inputs, in_names, dyn):
    """The trace at the given sizes, and with dynamic axes the one at grown sizes (else None), in
    eval mode (restored afterwards): (records, output, alt_records, alt_output)."""
    was_training = model.training
    model.eval()
    try:
        records, out = _trace(model, pos, kw)
        if not any(n in dyn for n in in_names):
            return records, out, None, None
        grown = {id(t): _grow(t, dyn[n]) for t, n in zip(inputs, in_names) if n in dyn}
        try:
            return (records, out) + _trace(model, *_replace((pos, kw), lambda t: grown.get(id(t), t)))
        except Exception as e:
            raise ExportError(f"export: the forward pass failed at sizes grown along the dynamic axes {dyn} "
                              f"({type(e).__name__}: {e}); mark every input axis that follows them "
                              "(for example the batch axis of h_0 too)") from e
    finally:
        model.train(was_training)


def _map_records(g, records, alt_records):
    """Append the nodes of every record (see minigrad.onnx.ops and .recurrent)."""
    for k, rec in enumerate(records):
        if rec.module is not None:
            export_module(g, rec)
            continue
        mapping = MAPPINGS.get(rec.op)
        if mapping is None:
            raise ExportError(f"op {rec.op} {rec.where} has no ONNX mapping (mapped: minigrad.onnx.ops.MAPPINGS "
                              "and the recurrent layers); docs/onnx.md lists what exports")
        names = mapping(g, rec, alt_records[k] if alt_records is not None else None)
        for t, name in zip(rec.outputs, names if isinstance(names, (list, tuple)) else [names]):
            g.bind(t, name)


def _graph_outputs(g, outputs, alt_outputs, out_names, dyn, params):
    """An Identity per graph output, and its type: dims that grew in the second trace are dynamic."""
    infos = []
    for k, (t, t2, name) in enumerate(zip(outputs, alt_outputs, out_names)):
        if id(t) not in g.values and id(t) not in params:
            warnings.warn(f"export: output {k} ({name!r}, shape {t.shape}) is not computed by a traced op, so the "
                          "graph returns its traced value as a constant (was it computed with NumPy from .data?)",
                          UserWarning, stacklevel=3)
        g.node("Identity", [g.value(t)], outputs=[name])
        dims = {i: f"{name}_dim{i}" for i, (n, m) in enumerate(zip(t.shape, t2.shape)) if n != m}
        dims.update(dyn.get(name, {}))
        infos.append(_value_info(g.helper, name, t, dims))
    return infos
