"""Big-vocabulary softmax / log_softmax / cross_entropy and the fused linear_cross_entropy:
minigrad against PyTorch and against minigrad's old NumPy path, forward + backward, in one run.

    python bench/bench_softmax.py [--repeat R] [--quick]

1. softmax, log_softmax, cross_entropy at (N, V) = (700, 10000) and (700, 33278), float32
   (the PTB and WikiText-2 decoders at batch 20 x bptt 35): one forward and one backward through
   the tape (``y.backward(g)``, ``loss.backward()``) in minigrad (C kernels), PyTorch (autograd)
   and the NumPy reference (minigrad.reference.softmax, the implementation the kernels replaced);
   then the same work at kernel level, without either tape: minigrad.kernels against the ATen
   ops PyTorch's autograd calls (_softmax / _softmax_backward_data, _log_softmax / ..., and
   cross_entropy as _log_softmax + nll_loss_forward, nll_loss_backward + _log_softmax_backward).
   (Through the tape, minigrad's Tensor.backward(g) copies g first; PyTorch's does not.)
2. softmax along a non-last axis ((20, 10000, 35), dim=1): minigrad's column kernels read the
   axis with strides where it lies (no copy); NumPy reduces along the strided axis.
3. F.linear_cross_entropy against F.linear + F.cross_entropy at the word-LM decoder sizes
   (N = 700, hidden 200 and 650, V = 10000): time, and peak memory of NumPy allocations
   (tracemalloc, run separately from the timing); PyTorch's linear + cross_entropy and its own
   linear_cross_entropy timed alongside.
The variants are interleaved (one call of each per round, R rounds) so a noisy shared machine
slows all of them alike; the table gives medians and the ratio torch / minigrad (> 1: minigrad
faster). PyTorch runs with the same thread count as minigrad.
"""
import argparse
import os
import platform
import time
import tracemalloc

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import kernels as K
from minigrad.reference import softmax as ref

try:
    import torch
except ImportError:       # the NumPy columns still run
    torch = None


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def interleaved(variants, repeat):
    """Median seconds of each variant's one call, the variants run in turn `repeat` times."""
    times = {name: [] for name in variants}
    for fn in variants.values():
        fn()                                         # warm up
    for _ in range(repeat):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def row(label, med, ours="minigrad"):
    cells = "  ".join(f"{name} {1e3 * t:8.2f} ms" for name, t in med.items())
    ratio = "" if "torch" not in med else f"  torch/{ours} {med['torch'] / med[ours]:5.2f}x"
    print(f"{label:34s} {cells}{ratio}")


# ----------------------------------------------------------------------------- 1. row ops
def softmax_variants(op, x, g, t):
    """fn() per implementation: one forward + backward of `op` on x (N, V)."""
    mx = mg.tensor(x, requires_grad=True)
    v = {}
    if op == "cross_entropy":
        def mg_run():
            mx.grad = None
            F.cross_entropy(mx, t).backward()

        def np_run():
            loss, p = ref.cross_entropy(x, t)
            loss.mean()
            ref.cross_entropy_backward(p, t, np.full(len(t), 1.0 / len(t), x.dtype))
    else:
        mg_fn = F.softmax if op == "softmax" else F.log_softmax
        np_fwd = ref.softmax if op == "softmax" else ref.log_softmax
        np_bwd = ref.softmax_backward if op == "softmax" else ref.log_softmax_backward

        def mg_run():
            mx.grad = None
            mg_fn(mx, dim=1).backward(g)

        def np_run():
            np_bwd(g, np_fwd(x, 1), 1)
    v["minigrad"] = mg_run
    if torch is not None:
        tx, tg, tt = torch.tensor(x, requires_grad=True), torch.tensor(g), torch.tensor(t)
        t_fn = {"softmax": lambda: torch.softmax(tx, 1).backward(tg),
                "log_softmax": lambda: torch.log_softmax(tx, 1).backward(tg),
                "cross_entropy": lambda: torch.nn.functional.cross_entropy(tx, tt).backward()}[op]

        def torch_run():
            tx.grad = None
            t_fn()
        v["torch"] = torch_run
    v["numpy"] = np_run
    return v


def kernel_variants(op, x, g, t):
    """fn() per implementation: forward + backward kernels of `op`, no tape (new outputs)."""
    a = np.full(len(t), 1.0 / len(t), x.dtype)          # d mean / d loss_i
    mg_fwd, mg_bwd = {"softmax": (K.softmax_forward, K.softmax_backward),
                      "log_softmax": (K.log_softmax_forward, K.log_softmax_backward)}.get(op, (None, None))
    if op == "cross_entropy":
        def mg_run():
            loss, p = K.cross_entropy_forward(x, t)
            loss.sum(dtype=np.float64)
            K.cross_entropy_backward(p, t, a)
    else:
        def mg_run():
            mg_bwd(g, mg_fwd(x))
    v = {"minigrad": mg_run}
    if torch is not None:
        tx, tg, tt, f32 = torch.tensor(x), torch.tensor(g), torch.tensor(t), torch.float32
        one = torch.ones(())
        if op == "softmax":
            v["torch"] = lambda: torch._softmax_backward_data(tg, torch._softmax(tx, 1, False), 1, f32)
        elif op == "log_softmax":
            v["torch"] = lambda: torch._log_softmax_backward_data(tg, torch._log_softmax(tx, 1, False), 1, f32)
        else:
            def torch_ce():
                lp = torch._log_softmax(tx, 1, False)
                _, total = torch.ops.aten.nll_loss_forward(lp, tt, None, 1, -100)
                gl = torch.ops.aten.nll_loss_backward(one, lp, tt, None, 1, -100, total)
                torch._log_softmax_backward_data(gl, lp, 1, f32)
            v["torch"] = torch_ce
    return v


