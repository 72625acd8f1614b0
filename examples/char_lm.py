"""Train a character-level language model on Python's own standard library (minigrad's main job).

    python examples/char_lm.py                        # 3 minutes on the stdlib's .py files
    python examples/char_lm.py --cell gru --minutes 10 --hidden 384
    python examples/char_lm.py --text book.txt        # any text file
    python examples/char_lm.py --resume char_lm.npz   # continue the same run
    python examples/char_lm.py --sample char_lm.npz --temperature 0.8 --length 500 --prime "def "
    python examples/char_lm.py --quick                # a few steps on a tiny slice (CI smoke test)
    python examples/char_lm.py --tensorboard runs/lm   # TensorBoard logs (pip install "minigrad[tensorboard]")

Model: Embedding -> LSTM/GRU/RNN (num_layers, hidden, dropout) -> Linear over the vocabulary.
Training is truncated backpropagation through time over contiguous streams: the text is cut
into ``batch_size`` streams (``mg.data.batchify``), read in windows of ``seq_len`` characters
(``lm_batches``), and the recurrent state is carried from one window to the next, cut off the
tape with ``nn.utils.repackage_hidden`` so gradients stop at the window boundary. Loss is
cross-entropy; reported as bits per character (bpc = nats / ln 2). Adam, gradient-norm clipping,
a linear warm-up then a cosine decay of the learning rate over the planned number of steps.

The time budget (``--minutes``) is turned into a step plan from the measured speed, re-estimated
every few steps (the machine may be shared), so the cosine schedule ends when the budget does;
``--max-steps`` fixes the plan instead and makes a run exactly reproducible. The plan, the data
position, the carried recurrent state and the random generator are all in the checkpoint:
``--resume`` continues the very same run (the same losses as an uninterrupted one).
"""
import argparse
import math
import os
import random
import signal
import sys
import sysconfig
import threading
import time


import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import batchify, lm_batches

LN2 = math.log(2.0)
UNK = "\x00"            # vocabulary slot 0: every character not seen (often enough) in training

# Options that define the run (saved in the checkpoint and restored by --resume) ...
RUN_KEYS = ("text", "data_chars", "valid_frac", "min_count", "cell", "embed", "hidden", "layers",
            "dropout", "seq_len", "batch_size", "lr", "clip", "warmup", "max_steps", "seed",
            "eval_every", "eval_chars")
# ... and the quick smoke-test configuration.
QUICK = dict(data_chars=60_000, hidden=64, embed=16, seq_len=32, batch_size=16, max_steps=30,
             warmup=5, eval_every=15, eval_chars=4_000, minutes=1.0, lr=0.01)


# ----------------------------------------------------------------------------------- the data
def stdlib_files():
    """The standard library's .py files (no site-packages), as sorted relative paths."""
    root = sysconfig.get_paths()["stdlib"]
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in ("site-packages", "dist-packages", "__pycache__"))
        files += [os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith(".py")]
    return root, sorted(files)


def load_corpus(text_path, data_chars, valid_frac, seed=0):
    """(train_text, valid_text). From ``--text`` the last ``valid_frac`` of the file is validation;
    from the stdlib, files in a fixed shuffled order go whole to validation, then to training,
    until each holds its share of ``data_chars`` (split by file, so no file is in both)."""
    if text_path:
        with open(text_path, encoding="utf-8", errors="replace") as f:
            text = f.read(data_chars)
        cut = int(len(text) * (1 - valid_frac))
        return text[:cut], text[cut:]
    root, files = stdlib_files()
    random.Random(seed).shuffle(files)          # deterministic: same order on every run
    want_valid = int(data_chars * valid_frac)
    train, valid, n_train, n_valid = [], [], 0, 0
    for rel in files:
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                s = f.read()
        except (UnicodeDecodeError, OSError):
            continue                            # a few test files are deliberately not UTF-8
        if len(s) > 200_000:
            continue                            # skip huge generated/data modules
        if n_valid < want_valid:
            valid.append(s)
            n_valid += len(s)
        else:
            train.append(s)
            n_train += len(s)
            if n_valid + n_train >= data_chars:
                break
    return "".join(train)[:data_chars - want_valid], "".join(valid)[:want_valid]


