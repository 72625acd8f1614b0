"""The tape nodes of a recurrent layer: how backpropagation through time is recorded.

One direction of one layer becomes (dimensions: T time, B batch, I input, H hidden, G gates per
cell -- 1 for the Elman RNN, 4 for the LSTM (i, f, g, o), 3 for the GRU (r, z, n)):

1. ``InputProjection`` -- one big GEMM for all time steps,
       gx (T, B, G*H) = x (T*B, I) @ W_ih^T + b_ih (+ b_hh, except the GRU's b_hn),
   and, in backward, every weight gradient of the direction as big GEMMs over all steps:
       dW_ih += dgx^T @ x,   dW_hh += dgh^T @ h_prev,   db_ih += sum dgx,   db_hh += sum dgh,
       dx = dgx @ W_ih.
   It runs last in backward (it was recorded first), once BPTT has delivered every step's gate
   gradients into its ``dgx`` buffer; ``dgh`` (gradients of ``h_prev @ W_hh^T + b_hh``) equals
   ``dgx`` except for the GRU, whose step kernels write it into the shared workspace.

2. The time loop, in one of two forms with identical results:
   * ``RecurrentStep`` nodes, one per time step (``unroll=True``): the graph you would draw by
     hand. ``h_t`` is a real tensor on the tape, so ``h_t.retain_grad()`` or a hook shows
     ``dL/dh_t`` flowing back through time. Each node calls the fused C step kernel: the
     recurrent GEMM ``h_prev @ W_hh^T`` plus all gate math in one pass. W_hh is packed for that
     GEMM once per pass (a ``kernels.StepPlan`` kept in the workspace), not at every step.
   * one ``RecurrentSequence`` node (``unroll=False``): the same step kernels, but the loop over
     time runs in C, so Python does no work per step. Faster; the steps are not individually
     visible.

Both forms share a ``Workspace``: the cell kind, W_hh, lengths, direction and the (T, ...)
caches that the step kernels fill in forward and backward reads.
"""
import numpy as np

from .. import kernels as K
from ..tensor import Function


class CellKind:
    """What distinguishes an Elman RNN, an LSTM and a GRU here: gates, state count, kernels."""

    def __init__(self, name, gates, n_state, nonlinearity="tanh"):
        self.name, self.gates, self.n_state, self.nonlinearity = name, gates, n_state, nonlinearity


KINDS = {
    "RNN_TANH": CellKind("rnn", 1, 1, "tanh"),
    "RNN_RELU": CellKind("rnn", 1, 1, "relu"),
    "LSTM": CellKind("lstm", 4, 2),
    "GRU": CellKind("gru", 3, 1),
}


class Workspace:
    """State shared by the nodes of one direction of one layer (see the module docstring)."""

    def __init__(self, kind, w_hh, b_hn, lengths, T, reverse):
        self.kind, self.w_hh, self.b_hn, self.lengths = kind, w_hh, b_hn, lengths
        self.T, self.reverse = T, reverse
        self.hprev = None   # (T, B, H): the state entering each step, for dW_hh
        self.dgh = None     # GRU only: (T, B, 3H) hidden-side gate gradients
        self._plans = {}    # unrolled steps: W_hh packed once per pass (kernels.StepPlan)

    def order(self):
        return range(self.T - 1, -1, -1) if self.reverse else range(self.T)

    def plan(self, B, backward):
        """The step plan of this direction's forward (or backward) pass, made at its first step;
        None when there is nothing to multiply (B or H is 0)."""
        if B == 0 or self.w_hh.shape[1] == 0:
            return None
        if backward not in self._plans:
            self._plans[backward] = K.StepPlan(self.kind.name, self.w_hh, B, backward)
        return self._plans[backward]


