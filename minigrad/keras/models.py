"""Keras's ``Model`` (the training API) and ``Sequential`` (a stack of layers), plus ``load_model``.

``Sequential([layers.Input((28, 28)), layers.SimpleRNN(64), layers.Dense(10, activation='softmax')])``
builds as soon as the input shape is known (an ``Input``, a first layer's ``input_shape=``, an
explicit ``build(shape)``, or the first batch of data): each layer is built from the previous
layer's ``compute_output_shape``, so wrong shapes between layers raise a ValueError naming both
layers and the shape at build time, not deep inside a kernel.

``compile(optimizer, loss, metrics)`` takes Keras's string names or objects. When the last layer
ends in softmax (sigmoid) and the loss is a cross-entropy on probabilities, training calls the
layer's ``call_logits`` and the loss's ``from_pre_activation``: the fused, stable log-softmax
(BCE-with-logits) path instead of log(softmax(z)); ``predict`` still returns probabilities.

The loop itself is in ``training.py``; ``save`` / ``load_model`` / ``summary`` in ``saving.py``.
"""
import numpy as np

from ..nn.container import ModuleList
from ..nn.module import Module
from . import losses as losses_mod
from . import optimizers as optimizers_mod
from . import saving, training
from .layers.base import Layer, format_shape

__all__ = ["Model", "Sequential", "load_model"]

_FUSABLE = {"softmax": ("softmax",), "sigmoid": ("sigmoid",)}


class Model(Module):
    """Keras's training API over ``self._forward(x, training, logits)`` (defined by Sequential, or by
    a subclass's ``call(inputs, training=False)``)."""

    def __init__(self, *args, name=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError("minigrad.keras.Model(inputs, outputs): the functional API is not "
                                      "supported; use keras.Sequential or subclass keras.Model with call()")
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        super().__init__()
        self.name = name or _auto_model_name(type(self).__name__)
        self.optimizer = self.loss_fn = None
        self._metric_ids, self._metrics = [], None
        self._fused = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.built = False

    # ------------------------------------------------------------------ layers and weights
    @property
    def layers(self):
        return [m for m in self.children() if isinstance(m, Layer)]

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """Every layer's ``get_weights()`` in order, in Keras's layouts (NumPy copies)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """The inverse of ``get_weights`` (counts and shapes checked before anything is written)."""
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"model {self.name!r}: set_weights got {len(weights)} arrays, the model has "
                             f"{expected} weights")
        pos = 0
        chunks = []
        for layer in self.layers:
            k = len(layer.weights)
            chunks.append((layer, weights[pos:pos + k]))
            pos += k
        for layer, chunk in chunks:        # shape errors name the layer (set_weights checks first)
            for w, a in zip(layer.get_weights(), chunk):
                if np.shape(a) != w.shape:
                    raise ValueError(f"model {self.name!r}: layer {layer.name!r} expects a weight of shape "
                                     f"{format_shape(w.shape)}, got {format_shape(np.shape(a))}")
        for layer, chunk in chunks:
            layer.set_weights(chunk)

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def _forward(self, x, training=False, logits=False):
        if logits:
            raise AssertionError("a subclassed Model has no fused output path")
        out = self.call(x, training=training)
        self.built = True
        return out

    def call(self, inputs, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs, training=False)")

    def forward(self, inputs, training=False):
        return self._forward(inputs, training=training)

    def __call__(self, inputs, training=False):
        return self._forward(inputs, training=training)

    # ------------------------------------------------------------------ compile and train
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        """Set the optimizer, the loss and the metrics (Keras's names or objects)."""
        unsupported = sorted(k for k, v in kwargs.items() if v not in (None, False, "auto"))
        if loss_weights is not None:
            unsupported.insert(0, "loss_weights")
        if unsupported:
            raise NotImplementedError(f"compile: {', '.join(unsupported)} not supported by minigrad.keras "
                                      "(models have a single output)")
        if loss is None:
            raise ValueError("compile: a loss is required (e.g. loss='mse' or "
                             "loss='sparse_categorical_crossentropy')")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss_fn = losses_mod.get(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        self._metric_ids, self._metrics = list(metrics or []), None
        self._fused = None
        self.compiled = True
        self._compile_config = {"optimizer": optimizer if isinstance(optimizer, str) else None,
                                "loss": loss if isinstance(loss, str) else None,
                                "metrics": [m for m in self._metric_ids if isinstance(m, str)]}

    def _require_compiled(self, where):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model ({where}).")
        self._fused = self._fusable()

    def _fusable(self):
        """The output activation the loss folds in ('softmax' / 'sigmoid'), or None."""
        return None

    def _check_targets(self, x, y):
        """Run the loss on one sample (no gradient) so wrong target shapes fail before training."""
        training.test_on_batch(self, x, y)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            steps_per_epoch=None, validation_batch_size=None, **kwargs):
        _no_extra("fit", kwargs)
        return training.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                            validation_data, shuffle, initial_epoch, steps_per_epoch, validation_batch_size)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", steps=None, callbacks=None,
                 return_dict=False, **kwargs):
        _no_extra("evaluate", kwargs)
        return training.evaluate(self, x, y, batch_size, verbose, callbacks, return_dict, steps)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        return training.predict(self, x, batch_size, verbose, steps, callbacks)

    def train_on_batch(self, x, y=None, return_dict=False, **kwargs):
        _no_extra("train_on_batch", kwargs)
        return training.train_on_batch(self, x, y, return_dict)

    def test_on_batch(self, x, y=None, return_dict=False, **kwargs):
        _no_extra("test_on_batch", kwargs)
        return training.test_on_batch(self, x, y, return_dict)

    def predict_on_batch(self, x):
        return training.predict_on_batch(self, x)

    # ------------------------------------------------------------------ saving and summary
    def summary(self, line_length=None, positions=None, print_fn=None):
        saving.summary(self, line_length, positions, print_fn)

    def save(self, filepath, overwrite=True):
        saving.save_model(self, filepath, overwrite)

    def save_weights(self, filepath, overwrite=True):
        saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath):
        saving.load_weights(self, filepath)

    def get_config(self):
        return {"name": self.name}


