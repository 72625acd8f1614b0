"""Readable recurrent cells: the equations of nn.RNNCell / LSTMCell / GRUCell as primitive tape ops.

The fused cells (:mod:`minigrad.nn.rnn`) run each step as one C kernel (csrc/rnn_step.inc) with
a hand-written backward. This module writes the *same* step with ordinary differentiable ops --
``@``, ``+``, ``*``, ``sigmoid``, ``tanh``, ``split`` -- so that it reads like the equations and
its gradient comes from the tape, op by op. It is slower (one tape node per op, a temporary per
line) and exists to be read, and to be tested equal to the fused kernels, which it is within 1e-12
in float64 (tests/test_composed_cells.py). Each cell kind's spec names its function here
(``CellSpec.composed``, :mod:`minigrad.nn.cell_registry`); the same step with its backward
written by hand, in NumPy, is :mod:`minigrad.reference.rnn` (``cell_forward``/``cell_backward``).

Shapes (B batch, I input_size, H hidden_size, G gates: 1 RNN, 4 LSTM, 3 GRU); a leading batch
dimension is optional (x (I,), h (H,) works the same):
    x (B, I)   h, c (B, H)   w_ih (G*H, I)   w_hh (G*H, H)   b_ih, b_hh (G*H,) or None

The parameter layout is PyTorch's, the one the fused cells use, so any fused cell's weights
drive these functions unchanged::

    h, c = composed.lstm_cell(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    h, c = composed.cell_step(cell, x, (h, c))          # the same, reading the cell's parameters
    cell = composed.LSTMCell(I, H)                      # a Module with nn.LSTMCell's parameters

What the fused kernel does differently, in one place (each function's comments say where):
  * the input projection ``x @ W_ih^T + b_ih (+ b_hh)`` is one GEMM over *all* time steps at once
    (``InputProjection``), done before the time loop; here it is recomputed per step;
  * the gate pre-activations live in one (B, G*H) buffer; the kernel activates each H-wide block
    in place instead of splitting into separate tensors;
  * backward is written out by hand from cached gates (e.g. ``sigma' = s (1 - s)``,
    ``tanh' = 1 - t^2``) rather than recorded op by op.
"""
import numpy as np

from .. import ops
from ..tensor import Tensor, as_tensor
from . import rnn as _rnn
from .direction import split_states


