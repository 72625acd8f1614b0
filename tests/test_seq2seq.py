"""Tests of attention, the encoder/decoder, Seq2Seq training and greedy/beam decoding, and the examples."""
import itertools
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import pad_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F64 = np.float64


# ====================================================================== attention
def attention_ref(kind, params, q, k, mask):
    """NumPy float64 reference: q (B, Tq, Hq), k (B, S, Hk), mask (B, S) -> ctx (B, Tq, Hk), a (B, Tq, S)."""
    if kind == "bahdanau":
        W, b, U, v = params
        hidden = np.tanh((q @ W.T + b)[:, :, None, :] + (k @ U.T)[:, None, :, :])
        e = hidden @ v
    elif kind == "general":
        (Wa,) = params
        e = np.einsum("btq,qk,bsk->bts", q, Wa, k)
    else:
        e = np.einsum("btq,bsq->bts", q, k)
    e = np.where(mask[:, None, :], e, -np.inf)
    a = np.exp(e - e.max(axis=-1, keepdims=True))
    a /= a.sum(axis=-1, keepdims=True)
    return a @ k, a


def _attn_params(attn):
    if attn.kind == "bahdanau":
        return attn.W.weight.data, attn.W.bias.data, attn.U.weight.data, attn.v.data
    if attn.kind == "general":
        return (attn.W_a.weight.data,)
    return ()


