"""Benchmark one training step of the recurrent layers: minigrad vs hand-written NumPy vs PyTorch.

One step = forward over the whole sequence, MSE loss on all outputs, backward, Adam step, for
RNN (tanh), LSTM and GRU, one layer, float32, at (B, T, I, H) in SIZES. Reported: tokens per second
(B*T / step time) for
    minigrad        nn.RNN/LSTM/GRU, fused time loop in C (the default, unroll=False)
    mg unroll       the same layer with unroll=True (one tape node per time step)
    numpy           a hand-written NumPy implementation (forward + BPTT by hand, one big input
                    GEMM, per-step recurrent matmul, big weight-gradient GEMMs, NumPy Adam)
    torch           torch.nn.RNN/LSTM/GRU + torch.optim.Adam on the CPU (if installed)
and mg/torch = minigrad throughput / PyTorch throughput (> 1: minigrad faster).

The machine is shared and noisy: the frameworks are interleaved inside every repetition (so load
changes hit all of them alike) and the best (and median) of the repetitions is reported; the load
average is printed. Thread count: mg.set_num_threads and torch.set_num_threads (default 2).

Also measured:
  * peak memory of one LSTM training step at T=1000 (B=32, I=H=256), each framework in a fresh
    subprocess: peak RSS (ru_maxrss) minus the RSS after imports, model, optimizer and data
    creation (so weights, data and the optimizer object are not counted; the Adam state and
    everything the step allocates are);
  * the GEMM floor of the largest LSTM step: the time kernels.gemm takes for the step's GEMMs
    alone (input projection, recurrent GEMMs forward and backward at every step, weight-gradient
    GEMMs), measured on those shapes in the same run, vs the measured minigrad step.

    python bench/bench_rnn.py [--quick] [--threads N] [--repeats N] [--no-memory]
    python bench/bench_rnn.py --baseline /path/to/other/venv/bin/python   # before/after a change

``--baseline PYTHON`` adds the columns "mg baseline" (and "unroll baseline" when "mg unroll" is
timed): the same minigrad steps run by another
interpreter (one with another build of minigrad installed, e.g. the last commit's), in its own
worker process, interleaved step by step with the others (it implies --isolate), and reports
mg/baseline (> 1: this build faster).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

# A worker or memory child (--worker / --memory-child FW) imports only its own framework:
# importing another one changes process-wide state -- a second OpenMP runtime, minigrad's malloc
# thresholds (minigrad/kernels/common.py), the heap's history -- and with it the measured framework.
_ROLE = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a in ("--worker", "--memory-child")),
             None)
if _ROLE in (None, "minigrad", "mg unroll"):
    import minigrad as mg
    from minigrad import kernels as K
    from minigrad import nn
    from minigrad import functional as F
    from minigrad.optim import Adam
else:
    mg = None
torch = None
if _ROLE in (None, "torch"):
    try:
        import torch
    except ImportError:   # the minigrad and NumPy columns still run
        pass

SIZES = [(32, 50, 32, 64), (32, 50, 64, 128), (32, 50, 128, 256), (64, 100, 256, 512)]
KINDS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LR = 1e-3
PNAME = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}


# ----------------------------------------------------------------------------- NumPy by hand
def _sigmoid(x, out=None):
    """1 / (1 + exp(-x)) in place-friendly form (float32 stays float32)."""
    out = np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


class NumpyRNN:
    """One layer of RNN/LSTM/GRU trained by hand: forward + BPTT + Adam, written for speed.

    Forward: gx = X (T*B, I) @ W_ih^T + biases in one GEMM, then per step one recurrent matmul
    h_prev @ W_hh^T and the vectorised gate math. Backward: per step the gate gradients into a
    (T, B, GH) buffer and dh_prev = dG @ W_hh; afterwards dW_ih, dW_hh, the biases as big GEMMs
    and sums over all steps. Equations as minigrad/reference/rnn.py (PyTorch's).
    """

    def __init__(self, kind, params):
        self.kind = kind
        self.p = {k: v.copy() for k, v in params.items()}
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, x, y):
        kind, p = self.kind, self.p
        T, B, I = x.shape
        GH, H = p["w_hh"].shape
        dt = x.dtype
        x2 = x.reshape(T * B, I)
        gx = (x2 @ p["w_ih"].T).reshape(T, B, GH)
        gx += p["b_ih"]
        if kind == "gru":
            gx[..., :2 * H] += p["b_hh"][:2 * H]
            b_hn = p["b_hh"][2 * H:]
        else:
            gx += p["b_hh"]
        w_hh_T = p["w_hh"].T
        hs = np.empty((T + 1, B, H), dt)        # hs[t] = state entering step t; hs[T] = last
        hs[0] = 0
        if kind == "lstm":
            cs = np.empty((T + 1, B, H), dt)
            cs[0] = 0
            acts = np.empty((T, B, GH), dt)     # i, f, g, o after their nonlinearity
            tcs = np.empty((T, B, H), dt)
            for t in range(T):
                a = acts[t]
                np.matmul(hs[t], w_hh_T, out=a)
                a += gx[t]
                _sigmoid(a[:, :2 * H], out=a[:, :2 * H])
                np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
                _sigmoid(a[:, 3 * H:], out=a[:, 3 * H:])
                c = np.multiply(a[:, H:2 * H], cs[t], out=cs[t + 1])
                c += a[:, :H] * a[:, 2 * H:3 * H]
                np.tanh(c, out=tcs[t])
                np.multiply(a[:, 3 * H:], tcs[t], out=hs[t + 1])
        elif kind == "gru":
            acts = np.empty((T, B, GH), dt)     # r, z, n
            hns = np.empty((T, B, H), dt)
            for t in range(T):
                a = acts[t]
                gh = hs[t] @ w_hh_T
                np.add(gh[:, 2 * H:], b_hn, out=hns[t])
                np.add(gx[t, :, :2 * H], gh[:, :2 * H], out=a[:, :2 * H])
                _sigmoid(a[:, :2 * H], out=a[:, :2 * H])
                n = np.multiply(a[:, :H], hns[t], out=a[:, 2 * H:])
                n += gx[t, :, 2 * H:]
                np.tanh(n, out=n)
                h = np.subtract(hs[t], n, out=hs[t + 1])   # h = n + z * (h_prev - n)
                h *= a[:, H:2 * H]
                h += n
        else:
            for t in range(T):
                h = np.matmul(hs[t], w_hh_T, out=hs[t + 1])
                h += gx[t]
                np.tanh(h, out=h)
        out = hs[1:]
        # MSE over all outputs: L = mean((out - y)^2); dL/dout = 2 (out - y) / N
        diff = out - y
        loss = float(np.mean(diff * diff))
        dout = diff
        dout *= 2.0 / diff.size
        # BPTT
        w_hh = p["w_hh"]
        dG = np.empty((T, B, GH), dt)
        dGh = np.empty((T, B, GH), dt) if kind == "gru" else dG
        dh = np.zeros((B, H), dt)
        if kind == "lstm":
            dc = np.zeros((B, H), dt)
            for t in range(T - 1, -1, -1):
                dh += dout[t]
                a, tc = acts[t], tcs[t]
                i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
                d = dG[t]
                dc += dh * o * (1 - tc * tc)
                np.multiply(dh * tc, o * (1 - o), out=d[:, 3 * H:])
                np.multiply(dc * g, i * (1 - i), out=d[:, :H])
                np.multiply(dc * cs[t], f * (1 - f), out=d[:, H:2 * H])
                np.multiply(dc * i, 1 - g * g, out=d[:, 2 * H:3 * H])
                dc *= f
                dh = d @ w_hh
        elif kind == "gru":
            for t in range(T - 1, -1, -1):
                dh += dout[t]
                a = acts[t]
                r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
                d, dgh = dG[t], dGh[t]
                dn = np.multiply(dh * (1 - z), 1 - n * n, out=d[:, 2 * H:])
                np.multiply(dh * (hs[t] - n), z * (1 - z), out=d[:, H:2 * H])
                np.multiply(dn * hns[t], r * (1 - r), out=d[:, :H])
                dgh[:, :2 * H] = d[:, :2 * H]
                np.multiply(dn, r, out=dgh[:, 2 * H:])
                dh = dh * z
                dh += dgh @ w_hh
        else:
            for t in range(T - 1, -1, -1):
                dh += dout[t]
                h = hs[t + 1]
                d = np.multiply(dh, 1 - h * h, out=dG[t])
                dh = d @ w_hh
        # weight gradients as big GEMMs over all steps
        dG2, dGh2 = dG.reshape(T * B, GH), dGh.reshape(T * B, GH)
        grads = {"w_ih": dG2.T @ x2, "w_hh": dGh2.T @ hs[:T].reshape(T * B, H),
                 "b_ih": dG2.sum(axis=0), "b_hh": dGh2.sum(axis=0)}
        self._adam(grads)
        return loss

    def _adam(self, grads, beta1=0.9, beta2=0.999, eps=1e-8):
        self.t += 1
        bc1, bc2 = 1 - beta1 ** self.t, 1 - beta2 ** self.t
        for k, g in grads.items():
            m, v, w = self.m[k], self.v[k], self.p[k]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            g *= g
            g *= 1 - beta2
            v += g
            denom = np.sqrt(v, out=g)
            denom *= 1 / bc2 ** 0.5
            denom += eps
            np.divide(m, denom, out=denom)
            denom *= LR / bc1
            w -= denom


# ----------------------------------------------------------------------------- the three setups
def make_params(kind, I, H, rng):
    GH, bound = GATES[kind] * H, 1 / np.sqrt(H)
    u = lambda *s: rng.uniform(-bound, bound, s).astype(np.float32)
    return {"w_ih": u(GH, I), "w_hh": u(GH, H), "b_ih": u(GH), "b_hh": u(GH)}


def minigrad_step_fn(kind, params, x, y, unroll=False):
    I, H = x.shape[2], params["w_hh"].shape[1]
    model = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, unroll=unroll)
    for k, v in params.items():
        getattr(model, PNAME[k]).data[...] = v
    opt = Adam(model.parameters(), lr=LR)
    xt, yt = mg.Tensor(x), mg.Tensor(y)

    def step():
        opt.zero_grad()
        out, _ = model(xt)
        loss = F.mse_loss(out, yt)
        loss.backward()
        opt.step()
        return float(loss.item())
    return step


def torch_step_fn(kind, params, x, y):
    I, H = x.shape[2], params["w_hh"].shape[1]
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    model = cls(I, H)
    with torch.no_grad():
        for k, v in params.items():
            getattr(model, PNAME[k]).copy_(torch.from_numpy(v))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        out, _ = model(xt)
        loss = torch.nn.functional.mse_loss(out, yt)
        loss.backward()
        opt.step()
        return float(loss.item())
    return step


def numpy_step_fn(kind, params, x, y):
    net = NumpyRNN(kind, params)
    return lambda: net.step(x, y)


def case_data(kind, B, T, I, H, seed=0):
    rng = np.random.default_rng(seed)
    params = make_params(kind, I, H, rng)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    y = rng.standard_normal((T, B, H)).astype(np.float32) * 0.5
    return params, x, y


# ----------------------------------------------------------------------------- timing
def time_case(kind, size, repeats, frameworks):
    B, T, I, H = size
    params, x, y = case_data(kind, B, T, I, H)
    fns = {"minigrad": minigrad_step_fn(kind, params, x, y),
           "mg unroll": minigrad_step_fn(kind, params, x, y, unroll=True),
           "numpy": numpy_step_fn(kind, params, x, y)}
    if torch is not None:
        fns["torch"] = torch_step_fn(kind, params, x, y)
    fns = {k: v for k, v in fns.items() if k in frameworks}
    def timed(name):
        t0 = time.perf_counter()
        fns[name]()
        return time.perf_counter() - t0
    return alternate({name: fn() for name, fn in fns.items()}, timed, f"{kind} {size}", repeats)


# Before every timed step, wait until the cores are idle. Every framework leaves threads spinning
# after its work: OpenMP teams (minigrad, PyTorch) for a few ms, OpenBLAS's threads (the NumPy
# column) for ~110 ms on this machine, a full core each. A fixed pause shorter than that let
# the NumPy step slow down whatever ran next.
QUIET_WINDOW, QUIET_BUSY, QUIET_MAX = 0.01, 0.10, 0.5   # s, busy fraction of all cores, s


def _cpu_times():
    """(busy, total) jiffies of all cores from /proc/stat (None where it does not exist)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)           # idle + iowait
    return sum(v) - idle, sum(v)


