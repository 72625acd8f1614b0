"""The main job, minigrad vs PyTorch: the same character-level model trained for the same wall-clock
budget, then the validation bits/char each one reached.

    python bench/bench_char_lm.py                   # 3 minutes each, 2 threads each
    python bench/bench_char_lm.py --minutes 1 --cell gru --hidden 128

Same data (examples/char_lm.py's standard-library corpus, vocabulary and train/valid split),
same architecture (Embedding -> LSTM/GRU/RNN -> Linear), same hyper-parameters (Adam, lr,
warm-up + cosine schedule, gradient clipping, seq_len, batch), same initial weights (minigrad's
initialisation, PyTorch's distributions, copied into the PyTorch model), same threads. Each
framework plans its cosine schedule from its own measured step time, so each uses its budget
fully. Training time excludes the final validation pass (identical for both: full validation
text, eval mode, state carried). Runs are sequential in one process, minigrad first; the machine
may be shared, so look at chars/s together with bits/char.
"""
import argparse
import math
import os
import sys
import time


import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import char_lm  # noqa: E402  (the example: data, model and schedule)

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.optim as optim  # noqa: E402
from minigrad.data import batchify, lm_batches  # noqa: E402


class MinigradRunner:
    def __init__(self, model, a):
        self.model, self.a = model, a
        self.params = list(model.parameters())
        self.opt = optim.Adam(self.params, lr=a.lr)
        self.hidden = None

    def step(self, x, y, lr, reset):
        if reset:
            self.hidden = None
        self.opt.param_groups[0]["lr"] = lr
        logits, hidden = self.model(x, self.hidden)
        self.hidden = nn.utils.repackage_hidden(hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, self.a.clip)
        self.opt.step()
        return float(loss.item())

    def evaluate(self, ids):
        return char_lm.evaluate_bpc(self.model, ids)


class TorchRunner:
    def __init__(self, init, a, V):
        import torch

        self.torch, self.a = torch, a
        cell = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[a.cell]

        class TorchCharLM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = torch.nn.Embedding(V, a.embed)
                self.rnn = cell(a.embed, a.hidden, a.layers, dropout=a.dropout)
                self.drop = torch.nn.Dropout(a.dropout)
                self.head = torch.nn.Linear(a.hidden, V)

            def forward(self, ids, hidden=None):
                out, hidden = self.rnn(self.drop(self.embedding(ids)), hidden)
                return self.head(self.drop(out)), hidden

        self.model = TorchCharLM()
        # Identical starting point: minigrad's parameter names and shapes are PyTorch's.
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in init.items()})
        self.opt = torch.optim.Adam(self.model.parameters(), lr=a.lr)
        self.hidden = None

    def _detach(self, h):
        return tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()

    def step(self, x, y, lr, reset):
        torch = self.torch
        if reset:
            self.hidden = None
        self.opt.param_groups[0]["lr"] = lr
        logits, hidden = self.model(torch.from_numpy(x), self.hidden)
        self.hidden = self._detach(hidden)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.a.clip)
        self.opt.step()
        return float(loss.item())

    def evaluate(self, ids):
        torch = self.torch
        self.model.eval()
        total, count, hidden = 0.0, 0, None
        with torch.no_grad():
            for x, y in lm_batches(batchify(ids, 32), 128):     # as char_lm.evaluate_bpc
                logits, hidden = self.model(torch.from_numpy(x), hidden)
                total += float(torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1), reduction="sum"))
                count += y.size
        self.model.train()
        return total / count / math.log(2)


