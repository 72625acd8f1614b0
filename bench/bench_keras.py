"""minigrad.keras vs Keras 3 (PyTorch backend): the tutorial's MNIST row reader, side by side in one run.

    python bench/bench_keras.py --data /path/to/mnist                  # 10 epochs, batch 128, both
    python bench/bench_keras.py --data DIR --epochs 2 --frameworks minigrad,keras
    python bench/bench_keras.py --data DIR --cell lstm
    python bench/bench_keras.py --data DIR --cell lstm --track 60      # do the two train the same?
    python bench/bench_keras.py --data DIR --lr 0.002 --cosine        # Adam(CosineDecay(0.002, all steps))

The model is examples/keras_mnist_rows.py's (seed 000 corrected: SimpleRNN(128, return_sequences)
-> Dropout(0.2) -> SimpleRNN(64) -> Dropout(0.2) -> Dense(10, softmax); ``--cell`` swaps in LSTM or
GRU), compiled with 'adam' and 'sparse_categorical_crossentropy', written once against Keras's
public API and built by each framework from its own ``keras`` module (``--lr`` / ``--cosine``:
``Adam(learning_rate=...)``, over ``keras.optimizers.schedules.CosineDecay`` with ``--cosine``). Same data (MNIST / 255 as
float32), same epochs and batch, same initial weights (minigrad's Keras initialisation, copied
into the Keras model with ``set_weights``), same threads (``--threads``, torch and minigrad).
Time per epoch is the training time of each epoch (``fit`` without validation, measured by a
callback from epoch begin to end; the median over the epochs after the first is reported, the
first, which includes each framework's warm-up, is shown separately); the test accuracy is ``evaluate`` after the last epoch. Frameworks run one
after the other in this process (minigrad first); Keras is skipped when keras or torch is missing.
The machine may be shared: the load average is printed before and after each framework.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_softmax import cpu_name  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.keras.datasets import mnist  # noqa: E402


def optimizer(keras, lr=None, decay_steps=None):
    """'adam' (the tutorial's), ``Adam(lr)``, or Adam over ``CosineDecay(lr or 0.001, decay_steps)``."""
    if lr is None and decay_steps is None:
        return "adam"
    rate = 0.001 if lr is None else lr
    if decay_steps:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=decay_steps)
    return keras.optimizers.Adam(learning_rate=rate)


def _describe(a):
    if a.lr is None and not a.cosine:
        return "'adam'"
    rate = 0.001 if a.lr is None else a.lr
    return f"Adam(CosineDecay({rate}, all steps))" if a.cosine else f"Adam({rate})"


def build(keras, cell, dropout=0.2, lr=None, decay_steps=None):
    """The corrected seed-000 model, from ``keras`` (minigrad.keras or Keras 3)."""
    Recurrent = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        Recurrent(128, return_sequences=True),
        keras.layers.Dropout(dropout),
        Recurrent(64),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=optimizer(keras, lr, decay_steps), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def epoch_timer(keras):
    """A ``keras.callbacks.Callback`` recording each epoch's seconds in ``.seconds``."""
    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)
    return EpochTimer()


