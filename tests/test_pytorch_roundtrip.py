"""To PyTorch and back (issue 18, item 5; docs/pytorch_roundtrip.md): a minigrad ``state_dict()``
loads into the same torch.nn module with ``strict=True`` and gives minigrad's outputs, and the
torch module's ``state_dict()`` loads back into minigrad bit for bit. (tests/test_rnn_layers.py
and tests/test_nn_modules.py cover the torch -> minigrad direction with gradients.)

Tolerance 1e-5 relative to max(1, |value|) in float32: each output is a sum of at most a few hundred
float32 products of unit-scale numbers, rounded in another order by each library (see
tests/_onnx_run.py for the bound)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

torch = pytest.importorskip("torch")

TOL = 1e-5


def to_torch(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


def from_torch(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def check_back(mine, fresh, theirs):
    """torch's state_dict loads into ``fresh`` (strict) and equals ``mine``'s bit for bit."""
    fresh.load_state_dict(from_torch(theirs))
    a, b = mine.state_dict(), fresh.state_dict()
    assert list(a) == list(b) == list(theirs.state_dict())
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def close(mine, theirs):
    mine = mine.data if isinstance(mine, mg.Tensor) else mine
    np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=TOL, atol=TOL)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


KINDS = {"lstm": (nn.LSTM, torch.nn.LSTM, {}), "gru": (nn.GRU, torch.nn.GRU, {}),
         "rnn_tanh": (nn.RNN, torch.nn.RNN, {}), "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
         "lstm_proj": (nn.LSTM, torch.nn.LSTM, {"proj_size": 3})}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_recurrent_layers(kind):
    ours, theirs_cls, extra = KINDS[kind]
    kw = dict(num_layers=2, bidirectional=True, batch_first=True, **extra)
    mine, fresh, theirs = ours(4, 5, **kw), ours(4, 5, **kw), theirs_cls(4, 5, **kw)
    theirs.load_state_dict(to_torch(mine.state_dict()))
    x = randn(3, 6, 4)
    out, hn = mine(mg.tensor(x))
    tout, thn = theirs(torch.from_numpy(x))
    close(out, tout)
    for a, b in zip(hn if isinstance(hn, tuple) else (hn,), thn if isinstance(thn, tuple) else (thn,)):
        close(a, b)
    check_back(mine, fresh, theirs)


@pytest.mark.parametrize("ours, theirs_cls", [(nn.LSTMCell, torch.nn.LSTMCell), (nn.GRUCell, torch.nn.GRUCell),
                                              (nn.RNNCell, torch.nn.RNNCell)])
def test_cells(ours, theirs_cls):
    mine, fresh, theirs = ours(4, 5), ours(4, 5), theirs_cls(4, 5)
    theirs.load_state_dict(to_torch(mine.state_dict()))
    x = randn(3, 4)
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (mine(mg.tensor(x)), theirs(torch.from_numpy(x))))):
        close(a, b)
    check_back(mine, fresh, theirs)


def test_linear_and_embedding():
    lin, lin2, tlin = nn.Linear(4, 3), nn.Linear(4, 3), torch.nn.Linear(4, 3)
    tlin.load_state_dict(to_torch(lin.state_dict()))
    x = randn(2, 5, 4)
    close(lin(mg.tensor(x)), tlin(torch.from_numpy(x)))
    check_back(lin, lin2, tlin)
    emb, emb2, temb = nn.Embedding(9, 4, padding_idx=0), nn.Embedding(9, 4), torch.nn.Embedding(9, 4, padding_idx=0)
    temb.load_state_dict(to_torch(emb.state_dict()))
    ids = np.array([[0, 3, 8], [1, 1, 2]])
    close(emb(mg.tensor(ids)), temb(torch.from_numpy(ids)))
    check_back(emb, emb2, temb)


class WordLM:
    """The word-LM of PyTorch's word_language_model, written once for both libraries."""

    @staticmethod
    def build(lib_nn, Module):
        class Model(Module):
            def __init__(self):
                super().__init__()
                self.encoder = lib_nn.Embedding(20, 8)
                self.rnn = lib_nn.LSTM(8, 8, 2, dropout=0.2)
                self.drop = lib_nn.Dropout(0.2)
                self.decoder = lib_nn.Linear(8, 20)
                self.decoder.weight = self.encoder.weight          # tied

            def forward(self, ids):
                out, _ = self.rnn(self.drop(self.encoder(ids)))
                return self.decoder(self.drop(out))
        return Model()


def test_whole_tied_word_lm_both_ways():
    mine, fresh = WordLM.build(nn, nn.Module), WordLM.build(nn, nn.Module)
    theirs = WordLM.build(torch.nn, torch.nn.Module)
    assert list(mine.state_dict()) == list(theirs.state_dict())   # the same keys, tied weight included
    theirs.load_state_dict(to_torch(mine.state_dict()))
    mine.eval()
    theirs.eval()
    ids = np.random.default_rng(0).integers(0, 20, (6, 2))
    close(mine(mg.tensor(ids)), theirs(torch.from_numpy(ids)))
    check_back(mine, fresh, theirs)
    fresh.eval()
    close(fresh(mg.tensor(ids)), theirs(torch.from_numpy(ids)))