def _setup(kind, B=3, S=5, Tq=2, Hq=4, Hk=4, seed=0):
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    attn = nn.Attention(Hq, Hk, kind, attn_size=3, dtype=F64)
    q = mg.tensor(rng.standard_normal((B, Tq, Hq)), requires_grad=True, dtype=F64)
    k = mg.tensor(rng.standard_normal((B, S, Hk)), requires_grad=True, dtype=F64)
    lengths = np.array([S, 2, 1] + [S] * (B - 3))[:B]
    mask = np.arange(S)[None, :] < lengths[:, None]
    return attn, q, k, mask


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_attention_matches_numpy(kind):
    attn, q, k, mask = _setup(kind)
    mem = attn.memory(k, mask)
    ctx, a = attn(q, mem)
    ref_ctx, ref_a = attention_ref(kind, _attn_params(attn), q.data, k.data, mask)
    np.testing.assert_allclose(ctx.data, ref_ctx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.data, ref_a, rtol=1e-12, atol=1e-12)
    # a single query (B, Hq) gives (B, Hk) and (B, S), the same numbers
    ctx1, a1 = attn(q[:, 1], mem)
    assert ctx1.shape == (3, 4) and a1.shape == (3, 5)
    np.testing.assert_allclose(ctx1.data, ref_ctx[:, 1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a1.data.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_attention_gradcheck(kind):
    attn, q, k, mask = _setup(kind, Hq=3 if kind != "dot" else 4)
    params = list(attn.parameters())

    def fn(q, k, *ps):
        ctx, a = attn(q, attn.memory(k, mask))
        return ctx.sum() + (a * a).sum()            # both outputs reach the loss
    assert mg.gradcheck(fn, [q, k] + params)


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_masked_positions_get_exactly_zero_weight_and_gradient(kind):
    attn, q, k, mask = _setup(kind)
    k.data[~mask] = 1e3 * np.sign(k.data[~mask])    # garbage in the padding must not matter
    ctx, a = attn(q, attn.memory(k, mask))
    assert np.all(a.data[np.broadcast_to(~mask[:, None, :], a.shape)] == 0.0)
    (ctx.sum() + (a * mg.tensor(np.arange(a.data.size, dtype=F64).reshape(a.shape), dtype=F64)).sum()).backward()
    assert np.all(k.grad[~mask] == 0.0)              # exactly zero, not merely small
    assert np.any(k.grad[mask] != 0.0)
    # and the result does not depend on what the padding holds
    k2 = mg.tensor(np.where(mask[:, :, None], k.data, 0.0), dtype=F64)
    ctx2, a2 = attn(q.detach(), attn.memory(k2, mask))
    np.testing.assert_array_equal(a2.data, a.data)
    np.testing.assert_allclose(ctx2.data, ctx.data, rtol=1e-14, atol=1e-14)


def test_attention_errors():
    with pytest.raises(ValueError, match="query_size == key_size"):
        nn.Attention(3, 4, "dot")
    with pytest.raises(ValueError, match="kind"):
        nn.Attention(3, 4, "cosine")
    attn = nn.Attention(3, 4, "general")
    with pytest.raises(ValueError, match=r"\(B, S, 4\)"):
        attn.memory(mg.tensor(np.zeros((2, 5, 3), np.float32)))
    with pytest.raises(ValueError, match="attention must be"):
        nn.Decoder(5, 3, 4, attention="cosine")
    assert nn.Decoder(5, 3, 4, attention="multiplicative", memory_size=6).attention_kind == "general"
    assert nn.Seq2Seq(5, 5, 3, 4, attention="luong").decoder.input_feeding
    mem = attn.memory(mg.tensor(np.zeros((2, 5, 4), np.float32)))
    with pytest.raises(ValueError, match="batch"):
        attn(mg.tensor(np.zeros((3, 3), np.float32)), mem)


# ====================================================================== encoder / decoder / Seq2Seq
CONFIGS = [dict(attention=None, cell="lstm"), dict(attention="bahdanau", cell="lstm"),
           dict(attention="bahdanau", cell="gru", num_layers=2), dict(attention="dot", cell="lstm", input_feeding=True),
           dict(attention="general", cell="gru", input_feeding=False), dict(attention="general", cell="lstm",
                                                                            input_feeding=False, num_layers=2)]


def _model(seed=0, dtype=np.float32, V_src=9, V_tgt=8, E=5, H=6, **kw):
    mg.manual_seed(seed)
    return nn.Seq2Seq(V_src, V_tgt, E, H, dtype=dtype, **kw)


def _batch(seed=0, S=6, T=5, B=4, V_src=9, V_tgt=8):
    rng = np.random.default_rng(seed)
    lengths = np.array([S, 3, 1, 4][:B])
    src = rng.integers(3, V_src, (S, B))
    src[np.arange(S)[:, None] >= lengths[None, :]] = 0
    tlen = np.array([T, 2, 4, 1][:B])
    tgt = rng.integers(3, V_tgt, (T, B))
    tgt[np.arange(T)[:, None] == tlen[None, :] - 1] = 2
    tgt[np.arange(T)[:, None] >= tlen[None, :]] = 0
    return src, lengths, tgt


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_teacher_forced_forward_equals_step_by_step(cfg):
    """The training pass (fused / stacked projections) gives the logits of calling step() T times."""
    m = _model(dtype=F64, **cfg)
    src, lengths, tgt = _batch()
    logits = m(src, lengths, tgt)
    memory, state = m.encode(src, lengths)
    tin = m.shift_right(tgt)
    for t in range(tgt.shape[0]):
        h, ctx, _, state = m.decoder.step(m.decoder.embedding(tin[t]), state, memory)
        np.testing.assert_allclose(m.decoder.logits(h, ctx, state).data, logits.data[t], rtol=1e-10, atol=1e-12)
    # scheduled sampling with ratio 1 is teacher forcing, drawn step by step
    sampled = m(src, lengths, tgt, teacher_forcing=1.0 - 1e-12)
    np.testing.assert_allclose(sampled.data, logits.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[4]], ids=str)
def test_seq2seq_gradcheck(cfg):
    """The whole training loss, through bridge, attention, cells and projection (a sample of the weights)."""
    m = _model(dtype=F64, bidirectional=True, H=4, E=3, V_src=6, V_tgt=5, **cfg)
    src, lengths, tgt = _batch(S=4, T=3, B=3, V_src=6, V_tgt=5)
    named = dict(m.named_parameters())
    wanted = ("encoder.embedding.weight", "encoder.rnn.weight_hh_l0_reverse", "encoder.bridge_h.weight",
              "decoder.cell0.weight_ih", "decoder.attention.v", "decoder.attention.W_a.weight",
              "decoder.combine.bias", "decoder.out.weight")
    params = [named[n] for n in wanted if n in named]
    assert len(params) >= 6
    assert mg.gradcheck(lambda *ps: m.loss(src, lengths, tgt), params, atol=1e-6)


def test_padding_does_not_leak_into_the_loss():
    """A padded batch has the loss of its sequences run one by one (token-weighted mean)."""
    m = _model(dtype=F64, attention="bahdanau", bidirectional=True)
    src, lengths, tgt = _batch()
    batch_loss = m.loss(src, lengths, tgt).item()
    total, count = 0.0, 0
    for b in range(src.shape[1]):
        tl = int(np.sum(tgt[:, b] != 0))
        s, t = src[:lengths[b], b:b + 1], tgt[:tl, b:b + 1]
        total += m.loss(s, None, t).item() * tl
        count += tl
    assert batch_loss == pytest.approx(total / count, rel=1e-12)


def test_scheduled_sampling_with_ratio_zero_follows_greedy():
    m = _model(attention="bahdanau", bidirectional=True).eval()
    src, lengths, tgt = _batch()
    logits = m(src, lengths, tgt, teacher_forcing=0.0)
    own = logits.data.argmax(axis=2)                   # the model's own choices, fed back
    greedy = m.greedy_decode(src, lengths, max_len=tgt.shape[0])
    for b, seq in enumerate(greedy):
        np.testing.assert_array_equal(own[:len(seq), b], seq)


def test_encoder_bidirectional_bridge_and_errors():
    enc = nn.Encoder(7, 3, 4, num_layers=2, cell="lstm", bidirectional=True, dec_hidden_size=5, dtype=F64)
    assert enc.bridge == "linear"
    src, lengths, _ = _batch(V_src=7)
    out, (h, c) = enc(src, lengths)
    assert out.shape == (6, 4, 8) and h.shape == (2, 4, 5) and c.shape == (2, 4, 5)
    assert np.all(out.data[np.arange(6)[:, None] >= lengths[None, :]] == 0)
    # the bridge sees [h_fwd; h_bwd] of each layer: recompute it from the RNN's own h_n
    _, (hn, _) = enc.rnn(enc.embedding(src), lengths=lengths)
    cat = np.concatenate([hn.data[2:3], hn.data[3:4]], axis=2)     # layer 1: forward, backward
    ref = np.tanh(cat @ enc.bridge_h.weight.data.T + enc.bridge_h.bias.data)
    np.testing.assert_allclose(h.data[1:2], ref, rtol=1e-12)
    concat = nn.Encoder(7, 3, 4, bidirectional=True, bridge="concat")
    assert concat(src, lengths)[1][0].shape == (1, 4, 8)
    with pytest.raises(ValueError, match="concat"):
        nn.Encoder(7, 3, 4, bidirectional=True, dec_hidden_size=5, bridge="concat")
    with pytest.raises(ValueError, match="cell"):
        nn.Encoder(7, 3, 4, cell="rnn")
    with pytest.raises(TypeError, match="integer"):
        enc(src.astype(np.float32), lengths)


# ====================================================================== decoding
@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_beam_width_one_equals_greedy(cfg):
    m = _model(seed=3, **cfg)
    src, lengths, _ = _batch(seed=1)
    assert m.beam_search(src, lengths, beam_width=1, max_len=7, alpha=0.7) == m.greedy_decode(src, lengths, max_len=7)


def test_beam_search_is_batch_independent():
    m = _model(seed=5, attention="bahdanau", bidirectional=True)
    src, lengths, _ = _batch(seed=2)
    together, scores = m.beam_search(src, lengths, beam_width=3, max_len=6, return_scores=True)
    for b in range(src.shape[1]):
        alone, s = m.beam_search(src[:lengths[b], b:b + 1], None, beam_width=3, max_len=6, return_scores=True)
        assert alone[0] == together[b]
        assert s[0] == pytest.approx(scores[b], rel=1e-5)


def _bigram_model(P):
    """A Seq2Seq whose decoder is the bigram model P[prev] -> distribution of the next token.

    Vocabulary: 0 pad, 1 BOS, 2 EOS, 3 'A', 4 'B', ... The embedding is one-hot, the LSTM cell
    ignores its state (W_hh = 0, forget gate shut, input/output gates open) so that
    h = a * onehot(prev) with a = tanh(tanh(10)), and the output layer maps that to log P[prev].
    """
    V = P.shape[0]
    m = nn.Seq2Seq(3, V, embed_size=V, hidden_size=V, bidirectional=False, attention=None, dtype=F64)
    dec = m.decoder
    dec.embedding.weight.data[...] = np.eye(V)
    cell = dec.cell0
    cell.weight_hh.data[...] = 0.0
    cell.weight_ih.data[...] = 0.0
    cell.weight_ih.data[2 * V:3 * V] = 10.0 * np.eye(V)        # g gate: tanh(10 onehot)
    cell.bias_ih.data[...] = np.concatenate([np.full(V, 30.0), np.full(V, -30.0), np.zeros(V), np.full(V, 30.0)])
    cell.bias_hh.data[...] = 0.0
    a = np.tanh(np.tanh(10.0)) / (1.0 + np.exp(-30.0))
    logp = np.log(np.maximum(P, 1e-12))                         # (prev, next)
    dec.out.weight.data[...] = logp.T / a                       # column prev of W_out = log P[prev] / a
    dec.out.bias.data[...] = 0.0
    return m


def test_beam_search_finds_the_sequence_greedy_misses():
    P = np.zeros((5, 5))
    P[1, 3], P[1, 4] = 0.55, 0.45                 # BOS -> A (greedy) or B
    P[3, 2], P[3, 3], P[3, 4] = 0.4, 0.3, 0.3     # after A: EOS 0.4        => P(A EOS) = 0.22
    P[4, 2], P[4, 3], P[4, 4] = 0.9, 0.05, 0.05   # after B: EOS 0.9        => P(B EOS) = 0.405
    P[0] = P[2] = P[1]                            # (never used)
    m = _bigram_model(P)
    src = np.array([[1], [2]])
    # brute force: the most probable sequence of up to 4 tokens ending in EOS
    best = max((np.prod([P[p, n] for p, n in zip((1,) + seq, seq + (2,))]), seq)
               for L in range(5) for seq in itertools.product(range(3, 5), repeat=L))
    assert best[1] == (4,) and best[0] == pytest.approx(0.405)
    assert m.greedy_decode(src, max_len=6) == [[3]]
    seqs, scores = m.beam_search(src, beam_width=2, max_len=6, alpha=0.0, return_scores=True)
    assert seqs == [[4]]
    assert scores[0] == pytest.approx(math.log(0.405), abs=1e-6)
    assert m.beam_search(src, beam_width=1, max_len=6) == [[3]]
    # the same sentence twice in one batch, next to a different one: rows do not interfere
    assert m.beam_search(np.array([[1, 1], [2, 2]]), beam_width=2, max_len=6, alpha=0.0) == [[4], [4]]


def test_beam_search_length_normalisation():
    """alpha trades probability for length: log P / ((5 + L) / 6)^alpha favours the longer hypothesis."""
    P = np.zeros((6, 6))                           # tokens 3 'A', 4 'B', 5 'C'
    P[1, 3], P[1, 4] = 0.55, 0.45
    P[3, 2] = 1.0                                  # A EOS:    log 0.55 = -0.598, L = 2
    P[4, 5] = P[5, 2] = 1.0                        # B C EOS:  log 0.45 = -0.799, L = 3
    P[0] = P[2] = P[1]
    m = _bigram_model(P)
    src = np.array([[1]])
    assert m.beam_search(src, beam_width=2, max_len=8, alpha=0.0) == [[3]]
    seqs, scores = m.beam_search(src, beam_width=2, max_len=8, alpha=3.0, return_scores=True)
    assert seqs == [[4, 5]]                        # -0.799 / (8/6)^3 = -0.337 > -0.598 / (7/6)^3 = -0.377
    assert scores[0] == pytest.approx(math.log(0.45) / (8 / 6) ** 3, abs=1e-6)


def test_decoding_restores_training_mode_and_records_nothing():
    m = _model(attention="general", dropout=0.2)
    src, lengths, _ = _batch()
    m.greedy_decode(src, lengths, max_len=4)
    seqs, atts = m.greedy_decode(src, lengths, max_len=4, return_attention=True)
    assert m.training
    for b, (s, a) in enumerate(zip(seqs, atts)):
        assert a.shape[1] == src.shape[0] and np.all(a[:, lengths[b]:] == 0)
        np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-5)
    memory, state = m.encode(src, lengths)
    assert memory.values.requires_grad                # training encode records...
    with mg.no_grad():
        memory, _ = m.encode(src, lengths)
    assert not memory.values.requires_grad            # ...and no_grad does not


