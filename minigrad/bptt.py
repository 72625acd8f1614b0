"""Watching backpropagation through time: the gradient that reaches every hidden state h_t.

A recurrent layer built with ``unroll=True`` records one tape node per time step, and after a
forward it lists the per-step states in ``module.step_states[(layer, direction)]``. This module
hooks those states so that, after ``backward()``, you can read one number per time step:

    ||dL/dh_t||  -- the (Frobenius) norm over the batch of the *total* gradient flowing into h_t,
                    i.e. what arrives from the output at step t plus what flows back from step t+1.

Plotted against t on a log scale, it shows whether the loss at the end of a sequence can still
"see" the early steps: a straight falling line is a vanishing gradient (the plain RNN at its
default init), a rising one an exploding gradient (a large recurrent weight), and a flat one the
LSTM/GRU's additive memory path at work.

    lstm = nn.LSTM(2, 32, unroll=True)
    out, _ = lstm(x)
    rec = record_state_grads(lstm)          # hooks every h_t (before backward!)
    loss_fn(out[-1]).backward()
    rec.norms()                             # float64 array, shape (T,)

or, in one call that runs forward and backward for you (and switches ``unroll`` on only for it):

    norms, loss = state_grad_norms(lstm, x, lambda out: loss_fn(out[-1]))

Only hooks are used (no ``retain_grad``): each hook stores a norm, never the (B, H) gradient, so
recording a 1000-step sequence costs T floats. Hooks see the gradient in the model's dtype; a
float32 model underflows to exactly 0 below ~1e-38 (use ``module.double()`` to watch deeper).
"""
import numpy as np

__all__ = ["StateGradRecorder", "record_state_grads", "state_grad_norms"]


class StateGradRecorder:
    """Hooks on the per-step states h_t of one (layer, direction) of an unrolled recurrent module.

    After ``backward()``, ``norms()`` returns one norm per time step in time order (0.0 for a step
    no gradient reached); several backward passes add up, ``reset()`` clears. ``ord`` is passed to
    ``np.linalg.norm`` on the flattened (B, H) gradient (None: the 2-norm). ``remove()`` detaches
    the hooks.
    """

    def __init__(self, module, layer=0, direction=0, ord=None):
        steps = getattr(module, "step_states", None)
        if not steps:
            raise RuntimeError(f"{type(module).__name__} has no per-step states: build it with unroll=True "
                               "(or set module.unroll = True) and run a forward pass first")
        if (layer, direction) not in steps:
            raise ValueError(f"no recorded states for (layer={layer}, direction={direction}); "
                             f"available: {sorted(steps)}")
        per_step = steps[(layer, direction)]
        self.T = len(per_step)
        self.ord = ord
        self._norms = np.zeros(self.T, np.float64)
        self._handles = [h.register_hook(self._hook(t)) for t, h in enumerate(per_step)]

    def _hook(self, t):
        def hook(g):
            # the engine calls this once per backward with the total gradient of h_t
            self._norms[t] += np.linalg.norm(g.astype(np.float64, copy=False).ravel(), self.ord)
        return hook

    def norms(self):
        """One gradient norm per time step, in time order (a copy, float64)."""
        return self._norms.copy()

    def reset(self):
        self._norms[:] = 0.0

    def remove(self):
        for h in self._handles:
            h.remove()
        self._handles = []


def record_state_grads(module, layer=0, direction=0):
    """Hook every h_t of the module's last (unrolled) forward; returns a :class:`StateGradRecorder`.

    Call it after the forward and before ``backward()``; read ``.norms()`` afterwards.
    """
    return StateGradRecorder(module, layer=layer, direction=direction)


def state_grad_norms(module, x, loss_fn, layer=0, direction=0, hx=None):
    """Run ``loss = loss_fn(output)`` on the module's output (T, B, H) and backward; return
    ``(norms (T,), loss value)``.

    ``module.unroll`` is switched on for this call only. Parameter gradients are accumulated as a
    normal backward would; zero them before training on.
    """
    prev = module.unroll
    module.unroll = True
    try:
        out, _ = module(x, hx)
        rec = record_state_grads(module, layer, direction)
        loss = loss_fn(out)
        loss.backward()
        rec.remove()
        return rec.norms(), float(loss.item())
    finally:
        module.unroll = prev
