"""keras.preprocessing (Keras 2's module, removed in Keras 3): ``text.Tokenizer`` and ``sequence.pad_sequences``.

The tutorials import ``from keras.preprocessing.text import Tokenizer`` and
``from keras.preprocessing.sequence import pad_sequences``; both work here.
"""
from . import sequence, text

__all__ = ["sequence", "text"]
