"""Reading an image row by row: a GRU (or LSTM) classifies handwritten digits, one row per step.

    python examples/digits_rows.py                          # scikit-learn's 8x8 digits: 8 steps of 8 pixels
    python examples/digits_rows.py --cell lstm --out docs/digits_confusion.png
    python examples/digits_rows.py --mnist ~/data/mnist     # MNIST IDX files: 28 steps of 28 pixels
    python examples/digits_rows.py --quick                  # seconds (CI)

The image is a sequence: row r of the picture is the input x_r at time step r, and the label is
read from the last hidden state with one linear layer (cross-entropy). The recurrent layer must
carry what it saw in the top rows down to the bottom -- backpropagation through time is what
trains it to. scikit-learn ships the 8x8 digits (1797 images, real data, offline); for MNIST
point --mnist at a directory with the four standard IDX files (gzip or raw; nothing is
downloaded). The MNIST path is written for >= 98% test accuracy with the defaults below but has
only been run here on a tiny synthetic IDX set (no MNIST offline).

Prints the test accuracy and the training time, and writes a confusion-matrix PNG.
"""
import argparse
import time

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.data import minibatches


class RowReader(nn.Module):
    """rows (T, B, W) -> GRU/LSTM -> last hidden state (B, H) -> logits (B, 10)."""

    def __init__(self, width, hidden, cell="gru", classes=10):
        super().__init__()
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(width, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, rows):
        out, _ = self.rnn(rows)
        return self.head(out[-1])


def load_digits_8x8(seed):
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], split 75/25 stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)                         # (1797, 8, 8)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.25, random_state=seed, stratify=d.target)


def load_mnist_dir(path):
    from minigrad.datasets import load_mnist

    (xtr, ytr), (xte, yte) = load_mnist(path)
    scale = lambda a: (a.astype(np.float32) / 255.0)
    return scale(xtr), scale(xte), ytr.astype(np.int64), yte.astype(np.int64)


def time_major(images):
    """(N, rows, cols) -> (rows, N, cols): time is the row index."""
    return np.ascontiguousarray(images.transpose(1, 0, 2))


def predict(model, x, batch=1000):
    model.eval()
    with mg.no_grad():
        preds = [model(time_major(x[i:i + batch])).data.argmax(axis=1) for i in range(0, len(x), batch)]
    model.train()
    return np.concatenate(preds) if preds else np.zeros(0, np.int64)


def confusion(y_true, y_pred, k=10):
    m = np.zeros((k, k), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot_confusion(m, acc, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.4))
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"{title}: test accuracy {acc:.2%}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mnist", metavar="DIR", help="directory with the MNIST IDX files (else: 8x8 digits)")
    p.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    p.add_argument("--hidden", type=int, default=None, help="default 64 (8x8) / 128 (MNIST)")
    p.add_argument("--epochs", type=int, default=None, help="default 20 (8x8) / 6 (MNIST)")
    p.add_argument("--batch", type=int, default=None, help="default 32 (8x8) / 128 (MNIST)")
    p.add_argument("--lr", type=float, default=None, help="Adam, cosine-annealed; default 1e-2 / 2e-3")
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="digits_confusion.png")
    p.add_argument("--quick", action="store_true", help="a few epochs on a subset (CI)")
    a = p.parse_args(argv)
    mnist = a.mnist is not None
    defaults = dict(hidden=128, epochs=6, batch=128, lr=2e-3) if mnist else dict(hidden=64, epochs=20, batch=32, lr=1e-2)
    if a.quick:
        defaults.update(hidden=32, epochs=2)
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    mg.set_num_threads(a.threads)
    mg.manual_seed(a.seed)

    xtr, xte, ytr, yte = load_mnist_dir(a.mnist) if mnist else load_digits_8x8(a.seed)
    if a.quick:
        xtr, ytr = xtr[:600], ytr[:600]
    rows, width = xtr.shape[1], xtr.shape[2]
    name = "MNIST" if mnist else "8x8 digits"
    print(f"{name}: {len(xtr)} train / {len(xte)} test images, read as {rows} steps of {width} pixels; "
          f"{a.cell.upper()} hidden {a.hidden}, {a.epochs} epochs of batch {a.batch}, Adam lr {a.lr:g}", flush=True)

    model = RowReader(width, a.hidden, a.cell)
    params = list(model.parameters())
    opt = optim.Adam(params, lr=a.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    rng = np.random.default_rng(a.seed)
    steps = a.epochs * -(-len(xtr) // a.batch)
    try:
        from tqdm import tqdm
        bar = tqdm(total=steps, unit="batch", ncols=90, mininterval=0.5)
    except ImportError:                                   # the progress bar is optional
        bar = None
    t0, c0 = time.perf_counter(), time.process_time()
    for epoch in range(a.epochs):
        for idx in minibatches(len(xtr), a.batch, generator=rng):
            loss = F.cross_entropy(model(time_major(xtr[idx])), ytr[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, a.clip)
            opt.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        sched.step()
    if bar is not None:
        bar.close()
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    pred = predict(model, xte)
    acc = float((pred == yte).mean()) if len(yte) else float("nan")
    m = confusion(yte, pred)
    print(f"test accuracy {acc:.2%} ({int((pred == yte).sum())}/{len(yte)}), training {train_s:.1f} s wall, "
          f"{train_cpu:.1f} s CPU, {a.threads} thread(s)")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("\n".join("  " + " ".join(f"{v:4d}" for v in row) for row in m))
    plot_confusion(m, acc, f"{a.cell.upper()} reading {name} row by row", a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