def run(name, keras, weights, data, a):
    (x_train, y_train), (x_test, y_test) = data
    decay_steps = a.epochs * -(-len(x_train) // a.batch_size) if a.cosine else None
    model = build(keras, a.cell, lr=a.lr, decay_steps=decay_steps)
    if weights is not None:
        model.set_weights(weights)
    timer = epoch_timer(keras)
    load0 = os.getloadavg()[0]
    model.fit(x_train, y_train, epochs=a.epochs, batch_size=a.batch_size, shuffle=True, callbacks=[timer],
              verbose=a.verbose)
    _, acc = model.evaluate(x_test, y_test, batch_size=a.batch_size, verbose=0)
    load1 = os.getloadavg()[0]
    s = timer.seconds
    steady = statistics.median(s[1:] if len(s) > 1 else s)      # the first epoch includes warm-up
    print(f"{name:<9} epochs {len(s)}: median {steady:6.1f} s/epoch after the first (first {s[0]:.1f}, "
          f"all {' '.join(f'{t:.1f}' for t in s)}), test accuracy {100 * acc:.2f}%  "
          f"[load average {load0:.1f} -> {load1:.1f}]", flush=True)
    return {"median": steady, "seconds": s, "acc": float(acc), "model": model}


def track(mk, keras, data, a):
    """Both frameworks from the same weights on the same first ``a.track`` batches, in order, without
    dropout (its masks are the only randomness left): how far apart their losses and weights drift."""
    (x_train, y_train), _ = data
    mk.utils.set_random_seed(a.seed)
    ours = build(mk, a.cell, dropout=0.0)
    ref = build(keras, a.cell, dropout=0.0)
    ref.set_weights(ours.get_weights())
    worst = 0.0
    for i in range(a.track):
        xb, yb = x_train[i * a.batch_size:(i + 1) * a.batch_size], y_train[i * a.batch_size:(i + 1) * a.batch_size]
        la = float(np.ravel(ours.train_on_batch(xb, yb))[0])
        lb = float(np.ravel(np.asarray(ref.train_on_batch(xb, yb)))[0])
        worst = max(worst, abs(la - lb))
    dw = max(float(np.max(np.abs(p - q))) for p, q in zip(ours.get_weights(), ref.get_weights()))
    print(f"track: {a.track} Adam steps from the same weights on the same batches, no dropout: loss "
          f"{la:.6f} vs {lb:.6f}, largest loss difference {worst:.1e}, largest weight difference {dw:.1e}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", help="MNIST directory or mnist.npz (see keras.datasets.mnist.load_data)")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None, help="Adam's learning rate (default: 'adam', 0.001)")
    p.add_argument("--cosine", action="store_true",
                   help="the rate follows CosineDecay to 0 over all the steps (each framework's own schedule)")
    p.add_argument("--frameworks", default="minigrad,keras")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))
    p.add_argument("--track", type=int, default=0, metavar="STEPS",
                   help="instead of timing: train both on the same first STEPS batches without dropout and "
                        "print how far their losses and weights drift apart")
    a = p.parse_args(argv)
    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(a.data)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2) from None
    if a.train_limit:
        x_train, y_train = x_train[:a.train_limit], y_train[:a.train_limit]
    data = ((x_train / np.float32(255)).astype(np.float32), y_train.astype(np.int64)), \
           ((x_test / np.float32(255)).astype(np.float32), y_test.astype(np.int64))
    mg.set_num_threads(a.threads)
    print(f"# CPU: {cpu_name()}, {os.cpu_count()} cores; {a.threads} threads; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; cell {a.cell}, {len(x_train)} training "
          f"images, {a.epochs} epochs, batch {a.batch_size}, optimizer {_describe(a)}", flush=True)

    from minigrad import keras as mk
    mk.utils.set_random_seed(a.seed)
    weights = build(mk, a.cell).get_weights()       # the initial weights both frameworks start from
    timed = "minigrad" in a.frameworks and not a.track
    results = {"minigrad": run("minigrad", mk, weights, data, a)} if timed else {}
    if "keras" in a.frameworks or a.track:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        try:
            import keras
            import torch
        except ImportError as e:
            print(f"keras: skipped ({e})")
        else:
            if keras.backend.backend() != "torch":
                print(f"keras: skipped (backend {keras.backend.backend()}, not torch)")
            else:
                torch.set_num_threads(a.threads)
                keras.utils.set_random_seed(a.seed)
                if a.track:
                    return track(mk, keras, data, a)
                results["keras"] = run(f"keras {keras.__version__}", keras, weights, data, a)
    if len(results) == 2:
        m, k = results["minigrad"], results["keras"]
        print(f"minigrad's epoch is {k['median'] / m['median']:.2f}x faster (median epoch {m['median']:.1f} s vs "
              f"{k['median']:.1f} s); test accuracy {100 * m['acc']:.2f}% vs {100 * k['acc']:.2f}% "
              f"({100 * (m['acc'] - k['acc']):+.2f} points)")
    return results


if __name__ == "__main__":
    main()
