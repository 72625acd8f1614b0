"""Learn to add: "535+61" -> "596" as character-level sequence-to-sequence, with or without attention.

    python examples/addition.py --attention bahdanau      # or luong (general), dot, none
    python examples/addition.py --quick                   # a few seconds, for CI

Operands have 1 to 3 digits (the digit count of each is drawn uniformly, then the number), so
in 5/9 of the examples the larger operand has 3 digits. A fixed test set is held out (per digit count of the
larger operand: 20 of the 100 1-digit pairs, 1000 2-digit and 1000 3-digit pairs): no training
example is a test pair (nor its commuted twin). The report gives exact-match accuracy
per digit count (the larger operand's) for greedy decoding, plus beam search overall.

Without attention the encoder must squeeze "535+61" into one state vector and the decoder must
unfold the carries from it; with attention each output digit can look at the digits it depends
on, which usually trains faster.
"""
import argparse
import math
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import pad_batch

PAD, BOS, EOS = 0, 1, 2
SRC_CHARS, TGT_CHARS = "0123456789+", "0123456789"
MAX_DIGITS = 3


def enc(s, chars, eos=False):
    return [3 + chars.index(c) for c in s] + ([EOS] if eos else [])


def dec(ids, chars):
    return "".join(chars[i - 3] for i in ids if i >= 3)


def sample_pairs(rng, n):
    """n operand pairs (a, b); each operand's digit count uniform in 1..MAX_DIGITS."""
    digits = rng.integers(1, MAX_DIGITS + 1, size=(n, 2))
    lo = np.where(digits == 1, 0, 10 ** (digits - 1))
    return rng.integers(lo, 10 ** digits)


def batch(pairs):
    src, lengths = pad_batch([np.array(enc(f"{a}+{b}", SRC_CHARS), np.int64) for a, b in pairs], PAD)
    tgt, _ = pad_batch([np.array(enc(str(a + b), TGT_CHARS, eos=True), np.int64) for a, b in pairs], PAD)
    return src, lengths, tgt


def evaluate(model, pairs, beam=0, chunk=1000):
    preds = []
    for i in range(0, len(pairs), chunk):
        src, lengths, _ = batch(pairs[i:i + chunk])
        out = (model.beam_search(src, lengths, beam_width=beam, max_len=MAX_DIGITS + 2) if beam
               else model.greedy_decode(src, lengths, max_len=MAX_DIGITS + 2))
        preds += [dec(o, TGT_CHARS) for o in out]
    return np.array([p == str(a + b) for p, (a, b) in zip(preds, pairs)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attention", default="bahdanau", choices=["none", "bahdanau", "luong", "dot"])
    ap.add_argument("--quick", action="store_true", help="tiny run for CI (a few seconds)")
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--time-budget", type=float, default=780.0, help="stop training after this many seconds")
    ap.add_argument("--beam", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--checkpoint", default="addition.npz")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.hidden, args.steps, args.time_budget = 32, 60, 8.0
    if args.threads:
        mg.set_num_threads(args.threads)
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    # held-out test pairs, per digit count d (of the larger operand): min(1000, 20%) of the
    # distinct pairs of that class, so training still sees most 1-digit sums (there are only 100)
    test = []
    for d in range(1, MAX_DIGITS + 1):
        n_class = 10 ** (2 * d) - 10 ** (2 * (d - 1)) if d > 1 else 100
        want = min(1000 if not args.quick else 100, n_class // 5)
        pool = sample_pairs(rng, 200 * want)
        pool = pool[np.maximum(*[np.char.str_len(pool[:, i].astype(str)) for i in (0, 1)]) == d]
        pool = np.unique(pool, axis=0)
        test.append(pool[rng.permutation(len(pool))[:want]])
    test = np.concatenate(test)[rng.permutation(sum(len(t) for t in test))]
    held = {(int(a), int(b)) for a, b in test} | {(int(b), int(a)) for a, b in test}

    def train_batch(n):
        p = sample_pairs(rng, 2 * n)
        keep = np.array([(int(a), int(b)) not in held for a, b in p])
        return p[keep][:n]

    attention = {"none": None, "luong": "general"}.get(args.attention, args.attention)
    model = nn.Seq2Seq(len(SRC_CHARS) + 3, len(TGT_CHARS) + 3, embed_size=16, hidden_size=args.hidden,
                       attention=attention, attn_size=args.hidden // 2, input_feeding=False,
                       pad_idx=PAD, bos_idx=BOS, eos_idx=EOS)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    # cosine decay over the run's progress: steps done or time used, whichever is further along
    t0 = time.time()
    progress = lambda s: min(1.0, max(s / args.steps, (time.time() - t0) / args.time_budget))
    cosine = lambda s: 1 / 30 + (1 - 1 / 30) * 0.5 * (1 + math.cos(math.pi * progress(s)))
    sched = optim.lr_scheduler.LambdaLR(opt, cosine)
    print(f"attention={args.attention}, {model.num_parameters()} parameters, {len(test)} held-out test pairs")
    total = 0.0
    for step in range(1, args.steps + 1):
        src, lengths, tgt = batch(train_batch(args.batch))
        opt.zero_grad()
        loss = model.loss(src, lengths, tgt)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        total += loss.item()
        if step % 500 == 0:
            acc = evaluate(model, test[:500]).mean()
            print(f"step {step}: loss {total / 500:.4f}, test greedy exact match (500) {acc:.2%} "
                  f"({time.time() - t0:.0f}s)", flush=True)
            total = 0.0
        if time.time() - t0 > args.time_budget:
            break
    train_time = time.time() - t0

    ok = evaluate(model, test)
    ndig = np.maximum(*[np.char.str_len(test[:, i].astype(str)) for i in (0, 1)])
    per = {d: float(ok[ndig == d].mean()) for d in range(1, MAX_DIGITS + 1) if np.any(ndig == d)}
    beam_ok = evaluate(model, test, beam=args.beam)
    print(f"trained {step} steps in {train_time:.0f}s; test exact match (greedy): overall {ok.mean():.2%}; "
          + ", ".join(f"{d}-digit {a:.2%} (n={int(np.sum(ndig == d))})" for d, a in per.items())
          + f"; beam {args.beam}: overall {beam_ok.mean():.2%}, 3-digit {beam_ok[ndig == 3].mean():.2%}")
    for (a, b), good in list(zip(test, ok))[:200]:
        if not good:
            src, lengths, _ = batch([(a, b)])
            print(f"  miss: {a}+{b} -> {dec(model.greedy_decode(src, lengths, max_len=5)[0], TGT_CHARS)}")
            break
    mg.save({"model": dict(model.state_dict()), "attention": args.attention, "hidden": args.hidden}, args.checkpoint)
    print(f"accuracy per digit count: {per}; saved to {args.checkpoint}")
    return {"per_digit": per, "overall": float(ok.mean()), "beam": float(beam_ok.mean()), "train_time": train_time}


if __name__ == "__main__":
    main()