# ----------------------------------------------------------------------------- 3. fused decoder
def decoder_variants(n, h, v, rng):
    x = (rng.standard_normal((n, h)) * 0.5).astype(np.float32)
    w = rng.uniform(-0.1, 0.1, (v, h)).astype(np.float32)
    b = np.zeros(v, np.float32)
    t = rng.integers(0, v, n)
    mx, mw, mb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))

    def zero():
        for p in (mx, mw, mb):
            p.grad = None

    def fused():
        zero()
        F.linear_cross_entropy(mx, mw, t, linear_bias=mb).backward()

    def unfused():
        zero()
        F.cross_entropy(F.linear(mx, mw, mb), t).backward()
    out = {"minigrad": fused, "mg linear+ce": unfused}
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tt = torch.tensor(t)

        def tzero():
            for p in (tx, tw, tb):
                p.grad = None

        def t_unfused():
            tzero()
            torch.nn.functional.cross_entropy(torch.nn.functional.linear(tx, tw, tb), tt).backward()
        out["torch"] = t_unfused
        if hasattr(torch.nn.functional, "linear_cross_entropy"):
            def t_fused():
                tzero()
                torch.nn.functional.linear_cross_entropy(tx, tw, tt, linear_bias=tb).backward()
            out["torch fused"] = t_fused
    return out


def peak_mib(fn):
    fn()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="only (700, 10000) and hidden 200")
    args = ap.parse_args()
    nt = K.get_num_threads()
    if torch is not None:
        torch.set_num_threads(nt)
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs; avx2+fma={K.cpu_has_avx2_fma()}, "
          f"no AVX-512 code paths in minigrad)")
    print(f"threads: minigrad {nt} (openmp={K.has_openmp()})"
          + (f", torch {torch.get_num_threads()} (torch {torch.__version__})" if torch else ", torch absent"))
    print(f"medians of {args.repeat} interleaved rounds, float32, forward + backward\n")
    rng = np.random.default_rng(0)
    sizes = [(700, 10000)] if args.quick else [(700, 10000), (700, 33278)]
    for n, v in sizes:
        x = (rng.standard_normal((n, v)) * 2).astype(np.float32)
        g = rng.standard_normal((n, v)).astype(np.float32)
        t = rng.integers(0, v, n)
        for op in ("softmax", "log_softmax", "cross_entropy"):
            row(f"{op} ({n}, {v})", interleaved(softmax_variants(op, x, g, t), args.repeat))
        for op in ("softmax", "log_softmax", "cross_entropy"):
            row(f"  kernels {op} ({n}, {v})", interleaved(kernel_variants(op, x, g, t), args.repeat))

    # 2. a non-last axis: minigrad's column kernels and NumPy both reduce along the strided axis
    x3 = rng.standard_normal((20, 10000, 35)).astype(np.float32)
    g3 = rng.standard_normal(x3.shape).astype(np.float32)
    m3 = mg.tensor(x3, requires_grad=True)

    def mg_axis1():
        m3.grad = None
        F.softmax(m3, dim=1).backward(g3)
    variants = {"minigrad": mg_axis1}
    if torch is not None:
        t3, tg3 = torch.tensor(x3, requires_grad=True), torch.tensor(g3)

        def torch_axis1():
            t3.grad = None
            torch.softmax(t3, 1).backward(tg3)
        variants["torch"] = torch_axis1
    variants["numpy"] = lambda: ref.softmax_backward(g3, ref.softmax(x3, 1), 1)
    row("softmax dim=1 of (20, 10000, 35)", interleaved(variants, args.repeat))

    # 3. the fused decoder
    print()
    for h in ((200,) if args.quick else (200, 650)):
        variants = decoder_variants(700, h, 10000, rng)
        row(f"decoder N=700 H={h} V=10000", interleaved(variants, args.repeat))
        fused, plain = peak_mib(variants["minigrad"]), peak_mib(variants["mg linear+ce"])
        print(f"{'':34s} peak NumPy memory: linear_cross_entropy {fused:6.1f} MiB, "
              f"linear + cross_entropy {plain:6.1f} MiB (one (N, V) float32 array: "
              f"{700 * 10000 * 4 / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
