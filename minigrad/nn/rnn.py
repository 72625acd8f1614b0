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
An LSTM with ``proj_size`` P adds weight_hr_l{k} (P, H), h_t = W_hr (o * tanh(c_t)) of width P.

``lengths`` (one int per batch item, 1..T) marks padding: padded steps neither change the state
nor receive gradient, ``output`` is zero there and ``h_n`` is each sequence's last real state.
The reverse direction starts every sequence at its own last real step.

One base class and one time loop serve all three kinds; a kind differs only in its cell spec
(:mod:`minigrad.nn.cell_registry`) and the tape nodes run it (:mod:`minigrad.nn.recurrent_ops`). ``unroll=True`` records one tape node per time step (the
graph of BPTT, every h_t inspectable); ``unroll=False`` (the default) records the loop as one
node per direction whose time loop runs in C -- same numbers, less Python per step.

After a forward with ``unroll=True``, ``module.step_states[(layer, direction)]`` lists the h_t
tensors of every step in time order: call ``retain_grad()`` or ``register_hook`` on them before
``backward()`` to watch dL/dh_t flow back through time. (With ``proj_size`` the recurrence
carries m_t = o_t * tanh(c_t), so the steps listed are the m_t; see
:func:`run_projected_direction`.)
"""
import math

import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import Tensor, as_tensor
from .layers import check_size, uniform_
from .module import Module, Parameter
from .cell_registry import cell_spec
from .direction import check_lengths, run_direction, split_states   # noqa: F401 (re-exported)
from .utils.rnn import PackedSequence, forward_packed


def _proj_size(spec, proj_size, hidden_size):
    """Validated ``proj_size``: 0 (no projection) or an int in [1, hidden_size), for the LSTM only."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)) or proj_size < 0:
        raise ValueError(f"proj_size must be a non-negative int, got {proj_size!r}")
    if proj_size and not spec.supports_projection:
        raise ValueError(f"proj_size is supported by the LSTM only, got proj_size={proj_size} for {spec.mode}")
    if proj_size >= hidden_size:
        raise ValueError(f"proj_size must be smaller than hidden_size, got proj_size={proj_size} and "
                         f"hidden_size={hidden_size}")
    return int(proj_size)


