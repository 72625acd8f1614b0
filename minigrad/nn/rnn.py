"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with PyTorch's API.

Shapes (T time, B batch, I input_size, H hidden_size, L num_layers, D = 2 if bidirectional else 1):
    input   (T, B, I), or (B, T, I) with batch_first=True, or unbatched (T, I)
    hx      (L*D, B, H) -- for the LSTM a pair (h_0, c_0)
    output  (T, B, D*H) -- the last layer's h_t for every t (both directions concatenated)
    h_n     (L*D, B, H) -- the final state of every layer and direction (LSTM: (h_n, c_n))

Equations (PyTorch's; gate order LSTM i,f,g,o and GRU r,z,n):
    Elman   h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)                  act = tanh | relu
    LSTM    i,f,g,o = sigma, sigma, tanh, sigma (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
            c_t = f * c_{t-1} + i * g            h_t = o * tanh(c_t)
    GRU     r = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
            z = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
            n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
            h_t = (1 - z) * n + z * h_{t-1}

Parameters per layer k and direction (suffix "" or "_reverse"): weight_ih_l{k} (G*H, I_k),
weight_hh_l{k} (G*H, H), bias_ih_l{k} (G*H), bias_hh_l{k} (G*H); all U(-1/sqrt(H), 1/sqrt(H)).

``lengths`` (one int per batch item, 1..T) marks padding: padded steps neither change the state
nor receive gradient, ``output`` is zero there and ``h_n`` is each sequence's last real state.
The reverse direction starts every sequence at its own last real step.

One base class and one time loop serve all three kinds; a kind differs only in its cell
(:mod:`minigrad.nn.recurrent_ops`). ``unroll=True`` records one tape node per time step (the
graph of BPTT, every h_t inspectable); ``unroll=False`` (the default) records the loop as one
node per direction whose time loop runs in C -- same numbers, less Python per step.

After a forward with ``unroll=True``, ``module.step_states[(layer, direction)]`` lists the h_t
tensors of every step in time order: call ``retain_grad()`` or ``register_hook`` on them before
``backward()`` to watch dL/dh_t flow back through time.
"""
import math

import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import Tensor, as_tensor
from .layers import uniform_
from .module import Module, Parameter
from .utils.rnn import PackedSequence, forward_packed
from .recurrent_ops import KINDS, InputProjection, RecurrentSequence, RecurrentStep, StackSteps, Workspace


def _check_lengths(lengths, B, T):
    """``lengths`` as an int64 array of B values in [1, T] (clear errors otherwise)."""
    if isinstance(lengths, Tensor):
        lengths = lengths.data
    L = np.asarray(lengths)
    if L.dtype.kind not in "iu":
        raise TypeError(f"lengths must be integers, got dtype {L.dtype}")
    if L.shape != (B,):
        raise ValueError(f"lengths must hold one length per batch item: expected shape ({B},), got {L.shape}")
    if B and (L.min() < 1 or L.max() > T):
        raise ValueError(f"lengths must lie in [1, {T}] (the padded length T), got min {L.min()} max {L.max()}")
    L = np.ascontiguousarray(L, dtype=np.int64)
    return None if B and L.min() == T else L


def run_direction(kind, x, state0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, unroll):
    """One direction of one layer over the whole sequence: the shared time loop of every kind.

    x (T, B, I) tensor; state0 tuple of (B, H) tensors. Returns (output (T, B, H), final states,
    steps) where ``steps`` is the list of per-step state tuples in time order (unrolled only).
    """
    T, B = x.shape[0], x.shape[1]
    H = w_hh.shape[1]
    b_hn = b_hh.data[2 * H:] if (kind.name == "gru" and b_hh is not None) else None
    # one C-contiguous W_hh for every kernel call of this pass (a step plan checks it is the same)
    ws = Workspace(kind, np.ascontiguousarray(w_hh.data), b_hn, lengths, T, reverse)
    biases = (b_ih, b_hh) if b_ih is not None else ()
    gx = InputProjection.apply(x, w_ih, w_hh, *biases, ws=ws)
    if not unroll:
        res = RecurrentSequence.apply(gx, *state0, ws=ws)
        return res[0], tuple(res[1:]), None
    ws.hprev = np.empty((T, B, H), w_hh.dtype)
    if kind.name == "gru":
        ws.dgh = np.zeros((T, B, 3 * H), w_hh.dtype)
    state, steps = tuple(state0), [None] * T
    for t in ws.order():
        out = RecurrentStep.apply(gx, *state, ws=ws, t=t)
        state = steps[t] = out if isinstance(out, tuple) else (out,)
    mask = None
    if lengths is not None:
        mask = (np.arange(T)[:, None] < lengths[None, :]).astype(w_hh.dtype)[:, :, None]
    return StackSteps.apply(*(s[0] for s in steps), mask=mask), state, steps


class RNNBase(Module):
    """The shared base of RNN, LSTM and GRU (see the module docstring)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, unroll=False, dtype=np.float32):
        super().__init__()
        if mode not in KINDS:
            raise ValueError(f"unknown recurrent mode {mode!r}")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.mode, self.kind = mode, KINDS[mode]
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.unroll = bool(bidirectional), bool(unroll)
        D, GH = 2 if bidirectional else 1, self.kind.gates * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * D
            for sfx in ("", "_reverse")[:D]:
                shapes = [("weight_ih", (GH, in_size)), ("weight_hh", (GH, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (GH,)), ("bias_hh", (GH,))]
                for name, shape in shapes:
                    setattr(self, f"{name}_l{layer}{sfx}", uniform_(Parameter(np.empty(shape, dtype)), bound))

    def _layer_params(self, layer, sfx):
        get = lambda n: getattr(self, f"{n}_l{layer}{sfx}")
        if self.bias:
            return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")
        return get("weight_ih"), get("weight_hh"), None, None

    def _check_input(self, x, hx, lengths):
        dtype = self.weight_ih_l0.dtype
        if x.dtype != dtype:
            raise TypeError(f"{type(self).__name__}: input is {x.dtype} but the parameters are {dtype}; "
                            "convert the input or call .to(dtype) on the module")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input of shape (T, B, {self.input_size})"
                             f"{' with batch_first (B, T, I)' if self.batch_first else ''} or unbatched "
                             f"(T, {self.input_size}), got {x.shape}")
        batched = x.ndim == 3
        T, B = (x.shape[1], x.shape[0]) if (batched and self.batch_first) else (x.shape[0], x.shape[1] if batched else 1)
        n_states = self.num_layers * (2 if self.bidirectional else 1)
        want = (n_states, B, self.hidden_size) if batched else (n_states, self.hidden_size)
        states = None
        if hx is not None:
            states = tuple(hx) if self.kind.n_state == 2 else (hx,)
            if self.kind.n_state == 2 and len(states) != 2:
                raise ValueError("LSTM: hx must be a pair (h_0, c_0)")
            states = tuple(as_tensor(s, like=self.weight_ih_l0) for s in states)
            for name, s in zip(("h_0", "c_0"), states):
                if s.shape != want:
                    raise ValueError(f"{type(self).__name__}: {name} has shape {s.shape}, expected {want}")
                if s.dtype != dtype:
                    raise TypeError(f"{type(self).__name__}: {name} is {s.dtype} but the parameters are {dtype}")
        if lengths is not None:
            if not batched:
                raise ValueError("lengths needs a batched input")
            lengths = _check_lengths(lengths, B, T)
        return batched, T, B, states, lengths

    def forward(self, x, hx=None, lengths=None):
        if isinstance(x, PackedSequence):       # unpack, run the lengths= path, re-pack (nn/utils/rnn.py)
            return forward_packed(self, x, hx, lengths)
        x = as_tensor(x, like=self.weight_ih_l0)
        batched, T, B, states, lengths = self._check_input(x, hx, lengths)
        if not batched:
            x = x.reshape(T, 1, self.input_size)
            states = None if states is None else tuple(s.reshape(s.shape[0], 1, self.hidden_size) for s in states)
        elif self.batch_first:
            x = x.transpose(0, 1)
        H, D = self.hidden_size, 2 if self.bidirectional else 1
        if states is None:
            zero = Tensor(np.zeros((B, H), self.weight_ih_l0.dtype), dtype=self.weight_ih_l0.dtype)
            init = lambda i: (zero,) * self.kind.n_state
        else:
            init = lambda i: tuple(s[i] for s in states)
        finals = []
        layer_input = x
        self.step_states = {}
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(("", "_reverse")[:D]):
                out, final, steps = run_direction(self.kind, layer_input, init(layer * D + d),
                                                  *self._layer_params(layer, sfx), lengths, d == 1, self.unroll)
                outs.append(out)
                finals.append(final)
                if steps is not None:
                    self.step_states[(layer, d)] = [s[0] for s in steps]
            layer_input = outs[0] if D == 1 else ops.concat(outs, axis=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        h_n = tuple(ops.stack([f[i] for f in finals], axis=0) for i in range(self.kind.n_state))
        if not batched:
            output = output.reshape(T, D * H)
            h_n = tuple(h.reshape(h.shape[0], H) for h in h_n)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n if self.kind.n_state == 2 else h_n[0])

    def flatten_parameters(self):
        """As ``torch.nn.RNNBase.flatten_parameters`` on the CPU: nothing to do (it packs cuDNN's
        weight buffer; every minigrad parameter is already its own contiguous array)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("unroll", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (see the module docstring)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; ``forward`` returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, **kwargs):
        super().__init__("LSTM", input_size, hidden_size, num_layers, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (``b_hn`` inside ``r * (W_hn h + b_hn)``, as PyTorch)."""

    def __init__(self, input_size, hidden_size, num_layers=1, **kwargs):
        super().__init__("GRU", input_size, hidden_size, num_layers, **kwargs)


