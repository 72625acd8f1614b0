"""keras.preprocessing.sequence: ``pad_sequences`` where Keras 2 had it (the same function as ``keras.utils.pad_sequences``)."""
from ..utils import pad_sequences

__all__ = ["pad_sequences"]