# ====================================================================== learning
def _train_task(make_target, steps, seed=0):
    """Train a small attention model on random digit strings; return exact-match accuracy."""
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    V = 3 + 6
    m = nn.Seq2Seq(V, V, embed_size=12, hidden_size=32, attention="dot")
    opt = optim.Adam(m.parameters(), lr=1e-2)

    def batch(n):
        lens = rng.integers(2, 6, n)
        seqs = [rng.integers(3, V, L) for L in lens]
        src, lengths = pad_batch(seqs)
        tgt, _ = pad_batch([np.append(make_target(s), 2) for s in seqs])
        return src, lengths, tgt, seqs

    for _ in range(steps):
        src, lengths, tgt, _ = batch(32)
        opt.zero_grad()
        m.loss(src, lengths, tgt).backward()
        opt.step()
    src, lengths, _, seqs = batch(200)
    out = m.greedy_decode(src, lengths, max_len=8)
    return np.mean([o == list(make_target(s)) for o, s in zip(out, seqs)])


@pytest.mark.parametrize("name,fn", [("copy", lambda s: s), ("reverse", lambda s: s[::-1])])
def test_learns_to_copy_and_reverse(name, fn):
    assert _train_task(fn, steps=150) >= 0.9


# ====================================================================== examples
@pytest.mark.parametrize("script,extra", [("seq2seq_dates.py", []), ("addition.py", ["--attention", "bahdanau"])])
def test_example_quick_mode_runs(script, extra, tmp_path):
    args = [sys.executable, os.path.join(ROOT, "examples", script), "--quick",
            "--checkpoint", str(tmp_path / "ck.npz")] + extra
    if script == "seq2seq_dates.py":
        args += ["--heatmap", str(tmp_path / "att.png")]
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "exact match" in res.stdout or "accuracy" in res.stdout
    assert (tmp_path / "ck.npz").exists()
    if script == "seq2seq_dates.py":
        assert (tmp_path / "att.png").stat().st_size > 1000
        assert "decodes identically: True" in res.stdout
        res = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), "--checkpoint",
                              str(tmp_path / "ck.npz"), "--translate", "nov 23 2026"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "nov 23 2026" in res.stdout
