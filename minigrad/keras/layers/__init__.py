"""minigrad.keras.layers: Keras 3 layers on minigrad's modules (the contract is in ``base.py``).

    core.py        Input / InputLayer, Dense, Activation, Dropout, Masking, Embedding
    recurrent.py   SimpleRNN, LSTM, GRU (rnn_run.py: masks, go_backwards, the time loop)
    wrappers.py    Bidirectional, TimeDistributed; serialize / deserialize
"""
from .base import InputSpec, Layer, UnknownArgumentError
from .core import Activation, Dense, Dropout, Embedding, Input, InputLayer, Masking
from .recurrent import GRU, LSTM, SimpleRNN
from .wrappers import Bidirectional, TimeDistributed, deserialize, serialize

__all__ = ["InputSpec", "Layer", "UnknownArgumentError", "Activation", "Dense", "Dropout", "Embedding", "Input",
           "InputLayer", "Masking", "GRU", "LSTM", "SimpleRNN", "Bidirectional", "TimeDistributed", "deserialize", "serialize"]
