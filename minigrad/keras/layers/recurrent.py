"""Keras's recurrent layers SimpleRNN, LSTM and GRU on minigrad's fused recurrent kernels.

Inputs are batch-major (N, T, F) as in Keras. The weights are kept in minigrad's (PyTorch's)
layout so the kernels of ``nn.RNN / nn.LSTM / nn.GRU`` (``nn.direction.run_direction``) run them
directly; ``get_weights`` / ``set_weights`` convert to and from Keras's:

    Keras kernel (F, k*u) = W_ih^T      recurrent_kernel (u, k*u) = W_hh^T
    SimpleRNN/LSTM bias (k*u,) = b_ih (the kernels get b_hh = 0: Keras has one bias)
    GRU reset_after=True bias (2, 3u) = [b_ih; b_hh]
    gate blocks: LSTM i,f,c,o == PyTorch i,f,g,o; GRU Keras z,r,h <-> PyTorch r,z,n (swap blocks 0, 1)

The fused kernels cover SimpleRNN tanh/relu, LSTM and GRU (reset_after=True) with tanh/sigmoid;
every other configuration (other activations, GRU ``reset_after=False``, whose reset gate acts
before the recurrent matmul: ``h~ = act(x W_h + (r * h) U_h + b_h)``) runs the same equations as
ordinary tape ops (``rnn_run.composed_loop``). Masks, ``go_backwards`` and the layout changes are
``rnn_run.SequencePlan``'s. ``dropout`` drops input features with one mask per sequence, shared
by all time steps (Keras's); ``recurrent_dropout`` and ``stateful=True`` are not supported.
"""
import numbers

import numpy as np

from ... import ops
from ...grad_mode import describe
from ...random import default_generator
from ...tensor import Tensor
from .. import activations, initializers
from .base import InputSpec, Layer, check_unsupported, format_shape
from .core import positive_int, rate_in_unit_interval, transpose_2d
from .rnn_run import SequencePlan, composed_loop, input_projection, run_fused

__all__ = ["SimpleRNN", "LSTM", "GRU"]


def _gru_to_torch(a, axis):
    """Swap the first two gate blocks along ``axis`` (Keras z,r,h <-> PyTorch r,z,n; its own inverse)."""
    blocks = np.split(a, 3, axis=axis)
    return np.ascontiguousarray(np.concatenate([blocks[1], blocks[0], blocks[2]], axis=axis))


