"""Forecast a time series with a GRU or LSTM: a noisy sine (or a one-column CSV).

    python examples/sine.py                    # GRU on a noisy sine, plot in sine_forecast.png
    python examples/sine.py --cell lstm --epochs 30
    python examples/sine.py --csv data.csv     # one number per line (a header line is skipped)
    python examples/sine.py --quick            # a few epochs (CI smoke test)

The series is normalised with the training part's mean and std and cut into windows of
``--window`` values; the model reads a window (time-major (W, B, 1)) and predicts the value that
follows it from its last hidden state (Linear(H, 1)), trained with MSE and Adam. The last
``--test-frac`` of the series is held out. Two evaluations on it:

* one step ahead: test MSE against the naive forecast "the next value equals the last one";
* autoregressively: the model is fed its own predictions for ``--horizon`` steps after the end
  of the training part (the recurrent state is carried, one step per call), against the naive
  forecast that repeats the last known value.
"""
import argparse
import sys
import time

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import minibatches


def make_series(n, period, noise, seed):
    """A sine of the given period (in samples) plus Gaussian noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


def read_csv(path):
    """One number per line (the first column if there are several); a non-numeric header is skipped."""
    values = []
    with open(path) as f:
        for i, line in enumerate(f):
            field = line.strip().split(",")[0]
            if not field:
                continue
            try:
                values.append(float(field))
            except ValueError:
                if i == 0:
                    continue                    # a header
                raise ValueError(f"{path}:{i + 1}: not a number: {field!r}") from None
    return np.array(values)


def windows(series, W, start, stop):
    """Inputs (W, N, 1) and targets (N, 1) for every target index in [start, stop)."""
    idx = np.arange(max(start, W), stop)
    x = series[idx[None, :] - W + np.arange(W)[:, None]]       # (W, N): x[w, n] = series[idx_n - W + w]
    return x[:, :, None].astype(np.float32), series[idx][:, None].astype(np.float32)


class Forecaster(nn.Module):
    """Recurrent layer over the window, then a linear read-out of the last hidden state."""

    def __init__(self, cell, hidden, layers):
        super().__init__()
        self.rnn = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[cell](1, hidden, layers)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x, hidden=None):
        out, hidden = self.rnn(x, hidden)
        return self.head(out[-1]), hidden


def forecast(model, context, horizon):
    """Read ``context`` (W,) then feed each prediction back in for ``horizon`` steps."""
    model.eval()
    preds = []
    with mg.no_grad():
        y, hidden = model(context.reshape(-1, 1, 1).astype(np.float32))
        for _ in range(horizon):
            preds.append(float(y.data[0, 0]))
            y, hidden = model(y.data.reshape(1, 1, 1), hidden)
    model.train()
    return np.array(preds)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    a("--csv", help="a one-column CSV to forecast instead of the noisy sine")
    a("--cell", choices=["gru", "lstm", "rnn"], default="gru")
    a("--points", type=int, default=2000, help="length of the generated sine")
    a("--period", type=float, default=40.0, help="sine period in samples")
    a("--noise", type=float, default=0.1, help="std of the noise added to the sine")
    a("--window", type=int, default=40)
    a("--hidden", type=int, default=32)
    a("--layers", type=int, default=1)
    a("--epochs", type=int, default=20)
    a("--batch-size", type=int, default=32)
    a("--lr", type=float, default=1e-2)
    a("--test-frac", type=float, default=0.2)
    a("--horizon", type=int, default=120, help="autoregressive forecast length")
    a("--seed", type=int, default=0)
    a("--threads", type=int, default=2)
    a("--plot", default="sine_forecast.png", help="PNG of truth vs forecasts ('' for none)")
    a("--quick", action="store_true", help="smoke test: fewer points and epochs")
    args = p.parse_args(argv)
    if args.quick:
        args.points, args.epochs, args.horizon = min(args.points, 800), min(args.epochs, 4), min(args.horizon, 60)
    return args


def main(argv=None):
    """Train, evaluate and plot; returns a dict of the numbers (for tests)."""
    args = parse_args(argv)
    mg.set_num_threads(args.threads)
    mg.manual_seed(args.seed)
    raw = read_csv(args.csv) if args.csv else make_series(args.points, args.period, args.noise, args.seed)
    n_train = int(len(raw) * (1 - args.test_frac))
    if n_train <= args.window + 1 or len(raw) - n_train < 2:
        raise SystemExit(f"series of {len(raw)} values is too short for window {args.window}")
    mean, std = raw[:n_train].mean(), raw[:n_train].std() + 1e-8
    series = (raw - mean) / std                 # the model sees normalised values
    x_tr, y_tr = windows(series, args.window, 0, n_train)
    x_te, y_te = windows(series, args.window, n_train, len(series))

    model = Forecaster(args.cell, args.hidden, args.layers)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    rng = np.random.default_rng(args.seed)
    losses, t0 = [], time.perf_counter()
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for idx in minibatches(len(y_tr), args.batch_size, generator=rng):
            pred, _ = model(x_tr[:, idx])
            loss = F.mse_loss(pred, y_tr[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += float(loss.item()) * len(idx)
            count += len(idx)
        sched.step()
        losses.append(total / count)
        print(f"epoch {epoch + 1:3d}: train MSE {losses[-1]:.4f} (normalised)")
    train_s = time.perf_counter() - t0

    # One step ahead on the test part, in the original units.
    model.eval()
    with mg.no_grad():
        pred = model(x_te)[0].data[:, 0]
    pred_u, truth_u = pred * std + mean, y_te[:, 0] * std + mean
    last_u = x_te[-1, :, 0] * std + mean        # naive: the last value of each window
    mse = float(np.mean((pred_u - truth_u) ** 2))
    naive = float(np.mean((last_u - truth_u) ** 2))

    # Many steps ahead from the end of the training part.
    H = min(args.horizon, len(series) - n_train)
    fc_u = forecast(model, series[n_train - args.window:n_train], H) * std + mean
    truth_h = raw[n_train:n_train + H]
    fc_mse = float(np.mean((fc_u - truth_h) ** 2))
    fc_naive = float(np.mean((raw[n_train - 1] - truth_h) ** 2))

    print(f"trained {args.epochs} epochs in {train_s:.1f} s ({args.cell.upper()} {args.layers}x{args.hidden})")
    print(f"one step ahead, test MSE: model {mse:.4f} vs naive last value {naive:.4f} ({naive / mse:.1f}x better)")
    print(f"{H} steps ahead (autoregressive), MSE: model {fc_mse:.4f} vs naive repeat-last {fc_naive:.4f}")
    png = plot(args.plot, raw, n_train, pred_u, fc_u) if args.plot else None
    return {"losses": losses, "mse": mse, "naive_mse": naive, "forecast_mse": fc_mse,
            "naive_forecast_mse": fc_naive, "plot": png}


def plot(path, raw, n_train, pred_u, fc_u):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    t = np.arange(len(raw))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    lo = max(0, n_train - 120)
    ax.plot(t[lo:], raw[lo:], color="0.6", lw=1, label="truth")
    ax.plot(t[n_train:n_train + len(pred_u)], pred_u, color="C0", lw=1, label="one step ahead")
    ax.plot(t[n_train:n_train + len(fc_u)], fc_u, color="C3", lw=1.6, label="autoregressive forecast")
    ax.axvline(n_train, color="k", ls=":", lw=1)
    ax.set_xlabel("t")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("minigrad: forecasting after the training part (dotted line)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot: {path}")
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