def _affine(x, w, b):
    """x @ w^T + b (b may be None): every gate's pre-activation for all gates at once."""
    y = x @ w.T
    return y if b is None else y + b


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Elman step: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` with act = tanh or relu.

    x (B, I), h (B, H), w_ih (H, I), w_hh (H, H), b_ih, b_hh (H,) or None; returns h' (B, H).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    # fused: pre = h_prev @ W_hh^T by GEMM into the output, then h = act(pre + gx_t) in one pass
    pre = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    return ops.tanh(pre) if nonlinearity == "tanh" else ops.relu(pre)


def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """LSTM step, gate order i, f, g, o (PyTorch's); returns ``(h', c')``.

    x (B, I), state = (h (B, H), c (B, H)), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,) or None.

    With a projection ``w_hr`` (P, H) (PyTorch's proj_size): h, h' (B, P), w_hh (4H, P) and
    ``h' = (o * tanh(c')) @ w_hr^T``.
    """
    h, c = state
    # [i f g o] pre-activations, (B, 4H): fused = one (B, 4H) gate buffer, gx_t + h_prev @ W_hh^T
    gates = _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)
    i, f, g, o = ops.split(gates, w_hh.shape[0] // 4, axis=-1)   # four (B, H) blocks
    i = ops.sigmoid(i)          # input gate      i = sigma(W_ii x + b_ii + W_hi h + b_hi)
    f = ops.sigmoid(f)          # forget gate     f = sigma(W_if x + b_if + W_hf h + b_hf)
    g = ops.tanh(g)             # cell candidate  g = tanh(W_ig x + b_ig + W_hg h + b_hg)
    o = ops.sigmoid(o)          # output gate     o = sigma(W_io x + b_io + W_ho h + b_ho)
    # fused: the kernel activates the four blocks in place and caches them (and tanh(c')) for
    # backward, which it writes by hand: dc = dc' + dh' o (1 - tanh(c')^2), di = dc g i (1 - i) ...
    c_new = f * c + i * g       # c' = f * c + i * g
    h_new = o * ops.tanh(c_new)     # h' = o * tanh(c')
    if w_hr is not None:            # projection: h' = W_hr (o * tanh(c')); fused: one GEMM after the loop
        h_new = h_new @ w_hr.T
    return h_new, c_new


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """GRU step, gate order r, z, n; ``b_hn`` stays inside ``r * (W_hn h + b_hn)`` (PyTorch's).

    x (B, I), h (B, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,) or None; returns h' (B, H).
    """
    H = w_hh.shape[1]
    # input side and hidden side kept apart: r multiplies only the hidden part of n.
    # fused: gx_t (input side + b_ih + b_hr, b_hz) comes from the sequence-wide GEMM; the kernel
    # forms h_prev @ W_hh^T in its gate buffer and adds b_hn itself (the `hn` cache).
    x_r, x_z, x_n = ops.split(_affine(x, w_ih, b_ih), H, axis=-1)
    h_r, h_z, h_n = ops.split(_affine(h, w_hh, b_hh), H, axis=-1)
    r = ops.sigmoid(x_r + h_r)      # reset gate   r = sigma(W_ir x + b_ir + W_hr h + b_hr)
    z = ops.sigmoid(x_z + h_z)      # update gate  z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    n = ops.tanh(x_n + r * h_n)     # candidate    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    # h' = (1 - z) * n + z * h; the fused kernel evaluates it as n + z * (h - n) (one fewer op)
    return (1 - z) * n + z * h


def cell_step(cell, x, state=None):
    """One composed step with the parameters of ``cell`` (an nn.RNNCell / LSTMCell / GRUCell).

    ``x`` (B, I) or (I,); ``state`` is h (RNN, GRU) or (h, c) (LSTM), each (B, H) or (H,); None
    means zeros, as for the fused cell. Returns the new state in the same form. The equations are
    those of the cell kind's ``spec.composed`` (:func:`rnn_cell`, :func:`lstm_cell`, :func:`gru_cell`).
    """
    if not isinstance(cell, _rnn.RNNCellBase):
        raise TypeError(f"cell_step: cell must be an nn.RNNCell, LSTMCell or GRUCell, got {type(cell).__name__}")
    spec, like = cell.spec, cell.weight_ih
    x = as_tensor(x, like=like)
    if state is None:
        zero = Tensor(np.zeros(x.shape[:-1] + (cell.hidden_size,), like.dtype), dtype=like.dtype)
        states = (zero,) * spec.n_state
    else:
        states = tuple(as_tensor(s, like=like) for s in split_states(type(cell).__name__, spec, state, "state"))
    params = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return spec.composed(x, states[0] if spec.n_state == 1 else states, *params, **_options(spec))


def _options(spec):
    """Keyword arguments of the composed function beyond the parameters (the Elman nonlinearity)."""
    return {"nonlinearity": spec.nonlinearity} if spec.nonlinearity else {}


# ---------------------------------------------------------------- Modules with the fused cells' layout
class RNNCell(_rnn.RNNCell):
    """nn.RNNCell's parameters and signature, forward written as :func:`rnn_cell`."""

    def forward(self, x, state=None):
        return cell_step(self, x, state)


class LSTMCell(_rnn.LSTMCell):
    """nn.LSTMCell's parameters and signature, forward written as :func:`lstm_cell`."""

    def forward(self, x, state=None):
        return cell_step(self, x, state)


class GRUCell(_rnn.GRUCell):
    """nn.GRUCell's parameters and signature, forward written as :func:`gru_cell`."""

    def forward(self, x, state=None):
        return cell_step(self, x, state)
