"""One direction of one recurrent layer over a whole sequence: the time loop every cell kind shares.

:func:`run_direction` records the tape of one direction (the nodes of
:mod:`minigrad.nn.recurrent_ops`, dispatched through the cell kind's
:class:`~minigrad.nn.cell_registry.CellSpec`); :func:`run_projected_direction` is the LSTM with
projections (``proj_size``). The layers (:mod:`minigrad.nn.rnn`), their cells and seq2seq's fused
decoder call them; :func:`check_lengths` and :func:`split_states` are the input checks they share.

Shapes: T time, B batch, I input, H hidden, G gates of the cell kind, P the projection.
"""
import numpy as np

from ..kernels.common import contiguous
from ..tensor import Tensor
from .cell_registry import cell_spec
from .recurrent_ops import (HiddenWeights, InputProjection, RecurrentSequence, RecurrentStep, StackSteps,
                            Workspace)


def check_lengths(lengths, B, T):
    """Validate per-item sequence ``lengths`` for a padded (T, B, ...) batch.

    ``lengths``: B integers in [1, T] (a list, NumPy array or integer Tensor; any order -- unsorted
    batches are fine). Returns them as a C-contiguous int64 array of shape (B,), or None when
    every sequence has the full length T (nothing is padded). Raises TypeError for non-integer
    values and ValueError naming the expected count/range and the values given.
    """
    if isinstance(lengths, Tensor):
        lengths = lengths.data
    L = np.asarray(lengths)
    if L.dtype.kind not in "iu":
        raise TypeError(f"lengths must be integers, got dtype {L.dtype} ({lengths!r:.80})")
    if L.shape != (B,):
        raise ValueError(f"lengths must hold one length per batch item: expected shape ({B},), got {L.shape}")
    if B and (L.min() < 1 or L.max() > T):
        raise ValueError(f"lengths must lie in [1, {T}] (the padded length T), got min {L.min()} max {L.max()}")
    L = np.ascontiguousarray(L, dtype=np.int64)
    return None if B and L.min() == T else L


def run_direction(cell, x, state0, w_ih, w_hh, b_ih=None, b_hh=None, *, lengths=None, reverse=False,
                  unroll=False, names=None, w_hr=None):
    """One direction of one layer over a whole sequence: the time loop shared by every cell kind.

    Args:
        cell: the cell kind (``'lstm'``, ...) or its :class:`~minigrad.nn.cell_registry.CellSpec`.
        x: (T, B, I) tensor.
        state0: tuple of ``spec.n_state`` (B, H) tensors (h_0, and c_0 for the LSTM).
        w_ih (G*H, I), w_hh (G*H, H), b_ih (G*H,) or None, b_hh (G*H,) or None: parameters.
        lengths: None or (B,) int64 from :func:`check_lengths` (padding; see the module docstring).
        reverse: run from the last step to the first (the backward direction).
        unroll: record one ``RecurrentStep`` per time step instead of one ``RecurrentSequence``.
        names: (name of w_ih, name of w_hh) for the node labels (default: the tensors' ``.name``).
        w_hr: None, or the LSTM projection (P, H) (see :func:`run_projected_direction`); w_hh is
            then (4H, P) and the h of ``state0`` and of the results (B, P).

    Returns:
        (output (T, B, H), final states tuple of (B, H), steps) where ``steps`` is the list of
        per-step state tuples in time order when unrolled, else None.
    """
    spec = cell_spec(cell)
    if w_hr is not None:
        return run_projected_direction(spec, x, state0, w_ih, w_hh, b_ih, b_hh, w_hr, lengths=lengths,
                                       reverse=reverse, unroll=unroll, names=names)
    return _run(spec, x, state0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, unroll, names)


