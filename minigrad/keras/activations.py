"""Keras's activation functions (``keras.activations``) as minigrad tape ops.

``get(identifier)`` turns Keras's string names (``'relu'``, ``'tanh'``, ``'softmax'``, ...), ``None``
(``linear``) or a callable into a function ``Tensor -> Tensor``; ``serialize(fn)`` gives the name
back (the ``"activation"`` entry of a layer config). A layer keeps that name as
``layer.activation_name`` so the training loop can see a softmax output and take the fused
log-softmax path (see ``layers/base.py``).
"""
from .. import ops
from ..grad_mode import describe
from ..nn import functional as F

__all__ = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "tanh", "sigmoid", "hard_sigmoid",
           "softmax", "log_softmax", "softplus", "softsign", "silu", "swish", "exponential", "get",
           "serialize"]


def linear(x):
    return x


def relu(x):
    return ops.relu(x)


def relu6(x):
    return ops.clip(x, 0.0, 6.0)


def leaky_relu(x, negative_slope=0.2):
    """Keras's default slope is 0.2 (PyTorch's is 0.01)."""
    return ops.where(x.data > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    # exp of the non-positive part only, so large positive x never overflows
    return ops.where(x.data > 0, x, (ops.exp(ops.clip(x, None, 0.0)) - 1.0) * alpha)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def selu(x):
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def gelu(x, approximate=False):
    return F.gelu(x, approximate="tanh" if approximate else "none")


def tanh(x):
    return ops.tanh(x)


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    """Keras 3: relu6(x + 3) / 6."""
    return ops.clip(x + 3.0, 0.0, 6.0) / 6.0


def softmax(x, axis=-1):
    return F.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, axis=axis)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    return x / (ops.abs(x) + 1.0)


def silu(x):
    return x * ops.sigmoid(x)


swish = silu


def exponential(x):
    return ops.exp(x)


_BY_NAME = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu, tanh, sigmoid, hard_sigmoid,
                                    softmax, log_softmax, softplus, softsign, silu, exponential)}
_BY_NAME["swish"] = silu


def get(identifier):
    """The activation function for a Keras name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier)
        if fn is None:
            raise ValueError(f"Could not interpret activation function identifier: {identifier!r} (known: "
                             f"{', '.join(sorted(_BY_NAME))})")
        return fn
    if isinstance(identifier, dict) and "config" in identifier:     # a serialised Keras object
        return get(identifier["config"] if isinstance(identifier["config"], str) else identifier.get("class_name"))
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {describe(identifier)}")


def serialize(fn):
    """Keras's config value for an activation: its name (``'linear'`` for None)."""
    fn = get(fn)
    for name, f in _BY_NAME.items():
        if f is fn:
            return name if name != "swish" else "silu"
    return getattr(fn, "__name__", repr(fn))

