"""minigrad.nn: modules, layers and recurrent networks with PyTorch's names and shapes."""
from . import utils
from .module import Module, Parameter
from .layers import Dropout, Embedding, Linear, LinearFn, Sequential, linear
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from . import composed
from .attention import Attention, AttentionMemory
from .seq2seq import Decoder, DecoderState, Encoder, Seq2Seq

__all__ = ["Dropout", "Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "Linear", "LinearFn", "Module",
           "Parameter", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "Sequential", "composed", "linear", "utils",
           "Attention", "AttentionMemory", "Decoder", "DecoderState", "Encoder", "Seq2Seq"]
