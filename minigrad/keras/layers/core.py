"""Keras's core layers: Input/InputLayer, Dense, Activation, Dropout, Masking, Embedding.

``Dense`` keeps its kernel in ``nn.Linear``'s layout (out, in) so the forward is the fused
``F.linear`` node (one GEMM over all leading axes: (N, T, F) -> (N, T, units) as in Keras);
``get_weights`` / ``set_weights`` transpose to and from Keras's (in, out). ``Embedding`` is
``F.embedding`` on an (input_dim, output_dim) table, Keras's layout already.
"""
import numbers
import warnings

import numpy as np

from ...grad_mode import describe
from ...nn import functional as F
from ...random import default_generator
from ...tensor import Tensor
from .. import activations, initializers
from .base import InputSpec, Layer, check_unsupported, format_shape, shape_tuple

__all__ = ["InputLayer", "Input", "Dense", "Activation", "Dropout", "Masking", "Embedding"]


def positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive integer. Received: {name}={describe(value)}")
    return int(value)


def rate_in_unit_interval(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: Invalid value received for argument `{name}`. Expected a float value "
                         f"between 0 and 1. Received: {name}={value!r}")
    return float(value)


def transpose_2d(a):
    return np.ascontiguousarray(a.T)


class InputLayer(Layer):
    """The model's input: ``batch_shape = (batch_size, *shape)``; calling it checks and passes the data on.

    Keras's ``Input()`` returns a symbolic tensor; minigrad's returns this layer, which
    ``Sequential`` takes as its first element. A float ``dtype`` is the data's dtype; an integer
    one (``'int32'``: token ids for an Embedding) lets integer data through unchanged.
    """

    _int_inputs = True

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        check_unsupported("InputLayer", sparse=sparse or None, ragged=ragged or None, input_tensor=input_tensor)
        int_dtype = dtype is not None and not isinstance(dtype, dict) and np.dtype(dtype).kind in "iub"
        super().__init__(name=name, dtype=None if int_dtype else dtype, **kwargs)
        self.input_dtype = np.dtype(dtype).name if int_dtype else self.dtype
        if batch_shape is not None:
            if shape is not None or batch_size is not None:
                raise ValueError("InputLayer: pass either `shape` (and `batch_size`) or `batch_shape`, not both")
            batch_shape = shape_tuple(batch_shape, "InputLayer: batch_shape")
        else:
            if shape is None:
                raise ValueError("InputLayer: you must pass a `shape` argument (without the batch axis)")
            batch_shape = (batch_size, *shape_tuple(shape, "InputLayer: shape"))
        self.batch_shape = self._batch_input_shape = batch_shape
        self.optional = bool(optional)
        self.input_spec = InputSpec(ndim=len(batch_shape),
                                    axes={i: n for i, n in enumerate(batch_shape) if n is not None and i > 0})
        self.built = True

    def call(self, inputs, training=False, mask=None):
        return inputs

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.input_dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """Keras's ``Input``: here the ``InputLayer`` itself (the first element of a ``Sequential``)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)


class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` on the last axis of inputs of any rank >= 2."""

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        check_unsupported("Dense", kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                          activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                          bias_constraint=bias_constraint, lora_rank=lora_rank, quantization_config=quantization_config)
        super().__init__(**kwargs)
        self.units = positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"layer {self.name!r}: the last axis of the input must be defined, got shape "
                             f"{format_shape(input_shape)}")
        # stored as nn.Linear's (units, in) for the fused F.linear; Keras's kernel is (in, units)
        self.add_weight("kernel", (self.units, in_dim), self.kernel_initializer, keras_shape=(in_dim, self.units),
                        to_keras=transpose_2d, from_keras=transpose_2d)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def call_pre_activation(self, inputs, training=False, mask=None):
        return F.linear(inputs, self.kernel, self.bias if self.use_bias else None)

    def call(self, inputs, training=False, mask=None):
        return self.activation(self.call_pre_activation(inputs))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name,
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer), "kernel_regularizer": None,
                "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
                "quantization_config": None}


class Activation(Layer):
    """Applies an activation function (Keras's string name or a callable) to its input."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.activation_name = activations.serialize(self.activation)
        self.built = True

    def call_pre_activation(self, inputs, training=False, mask=None):
        return inputs

    def call(self, inputs, training=False, mask=None):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs and scales the rest by 1/(1-rate) when training.

    ``noise_shape`` (``None`` entries take the input's size) shares one mask along its size-1
    axes; ``seed`` gives the layer its own random stream, otherwise minigrad's generator is used.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate_in_unit_interval("Dropout", "rate", rate)
        self.noise_shape = None if noise_shape is None else shape_tuple(noise_shape, "Dropout: noise_shape")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"Dropout: seed must be an int or None, got {describe(seed)}")
        self.seed = seed
        self._generator = np.random.default_rng(seed) if seed is not None else None
        self.built = True

    def call(self, inputs, training=False, mask=None):
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, True, generator=self._generator)
        if len(self.noise_shape) != inputs.ndim:
            raise ValueError(f"layer {self.name!r}: noise_shape {self.noise_shape} does not match the input's rank "
                             f"{inputs.ndim} (shape {inputs.shape})")
        shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, inputs.shape))
        rng = self._generator if self._generator is not None else default_generator()
        keep = (rng.random(shape) >= self.rate).astype(inputs.dtype) / np.asarray(1.0 - self.rate, inputs.dtype) \
            if self.rate < 1 else np.zeros(shape, inputs.dtype)
        return inputs * keep

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value`` (and zeroes them), as Keras:
    ``compute_mask`` is ``any(inputs != mask_value, axis=-1)``, which the recurrent layers take."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"Masking: mask_value must be a number, got {describe(mask_value)}")
        self.mask_value = float(mask_value)
        self.built = True

    def compute_mask(self, inputs, mask=None):
        data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return (data != self.mask_value).any(axis=-1)

    def call(self, inputs, training=False, mask=None):
        keep = self.compute_mask(inputs)
        return inputs if keep.all() else inputs * keep[..., None].astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class Embedding(Layer):
    """Rows of an (input_dim, output_dim) table at integer inputs: (N, T) -> (N, T, output_dim).

    ``mask_zero=True``: index 0 is padding; ``compute_mask`` gives the (N, T) bool mask
    ``inputs != 0`` that the recurrent layers turn into sequence lengths.
    """

    _int_inputs = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, input_length=None, **kwargs):
        check_unsupported("Embedding", embeddings_regularizer=embeddings_regularizer,
                          embeddings_constraint=embeddings_constraint, lora_rank=lora_rank,
                          quantization_config=quantization_config)
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        super().__init__(**kwargs)
        self.input_dim = positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:
            self.build(None)
            self.set_weights(weights)

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)
        self.built = True

    def _convert_input(self, inputs):
        x = super()._convert_input(inputs)
        if x.data.dtype.kind == "f":           # Keras casts float ids to int; non-integral values are a mistake
            if not np.array_equal(x.data, np.round(x.data)):
                raise ValueError(f"layer {self.name!r}: Embedding inputs must be integer indices, got non-integral "
                                 f"float values")
            x = Tensor(x.data.astype(np.int64))
        return x

    def call(self, inputs, training=False, mask=None):
        return F.embedding(inputs, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        ids = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return ids != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
                "mask_zero": self.mask_zero, "quantization_config": None}
