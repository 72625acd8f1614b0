"""minigrad.onnx.export of recurrent layers, cells and whole models (char-LM, word-LM, seq2seq),
with dynamic axes, compared with minigrad in onnxruntime (tolerances: tests/_onnx_run.py)."""
import numpy as np
import pytest

from _examples import load_example
from _onnx_run import assert_same, check_export, export_bytes, flat, randn, run_onnx, run_reference

import minigrad as mg             # noqa: E402
import minigrad.nn as nn          # noqa: E402
from minigrad.nn.cell_registry import cell_spec   # noqa: E402
from minigrad.nn.seq2seq import DecoderState      # noqa: E402

LAYERS = {"rnn_tanh": lambda *a, **k: nn.RNN(*a, **k), "rnn_relu": lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
          "lstm": lambda *a, **k: nn.LSTM(*a, **k), "gru": lambda *a, **k: nn.GRU(*a, **k)}


def states(kind, shape, seed=7):
    h = randn(*shape, seed=seed)
    return (h, randn(*shape, seed=seed + 1)) if kind == "lstm" else h


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("layers, bidirectional, batch_first", [(1, False, False), (2, False, True),
                                                                (1, True, False), (2, True, True)])
def test_layer_with_initial_and_final_states(kind, layers, bidirectional, batch_first):
    T, B, I, H = 5, 3, 4, 6
    layer = LAYERS[kind](I, H, layers, bidirectional=bidirectional, batch_first=batch_first)
    D = 2 if bidirectional else 1
    x = randn(B, T, I) if batch_first else randn(T, B, I)
    check_export(layer, (x, states(kind, (layers * D, B, H))))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_layer_without_states_and_unbatched_input(kind):
    layer = LAYERS[kind](3, 5, 2, bidirectional=True)
    check_export(layer, randn(6, 2, 3))
    check_export(layer, randn(6, 3))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_layer_without_bias(kind):
    check_export(LAYERS[kind](3, 4, 2, bias=False, bidirectional=True), randn(5, 2, 3))


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn_tanh"])
def test_float64_layer(kind):
    """A float64 model exports float64 initialisers. onnxruntime has no float64 RNN/LSTM/GRU CPU
    kernels ("LSTM operator does not support double yet"), so onnx's reference evaluator runs it
    (which knows no Relu activation in its RNN: rnn_relu is covered in float32 only)."""
    layer = LAYERS[kind](3, 4, 2, bidirectional=True, dtype=np.float64)
    x = randn(5, 2, 3, dtype=np.float64)
    data = export_bytes(layer, x)
    with mg.no_grad():
        assert_same(run_reference(data, {"input_0": x.data}), flat(layer(x)))


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells(kind, batched):
    cell = cell_spec(kind).make_cell(4, 5)
    x = randn(3, 4) if batched else randn(4)
    shape = (3, 5) if batched else (5,)
    check_export(cell, (x, states(kind, shape)))
    check_export(cell, x)


class PaddedBiLSTM(nn.Module):
    """Embedding -> 2-layer bidirectional LSTM over a padded batch with its lengths -> Linear."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(12, 5, padding_idx=0)
        self.rnn = nn.LSTM(5, 6, 2, bidirectional=True)
        self.head = nn.Linear(12, 3)

    def forward(self, ids, lengths):
        out, (h, c) = self.rnn(self.emb(ids), lengths=lengths)
        return self.head(out), h, c


def test_two_layer_bidirectional_lstm_over_a_padded_batch():
    lengths = mg.tensor(np.array([6, 2, 4, 1]))
    ids = np.random.default_rng(2).integers(1, 12, (6, 4))
    ids[np.arange(6)[:, None] >= lengths.data[None, :]] = 0          # padding after each length
    model = PaddedBiLSTM()
    data = check_export(model, (mg.tensor(ids), lengths), input_names=["ids", "lengths"])
    out = run_onnx(data, {"ids": ids, "lengths": lengths.data})[0]
    assert np.all(out[5, 1:] == model.head.bias.data)               # zero outputs past the end, then Linear


class WordLM(nn.Module):
    """PyTorch's word_language_model: Embedding -> 2-layer LSTM -> dropout -> Linear, weights tied."""

    def __init__(self, ntoken=20, nhid=8):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, nhid)
        self.rnn = nn.LSTM(nhid, nhid, 2, dropout=0.3)
        self.drop = nn.Dropout(0.3)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight

    def forward(self, ids, hidden):
        out, hidden = self.rnn(self.drop(self.encoder(ids)), hidden)
        return self.decoder(self.drop(out)), hidden


