"""The tape nodes of a recurrent layer: how backpropagation through time is recorded.

One direction of one layer becomes (dimensions: T time, B batch, I input, H hidden, G gates per
cell -- 1 for the Elman RNN, 4 for the LSTM (i, f, g, o), 3 for the GRU (r, z, n); the cell kind's
``CellSpec`` from :mod:`minigrad.nn.cell_registry` says everything kind-specific):

1. ``InputProjection(x, W_ih, b_ih, b_hh)`` -- one big GEMM for all time steps,
       gx (T, B, G*H) = x (T*B, I) @ W_ih^T + b_ih + b_hh[:F*H]
   (F = ``spec.folded_bias``: all of b_hh, except the GRU's b_hn, which stays inside
   ``r * (W_hn h + b_hn)``); backward: dx = dgx @ W_ih, dW_ih += dgx^T @ x, db_ih = sum dgx,
   db_hh[:F*H] = sum dgx[..., :F*H]. It never sees W_hh.

2. The recurrence, which alone uses W_hh (and b_hn) -- so it alone takes them as inputs and forms
   their gradients, in one of two forms with identical numbers:
   * one ``RecurrentSequence(gx, W_hh, [b_hh], state_0...)`` node (``unroll=False``, the
     default): the whole time loop runs in C. Backward runs the loop backwards in C, then forms
       dW_hh += dgh^T @ h_prev   (one GEMM over all T*B rows),   db_hn = sum dgh[..., F*H:]
     from its own caches (dgh: gradients of ``h_{t-1} @ W_hh^T + b_hh``; equal to dgx except for
     the GRU).
   * ``unroll=True``: one ``RecurrentStep(gx, W, state_{t-1}...)`` node per time step -- the graph
     you would draw by hand. ``h_t`` is a real tensor on the tape, so ``h_t.retain_grad()`` or a
     hook shows ``dL/dh_t`` flowing back through time. Each step calls the fused C step kernel
     (the recurrent GEMM ``h_prev @ W_hh^T`` plus all gate math in one pass). W reaches the steps
     through one ``HiddenWeights(W_hh, [b_hh])`` node recorded before them: it hands W_hh to every
     step and, in backward (it runs after all of them), forms dW_hh of all steps as the same one
     GEMM. Each step's contribution to dW_hh is ``dgh_t^T @ h_{t-1}``; a step delivers it in
     that factored form -- it writes dgh_t (its gate gradients) into the row t of the node's
     (T, B, G*H) gradient buffer -- and the node contracts all T of them at once, which is what
     makes the unrolled backward as fast as the fused one.

``StackSteps`` gathers the unrolled h_t into the (T, B, H) output. The nodes of one direction
share a ``Workspace`` holding forward data only: the spec, the C-contiguous W_hh, b_hn, lengths,
direction, the step plans (W_hh packed once per pass) and the h_{t-1} cache the steps fill.

Checks: either view checks the arrays its C kernels get once per pass, before the loop
(``kernels.sequences.check_pass``: W_hh, gx, the initial states, b_hn, lengths), and then calls bound
kernels with no further checks -- the fused node a ``kernels.sequences.BoundSequence`` (made once per
cell kind and dtype), whose forward hands backward the pointers and sizes it already had; the
unrolled steps a ``kernels.cells.BoundStep`` per pass.
"""
import numpy as np

from .. import kernels as K
from ..kernels.sequences import check_pass
from ..kernels.common import contiguous
from ..tensor import Function


class Workspace:
    """Forward data shared by the nodes of one direction of one layer (see the module docstring).

    ``spec`` CellSpec; ``w_hh`` (G*H, H) C-contiguous; ``b_hn`` (H,) or None; ``lengths`` (B,)
    int64 or None; ``T``; ``reverse``; ``hprev`` (T, B, H): the state entering each step, filled by
    the unrolled steps for dW_hh; ``names``: the weights' names for the node labels.
    """

    def __init__(self, spec, w_hh, b_hn, lengths, T, reverse, names=("W_ih", "W_hh")):
        self.spec, self.w_hh, self.b_hn, self.lengths = spec, w_hh, b_hn, lengths
        self.T, self.reverse, self.names = T, reverse, names
        self.hprev = None
        self.first = T - 1 if reverse else 0     # the first step of the pass (states from the caller)
        self._steps = {}    # unrolled steps: backward? -> the pass's BoundStep (W_hh packed once)

    def order(self):
        return range(self.T - 1, -1, -1) if self.reverse else range(self.T)

    def begin_steps(self, gx, states):
        """Before the first unrolled step: check, once for the whole pass, every array the step
        kernels will be given (gx (T, B, G*H), the initial states (B, H), W_hh, b_hn, lengths),
        and open the (T, B, H) h_{t-1} cache. The steps then call their bound kernels unchecked."""
        spec = self.spec
        check_pass(f"{spec.name} step", spec.gates, self.w_hh, gx, states, spec.state_names,
                   self.b_hn, self.lengths)
        self.hprev = np.empty((self.T,) + states[0].shape, self.w_hh.dtype)

    def step_kernel(self, B, backward):
        """The BoundStep of this pass's forward (or backward) steps, made at its first step: W_hh
        packed once into a ``kernels.StepPlan`` (none when B or H is 0: nothing to multiply)."""
        step = self._steps.get(backward)
        if step is None:
            plan = None if B == 0 or self.w_hh.shape[1] == 0 else K.StepPlan(self.spec.c_cell, self.w_hh, B, backward)
            step = self._steps[backward] = self.spec.bind_step(self.w_hh, B, plan, self.lengths, self.b_hn,
                                                                backward)
        return step


