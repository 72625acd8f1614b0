"""nn.CRF against pytorch-crf (torchcrf): the NLL's forward + backward, and Viterbi decoding.

    python bench/bench_crf.py [--repeat R] [--dtype float32|float64] [--threads N]

At (B, T, K) = (32, 40, 9) and (32, 40, 17) -- a CoNLL NER tag set and a UPOS-sized one --
with a mask of random lengths in [T/2, T], the same inputs and parameters for every variant:
  mg C        minigrad's nn.CRF: forward algorithm, marginals and Viterbi in C (csrc/crf.c)
  mg tape     the same NLL written with minigrad tape ops (a loop over T of a logsumexp over
              (B, K, K) tensors) and differentiated by the tape: the alternative the issue
              asked to measure against the C kernel pair
  torchcrf    pytorch-crf 0.7.2 on PyTorch (CPU), -crf(emissions, tags, mask).backward()
Each variant is timed in turns (interleaved repeats, so drifting machine load hits all alike);
the table shows the median wall time per call, the median process CPU time per call (all
threads; on a machine shared with other jobs it shows the work done, wall time also the waiting)
and the ratio of wall times torchcrf / variant (> 1: faster than pytorch-crf). Threads: minigrad
and torch both use the thread count printed in the header.
"""
import argparse
import os
import platform
import statistics
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from minigrad import kernels as K


def cpu_name():
    """The CPU's model name with its family/model numbers (AMD family 25 = 0x19: Zen 3 / Zen 4)."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in info:
        return platform.processor() or "unknown CPU"
    return f"{info['model name']} (family {info.get('cpu family', '?')} model {info.get('model', '?')})"


def tape_nll(em, tags, mask, start, end, trans):
    """Mean NLL of a batch with tape ops only. em (T, B, K) tensor, tags (T, B), mask (T, B)."""
    T, B, K_ = em.shape
    bidx = np.arange(B)
    alpha = start + em[0]                                           # (B, K)
    score = start[tags[0]] + em[0][bidx, tags[0]]                   # (B,)
    for t in range(1, T):
        x = alpha.reshape(B, K_, 1) + trans + em[t].reshape(B, 1, K_)    # (B, K, K): i -> j
        m = x.max(axis=1, keepdims=True).values.detach()
        nxt = (m + (x - m).exp().sum(axis=1, keepdims=True).log()).reshape(B, K_)
        alpha = mg.where(mask[t][:, None], nxt, alpha)
        step = trans[tags[t - 1], tags[t]] + em[t][bidx, tags[t]]
        score = score + mg.where(mask[t], step, 0.0)
    last = tags[mask.sum(axis=0) - 1, bidx]
    final = alpha + end
    m = final.max(axis=1, keepdims=True).values.detach()
    logz = (m + (final - m).exp().sum(axis=1, keepdims=True).log()).reshape(B)
    return (logz - score - end[last]).mean()


def timed(fn, min_time=0.02):
    """(wall seconds, process CPU seconds) per call of fn(): one batch of calls lasting >= min_time."""
    reps = 1
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if dt >= min_time:
            return dt / reps, dc / reps
        reps *= 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--threads", type=int, default=None, help="threads for minigrad and torch "
                    "(default: minigrad's current count)")
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    if args.threads:
        K.set_num_threads(args.threads)
    nt = K.get_num_threads()
    try:
        import torch
        import torchcrf
        torch.set_num_threads(nt)
        tver = f"torch {torch.__version__}, pytorch-crf {getattr(torchcrf, '__version__', '?')}"
    except ImportError:
        torch = torchcrf = None
        tver = "torch / pytorch-crf not installed"
    load = f"load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"# CPU: {cpu_name()}, {os.cpu_count()} cores, {load}; avx2+fma={K.cpu_has_avx2_fma()}, openmp={K.has_openmp()}, "
          f"threads={nt}; {tver}; dtype={dtype.name}; median of {args.repeat} interleaved repeats")
    print(f"{'B':>3s} {'T':>3s} {'K':>3s}  {'task':8s} {'variant':10s} {'wall ms':>9s} {'cpu ms':>9s} "
          f"{'torchcrf/x':>10s}")
    for (B, T, K_) in ((32, 40, 9), (32, 40, 17)):
        rng = np.random.default_rng(0)
        em = rng.normal(size=(T, B, K_)).astype(dtype)
        tags = rng.integers(0, K_, (T, B))
        lengths = rng.integers(T // 2, T + 1, B)
        lengths[0] = T
        mask = np.arange(T)[:, None] < lengths[None, :]
        crf = nn.CRF(K_, dtype=dtype)
        x = mg.tensor(em, requires_grad=True)

        def mg_c():
            x.grad = None
            crf(x, tags, mask=mask).backward()

        def mg_tape():
            x.grad = None
            tape_nll(x, tags, mask, crf.start_transitions, crf.end_transitions, crf.transitions).backward()

        tape = tape_nll(mg.tensor(em), tags, mask, crf.start_transitions, crf.end_transitions,
                        crf.transitions).item()
        assert abs(tape - crf(em, tags, mask=mask).item()) <= 1e-4 * abs(tape), "tape variant differs"
        variants = {"train": {"mg C": mg_c, "mg tape": mg_tape},
                    "viterbi": {"mg C": lambda: crf.decode(em, mask=mask)}}
        if torch is not None:
            tc = torchcrf.CRF(K_).to(torch.float32 if dtype == np.float32 else torch.float64)
            with torch.no_grad():
                for name in ("start_transitions", "end_transitions", "transitions"):
                    getattr(tc, name).copy_(torch.from_numpy(getattr(crf, name).data.copy()))
            xt = torch.from_numpy(em.copy()).requires_grad_()
            tt, mt = torch.from_numpy(tags), torch.from_numpy(mask)

            def torch_train():
                xt.grad = None
                (-tc(xt, tt, mt, reduction="mean")).backward()

            def torch_decode():
                with torch.no_grad():
                    tc.decode(xt, mt)
            variants["train"]["torchcrf"] = torch_train
            variants["viterbi"]["torchcrf"] = torch_decode
            # the same numbers first: the comparison is between equal computations
            ours = crf(em, tags, mask=mask).item()
            theirs = -tc(torch.from_numpy(em), tt, mt, reduction="mean").item()
            assert abs(ours - theirs) <= 1e-4 * abs(theirs), (ours, theirs)
            assert crf.decode(em, mask=mask) == tc.decode(torch.from_numpy(em), mt)
        for task, fns in variants.items():
            times = {name: [] for name in fns}
            for fn in fns.values():
                fn()                                              # warm up
            for _ in range(args.repeat):
                for name, fn in fns.items():
                    times[name].append(timed(fn))
            med = {name: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts))
                   for name, ts in times.items()}
            ref = med.get("torchcrf")
            for name, (wall, cpu) in med.items():
                ratio = f"{ref[0] / wall:10.2f}" if ref else f"{'-':>10s}"
                print(f"{B:3d} {T:3d} {K_:3d}  {task:8s} {name:10s} {wall * 1e3:9.3f} {cpu * 1e3:9.3f} {ratio}")


if __name__ == "__main__":
    main()