def _no_extra(where, kwargs):
    unsupported = sorted(k for k, v in kwargs.items() if v is not None)
    if unsupported:
        raise NotImplementedError(f"{where}: {', '.join(unsupported)} not supported by minigrad.keras")


_MODEL_UIDS = {}


def _auto_model_name(class_name):
    from .layers.base import to_snake_case
    prefix = to_snake_case(class_name)
    n = _MODEL_UIDS.get(prefix, 0)
    _MODEL_UIDS[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def _input_batch_shape(obj):
    """The batch shape an ``Input(...)`` / ``InputLayer`` stands for, or None for other objects."""
    if type(obj).__name__ in ("InputLayer", "KerasTensor") or (not isinstance(obj, Layer) and hasattr(obj, "shape")
                                                               and not hasattr(obj, "data")):
        for attr in ("batch_shape", "_batch_input_shape", "shape"):
            shape = getattr(obj, attr, None)
            if shape is not None:
                return tuple(shape)
    return None


class Sequential(Model):
    """A linear stack of layers (``Sequential(layers=None, name=None)``; ``add``, ``pop``, ``layers``)."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name)
        self._stack = ModuleList()
        self._input_shape = None          # the batch input shape, once known
        self._input_obj = None            # the Input layer given, kept for configs
        self.built = False
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._stack)

    def add(self, layer):
        """Append a layer (or an ``Input``, which fixes the input shape)."""
        shape = _input_batch_shape(layer)
        if shape is not None:
            if len(self._stack):
                raise ValueError(f"Sequential {self.name!r}: an Input can only be the first entry")
            self._input_shape, self._input_obj = shape, layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: "
                            f"{layer!r} (of type {type(layer).__name__})")
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                             f"{layer.name!r} is already the name of a layer in this model.")
        self._stack.append(layer)
        if len(self._stack) == 1 and self._input_shape is None and layer._batch_input_shape is not None:
            self._input_shape = tuple(layer._batch_input_shape)
        self.built = False
        if self._input_shape is not None:
            self.build(self._input_shape)

    def pop(self):
        """Remove and return the last layer."""
        if not len(self._stack):
            raise TypeError("There are no layers in the model.")
        layer = self._stack[len(self._stack) - 1]
        del self._stack[len(self._stack) - 1]
        return layer

    def build(self, input_shape=None):
        """Build every layer in turn from the batch input shape; wrong shapes between layers raise."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(f"Sequential {self.name!r}: the input shape is unknown; start the model with "
                             "keras.Input(shape) or give the first layer input_shape=")
        shape = tuple(input_shape)
        self._input_shape = shape
        prev = "the model's input"
        for layer in self._stack:
            try:
                if not layer.built:
                    layer.build(shape)
                    layer.built = True
                layer._check_input(shape)
                out = tuple(layer.compute_output_shape(shape))
            except ValueError as e:
                raise ValueError(f"Sequential model {self.name!r}: layer {layer.name!r} "
                                 f"({type(layer).__name__}) cannot take the output of {prev}, of shape "
                                 f"{format_shape(shape)}: {e}") from None
            prev, shape = f"layer {layer.name!r}", out
        self._output_shape = shape
        self.built = True

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential {self.name!r} is not built yet: it has no output_shape")
        return self._output_shape

    @property
    def input_shape(self):
        return self._input_shape

    def _forward(self, x, training=False, logits=False):
        if not len(self._stack):
            raise ValueError(f"Sequential {self.name!r} has no layers")
        if not self.built:
            shape = tuple(np.shape(getattr(x, "data", x)))
            self.build((None,) + shape[1:])
        mask = None
        last = len(self._stack) - 1
        for i, layer in enumerate(self._stack):
            if i == last and logits:
                out = layer.call_logits(x, training=training, mask=mask)
            else:
                out = layer(x, training=training, mask=mask)
            if i != last:
                mask = layer.compute_mask(x, mask)
            x = out
        return x

    def _fusable(self):
        if not len(self._stack) or not isinstance(self.loss_fn, losses_mod._CrossEntropy):
            return None
        if self.loss_fn.from_logits:
            return None
        act = getattr(self._stack[len(self._stack) - 1], "activation_name", None)
        return act if act is not None and act == self.loss_fn.fused_activation else None

    def _check_targets(self, x, y):
        try:
            super()._check_targets(x, y)
        except ValueError as e:
            raise ValueError(f"{e}{self._sequence_hint(y)}") from None

    def _sequence_hint(self, y):
        """Seed 000's bug: a recurrent layer returning sequences feeds the output layer, so the output
        has a time axis the targets lack; say which layer to change."""
        seq = [layer for layer in self._stack if getattr(layer, "return_sequences", False)]
        if not seq or not self.built or len(self._output_shape) < 3:
            return ""
        last = seq[-1]
        return (f". The output {format_shape(self._output_shape)} keeps the time axis because layer "
                f"{last.name!r} ({type(last).__name__}) has return_sequences=True: set "
                f"return_sequences=False on the last recurrent layer (so it returns only its final state), "
                f"or give one target per time step (targets of shape "
                f"{format_shape((len(y),) + tuple(self._output_shape[1:-1]))})")

    def get_config(self):
        layers = []
        if self._input_shape is not None:
            layers.append(saving.input_layer_config(self._input_shape, self._input_obj))
        layers += [saving.layer_config(layer) for layer in self._stack]
        return {"name": self.name, "trainable": True, "layers": layers}


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model saved by ``model.save(path)`` (a ``.keras`` zip) and load its weights."""
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)
