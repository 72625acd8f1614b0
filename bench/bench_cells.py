"""Benchmark the C sequence drivers of the recurrent cells against their GEMM floor.

One forward + backward of a single direction through kernels.<cell>_seq_forward/_backward
(float32) is timed and compared with the time of its recurrent GEMMs alone, measured with
kernels.gemm on the same shapes in the same run:
    forward step:  h_prev (B,H) @ W_hh^T (H,GH)     2*B*H*GH flops
    backward step: dgates (B,GH) @ W_hh (GH,H)      2*B*GH*H flops
so the floor is T * (t_fwd_gemm + t_bwd_gemm), each GEMM time minus the Python call overhead
(the time of a 1x1x1 kernels.gemm call), since the drivers call mg_gemm from C. "floor %" = floor / measured: 100% would mean
the pointwise gate math, caches and time loop cost nothing. The machine is shared and noisy:
every number is the best of several repeats.

    python bench/bench_cells.py [--repeats N] [--quick] [--threads N]
"""
import argparse
import time

import numpy as np

from minigrad import kernels as K

SIZES = [(32, 50, 64), (32, 50, 128), (32, 50, 256), (64, 100, 512)]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_cell(kind, gx, h0, w, dout):
    if kind == "lstm":
        out, h_n, c_n, cache = K.lstm_seq_forward(gx, h0, h0, w)
        K.lstm_seq_backward(dout, None, None, cache, w)
    elif kind == "gru":
        out, h_n, cache = K.gru_seq_forward(gx, h0, w)
        K.gru_seq_backward(dout, None, cache, w)
    else:
        out, h_n, cache = K.rnn_seq_forward(gx, h0, w)
        K.rnn_seq_backward(dout, None, cache, w)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="skip the largest size")
    ap.add_argument("--threads", type=int, default=0, help="thread count (default: all)")
    args = ap.parse_args()
    if args.threads:
        K.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    one, one_out = np.ones((1, 1), np.float32), np.empty((1, 1), np.float32)
    overhead = best_of(lambda: [K.gemm(one, one, out=one_out) for _ in range(1000)], 20) / 1000
    print(f"threads={K.get_num_threads()}  float32, one direction, forward+backward; "
          f"Python gemm call overhead {overhead * 1e6:.1f} us (subtracted from the floor)")
    print(f"{'cell':5} {'B':>3} {'T':>4} {'H':>4} {'fwd+bwd ms':>11} {'GEMM floor ms':>14} "
          f"{'GEMM GF/s':>10} {'floor %':>8}")
    for B, T, H in SIZES[:-1] if args.quick else SIZES:
        reps = args.repeats if H < 512 else max(2, args.repeats // 2)
        for kind, G in GATES.items():
            gx = rng.standard_normal((T, B, G * H)).astype(np.float32)
            h0 = rng.standard_normal((B, H)).astype(np.float32) * 0.1
            w = (rng.standard_normal((G * H, H)) / np.sqrt(H)).astype(np.float32)
            dout = rng.standard_normal((T, B, H)).astype(np.float32)
            dg = rng.standard_normal((B, G * H)).astype(np.float32)
            fo, bo = np.empty((B, G * H), np.float32), np.empty((B, H), np.float32)
            # the floor: the same GEMMs the step kernels run, repeated over T steps
            inner = max(1, 20 if H < 512 else 5)
            t_f = best_of(lambda: [K.gemm(h0, w, trans_b=True, out=fo) for _ in range(inner)], reps) / inner
            t_b = best_of(lambda: [K.gemm(dg, w, out=bo) for _ in range(inner)], reps) / inner
            t_f, t_b = max(t_f - overhead, 1e-9), max(t_b - overhead, 1e-9)
            floor = T * (t_f + t_b)
            t = best_of(lambda: run_cell(kind, gx, h0, w, dout), reps)
            gflops = 4.0 * B * G * H * H / (t_f + t_b) / 1e9
            print(f"{kind:5} {B:3d} {T:4d} {H:4d} {t * 1e3:11.2f} {floor * 1e3:14.2f} "
                  f"{gflops:10.2f} {100 * floor / t:7.1f}%", flush=True)


if __name__ == "__main__":
    main()
