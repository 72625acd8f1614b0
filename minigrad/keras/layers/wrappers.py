"""Keras's layer wrappers: Bidirectional (a recurrent layer both ways) and TimeDistributed; and
``serialize`` / ``deserialize`` (a layer <-> Keras's ``{"module", "class_name", "config"}`` dict).

``Bidirectional(layer)`` builds two fresh copies of ``layer`` from its config, as Keras does:
``forward_<name>`` and ``backward_<name>`` (``go_backwards=True``), or takes ``backward_layer``.
The backward sequence is flipped back to input order before merging; with a mask, both copies
output zeros at masked steps when returning sequences (Keras forces ``zero_output_for_mask``).
The weights are the forward layer's then the backward layer's.
"""
import importlib

from ... import ops
from .base import InputSpec, Layer

__all__ = ["Bidirectional", "TimeDistributed", "serialize", "deserialize"]


def serialize(layer):
    """Keras's serialised form of a layer: ``{"module", "class_name", "config", "registered_name"}``."""
    if not isinstance(layer, Layer):
        raise TypeError(f"serialize expects a minigrad.keras layer, got {type(layer).__name__}")
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def deserialize(config):
    """A new layer from ``serialize``'s dict (or Keras's own for the same layer classes)."""
    layers = importlib.import_module(__package__)
    cls = getattr(layers, config.get("class_name", ""), None) if isinstance(config, dict) else None
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"cannot deserialize {config!r:.200}: not a minigrad.keras layer class")
    return cls.from_config(dict(config.get("config", {})))


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """``layer`` run forwards and backwards over the sequence, outputs merged by ``merge_mode``."""

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer!r:.100}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `keras.layers.Layer` instance. "
                             f"Received: {backward_layer!r:.100}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        kwargs.setdefault("dtype", layer.dtype)         # inputs are cast once, to the wrapped layer's dtype
        super().__init__(**kwargs)
        config = layer.get_config()
        config["name"] = "forward_" + layer.name.removeprefix("forward_")
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config.update(name="backward_" + layer.name.removeprefix("backward_"), go_backwards=True)
            backward_layer = type(layer).from_config(config)
        self.backward_layer = backward_layer
        for a in ("return_sequences", "return_state"):
            if getattr(self.forward_layer, a) != getattr(self.backward_layer, a):
                raise ValueError(f'Forward layer and backward layer are expected to have the same value for attribute '
                                 f'"{a}", got "{getattr(self.forward_layer, a)}" for forward layer and '
                                 f'"{getattr(self.backward_layer, a)}" for backward layer')
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("Forward layer and backward layer should have different `go_backwards` value")
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.input_spec = InputSpec(ndim=3)
        self._initial_weights = list(weights) if weights else None      # loaded when built (Keras)

    def _sublayers(self):
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape):
        for sub in self._sublayers():
            if not sub.built:
                sub.build(input_shape)
                sub.built = True
        self.input_spec = self.forward_layer.input_spec
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def __call__(self, inputs, training=False, mask=None, initial_state=None):
        return self.call(self._prepare(inputs), training=bool(training), mask=mask, initial_state=initial_state)

    def call(self, inputs, training=False, mask=None, initial_state=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(inputs, training=training, mask=mask, initial_state=fwd_state)
        y_rev = self.backward_layer(inputs, training=training, mask=mask, initial_state=bwd_state)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]               # back to input order
        if self.merge_mode == "concat":
            output = ops.concat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            return (*output, *states) if self.merge_mode is None else (output, *states)
        return output

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, states = out[0], list(out[1:])
        if self.merge_mode == "concat":
            out = (*out[:-1], out[-1] * 2)
        if self.merge_mode is None:
            return [out, out] + states * 2 if self.return_state else [out, out]
        return [out] + states * 2 if self.return_state else tuple(out)

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        out = [out, out] if self.merge_mode is None else out
        if self.return_state:
            n = self.forward_layer.N_STATES * 2
            return (out if isinstance(out, list) else [out]) + [None] * n
        return out

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode, "layer": serialize(self.forward_layer),
                "backward_layer": serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = deserialize(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else deserialize(backward), **config)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: (N, T, ...) -> (N * T, ...) -> layer -> (N, T, ...)."""

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `TimeDistributed` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer!r:.100}")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=3)

    @property
    def activation_name(self):
        """The wrapped layer's (so TimeDistributed(Dense(..., activation='softmax')) keeps the fused path)."""
        return self.layer.activation_name

    def _sublayers(self):
        return [self.layer]

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((input_shape[0], *input_shape[2:]))
            self.layer.built = True
        self.built = True

    def _per_step(self, fn, inputs):
        N, T = inputs.shape[0], inputs.shape[1]
        y = fn(inputs.reshape(N * T, *inputs.shape[2:]))
        return y.reshape(N, T, *y.shape[1:])

    def call(self, inputs, training=False, mask=None):
        return self._per_step(lambda x: self.layer(x, training=training), inputs)

    def call_pre_activation(self, inputs, training=False, mask=None):
        return self._per_step(lambda x: self.layer.call_logits(x, training=training), inputs)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((input_shape[0], *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def get_config(self):
        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)
