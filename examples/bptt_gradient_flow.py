"""Seeing backpropagation through time: how much gradient reaches each step, for RNN, LSTM and GRU.

    python examples/bptt_gradient_flow.py                      # a few minutes on 2 cores
    python examples/bptt_gradient_flow.py --lengths 50 100 200 400 --out docs/gradient_flow.png
    python examples/bptt_gradient_flow.py --quick              # seconds (CI)

The task is the *adding problem* (Hochreiter & Schmidhuber 1997): a sequence of T pairs
(value in [0, 1), marker in {0, 1}); exactly two steps are marked, one in the first half and one in
the second; the target, read from the last step's hidden state, is the sum of the two marked
values. Predicting the mean (1.0) gives MSE 1/6 = 0.167; a prediction within 0.04 of the target
counts as correct ("accuracy"). To solve it, the gradient of the loss at step T must reach the
first marker, up to T steps back -- exactly what the per-step norms ||dL/dh_t|| show.

What it does:
1. For each model (RNN tanh, LSTM, GRU; same hidden size) and each length T: record
   ||dL/dh_t|| for every t at initialisation, train (Adam, gradients clipped to norm 1), measure
   the test MSE and accuracy, record ||dL/dh_t|| again. The runs go to --jobs worker processes.
   Norms are recorded on a float64 copy of the model: in float32 they underflow to exactly 0
   below ~1e-38, which a plain RNN reaches within ~150 steps.
2. Exploding gradients: an RNN whose W_hh is drawn with gain 2 (N(0, 4/H): spectral radius ~2,
   the chaotic regime of tanh networks) has ||dL/dh_t|| *growing* going back in time. It is
   trained with plain SGD with and without ``clip_grad_norm_``: unclipped, the huge gradients
   throw the weights around; clipped, every step has norm <= max_norm.
3. One PNG with four panels (log scales) and a printed table: the ratio ||dL/dh_1|| / ||dL/dh_T||
   per model at init and after training, and accuracy per length.
"""
import argparse
import sys
import time
from multiprocessing import get_context

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.bptt import state_grad_norms

KINDS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def adding_batch(T, B, rng):
    """x (T, B, 2) float32, y (B, 1): two marked steps, one in each half; y = sum of their values."""
    x = np.zeros((T, B, 2), np.float32)
    x[:, :, 0] = rng.random((T, B))
    half, cols = max(T // 2, 1), np.arange(B)
    i, j = rng.integers(0, half, B), rng.integers(half, T, B)
    x[i, cols, 1] = 1.0
    x[j, cols, 1] = 1.0
    return x, (x[i, cols, 0] + x[j, cols, 0])[:, None]


class Model(nn.Module):
    """A recurrent layer and a linear read-out of its last hidden state."""

    def __init__(self, kind, hidden, dtype=np.float32):
        super().__init__()
        self.kind = kind
        self.rnn = KINDS[kind](2, hidden, dtype=dtype)
        self.head = nn.Linear(hidden, 1, dtype=dtype)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def state_norms(model, x, y):
    """||dL/dh_t|| for t = 1..T of the MSE loss on a batch, on a float64 copy of ``model``."""
    m64 = Model(model.kind, model.rnn.hidden_size, dtype=np.float64)
    m64.load_state_dict(model.state_dict())
    norms, _ = state_grad_norms(m64.rnn, x.astype(np.float64),
                                lambda out: F.mse_loss(m64.head(out[-1]), y.astype(np.float64)))
    return norms


def evaluate(model, x, y):
    with mg.no_grad():
        p = model(x).data
    return float(((p - y) ** 2).mean()), float((np.abs(p - y) < 0.04).mean())


def train_one(job):
    """One (model, length) run in a worker: init norms, training, test metrics, trained norms."""
    kind, T, a = job
    mg.set_num_threads(1)
    mg.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed + T)
    model = Model(kind, a.hidden)
    if kind == "LSTM":           # forget-gate bias 1 (Jozefowicz et al. 2015): remember by default
        H = a.hidden
        model.rnn.bias_ih_l0.data[H:2 * H] = 1.0
    params = list(model.parameters())
    opt = optim.Adam(params, lr=a.lr)
    x_probe, y_probe = adding_batch(T, 64, np.random.default_rng(1000 + T))
    x_test, y_test = adding_batch(T, a.test_size, np.random.default_rng(2000 + T))
    init = state_norms(model, x_probe, y_probe)
    t0, c0, curve = time.perf_counter(), time.process_time(), []
    for it in range(a.iters):
        x, y = adding_batch(T, a.batch, rng)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        curve.append(float(loss.item()))
        if a.patience and it % 50 == 49 and evaluate(model, x_test, y_test)[1] >= 0.99:
            break                    # solved: stop early, the rest would only polish
    mse, acc = evaluate(model, x_test, y_test)
    return dict(kind=kind, T=T, init=init, trained=state_norms(model, x_probe, y_probe), mse=mse, acc=acc,
                iters=it + 1, seconds=time.perf_counter() - t0, cpu=time.process_time() - c0, curve=curve)


