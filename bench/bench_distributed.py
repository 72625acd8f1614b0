"""Data-parallel scaling of the char-LM (and a word-LM): measured on this machine, then modelled
for 2 ... 64 nodes on a 10 and a 100 Gbit/s network.

    OMP_WAIT_POLICY=passive python bench/bench_distributed.py            # ~3 minutes
    OMP_WAIT_POLICY=passive python bench/bench_distributed.py --quick    # fewer steps and sizes

It launches ``mpiexec -n 2`` itself (the same script with ``--worker ...``) and prints:

1. char-LM tokens/s (examples/char_lm.py's model: embedding 32 -> LSTM 1x128 -> linear, seq_len
   64, global batch 32, Adam, clipping) as 1 process x 2 threads vs 2 processes x 1 thread
   (DistributedDataParallel, batch 16 per rank). Random token ids: speed does not depend on them.
2. ``Allreduce`` time vs message size between the 2 processes of this machine (shared memory,
   MPICH), including the char-LM's and the word-LM's float32 gradient sizes.
3. A profile of one step of each model in one process (forward, backward, optimizer, and when
   during backward each DDP bucket becomes ready), then the modelled step time for p nodes:
   ``compute + exposed communication``, where the buckets' ring-allreduces
   (``2(p-1)/p * bytes / bandwidth + 2(p-1) * latency`` each) run one after another on the
   network, each starting when its bucket is ready and the previous one is done, and only what
   is left after backward ends is exposed. Weak scaling: each node keeps the per-node batch.

The machine is shared: every time is a median of several steps; look at same-run ratios, and
read the load average printed at the start and the end.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import char_lm  # noqa: E402  (the example's model class)

import minigrad as mg  # noqa: E402
import minigrad.distributed as dist  # noqa: E402
import minigrad.functional as F  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.optim as optim  # noqa: E402

# name: (vocab, embed, hidden, layers, per-node batch, seq_len); word-LM as PyTorch's example
MODELS = {"char-LM": (100, 32, 128, 1, 32, 64), "word-LM": (10_000, 200, 200, 2, 20, 35)}
NETWORKS = {"10 Gbit/s": (10e9 / 8, 20e-6), "100 Gbit/s": (100e9 / 8, 3e-6)}   # bytes/s, latency s
NODES = (1, 2, 4, 8, 16, 32, 64)


def make_model(name):
    vocab, embed, hidden, layers, _, _ = MODELS[name]
    mg.manual_seed(0)
    return char_lm.CharLM(vocab, embed, hidden, layers)


def grad_bytes(model):
    return sum(p.data.nbytes for p in model.parameters())


def timed_steps(name, batch, steps, threads, ddp_kwargs=None):
    """Median times of ``steps`` training steps: dict of fwd/bwd/opt seconds and bucket readiness.

    With ``ddp_kwargs`` the model is wrapped in DistributedDataParallel (the caller did init());
    ``ready`` is, per bucket, the median time after backward started at which it was ready.
    """
    vocab, _, _, _, _, seq = MODELS[name]
    mg.set_num_threads(threads)
    model = make_model(name)
    net = dist.DistributedDataParallel(model, **ddp_kwargs) if ddp_kwargs is not None else model
    params = list(model.parameters())
    opt = optim.Adam(params, lr=1e-3)
    rng = np.random.default_rng(dist.rank() if dist.is_initialized() else 0)
    started = {}                                     # bucket index -> time its Iallreduce started
    waited = []                                      # seconds in DDP's final Waitall + scaling
    if ddp_kwargs is not None:
        real_start, real_finish = net._start_ready, net._finish

        def stamped():
            k0, t = net._next, time.perf_counter()
            real_start()
            for k in range(k0, net._next):           # the buckets this call started
                started[k] = t

        def finish():
            t = time.perf_counter()
            real_finish()
            waited.append(time.perf_counter() - t)
        net._start_ready, net._finish = stamped, finish
    rows, hidden = [], None
    for i in range(steps + 2):                       # two warm-up steps
        ids = rng.integers(0, vocab, size=(seq + 1, batch))
        t0 = time.perf_counter()
        logits, hidden = net(ids[:-1], hidden)
        hidden = nn.utils.repackage_hidden(hidden)
        loss = F.cross_entropy(logits.reshape(-1, vocab), ids[1:].reshape(-1))
        opt.zero_grad()
        started.clear()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:
            rows.append((t1 - t0, t2 - t1, t3 - t2, [started[k] - t1 for k in sorted(started)],
                         waited[-1] if waited else 0.0))
    med = lambda xs: float(np.median(xs))            # noqa: E731
    out = {"fwd": med([r[0] for r in rows]), "bwd": med([r[1] for r in rows]), "opt": med([r[2] for r in rows])}
    if ddp_kwargs is not None:
        out["buckets"] = [int(sum(p.data.nbytes for p in b.params)) for b in net._buckets]
        out["ready"] = [med([r[3][k] for r in rows]) for k in range(len(net._buckets))]
        out["wait"] = med([r[4] for r in rows])
    return out


def allreduce_times(sizes, repeat):
    """Median seconds of a blocking in-place Allreduce of ``sizes`` bytes (float32) over the group."""
    from mpi4py import MPI
    comm = dist.get_comm()
    out = {}
    for nbytes in sizes:
        buf = np.ones(max(1, nbytes // 4), np.float32)
        times = []
        for i in range(repeat + 2):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t0)
        # the slowest rank's time is the collective's time: (median, best)
        out[nbytes] = [comm.allreduce(float(f(times[2:])), op=MPI.MAX) for f in (np.median, np.min)]
    return out


def worker(args):
    """Run under mpiexec: rank 0 prints one JSON line with the results."""
    dist.init()
    if args.worker == "train":
        name = args.model
        b = MODELS[name][4] // dist.world_size()
        kw = {} if args.cap is None else {"bucket_cap_mb": args.cap}
        res = timed_steps(name, b, args.steps, threads=1, ddp_kwargs=kw)
    else:
        res = allreduce_times([int(s) for s in args.sizes.split(",")], args.repeat)
    if dist.rank() == 0:
        print(json.dumps(res), flush=True)


def launch(args, *extra):
    exe = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    exe = exe if os.access(exe, os.X_OK) else shutil.which("mpiexec")
    if exe is None:
        sys.exit('mpiexec not found: pip install "minigrad[distributed]"')
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    cmd = [exe, "-n", "2", sys.executable, os.path.abspath(__file__), "--steps", str(args.steps),
           "--repeat", str(args.repeat), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def ring_time(nbytes, p, bandwidth, latency):
    """Ring allreduce of ``nbytes`` over ``p`` nodes (reduce-scatter + allgather)."""
    return 0.0 if p == 1 else 2 * (p - 1) / p * nbytes / bandwidth + 2 * (p - 1) * latency


def exposed_comm(prof, p, bandwidth, latency):
    """Communication left after backward ends: buckets sent in order, each once ready."""
    free = 0.0
    for nbytes, ready in zip(prof["buckets"], prof["ready"]):
        free = max(free, ready) + ring_time(nbytes, p, bandwidth, latency)
    return max(0.0, free - prof["bwd"])


def model_table(name, prof, label):
    vocab, _, _, _, batch, seq = MODELS[name]
    compute = prof["fwd"] + prof["bwd"] + prof["opt"]
    print(f"\n{name} ({label}): per node batch {batch} x seq {seq}, compute {compute * 1e3:.1f} ms/step "
          f"(fwd {prof['fwd'] * 1e3:.1f}, bwd {prof['bwd'] * 1e3:.1f}, opt {prof['opt'] * 1e3:.1f}); buckets "
          + ", ".join(f"{b / 2**20:.2f} MiB ready at {r * 1e3:.1f} ms" for b, r in zip(prof["buckets"], prof["ready"])))
    print(f"{'nodes':>5} " + " ".join(f"{n:>24}" for n in NETWORKS))
    print(f"{'':>5} " + " ".join(f"{'tokens/s   eff  exposed':>24}" for _ in NETWORKS))
    for p in NODES:
        cells = []
        for bw, lat in NETWORKS.values():
            step = compute + exposed_comm(prof, p, bw, lat)
            cells.append(f"{p * batch * seq / step:>10,.0f} {compute / step:5.2f} {(step - compute) * 1e3:6.1f}ms")
        print(f"{p:>5} " + " ".join(f"{c:>24}" for c in cells))


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="alternations of the 1x2 / 2x1 comparison")
    ap.add_argument("--worker", choices=["train", "allreduce"], help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="char-LM", help=argparse.SUPPRESS)
    ap.add_argument("--cap", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.steps, args.repeat, args.rounds = 6, 5, 1
    print(f"load average at start: {load()}  (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')})")
    dist.init()                                      # a group of one: DDP's bookkeeping in the profiles
    sizes = {name: grad_bytes(make_model(name)) for name in MODELS}

    # 1. char-LM: 1 process x 2 threads vs 2 processes x 1 thread, alternating (the load drifts)
    name, (_, _, _, _, batch, seq) = "char-LM", MODELS["char-LM"]
    print(f"\nchar-LM tokens/s (global batch {batch} x seq {seq}, median of {args.steps} steps per round):")
    for r in range(args.rounds):
        one = timed_steps(name, batch, args.steps, threads=2)
        two = launch(args, "--worker", "train", "--model", name)
        t1, t2 = sum(one[k] for k in ("fwd", "bwd", "opt")), sum(two[k] for k in ("fwd", "bwd", "opt"))
        print(f"  round {r + 1}: 1 process x 2 threads {batch * seq / t1:>8,.0f} ({t1 * 1e3:.1f} ms/step)   "
              f"2 processes x 1 thread {batch * seq / t2:>8,.0f} ({t2 * 1e3:.1f} ms/step, DDP, "
              f"batch {batch // 2}/rank)   ratio {t1 / t2:.2f}   load {load()}")

    # 2. Allreduce time vs size
    grid = [2**k for k in range(10, 26, 1 if not args.quick else 3)] + sorted(sizes.values())
    times = launch(args, "--worker", "allreduce", "--sizes", ",".join(map(str, sorted(set(grid)))))
    print("\nAllreduce (float32, in place, 2 processes on this machine, median):")
    print(f"{'bytes':>12} {'median us':>10} {'best us':>10} {'GB/s':>6}")
    for nbytes, (t, best) in sorted((int(k), v) for k, v in times.items()):
        tag = " ".join(f"<- {n} gradients" for n, s in sizes.items() if s == nbytes)
        print(f"{nbytes:>12,} {t * 1e6:>10.1f} {best * 1e6:>10.1f} {nbytes / t / 1e9:>6.2f} {tag}")

    # 2b. the overlap on this machine: 2 processes x 1 thread, word-LM, the time backward still
    # waits for the allreduce at its end (DDP's final Waitall), default buckets vs 1 MiB buckets
    steps = max(3, args.steps // 6)
    print(f"\nword-LM, 2 processes x 1 thread (batch {MODELS['word-LM'][4] // 2}/rank), median of {steps} steps:")
    for label, extra in (("default buckets", ()), ("bucket_cap_mb=1", ("--cap", "1"))):
        r = launch(args, "--worker", "train", "--model", "word-LM", "--steps", str(steps), *extra)
        print(f"  {label:16s}: backward {r['bwd'] * 1e3:7.1f} ms, of which waiting for the allreduce at the end "
              f"{r['wait'] * 1e3:6.1f} ms; buckets " + ", ".join(f"{b / 2**20:.2f} MiB @ {t * 1e3:.0f} ms"
                                                               for b, t in zip(r["buckets"], r["ready"])))

    # 3. profiles and the model (per node: this machine, 1 process x 2 threads)
    # (the char-LM's 0.38 MiB is one bucket whatever the cap; the word-LM's split matters)
    variants = [("char-LM", "default buckets", {}), ("word-LM", "default buckets: 1 MiB first, then 25 MiB", {}),
                ("word-LM", "bucket_cap_mb=1: decoder, LSTM layers, embedding apart", {"bucket_cap_mb": 1})]
    for name, label, kw in variants:
        prof = timed_steps(name, MODELS[name][4], max(4, args.steps // (1 if name == "char-LM" else 5)), 2, kw)
        model_table(name, prof, label)
    print(f"\nload average at end: {load()}")


if __name__ == "__main__":
    main()
