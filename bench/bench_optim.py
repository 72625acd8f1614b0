"""The optimizer step: minigrad's Adam (one C call per parameter group) against PyTorch's Adam.

    python bench/bench_optim.py [--repeat 200] [--threads 2]

One ``opt.step()`` over the parameters of three models, gradients already in place, best of
``repeat`` steps (the frameworks alternate step by step, so a noisy neighbour slows them alike):

- tiny:   nn.GRU(1, 1) + nn.Linear(1, 1): 6 parameters of 1-3 elements (pure per-step overhead,
          what a small recurrent model pays every step)
- small:  nn.GRU(32, 64) + nn.Linear(64, 10): bench_rnn's smallest training step's parameters
- medium: Embedding(10000, 650) + 2-layer LSTM(650) + Linear(650, 10000): word_lm.py's
          zaremba-medium model, 19.8M parameters (memory bandwidth: 4 arrays read, 3 written)

PyTorch runs its three implementations of Adam: the default (a Python loop over parameters on
the CPU), ``foreach=True`` (multi-tensor ops) and ``fused=True`` (one fused kernel). Ratios > 1:
minigrad is faster.
"""
import argparse

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.optim as optim
from bench_tape import best_of      # bench/bench_tape.py: alternating best-of timer

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None


def models():
    """name -> a function building the minigrad modules of that size."""
    return {
        "tiny": lambda: [nn.GRU(1, 1), nn.Linear(1, 1)],
        "small": lambda: [nn.GRU(32, 64), nn.Linear(64, 10)],
        "medium": lambda: [nn.Embedding(10000, 650), nn.LSTM(650, 650, num_layers=2), nn.Linear(650, 10000)],
    }


def minigrad_step(modules):
    params = [p for m in modules for p in m.parameters()]
    rng = np.random.default_rng(0)
    for p in params:
        p.grad = rng.standard_normal(p.data.shape).astype(p.data.dtype)
    opt = optim.Adam(params, lr=1e-3)
    opt.step()                                   # state created outside the timing
    return opt.step, sum(p.data.size for p in params), len(params)


def torch_step(modules, **kw):
    params = []
    for m in modules:
        for p in m.parameters():
            t = torch.nn.Parameter(torch.from_numpy(p.data.copy()))
            t.grad = torch.from_numpy(np.asarray(p.grad).copy())
            params.append(t)
    opt = torch.optim.Adam(params, lr=1e-3, **kw)
    opt.step()
    return opt.step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", default="tiny,small,medium")
    args = p.parse_args(argv)
    mg.set_num_threads(args.threads)
    variants = [("default", {}), ("foreach", {"foreach": True}), ("fused", {"fused": True})]
    if torch is not None:
        torch.set_num_threads(args.threads)
        print(f"torch {torch.__version__}, {args.threads} threads; best of {args.repeat} steps, microseconds")
    else:
        print(f"PyTorch not installed: minigrad only; {args.threads} threads; best of {args.repeat} steps")
    head = "| model | parameters (arrays) | minigrad us |"
    if torch is not None:
        head += "".join(f" torch {n} us | mg speed-up |" for n, _ in variants)
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name in args.sizes.split(","):
        mods = models()[name]()
        mg_fn, n, k = minigrad_step(mods)
        fns = [mg_fn] + ([torch_step(mods, **kw) for _, kw in variants] if torch is not None else [])
        reps = args.repeat if name != "medium" else max(5, args.repeat // 10)
        t = [x * 1e6 for x in best_of(fns, reps)]
        row = f"| {name} | {n:,} ({k}) | {t[0]:,.1f} |"
        for tt in t[1:]:
            row += f" {tt:,.1f} | {tt / t[0]:.2f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