class InputProjection(Function):
    """gx (T, B, GH) = x @ W_ih^T + biases; backward forms all weight gradients of the direction."""

    def forward(self, x, w_ih, w_hh, b_ih=None, b_hh=None, ws=None):
        T, B, I = x.shape
        GH = w_ih.shape[0]
        x2 = x.reshape(T * B, I)
        gx = K.gemm(x2, w_ih, trans_b=True).reshape(T, B, GH)
        if b_ih is not None:
            gx += b_ih
            if ws.kind.name == "gru":           # b_hn stays inside r * (W_hn h + b_hn)
                gx[..., : 2 * GH // 3] += b_hh[: 2 * GH // 3]
            else:
                gx += b_hh
        self.ws, self.has_bias = ws, b_ih is not None
        self.save(x2, w_ih)
        self.label = f"{ws.kind.name.upper()} input projection (T={T})"
        return gx

    def backward(self, dgx):
        x2, w_ih = self.saved
        ws, needs = self.ws, self.needs
        GH = w_ih.shape[0]
        dgx2 = dgx.reshape(-1, GH)
        dgh2 = dgx2 if ws.dgh is None else ws.dgh.reshape(-1, GH)
        dx = K.gemm(dgx2, w_ih).reshape(ws.T, -1, x2.shape[1]) if needs[0] else None
        if needs[1]:
            K.gemm(dgx2, x2, trans_a=True, beta=1.0, out=self.grad_buffer(1))
        if needs[2]:
            hprev2 = ws.hprev.reshape(-1, ws.hprev.shape[-1])
            K.gemm(dgh2, hprev2, trans_a=True, beta=1.0, out=self.grad_buffer(2))
        if self.has_bias:
            return dx, None, None, dgx2.sum(axis=0), dgh2.sum(axis=0)
        return dx, None, None


# ---------------------------------------------------------------------- the unrolled view
class RecurrentStep(Function):
    """One time step: (gx, state_prev...) -> state_t...; all gate math in one C kernel call."""

    def forward(self, gx, *state_prev, ws=None, t=0):
        kind, B = ws.kind, gx.shape[1]
        H = ws.w_hh.shape[1]
        # The state entering this step is kept for dW_hh (a view: no copy).
        ws.hprev[t] = state_prev[0]
        if kind.name == "lstm":
            h, c, gates, tanh_c = K.lstm_step_forward(gx[t], state_prev[0], state_prev[1], ws.w_hh,
                                                      ws.lengths, t, plan=ws.plan(B, False))
            self.save(gates, tanh_c, state_prev[1])
            out = (h, c)
        elif kind.name == "gru":
            h, gates, hn = K.gru_step_forward(gx[t], state_prev[0], ws.w_hh, ws.b_hn, ws.lengths, t,
                                              plan=ws.plan(B, False))
            self.save(gates, hn, state_prev[0])
            out = h
        else:
            h = K.rnn_step_forward(gx[t], state_prev[0], ws.w_hh, ws.lengths, t, kind.nonlinearity,
                                   plan=ws.plan(B, False))
            self.save(h)
            out = h
        self.ws, self.t, self.B, self.H = ws, t, B, H
        self.label = f"{kind.name.upper()} step t={t}"
        return out

    def _state_grad(self, i):
        """Where dstate_prev[i] accumulates: the engine's buffer, or scratch if not needed."""
        if self.needs[1 + i]:
            return self.grad_buffer(1 + i)
        return np.zeros((self.B, self.H), self.ws.w_hh.dtype)

    def backward(self, *grads):
        ws, t = self.ws, self.t
        kind = ws.kind
        dt = ws.w_hh.dtype
        zeros = None
        dh = grads[0]
        if dh is None:
            dh = zeros = np.zeros((self.B, self.H), dt)
        dgx_t = self.grad_buffer(0)[t]          # this step's slice of the (T, B, GH) buffer
        if kind.name == "lstm":
            gates, tanh_c, c_prev = self.saved
            K.lstm_step_backward(dh, grads[1], gates, tanh_c, c_prev, ws.w_hh, ws.lengths, t,
                                 dgates=dgx_t, dh_prev=self._state_grad(0), dc_prev=self._state_grad(1),
                                 plan=ws.plan(self.B, True))
            return None, None, None
        if kind.name == "gru":
            gates, hn, h_prev = self.saved
            K.gru_step_backward(dh, gates, hn, h_prev, ws.w_hh, ws.lengths, t, dgx=dgx_t,
                                dgh=ws.dgh[t], dh_prev=self._state_grad(0), plan=ws.plan(self.B, True))
        else:
            (h,) = self.saved
            K.rnn_step_backward(dh, h, ws.w_hh, ws.lengths, t, kind.nonlinearity, dgates=dgx_t,
                                dh_prev=self._state_grad(0), plan=ws.plan(self.B, True))
        del zeros
        return None, None


class StackSteps(Function):
    """output (T, B, H) from the per-step states h_t (given in time order), zero at padded steps."""

    def forward(self, *hs, mask=None):
        out = np.stack(hs)
        if mask is not None:
            out *= mask
        self.mask = mask
        return out

    def backward(self, g):
        return tuple(g * self.mask if self.mask is not None else g)


# ---------------------------------------------------------------------- the fused view
class RecurrentSequence(Function):
    """The whole time loop of one direction in one node (the loop runs in C)."""

    def forward(self, gx, *state0, ws=None):
        kind = ws.kind
        if kind.name == "lstm":
            # gx is this node's private input (nothing else reads it), so the gate cache is
            # written over it: one (T, B, 4H) buffer less on the tape.
            out, h_n, c_n, cache = K.lstm_seq_forward(gx, state0[0], state0[1], ws.w_hh, ws.lengths,
                                                      ws.reverse, overwrite_gx=True)
            res = (out, h_n, c_n)
        elif kind.name == "gru":
            out, h_n, cache = K.gru_seq_forward(gx, state0[0], ws.w_hh, ws.b_hn, ws.lengths, ws.reverse)
            res = (out, h_n)
        else:
            out, h_n, cache = K.rnn_seq_forward(gx, state0[0], ws.w_hh, ws.lengths, ws.reverse,
                                                kind.nonlinearity)
            res = (out, h_n)
        ws.hprev = cache["hprev"]
        self.ws, self.cache_keys = ws, list(cache)
        self.save(*cache.values())
        self.label = f"{kind.name.upper()} sequence T={gx.shape[0]}" + (" (reverse)" if ws.reverse else "")
        return res

    def backward(self, *grads):
        ws, cache = self.ws, dict(zip(self.cache_keys, self.saved))
        kind = ws.kind
        if kind.name == "lstm":
            dgx, dh0, dc0 = K.lstm_seq_backward(grads[0], grads[1], grads[2], cache, ws.w_hh, ws.lengths,
                                                ws.reverse)
            return dgx, dh0, dc0
        if kind.name == "gru":
            dgx, ws.dgh, dh0 = K.gru_seq_backward(grads[0], grads[1], cache, ws.w_hh, ws.lengths, ws.reverse)
        else:
            dgx, dh0 = K.rnn_seq_backward(grads[0], grads[1], cache, ws.w_hh, ws.lengths, ws.reverse,
                                          kind.nonlinearity)
        return dgx, dh0
