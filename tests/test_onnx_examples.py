"""``--export-onnx`` of examples/char_lm.py: a quick run writes an ONNX file that onnxruntime runs at
another window length and batch size, giving the trained model's logits and states."""
import numpy as np

from _examples import load_example
from _onnx_run import assert_same, flat, randn, run_onnx

import minigrad as mg             # noqa: E402


def test_char_lm_quick_run_exports_the_trained_model(tmp_path):
    char_lm = load_example("char_lm")
    path = tmp_path / "char_lm.onnx"
    res = char_lm.main(["--quick", "--max-steps", "3", "--no-progress", "--threads", "1", "--plot", "",
                        "--checkpoint", str(tmp_path / "ck.npz"), "--export-onnx", str(path)])
    model, V = res["model"], len(res["vocab"])
    ids = np.random.default_rng(0).integers(0, V, (11, 3))
    h0, c0 = randn(1, 3, 64, seed=1), randn(1, 3, 64, seed=2)
    got = run_onnx(path.read_bytes(), {"ids": ids, "h0": h0.data, "c0": c0.data})
    model.eval()
    with mg.no_grad():
        assert_same(got, flat(model(mg.tensor(ids), (h0, c0))))
    # the loaded checkpoint exports the same model (--sample --export-onnx)
    again = tmp_path / "again.onnx"
    char_lm.main(["--sample", str(tmp_path / "ck.npz"), "--length", "5", "--export-onnx", str(again)])
    assert_same(run_onnx(again.read_bytes(), {"ids": ids, "h0": h0.data, "c0": c0.data}), got)


def test_seq2seq_dates_exports_encoder_and_decoder_step(tmp_path):
    """--translate CKPT --export-onnx PREFIX writes the two graphs; decoding greedily with them in
    onnxruntime (the loop in Python) gives the model's own encoder outputs, step logits and states,
    and its greedy_decode tokens, at a batch and source length other than the traced ones."""
    dates = load_example("seq2seq_dates")
    mg.manual_seed(0)
    src_vocab, tgt_vocab = dates.make_vocabs()
    cfg = {"src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab), "embed": 8, "hidden": 12, "attention": "general",
           "attn": 8, "input_feeding": False}
    model = dates.build_model(cfg)
    for p in model.parameters():          # sharper than the initialisation: the greedy tokens vary
        p.data *= 4
    ck, prefix = tmp_path / "d.npz", str(tmp_path / "dates")
    dates.save_checkpoint(model, cfg, src_vocab, str(ck))
    dates.main(["--translate", "nov 23 2026", "--checkpoint", str(ck), "--export-onnx", prefix])
    texts = ["Monday, 23 November 2026", "23/11/26", "nov 3 1999"]                # B=3, S=24: not the traced sizes
    src, lengths = dates.pad_batch([np.array(src_vocab.encode(t), np.int64) for t in texts], dates.PAD)
    keys, h, c = run_onnx((tmp_path / "dates_encoder.onnx").read_bytes(), {"src": src, "lengths": lengths})
    mask = np.arange(src.shape[0])[None, :] < lengths[:, None]
    step = (tmp_path / "dates_decoder_step.onnx").read_bytes()
    model.eval()
    with mg.no_grad():
        memory, state = model.encode(src, lengths)
        assert_same([keys], [memory.values.data])
        token, out = np.full(3, dates.BOS, np.int64), []
        for _ in range(6):
            logits, token_next, h, c = run_onnx(step, {"token": token, "h": h, "c": c, "keys": keys, "mask": mask})
            h_t, ctx, _, state = model.decoder.step(model.decoder.embedding(token), state, memory)
            assert_same([logits, h, c], [model.decoder.logits(h_t, ctx, state).data] + [s.data[None] for s in state.layers[0]])
            token = token_next
            out.append(token)
    want = model.greedy_decode(src, lengths, max_len=6)
    assert len({t for w in want for t in w}) > 1                                  # not one repeated token
    assert [[int(t) for t in col[:len(w)]] for col, w in zip(np.stack(out, 1), want)] == want


def test_word_lm_quick_run_exports_the_trained_model(tmp_path):
    """examples/word_lm.py --export-onnx: the tied, 2-layer word LM (decoder applied: WithLogits)
    runs in onnxruntime at another window length and batch, giving the model's logits and states."""
    word_lm = load_example("word_lm")
    from test_example_word_lm import write_corpus
    write_corpus(tmp_path)
    path = tmp_path / "word_lm.onnx"
    res = word_lm.main(["--data", str(tmp_path), "--quick", "--tied", "--no-progress", "--threads", "1",
                        "--plot", "", "--checkpoint", str(tmp_path / "ck.npz"), "--export-onnx", str(path)])
    model, V, H = res["model"], len(res["vocab"]), res["run"]["hidden"]
    ids = np.random.default_rng(0).integers(0, V, (9, 3))
    h0, c0 = randn(2, 3, H, seed=1), randn(2, 3, H, seed=2)
    got = run_onnx(path.read_bytes(), {"ids": ids, "h0": h0.data, "c0": c0.data})
    model.eval()
    with mg.no_grad():
        assert_same(got, flat(word_lm.WithLogits(model)(mg.tensor(ids), (h0, c0))))
    again = tmp_path / "again.onnx"                 # the loaded checkpoint exports the same model
    word_lm.main(["--generate", str(tmp_path / "ck.npz"), "--length", "3", "--export-onnx", str(again)])
    assert_same(run_onnx(again.read_bytes(), {"ids": ids, "h0": h0.data, "c0": c0.data}), got)