def _nonlinearity_mode(nonlinearity):
    """PyTorch's mode string of an Elman RNN ('RNN_TANH' / 'RNN_RELU')."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_" + nonlinearity.upper()


class RNNBase(Module):
    """The shared base of :class:`RNN`, :class:`LSTM` and :class:`GRU` (see the module docstring).

    ``mode`` is PyTorch's mode string ('RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU') or a cell kind
    ('rnn_tanh', ...); ``self.kind`` is the cell kind and ``self.spec`` its
    :class:`~minigrad.nn.cell_registry.CellSpec`. The other arguments are those of the subclasses.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, unroll=False, proj_size=0, dtype=np.float32):
        super().__init__()
        self.spec = spec = cell_spec(mode)
        self.mode, self.kind = spec.mode, spec.name
        owner = type(self).__name__     # sizes: ints in [1, largest np.intp] (layers.check_size)
        self.input_size = check_size(owner, "input_size", input_size, minimum=1)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size, minimum=1)
        self.num_layers = check_size(owner, "num_layers", num_layers, minimum=1)
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"dropout must be in [0, 1], got {dropout}")
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.unroll = bool(bidirectional), bool(unroll)
        self.proj_size = _proj_size(spec, proj_size, self.hidden_size)
        D, GH = 2 if bidirectional else 1, spec.gates * hidden_size
        Hout = self.proj_size or self.hidden_size          # the width of h
        bound = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else Hout * D
            for sfx in ("", "_reverse")[:D]:
                shapes = [("weight_ih", (GH, in_size)), ("weight_hh", (GH, Hout))]
                if bias:
                    shapes += [("bias_ih", (GH,)), ("bias_hh", (GH,))]
                if self.proj_size:
                    shapes += [("weight_hr", (Hout, hidden_size))]
                for name, shape in shapes:
                    p = uniform_(Parameter(np.empty(shape, dtype)), bound)
                    p.name = f"{name}_l{layer}{sfx}"       # draw_tape labels the weight by it
                    setattr(self, p.name, p)

    @staticmethod
    def of_kind(kind, input_size, hidden_size, num_layers=1, **kwargs):
        """The layer (RNN, LSTM or GRU) of a cell kind ('rnn_tanh', 'lstm', ... or a CellSpec)."""
        spec = cell_spec(kind)
        cls = _LAYER_OF_KIND.get(spec.name)
        if cls is None:          # a kind without a named class of its own: the base runs any spec
            return RNNBase(spec, input_size, hidden_size, num_layers, **kwargs)
        if spec.nonlinearity:
            kwargs["nonlinearity"] = spec.nonlinearity
        return cls(input_size, hidden_size, num_layers, **kwargs)

    def _layer_params(self, layer, sfx):
        get = lambda n: getattr(self, f"{n}_l{layer}{sfx}")
        if self.bias:
            return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")
        return get("weight_ih"), get("weight_hh"), None, None

    def _state_sizes(self):
        """The width of each state: h is proj_size wide when projected, c always hidden_size."""
        return tuple(self.proj_size or self.hidden_size if n == "h" else self.hidden_size
                     for n in self.spec.state_names)

    def _check_input(self, x, hx, lengths):
        name, dtype = type(self).__name__, self.weight_ih_l0.dtype
        if x.dtype != dtype:
            raise TypeError(f"{name}: input is {x.dtype} but the parameters are {dtype}; "
                            "convert the input or call .to(dtype) on the module")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (T, B, {self.input_size})"
                             f"{' with batch_first (B, T, I)' if self.batch_first else ''} or unbatched "
                             f"(T, {self.input_size}), got {x.shape}")
        batched = x.ndim == 3
        T, B = (x.shape[1], x.shape[0]) if (batched and self.batch_first) else (x.shape[0], x.shape[1] if batched else 1)
        n_states = self.num_layers * (2 if self.bidirectional else 1)
        states = None
        if hx is not None:
            states = split_states(name, self.spec, hx, "hx")
            states = tuple(as_tensor(s, like=self.weight_ih_l0) for s in states)
            for sname, s, width in zip(self.spec.state_names, states, self._state_sizes()):
                want = (n_states, B, width) if batched else (n_states, width)
                if s.shape != want:
                    raise ValueError(f"{name}: {sname}_0 has shape {s.shape}, expected {want} "
                                     f"(num_layers*num_directions, batch, hidden_size)")
                if s.dtype != dtype:
                    raise TypeError(f"{name}: {sname}_0 is {s.dtype} but the parameters are {dtype}")
        if lengths is not None:
            if not batched:
                raise ValueError(f"{name}: lengths needs a batched input, got unbatched input {x.shape}")
            lengths = check_lengths(lengths, B, T)
        return batched, T, B, states, lengths

    def forward(self, x, hx=None, lengths=None):
        """Run the layer over a sequence (see the subclass docstrings for the shapes).

        Args:
            x: (T, B, I) input (B, T, I with ``batch_first``) or unbatched (T, I), or a
                ``nn.utils.rnn.PackedSequence`` (then the output is one too).
            hx: initial state(s) (L*D, B, H) (unbatched: (L*D, H)); the LSTM takes a pair
                (h_0, c_0). None means zeros.
            lengths: None or B ints in [1, T], the real length of every (padded) sequence
                (not with a PackedSequence, which carries its own).

        Returns:
            ``(output, h_n)`` -- for the LSTM ``(output, (h_n, c_n))``.
        """
        if isinstance(x, PackedSequence):       # unpack, run the lengths= path, re-pack (nn/utils/rnn.py)
            return forward_packed(self, x, hx, lengths)
        x = as_tensor(x, like=self.weight_ih_l0)
        batched, T, B, states, lengths = self._check_input(x, hx, lengths)
        spec = self.spec
        widths = self._state_sizes()
        if not batched:
            x = x.reshape(T, 1, self.input_size)
            states = None if states is None else tuple(s.reshape(s.shape[0], 1, w) for s, w in zip(states, widths))
        elif self.batch_first:
            x = x.transpose(0, 1)
        H, D = widths[0], 2 if self.bidirectional else 1
        if states is None:
            dt = self.weight_ih_l0.dtype
            zeros = tuple(Tensor(np.zeros((B, w), dt), dtype=dt) for w in widths)
            init = lambda i: zeros
        else:
            init = lambda i: tuple(s[i] for s in states)
        finals = []
        layer_input = x
        self.step_states = {}
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(("", "_reverse")[:D]):
                names = (f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}")
                w_hr = getattr(self, f"weight_hr_l{layer}{sfx}") if self.proj_size else None
                out, final, steps = run_direction(spec, layer_input, init(layer * D + d),
                                                  *self._layer_params(layer, sfx), lengths=lengths,
                                                  reverse=d == 1, unroll=self.unroll, names=names, w_hr=w_hr)
                outs.append(out)
                finals.append(final)
                if steps is not None:
                    self.step_states[(layer, d)] = [s[0] for s in steps]
            layer_input = outs[0] if D == 1 else ops.concat(outs, axis=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        h_n = tuple(ops.stack([f[i] for f in finals], axis=0) for i in range(spec.n_state))
        if not batched:
            output = output.reshape(T, D * H)
            h_n = tuple(h.reshape(h.shape[0], w) for h, w in zip(h_n, widths))
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n if spec.n_state > 1 else h_n[0])

    def flatten_parameters(self):
        """As ``torch.nn.RNNBase.flatten_parameters`` on the CPU: nothing to do (it packs cuDNN's
        weight buffer; every minigrad parameter is already its own contiguous array)."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.spec.nonlinearity == "relu":
            s += ", nonlinearity='relu'"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("proj_size", 0), ("unroll", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


_LAYER_ARGS = """
    Args:
        input_size: I, the features of x_t.
        hidden_size: H, the features of h_t.
        num_layers: L stacked layers; layer k > 0 reads the output of layer k - 1. Default 1.
        bias: if False, no ``bias_ih_l{{k}}`` / ``bias_hh_l{{k}}``. Default True.
        batch_first: input and output are (B, T, .) instead of (T, B, .). Default False.
        dropout: dropout probability on the outputs of every layer but the last (training only).
        bidirectional: add a reverse direction per layer (D = 2; outputs concatenated). Default False.
        unroll: record one tape node per time step (every h_t inspectable, ``step_states``)
            instead of one fused node per direction. Same numbers. Default False.
        dtype: np.float32 (default) or np.float64.

    Inputs: ``x, hx=None, lengths=None``
        x: (T, B, I), (B, T, I) with batch_first, or unbatched (T, I).
        hx: {hx}; None means zeros. (Unbatched: drop the B dimension.)
        lengths: None or B integers in [1, T] (any order): the real length of each sequence of a
            padded batch; padded steps keep the state, output 0 and receive no gradient.

    Outputs: ``{outputs}``
        output: (T, B, D*H) (batch_first: (B, T, D*H)): the last layer's h_t for every t.
        {final}

    Parameters (k = layer; suffix "_reverse" for the reverse direction; I_0 = I, I_k = D*H;
    every one initialised U(-1/sqrt(H), 1/sqrt(H)), as PyTorch):
        weight_ih_l{{k}}: ({G}*H, I_k) -- {rows}
        weight_hh_l{{k}}: ({G}*H, H)
        bias_ih_l{{k}}, bias_hh_l{{k}}: ({G}*H,)
