"""The Keras ``Layer`` contract of minigrad.keras: naming, building, calling, weights, configs.

A ``Layer`` is a ``minigrad.nn.Module`` (so ``parameters()``, ``state_dict()``, ``train()`` work)
that behaves as a Keras 3 layer:

* ``Layer(*, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
  activity_regularizer=None)`` (a regularizer raises NotImplementedError).
  Unnamed layers get Keras's automatic names (``dense``, ``dense_1``, ... one counter per
  snake-cased class name, per process). ``input_shape`` excludes the batch axis, as in Keras, and
  is kept as ``layer._batch_input_shape = (None, *input_shape)`` (``None`` when not given).
  Unknown keyword arguments raise ``UnknownArgumentError`` (a TypeError, and a ValueError as
  Keras raises), naming them.
* ``build(input_shape)`` creates the weights from the full shape (batch axis included, ``None``
  allowed for batch and time) and sets ``built``. ``layer(inputs, training=False, mask=None)``
  converts NumPy arrays to tensors of the layer's dtype (float32 unless ``dtype='float64'``;
  integer inputs stay integer for layers that take indices, ``_int_inputs = True``), builds on
  the first call, checks the input against ``input_spec`` (a ValueError naming the layer, the
  expected and the received shape) and returns ``call(inputs, training=, mask=)``, a Tensor.
* ``compute_output_shape(input_shape)`` (batch axis included, ``None`` preserved) and
  ``compute_mask(inputs, mask=None)``: the mask the layer's output carries. Layers with
  ``supports_masking = True`` pass the incoming mask on unchanged unless they override it;
  the others drop it (Keras 3).
* ``weights`` / ``trainable_weights`` / ``non_trainable_weights``: minigrad Parameters in Keras's
  order; ``get_weights()`` returns NumPy copies in Keras's layouts and ``set_weights()`` takes
  them back (checking the count and every shape first). A layer whose Parameters are kept in
  another layout (the recurrent layers keep PyTorch's) registers converters with each weight;
  ``count_params()`` counts Keras's weights.
* ``get_config()`` (JSON-serialisable, Keras's keys) and ``from_config(config)``.

The fused softmax/cross-entropy contract (for the training loop): ``activation_name`` is Keras's
name of the activation a layer applies last to its output (``'softmax'``, ``'sigmoid'``,
``'linear'``, ...), or ``None`` when the layer has no such separable final activation (the
recurrent layers). ``call_logits(inputs, training=False, mask=None)`` returns the output before
that activation, so a loss can use ``log_softmax`` on the logits instead of ``log(softmax(z))``.
"""
import numbers
import re
from collections import defaultdict

import numpy as np

from ...grad_mode import describe
from ...nn.layers import check_dtype
from ...nn.module import Module, Parameter
from ...ops.convert import cast
from ...tensor import Tensor

__all__ = ["Layer", "InputSpec", "UnknownArgumentError", "auto_name", "to_snake_case", "shape_tuple",
           "check_unsupported"]


class UnknownArgumentError(TypeError, ValueError):
    """An unknown keyword argument to a layer (a TypeError; also a ValueError, which Keras raises)."""


# ------------------------------------------------------------------ names
_UIDS = defaultdict(int)


def to_snake_case(name):
    """Keras's class-name -> layer-name rule: ``SimpleRNN`` -> ``simple_rnn``, ``LSTM`` -> ``lstm``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_name(class_name):
    """``prefix``, ``prefix_1``, ``prefix_2``, ... for successive layers of one class (Keras's names)."""
    prefix = to_snake_case(class_name)
    n = _UIDS[prefix]
    _UIDS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


# ------------------------------------------------------------------ shapes and dtypes
def shape_tuple(shape, what, allow_none=True):
    """``shape`` as a tuple of non-negative ints (``None`` allowed), or a TypeError naming ``what``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{what} must be a tuple of ints, got {describe(shape)}")
    out = []
    for d in shape:
        if d is None and allow_none:
            out.append(None)
        elif isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0:
            out.append(int(d))
        else:
            raise TypeError(f"{what} must hold non-negative ints{' or None' if allow_none else ''}, "
                            f"got {tuple(shape)!r}")
    return tuple(out)


def layer_dtype(owner, dtype):
    """The layer's dtype (np.float32 unless given) from a name, a NumPy dtype or Keras's
    ``DTypePolicy`` config dict (what ``get_config()`` writes)."""
    if dtype is None:
        return np.dtype(np.float32)
    if isinstance(dtype, dict):                      # {"class_name": "DTypePolicy", "config": {"name": ...}}
        dtype = dtype.get("config", {}).get("name", dtype)
    return check_dtype(owner, dtype)


def dtype_config(dtype):
    """Keras 3's serialised dtype policy for ``dtype`` (the ``"dtype"`` entry of a layer config)."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": np.dtype(dtype).name},
            "registered_name": None}


def format_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_unsupported(owner, **options):
    """NotImplementedError naming any Keras option (regularizer, constraint, ...) that is not None."""
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise NotImplementedError(f"{owner}: {', '.join(given)} {'is' if len(given) == 1 else 'are'} not supported "
                                  "by minigrad.keras (pass None)")


