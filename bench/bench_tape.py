"""Python overhead of the tape: per recorded op, and one small MLP training step.

    python bench/bench_tape.py [--repeat 5]

1. A chain of N small elementwise ops ((16,)-shaped ``y = y * a + b`` alternating mul/add), forward
   then backward, in microseconds per op. With arrays this small the arithmetic is negligible, so
   this measures what the framework itself costs per op: building the node, and the reverse walk.
2. One training step of a 784-256-10 ReLU MLP on a batch of 64 (sum-of-squares loss, manual SGD
   in NumPy): forward, backward, update; and, to separate the GEMM kernel's speed from the
   framework's overhead, the same step's five GEMMs called directly.

Both are timed for minigrad and, when installed, PyTorch eager (CPU) in the same run; the table
reports best-of-``repeat`` times and the ratio minigrad / PyTorch. The machine may be shared and
noisy, hence best-of.
"""
import argparse
import time

import numpy as np

import minigrad as mg

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None


def best_of(fns, repeat):
    """Best time of each function over ``repeat`` rounds; the functions alternate within a round
    so that a noisy neighbour slows them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def compare(make_mg, make_pt, repeat, scale):
    """(minigrad, PyTorch or None) best-of times multiplied by ``scale``."""
    fns = [make_mg()] + ([make_pt()] if torch is not None else [])
    times = [t * scale for t in best_of(fns, repeat)]
    return times[0], (times[1] if torch is not None else None)


# ---------------------------------------------------------------- per-op overhead
def chain_run(x, a, b, n):
    """n alternating mul/add ops on a tape (either framework), then backward."""
    def run():
        y = x
        for _ in range(n // 2):
            y = y * a
            y = y + b
        y.sum().backward()
    return run


def chain_minigrad(n, size):
    leaf = lambda v: mg.tensor(np.full(size, v, np.float32), requires_grad=True)
    return chain_run(leaf(1.0), leaf(1.0001), leaf(0.001), n)


def chain_torch(n, size):
    leaf = lambda v: torch.full((size,), v, requires_grad=True)
    return chain_run(leaf(1.0), leaf(1.0001), leaf(0.001), n)


# ---------------------------------------------------------------- MLP step
def mlp_minigrad(x, y, params, lr=1e-3):
    w1, b1, w2, b2 = [mg.tensor(p, requires_grad=True) for p in params]
    xt = mg.tensor(x)

    def step():
        h = (xt @ w1 + b1).relu()
        out = h @ w2 + b2
        loss = ((out - y) ** 2).sum()
        for p in (w1, b1, w2, b2):
            p.grad = None
        loss.backward()
        for p in (w1, b1, w2, b2):
            p.data -= lr * p.grad
    return step


def mlp_torch(x, y, params, lr=1e-3):
    w1, b1, w2, b2 = [torch.tensor(p, requires_grad=True) for p in params]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        h = torch.relu(xt @ w1 + b1)
        out = h @ w2 + b2
        loss = ((out - yt) ** 2).sum()
        for p in (w1, b1, w2, b2):
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in (w1, b1, w2, b2):
                p.numpy()[...] -= lr * p.grad.numpy()   # the same manual NumPy update
    return step


def gemms_minigrad(x, y, params):
    """Just the five GEMMs of one MLP step (2 forward, 3 backward) on the C kernel."""
    from minigrad import kernels as K
    w1, _, w2, _ = params
    h = np.maximum(x @ w1, 0)
    g2 = np.ones((x.shape[0], w2.shape[1]), np.float32)

    def run():
        K.gemm(x, w1), K.gemm(h, w2)
        K.gemm(h, g2, trans_a=True), K.gemm(g2, w2, trans_b=True), K.gemm(x, h, trans_a=True)
    return run


def gemms_torch(x, y, params):
    w1, _, w2, _ = [torch.from_numpy(p) for p in params]
    xt = torch.from_numpy(x)
    h = torch.relu(xt @ w1)
    g2 = torch.ones(x.shape[0], w2.shape[1])

    def run():
        xt @ w1, h @ w2
        h.T @ g2, g2 @ w2.T, xt.T @ h
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    mg.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)

    rows = []
    n = args.ops
    for size in (1, 16):
        t_mg, t_pt = compare(lambda: chain_minigrad(n, size), lambda: chain_torch(n, size),
                             args.repeat, 1e6 / n)
        rows.append((f"elementwise op ({size},) fwd+bwd, us/op", t_mg, t_pt))

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = rng.standard_normal((64, 10)).astype(np.float32)
    params = [(rng.standard_normal((784, 256)) * 0.03).astype(np.float32), np.zeros(256, np.float32),
              (rng.standard_normal((256, 10)) * 0.06).astype(np.float32), np.zeros(10, np.float32)]
    t_mg, t_pt = compare(lambda: mlp_minigrad(x, y, params), lambda: mlp_torch(x, y, params),
                         args.repeat * 5, 1e3)
    rows.append(("MLP 784-256-10 step, batch 64, ms", t_mg, t_pt))
    t_mg, t_pt = compare(lambda: gemms_minigrad(x, y, params), lambda: gemms_torch(x, y, params),
                         args.repeat * 5, 1e3)
    rows.append(("  of which its 5 GEMMs alone, ms", t_mg, t_pt))

    print(f"threads={args.threads}, best of {args.repeat}" + ("" if torch else " (PyTorch not installed)"))
    print(f"| {'benchmark':<42} | {'minigrad':>9} | {'PyTorch':>9} | {'ratio':>6} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
    for name, a, b in rows:
        bs = f"{b:9.2f}" if b is not None else f"{'-':>9}"
        rs = f"{a / b:6.2f}" if b is not None else f"{'-':>6}"
        print(f"| {name:<42} | {a:9.2f} | {bs} | {rs} |")


if __name__ == "__main__":
    main()