# ---------------------------------------------------------------------- cells: one step
class RNNCellBase(Module):
    """One step of a recurrent layer: ``cell(x, state) -> state`` with x (B, I) or unbatched (I,).

    Parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H).
    It runs the same nodes as a layer with T = 1, so it is as fast and as checked.
    """

    def __init__(self, mode, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__()
        self.mode, self.kind = mode, KINDS[mode]
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        GH, bound = self.kind.gates * hidden_size, 1.0 / math.sqrt(hidden_size)
        self.weight_ih = uniform_(Parameter(np.empty((GH, input_size), dtype)), bound)
        self.weight_hh = uniform_(Parameter(np.empty((GH, hidden_size), dtype)), bound)
        self.bias_ih = uniform_(Parameter(np.empty((GH,), dtype)), bound) if bias else None
        self.bias_hh = uniform_(Parameter(np.empty((GH,), dtype)), bound) if bias else None

    def forward(self, x, state=None):
        name = type(self).__name__
        x = as_tensor(x, like=self.weight_ih)
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input is {x.dtype} but the parameters are {self.weight_ih.dtype}")
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (B, {self.input_size}) or ({self.input_size},), "
                             f"got {x.shape}")
        batched = x.ndim == 2
        B = x.shape[0] if batched else 1
        want = (B, self.hidden_size) if batched else (self.hidden_size,)
        if state is None:
            states = (Tensor(np.zeros((B, self.hidden_size), x.dtype), dtype=x.dtype),) * self.kind.n_state
        else:
            states = tuple(state) if self.kind.n_state == 2 else (state,)
            if len(states) != self.kind.n_state:
                raise ValueError(f"{name}: state must be a pair (h, c)")
            states = tuple(as_tensor(s, like=self.weight_ih) for s in states)
            for s in states:
                if s.shape != want:
                    raise ValueError(f"{name}: state has shape {s.shape}, expected {want}")
                if s.dtype != x.dtype:
                    raise TypeError(f"{name}: state is {s.dtype} but the input is {x.dtype}")
            states = tuple(s.reshape(B, self.hidden_size) for s in states)
        _, final, _ = run_direction(self.kind, x.reshape(1, B, self.input_size), states, self.weight_ih,
                                 self.weight_hh, self.bias_ih, self.bias_hh, None, False, True)
        if not batched:
            final = tuple(s.reshape(self.hidden_size) for s in final)
        return final if self.kind.n_state == 2 else final[0]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, bias, dtype)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)