def explode(a):
    """RNN with W_hh ~ N(0, gain^2/H): per-step norms, then SGD with and without clipping."""
    mg.set_num_threads(1)
    T, H = a.flow_length, a.hidden
    x_probe, y_probe = adding_batch(T, 64, np.random.default_rng(1000 + T))
    runs = {}
    for clip in (None, 1.0):
        mg.manual_seed(a.seed)
        model = Model("RNN", H)
        model.rnn.weight_hh_l0.data[...] = np.random.default_rng(a.seed).standard_normal((H, H)) * a.gain / np.sqrt(H)
        norms = state_norms(model, x_probe, y_probe)
        params = list(model.parameters())
        opt = optim.SGD(params, lr=a.sgd_lr)
        rng = np.random.default_rng(a.seed)
        gnorm, losses = [], []
        with np.errstate(over="ignore", invalid="ignore"):   # unclipped, the norms may overflow: the point
            for _ in range(a.explode_iters):
                x, y = adding_batch(T, a.batch, rng)
                loss = F.mse_loss(model(x), y)
                opt.zero_grad()
                loss.backward()
                # the norm before clipping; with clip=None only measured (max_norm = inf scales nothing)
                gnorm.append(nn.utils.clip_grad_norm_(params, clip if clip else float("inf")))
                opt.step()
                losses.append(float(loss.item()))
        runs["clipped" if clip else "unclipped"] = dict(norms=norms, gnorm=np.array(gnorm), loss=np.array(losses))
    return runs


def draw_lstm_tape(path):
    """The tape of a 3-step LSTM (unroll=True): printed with tape_summary, drawn with draw_tape."""
    mg.manual_seed(0)
    lstm, head = nn.LSTM(2, 3, unroll=True), nn.Linear(3, 1)
    x = mg.Tensor(np.random.default_rng(0).random((3, 2, 2)).astype(np.float32), name="x")  # T=3, B=2, I=2
    out, _ = lstm(x)
    for h in lstm.step_states[(0, 0)]:
        h.retain_grad()                                      # keep dL/dh_t for the drawing
    loss = F.mse_loss(head(out[-1]), np.ones((2, 1), np.float32))
    loss.backward(retain_graph=True)                         # keep the saved buffers for the summary
    print(mg.tape_summary(loss))
    names = dict(lstm.named_parameters())
    names.update({"head." + k: v for k, v in head.named_parameters()}, x=x)
    mg.draw_tape(loss, path, grad_norms=True, names=names,
                 title="tape of a 3-step LSTM (unroll=True); |grad| = norm of the gradient after backward")
    print(f"wrote {path}")


def ratio(n):
    return n[0] / n[-1] if n[-1] > 0 else float("nan")


