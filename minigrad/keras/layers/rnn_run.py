"""Running a Keras recurrent layer on minigrad's recurrent engine: masks, go_backwards, the time loop.

Keras (its generic ``backend.rnn`` loop, which it uses whenever a mask is given) steps through
the batch-major input (N, T, F) -- time-reversed when ``go_backwards`` -- and at a masked step
keeps the previous state and repeats the previous output (zeros before the first valid step;
zeros at every masked step with ``zero_output_for_mask=True``). The returned sequence is in the
processing order (reversed for ``go_backwards``), and the last output is the last step's.

minigrad's kernels (``nn.direction.run_direction``, the loop of ``nn.RNN/LSTM/GRU``) take a
time-major (T, N, F) input whose valid steps are a prefix of each row (``lengths``). A Keras mask
whose valid steps form one contiguous block ``[s, s + L)`` per row (post-padding: s = 0;
Keras's default pre-padding: s = T - L) maps onto that exactly: :class:`SequencePlan` gathers
each row's block to the front (one indexed copy that also makes the input time-major), the kernel
runs with ``lengths = L`` (padded steps neither change the state nor get gradient), and the
outputs are gathered back to Keras's positions (``clip(t - s, 0, L - 1)``, times "t >= s", which
is the carried-forward last valid output). Rows with no valid step keep the initial state and
output zeros. Any other mask (a hole inside a row) raises a ValueError.

Cells the fused kernels do not have (SimpleRNN with an activation other than tanh/relu, LSTM/GRU
with other activations, GRU ``reset_after=False``) run :func:`composed_loop`: the same plan, one
step of ordinary tape ops per time step, with ``lengths`` applied by ``where``.
"""
import numpy as np

from ... import ops
from ...nn import functional as F
from ...nn.direction import check_lengths, run_direction
from ...tensor import Tensor

__all__ = ["SequencePlan", "composed_loop", "run_fused"]


class SequencePlan:
    """Where each processed step reads its input and where each Keras output comes from.

    mask: None or an (N, T) bool array / tensor (True = valid step), in the input's time order.
    """

    def __init__(self, owner, mask, N, T, go_backwards):
        self.N, self.T, self.go_backwards = N, T, go_backwards
        m = None
        if mask is not None:
            m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if m.shape != (N, T):
                raise ValueError(f"layer {owner!r}: the mask has shape {m.shape}, expected (batch, time) = "
                                 f"{(N, T)} to match the input")
            m = m.astype(bool)
            if go_backwards:
                m = m[:, ::-1]
        self.mask = m                       # in processing order
        if m is None or m.all():
            self.start = np.zeros(N, np.int64)
            self.length = np.full(N, T, np.int64)
        else:
            self.length = m.sum(axis=1).astype(np.int64)
            self.start = np.where(self.length > 0, m.argmax(axis=1), 0).astype(np.int64)
            t = np.arange(T)
            block = (t >= self.start[:, None]) & (t < (self.start + self.length)[:, None])
            bad = np.flatnonzero((block != m).any(axis=1))
            if bad.size:
                raise ValueError(f"layer {owner!r}: the mask of batch row {int(bad[0])} is not one contiguous block of "
                                 f"valid steps ({m[bad[0]].astype(int).tolist()}{' after go_backwards' if go_backwards else ''}); "
                                 "minigrad's recurrent layers take masks from pre- or post-padding "
                                 "(keras.utils.pad_sequences)")
        self.alive = self.length > 0
        self.shifted = bool(self.start.any()) or go_backwards
        # lengths for the kernels (>= 1: an all-masked row runs one step that is thrown away)
        self.lengths = None if (self.length == T).all() else check_lengths(np.maximum(self.length, 1), N, T)

    def time_major(self, x):
        """(N, T, F) -> (T, N, F) with each row's valid block moved to the front (processing order)."""
        if not self.shifted:
            return x.transpose(0, 1)
        p = np.arange(self.T)[:, None]
        src = (p + self.start[None, :]) % self.T                 # (T, N): processed step -> input step
        if self.go_backwards:
            src = self.T - 1 - src
        return x[np.arange(self.N)[None, :], src]                # [p, n] = x[n, src[p, n]]

    def outputs(self, out, zero_output_for_mask=False):
        """Kernel outputs (T, N, H) -> Keras's (N, T, H) sequence (masked steps as Keras fills them)."""
        if self.mask is None or self.mask.all():
            return out.transpose(0, 1)
        p = np.arange(self.T)[None, :]
        idx = np.clip(p - self.start[:, None], 0, np.maximum(self.length, 1)[:, None] - 1)      # (N, T)
        seq = out[idx, np.arange(self.N)[:, None]]
        keep = self.mask if zero_output_for_mask else (p >= self.start[:, None]) & self.alive[:, None]
        return seq if keep.all() else seq * keep[:, :, None].astype(out.dtype)

    def last_output(self, h, zero_output_for_mask=False):
        """Keras's last output (the processed sequence's last step) from the final h (N, H)."""
        keep = self.alive if (self.mask is None or not zero_output_for_mask) else self.mask[:, -1]
        return h if keep.all() else h * keep[:, None].astype(h.dtype)

    def final_states(self, finals, state0):
        """Rows with no valid step keep their initial state."""
        if self.alive.all():
            return tuple(finals)
        dead = ~self.alive[:, None]
        return tuple(ops.where(dead, s0, s) for s, s0 in zip(finals, state0))


def run_fused(kind, x_tm, state0, w_ih, w_hh, b_ih, b_hh, lengths):
    """minigrad's fused kernels (``kind``: 'rnn_tanh', 'rnn_relu', 'lstm', 'gru'): (out (T, N, H), finals)."""
    out, finals, _ = run_direction(kind, x_tm, tuple(state0), w_ih, w_hh, b_ih, b_hh, lengths=lengths)
    return out, finals


def composed_loop(step, x_tm, state0, gx, lengths):
    """A time loop of ordinary tape ops: ``step(gx_t, states) -> new states`` (h first).

    gx (T, N, G*H): the input projection of all steps at once; ``lengths`` (N,) or None: a row's
    state stops changing after its length (its later outputs are not used by the plan).
    Returns (out (T, N, H), finals).
    """
    T = x_tm.shape[0]
    states, hs = tuple(state0), []
    for t in range(T):
        new = step(gx[t], states)
        if lengths is not None and (lengths <= t).any():
            live = (lengths > t)[:, None]
            new = tuple(ops.where(live, n, s) for n, s in zip(new, states))
        states = new
        hs.append(states[0])
    return ops.stack(hs, axis=0), states


def input_projection(x_tm, w_ih, b_ih):
    """gx (T, N, G*H) = x @ W_ih^T + b for every step at once (the composed loop's input side)."""
    return F.linear(x_tm, w_ih, b_ih)