class RecurrentLayer(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, building, masks, states, dropout, configs."""

    supports_masking = True
    GATES = 1                       # k: gate blocks of the kernels
    N_STATES = 1                    # h (and c for the LSTM)

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, **kwargs):
        owner = type(self).__name__
        check_unsupported(owner, kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                          bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                          recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)
        super().__init__(**kwargs)
        self.units = positive_int(owner, "units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dropout = rate_in_unit_interval(owner, "dropout", dropout)
        self.recurrent_dropout = rate_in_unit_interval(owner, "recurrent_dropout", recurrent_dropout)
        if self.recurrent_dropout:
            raise NotImplementedError(f"{owner}: recurrent_dropout={recurrent_dropout} is not supported: minigrad's "
                                      "fused recurrent kernels have no per-step state dropout (use dropout=, which "
                                      "drops input features, or a Dropout layer between recurrent layers)")
        if stateful:
            raise NotImplementedError(f"{owner}: stateful=True is not supported by minigrad.keras (each call starts "
                                      "from zeros or from initial_state=)")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"{owner}: seed must be an int or None, got {describe(seed)}")
        self.seed = seed
        self._generator = np.random.default_rng(seed) if seed is not None else None
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), False, bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.input_spec = InputSpec(ndim=3)

    # ------------------------------------------------------------------ weights
    def _bias_initial(self, shape, dtype=None):
        return self.bias_initializer(shape, dtype=dtype)

    def build(self, input_shape):
        F, k, u = input_shape[-1], self.GATES, self.units
        if F is None:
            raise ValueError(f"layer {self.name!r}: the feature axis of the input must be defined, got shape "
                             f"{format_shape(input_shape)}")
        to_t, from_t = self._layout()
        self.add_weight("kernel", (k * u, F), self.kernel_initializer, keras_shape=(F, k * u),
                        to_keras=to_t, from_keras=from_t)
        self.add_weight("recurrent_kernel", (k * u, u), self.recurrent_initializer, keras_shape=(u, k * u),
                        to_keras=to_t, from_keras=from_t)
        if self.use_bias:
            shape, conv = self._bias_layout()
            self.add_weight("bias", shape, self._bias_initial, to_keras=conv, from_keras=conv)
        self.input_spec = InputSpec(ndim=3, axes={-1: F})
        self.built = True

    def _layout(self):
        """(to_keras, from_keras) for the kernels: a transpose (the GRU also reorders its gates)."""
        return transpose_2d, transpose_2d

    def _bias_layout(self):
        return (self.GATES * self.units,), None

    def _zero_bias(self):
        """b_hh for the fused kernels: Keras has no second bias."""
        return Tensor(np.zeros(self.GATES * self.units, self._dtype), dtype=self._dtype)

    # ------------------------------------------------------------------ calling
    def __call__(self, inputs, training=False, mask=None, initial_state=None):
        return self.call(self._prepare(inputs), training=bool(training), mask=mask, initial_state=initial_state)

    def _initial_states(self, initial_state, N):
        if initial_state is None:
            return tuple(Tensor(np.zeros((N, self.units), self._dtype), dtype=self._dtype)
                         for _ in range(self.N_STATES))
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != self.N_STATES:
            raise ValueError(f"layer {self.name!r}: initial_state must hold {self.N_STATES} state(s) of shape "
                             f"(batch, units), got {len(states)}")
        out = []
        for s in states:
            s = s if isinstance(s, Tensor) else Tensor(np.asarray(s), dtype=self._dtype)
            if s.data.dtype != self._dtype:
                s = ops.convert.cast(s, self._dtype)
            if tuple(s.shape) != (N, self.units):
                raise ValueError(f"layer {self.name!r}: an initial state has shape {format_shape(s.shape)}, "
                                 f"expected {format_shape((N, self.units))} (batch, units)")
            out.append(s)
        return tuple(out)

    def call(self, inputs, training=False, mask=None, initial_state=None):
        N, T, F = inputs.shape
        if T == 0:
            raise ValueError(f"layer {self.name!r}: the input has no time steps (shape {format_shape(inputs.shape)})")
        plan = SequencePlan(self.name, mask, N, T, self.go_backwards)      # checks the mask first
        x = inputs
        if training and self.dropout > 0:
            rng = self._generator if self._generator is not None else default_generator()
            keep = (rng.random((N, 1, F)) >= self.dropout).astype(self._dtype) / self._dtype.type(1 - self.dropout) \
                if self.dropout < 1 else np.zeros((N, 1, F), self._dtype)
            x = x * keep
        state0 = self._initial_states(initial_state, N)
        out, finals = self._run(plan.time_major(x), state0, plan.lengths)
        finals = plan.final_states(finals, state0)
        if self.return_sequences:
            output = plan.outputs(out, self.zero_output_for_mask)
        else:
            output = plan.last_output(finals[0], self.zero_output_for_mask)
        return (output, *finals) if self.return_state else output

    def _run(self, x_tm, state0, lengths):
        """(out (T, N, u), final states) of the cell over time-major x (see the subclasses)."""
        raise NotImplementedError

    def _composed(self, step, x_tm, state0, lengths, b_ih):
        return composed_loop(step, x_tm, state0, input_projection(x_tm, self.kernel, b_ih), lengths)

    # ------------------------------------------------------------------ shapes, masks, configs
    def compute_output_shape(self, input_shape):
        N, T = input_shape[0], input_shape[1]
        out = (N, T, self.units) if self.return_sequences else (N, self.units)
        if self.return_state:
            return [out] + [(N, self.units)] * self.N_STATES
        return out

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        return [out] + [None] * self.N_STATES if self.return_state else out

    def get_config(self):
        return {**super().get_config(), "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": False, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), "kernel_regularizer": None,
                "recurrent_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout}


class SimpleRNN(RecurrentLayer):
    """``h_t = activation(x_t W + h_{t-1} U + b)``; tanh and relu run the fused kernel."""

    def _run(self, x_tm, state0, lengths):
        b = self.bias if self.use_bias else None
        fused = {activations.tanh: "rnn_tanh", activations.relu: "rnn_relu"}.get(self.activation)
        if fused:
            return run_fused(fused, x_tm, state0, self.kernel, self.recurrent_kernel, b,
                             self._zero_bias() if b is not None else None, lengths)
        u_t, act = self.recurrent_kernel.T, self.activation
        return self._composed(lambda g, s: (act(g + s[0] @ u_t),), x_tm, state0, lengths, b)


class LSTM(RecurrentLayer):
    """Keras's LSTM (gates i, f, c, o); ``unit_forget_bias`` starts the forget-gate bias at 1."""

    GATES, N_STATES = 4, 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 unit_forget_bias=True, use_cudnn="auto", **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.use_cudnn = use_cudnn

    def _bias_initial(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype=dtype)
        u = self.units        # Keras: [init(u), ones(u), init(2u)] for the i, f, (c, o) blocks
        return np.concatenate([self.bias_initializer((u,), dtype=dtype), np.ones(u, dtype=dtype),
                               self.bias_initializer((2 * u,), dtype=dtype)])

    def _run(self, x_tm, state0, lengths):
        b = self.bias if self.use_bias else None
        if self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid:
            return run_fused("lstm", x_tm, state0, self.kernel, self.recurrent_kernel, b,
                             self._zero_bias() if b is not None else None, lengths)
        u_t, act, ract, u = self.recurrent_kernel.T, self.activation, self.recurrent_activation, self.units

        def step(g, s):
            h, c = s
            i, f, cc, o = ops.split(g + h @ u_t, u, axis=-1)
            c = ract(f) * c + ract(i) * act(cc)
            return ract(o) * act(c), c
        return self._composed(step, x_tm, state0, lengths, b)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias, "seed": self.seed}


