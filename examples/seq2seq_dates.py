"""Translate human-written dates into ISO form with a character-level seq2seq model with attention.

    "Monday, 23 November 2026" / "23/11/26" / "nov 23 2026" / "23rd of November, 2026" -> "2026-11-23"

    python examples/seq2seq_dates.py                      # train (<= 10 min on 2 cores), evaluate, save
    python examples/seq2seq_dates.py --quick              # a few seconds, for CI
    python examples/seq2seq_dates.py --translate "nov 23 2026" "the 3rd of may, 1999"
    python examples/seq2seq_dates.py --translate "nov 23 2026" --export-onnx dates   # ship it as ONNX

Data: every day from 1950-01-01 to 2049-12-31 rendered with ``datetime`` in one of 20 formats
(two-digit years mean 1950..2049). The *dates* are split into train / validation / test, so no
test date (in any format) is ever seen in training; each training epoch draws fresh formats for
the training dates. Vocabularies are characters; target = the 10 characters of the ISO date.

Model: bidirectional LSTM encoder, LSTM decoder with Luong 'general' attention (the default: with
full teacher forcing the decoder runs as one fused sequence node) or additive Bahdanau attention
(``--attention bahdanau``, steps through time), trained with teacher forcing, Adam and a cosine
learning-rate decay over the run (by steps or by the time budget, whichever comes first).
Reports exact-match accuracy of greedy and beam-search decoding on the test split, writes an
attention heatmap PNG, saves the model with ``mg.save`` and checks that the reloaded model
decodes identically.
"""
import argparse
import datetime as dt
import math
import os
import sys
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import minibatches, pad_batch

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = "\x00\x01\x02\x03"        # placeholders for the four special tokens


class CharVocab:
    """Characters <-> ids; ids 0..3 are PAD, BOS, EOS, UNK."""

    def __init__(self, chars):
        self.chars = SPECIALS + "".join(sorted(set(chars) - set(SPECIALS)))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, s, eos=False):
        return [self.index.get(c, UNK) for c in s] + ([EOS] if eos else [])

    def decode(self, ids):
        return "".join(self.chars[i] if i >= len(SPECIALS) else "" for i in ids)


# ---------------------------------------------------------------------------------------- data
def _ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


FORMATS = [   # each: date -> string; 20 formats, some with random case below
    lambda d: d.strftime("%A, %d %B %Y"),                       # Monday, 23 November 2026
    lambda d: d.strftime("%d/%m/%y"),                           # 23/11/26
    lambda d: d.strftime("%b %d %Y").lower(),                   # nov 23 2026
    lambda d: f"{_ordinal(d.day)} of {d:%B}, {d.year}",         # 23rd of November, 2026
    lambda d: d.strftime("%Y.%m.%d"),                           # 2026.11.23
    lambda d: d.strftime("%d.%m.%Y"),                           # 23.11.2026
    lambda d: f"{d:%B} {d.day}, {d.year}",                      # November 23, 2026
    lambda d: d.strftime("%d/%m/%Y"),                           # 23/11/2026
    lambda d: d.strftime("%d %b %Y"),                           # 23 Nov 2026
    lambda d: d.strftime("%a %d %b %Y"),                        # Mon 23 Nov 2026
    lambda d: d.isoformat(),                                    # 2026-11-23
    lambda d: d.strftime("%Y%m%d"),                             # 20261123
    lambda d: d.strftime("%d-%b-%Y").lower(),                   # 23-nov-2026
    lambda d: f"{d:%B} {d.day}, {d.year}".upper(),              # NOVEMBER 23, 2026
    lambda d: f"the {_ordinal(d.day)} of {d:%B} {d.year}".lower(),   # the 23rd of november 2026
    lambda d: f"{d:%A} {_ordinal(d.day)} {d:%B} {d.year}",      # Monday 23rd November 2026
    lambda d: f"{d.day} {d:%B} {d:%y}",                         # 23 November 26
    lambda d: f"{d:%b}. {d.day}, '{d:%y}".lower(),              # nov. 23, '26
    lambda d: f"{d:%A}, {d:%B} {d.day}, {d.year}",              # Monday, November 23, 2026
    lambda d: f"{d.day}/{d.month}/{d.year}",                    # 23/11/2026 without leading zeros
]

FIRST, LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)