def train(runner, windows, a, budget):
    """Train until the budget ends; the cosine schedule is planned from the measured step time
    (``char_lm.StepPlanner``, re-estimated every few steps) unless ``--steps`` fixes it."""
    step, total, losses = 0, a.steps, []
    planner = None if a.steps else char_lm.StepPlanner(budget, a.warmup)
    t_start = time.perf_counter()
    while (total is None or step < total) and time.perf_counter() - t_start < budget:
        w = step % len(windows)
        x, y = windows[w]
        losses.append(runner.step(x, y, a.lr * char_lm.lr_factor(step, a.warmup, total), reset=(w == 0)))
        step += 1
        if planner is not None:
            total = planner.after_step(step, total)
    return step, time.perf_counter() - t_start, losses


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    d = char_lm.parse_args([])
    p.add_argument("--minutes", type=float, default=3.0, help="training budget of each framework")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frameworks", default="minigrad,torch")
    p.add_argument("--steps", type=int, default=None,
                   help="train exactly this many steps instead of a time budget (to compare the numerics)")
    for name in ("cell", "embed", "hidden", "layers", "dropout", "seq_len", "batch_size", "lr", "clip",
                 "warmup", "data_chars", "valid_frac", "min_count", "seed"):
        v = getattr(d, name)
        p.add_argument("--" + name.replace("_", "-"), type=type(v), default=v)
    a = p.parse_args(argv)

    mg.set_num_threads(a.threads)
    mg.manual_seed(a.seed)
    train_text, valid_text = char_lm.load_corpus(None, a.data_chars, a.valid_frac)
    vocab = char_lm.build_vocab(train_text, a.min_count)
    train_ids, valid_ids = char_lm.encode(train_text, vocab), char_lm.encode(valid_text, vocab)
    windows = list(lm_batches(batchify(train_ids, a.batch_size), a.seq_len))
    model = char_lm.CharLM(len(vocab), a.embed, a.hidden, a.layers, a.cell, a.dropout)
    init = {k: v.copy() for k, v in model.state_dict().items()}      # both frameworks start here
    print(f"{a.cell.upper()} {a.layers}x{a.hidden} embed {a.embed}, vocab {len(vocab)}, seq_len {a.seq_len}, "
          f"batch {a.batch_size}, lr {a.lr}; train {len(train_ids):,} chars, valid {len(valid_ids):,}; "
          f"{a.minutes} min each, {a.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")

    results, curves = [], {}
    for fw in a.frameworks.split(","):
        if fw == "minigrad":
            runner = MinigradRunner(model, a)
        elif fw == "torch":
            try:
                import torch
            except ImportError:
                print("torch is not installed: skipping PyTorch")
                continue
            torch.set_num_threads(a.threads)
            torch.manual_seed(a.seed)
            runner = TorchRunner(init, a, len(vocab))
            fw = f"torch {torch.__version__}"
        else:
            raise SystemExit(f"unknown framework {fw!r}")
        load0 = os.getloadavg()[0]
        steps, t_train, losses = train(runner, windows, a, math.inf if a.steps else a.minutes * 60)
        curves[fw] = losses
        bpc = runner.evaluate(valid_ids)
        chars = steps * a.batch_size * a.seq_len
        results.append((fw, steps, chars, chars / t_train, float(np.mean(losses[-50:])) / math.log(2), bpc, load0))
        print(f"{fw}: {steps} steps, {chars:,} chars in {t_train:.0f} s = {chars / t_train:,.0f} chars/s; "
              f"validation {bpc:.3f} bits/char (load average at start {load0:.1f})", flush=True)

    print("\n| framework | steps | chars/s | train bpc (last 50) | validation bits/char |")
    print("|---|---:|---:|---:|---:|")
    for fw, steps, chars, rate, tr, bpc, _ in results:
        print(f"| {fw} | {steps} | {rate:,.0f} | {tr:.3f} | {bpc:.3f} |")
    if a.steps and len(curves) == 2:
        (n1, l1), (n2, l2) = curves.items()
        diff = np.abs(np.array(l1) - np.array(l2)) / math.log(2)
        print(f"\nsame {a.steps} steps: max |train bpc difference| {diff.max():.4f} "
              f"(first 10 steps {diff[:10].max():.2e})")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
