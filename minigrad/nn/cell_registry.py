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
  spelling, used by the binding (:mod:`minigrad.kernels.cells`, :mod:`~minigrad.kernels.sequences`)
  because it names C symbols;
* ``seq_cache`` -- the (T, B, k*H) caches the sequence kernel keeps for backward, name -> k
  in its C argument order, and ``seq_backward_reads`` -- those the sequence backward reads;
* ``step_output_names`` / ``seq_output_names`` -- the outputs of a step node / sequence node;
* ``step_caches`` / ``step_saved`` -- the (B, k*H) caches a step forward writes after the new
  states, and what a step backward reads (by name), in the C argument order;
* ``gates_over_gx`` -- the sequence forward may write its gate cache over gx (the LSTM);
* ``c_flags`` -- the trailing int arguments of the kind's C kernels (the Elman RNN's relu);
* the kernel entry points, one calling convention for every kind and no per-kind code (the
  generic binding of :mod:`minigrad.kernels.cells` reads the rows above): ``bind_step``,
  ``step_forward``, ``step_backward``, ``bound_sequence``;
* ``make_layer`` / ``make_cell`` -- the nn modules of the kind (nn.LSTM, nn.LSTMCell, ...);
* ``supports_projection`` -- whether a layer of the kind takes ``proj_size`` (PyTorch: the LSTM);
* ``composed`` -- the step written with ordinary tape ops (:mod:`minigrad.nn.composed`);
* ``reference`` -- the NumPy forward and hand-written BPTT (:mod:`minigrad.reference`) with this
  kind's name.

