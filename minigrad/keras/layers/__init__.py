"""minigrad.keras.layers: Keras 3 layers on minigrad's modules (the contract is in ``base.py``)."""
from .base import InputSpec, Layer, UnknownArgumentError

__all__ = ["InputSpec", "Layer", "UnknownArgumentError"]
