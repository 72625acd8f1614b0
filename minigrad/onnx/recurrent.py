"""nn.RNN / LSTM / GRU (and their cells) as ONNX's RNN / LSTM / GRU operators.

ONNX's recurrent operators take, per layer, the weights of every direction stacked:
W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) = [W_b ; R_b], with the gate blocks in ONNX's order,
which differs from PyTorch's (and so minigrad's):

    kind    minigrad (PyTorch)   ONNX        blocks taken from minigrad's, in ONNX order
    LSTM    i, f, g, o           i, o, f, c  0, 3, 1, 2
    GRU     r, z, n              z, r, h     1, 0, 2     (linear_before_reset=1: b_hn inside r * (.))
    RNN     a                    a           0           (activations Tanh or Relu)

A layer of L layers becomes L nodes (direction "forward" or "bidirectional"); layer k's input is
layer k-1's Y (T, D, B, H) transposed and reshaped to (T, B, D*H). h_0/c_0 given to the layer are
graph values sliced per layer; h_n/c_n are the layers' Y_h/Y_c concatenated. ``lengths`` become
``sequence_lens`` (int32): ONNX then zeroes Y after each sequence's end and runs the reverse
direction from its last real step, exactly minigrad's (PyTorch's packed) semantics. batch_first
is a Transpose on the way in and out. A cell is the same operator over one time step.
Not expressible: proj_size (ONNX's LSTM has no projection), a PackedSequence input, cell kinds
other than these three (each raises, naming the layer).
"""
import numpy as np

from ..nn.rnn import RNNBase
from ..tensor import Tensor
from .graph import ExportError

# cell kind -> (ONNX op, blocks of minigrad's gates in ONNX order, extra attributes per direction)
_KINDS = {
    "rnn_tanh": ("RNN", (0,), {"activations": ["Tanh"]}),
    "rnn_relu": ("RNN", (0,), {"activations": ["Relu"]}),
    "lstm": ("LSTM", (0, 3, 1, 2), {}),
    "gru": ("GRU", (1, 0, 2), {}),
}


def _reorder(a, blocks):
    """Rows of ``a`` (G*H, ...) or (G*H,) regrouped into ONNX's gate order."""
    parts = np.split(a, len(blocks), axis=0)
    return np.concatenate([parts[i] for i in blocks], axis=0)


def _prefix(g, weight, default):
    """The dotted module path of a layer (from its weight's state_dict key), to name initialisers."""
    name = g.param_names.get(id(weight), "")
    return name.rsplit(".", 1)[0] if "." in name else default


def _kind(module, where):
    kind = _KINDS.get(module.spec.name)
    if kind is None:
        raise ExportError(f"{type(module).__name__} of cell kind {module.spec.name!r} {where}: ONNX has "
                          f"operators for {tuple(_KINDS)} only")
    return kind


def _weights(g, module, hint, params):
    """Initialisers W, R, B of one layer from ``params``: one (w_ih, w_hh, b_ih, b_hh) per direction."""
    op, blocks, _ = _kind(module, "")
    W = np.stack([_reorder(p[0].data, blocks) for p in params])
    R = np.stack([_reorder(p[1].data, blocks) for p in params])
    names = [g.initializer(W, f"{hint}.W"), g.initializer(R, f"{hint}.R")]
    if params[0][2] is not None:
        B = np.stack([np.concatenate([_reorder(p[2].data, blocks), _reorder(p[3].data, blocks)]) for p in params])
        names.append(g.initializer(B, f"{hint}.B"))
    else:
        names.append("")
    return names


def _node(g, module, x, weights, seq_lens, states, D):
    """One ONNX recurrent node; returns its outputs (Y, Y_h[, Y_c])."""
    op, _, attrs = _kind(module, "")
    attrs = {k: v * D for k, v in attrs.items()}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    inputs = [x] + weights + [seq_lens or ""] + [s or "" for s in states]
    while inputs[-1] == "":
        inputs.pop()
    return g.node(op, inputs, n_out=1 + module.spec.n_state, hidden_size=module.hidden_size,
                  direction="bidirectional" if D == 2 else "forward", **attrs)