"""


class RNN(RNNBase):
    """Elman RNN (PyTorch's ``nn.RNN``): for every layer and time step

        h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),      act = tanh (default) or relu

    Extra argument ``nonlinearity``: 'tanh' or 'relu'.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **kwargs):
        super().__init__(_nonlinearity_mode(nonlinearity), input_size, hidden_size, num_layers, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory (PyTorch's ``nn.LSTM``): for every layer and time step

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       cell candidate
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)                                   (proj_size = 0, the default)
        h_t = W_hr (o_t * tanh(c_t))                            (proj_size = P > 0: LSTMP)

    Extra argument ``proj_size``: P in [1, H) projects every h_t to P features with
    ``weight_hr_l{k}`` (P, H); h_0, h_n, the output (T, B, D*P), the columns of
    ``weight_hh_l{k}`` (4H, P) and the input of layer k > 0 (D*P) are then P wide, c stays H
    wide. Default 0 (no projection). How it runs: the fused LSTM kernels carry m_t = o_t * tanh(c_t)
    (width H) through the recurrence with W_eff = W_hh @ W_hr (4H, H), since W_hh h_{t-1} =
    W_eff m_{t-1}; h_0 enters once as W_hh h_0 in each row's first step, and all h_t = W_hr m_t
    are one GEMM after the loop (:func:`~minigrad.nn.direction.run_projected_direction`).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, **kwargs):
        super().__init__("LSTM", input_size, hidden_size, num_layers, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's ``nn.GRU``): for every layer and time step

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      reset gate
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)      update gate
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))   candidate (b_hn inside r * (.))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    """

    def __init__(self, input_size, hidden_size, num_layers=1, **kwargs):
        super().__init__("GRU", input_size, hidden_size, num_layers, **kwargs)


_ROWS = {"RNN": ("1", "W_ih", "the single block"), "LSTM": ("4", "W_ii|W_if|W_ig|W_io", "gates i, f, g, o"),
         "GRU": ("3", "W_ir|W_iz|W_in", "gates r, z, n")}
for _cls, _hx, _outs, _final in (
        (RNN, "(L*D, B, H) h_0", "(output, h_n)", "h_n: (L*D, B, H), the final h_t of every layer and direction."),
        (LSTM, "pair (h_0, c_0), each (L*D, B, H)", "(output, (h_n, c_n))",
         "h_n, c_n: (L*D, B, H), the final h_t and c_t of every layer and direction."),
        (GRU, "(L*D, B, H) h_0", "(output, h_n)", "h_n: (L*D, B, H), the final h_t of every layer and direction.")):
    _g, _, _r = _ROWS[_cls.__name__]
    _cls.__doc__ += _LAYER_ARGS.format(hx=_hx, outputs=_outs, final=_final, G=_g, rows=_r)
LSTM.__doc__ += ("        weight_hr_l{k}: (P, H) -- only with proj_size = P > 0, where h_0, h_n, the output and the\n"
                 "            columns of weight_hh_l{k} are P wide instead of H\n")


# ---------------------------------------------------------------------- cells: one step
class RNNCellBase(Module):
    """One step of a recurrent layer: ``cell(x, state) -> state`` (the base of RNNCell, LSTMCell,
    GRUCell; see theirs for the equations).

    Args:
        mode: PyTorch's mode string ('RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU') or a cell kind.
        input_size: I.  hidden_size: H.  bias: if False, no bias_ih / bias_hh.  dtype: float32/64.

    Inputs: ``x, state=None``
        x: (B, I) or unbatched (I,).
        state: h (B, H) -- for the LSTM a pair (h, c) -- or unbatched (H,); None means zeros.

    Outputs: the new state, as ``state``.

    Parameters (G gate blocks: 1 RNN, 4 LSTM (i, f, g, o), 3 GRU (r, z, n)), all U(-1/sqrt(H), 1/sqrt(H)):
        weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,)

    It runs the same nodes as a layer with T = 1, so it is as fast and as checked.
    """

    def __init__(self, mode, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__()
        self.spec = spec = cell_spec(mode)
        self.mode, self.kind = spec.mode, spec.name
        owner = type(self).__name__     # sizes: ints in [1, largest np.intp] (layers.check_size)
        self.input_size = check_size(owner, "input_size", input_size, minimum=1)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size, minimum=1)
        self.bias = bool(bias)
        GH, bound = spec.gates * hidden_size, 1.0 / math.sqrt(hidden_size)
        shapes = [("weight_ih", (GH, input_size)), ("weight_hh", (GH, hidden_size))]
        shapes += [("bias_ih", (GH,)), ("bias_hh", (GH,))] if bias else []
        for name, shape in shapes:
            p = uniform_(Parameter(np.empty(shape, dtype)), bound)
            p.name = name
            setattr(self, name, p)
        if not bias:
            self.bias_ih = self.bias_hh = None

    @staticmethod
    def of_kind(kind, input_size, hidden_size, **kwargs):
        """The cell (RNNCell, LSTMCell or GRUCell) of a cell kind ('rnn_tanh', ... or a CellSpec)."""
        spec = cell_spec(kind)
        cls = _CELL_OF_KIND.get(spec.name)
        if cls is None:          # a kind without a named class of its own: the base runs any spec
            return RNNCellBase(spec, input_size, hidden_size, **kwargs)
        if spec.nonlinearity:
            kwargs["nonlinearity"] = spec.nonlinearity
        return cls(input_size, hidden_size, **kwargs)

    def check_state(self, x, state):
        """Validate ``x`` and ``state`` (see the class docstring); returns (x, states tuple of
        (B, H) tensors, batched)."""
        name, spec = type(self).__name__, self.spec
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
            states = (Tensor(np.zeros((B, self.hidden_size), x.dtype), dtype=x.dtype),) * spec.n_state
        else:
            states = tuple(as_tensor(s, like=self.weight_ih) for s in split_states(name, spec, state, "state"))
            for sname, s in zip(spec.state_names, states):
                if s.shape != want:
                    raise ValueError(f"{name}: state {sname} has shape {s.shape}, expected {want}")
                if s.dtype != x.dtype:
                    raise TypeError(f"{name}: state {sname} is {s.dtype} but the input is {x.dtype}")
            states = tuple(s.reshape(B, self.hidden_size) for s in states)
        return x.reshape(B, self.input_size), states, batched

    def forward(self, x, state=None):
        """One step: x (B, I) or (I,), state h or (h, c) of (B, H) or (H,) each (None: zeros) ->
        the new state of the same form (one fused C step kernel call, recorded as one tape node)."""
        x, states, batched = self.check_state(x, state)
        _, final, _ = run_direction(self.spec, x.reshape(1, x.shape[0], self.input_size), states, self.weight_ih,
                                    self.weight_hh, self.bias_ih, self.bias_hh, unroll=True,
                                    names=("weight_ih", "weight_hh"))
        if not batched:
            final = tuple(s.reshape(self.hidden_size) for s in final)
        return final if self.spec.n_state > 1 else final[0]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.spec.nonlinearity == "relu":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """One Elman step (PyTorch's ``nn.RNNCell``): ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``,
    act = tanh (default) or relu (``nonlinearity``). x (B, I) or (I,); h, h' (B, H) or (H,);
    weight_ih (H, I), weight_hh (H, H), bias_ih, bias_hh (H,)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32):
        super().__init__(_nonlinearity_mode(nonlinearity), input_size, hidden_size, bias, dtype)