def build_vocab(text, min_count):
    """Characters seen at least ``min_count`` times, sorted, after the UNK slot."""
    chars, counts = np.unique(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), return_counts=True)
    return UNK + "".join(chr(c) for c, n in zip(chars, counts) if n >= min_count and chr(c) != UNK)


def encode(text, vocab):
    """Text -> int64 ids (unknown characters -> 0), vectorised through a code-point lookup table."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    vcodes = np.array([ord(c) for c in vocab], dtype=np.uint32)
    table = np.zeros(max(int(codes.max(initial=0)), int(vcodes.max())) + 1, dtype=np.int64)
    table[vcodes] = np.arange(len(vocab))
    return table[codes]


# ---------------------------------------------------------------------------------- the model
class CharLM(nn.Module):
    """Embedding -> recurrent layers -> dropout -> Linear; logits (T, B, V) for ids (T, B)."""

    CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

    def __init__(self, vocab_size, embed, hidden, layers=1, cell="lstm", dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed)
        self.rnn = self.CELLS[cell](embed, hidden, layers, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, hidden=None):
        out, hidden = self.rnn(self.drop(self.embedding(ids)), hidden)
        return self.head(self.drop(out)), hidden


def state_arrays(hidden):
    """The recurrent state as a list of arrays (for the checkpoint); None stays []."""
    if hidden is None:
        return []
    return [h.data for h in (hidden if isinstance(hidden, tuple) else (hidden,))]


def state_from_arrays(arrays, cell):
    if len(arrays) == 0:
        return None
    hs = tuple(mg.tensor(a) for a in arrays)
    return hs if cell == "lstm" else hs[0]


def evaluate_bpc(model, ids, batch_size=32, seq_len=128):
    """Bits per character of ``model`` on the token ids (eval mode, no tape, state carried)."""
    was_training = model.training
    model.eval()
    total, count, hidden = 0.0, 0, None
    streams = batchify(ids, min(batch_size, max(1, len(ids) // 2)))
    with mg.no_grad():
        for x, y in lm_batches(streams, seq_len):
            logits, hidden = model(x, hidden)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                           reduction="sum").item())
            count += y.size
    model.train(was_training)
    return total / max(count, 1) / LN2


def sample(model, vocab, length, temperature=0.8, prime="\n", generator=None):
    """Generate ``length`` characters after ``prime``: feed the prime, then draw each next
    character from softmax(logits / temperature) and feed it back (one step at a time)."""
    rng = generator if generator is not None else np.random.default_rng()
    index = {c: i for i, c in enumerate(vocab)}
    was_training = model.training
    model.eval()
    prime = prime or "\n"
    ids = np.array([index.get(c, 0) for c in prime], dtype=np.int64)
    out = []
    with mg.no_grad():
        logits, hidden = model(ids.reshape(-1, 1))          # (T, 1, V): the whole prime in one call
        last = logits.data[-1, 0].astype(np.float64)
        for _ in range(length):
            z = last / max(temperature, 1e-6)
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(vocab), p=p / p.sum()))
            out.append(vocab[nxt] if nxt else "?")
            logits, hidden = model(np.array([[nxt]], dtype=np.int64), hidden)
            last = logits.data[-1, 0].astype(np.float64)
    model.train(was_training)
    return "".join(out)


# ------------------------------------------------------------------------------ checkpoints
def lr_factor(step, warmup, total):
    """Linear warm-up over ``warmup`` steps, then a cosine from 1 to 0.05 at step ``total``
    (constant 1 while ``total`` is not planned yet)."""
    if step < warmup:
        return (step + 1) / warmup
    if not total:
        return 1.0
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t))


def build(run, vocab):
    """Model, optimizer and scheduler for the run options ``run`` (a dict)."""
    model = CharLM(len(vocab), run["embed"], run["hidden"], run["layers"], run["cell"], run["dropout"])
    opt = optim.Adam(model.parameters(), lr=run["lr"])
    plan = {"total": run["max_steps"]}          # None: planned from the time budget (StepPlanner)

    sched = optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, run["warmup"], plan["total"]))
    return model, opt, sched, plan


class StepPlanner:
    """Turns a wall-clock budget into a planned number of steps for the cosine schedule.

    From the ``min_steps``-th step of this invocation on, and then every ``every`` steps, the
    plan becomes: steps done + (budget * (1 - reserve) - time used) / (measured time per step).
    The time per step is measured since the second step (the first pays one-off costs) and
    includes everything the loop does (validation too), so the plan absorbs those costs.
    """

    def __init__(self, budget, min_steps=20, every=25, reserve=0.0):
        self.budget, self.min_steps, self.every, self.reserve = budget, max(3, min_steps), every, reserve
        self.t0, self.t1, self.n = time.perf_counter(), None, 0

    def after_step(self, step, total):
        """Call after every step (``step`` = steps done in the whole run); returns the new plan."""
        self.n += 1
        now = time.perf_counter()
        if self.n == 1:
            self.t1 = now
        if self.n < self.min_steps or (self.n - self.min_steps) % self.every:
            return total
        per_step = (now - self.t1) / (self.n - 1)
        left = self.budget * (1.0 - self.reserve) - (now - self.t0)
        return step + max(1, int(left / per_step))


def save_checkpoint(path, run, vocab, model, opt, sched, plan, step, hidden, history):
    mg.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(),
             "run": run, "vocab": vocab, "plan_total": plan["total"] or 0, "step": step,
             "hidden": state_arrays(hidden), "rng": mg.default_generator().bit_generator.state,
             "history": {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}}, path)


def load_checkpoint(path):
    """Everything a checkpoint restores: a dict with model, opt, sched, plan, vocab, run, ..."""
    ck = mg.load(path)
    run, vocab = ck["run"], ck["vocab"]
    model, opt, sched, plan = build(run, vocab)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    sched.load_state_dict(ck["sched"])
    plan["total"] = ck["plan_total"] or None
    return dict(model=model, opt=opt, sched=sched, plan=plan, vocab=vocab, run=run, step=ck["step"],
                hidden=state_from_arrays(ck["hidden"], run["cell"]), rng=ck["rng"],
                history={k: list(v) for k, v in ck["history"].items()})


def plot_history(history, path):
    """Training loss (smoothed) and validation bits/char against the step, as a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no loss curve (pip install matplotlib)")
        return None
    bpc = np.asarray(history["loss"]) / LN2
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(bpc) + 1), bpc, color="0.75", lw=0.8, label="train (per step)")
    if len(bpc) >= 20:
        k = max(5, len(bpc) // 50)
        ax.plot(np.arange(k, len(bpc) + 1), np.convolve(bpc, np.ones(k) / k, "valid"), label=f"train (mean of {k})")
    if history["val_step"]:
        ax.plot(history["val_step"], history["val_bpc"], "o-", color="C3", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_title("minigrad character-level language model")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------- training
class _Progress:
    """tqdm when it is installed, otherwise a line every few seconds."""

    def __init__(self, total, disable):
        self.disable, self.n, self.last = disable, 0, 0.0
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=total, disable=disable, unit="step", dynamic_ncols=True)
        except ImportError:
            self.bar = None

    def set_total(self, total):
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def update(self, info):
        if self.bar is not None:
            self.bar.set_postfix_str(info, refresh=False)
            self.bar.update(1)
        elif not self.disable and time.time() - self.last > 5:
            self.last = time.time()
            print(info, flush=True)

    def write(self, s):
        if self.bar is not None:
            self.bar.write(s)
        else:
            print(s, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    a("--text", help="train on this text file instead of the standard library's .py files")
    a("--data-chars", type=int, default=4_000_000, help="characters of text to use (train + valid)")
    a("--valid-frac", type=float, default=0.05, help="share of the text held out for validation")
    a("--min-count", type=int, default=5, help="rarer characters map to the unknown character")
    a("--cell", choices=sorted(CharLM.CELLS), default="lstm")
    a("--embed", type=int, default=32)
    a("--hidden", type=int, default=128)
    a("--layers", type=int, default=1)
    a("--dropout", type=float, default=0.0)
    a("--seq-len", type=int, default=64, help="BPTT window (characters)")
    a("--batch-size", type=int, default=32, help="parallel streams")
    a("--lr", type=float, default=6e-3)
    a("--clip", type=float, default=1.0, help="max gradient norm")
    a("--warmup", type=int, default=20, help="warm-up steps (also time the step for the plan)")
    a("--max-steps", type=int, default=None, help="plan this many steps (default: fill --minutes)")
    a("--minutes", type=float, default=3.0, help="wall-clock budget of this invocation")
    a("--eval-every", type=float, default=30.0, help="seconds between validations/samples/checkpoints")
    a("--eval-chars", type=int, default=50_000, help="validation characters used during training")
    a("--seed", type=int, default=0)
    a("--threads", type=int, default=2)
    a("--checkpoint", default="char_lm.npz", help="where to save checkpoints")
    a("--plot", default="char_lm_loss.png", help="loss-curve PNG ('' for none)")
    a("--resume", metavar="PATH", help="continue the run saved in this checkpoint")
    a("--stop-at", type=int, default=None, help="stop (and checkpoint) after this step, as if interrupted")
    a("--sample", metavar="PATH", help="generate text from this checkpoint and exit")
    a("--temperature", type=float, default=0.8)
    a("--length", type=int, default=500)
    a("--prime", default="def ")
    a("--quick", action="store_true", help="smoke test: a few steps on a tiny slice")
    a("--no-progress", action="store_true", help="no progress bar")
    a("--tensorboard", metavar="DIR", help="log loss, perplexity and lr per step, validation bits/char per "
      "evaluation, to TensorBoard event files in DIR (needs: pip install \"minigrad[tensorboard]\")")
    args = p.parse_args(argv)
    if args.quick:
        given = {s.split("=")[0].lstrip("-").replace("-", "_") for s in (argv or []) if s.startswith("--")}
        for k, v in QUICK.items():
            if k not in given:
                setattr(args, k, v)
    return args


def main(argv=None):
    """Run the example; returns a dict (losses, val_bpc, ...) so tests can call it directly."""
    args = parse_args(argv)
    mg.set_num_threads(args.threads)
    if args.sample:
        ck = load_checkpoint(args.sample)
        text = sample(ck["model"], ck["vocab"], args.length, args.temperature, args.prime,
                      np.random.default_rng(args.seed))
        print(args.prime + text)
        return {"sample": text}

    if args.resume:
        ck = load_checkpoint(args.resume)
        run, vocab = ck["run"], ck["vocab"]
        model, opt, sched, plan = ck["model"], ck["opt"], ck["sched"], ck["plan"]
        step, hidden, history = ck["step"], ck["hidden"], ck["history"]
        mg.default_generator().bit_generator.state = ck["rng"]
        train_text, valid_text = load_corpus(run["text"], run["data_chars"], run["valid_frac"])
        print(f"resuming {args.resume} at step {step}")
    else:
        run = {k: getattr(args, k) for k in RUN_KEYS}
        mg.manual_seed(run["seed"])
        train_text, valid_text = load_corpus(run["text"], run["data_chars"], run["valid_frac"])
        vocab = build_vocab(train_text, run["min_count"])
        model, opt, sched, plan = build(run, vocab)
        step, hidden, history = 0, None, {"loss": [], "val_step": [], "val_bpc": []}
    train_ids, valid_ids = encode(train_text, vocab), encode(valid_text, vocab)
    eval_ids = valid_ids[: run["eval_chars"]]
    windows = list(lm_batches(batchify(train_ids, run["batch_size"]), run["seq_len"]))
    params = list(model.parameters())
    print(f"{run['cell'].upper()} {run['layers']}x{run['hidden']}, {model.num_parameters():,} parameters, "
          f"vocab {len(vocab)}, train {len(train_ids):,} chars ({len(windows)} windows/epoch), "
          f"valid {len(valid_ids):,} chars, {args.threads} threads")

    tb = None
    if args.tensorboard:
        from minigrad.utils.tensorboard import SummaryWriter
        tb = SummaryWriter(args.tensorboard)
    bar = _Progress(plan["total"], args.no_progress)
    budget = args.minutes * 60.0
    planner = StepPlanner(budget, run["warmup"], reserve=0.05) if run["max_steps"] is None else None
    t_start = time.perf_counter()
    train_time, chars, last_eval = 0.0, 0, t_start
    stop = args.stop_at
    interrupted = []                             # Ctrl-C finishes the current step, then stops
    in_main = threading.current_thread() is threading.main_thread()   # signals: main thread only
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1)) if in_main else None
    model.train()
    try:
        while (plan["total"] is None or step < plan["total"]) and (stop is None or step < stop):
            now = time.perf_counter()
            if now - t_start > budget:
                break
            if interrupted:
                bar.write("interrupted: saving a checkpoint (continue with --resume)")
                break
            w = step % len(windows)
            if w == 0:
                hidden = None                    # a new epoch starts the streams afresh
            x, y = windows[w]
            logits, hidden = model(x, hidden)
            hidden = nn.utils.repackage_hidden(hidden)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, run["clip"])
            opt.step()
            sched.step()
            step += 1
            lv = float(loss.item())
            history["loss"].append(lv)
            dt = time.perf_counter() - now
            train_time += dt
            chars += y.size
            if planner is not None:
                total = planner.after_step(step, plan["total"])
                if total != plan["total"]:
                    plan["total"] = total
                    bar.set_total(total)
            bar.update(f"loss {lv / LN2:.3f} bpc, {chars / train_time:,.0f} char/s, lr {sched.get_last_lr()[0]:.2g}")
            if tb is not None:
                tb.add_scalar("train/loss", lv, step)
                tb.add_scalar("train/perplexity", math.exp(min(lv, 50.0)), step)
                tb.add_scalar("train/lr", sched.get_last_lr()[0], step)
            if time.perf_counter() - last_eval > run["eval_every"]:
                v = evaluate_bpc(model, eval_ids)
                history["val_step"].append(step)
                history["val_bpc"].append(v)
                if tb is not None:
                    tb.add_scalar("valid/bits_per_char", v, step)
                bar.write(f"step {step}: validation {v:.3f} bits/char | sample: "
                          + repr(sample(model, vocab, 160, 0.8, "def ", np.random.default_rng(step))))
                save_checkpoint(args.checkpoint, run, vocab, model, opt, sched, plan, step, hidden, history)
                last_eval = time.perf_counter()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous_handler)
    bar.close()

    final = evaluate_bpc(model, valid_ids)
    if not history["val_step"] or history["val_step"][-1] != step:
        history["val_step"].append(step)
        history["val_bpc"].append(final)
    if tb is not None:
        tb.add_scalar("valid/bits_per_char", final, step)
        tb.close()
    save_checkpoint(args.checkpoint, run, vocab, model, opt, sched, plan, step, hidden, history)
    text = sample(model, vocab, 300 if not args.quick else 60, args.temperature, args.prime,
                  np.random.default_rng(args.seed))
    rate = chars / train_time if train_time else 0.0
    print(f"step {step}: validation {final:.3f} bits/char on {len(valid_ids):,} chars; "
          f"{rate:,.0f} chars/s; checkpoint {args.checkpoint}")
    print("---- sample ----\n" + args.prime + text + "\n----------------")
    png = plot_history(history, args.plot) if args.plot else None
    if png:
        print(f"loss curve: {png}")
    return {"losses": history["loss"], "val_bpc": final, "history": history, "step": step,
            "chars_per_s": rate, "checkpoint": args.checkpoint, "model": model, "opt": opt,
            "sched": sched, "vocab": vocab, "plot": png, "sample": text}


if __name__ == "__main__":
    main(sys.argv[1:])
