"""draw_tape: the recorded graph behind a tensor as a Graphviz drawing (DOT text, SVG or PNG).

    dot = mg.draw_tape(loss)                                  # DOT text
    mg.draw_tape(loss, "tape.svg", names=model.named_parameters(), grad_norms=True)

What is drawn (forward order runs top to bottom):

* one box per op node of the tape (``tape_nodes`` order): the Function's ``label`` when it has one
  (an RNN step says "LSTM step t=2"), otherwise its class name, and the shape(s) it produced;
* one ellipse per leaf tensor feeding the tape: parameters and other ``requires_grad`` leaves are
  filled; constants (inputs, zero initial states, integer targets) are dashed. ``names`` (a dict
  ``{name: tensor}`` or an iterable of ``(name, tensor)`` pairs such as
  ``model.named_parameters()``) names them; otherwise a tensor's ``.name`` is used when set (the
  recurrent layers name their parameters, so an LSTM's W_hh reads ``weight_hh_l0 (16, 4)``);
* edges from producer to consumer; an op with several outputs labels its edges with the output's
  name: the Function's ``output_names`` attribute when it has one (``h`` / ``c`` for an LSTM
  step), else ``out0``, ``out1``, ...;
* recurrent step nodes (they carry an integer attribute ``t``) grouped in one
  ``subgraph cluster_t<t>`` per time step, so the unrolled loop reads as a row of boxes;
* the tensor itself as a final "result" node.

With ``grad_norms=True`` the 2-norm of every available gradient is written on the drawing: on a
leaf its ``.grad``, on an edge the ``.grad`` of the intermediate tensor it carries when that
tensor called ``retain_grad()`` (e.g. every h_t of an unrolled RNN), on the result its ``.grad``.

Node ids are stable (``n<k>`` for the k-th op in tape order, ``l<k>`` for the k-th leaf in order
of first use), so the same computation always yields the same text. Rendering to .svg / .png /
.pdf calls the Graphviz ``dot`` program when it is installed (no Python dependency); the DOT file
is written next to the image either way, and a warning says how to render it when ``dot`` is
missing.
"""
import os
import shutil
import subprocess
import warnings

import numpy as np

from .fileio import as_path

__all__ = ["draw_tape"]

_RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def _q(text):
    """A DOT double-quoted string (newlines become the \\n escape that dot centres)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(s):
    return "(" + ", ".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def _norm(g):
    return f"{float(np.linalg.norm(np.asarray(g, dtype=np.float64).ravel())):.3g}"


def _op_label(node):
    lab = getattr(node, "label", None)
    head = lab if isinstance(lab, str) and lab else type(node).__name__
    return head + "\n" + ", ".join(_shape(s) for s in node.out_shapes)


def _output_names(node):
    """Names for the outputs of a multi-output node: its ``output_names`` attribute (a recurrent
    node takes them from its cell's spec: ``h``/``c`` for an LSTM step, ``output``/``h_n``/``c_n``
    for a sequence), else out0, out1, ..."""
    names = getattr(node, "output_names", None)
    if names is None or len(names) != node.n_outputs:
        names = tuple(f"out{i}" for i in range(node.n_outputs))
    return names


def _step_of(node):
    t = getattr(node, "t", None)
    return t if isinstance(t, (int, np.integer)) and not isinstance(t, bool) else None


def _name_map(names):
    if names is None:
        return {}
    items = names.items() if isinstance(names, dict) else names
    return {id(t): str(n) for n, t in items}


def draw_tape(tensor, path=None, grad_norms=False, names=None, title=None):
    """Return the DOT text of the tape behind ``tensor``; also write/render it when ``path`` is given.

    ``path`` ending in .svg, .png or .pdf: the DOT goes to the same name with .dot and Graphviz
    ``dot`` renders the image (a warning if ``dot`` is not installed); any other ``path`` receives
    the DOT text itself. See the module docstring for what the drawing shows.
    """
    from .tensor import Tensor, tape_nodes

    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_tape expects a Tensor, got {type(tensor).__name__}")
    nodes = tape_nodes(tensor)
    op_id = {id(nd): f"n{k}" for k, nd in enumerate(nodes)}
    named = _name_map(names)

    lines = ["digraph tape {"]
    if title:
        lines.append(f"  label={_q(title)}; labelloc=t;")
    lines += ['  graph [fontname="Helvetica", fontsize=10];',
              '  node [fontname="Helvetica", fontsize=10];',
              '  edge [fontname="Helvetica", fontsize=9];']

    # leaves, in order of first use
    leaf_id, leaf_lines = {}, []
    for nd in nodes:
        for t in nd.inputs:
            if t._node is None and id(t) not in leaf_id:
                lid = leaf_id[id(t)] = f"l{len(leaf_id)}"
                name = named.get(id(t)) or t.name or ("leaf" if t.requires_grad else "constant")
                text = f"{name}\n{_shape(t.shape)}"
                if not t.requires_grad and t.data.size == 1:
                    text += f" = {t.data.item():g}"          # a scalar constant shows its value
                if grad_norms and t.grad is not None:
                    text += f"\n|grad| {_norm(t.grad)}"
                style = ('style=filled, fillcolor="#cfe2f3"' if t.requires_grad
                         else 'style=dashed, color="#888888", fontcolor="#555555"')
                leaf_lines.append(f"  {lid} [label={_q(text)}, shape=ellipse, {style}];")
    lines += leaf_lines

    # op nodes: recurrent steps inside one cluster per time step, the rest at top level
    clusters = {}
    for nd in nodes:
        decl = f"{op_id[id(nd)]} [label={_q(_op_label(nd))}, shape=box, style=rounded];"
        t = _step_of(nd)
        if t is None:
            lines.append("  " + decl)
        else:
            clusters.setdefault(int(t), []).append(decl)
    for t in sorted(clusters):
        lines.append(f"  subgraph cluster_t{t} {{")
        lines.append(f'    label="t = {t}"; style=dashed; color="#999999";')
        lines += ["    " + d for d in clusters[t]]
        lines.append("  }")

    # the result
    if nodes:
        text = f"result\n{_shape(tensor.shape)}"
        if grad_norms and tensor.grad is not None:
            text += f"\n|grad| {_norm(tensor.grad)}"
        lines.append(f"  result [label={_q(text)}, shape=ellipse, style=bold];")

    # edges, by consumer in tape order then input position
    for nd in nodes:
        dst = op_id[id(nd)]
        for t in nd.inputs:
            if t._node is None:
                lines.append(f"  {leaf_id[id(t)]} -> {dst};")
                continue
            attrs = []
            parts = [_output_names(t._node)[t._index]] if t._node.n_outputs > 1 else []
            if grad_norms and t.grad is not None:
                parts.append(f"|grad| {_norm(t.grad)}")
            if parts:
                attrs.append(f"label={_q(' '.join(parts))}")
            lines.append(f"  {op_id[id(t._node)]} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    if nodes:
        attrs = (f" [label={_q(_output_names(tensor._node)[tensor._index])}]"
                 if tensor._node.n_outputs > 1 else "")
        lines.append(f"  {op_id[id(tensor._node)]} -> result{attrs};")
    else:
        text = f"{named.get(id(tensor)) or tensor.name or 'leaf'}\n{_shape(tensor.shape)}"
        lines.append(f"  l0 [label={_q(text)}, shape=ellipse];  // a leaf: nothing was recorded")
    lines.append("}")
    dot = "\n".join(lines) + "\n"
    if path is not None:
        _write(dot, as_path("draw_tape", path))
    return dot


def _write(dot, path):
    root, ext = os.path.splitext(path)
    fmt = _RENDERED.get(ext.lower())
    dot_path = root + ".dot" if fmt else path
    with open(dot_path, "w", encoding="utf-8") as f:
        f.write(dot)
    if not fmt:
        return
    exe = shutil.which("dot")
    if exe is None:
        warnings.warn(f"draw_tape: the Graphviz 'dot' program is not on PATH, so {path} was not rendered; "
                      f"the graph is in {dot_path}. Install Graphviz (e.g. apt-get install graphviz) or "
                      f"run `dot -T{fmt} {dot_path} -o {path}` where it is installed.", RuntimeWarning, stacklevel=3)
        return
    res = subprocess.run([exe, f"-T{fmt}", dot_path, "-o", path], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"draw_tape: `dot -T{fmt}` failed (exit {res.returncode}): {res.stderr.strip()}")