def wait_until_idle():
    """Sleep until one QUIET_WINDOW passes with the machine at most QUIET_BUSY busy (at most
    QUIET_MAX in all; a fixed QUIET_MAX pause where /proc/stat is missing)."""
    end = time.perf_counter() + QUIET_MAX
    prev = _cpu_times()
    if prev is None:
        time.sleep(QUIET_MAX)
        return
    while time.perf_counter() < end:
        time.sleep(QUIET_WINDOW)
        cur = _cpu_times()
        busy, total = cur[0] - prev[0], cur[1] - prev[1]
        prev = cur
        if total > 0 and busy <= QUIET_BUSY * total:
            return


def alternate(first_losses, run_step, label, repeats):
    """Check that every framework's first-step loss agrees (same weights, same data -- a cheap
    sanity check), then time ``run_step(name)`` for all frameworks, alternating who goes first."""
    ref = first_losses["torch"] if "torch" in first_losses else next(iter(first_losses.values()))
    for name, l in first_losses.items():
        if abs(l - ref) > 1e-4 * max(1.0, abs(ref)):
            raise RuntimeError(f"{label}: first-step loss of {name} is {l}, reference {ref}")
    names = list(first_losses)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            wait_until_idle()   # no other framework's threads still spinning on our cores
            times[name].append(run_step(name))
    return times