def _hidden_weight_grads(ws, dgh, hprev, dw, needs_w, has_bias):
    """dW_hh += dgh^T @ hprev (one GEMM over all T*B rows, into ``dw``) and, when the recurrence
    uses part of b_hh (the GRU's b_hn), db_hh with that part filled. dgh (T, B, G*H), hprev (T, B, H)."""
    GH = ws.w_hh.shape[0]
    TB = dgh.shape[0] * dgh.shape[1]             # (not -1: H may be 0)
    dgh2 = dgh.reshape(TB, GH)
    if needs_w:
        K.gemm(dgh2, hprev.reshape(TB, hprev.shape[-1]), trans_a=True, beta=1.0, out=dw)
    if not has_bias:
        return None
    db = np.zeros(GH, dgh.dtype)
    F = ws.spec.folded_bias * GH // ws.spec.gates
    db[F:] = dgh2[:, F:].sum(axis=0)
    return db


class InputProjection(Function):
    """gx (T, B, G*H) = x @ W_ih^T + b_ih + b_hh[:F*H], all time steps in one GEMM."""

    def forward(self, x, w_ih, b_ih=None, b_hh=None, ws=None):
        T, B, I = x.shape
        GH = w_ih.shape[0]
        x2 = x.reshape(T * B, I)
        gx = K.gemm(x2, w_ih, trans_b=True).reshape(T, B, GH)
        self.folded = ws.spec.folded_bias * GH // ws.spec.gates      # b_hh entries added here
        if b_ih is not None:
            gx += b_ih
            if self.folded == GH:
                gx += b_hh
            else:
                gx[..., :self.folded] += b_hh[:self.folded]
        self.T, self.has_bias, self.ws = T, b_ih is not None, ws
        self.save(x2, w_ih)
        return gx

    @property
    def label(self):        # (made only when the tape is drawn or summarised)
        return f"{self.ws.spec.name.upper()} input projection (T={self.T}): {self.ws.names[0]}"

    def backward(self, dgx):
        x2, w_ih = self.saved
        needs = self.needs
        GH = w_ih.shape[0]
        dgx2 = dgx.reshape(self.T * dgx.shape[1], GH)     # (not -1: H may be 0)
        dx = K.gemm(dgx2, w_ih).reshape(self.T, -1, x2.shape[1]) if needs[0] else None
        if needs[1]:
            K.gemm(dgx2, x2, trans_a=True, beta=1.0, out=self.grad_buffer(1))
        if not self.has_bias:
            return dx, None
        db_ih = dgx2.sum(axis=0)
        if self.folded == GH:
            return dx, None, db_ih, db_ih.copy()
        db_hh = np.zeros_like(db_ih)
        db_hh[:self.folded] = db_ih[:self.folded]
        return dx, None, db_ih, db_hh


# ---------------------------------------------------------------------- the fused view
class RecurrentSequence(Function):
    """The whole time loop of one direction in one node (the loop runs in C); it takes W_hh (and,
    for the GRU, b_hh for its b_hn part) and forms their gradients itself.

    Forward checks its arrays once (``check_pass``) and runs the kind's ``BoundSequence``; backward
    runs the same bound kernels on the pointers forward kept (the ``SeqPass``, saved with the
    caches) -- no check, lookup or pointer is made twice."""

    def forward(self, gx, w_hh, *rest, ws=None, n_bias=0):
        spec = ws.spec
        states0 = rest[n_bias:]
        check_pass(f"{spec.c_cell}_seq_forward", spec.gates, ws.w_hh, gx, states0, spec.seq_state0_names,
                   ws.b_hn, ws.lengths)
        self.bound = bound = spec.bound_sequence(gx.dtype)
        out, finals, cache, rec = bound.forward(gx, [contiguous(s) for s in states0], ws.w_hh, ws.b_hn,
                                              ws.lengths, ws.reverse, spec.c_flags)
        self.ws, self.n_bias = ws, n_bias
        self.save(rec, *cache.values())      # rec's pointers keep the caches it reads alive
        return (out,) + finals

    @property
    def label(self):
        ws = self.ws
        return (f"{ws.spec.name.upper()} sequence T={ws.T}" + (" (reverse)" if ws.reverse else "")
                + f": {ws.names[1]}")

    @property
    def output_names(self):
        return self.ws.spec.seq_output_names

    def backward(self, *grads):
        ws, rec = self.ws, self.saved[0]
        # the engine's gradients have the outputs' shapes and dtype; make them C-contiguous
        dout, *dfinals = [None if g is None else contiguous(g) for g in grads]
        dgx, dgh, dstate0 = self.bound.backward(dout, dfinals, rec)
        needs_w = self.needs[1]
        hprev = self.saved[1 + ws.spec.seq_hprev_at]
        db = _hidden_weight_grads(ws, dgh, hprev, self.grad_buffer(1) if needs_w else None,
                                  needs_w, self.n_bias)
        return (dgx, None) + ((db,) if self.n_bias else ()) + tuple(dstate0)


