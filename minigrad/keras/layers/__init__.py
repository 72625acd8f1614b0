"""minigrad.keras.layers: Keras 3 layers on minigrad's modules (the contract is in ``base.py``).

    core.py        Input / InputLayer, Dense, Activation, Dropout, Embedding
"""
from .base import InputSpec, Layer, UnknownArgumentError
from .core import Activation, Dense, Dropout, Embedding, Input, InputLayer

__all__ = ["InputSpec", "Layer", "UnknownArgumentError", "Activation", "Dense", "Dropout", "Embedding", "Input",
           "InputLayer"]
