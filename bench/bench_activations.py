"""Throughput of minigrad's tanh / sigmoid kernels against NumPy, in one run.

    python bench/bench_activations.py [--repeat R]

For n in {1e3, 1e5, 1e7} and float32/float64 it prints elements per second (best of R timed
batches) for
  minigrad (all threads), minigrad (1 thread), and the NumPy reference
  np.tanh(x)  /  1 / (1 + np.exp(-x)),
and the ratio minigrad / NumPy (> 1: minigrad is faster). NumPy's ufuncs are single-threaded,
so the 1-thread column is the like-for-like comparison. Every variant allocates its output.
The machine may be shared and noisy: only best-of timings and same-run ratios mean anything.
"""
import argparse
import time

import numpy as np

from minigrad import kernels as K


def best_rate(fn, n, repeat):
    """Elements per second of fn(), best of `repeat` batches lasting >= ~0.05 s each."""
    fn()
    reps = 1
    while True:                                    # calibrate the batch size
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = time.perf_counter() - t0
        if dt >= 0.05 or reps >= 1 << 16:
            break
        reps *= 4
    best = dt / reps
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return n / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    nthreads = K.get_num_threads()
    print(f"threads={nthreads}  openmp={K.has_openmp()}  avx2+fma={K.cpu_has_avx2_fma()}")
    print(f"{'op':8s} {'dtype':8s} {'n':>9s} {'mg Gel/s':>9s} {'mg 1t':>9s} {'numpy':>9s}"
          f" {'mg/np':>7s} {'mg1t/np':>8s}")
    ops = [
        ("tanh", K.tanh_forward, np.tanh),
        ("sigmoid", K.sigmoid_forward, lambda x: 1 / (1 + np.exp(-x))),
    ]
    for name, mg_fn, np_fn in ops:
        for dtype in (np.float32, np.float64):
            for n in (10**3, 10**5, 10**7):
                x = (rng.standard_normal(n) * 3).astype(dtype)
                try:
                    K.set_num_threads(nthreads)
                    r_mg = best_rate(lambda: mg_fn(x), n, args.repeat)
                    K.set_num_threads(1)
                    r_1t = best_rate(lambda: mg_fn(x), n, args.repeat)
                finally:
                    K.set_num_threads(nthreads)
                with np.errstate(over="ignore"):
                    r_np = best_rate(lambda: np_fn(x), n, args.repeat)
                print(f"{name:8s} {np.dtype(dtype).name:8s} {n:9d} {r_mg / 1e9:9.3f} {r_1t / 1e9:9.3f}"
                      f" {r_np / 1e9:9.3f} {r_mg / r_np:7.2f} {r_1t / r_np:8.2f}")


if __name__ == "__main__":
    main()
