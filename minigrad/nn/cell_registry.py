"""The cell registry: everything that distinguishes an Elman RNN, an LSTM and a GRU, in one place.

One :class:`CellSpec` per cell kind. The kind has one spelling everywhere in minigrad --
``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"``, ``"gru"`` -- and PyTorch's mode strings (``"RNN_TANH"``,
``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``) are accepted only as constructor arguments
(:func:`cell_spec` translates them). The layers (:mod:`minigrad.nn.rnn`), the tape nodes
(:mod:`minigrad.nn.recurrent_ops`), the drawings, seq2seq and the tests all dispatch through the
spec; nothing outside this module (and the C rows) branches on the kind.

A spec holds, for its kind (dimensions: T time, B batch, H hidden, G = ``gates``):

* ``gates``, ``gate_names`` -- the G row blocks of ``weight_ih``/``weight_hh`` in PyTorch's order;
* ``state_names`` -- ``("h",)`` or ``("h", "c")``: what ``hx``/``h_n`` hold (``n_state`` of them);
* ``folded_bias`` -- how many leading entries of ``b_hh`` (in units of H) are added to the input
  projection ``gx`` once for all steps; the rest (the GRU's ``b_hn``, which sits inside
  ``r * (W_hn h + b_hn)``) is used by the recurrence itself (``recurrent_bias``);
* ``separate_hidden_grad`` -- True when the gradient of the hidden-side pre-activations
  ``h_{t-1} @ W_hh^T`` differs from that of ``gx`` (the GRU: r scales the n block), so the kernels
  return it separately; otherwise it is ``dgx`` itself;
* ``c_cell`` -- the C kernel family (``mg_rnn_*``, ``mg_lstm_*``, ``mg_gru_*``): the only other
  spelling, used by the binding (:mod:`minigrad.kernels.cells`) because it names C symbols;
* ``seq_cache`` -- the (T, B, k*H) caches the sequence kernel keeps for backward, name -> k
  (the binding's ``SEQ_CACHE`` of the C family);
* ``step_output_names`` / ``seq_output_names`` -- the outputs of a step node / sequence node;
* the kernel entry points (thin adapters over :mod:`minigrad.kernels`, one calling convention
  for every kind): ``step_forward``, ``step_backward``, ``seq_forward``, ``seq_backward``;
* ``make_layer`` / ``make_cell`` -- the nn modules of the kind (nn.LSTM, nn.LSTMCell, ...);
* ``supports_projection`` -- whether a layer of the kind takes ``proj_size`` (PyTorch: the LSTM);
* ``composed`` -- the step written with ordinary tape ops (:mod:`minigrad.nn.composed`);
* ``reference`` -- the NumPy forward and hand-written BPTT (:mod:`minigrad.reference`) with this
  kind's name.

Adding a cell kind: one spec here, its C rows and sequence-loop case (csrc/), one reference entry.
"""
from .. import kernels as K
from ..kernels.cells import SEQ_CACHE

__all__ = ["CellSpec", "CELLS", "MODES", "cell_spec"]