class InputSpec:
    """What a layer accepts (Keras's ``InputSpec``): an exact ``ndim``, a ``min_ndim`` and/or fixed
    sizes of some ``axes`` ({axis: size}, negative axes count from the end)."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})

    def expected(self):
        """A readable expected shape: ``(None, None, 4)`` or ``(..., 4)``."""
        if self.ndim is not None:
            dims = [None] * self.ndim
            for a, n in self.axes.items():
                dims[a] = n
            return format_shape(dims)
        tail = [None] * max([-a for a in self.axes if a < 0] + [0])
        for a, n in self.axes.items():
            if a < 0:
                tail[a] = n
        return "(" + ", ".join(["..."] + [str(d) for d in tail]) + ")"

    def check(self, layer, shape):
        ok = ((self.ndim is None or len(shape) == self.ndim)
              and (self.min_ndim is None or len(shape) >= self.min_ndim)
              and all(-len(shape) <= a < len(shape) and shape[a] in (n, None) for a, n in self.axes.items()))
        if not ok:
            rank = (f"rank {self.ndim}" if self.ndim is not None
                    else f"rank >= {self.min_ndim}" if self.min_ndim is not None else "")
            raise ValueError(f"Input 0 of layer {layer.name!r} ({type(layer).__name__}) is incompatible with "
                             f"the layer: expected shape {self.expected()}{' (' + rank + ')' if rank else ''}, "
                             f"got shape {format_shape(shape)}")


class WeightSlot:
    """One Keras weight of a layer: the Parameter, its Keras shape, and the layout converters
    (``to_keras(param_array) -> keras_array``, ``from_keras(keras_array) -> param_array``; None
    when the Parameter already has Keras's layout)."""

    __slots__ = ("name", "param", "keras_shape", "to_keras", "from_keras")

    def __init__(self, name, param, keras_shape, to_keras=None, from_keras=None):
        self.name, self.param, self.keras_shape = name, param, tuple(keras_shape)
        self.to_keras, self.from_keras = to_keras, from_keras


# ------------------------------------------------------------------ the base class
class Layer(Module):
    """Base class of minigrad.keras's layers (the contract in this module's docstring)."""

    supports_masking = False
    activation_name = None          # see the module docstring: the fused softmax/cross-entropy path
    _int_inputs = False             # True: integer inputs are indices (Embedding), not cast to float

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 activity_regularizer=None, **kwargs):
        super().__init__()
        check_unsupported(type(self).__name__, activity_regularizer=activity_regularizer)
        if kwargs:
            raise UnknownArgumentError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                                       f"{sorted(kwargs)}")
        if not isinstance(trainable, bool):
            raise TypeError(f"{type(self).__name__}: trainable must be a bool, got {describe(trainable)}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, got {describe(name)}")
        self.name = name if name else auto_name(type(self).__name__)
        self._dtype = layer_dtype(type(self).__name__, dtype)
        self._trainable = trainable
        if input_dim is not None:
            input_shape = (input_dim,)
        self._batch_input_shape = (None, *shape_tuple(input_shape, f"{type(self).__name__}: input_shape")) \
            if input_shape is not None else None
        self.built = False
        self.input_spec = None
        self._slots = []            # WeightSlot list, in Keras's order

    # ------------------------------------------------------------------ properties
    @property
    def dtype(self):
        """The weights' dtype name (``'float32'`` / ``'float64'``), as Keras's ``layer.dtype``."""
        return self._dtype.name

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"layer {self.name!r}: trainable must be a bool, got {describe(value)}")
        self._trainable = value
        for sub in self._sublayers():
            sub.trainable = value

    def _sublayers(self):
        """Child layers whose weights follow this layer's own, in Keras's order (Bidirectional: forward,
        backward; TimeDistributed: the wrapped layer)."""
        return []

    # ------------------------------------------------------------------ weights
    def add_weight(self, name, shape, initializer="zeros", trainable=True, to_keras=None, from_keras=None,
                   keras_shape=None):
        """Create, register and return a Parameter named ``name``.

        ``initializer`` (a Keras name, an initializer object or a callable ``(shape, dtype)``) draws
        the weight in Keras's layout ``keras_shape`` (default ``shape``); ``from_keras`` turns
        that into the stored layout ``shape`` and ``to_keras`` back (``get_weights``).
        """
        from .. import initializers
        keras_shape = tuple(shape if keras_shape is None else keras_shape)
        value = np.asarray(initializers.get(initializer)(keras_shape, dtype=self._dtype), dtype=self._dtype)
        if from_keras is not None:
            value = from_keras(value)
        if value.shape != tuple(shape):
            raise AssertionError(f"{self.name}.{name}: stored layout {value.shape} != {tuple(shape)}")
        param = Parameter(np.ascontiguousarray(value), dtype=self._dtype)
        setattr(self, name, param)
        self._slots.append(WeightSlot(name, param, keras_shape, to_keras, from_keras))
        return param

    def _all_slots(self):
        slots = list(self._slots)
        for sub in self._sublayers():
            slots += sub._all_slots()
        return slots

    @property
    def weights(self):
        """Every weight (minigrad Parameters) in Keras's order."""
        return [s.param for s in self._all_slots()]

    @property
    def trainable_weights(self):
        return self.weights if self._trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self._trainable else self.weights

    def get_weights(self):
        """The weights as NumPy arrays in Keras's layouts (copies)."""
        return [np.array(s.to_keras(s.param.data) if s.to_keras else s.param.data, copy=True)
                for s in self._all_slots()]

    def set_weights(self, weights):
        """Load NumPy arrays in Keras's layouts (``get_weights()`` of this or of a Keras layer); every
        count and shape is checked before anything is written."""
        slots = self._all_slots()
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(f"You called `set_weights(weights)` on layer {self.name!r} with a weight list of "
                             f"length {len(weights)}, but the layer was expecting {len(slots)} weights"
                             f"{' (' + ', '.join(s.name for s in slots) + ')' if slots else ''}")
        arrays = []
        for s, w in zip(slots, weights):
            a = np.asarray(w.data if isinstance(w, Tensor) else w)
            if a.shape != s.keras_shape:
                raise ValueError(f"Layer {self.name!r} weight {s.name!r} has shape {format_shape(s.keras_shape)}, "
                                 f"not compatible with the provided weight shape {format_shape(a.shape)}")
            if a.dtype.kind not in "fiu":
                raise TypeError(f"Layer {self.name!r} weight {s.name!r}: expected a numeric array, got {a.dtype}")
            arrays.append(a)
        for s, a in zip(slots, arrays):
            s.param.data[...] = s.from_keras(a) if s.from_keras else a

    def count_params(self):
        """The number of scalars in the layer's Keras weights (equal to Keras's ``count_params()``)."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer {self.name!r}, but the layer isn't "
                             f"built. You can build it manually via: `{self.name}.build(batch_input_shape)`.")
        return int(sum(int(np.prod(s.keras_shape)) for s in self._all_slots()))

    # ------------------------------------------------------------------ building and calling
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (batch axis included); layers with weights
        override this and call ``super().build(input_shape)`` (or set ``self.built = True``)."""
        self.built = True

    def _convert_input(self, inputs):
        """``inputs`` as a Tensor: floats in the layer's dtype (a differentiable cast for tensors),
        integers kept for index-taking layers."""
        if isinstance(inputs, Layer):
            raise TypeError(f"layer {self.name!r} was called on the layer {inputs.name!r}: Keras's functional API "
                            "(calling layers on Input()) is not supported by minigrad.keras; list the layers in a "
                            "Sequential, or subclass Model and call the layers on arrays/tensors in call()")
        if isinstance(inputs, Tensor):
            kind = inputs.data.dtype.kind
            if self._int_inputs and kind in "iub":
                return inputs
            return inputs if inputs.data.dtype == self._dtype else cast(inputs, self._dtype)
        try:
            a = np.asarray(inputs)
        except (TypeError, ValueError) as e:
            raise TypeError(f"layer {self.name!r}: inputs must be an array or a Tensor, got "
                            f"{describe(inputs)} ({e})") from None
        if a.dtype.kind not in "biuf":
            raise TypeError(f"layer {self.name!r}: inputs must be numeric, got an array of dtype {a.dtype}")
        if self._int_inputs and a.dtype.kind in "iub":
            return Tensor(a)
        return Tensor(a, dtype=self._dtype)

    def _check_input(self, shape):
        if self.input_spec is not None:
            self.input_spec.check(self, shape)

    def _prepare(self, inputs):
        """The converted input, after building the layer for its shape (first call) and checking it."""
        x = self._convert_input(inputs)
        shape = tuple(x.shape)
        if not self.built:
            self._check_input(shape)
            self.build(shape)
            self.built = True
        self._check_input(shape)
        return x

    def __call__(self, inputs, training=False, mask=None):
        return self.call(self._prepare(inputs), training=bool(training), mask=mask)

    def call(self, inputs, training=False, mask=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def forward(self, inputs, training=False, mask=None):
        """``nn.Module``'s name for the call (so a layer also works where a Module is expected)."""
        return self(inputs, training=training, mask=mask)

    def call_logits(self, inputs, training=False, mask=None):
        """The output before the layer's final activation (``activation_name``); the output itself
        when the layer has none. Layers with an activation implement ``call_pre_activation``."""
        if self.activation_name is None:
            return self(inputs, training=training, mask=mask)
        return self.call_pre_activation(self._prepare(inputs), training=bool(training), mask=mask)

    def call_pre_activation(self, inputs, training=False, mask=None):
        raise NotImplementedError(f"{type(self).__name__} sets activation_name but does not implement "
                                  "call_pre_activation()")

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (batch axis included); the default keeps it."""
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: the incoming one when ``supports_masking``, else None."""
        return mask if self.supports_masking else None

    # ------------------------------------------------------------------ configs
    def get_config(self):
        """Keras's base keys; subclasses add theirs (``{**super().get_config(), ...}``)."""
        return {"name": self.name, "trainable": self._trainable, "dtype": dtype_config(self._dtype)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def extra_repr(self):
        return f"name={self.name!r}, built={self.built}"