def test_word_lm_with_tied_weights_and_dynamic_axes():
    onnx = pytest.importorskip("onnx")
    model = WordLM()
    ids = mg.tensor(np.random.default_rng(0).integers(0, 20, (5, 2)))
    hidden = (randn(2, 2, 8, seed=1), randn(2, 2, 8, seed=2))
    names = dict(input_names=["ids", "h0", "c0"], output_names=["logits", "hn", "cn"],
                 dynamic_axes={"ids": {0: "T", 1: "B"}, "h0": {1: "B"}, "c0": {1: "B"},
                               "logits": {0: "T", 1: "B"}, "hn": {1: "B"}, "cn": {1: "B"}})
    data = export_bytes(model, (ids, hidden), **names)
    proto = onnx.load_from_string(data)
    assert sum(i.name == "encoder.weight" for i in proto.graph.initializer) == 1   # tied: one initialiser
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["T", "B"]
    ids2 = np.random.default_rng(3).integers(0, 20, (7, 3))                      # run at T=7, B=3
    h2 = (randn(2, 3, 8, seed=4), randn(2, 3, 8, seed=5))
    got = run_onnx(data, {"ids": ids2, "h0": h2[0].data, "c0": h2[1].data})
    model.eval()
    with mg.no_grad():
        assert_same(got, flat(model(mg.tensor(ids2), h2)))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_char_lm_model_of_the_example(cell):
    char_lm = load_example("char_lm")
    model = char_lm.CharLM(15, 6, 8, layers=2, cell=cell, dropout=0.2)
    ids = mg.tensor(np.random.default_rng(1).integers(0, 15, (5, 2)))
    dyn = {"ids": {0: "T", 1: "B"}}
    data = check_export(model, ids, input_names=["ids"], dynamic_axes=dyn)
    ids2 = mg.tensor(np.random.default_rng(2).integers(0, 15, (7, 3)))
    with mg.no_grad():
        assert_same(run_onnx(data, {"ids": ids2.data}), flat(model(ids2)))


@pytest.mark.parametrize("cell, bidirectional, bridge", [("lstm", True, "auto"), ("gru", False, "concat"),
                                                         ("lstm", False, "linear")])
def test_seq2seq_encoder_with_lengths_and_dynamic_axes(cell, bidirectional, bridge):
    enc = nn.Encoder(11, 5, 6, num_layers=2, cell=cell, bidirectional=bidirectional, padding_idx=0,
                     dec_hidden_size=12 if bidirectional else 6, bridge=bridge)
    src, lengths = mg.tensor(np.random.default_rng(0).integers(1, 11, (5, 2))), mg.tensor(np.array([5, 3]))
    dyn = {"src": {0: "S", 1: "B"}, "lengths": {0: "B"}}
    data = check_export(enc, (src, lengths), input_names=["src", "lengths"], dynamic_axes=dyn)
    src2, len2 = np.random.default_rng(1).integers(1, 11, (7, 3)), np.array([7, 2, 6])
    with mg.no_grad():
        assert_same(run_onnx(data, {"src": src2, "lengths": len2}), flat(enc(mg.tensor(src2), mg.tensor(len2))))


class AttentionStep(nn.Module):
    """One step of an attention decoder: previous token, state and encoder outputs -> logits, the
    greedy next token, state."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, token, h, c, keys):
        dec = self.decoder
        mem = dec.attention.memory(keys)
        h_t, ctx, _, state = dec.step(dec.embedding(token), DecoderState([(h, c)]), mem)
        logits = dec.logits(h_t, ctx, state)
        return logits, logits.argmax(-1), state.layers[0][0], state.layers[0][1]     # greedy: the next token


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_attention_decoder_step(kind):
    dec = nn.Decoder(9, 4, 6, attention=kind, memory_size=6, input_feeding=False)
    token = mg.tensor(np.array([1, 5, 8]))
    check_export(AttentionStep(dec), (token, randn(3, 6, seed=1), randn(3, 6, seed=2), randn(3, 4, 6, seed=3)))


# ------------------------------------------------------------------ what cannot be exported
def test_packed_sequence_input_is_refused():
    packed = nn.utils.rnn.pack_padded_sequence(randn(4, 2, 3), [4, 2])
    with pytest.raises(mg.onnx.ExportError, match="PackedSequence"):
        export_bytes(nn.GRU(3, 4), (packed,))


def test_proj_size_is_refused():
    with pytest.raises(mg.onnx.ExportError, match="proj_size"):
        export_bytes(nn.LSTM(3, 4, proj_size=2), randn(5, 2, 3))


def test_constant_that_follows_a_dynamic_axis_is_refused():
    class ZerosInside(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x) + mg.tensor(np.zeros((x.shape[0], 3), np.float32))

    with pytest.raises(mg.onnx.ExportError, match="changes with the dynamic axes"):
        export_bytes(ZerosInside(), randn(2, 3), input_names=["x"], dynamic_axes={"x": [0]})
    export_bytes(ZerosInside(), randn(2, 3))                           # fine at a fixed size


def test_reshape_of_two_dynamic_axes_into_one_follows_them():
    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            T, B, _ = x.shape
            return self.lin(x.reshape(T * B, 3)).reshape(T, B, 2).transpose(0, 1)

    model = Flat()
    with pytest.raises(mg.onnx.ExportError, match="more than one size"):
        export_bytes(model, randn(4, 2, 3), input_names=["x"], dynamic_axes={"x": [0, 1]})
    data = export_bytes(model, randn(4, 2, 3), input_names=["x"], dynamic_axes={"x": [0]})
    x2 = randn(6, 2, 3, seed=4)
    assert_same(run_onnx(data, {"x": x2.data}), flat(model(x2)))
