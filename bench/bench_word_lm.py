"""Word-level LM training throughput, minigrad vs PyTorch: an epoch slice of Zaremba et al.'s configs.

    python bench/bench_word_lm.py --data DIR                      # zaremba-small and -medium, 2 threads
    python bench/bench_word_lm.py --data DIR --presets zaremba-small --windows 40 --repeats 5

For each preset, examples/word_lm.py's ``WordLM`` and the same model in PyTorch
(torch.nn.Embedding -> Dropout -> LSTM -> Dropout -> Linear, minigrad's initial weights copied
in: the parameter names and layouts are PyTorch's) are trained with the paper's step (SGD,
objective = the sum over time of the batch-mean cross-entropy, global-norm clipping) on the same
windows of the corpus (``--data``: PTB or any word_lm.py corpus). The two frameworks run in
turn, ``--windows`` windows each, ``--repeats`` times, so a load change on the shared machine
hits both alike; reported per preset:

  words/s         median over the repeats (the step: forward, loss, backward, clip, SGD step)
  peak memory     each framework in a fresh subprocess: peak RSS (VmHWM, reset after setup) above the RSS after
                  imports, model, optimizer and data (so the weights are not counted; the
                  activations, gradients and everything a step allocates are)
  split           one step's parts, each timed alone on the step's own shapes, median:
                    recurrent      embedding + dropout + LSTM forward and backward (upstream grad given)
                    decoder+loss   Linear -> cross_entropy forward and backward on (T*B, H) features
                                   (minigrad: the fused F.linear_cross_entropy the example uses)
                    optimizer      clip_grad_norm_ + the SGD step
                    rest           the whole step minus the three (Python, tape, glue)
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import word_lm  # noqa: E402  (the example: corpus, model, presets)

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.optim as optim  # noqa: E402
from minigrad.data import batchify, lm_batches  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


class MinigradRun:
    """The example's training step on ``WordLM`` (word_lm.train_epoch's body, without logging)."""

    name = "minigrad"

    def __init__(self, cfg, V):
        self.cfg = cfg
        self.model = word_lm.WordLM(V, cfg["hidden"], cfg["layers"], "lstm", cfg["dropout"], init=cfg["init"])
        self.params = list(self.model.parameters())
        self.opt = optim.SGD(self.params, lr=cfg["lr"])
        self.hidden = None

    def state_dict(self):
        return {k: np.array(v, copy=True) for k, v in self.model.state_dict().items()}

    def step(self, x, y):
        feats, hidden = self.model(x, self.hidden)
        self.hidden = nn.utils.repackage_hidden(hidden)
        total = self.model.loss(feats, y)
        self.opt.zero_grad()
        (total / self.cfg["batch"]).backward()
        nn.utils.clip_grad_norm_(self.params, self.cfg["clip"])
        self.opt.step()
        return float(total.item())

    def parts(self, x, y):
        """{part: fn()} timing one part of the step alone on the step's shapes."""
        m, B = self.model, self.cfg["batch"]
        feats = mg.tensor(np.random.default_rng(0).standard_normal((*x.shape, self.cfg["hidden"]), dtype=np.float32),
                          requires_grad=True)
        gfeat = np.full(feats.shape, 1.0 / np.prod(feats.shape), dtype=np.float32)

        def recurrent():
            out, _ = m(x, self.hidden)
            out.backward(gfeat)

        def decoder():
            (m.loss(feats, y) / B).backward()

        def optimizer():
            nn.utils.clip_grad_norm_(self.params, self.cfg["clip"])
            self.opt.step()
        return {"recurrent": recurrent, "decoder+loss": decoder, "optimizer": optimizer}


class TorchRun:
    """The same model and step in PyTorch."""

    name = "torch"

    def __init__(self, cfg, V, init):
        self.cfg = cfg
        H = cfg["hidden"]

        class TorchWordLM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = torch.nn.Embedding(V, H)
                self.rnn = torch.nn.LSTM(H, H, cfg["layers"], dropout=cfg["dropout"])
                self.drop = torch.nn.Dropout(cfg["dropout"])
                self.decoder = torch.nn.Linear(H, V)

            def forward(self, ids, hidden=None):
                out, hidden = self.rnn(self.drop(self.embedding(ids)), hidden)
                return self.drop(out), hidden

            def loss(self, feats, y):
                return torch.nn.functional.cross_entropy(self.decoder(feats.reshape(-1, H)), y.reshape(-1),
                                                         reduction="sum")

        self.model = TorchWordLM()
        self.model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
        self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg["lr"])
        self.hidden = None

    def step(self, x, y):
        feats, hidden = self.model(torch.from_numpy(x), self.hidden)
        self.hidden = tuple(h.detach() for h in hidden)
        total = self.model.loss(feats, torch.from_numpy(y))
        self.opt.zero_grad()
        (total / self.cfg["batch"]).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["clip"])
        self.opt.step()
        return float(total.item())

    def parts(self, x, y):
        m, B = self.model, self.cfg["batch"]
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        feats = torch.randn(*x.shape, self.cfg["hidden"], requires_grad=True)
        gfeat = torch.ones(feats.shape) / feats.numel()

        def recurrent():
            out, _ = m(xt, self.hidden)
            out.backward(gfeat)

        def decoder():
            (m.loss(feats, yt) / B).backward()

        def optimizer():
            torch.nn.utils.clip_grad_norm_(m.parameters(), self.cfg["clip"])
            self.opt.step()
        return {"recurrent": recurrent, "decoder+loss": decoder, "optimizer": optimizer}


