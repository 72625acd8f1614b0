"""Readable references: the recurrent cells in plain NumPy, with backpropagation through time by hand.

:mod:`minigrad.reference.rnn` is the place to read BPTT: the forward equations of the Elman RNN,
LSTM and GRU and every gradient written out from the chain rule (no autodiff, no C, no minigrad
tensors -- only NumPy). It is the independent reference the fused C kernels, the layers and the
composed cells are tested against (tests/test_rnn_*.py), and tests/test_rnn_reference.py proves it
right against central finite differences and PyTorch.

    from minigrad.reference import rnn as ref
    params = ref.init_params("lstm", input_size=3, hidden_size=4)
    out, h_n, cache = ref.layer_forward("lstm", x, None, params)
    dx, dhx, dparams = ref.layer_backward(dout, None, cache)

:mod:`minigrad.reference.softmax` holds softmax, log_softmax and cross-entropy in NumPy, the
reference of the C kernels in csrc/softmax.c.
"""
from . import rnn, softmax

__all__ = ["rnn", "softmax"]