def export_layer(g, rec):
    """An nn.RNN/LSTM/GRU record: the layers' nodes; binds the outputs (output, h_n or (h_n, c_n))."""
    m, where = rec.module, rec.where
    _kind(m, where)
    args = dict(zip(("x", "hx", "lengths"), rec.consts["args"]))
    args.update(rec.consts["kwargs"])
    x, hx, lengths = args.get("x"), args.get("hx"), args.get("lengths")
    if m.proj_size:
        raise ExportError(f"LSTM with proj_size={m.proj_size} {where}: ONNX's LSTM operator has no "
                          "projection (weight_hr); export a model without proj_size")
    if not isinstance(x, Tensor):
        raise ExportError(f"{type(m).__name__} {where}: input of type {type(x).__name__} (a PackedSequence?) "
                          "cannot be exported; pass the padded tensor and lengths=")
    D, L, n = 2 if m.bidirectional else 1, m.num_layers, m.spec.n_state
    xv = g.value(x)
    batched = x.ndim == 3
    if not batched:
        xv = g.unsqueeze(xv, [1])
    elif m.batch_first:
        xv = g.node("Transpose", [xv], perm=[1, 0, 2])
    states = [None] * n
    if hx is not None:
        states = [g.value(s) for s in (hx if n > 1 else (hx,))]
        if not batched:
            states = [g.unsqueeze(s, [1]) for s in states]
    seq_lens = None
    if lengths is not None:
        seq_lens = (g.node("Cast", [g.value(lengths)], to=6) if isinstance(lengths, Tensor)   # to int32
                    else g.array(np.asarray(lengths), np.int32))
    finals = [[] for _ in range(n)]
    prefix = _prefix(g, m.weight_ih_l0, type(m).__name__.lower())
    for k in range(L):
        params = [m._layer_params(k, sfx) for sfx in ("", "_reverse")[:D]]
        weights = _weights(g, m, f"{prefix}.onnx_l{k}", params)
        init = [None if s is None else g.node("Slice", [s, g.ints([k * D]), g.ints([(k + 1) * D]), g.ints([0])])
                for s in states]
        outs = _node(g, m, xv, weights, seq_lens, init, D)
        for i in range(n):
            finals[i].append(outs[1 + i])
        # Y (T, D, B, H) -> (T, B, D*H): the next layer's input and the layer's output
        xv = g.node("Reshape", [g.node("Transpose", [outs[0]], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])])
    h_n = [f[0] if L == 1 else g.node("Concat", f, axis=0) for f in finals]
    if not batched:
        xv = g.squeeze(xv, [1])
        h_n = [g.squeeze(h, [1]) for h in h_n]
    elif m.batch_first:
        xv = g.node("Transpose", [xv], perm=[1, 0, 2])
    output, state = rec.outputs
    g.bind(output, xv)
    for t, name in zip(state if n > 1 else (state,), h_n):
        g.bind(t, name)


def export_cell(g, rec):
    """An nn.RNNCell/LSTMCell/GRUCell record: the operator over one step; binds the new state(s)."""
    m, where = rec.module, rec.where
    _kind(m, where)
    args = dict(zip(("x", "state"), rec.consts["args"]))
    args.update(rec.consts["kwargs"])
    x, state = args.get("x"), args.get("state")
    n = m.spec.n_state
    batched = x.ndim == 2
    xv = g.value(x)
    xv = g.unsqueeze(xv, [0] if batched else [0, 1])                       # (1, B, I)
    states = [None] * n
    if state is not None:
        states = [g.unsqueeze(g.value(s), [0] if batched else [0, 1]) for s in (state if n > 1 else (state,))]
    weights = _weights(g, m, f"{_prefix(g, m.weight_ih, type(m).__name__.lower())}.onnx",
                       [(m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh)])
    outs = _node(g, m, xv, weights, None, states, 1)
    new = [g.squeeze(s, [0] if batched else [0, 1]) for s in outs[1:]]     # (1, B, H) -> (B, H)
    for t, name in zip(rec.outputs if n > 1 else (rec.outputs,), new):
        g.bind(t, name)


def export_module(g, rec):
    """A recurrent module's record: a layer (nn.RNN/LSTM/GRU) or a cell."""
    (export_layer if isinstance(rec.module, RNNBase) else export_cell)(g, rec)