def median_time(fn, n):
    fn()                                                # warm up
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def setup(preset, data, threads, frameworks):
    cfg = dict(word_lm.PRESETS[preset])
    vocab, ids = word_lm.load_corpus(data)
    windows = list(lm_batches(batchify(ids["train"], cfg["batch"]), cfg["bptt"]))
    mg.manual_seed(0)
    mg.set_num_threads(threads)
    runs = [MinigradRun(cfg, len(vocab))] if "minigrad" in frameworks else []
    if "torch" in frameworks and torch is not None:
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        init = MinigradRun(cfg, len(vocab)).state_dict() if not runs else runs[0].state_dict()
        runs.append(TorchRun(cfg, len(vocab), init))
    return cfg, windows, runs


def status_mib(key):
    """A memory figure of this process from /proc/self/status (VmRSS, VmHWM = peak RSS), in MiB."""
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith(key + ":")) / 1024


def memory_child(fw, preset, data, threads, n):
    """Peak RSS above the post-setup RSS for ``n`` training steps of ``fw`` (run in a subprocess)."""
    cfg, windows, runs = setup(preset, data, threads, [fw])
    with open("/proc/self/clear_refs", "w") as f:       # reset the peak mark: setup's own peak
        f.write("5")                                     # (the corpus as Python strings) must not count
    base = status_mib("VmRSS")
    for x, y in windows[:n]:
        runs[0].step(x, y)
    print(status_mib("VmHWM") - base)


def measure_memory(fw, preset, data, threads, n=5):
    out = subprocess.run([sys.executable, __file__, "--memory-child", fw, "--presets", preset, "--data", data,
                          "--threads", str(threads)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_preset(preset, a):
    cfg, windows, runs = setup(preset, a.data, a.threads, ["minigrad", "torch"])
    first = windows[a.skip: a.skip + a.windows]
    words = sum(y.size for _, y in first)
    per = {r.name: [] for r in runs}
    for r in runs:
        r.step(*first[0])                                # warm up (allocations, first-call costs)
    for _ in range(a.repeats):
        for r in runs:
            t0 = time.perf_counter()
            for x, y in first:
                r.step(x, y)
            per[r.name].append(words / (time.perf_counter() - t0))
    wps = {k: statistics.median(v) for k, v in per.items()}
    step_s = {k: cfg["batch"] * cfg["bptt"] / v for k, v in wps.items()}
    split = {}
    for r in runs:
        parts = {k: median_time(fn, a.part_repeats) for k, fn in r.parts(*first[0]).items()}
        parts["rest"] = step_s[r.name] - sum(parts.values())
        split[r.name] = parts
    mem = {r.name: measure_memory(r.name, preset, a.data, a.threads) for r in runs} if a.memory else {}
    return cfg, wps, split, mem


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="word_lm.py corpus directory (PTB: ptb.train.txt ...)")
    p.add_argument("--presets", default="zaremba-small,zaremba-medium")
    p.add_argument("--windows", type=int, default=30, help="windows per timed run")
    p.add_argument("--skip", type=int, default=0, help="start at this window of the epoch")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--part-repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-memory", dest="memory", action="store_false")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    word_lm.find_corpus(a.data)                          # says what to get when --data is missing
    if a.memory_child:
        return memory_child(a.memory_child, a.presets, a.data, a.threads, 5)
    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "unknown CPU")
    flags = open("/proc/cpuinfo").read()
    isa = "AVX-512" if "avx512f" in flags else "AVX2/FMA" if "avx2" in flags else "SSE"
    print(f"{cpu} ({isa}), {a.threads} threads, torch {torch.__version__ if torch else 'absent'}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    for preset in a.presets.split(","):
        cfg, wps, split, mem = bench_preset(preset, a)
        print(f"\n{preset}: LSTM {cfg['layers']}x{cfg['hidden']}, batch {cfg['batch']}, bptt {cfg['bptt']}, "
              f"dropout {cfg['dropout']}; {a.windows} windows x {a.repeats} repeats; "
              f"load {os.getloadavg()[0]:.2f}")
        parts = list(next(iter(split.values())))
        print(f"{'framework':10s} {'words/s':>9s} {'ms/step':>8s} " + " ".join(f"{k:>13s}" for k in parts)
              + f" {'peak MiB':>9s}")
        for name, v in wps.items():
            ms = 1e3 * cfg["batch"] * cfg["bptt"] / v
            print(f"{name:10s} {v:9,.0f} {ms:8.1f} " + " ".join(f"{1e3 * split[name][k]:10.1f} ms" for k in parts)
                  + (f" {mem[name]:9.1f}" if name in mem else ""))
        if "torch" in wps:
            print(f"minigrad / torch throughput: {wps['minigrad'] / wps['torch']:.2f}x"
                  + (f"; memory {mem['minigrad'] / mem['torch']:.2f}x of torch's" if mem else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