class CellSpec:
    """One recurrent cell kind (see the module docstring for every field)."""

    def __init__(self, name, mode, gate_names, state_names, c_cell, seq_cache, folded_bias,
                 separate_hidden_grad, step_forward, step_backward, seq_forward, seq_backward,
                 nonlinearity=None, composed=None, supports_projection=False):
        self.name, self.mode, self.c_cell = name, mode, c_cell
        self.gate_names, self.gates = tuple(gate_names), len(gate_names)
        self.state_names, self.n_state = tuple(state_names), len(state_names)
        self.seq_cache, self.folded_bias = tuple(seq_cache), folded_bias
        self.recurrent_bias = folded_bias < self.gates
        self.separate_hidden_grad = separate_hidden_grad
        self.nonlinearity = nonlinearity
        self.supports_projection = supports_projection
        self.step_output_names = self.state_names
        self.seq_output_names = ("output",) + tuple(s + "_n" for s in self.state_names)
        self._fns = dict(step_forward=step_forward, step_backward=step_backward,
                         seq_forward=seq_forward, seq_backward=seq_backward)
        self.composed_name = composed

    # ------------------------------------------------------------------ kernel entry points
    # (gx_t (B, G*H), states tuple of (B, H), w_hh (G*H, H), b_hn (H,) or None) -> (states, saved)
    def step_forward(self, gx_t, states, w_hh, b_hn, lengths, t, plan=None):
        """One fused step: returns (new states tuple, saved arrays tuple for step_backward)."""
        return self._fns["step_forward"](self, gx_t, states, w_hh, b_hn, lengths, t, plan)

    def step_backward(self, dstates, saved, w_hh, lengths, t, dgx_t, dgh_t, dstates_prev, plan=None):
        """Backward of one step. ``dstates``: gradients of the new states (dh never None; dc may
        be None); WRITES dgx_t (B, G*H) and, when ``separate_hidden_grad``, dgh_t; ACCUMULATES
        into the (B, H) arrays of ``dstates_prev``."""
        self._fns["step_backward"](self, dstates, saved, w_hh, lengths, t, dgx_t, dgh_t, dstates_prev, plan)

    def seq_forward(self, gx, states0, w_hh, b_hn, lengths, reverse):
        """The whole time loop in C: returns (output (T, B, H), final states tuple, cache dict).
        ``gx`` may be overwritten (it is the caller's private buffer)."""
        return self._fns["seq_forward"](self, gx, states0, w_hh, b_hn, lengths, reverse)

    def seq_backward(self, dout, dfinals, cache, w_hh, lengths, reverse):
        """Backward of seq_forward: returns (dgx (T, B, G*H), dgh (T, B, G*H) -- dgx itself unless
        ``separate_hidden_grad`` --, dstates0 tuple)."""
        return self._fns["seq_backward"](self, dout, dfinals, cache, w_hh, lengths, reverse)

    # ------------------------------------------------------------------ equations
    @property
    def composed(self):
        """The composed step ``f(x, states, w_ih, w_hh, b_ih, b_hh) -> states`` (tape ops)."""
        from . import composed
        return getattr(composed, self.composed_name)

    def make_layer(self, input_size, hidden_size, num_layers=1, **kwargs):
        """The nn layer of this kind (nn.RNN with this nonlinearity, nn.LSTM, nn.GRU)."""
        from . import rnn
        return rnn.RNNBase.of_kind(self, input_size, hidden_size, num_layers, **kwargs)

    def make_cell(self, input_size, hidden_size, **kwargs):
        """The nn cell of this kind (nn.RNNCell with this nonlinearity, nn.LSTMCell, nn.GRUCell)."""
        from . import rnn
        return rnn.RNNCellBase.of_kind(self, input_size, hidden_size, **kwargs)

    @property
    def reference(self):
        """(cell_forward, cell_backward) of the NumPy reference, bound to this kind."""
        from ..reference import rnn as ref
        return (lambda x, state, params: ref.cell_forward(self.name, x, state, params),
                ref.cell_backward)

    def __repr__(self):
        return f"CellSpec({self.name!r}, gates={self.gates}, states={self.state_names})"


# ---------------------------------------------------------------------- Elman (tanh / relu)
def _rnn_step_forward(spec, gx_t, states, w, b_hn, lengths, t, plan):
    h = K.rnn_step_forward(gx_t, states[0], w, lengths, t, spec.nonlinearity, plan=plan)
    return (h,), (h,)


def _rnn_step_backward(spec, dstates, saved, w, lengths, t, dgx_t, dgh_t, dprev, plan):
    K.rnn_step_backward(dstates[0], saved[0], w, lengths, t, spec.nonlinearity, dgates=dgx_t,
                        dh_prev=dprev[0], plan=plan)


def _rnn_seq_forward(spec, gx, states0, w, b_hn, lengths, reverse):
    out, h_n, cache = K.rnn_seq_forward(gx, states0[0], w, lengths, reverse, spec.nonlinearity)
    return out, (h_n,), cache


def _rnn_seq_backward(spec, dout, dfinals, cache, w, lengths, reverse):
    dgx, dh0 = K.rnn_seq_backward(dout, dfinals[0], cache, w, lengths, reverse, spec.nonlinearity)
    return dgx, dgx, (dh0,)


# ---------------------------------------------------------------------- LSTM
def _lstm_step_forward(spec, gx_t, states, w, b_hn, lengths, t, plan):
    h, c, gates, tanh_c = K.lstm_step_forward(gx_t, states[0], states[1], w, lengths, t, plan=plan)
    return (h, c), (gates, tanh_c, states[1])