def repeats_for(size, base):
    B, T, I, H = size
    work = B * T * H * (I + H)
    return max(base, min(base * 6, int(base * 3e8 / work)))


# ----------------------------------------------------------------------------- GEMM floor
def gemm_floor(kind, size, repeats=5):
    """Seconds kernels.gemm needs for the GEMMs of one training step (no dx: x has no grad),
    and the best minigrad step time measured in alternation with them (the same quiet or busy
    moments for both, so their ratio holds even when the machine's speed drifts)."""
    B, T, I, H = size
    GH = GATES[kind] * H
    rng = np.random.default_rng(1)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)
    x2, w_ih, w_hh = r(T * B, I), r(GH, I), r(GH, H)
    h, dg, gxo, dho = r(B, H), r(B, GH), np.empty((B, GH), np.float32), np.empty((B, H), np.float32)
    dgx2, hprev2 = r(T * B, GH), r(T * B, H)
    gx = np.empty((T * B, GH), np.float32)
    dwih, dwhh = np.zeros((GH, I), np.float32), np.zeros((GH, H), np.float32)
    one, one_out = np.ones((1, 1), np.float32), np.empty((1, 1), np.float32)

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    one_gemm = lambda: K.gemm(one, one, out=one_out)
    fns = {   # (function, how many GEMM calls it makes)
        "input projection": (lambda: K.gemm(x2, w_ih, trans_b=True, out=gx), 1),
        "recurrent fwd x T": (lambda: [K.gemm(h, w_hh, trans_b=True, out=gxo) for _ in range(T)], T),
        "recurrent bwd x T": (lambda: [K.gemm(dg, w_hh, beta=1.0, out=dho) for _ in range(T)], T),
        "dW_ih": (lambda: K.gemm(dgx2, x2, trans_a=True, beta=1.0, out=dwih), 1),
        "dW_hh": (lambda: K.gemm(dgx2, hprev2, trans_a=True, beta=1.0, out=dwhh), 1),
    }
    params, xs, ys = case_data(kind, *size)
    step = minigrad_step_fn(kind, params, xs, ys)
    step()
    best = {k: float("inf") for k in list(fns) + ["overhead", "step"]}
    for _ in range(repeats):
        wait_until_idle()
        best["step"] = min(best["step"], timed(step))
        wait_until_idle()
        # Python cost of one kernels.gemm call (the C time loop calls mg_gemm directly)
        best["overhead"] = min(best["overhead"], timed(lambda: [one_gemm() for _ in range(200)]) / 200)
        for k, (fn, calls) in fns.items():
            best[k] = min(best[k], timed(fn))
    parts = {k: best[k] - calls * best["overhead"] for k, (fn, calls) in fns.items()}
    flops = 2 * T * B * (I * GH + H * GH + GH * H + GH * I + GH * H)
    return parts, flops, best["step"]