class LSTMCell(RNNCellBase):
    """One LSTM step (PyTorch's ``nn.LSTMCell``): ``(h', c') = cell(x, (h, c))`` with

        i, f, g, o = sigma, sigma, tanh, sigma of the four H-blocks of W_ih x + b_ih + W_hh h + b_hh
        c' = f * c + i * g         h' = o * tanh(c')

    x (B, I) or (I,); h, c, h', c' (B, H) or (H,); weight_ih (4H, I), weight_hh (4H, H),
    bias_ih, bias_hh (4H,), row blocks in the gate order i, f, g, o."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)


class GRUCell(RNNCellBase):
    """One GRU step (PyTorch's ``nn.GRUCell``): ``h' = cell(x, h)`` with

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)     z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))        h' = (1 - z) * n + z * h

    x (B, I) or (I,); h, h' (B, H) or (H,); weight_ih (3H, I), weight_hh (3H, H),
    bias_ih, bias_hh (3H,), row blocks in the gate order r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)


# cell kind -> the module classes (RNNBase.of_kind, RNNCellBase.of_kind)
_LAYER_OF_KIND = {"rnn_tanh": RNN, "rnn_relu": RNN, "lstm": LSTM, "gru": GRU}
_CELL_OF_KIND = {"rnn_tanh": RNNCell, "rnn_relu": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