def _lstm_step_backward(spec, dstates, saved, w, lengths, t, dgx_t, dgh_t, dprev, plan):
    gates, tanh_c, c_prev = saved
    K.lstm_step_backward(dstates[0], dstates[1], gates, tanh_c, c_prev, w, lengths, t, dgates=dgx_t,
                         dh_prev=dprev[0], dc_prev=dprev[1], plan=plan)


def _lstm_seq_forward(spec, gx, states0, w, b_hn, lengths, reverse):
    # gx is the caller's private buffer, so the gate cache is written over it: one (T, B, 4H)
    # buffer less on the tape.
    out, h_n, c_n, cache = K.lstm_seq_forward(gx, states0[0], states0[1], w, lengths, reverse,
                                              overwrite_gx=True)
    return out, (h_n, c_n), cache


def _lstm_seq_backward(spec, dout, dfinals, cache, w, lengths, reverse):
    dgx, dh0, dc0 = K.lstm_seq_backward(dout, dfinals[0], dfinals[1], cache, w, lengths, reverse)
    return dgx, dgx, (dh0, dc0)


# ---------------------------------------------------------------------- GRU
def _gru_step_forward(spec, gx_t, states, w, b_hn, lengths, t, plan):
    h, gates, hn = K.gru_step_forward(gx_t, states[0], w, b_hn, lengths, t, plan=plan)
    return (h,), (gates, hn, states[0])


def _gru_step_backward(spec, dstates, saved, w, lengths, t, dgx_t, dgh_t, dprev, plan):
    gates, hn, h_prev = saved
    K.gru_step_backward(dstates[0], gates, hn, h_prev, w, lengths, t, dgx=dgx_t, dgh=dgh_t,
                        dh_prev=dprev[0], plan=plan)


def _gru_seq_forward(spec, gx, states0, w, b_hn, lengths, reverse):
    out, h_n, cache = K.gru_seq_forward(gx, states0[0], w, b_hn, lengths, reverse)
    return out, (h_n,), cache


def _gru_seq_backward(spec, dout, dfinals, cache, w, lengths, reverse):
    dgx, dgh, dh0 = K.gru_seq_backward(dout, dfinals[0], cache, w, lengths, reverse)
    return dgx, dgh, (dh0,)


_ELMAN = dict(gate_names=("a",), state_names=("h",), c_cell="rnn", folded_bias=1,
              seq_cache=SEQ_CACHE["rnn"], separate_hidden_grad=False, composed="rnn_cell",
              step_forward=_rnn_step_forward, step_backward=_rnn_step_backward,
              seq_forward=_rnn_seq_forward, seq_backward=_rnn_seq_backward)

#: The registry: cell kind -> CellSpec.
CELLS = {
    "rnn_tanh": CellSpec("rnn_tanh", "RNN_TANH", nonlinearity="tanh", **_ELMAN),
    "rnn_relu": CellSpec("rnn_relu", "RNN_RELU", nonlinearity="relu", **_ELMAN),
    "lstm": CellSpec("lstm", "LSTM", ("i", "f", "g", "o"), ("h", "c"), "lstm",
                     SEQ_CACHE["lstm"], folded_bias=4,
                     separate_hidden_grad=False, composed="lstm_cell", supports_projection=True,
                     step_forward=_lstm_step_forward, step_backward=_lstm_step_backward,
                     seq_forward=_lstm_seq_forward, seq_backward=_lstm_seq_backward),
    "gru": CellSpec("gru", "GRU", ("r", "z", "n"), ("h",), "gru",
                    SEQ_CACHE["gru"], folded_bias=2,
                    separate_hidden_grad=True, composed="gru_cell",
                    step_forward=_gru_step_forward, step_backward=_gru_step_backward,
                    seq_forward=_gru_seq_forward, seq_backward=_gru_seq_backward),
}

#: PyTorch's mode strings (constructor arguments only) -> cell kind.
MODES = {spec.mode: name for name, spec in CELLS.items()}


def cell_spec(kind):
    """The CellSpec of ``kind``: a cell kind (``'lstm'``), a PyTorch mode string (``'LSTM'``) or
    a CellSpec (returned as is). Raises ValueError naming the accepted spellings."""
    if isinstance(kind, CellSpec):
        return kind
    spec = CELLS.get(MODES.get(kind, kind)) if isinstance(kind, str) else None
    if spec is None:
        raise ValueError(f"unknown recurrent cell kind {kind!r}: expected one of {tuple(CELLS)} "
                         f"(or PyTorch's mode strings {tuple(MODES)})")
    return spec