def plot(results, boom, a):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"RNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}
    fig, ax = plt.subplots(2, 2, figsize=(11, 7.5))
    T = a.flow_length
    for kind in KINDS:
        r = results[(kind, T)]
        t = np.arange(1, T + 1)
        ax[0, 0].semilogy(t, np.maximum(r["init"], 1e-300), color=colors[kind], label=f"{kind} at init")
        ax[0, 0].semilogy(t, np.maximum(r["trained"], 1e-300), color=colors[kind], ls="--",
                          label=f"{kind} trained (acc {r['acc']:.0%})")
    ax[0, 0].set(title=f"||dL/dh_t|| on the adding problem, T = {T}", xlabel="time step t",
                 ylabel="gradient norm (log)")
    ax[0, 0].legend(fontsize=7)
    t = np.arange(1, T + 1)
    ax[0, 1].semilogy(t, results[("RNN", T)]["init"], color="tab:red", label="RNN, default init (vanishing)")
    ax[0, 1].semilogy(t, boom["unclipped"]["norms"], color="tab:purple",
                      label=f"RNN, W_hh gain {a.gain:g} (exploding)")
    ax[0, 1].set(title="vanishing vs exploding, at init", xlabel="time step t", ylabel="||dL/dh_t|| (log)")
    ax[0, 1].legend(fontsize=7)
    it = np.arange(1, a.explode_iters + 1)
    for name, st in (("unclipped", "-"), ("clipped", "--")):
        ax[1, 0].semilogy(it, boom[name]["gnorm"], color="tab:purple", ls=st, label=f"||grad|| {name}")
        ax[1, 0].semilogy(it, boom[name]["loss"], color="tab:gray", ls=st, label=f"loss {name}")
    ax[1, 0].axhline(1.0, color="k", lw=0.5)
    ax[1, 0].set(title=f"exploding RNN, SGD lr {a.sgd_lr:g}: clip_grad_norm_(max_norm=1)",
                 xlabel="iteration", ylabel="log scale")
    ax[1, 0].legend(fontsize=7)
    for kind in KINDS:
        accs = [results[(kind, L)]["acc"] for L in a.lengths]
        ax[1, 1].plot(a.lengths, accs, "o-", color=colors[kind], label=kind)
    ax[1, 1].set(title=f"test accuracy (|error| < 0.04) after <= {a.iters} iterations", xlabel="sequence length T",
                 ylabel="accuracy", xscale="log", ylim=(-0.02, 1.02))
    ax[1, 1].minorticks_off()
    ax[1, 1].set_xticks(a.lengths)
    ax[1, 1].set_xticklabels([str(L) for L in a.lengths])
    ax[1, 1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out, dpi=a.dpi)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[10, 25, 50, 100, 200])
    p.add_argument("--flow-length", type=int, default=None, help="T of the per-step plots (default: 100 "
                   "if among --lengths, else the largest)")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--iters", type=int, default=1500, help="training iterations per model and length (max)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--test-size", type=int, default=1000)
    p.add_argument("--patience", type=int, default=1, help="1: stop a run once test accuracy >= 99%%")
    p.add_argument("--gain", type=float, default=2.0, help="W_hh gain of the exploding RNN")
    p.add_argument("--sgd-lr", type=float, default=0.05)
    p.add_argument("--explode-iters", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="gradient_flow.png")
    p.add_argument("--dpi", type=int, default=80)
    p.add_argument("--quick", action="store_true", help="tiny run for CI (seconds)")
    p.add_argument("--tape", metavar="PATH", help="only draw the tape of a 3-step LSTM to PATH (.dot/.svg/.png)")
    a = p.parse_args(argv)
    if a.tape:
        return draw_lstm_tape(a.tape)
    if a.quick:
        a.lengths, a.iters, a.hidden, a.test_size, a.explode_iters = [10, 20], 30, 8, 200, 20
    a.lengths = sorted(set(a.lengths))
    if a.flow_length is None:
        a.flow_length = 100 if 100 in a.lengths else a.lengths[-1]
    elif a.flow_length not in a.lengths:
        a.lengths = sorted(a.lengths + [a.flow_length])

    jobs = [(k, T, a) for T in sorted(a.lengths, reverse=True) for k in KINDS]   # longest first
    t0 = time.perf_counter()
    print(f"adding problem: lengths {a.lengths}, hidden {a.hidden}, <= {a.iters} iterations of batch "
          f"{a.batch}, Adam lr {a.lr:g}, clip {a.clip:g}; {len(jobs)} runs on {a.jobs} processes", flush=True)
    if a.jobs > 1:
        with get_context("spawn" if sys.platform == "darwin" else "fork").Pool(a.jobs) as pool:
            boom_async = pool.apply_async(explode, (a,))
            out = []
            for r in pool.imap_unordered(train_one, jobs):
                out.append(r)
                print(f"  {r['kind']:5} T={r['T']:<4} accuracy {r['acc']:6.1%}  ({r['iters']} iterations, "
                      f"{r['cpu']:.0f} s CPU)", flush=True)
            boom = boom_async.get()
    else:
        out, boom = [train_one(j) for j in jobs], explode(a)
    results = {(r["kind"], r["T"]): r for r in out}

    print(f"\n||dL/dh_1|| / ||dL/dh_T|| at T = {a.flow_length} (float64 copy of the model; < 1: vanishing)")
    print(f"  {'model':6} {'at init':>10} {'trained':>10}")
    for kind in KINDS:
        r = results[(kind, a.flow_length)]
        print(f"  {kind:6} {ratio(r['init']):10.3g} {ratio(r['trained']):10.3g}")
    print(f"  RNN with W_hh gain {a.gain:g}: {ratio(boom['unclipped']['norms']):.3g} (exploding)")

    print("\ntest accuracy (|error| < 0.04) / MSE (predicting the mean: 0.167) / iterations used")
    print("  T     " + "".join(f"{k:>26}" for k in KINDS))
    for T in a.lengths:
        cells = "".join(f"{results[(k, T)]['acc']:>11.1%} {results[(k, T)]['mse']:7.4f} {results[(k, T)]['iters']:6d}"
                        for k in KINDS)
        print(f"  {T:<6}{cells}")

    g_u, g_c = boom["unclipped"]["gnorm"], boom["clipped"]["gnorm"]
    bad = np.flatnonzero(~np.isfinite(g_u))
    print(f"\nexploding RNN (gain {a.gain:g}, T = {a.flow_length}, SGD lr {a.sgd_lr:g}, {a.explode_iters} iterations):")
    print(f"  unclipped: largest finite gradient norm {np.max(g_u[np.isfinite(g_u)]):.3g}; "
          + (f"inf/NaN from iteration {bad[0] + 1} on" if bad.size else "stayed finite")
          + f"; mean loss of the last 20 iterations {np.mean(boom['unclipped']['loss'][-20:]):.3g}")
    print(f"  clip_grad_norm_(max_norm=1): pre-clip norm median {np.median(g_c):.3g}, max {np.max(g_c):.3g}; "
          f"every update applied with norm <= 1; mean loss of the last 20 iterations "
          f"{np.mean(boom['clipped']['loss'][-20:]):.3g}")
    print(f"  CPU time of the training runs: {sum(r['cpu'] for r in out):.0f} s in total")
    plot(results, boom, a)
    print(f"\nwrote {a.out}  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
