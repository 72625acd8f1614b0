"""Bad-input battery for the functional API, losses, activations, containers, nn.init, clipping,
packed sequences, the DataLoader, LBFGS and the new schedulers: every call raises the stated
exception type with a message that names the offending value, type, dtype or shape."""
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.nn import init
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_
from minigrad.nn.utils import rnn as R
from minigrad.optim import lr_scheduler as S
from minigrad.utils.data import DataLoader, TensorDataset, default_collate

X = mg.tensor(np.random.default_rng(0).standard_normal((4, 3)), dtype=np.float64, requires_grad=True)
T = np.array([0, 1, 2, 0])
P = nn.Parameter(np.zeros((3, 4)))


def sgd(**kw):
    return optim.SGD([nn.Parameter(np.zeros(2))], lr=0.1, **kw)


CASES = [
    (lambda: F.cross_entropy(None, T), TypeError, "input must be a tensor, got NoneType"),
    (lambda: F.cross_entropy(np.ones((2, 3), int), [0, 1]), TypeError, "float32/float64 tensor, got dtype int64"),
    (lambda: F.cross_entropy(X, "abc"), TypeError, "integers.*got dtype <U3"),
    (lambda: F.cross_entropy(X, np.zeros((4, 3), int)), ValueError, r"target has shape \(4, 3\)"),
    (lambda: F.cross_entropy(X, T, weight="a"), TypeError, "weight must be numeric, got dtype <U1"),
    (lambda: F.cross_entropy(X, T, weight=np.ones((3, 1))), ValueError, r"weight must have shape \(3,\), got \(3, 1\)"),
    (lambda: F.cross_entropy(X, T, reduction=None), ValueError, "unknown reduction None"),
    (lambda: F.cross_entropy(X, T, label_smoothing=True), TypeError, "label_smoothing must be a number, got True"),
    (lambda: F.cross_entropy(X, T, label_smoothing="0.1"), TypeError, "label_smoothing must be a number, got '0.1'"),
    (lambda: F.cross_entropy(X, T, label_smoothing=-0.1), ValueError, r"label_smoothing must be in .*got -0.1"),
    (lambda: F.cross_entropy(X, T, ignore_index=1.5), TypeError, "ignore_index must be an int, got 1.5"),
    (lambda: F.cross_entropy(mg.tensor(1.0), 0), ValueError, "must have a class axis, got a 0-d tensor"),
    (lambda: F.cross_entropy(X, np.array([0, 1, 2, 2 ** 63], np.uint64)), ValueError,
     "9223372036854775808, which does not fit in int64"),
    (lambda: F.cross_entropy(X, np.array([0, 1, 2, 2 ** 64 - 100], np.uint64)), ValueError, "18446744073709551516"),
    (lambda: F.cross_entropy(X, np.array([0, -5, 1, 1])), IndexError, r"class -5 outside \[0, 3\)"),
    (lambda: F.cross_entropy(X, np.ones((4, 4))), TypeError, r"input's shape \(4, 3\); got dtype float64 and shape \(4, 4\)"),
    (lambda: F.nll_loss(mg.tensor(np.zeros((2, 3, 4))), [0, 1]), ValueError, r"needs a target of shape \(2, 4\)"),
    (lambda: F.mse_loss(X, "a"), TypeError, "target must be a tensor or an array, got str"),
    (lambda: F.mse_loss(X, None), TypeError, "target must be a tensor or an array, got NoneType"),
    (lambda: F.mse_loss(X, mg.tensor(np.zeros((4, 3), np.float32))), TypeError,
     "input is float64 but target is float32"),
    (lambda: F.l1_loss(X, X, reduction=1), ValueError, "unknown reduction 1"),
    (lambda: F.huber_loss(X, X, delta="1"), TypeError, "delta must be a number, got '1'"),
    (lambda: F.huber_loss(X, X, delta=-1), ValueError, "delta must be in .*got -1"),
    (lambda: F.smooth_l1_loss(X, X, beta=float("nan")), ValueError, "beta must be in .*got nan"),
    (lambda: F.binary_cross_entropy(mg.tensor(np.array([np.nan])), np.ones(1)), ValueError, "found nan"),
    (lambda: F.binary_cross_entropy(mg.tensor(np.array([0.5])), np.array([None])), TypeError,
     "target must be numeric, got dtype object"),
    (lambda: F.binary_cross_entropy_with_logits(X, np.ones((4, 3)), pos_weight="a"), TypeError,
     "pos_weight must be numeric, got dtype <U1"),
    (lambda: F.softmax(X, dim=1.0), TypeError, "dim must be an int, got float"),
    (lambda: F.softmax(X, 5), ValueError, "dim 5 is out of range for a tensor with 2 dimensions"),
    (lambda: F.gelu("x"), TypeError, "input must be a tensor, got str"),
    (lambda: F.gelu(np.arange(3)), TypeError, "got dtype int64"),
    (lambda: F.embedding(np.array([2 ** 64 - 1], np.uint64), P), ValueError, "18446744073709551615"),
    (lambda: nn.CrossEntropyLoss(ignore_index="a"), TypeError, "ignore_index must be an int, got 'a'"),
    (lambda: nn.BCELoss(weight=np.array([None])), TypeError, "weight must be numeric, got dtype object"),
    (lambda: nn.Softmax(1.5), TypeError, "dim must be an int, got 1.5"),
    (lambda: nn.Flatten("1"), TypeError, "start_dim must be an int, got '1'"),
    (lambda: nn.GELU("fast"), ValueError, "got 'fast'"),
    (lambda: nn.CrossEntropyLoss(weight=np.ones(3)).load_state_dict({"weight": np.ones(4)}), ValueError,
     r"weight has shape \(3,\) in the model but \(4,\)"),
    (lambda: nn.ModuleList([nn.Tanh()])["0"], TypeError, "indices must be integers or slices, got str '0'"),
    (lambda: nn.ModuleDict({1: nn.Tanh()}), TypeError, "module name must be a string, got int"),
    (lambda: nn.Module().register_buffer("b", [1, 2]), TypeError, "cannot assign list as buffer 'b'"),
    (lambda: nn.Sequential([nn.Tanh()]), TypeError, "argument 0 is list"),
    (lambda: init.uniform_([1, 2]), TypeError, "expected a Tensor or Parameter, got list"),
    (lambda: init.uniform_(P, float("nan"), 1), TypeError, "a must be a finite number, got nan"),
    (lambda: init.constant_(P, "1"), TypeError, "val must be a number, got '1'"),
    (lambda: init.kaiming_normal_(P, nonlinearity="swish"), ValueError, "unsupported nonlinearity 'swish'"),
    (lambda: init.kaiming_normal_(P, a="x"), ValueError, "negative_slope 'x' is not a valid number"),
    (lambda: init.orthogonal_(P, gain="1"), TypeError, "gain must be a finite number, got '1'"),
    (lambda: clip_grad_norm_([P], -1.0), ValueError, "max_norm must be >= 0, got -1.0"),
    (lambda: clip_grad_norm_([P], "1"), TypeError, "max_norm must be a number, got '1'"),
    (lambda: clip_grad_norm_([P], float("nan")), ValueError, "max_norm must be >= 0, got nan"),
    (lambda: clip_grad_value_([P], -1), ValueError, "clip_value must be >= 0, got -1"),
    (lambda: clip_grad_norm_(3, 1.0), TypeError, "iterable of tensors, got int"),
    (lambda: R.pack_padded_sequence(np.zeros((3, 2, 1)), mg.tensor([2.0, 1.0])), TypeError,
     "lengths must hold integers, got dtype float32"),
    (lambda: R.pack_padded_sequence(np.zeros(3), [1]), ValueError, r"got shape \(3,\)"),
    (lambda: R.pack_padded_sequence(np.zeros((3, 2, 1)), [[2, 1]]), TypeError, r"lengths must be 1-D, got shape \(1, 2\)"),
    (lambda: R.pad_packed_sequence((1, 2)), TypeError, "expected a PackedSequence, got tuple"),
    (lambda: R.pad_packed_sequence(R.pack_padded_sequence(np.zeros((3, 2, 1)), [2, 1]), total_length="5"),
     ValueError, "total_length must be an int >= the longest length 2, got '5'"),
    (lambda: R.pad_sequence([np.zeros((2, 3)), np.zeros((2, 4))]), ValueError, r"sequence 1 has shape \(2, 4\)"),
    (lambda: R.pad_sequence("abc"), TypeError, "string data"),
    (lambda: nn.LSTM(2, 3)(R.pack_padded_sequence(mg.tensor(np.zeros((3, 2, 5), np.float32)), [2, 1])), ValueError,
     r"expected input of shape \(T, B, 2\).*got \(2, 2, 5\)"),
    (lambda: DataLoader([1, 2], batch_size=1.5), ValueError, "batch_size must be a positive integer, got 1.5"),
    (lambda: DataLoader([1, 2], drop_last="yes"), ValueError, "drop_last must be a bool, got 'yes'"),
    (lambda: DataLoader([1, 2], collate_fn=3), TypeError, "collate_fn must be callable, got int"),
    (lambda: DataLoader([1, 2], sampler=3), TypeError, "sampler must be iterable.*got int"),
    (lambda: TensorDataset([1, 2]), TypeError, "argument 0 must be a tensor or array.*got list"),
    (lambda: default_collate([np.zeros(2), 1.0]), ValueError, r"different shapes \[\(\), \(2,\)\]"),
    (lambda: optim.LBFGS([P], tolerance_grad=-1), ValueError, "Invalid tolerance_grad: -1"),
    (lambda: optim.LBFGS([nn.Parameter(np.ones(2))]).step(lambda: None), TypeError,
     "closure must return the loss.*got NoneType"),
    (lambda: optim.LBFGS([nn.Parameter(np.ones(2))]).step(lambda: mg.tensor(np.ones(3))), TypeError,
     r"one-element loss, got a tensor of shape \(3,\)"),
    (lambda: S.ExponentialLR(sgd(), gamma=-1), ValueError, r"gamma must be in \[0.0, inf\], got -1"),
    (lambda: S.OneCycleLR(sgd(momentum=0.9), max_lr="1", total_steps=3), TypeError, "max_lr must be a number, got '1'"),
    (lambda: S.OneCycleLR(sgd(momentum=0.9), max_lr=1.0, total_steps=3, anneal_strategy="exp"), ValueError,
     "instead got 'exp'"),
    (lambda: S.ReduceLROnPlateau(sgd(), min_lr=[0, 1]), ValueError, "expected 1 values for min_lr"),
    (lambda: S.ReduceLROnPlateau(3), TypeError, "int is not an optimizer"),
    (lambda: S.ReduceLROnPlateau(sgd()).step(mg.tensor(np.ones(3))), TypeError, r"one metric value.*shape \(3,\)"),
]


@pytest.mark.parametrize("call,exc,match", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_gives_a_clear_error(call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            call()