Adding a cell kind touches: one spec here (data only: the rows the binding reads); in C, its gate
rows (csrc/rnn_rows.inc), its planned step kernels and their unplanned wrappers (rnn_step.inc),
its case in the sequence loop and the sequence entry points (rnn_seq.inc, rnn_seq.c's enum), the
prototypes (rnn_cells.h, which is also the cffi declaration) and its naive reference step
(rnn_ref.inc, rnn_ref.h); one NumPy reference entry (minigrad/reference/rnn.py) and its composed
equations (minigrad/nn/composed.py). Not the binding (minigrad/kernels/cells.py, sequences.py), the tape nodes,
the layers (``make_layer``/``make_cell`` run any spec through RNNBase / RNNCellBase; a named
class such as nn.LSTM is optional) or the drawings; seq2seq runs any kind but offers the tested
ones (``SEQ2SEQ_CELLS``); the parametrised tests pick it up from ``CELLS``.
"""
import numpy as np

from .. import kernels as K
from ..kernels.cells import BoundStep
from ..kernels.sequences import bound_sequence

__all__ = ["CellSpec", "CELLS", "MODES", "cell_spec", "family"]


class CellSpec:
    """One recurrent cell kind (see the module docstring for every field)."""

    def __init__(self, name, mode, gate_names, state_names, c_cell, step_caches, step_saved, seq_cache,
                 seq_backward_reads, folded_bias, separate_hidden_grad, nonlinearity=None,
                 gates_over_gx=False, composed=None, supports_projection=False):
        self.name, self.mode, self.c_cell = name, mode, c_cell
        self.gate_names, self.gates = tuple(gate_names), len(gate_names)
        self.state_names, self.n_state = tuple(state_names), len(state_names)
        self.seq_cache, self.folded_bias = tuple(seq_cache), folded_bias
        self.seq_backward_reads, self.gates_over_gx = tuple(seq_backward_reads), gates_over_gx
        self.step_caches, self.step_saved = tuple(step_caches), tuple(step_saved)
        # a step forward's arrays in C order (new states, caches, gx_t, previous states): where each
        # saved one is
        pool = (list(self.state_names) + [n for n, _ in self.step_caches] + ["gx_t"]
                + [n + "_prev" for n in self.state_names])
        self._saved_at = tuple(pool.index(n) for n in self.step_saved)
        self.recurrent_bias = folded_bias < self.gates
        self.separate_hidden_grad = separate_hidden_grad
        self.nonlinearity = nonlinearity
        # trailing int arguments of every C kernel of the kind (csrc/rnn_cells.h): the Elman RNN's relu
        self.c_flags = (int(nonlinearity == "relu"),) if nonlinearity else ()
        self.supports_projection = supports_projection
        self.step_output_names = self.state_names
        self.seq_output_names = ("output",) + tuple(s + "_n" for s in self.state_names)
        self.seq_state0_names = tuple(s + "0" for s in self.state_names)     # in error messages
        self.seq_hprev_at = [n for n, _ in self.seq_cache].index("hprev")   # hprev: dW_hh's operand
        self.composed_name = composed

    # ------------------------------------------------------------------ kernel entry points
    def bind_step(self, w_hh, batch, plan, lengths, b_hn, backward):
        """The pass's :class:`~minigrad.kernels.cells.BoundStep` of this kind's forward (or
        backward) step kernel ``mg_<c_cell>_<forward|backward>``: W_hh packed in ``plan`` (a
        ``kernels.StepPlan``, or None when B or H is 0), lengths, the forward's recurrent bias
        (b_hn, passed right after W_hh by the kinds that have one) and ``c_flags``. Call it only
        after ``kernels.sequences.check_pass`` has checked the pass's arrays."""
        stem = f"{self.c_cell}_{'backward' if backward else 'forward'}"
        post = (b_hn,) if self.recurrent_bias and not backward else ()
        return BoundStep(stem, w_hh, batch, plan, lengths, post, self.c_flags)

    # (step: the BoundStep; gx_t (B, G*H); states: tuple of (B, H)) -> (new states, saved arrays)
    def step_forward(self, step, gx_t, states, t):
        """One fused step t through the pass's bound forward kernel ``step``: allocates the new
        states (B, H) and the ``step_caches`` (B, k*H), hands the kernel its arrays in its C order
        (see kernels/cells.py) and returns (new states tuple, the ``step_saved`` arrays)."""
        h_prev = states[0]
        B, H = h_prev.shape
        new = [np.empty_like(h_prev) for _ in states]
        pool = (*new, *[np.empty((B, k * H), h_prev.dtype) for _, k in self.step_caches], gx_t, *states)
        step(pool, t)
        return tuple(new), tuple([pool[i] for i in self._saved_at])

    def step_backward(self, step, dstates, saved, t, dgx_t, dgh_t, dstates_prev):
        """Backward of step t through the pass's bound backward kernel ``step``. ``dstates``:
        gradients of the new states (dh never None; dc may be None); WRITES dgx_t (B, G*H) and,
        when ``separate_hidden_grad``, dgh_t; ACCUMULATES into the (B, H) arrays of
        ``dstates_prev``. Every array C-contiguous, of the pass's dtype (see BoundStep)."""
        grads = (dgx_t, dgh_t) if self.separate_hidden_grad else (dgx_t,)
        step((*grads, *dstates_prev, *dstates, *saved), t)

    def bound_sequence(self, dtype):
        """The whole-sequence kernels of this kind for ``dtype`` (a
        :class:`~minigrad.kernels.sequences.BoundSequence`, made once per (spec, dtype) and kept):
        ``.forward(gx, states0, w_hh, b_hn, lengths, reverse, c_flags)`` returns (output (T, B, H),
        final states tuple, cache dict, SeqPass) and ``.backward(dout, dfinals, seq_pass)`` returns
        (dgx (T, B, G*H), dgh (T, B, G*H) -- dgx itself unless ``separate_hidden_grad`` --, dstates0
        tuple). ``gx`` must be the caller's private buffer: with ``gates_over_gx`` the gate cache is
        written over it (one (T, B, G*H) buffer less). Call it only after
        ``kernels.sequences.check_pass`` has checked the pass's arrays."""
        return bound_sequence(self, dtype, self.gates_over_gx)

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


# ---------------------------------------------------------------------- the kinds
# A kind is data: its gates and states, and the rows the C binding reads (kernels/cells.py and sequences.py spell
# out the C argument order they fill):
# step_caches: the (B, k*H) caches a step forward writes after the new states, (name, k);
# step_saved: what a step backward reads, by name (a new state, a previous state '<s>_prev', a cache);
# seq_cache: the (T, B, k*H) caches the sequence forward writes, (name, k) in its C argument order;
# seq_backward_reads: those the sequence backward reads, in its C order (csrc/rnn_cells.h).
_ELMAN = dict(gate_names=("a",), state_names=("h",), c_cell="rnn", folded_bias=1,
              step_caches=(), step_saved=("h",),     # h is its own cache: tanh' = 1 - h^2, relu' = h > 0
              seq_cache=(("hprev", 1), ("out", 1)), seq_backward_reads=("out",),
              separate_hidden_grad=False, composed="rnn_cell")

#: The registry: cell kind -> CellSpec.
CELLS = {
    "rnn_tanh": CellSpec("rnn_tanh", "RNN_TANH", nonlinearity="tanh", **_ELMAN),
    "rnn_relu": CellSpec("rnn_relu", "RNN_RELU", nonlinearity="relu", **_ELMAN),
    "lstm": CellSpec("lstm", "LSTM", ("i", "f", "g", "o"), ("h", "c"), "lstm",
                     step_caches=(("gates", 4), ("tanh_c", 1)), step_saved=("gates", "tanh_c", "c_prev"),
                     seq_cache=(("hprev", 1), ("cprev", 1), ("gates", 4), ("tanh_c", 1)),
                     seq_backward_reads=("gates", "tanh_c", "cprev"), folded_bias=4,
                     separate_hidden_grad=False, gates_over_gx=True, composed="lstm_cell",
                     supports_projection=True),
    "gru": CellSpec("gru", "GRU", ("r", "z", "n"), ("h",), "gru",
                    step_caches=(("gates", 3), ("hn", 1)), step_saved=("gates", "hn", "h_prev"),
                    seq_cache=(("hprev", 1), ("gates", 3), ("hn", 1)),
                    seq_backward_reads=("gates", "hn", "hprev"), folded_bias=2,
                    separate_hidden_grad=True, composed="gru_cell"),
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


def family(c_cell):
    """The rows of the C kernel family ``c_cell`` ('rnn', 'lstm', 'gru'): the first CellSpec using
    it (the Elman kinds share one family; their relu flag is the caller's). Raises ValueError
    naming the families."""
    for spec in CELLS.values():
        if spec.c_cell == c_cell:
            return spec
    raise ValueError(f"unknown C cell family {c_cell!r}: expected one of {families()}")


def families():
    """The C kernel families, sorted: ['gru', 'lstm', 'rnn']."""
    return sorted({spec.c_cell for spec in CELLS.values()})
