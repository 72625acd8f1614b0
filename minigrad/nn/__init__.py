"""minigrad.nn: modules, layers and recurrent networks with PyTorch's names and shapes.

``nn.functional`` (also importable as ``minigrad.functional``) is the functional API,
``nn.init`` the initialisers, ``nn.utils`` gradient clipping and ``nn.utils.rnn`` packed sequences.
"""
from . import functional, init, utils
from .module import Module, Parameter
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .activation import GELU, Flatten, Identity, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .layers import Dropout, Embedding, Linear, LinearFn, linear
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from . import composed
from .attention import Attention, AttentionMemory
from .seq2seq import Decoder, DecoderState, Encoder, Seq2Seq
from .crf import CRF
from .char_encoder import CharEncoder

__all__ = ["Dropout", "Embedding", "GRU", "GRUCell", "LSTM", "LSTMCell", "Linear", "LinearFn", "Module",
           "Parameter", "RNN", "RNNBase", "RNNCell", "RNNCellBase", "Sequential", "composed", "linear", "utils",
           "Attention", "AttentionMemory", "Decoder", "DecoderState", "Encoder", "Seq2Seq",
           "functional", "init", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList",
           "GELU", "Flatten", "Identity", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Tanh",
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "MSELoss", "NLLLoss",
           "SmoothL1Loss", "CRF", "CharEncoder"]