# ----------------------------------------------------------------------------- memory
MEM_B, MEM_T, MEM_I, MEM_H = 32, 1000, 256, 256


def _rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _vm_hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(framework, threads):
    """Run in a fresh process: print the peak RSS growth (bytes) of one LSTM training step."""
    if mg is not None:
        mg.set_num_threads(threads)
    params, x, y = case_data("lstm", MEM_B, MEM_T, MEM_I, MEM_H)
    if framework == "torch":
        torch.set_num_threads(threads)
        step = torch_step_fn("lstm", params, x, y)
    elif framework == "numpy":
        step = numpy_step_fn("lstm", params, x, y)
    else:
        step = minigrad_step_fn("lstm", params, x, y, unroll=framework == "mg unroll")
    # Reset the kernel's peak-RSS mark (VmHWM) so setup allocations cannot hide the step's
    # peak, then read the new mark after one step.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _rss_now()
    step()
    print(_vm_hwm() - base)


def measure_memory(frameworks, threads):
    res = {}
    for fw in frameworks:
        out = subprocess.run([sys.executable, __file__, "--memory-child", fw, "--threads", str(threads)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            res[fw] = f"failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}"
        else:
            res[fw] = out.stdout.strip()
    return res


# ----------------------------------------------------------------------------- main
BASELINE = "mg baseline"
# the baseline build's workers: column name -> the step they run
BASELINE_ROLES = {BASELINE: "minigrad", "unroll baseline": "mg unroll"}


class Worker:
    """One framework in its own process (--isolate): no OpenMP runtime of another framework spins
    on the cores while this one runs, yet the frameworks still alternate step by step."""

    def __init__(self, fw, threads, python=None):
        # "mg baseline" is the minigrad step run by another interpreter (another minigrad build)
        role = BASELINE_ROLES.get(fw, fw)
        self.p = subprocess.Popen([python or sys.executable, __file__, "--worker", role, "--threads", str(threads)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        return float(self.p.stdout.readline())

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.wait()


def worker_loop(fw, threads):
    """--worker: 'case KIND I' builds that case's step and answers its first loss; 'step' answers
    the time of one step."""
    if mg is not None:
        mg.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    step = None
    for line in sys.stdin:
        cmd = line.split()
        if cmd[0] == "quit":
            return
        if cmd[0] == "case":
            kind, size = cmd[1], SIZES[int(cmd[2])]
            params, x, y = case_data(kind, *size)
            make = {"minigrad": lambda: minigrad_step_fn(kind, params, x, y),
                    "mg unroll": lambda: minigrad_step_fn(kind, params, x, y, unroll=True),
                    "numpy": lambda: numpy_step_fn(kind, params, x, y),
                    "torch": lambda: torch_step_fn(kind, params, x, y)}[fw]
            step = make()
            print(step(), flush=True)
        else:
            t0 = time.perf_counter()
            step()
            print(time.perf_counter() - t0, flush=True)


def time_case_isolated(workers, kind, size_index, repeats):
    losses = {fw: w.ask(f"case {kind} {size_index}") for fw, w in workers.items()}
    return alternate(losses, lambda fw: workers[fw].ask("step"), f"{kind} {size_index}", repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two smallest sizes, fewer repeats, no memory run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5, help="base repetition count (scaled up for small sizes)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--sizes", default="", help="indices into SIZES, e.g. 0,3")
    ap.add_argument("--frameworks", default="minigrad,mg unroll,numpy,torch")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the peak-memory measurement")
    ap.add_argument("--isolate", action="store_true",
                    help="each framework in its own worker process, still alternating step by step (no "
                         "OpenMP runtime of one framework spinning while the other runs)")
    ap.add_argument("--baseline", default=None, metavar="PYTHON",
                    help="also time the minigrad step under this interpreter (another minigrad build); "
                         "implies --isolate")
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.threads)
        return
    if args.worker:
        worker_loop(args.worker, args.threads)
        return
    mg.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if args.memory_only:
        args.kinds, args.no_floor, args.quick = "", True, False
    kinds = [k for k in args.kinds.split(",") if k]
    sizes = [SIZES[int(i)] for i in args.sizes.split(",")] if args.sizes else (SIZES[:2] if args.quick else SIZES)
    repeats = 3 if args.quick else args.repeats
    frameworks = [f for f in args.frameworks.split(",") if f != "torch" or torch is not None]
    if args.baseline:
        frameworks += [b for b, role in BASELINE_ROLES.items() if role in frameworks]
        args.isolate = True
        # run from bench/: `python -c` puts the working directory first on sys.path, and from the
        # repository root that would import this checkout's unbuilt minigrad/ instead of the baseline's
        base_ver = subprocess.run([args.baseline, "-c", "import minigrad; print(minigrad.__file__)"],
                                  capture_output=True, text=True, check=True,
                                  cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        print(f"baseline: {args.baseline} (minigrad from {base_ver}); this build: {mg.__file__}")
    load = os.getloadavg()
    print(f"threads={args.threads}  float32  one layer, one training step (forward, MSE on all outputs, "
          f"backward, Adam)")
    print(f"torch {torch.__version__ if torch else 'not installed'}  numpy {np.__version__}  "
          f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("tokens/s = B*T / step time; best of N interleaved repetitions (median in parentheses)")
    cols = frameworks
    head = f"{'cell':5} {'B':>3} {'T':>4} {'I':>4} {'H':>4} {'N':>3} " + " ".join(f"{c + ' tok/s':>22}" for c in cols)
    if "torch" in cols and "minigrad" in cols:
        head += f" {'mg/torch':>9} {'unroll/torch':>13}"
    if BASELINE in cols:
        head += f" {'mg/baseline':>12}"
    if "unroll baseline" in cols:
        head += f" {'unroll/baseline':>16}"
    print(head)
    workers = ({fw: Worker(fw, args.threads, args.baseline if fw in BASELINE_ROLES else None) for fw in frameworks}
               if args.isolate else None)
    ratios, base_ratios, unroll_base_ratios, rows = [], [], [], []
    for si, size in enumerate(sizes):
        for kind in kinds:
            B, T, I, H = size
            n = repeats_for(size, repeats)
            if workers is not None:
                times = time_case_isolated(workers, kind, SIZES.index(size), n)
            else:
                times = time_case(kind, size, n, frameworks)
            best = {k: min(v) for k, v in times.items()}
            med = {k: statistics.median(v) for k, v in times.items()}
            tok = B * T
            line = f"{kind:5} {B:>3} {T:>4} {I:>4} {H:>4} {n:>3} " + " ".join(
                f"{tok / best[c]:>12,.0f} ({tok / med[c]:>9,.0f})" for c in cols)
            if "torch" in best and "minigrad" in best:
                r = best["torch"] / best["minigrad"]
                ru = best["torch"] / best["mg unroll"] if "mg unroll" in best else float("nan")
                ratios.append(r)
                line += f" {r:>9.2f} {ru:>13.2f}"
            if BASELINE in best and "minigrad" in best:
                base_ratios.append(best[BASELINE] / best["minigrad"])
                line += f" {base_ratios[-1]:>12.2f}"
            if "unroll baseline" in best and "mg unroll" in best:
                unroll_base_ratios.append(best["unroll baseline"] / best["mg unroll"])
                line += f" {unroll_base_ratios[-1]:>16.2f}"
            print(line, flush=True)
            rows.append((kind, size, best))
    if workers is not None:
        for w in workers.values():
            w.close()
    if ratios:
        gm = float(np.exp(np.mean(np.log(ratios))))
        print(f"mg/torch geometric mean over {len(ratios)} cases: {gm:.2f}   min {min(ratios):.2f}")
    if base_ratios:
        gm = float(np.exp(np.mean(np.log(base_ratios))))
        print(f"mg/baseline geometric mean over {len(base_ratios)} cases: {gm:.3f}   "
              f"range {min(base_ratios):.2f}-{max(base_ratios):.2f}")
    if unroll_base_ratios:
        gm = float(np.exp(np.mean(np.log(unroll_base_ratios))))
        print(f"unroll/baseline geometric mean over {len(unroll_base_ratios)} cases: {gm:.3f}   "
              f"range {min(unroll_base_ratios):.2f}-{max(unroll_base_ratios):.2f}")
    print("step time (best, ms): " + "; ".join(
        f"{k} {s[0]}x{s[1]}x{s[2]}x{s[3]}: " + ", ".join(f"{c} {b[c] * 1e3:.1f}" for c in cols)
        for k, s, b in rows if k == "lstm"))

    if not args.no_floor and not args.quick and "minigrad" in frameworks:
        size = SIZES[-1]
        parts, flops, step = gemm_floor("lstm", size)
        floor = sum(parts.values())
        print(f"\nGEMM floor, LSTM {size}: {flops / 1e9:.1f} GFLOP of GEMMs per step; "
              + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in parts.items()))
        print(f"  floor {floor * 1e3:.1f} ms ({flops / floor / 1e9:.1f} GFLOPS); minigrad step timed in "
              f"alternation with it {step * 1e3:.1f} ms = {step / floor:.3f} x floor "
              f"({flops / step / 1e9:.1f} GFLOPS effective)")

    if not args.no_memory and not args.quick:
        fws = [f for f in ("minigrad", "mg unroll", "numpy", "torch") if f in frameworks]
        mem = measure_memory(fws, args.threads)
        print(f"\nPeak memory of one LSTM training step, B={MEM_B} T={MEM_T} I={MEM_I} H={MEM_H} "
              "(fresh process each; peak RSS (VmHWM, reset before the step) minus RSS before the step):")
        for fw, v in mem.items():
            try:
                mb = f"{int(v) / 2**20:8.1f} MiB"
            except ValueError:
                mb = v
            print(f"  {fw:10} {mb}")
    print(f"load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