class GRU(RecurrentLayer):
    """Keras's GRU (gates z, r, h; ``h_t = z * h_{t-1} + (1 - z) * h~``).

    ``reset_after=True`` (Keras 3's default, PyTorch's cell): ``h~ = act(x W_h + b_h + r * (h U_h + b'_h))``,
    fused. ``reset_after=False``: ``h~ = act(x W_h + (r * h) U_h + b_h)``, one bias, composed ops.
    """

    GATES = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        self.use_cudnn = use_cudnn

    def _layout(self):
        return (lambda w: _gru_to_torch(np.ascontiguousarray(w.T), 1),
                lambda k: np.ascontiguousarray(_gru_to_torch(k, 1).T))

    def _bias_layout(self):
        if self.reset_after:
            return (2, 3 * self.units), lambda b: _gru_to_torch(b, 1)
        return (3 * self.units,), lambda b: _gru_to_torch(b, 0)

    def _run(self, x_tm, state0, lengths):
        b = self.bias if self.use_bias else None
        b_ih, b_hh = (b[0], b[1]) if (b is not None and self.reset_after) else (b, None)
        act, ract, u = self.activation, self.recurrent_activation, self.units
        if self.reset_after and act is activations.tanh and ract is activations.sigmoid:
            return run_fused("gru", x_tm, state0, self.kernel, self.recurrent_kernel, b_ih, b_hh, lengths)
        u_t = self.recurrent_kernel.T                     # (u, 3u): columns r, z, n
        if self.reset_after:
            def step(g, s):
                h = s[0]
                gh = h @ u_t if b_hh is None else h @ u_t + b_hh
                xr, xz, xn = ops.split(g, u, axis=-1)
                hr, hz, hn = ops.split(gh, u, axis=-1)
                r, z = ract(xr + hr), ract(xz + hz)
                return (z * h + (1 - z) * act(xn + r * hn),)
        else:
            u_rz, u_n = u_t[:, :2 * u], u_t[:, 2 * u:]

            def step(g, s):
                h = s[0]
                xr, xz, xn = ops.split(g, u, axis=-1)
                hr, hz = ops.split(h @ u_rz, u, axis=-1)
                r, z = ract(xr + hr), ract(xz + hz)
                return (z * h + (1 - z) * act(xn + (r * h) @ u_n),)
        return self._composed(step, x_tm, state0, lengths, b_ih)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after, "seed": self.seed}