def _run(spec, x, state0, w_ih, w_hh, b_ih, b_hh, lengths, reverse, unroll, names, gx_extra=None):
    """run_direction's body; ``gx_extra`` (T, B, G*H) tensor or None is added to the projection."""
    T, B = x.shape[0], x.shape[1]
    H = w_hh.shape[1]
    b_hn = contiguous(b_hh.data[spec.folded_bias * H:]) if (spec.recurrent_bias and b_hh is not None) else None
    names = names or (w_ih.name or "W_ih", w_hh.name or "W_hh")
    # one C-contiguous, aligned W_hh for every kernel call of this pass (a step plan checks it is
    # the same; the bound kernels take its pointer as it is)
    ws = Workspace(spec, contiguous(w_hh.data), b_hn, lengths, T, reverse, names)
    biases = (b_ih, b_hh) if b_ih is not None else ()
    gx = InputProjection.apply(x, w_ih, *biases, ws=ws)
    if gx_extra is not None:
        gx = gx + gx_extra
    rec_bias = (b_hh,) if b_hn is not None else ()       # the part of b_hh the recurrence uses
    if not unroll or T == 0:
        res = RecurrentSequence.apply(gx, w_hh, *rec_bias, *state0, ws=ws, n_bias=len(rec_bias))
        return res[0], tuple(res[1:]), None
    ws.begin_steps(gx.data, [s.data for s in state0])
    w = HiddenWeights.apply(w_hh, *rec_bias, ws=ws)
    state, steps = tuple(state0), [None] * T
    for t in ws.order():
        out = RecurrentStep.apply(gx, w, *state, ws=ws, t=t)
        state = steps[t] = out if isinstance(out, tuple) else (out,)
    mask = None
    if lengths is not None:
        mask = (np.arange(T)[:, None] < lengths[None, :]).astype(w_hh.dtype)[:, :, None]
    return StackSteps.apply(*(s[0] for s in steps), mask=mask), state, steps


def run_projected_direction(cell, x, state0, w_ih, w_hh, b_ih, b_hh, w_hr, *, lengths=None, reverse=False,
                            unroll=False, names=None):
    """One direction of an LSTM with projections (PyTorch's ``proj_size``, LSTMP):

        i, f, g, o = sigma, sigma, tanh, sigma (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
        c_t = f * c_{t-1} + i * g        m_t = o * tanh(c_t)        h_t = W_hr m_t

    with h (B, P), c and m (B, H), W_hh (4H, P), W_hr (P, H). It runs on the fused LSTM kernels
    unchanged, by carrying m instead of h through the recurrence: W_hh h_{t-1} = W_hh W_hr m_{t-1}
    = W_eff m_{t-1} with W_eff = W_hh @ W_hr (4H, H), one small matmul per pass. The given h_0
    enters as W_hh h_0, added to the projected input of each row's first step (where m = 0);
    after the loop, all h_t = m_t @ W_hr^T are one GEMM over the (T, B, H) outputs. The tape shows
    it as such: W_hh and W_hr feed the MatMul forming W_eff, which feeds the recurrence.

    Arguments and results are those of :func:`run_direction` (h of shape (B, P)); ``steps`` of an
    unrolled pass hold the per-step (m_t, c_t).
    """
    spec = cell_spec(cell)
    if not spec.supports_projection:
        raise ValueError(f"proj_size is supported by the LSTM only, not by a {spec.name} cell")
    T, B = x.shape[0], x.shape[1]
    H, dt = w_hr.shape[1], w_hh.dtype
    h0, c0 = state0
    w_eff = w_hh @ w_hr                                                     # (4H, H)
    gx_extra = None
    if T and (h0.requires_grad or h0.data.any()):
        # W_hh h_0 enters at each row's first step: t = 0, or (reverse) its last real step
        first = np.zeros((T, B, 1), dt)       # (T = 0: nothing to add to)
        last = (lengths - 1) if lengths is not None else np.full(B, T - 1)
        first[last if reverse else 0, np.arange(B), 0] = 1
        gx_extra = first * (h0 @ w_hh.T)                                    # (T, B, 4H)
    m0 = Tensor(np.zeros((B, H), dt), dtype=dt)
    names = names or (w_ih.name or "W_ih", w_hh.name or "W_hh")
    m_out, (m_n, c_n), steps = _run(spec, x, (m0, c0), w_ih, w_eff, b_ih, b_hh, lengths, reverse, unroll,
                                    (names[0], f"{names[1]} @ W_hr"), gx_extra)
    if T == 0:
        return m_out @ w_hr.T, (h0, c0), steps
    return m_out @ w_hr.T, (m_n @ w_hr.T, c_n), steps


def split_states(where, spec, hx, what):
    """The states in ``hx`` as a tuple of ``spec.n_state``: the LSTM's pair (h, c) as (h, c), one h
    as (h,); ``where`` and ``what`` name the caller and argument in errors."""
    if spec.n_state == 1:
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"{where}: {what} must be one tensor h for a {spec.name} cell, got a "
                            f"{type(hx).__name__} of {len(hx)}")
        return (hx,)
    if not isinstance(hx, (tuple, list)) or len(hx) != spec.n_state:
        raise ValueError(f"{where}: {what} must be a pair ({', '.join(spec.state_names)}), got "
                         f"{type(hx).__name__}{'' if not isinstance(hx, (tuple, list)) else f' of {len(hx)}'}")
    return tuple(hx)
