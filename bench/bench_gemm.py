"""GEMM benchmark: minigrad's packed GEMM against NumPy (OpenBLAS) in the same run.

    python bench/bench_gemm.py            # full table (about 2-3 minutes)
    python bench/bench_gemm.py --quick    # a small subset
    python bench/bench_gemm.py --shapes 64x1024x256 --dtypes float32 --threads 2

Prints GFLOPS (2*M*N*K / time) for ``minigrad.kernels.gemm`` and ``numpy.matmul`` with the ratio
minigrad/NumPy (> 1: minigrad faster), for square n and the recurrent gate shapes
(M = batch 32/64 rows, K = 64..512, N = 4K: ``x @ W`` of an LSTM with hidden size K), both
dtypes, 1 and 2 threads; then the per-call time of a 4x4 GEMM through the full Python path.

Thread control of NumPy: with ``threadpoolctl`` installed its BLAS pool is limited in-process
(``threadpool_limits``); without it the script re-runs itself once per thread count in a
subprocess with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS set (the header line
says which method was used). threadpoolctl is optional, never a dependency.

Timing on a shared, noisy machine: each measurement is the best (minimum) over several rounds of
a timed block of calls (each block >= ~5 ms). Before timing one library the script sleeps
briefly, because both OpenBLAS and libgomp keep their idle worker threads spinning for a while
after a call, and those spinning threads would steal the core the other library wants.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # optional
    threadpool_limits = None

from minigrad import kernels as K

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_softmax import cpu_name  # noqa: E402

SQUARE = [64, 128, 256, 512, 1024, 2048]
RECURRENT = [(m, 4 * k, k) for m in (32, 64) for k in (64, 128, 256, 512)]  # (M, N, K)
QUICK_SQUARE = [64, 256, 1024]
QUICK_RECURRENT = [(32, 256, 64), (64, 1024, 256)]


def best_time(fn, rounds, block_s=0.005):
    """Minimum seconds per call over `rounds` timed blocks of calls."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(block_s / one))
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def measure(shape, dtype, rounds, passes):
    m, n, k = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = np.empty((m, n), dtype)
    t_mg = t_np = float("inf")
    for _ in range(passes):  # alternate the two libraries, keep the best of each
        time.sleep(0.15)
        t_mg = min(t_mg, best_time(lambda: K.gemm(a, b, out=c), rounds))
        time.sleep(0.15)
        t_np = min(t_np, best_time(lambda: np.matmul(a, b, out=c), rounds))
    flops = 2.0 * m * n * k
    return flops / t_mg / 1e9, flops / t_np / 1e9


def run_table(threads, dtypes, shapes, rounds, passes):
    rows = []
    K.set_num_threads(threads)
    for dt in dtypes:
        for name, shape in shapes:
            g_mg, g_np = measure(shape, np.dtype(dt), rounds, passes)
            rows.append(dict(threads=threads, dtype=dt, name=name, shape=shape, mg=g_mg, np=g_np))
            print(f"{threads:>2} {dt:>8} {name:>14} {g_mg:9.1f} {g_np:9.1f} {g_mg / g_np:7.2f}",
                  flush=True)
    return rows


def small_call_overhead(rounds):
    """Per-call microseconds of a 4x4 float32 and float64 GEMM through the Python wrapper."""
    out = []
    K.set_num_threads(1)
    for dt in (np.float32, np.float64):
        a = np.random.rand(4, 4).astype(dt)
        b = np.random.rand(4, 4).astype(dt)
        c = np.empty((4, 4), dt)
        t_mg = best_time(lambda: K.gemm(a, b), rounds, 0.02)
        t_mgo = best_time(lambda: K.gemm(a, b, out=c), rounds, 0.02)
        t_np = best_time(lambda: np.matmul(a, b), rounds, 0.02)
        out.append((np.dtype(dt).name, t_mg * 1e6, t_mgo * 1e6, t_np * 1e6))
    return out


def openblas_core():
    """The kernel family NumPy's OpenBLAS runs (threadpoolctl's 'architecture'), or 'unknown'."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (no threadpoolctl)"
    cores = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
    return ", ".join(str(c) for c in cores) or "unknown (no OpenBLAS found)"


def parse_shape(s):
    """'MxNxK' or 'n^3' -> (name, (M, N, K))."""
    if s.endswith("^3"):
        n = int(s[:-2])
        return (s, (n, n, n))
    m, n, k = (int(v) for v in s.lower().split("x"))
    return (f"{m}x{n}x{k}", (m, n, k))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small subset, fewer repeats")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--shapes", nargs="+", type=parse_shape, help="MxNxK, overrides the defaults")
    ap.add_argument("--rounds", type=int, default=None, help="timed blocks per pass")
    ap.add_argument("--passes", type=int, default=None, help="alternations minigrad/NumPy")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    rounds = args.rounds or (4 if args.quick else 7)
    passes = args.passes or (2 if args.quick else 3)
    if args.shapes:
        shapes = args.shapes
    else:
        sq = QUICK_SQUARE if args.quick else SQUARE
        rec = QUICK_RECURRENT if args.quick else RECURRENT
        shapes = [(f"{n}^3", (n, n, n)) for n in sq] + [(f"{m}x{n}x{k}", (m, n, k)) for m, n, k in rec]

    if args.child:  # one thread count, NumPy's threads fixed by the environment
        rows = run_table(args.threads[0], args.dtypes, shapes, rounds, passes)
        print("JSON " + json.dumps(rows))
        return

    method = ("threadpoolctl.threadpool_limits" if threadpool_limits is not None
              else "OPENBLAS/OMP/MKL_NUM_THREADS in a subprocess per thread count")
    print(f"# minigrad GEMM vs numpy.matmul ({np.__version__}); NumPy threads via {method}")
    print(f"# CPU: {cpu_name()}; OpenBLAS core type: {openblas_core()} "
          f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    print(f"# GFLOPS = 2*M*N*K/time, best of {passes} passes x {rounds} blocks; ratio = minigrad/numpy")
    print(f"# shapes are M x N x K (C is M x N); simd={K.cpu_has_avx2_fma()}, openmp={K.has_openmp()}")
    print(f"{'th':>2} {'dtype':>8} {'shape':>14} {'minigrad':>9} {'numpy':>9} {'ratio':>7}")
    for nt in args.threads:
        if threadpool_limits is not None:
            with threadpool_limits(limits=nt, user_api="blas"):
                run_table(nt, args.dtypes, shapes, rounds, passes)
        else:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(nt), OMP_NUM_THREADS=str(nt),
                       MKL_NUM_THREADS=str(nt))
            cmd = [sys.executable, __file__, "--child", "--threads", str(nt), "--rounds",
                   str(rounds), "--passes", str(passes), "--dtypes", *args.dtypes,
                   "--shapes", *[n for n, _ in shapes]]
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if res.returncode != 0:
                sys.exit(res.stderr)
            for line in res.stdout.splitlines():
                if not line.startswith("JSON "):
                    print(line)

    print("\n# 4x4 GEMM, microseconds per call (1 thread)")
    print(f"{'dtype':>8} {'kernels.gemm':>13} {'gemm(out=)':>11} {'np.matmul':>10}")
    for dt, t_mg, t_mgo, t_np in small_call_overhead(rounds=9 if args.quick else 21):
        print(f"{dt:>8} {t_mg:13.2f} {t_mgo:11.2f} {t_np:10.2f}")


if __name__ == "__main__":
    main()