def all_dates():
    return [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def split_dates(rng, n_val, n_test):
    """Disjoint train / validation / test date lists (shuffled)."""
    days = all_dates()
    order = rng.permutation(len(days))
    test = [days[i] for i in order[:n_test]]
    val = [days[i] for i in order[n_test:n_test + n_val]]
    train = [days[i] for i in order[n_test + n_val:]]
    return train, val, test


def render(dates, rng):
    """(human string, iso string) pairs, each date in a randomly chosen format."""
    fmt = rng.integers(0, len(FORMATS), size=len(dates))
    return [(FORMATS[f](d), d.isoformat()) for d, f in zip(dates, fmt)]


def make_vocabs():
    sample = [f(d) for d in all_dates()[::97] for f in FORMATS]
    return CharVocab("".join(sample)), CharVocab("0123456789-")


def encode_batch(pairs, src_vocab, tgt_vocab):
    """Padded time-major (S, B) sources, their lengths, and (T, B) targets ending in EOS."""
    src, lengths = pad_batch([np.array(src_vocab.encode(s), np.int64) for s, _ in pairs], PAD)
    tgt, _ = pad_batch([np.array(tgt_vocab.encode(t, eos=True), np.int64) for _, t in pairs], PAD)
    return src, lengths, tgt


# ---------------------------------------------------------------------------------------- model
def build_model(cfg):
    return nn.Seq2Seq(cfg["src_vocab"], cfg["tgt_vocab"], embed_size=cfg["embed"], hidden_size=cfg["hidden"],
                      bidirectional=True, attention=cfg["attention"], attn_size=cfg["attn"],
                      input_feeding=cfg["input_feeding"], pad_idx=PAD, bos_idx=BOS, eos_idx=EOS)


def accuracy(model, pairs, src_vocab, tgt_vocab, beam=0, batch=500):
    """Exact-match accuracy (greedy when beam == 0) and the predictions."""
    preds = []
    for i in range(0, len(pairs), batch):
        src, lengths, _ = encode_batch(pairs[i:i + batch], src_vocab, tgt_vocab)
        if beam:
            out = model.beam_search(src, lengths, beam_width=beam, max_len=12)
        else:
            out = model.greedy_decode(src, lengths, max_len=12)
        preds += [tgt_vocab.decode(o) for o in out]
    return float(np.mean([p == t for p, (_, t) in zip(preds, pairs)])), preds


def plot_attention(model, pairs, src_vocab, tgt_vocab, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    src, lengths, _ = encode_batch(pairs, src_vocab, tgt_vocab)
    seqs, atts = model.greedy_decode(src, lengths, max_len=12, return_attention=True)
    fig, axes = plt.subplots(len(pairs), 1, figsize=(9, 2.6 * len(pairs)))
    for ax, (s, _), seq, a in zip(np.atleast_1d(axes), pairs, seqs, atts):
        out = list(tgt_vocab.decode(seq)) + ["<eos>"]
        ax.imshow(a[:, :len(s)], cmap="viridis", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(s)))
        ax.set_xticklabels(list(s), fontsize=8)
        ax.set_yticks(range(len(out)))
        ax.set_yticklabels(out, fontsize=8)
        ax.set_title(f"{s!r} -> {tgt_vocab.decode(seq)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_checkpoint(model, cfg, src_vocab, path):
    mg.save({"model": dict(model.state_dict()), "config": cfg, "src_chars": src_vocab.chars[len(SPECIALS):]}, path)


def load_checkpoint(path):
    ck = mg.load(path)
    model = build_model(ck["config"])
    model.load_state_dict(ck["model"])
    return model, CharVocab(ck["src_chars"]), CharVocab("0123456789-")


def translate(path, texts, beam):
    if not os.path.exists(path):
        sys.exit(f"no checkpoint at {path}: train first (python examples/seq2seq_dates.py)")
    model, src_vocab, tgt_vocab = load_checkpoint(path)
    src, lengths = pad_batch([np.array(src_vocab.encode(t), np.int64) for t in texts], PAD)
    for t, out in zip(texts, model.beam_search(src, lengths, beam_width=beam, max_len=12)):
        print(f"{t!r:40} -> {tgt_vocab.decode(out)}")


# ---------------------------------------------------------------------------------------- ONNX
class EncoderGraph(nn.Module):
    """The encoder as one ONNX graph: src (S, B), lengths (B,) -> keys (B, S, Hk), the decoder's
    initial state (h, and c for the LSTM: (layers, B, H) each)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src, lengths):
        outputs, state = self.model.encoder(src, lengths)
        return (outputs.transpose(0, 1),) + tuple(state)


class DecoderStepGraph(nn.Module):
    """One greedy decoding step as one ONNX graph: the previous token (B,), the state, the keys and
    the mask (B, S) (True at real source positions) -> logits (B, V), the argmax token, the new
    state. The mask is an input (AttentionMemory built here with it as a tensor) so the graph
    serves any batch and source length; the decoding loop runs in the caller."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, state, keys, mask):
        dec = self.model.decoder
        m = dec.attention.memory(keys)
        memory = nn.AttentionMemory(m.values, m.proj, mask)
        layers = [tuple(s[k] for s in state) for k in range(dec.num_layers)]
        h, ctx, _, new = dec.step(dec.embedding(token), nn.DecoderState(layers), memory)
        logits = dec.logits(h, ctx, new)
        return (logits, logits.argmax(-1)) + tuple(mg.stack([layer[i] for layer in new.layers])
                                                   for i in range(len(state)))


def export_onnx(model, prefix):
    """Write ``<prefix>_encoder.onnx`` and ``<prefix>_decoder_step.onnx`` (batch and lengths dynamic;
    ``pip install "minigrad[onnx]"``). Models with attention and without input feeding only."""
    import minigrad.onnx
    dec = model.decoder
    if dec.attention_kind is None or dec.input_feeding:
        sys.exit("--export-onnx: exports models with attention and without --input-feeding")
    S, B = 6, 2
    src, lengths = mg.tensor(np.full((S, B), UNK, np.int64)), mg.tensor(np.array([S, S - 2]))
    names = ["h", "c"][:len(dec.cells[0].spec.state_names)]
    model.eval()
    enc = EncoderGraph(model)
    with mg.no_grad():
        keys, *state = enc(src, lengths)
    minigrad.onnx.export(enc, (src, lengths), f"{prefix}_encoder.onnx", input_names=["src", "lengths"],
                         output_names=["keys"] + names,
                         dynamic_axes={"src": {0: "S", 1: "B"}, "lengths": {0: "B"}})
    mask = mg.tensor(np.arange(S)[None, :] < lengths.data[:, None])
    token = mg.tensor(np.full(B, BOS, np.int64))
    dyn = {"token": {0: "B"}, "keys": {0: "B", 1: "S"}, "mask": {0: "B", 1: "S"}}
    dyn.update({n: {1: "B"} for n in names})
    minigrad.onnx.export(DecoderStepGraph(model), (token, tuple(state), keys, mask), f"{prefix}_decoder_step.onnx",
                         input_names=["token"] + names + ["keys", "mask"],
                         output_names=["logits", "next_token"] + [n + "_new" for n in names], dynamic_axes=dyn)
    print(f"ONNX: {prefix}_encoder.onnx (src, lengths -> keys, {', '.join(names)}) and {prefix}_decoder_step.onnx "
          f"(token, {', '.join(names)}, keys, mask -> logits, next_token, new state)")


# ---------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny run for CI (a few seconds)")
    ap.add_argument("--translate", nargs="+", metavar="TEXT", help="translate dates with a saved checkpoint")
    ap.add_argument("--checkpoint", default="seq2seq_dates.npz")
    ap.add_argument("--attention", default="general", choices=["bahdanau", "dot", "general", "none"])
    ap.add_argument("--input-feeding", action="store_true", help="Luong input feeding (slower: no fused decoder)")
    ap.add_argument("--hidden", type=int, default=64, help="decoder hidden size (encoder: half per direction)")
    ap.add_argument("--attn-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None, help="threads of the C core (default: minigrad's)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--time-budget", type=float, default=540.0, help="stop training after this many seconds")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--heatmap", default="seq2seq_dates_attention.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export-onnx", metavar="PREFIX", help="also write the model (trained, or loaded with "
                    "--translate) as PREFIX_encoder.onnx and PREFIX_decoder_step.onnx")
    args = ap.parse_args(argv)
    if args.translate:
        translate(args.checkpoint, args.translate, args.beam)
        if args.export_onnx:
            export_onnx(load_checkpoint(args.checkpoint)[0], args.export_onnx)
        return None

    t_start = time.time()
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    src_vocab, tgt_vocab = make_vocabs()
    train_dates, val_dates, test_dates = split_dates(rng, n_val=500, n_test=2000)
    if args.quick:
        train_dates, val_dates, test_dates = train_dates[:640], val_dates[:50], test_dates[:100]
        args.epochs, args.time_budget, args.batch = 1, 5.0, 32
    assert not (set(train_dates) & set(test_dates)) and not (set(train_dates) & set(val_dates))
    val_pairs, test_pairs = render(val_dates, rng), render(test_dates, rng)
    if args.threads:
        mg.set_num_threads(args.threads)
    cfg = {"src_vocab": len(src_vocab), "tgt_vocab": len(tgt_vocab), "embed": 32, "hidden": args.hidden,
           "attention": args.attention, "attn": args.attn_size, "input_feeding": args.input_feeding}
    if args.quick:
        cfg.update(hidden=32, attn=16)
    model = build_model(cfg)
    print(f"{len(train_dates)} train / {len(val_dates)} val / {len(test_dates)} test dates, {len(FORMATS)} formats, "
          f"{model.num_parameters()} parameters, attention={args.attention}")
    opt = optim.Adam(model.parameters(), lr=args.lr)
    # cosine decay over the run's progress: steps done or time used, whichever is further along
    total_steps = args.epochs * -(-len(train_dates) // args.batch)
    progress = lambda s: min(1.0, max(s / total_steps, (time.time() - t_start) / args.time_budget))
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress(s))))
    step, val_acc = 0, 0.0
    for epoch in range(args.epochs):
        pairs = render(train_dates, rng)                      # fresh formats every epoch
        t0, total, n = time.time(), 0.0, 0
        for idx in minibatches(len(pairs), args.batch, generator=rng):
            src, lengths, tgt = encode_batch([pairs[i] for i in idx], src_vocab, tgt_vocab)
            opt.zero_grad()
            loss = model.loss(src, lengths, tgt)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total, n, step = total + loss.item(), n + 1, step + 1
            if time.time() - t_start > args.time_budget:
                break
        val_acc, _ = accuracy(model, val_pairs, src_vocab, tgt_vocab)
        print(f"epoch {epoch + 1}: loss {total / max(n, 1):.4f}, val greedy exact match {val_acc:.2%} "
              f"({time.time() - t0:.0f}s, {time.time() - t_start:.0f}s total)", flush=True)
        if time.time() - t_start > args.time_budget or (not args.quick and val_acc == 1.0 and epoch >= 3):
            break
    train_time = time.time() - t_start

    greedy_acc, greedy_pred = accuracy(model, test_pairs, src_vocab, tgt_vocab)
    t0 = time.time()
    beam_acc, _ = accuracy(model, test_pairs, src_vocab, tgt_vocab, beam=args.beam)
    beam_time = time.time() - t0
    print(f"test exact match: greedy {greedy_acc:.2%}, beam (width {args.beam}) {beam_acc:.2%} "
          f"on {len(test_pairs)} unseen dates; trained {train_time:.0f}s ({step} steps), beam decode {beam_time:.1f}s")
    wrong = [(s, t, p) for (s, t), p in zip(test_pairs, greedy_pred) if p != t]
    for s, t, p in wrong[:5]:
        print(f"  miss: {s!r} -> {p} (want {t})")

    if args.attention != "none" and args.heatmap:
        plot_attention(model, test_pairs[:4], src_vocab, tgt_vocab, args.heatmap)
        print(f"attention heatmap written to {args.heatmap}")
    save_checkpoint(model, cfg, src_vocab, args.checkpoint)
    reloaded, _, _ = load_checkpoint(args.checkpoint)
    same = accuracy(reloaded, test_pairs[:100], src_vocab, tgt_vocab)[1] == greedy_pred[:100]
    print(f"saved to {args.checkpoint}; reloaded model decodes identically: {same}")
    examples = ["Monday, 23 November 2026", "23/11/26", "nov 23 2026", "23rd of November, 2026", "2026.11.23"]
    src, lengths = pad_batch([np.array(src_vocab.encode(t), np.int64) for t in examples], PAD)
    for t, out in zip(examples, reloaded.beam_search(src, lengths, beam_width=args.beam, max_len=12)):
        print(f"  {t!r:28} -> {tgt_vocab.decode(out)}")
    if args.export_onnx:
        export_onnx(reloaded, args.export_onnx)
    return {"greedy": greedy_acc, "beam": beam_acc, "val": val_acc, "train_time": train_time, "reload_same": same}


if __name__ == "__main__":
    main()