# ---------------------------------------------------------------------- the unrolled view
class HiddenWeights(Function):
    """W_hh (and b_hh, for the GRU's b_hn) of an unrolled direction: hands W_hh to every
    ``RecurrentStep`` and, after all of them in backward, forms dW_hh over all T steps in one GEMM
    from the gate gradients dgh_t the steps wrote into ``self.dgh`` (see the module docstring)."""

    def forward(self, w_hh, b_hh=None, ws=None):
        self.ws, self.has_bias, self.dgh = ws, b_hh is not None, None
        self.save(ws.hprev)     # (T, B, H), filled by the steps: its bytes are this node's bill
        self.label = f"{ws.names[1]}: dW_hh of {ws.T} steps (one GEMM)"
        return ws.w_hh          # the same array: no copy

    def gate_grads(self, dgx):
        """The (T, B, G*H) buffer the steps write dgh_t into: ``dgx`` itself (the gx gradient
        buffer) unless the kind's hidden-side gradient differs (the GRU)."""
        if self.dgh is None:
            self.dgh = np.zeros(dgx.shape, dgx.dtype) if self.ws.spec.separate_hidden_grad else dgx
        return self.dgh

    def backward(self, dw):
        # ``dw`` is the (zero) buffer the steps opened to make this node run: their shares of
        # dW_hh arrive factored in self.dgh; the GEMM writes straight into W_hh's own buffer.
        if self.dgh is None:             # no step ran backward (no gradient reached them)
            return None, None
        (hprev,) = self.saved
        needs_w = self.needs[0]
        db = _hidden_weight_grads(self.ws, self.dgh, hprev, self.grad_buffer(0) if needs_w else None,
                                  needs_w, self.has_bias)
        self.dgh = None         # a second backward (retain_graph=True) starts from fresh buffers
        return (None, db) if self.has_bias else (None,)


class RecurrentStep(Function):
    """One time step: (gx, W, state_prev...) -> state_t...; all gate math in one C kernel call.

    The pass's arrays were checked once (``Workspace.begin_steps``), so each step calls its
    bound kernel with no checks: the per-step Python work is the tape's and a few allocations."""

    def forward(self, gx, w, *state_prev, ws=None, t=0):
        if t == ws.first:                # the caller's states (checked; copied only if unaligned)
            state_prev = tuple(contiguous(s) for s in state_prev)
        ws.hprev[t] = state_prev[0]      # the state entering this step, for dW_hh (a copy)
        states, saved = ws.spec.step_forward(ws.step_kernel(gx.shape[1], False), gx[t], state_prev, t)
        self.save(*saved)
        self.ws, self.t = ws, t
        return states if len(states) > 1 else states[0]

    @property
    def label(self):
        return f"{self.ws.spec.name.upper()} step t={self.t}"

    @property
    def output_names(self):
        return self.ws.spec.step_output_names

    def backward(self, *grads):
        ws, t, spec = self.ws, self.t, self.ws.spec
        dt = ws.w_hh.dtype
        dgx = self.grad_buffer(0)            # the (T, B, G*H) gradient of gx; this step writes row t
        shape = (dgx.shape[1], ws.w_hh.shape[1])
        # the engine's gradients have the states' shapes and dtype; make them C-contiguous
        dstates = tuple(None if g is None else contiguous(g) for g in grads)
        if dstates[0] is None:
            dstates = (np.zeros(shape, dt),) + dstates[1:]
        dgh_t = None
        if self.needs[1]:
            self.grad_buffer(1)              # dW_hh: formed by the HiddenWeights node from dgh
            dgh_t = self.inputs[1]._node.gate_grads(dgx)[t]
        elif spec.separate_hidden_grad:
            dgh_t = np.empty_like(dgx[t])    # the kernel writes it; nobody reads it
        # dstate_prev: the engine's buffer, or scratch returned as the gradient when not needed or
        # when one tensor was given as two states (h_0 = c_0: two outputs must not share memory)
        dprev, ret = [], [None] * (2 + spec.n_state)
        for i in range(spec.n_state):
            x = self.inputs[2 + i]
            if self.needs[2 + i] and all(x is not self.inputs[2 + j] for j in range(i)):
                dprev.append(self.grad_buffer(2 + i))
            else:
                dprev.append(np.zeros(shape, dt))
                ret[2 + i] = dprev[-1] if self.needs[2 + i] else None
        spec.step_backward(ws.step_kernel(shape[0], True), dstates, self.saved, t, dgx[t], dgh_t, dprev)
        return tuple(ret)


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
