"""The tutorial's Keras program (seed 000, section 5.2): a stacked SimpleRNN reads MNIST row by row.

    python examples/keras_mnist_rows.py --data /path/to/mnist       # 10 epochs, batch 128: about 97%
    python examples/keras_mnist_rows.py --lr 0.002 --cosine         # Adam(CosineDecay(0.002, all steps)): 98.0-98.3%
    python examples/keras_mnist_rows.py --cell lstm                 # the same program with LSTM layers: 98.8%
    python examples/keras_mnist_rows.py --cell gru --lr 0.003 --cosine   # GRU layers: 99.0-99.3%
    python examples/keras_mnist_rows.py --quick                     # a few hundred images, one epoch (CI)
    python examples/keras_mnist_rows.py --as-printed                # the tutorial's exact model: rejected

The tutorial's code with only its import lines changed (``tensorflow.keras`` -> ``minigrad.keras``)
and one fix. As printed, the second ``SimpleRNN(64, return_sequences=True)`` hands the whole
(N, 28, 64) sequence to ``Dense(10, activation='softmax')``, so the model outputs (N, 28, 10)
while the labels are (N,): Keras refuses to train it, and so does minigrad, with a message saying
to use ``return_sequences=False`` on the last recurrent layer. This program does that; ``--as-printed``
builds the printed model to show the error.

Each image is a sequence of 28 rows of 28 pixels: row r is the input at time step r. The first
recurrent layer returns every step's state for the second, which returns only its last state for
the classifier. MNIST comes from ``keras.datasets.mnist.load_data`` (``--data DIR``, else
``$MINIGRAD_DATASETS/mnist/`` or ``~/.minigrad/datasets/mnist/``; nothing is downloaded).

Measured 2026-11-29 on the real MNIST (2-core AMD EPYC Zen 3, load average 8-13, 10 epochs,
batch 128): SimpleRNN 96.95% test accuracy (97.62% at epoch 9; Keras 3 gets 97.19% with the same
model, bench/bench_keras.py; the tutorial's printed 98% is not reached by either), LSTM 98.81%,
GRU 98.83%; 30 / 71 / 42 s per epoch including validation on that loaded machine. On a quiet
machine (2026-11-30): ``--cell gru --lr 0.003`` 99.00% (16.4 s per epoch; seeds 1 and 2: 98.74%,
98.50%, with 99.05% / 99.03% at epoch 8), ``--cell lstm --lr 0.003`` 98.98% (99.01% at epoch 8; 20.2 s per epoch); ``--bidirectional`` with the default
learning rate: GRU 98.77% (32.7 s), LSTM 98.74% (37.2 s).

The tutorial's 98% with its own SimpleRNN model takes a learning-rate schedule: ``--lr 0.002
--cosine`` compiles with ``Adam(learning_rate=CosineDecay(0.002, decay_steps=epochs * 469))``,
the rate falling along a half cosine to 0 over the run. Quiet machine, 2026-11-30: 98.07% test
accuracy, 8.3 s per epoch including validation, 2 threads (seeds 1 and 2: 98.02%, 98.27%; Keras 3
with the same schedule and weights: 98.00%, bench/bench_keras.py). ``--cell gru --lr 0.003
--cosine``: 99.28%, 16.4 s per epoch (seeds 1 and 2: 99.08%, 99.04%).
"""
import argparse
import sys
import time

import numpy as np

from minigrad.keras.models import Sequential                   # was: from tensorflow.keras.models import Sequential
from minigrad.keras.layers import Dense, SimpleRNN, Dropout    # was: from tensorflow.keras.layers import ...
from minigrad.keras.layers import GRU, LSTM, Bidirectional     # (the --cell, --bidirectional variants)
from minigrad.keras.datasets import mnist                      # was: from tensorflow.keras.datasets import mnist
from minigrad.keras.optimizers import Adam                     # (the --lr variant)
from minigrad.keras.optimizers.schedules import CosineDecay    # (the --cosine variant)
from minigrad.keras.utils import set_random_seed

CELLS = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def build_model(cell="rnn", as_printed=False, bidirectional=False, lr=None, decay_steps=None):
    """The tutorial's model and compile call; ``cell`` swaps SimpleRNN for LSTM or GRU,
    ``bidirectional`` reads the rows top-down and bottom-up in the first layer, ``lr`` replaces
    'adam' (learning rate 0.001) by Adam(learning_rate=lr), ``decay_steps`` lowers that rate along
    a half cosine to 0 over that many steps (CosineDecay)."""
    Recurrent = CELLS[cell]
    model = Sequential()
    if bidirectional:
        model.add(Bidirectional(Recurrent(128, return_sequences=True), input_shape=(28, 28)))
    else:
        model.add(Recurrent(128, input_shape=(28, 28), return_sequences=True))
    model.add(Dropout(0.2))
    # printed: return_sequences=True, which leaves the time axis in the output (see the docstring)
    model.add(Recurrent(64, return_sequences=as_printed))
    model.add(Dropout(0.2))
    model.add(Dense(10, activation='softmax'))

    if lr is None and decay_steps is None:
        optimizer = 'adam'
    else:
        rate = 0.001 if lr is None else lr
        optimizer = Adam(learning_rate=CosineDecay(rate, decay_steps) if decay_steps else rate)
    model.compile(optimizer=optimizer, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    return model


def load_scaled_mnist(data, quick):
    """The tutorial's data block: MNIST scaled to [0, 1]; ``quick`` keeps the first 512 / 256 images."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data(data)
    if quick:
        x_train, y_train, x_test, y_test = x_train[:512], y_train[:512], x_test[:256], y_test[:256]
    x_train = x_train.reshape(-1, 28, 28)
    x_test = x_test.reshape(-1, 28, 28)
    x_train = x_train / 255.0
    x_test = x_test / 255.0
    return (x_train, y_train), (x_test, y_test)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", help="directory with the four MNIST IDX files (or mnist.npz), or the .npz itself "
                                  "(default: $MINIGRAD_DATASETS/mnist/, then ~/.minigrad/datasets/mnist/)")
    p.add_argument("--cell", choices=sorted(CELLS), default="rnn", help="recurrent layer (the tutorial: rnn)")
    p.add_argument("--bidirectional", action="store_true",
                   help="the first layer reads the rows both ways (Bidirectional(...)): the variant for 99%%")
    p.add_argument("--lr", type=float, default=None, help="Adam's learning rate (default: 'adam', i.e. 0.001)")
    p.add_argument("--cosine", action="store_true",
                   help="the learning rate falls along a half cosine to 0 over the run's steps (CosineDecay)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 10, --quick 1)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="fit's progress output")
    p.add_argument("--as-printed", action="store_true",
                   help="the tutorial's model exactly as printed (return_sequences=True twice): shows the error")
    p.add_argument("--quick", action="store_true", help="512 training and 256 test images, 1 epoch")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 10
    return args


def main(argv=None):
    """Train and evaluate; returns {"test_acc", "predict_acc", "seconds_per_epoch", "history", "model"}."""
    args = parse_args(argv)
    try:
        (x_train, y_train), (x_test, y_test) = load_scaled_mnist(args.data, args.quick)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2) from None
    set_random_seed(args.seed)
    decay_steps = args.epochs * -(-len(x_train) // args.batch_size) if args.cosine else None   # ceil
    model = build_model(args.cell, args.as_printed, args.bidirectional, args.lr, decay_steps)

    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(x_test, y_test), verbose=args.verbose)
    seconds_per_epoch = (time.perf_counter() - start) / args.epochs

    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
    print('Test accuracy:', test_acc)

    predictions = model.predict(x_test)
    predictions = np.argmax(predictions, axis=1)
    predict_acc = np.mean(predictions == y_test)
    print(predict_acc)
    print(f"{args.cell}: {seconds_per_epoch:.1f} s per epoch (training + validation), batch {args.batch_size}")
    return {"test_acc": float(test_acc), "predict_acc": float(predict_acc), "seconds_per_epoch": seconds_per_epoch,
            "history": history, "model": model}


if __name__ == "__main__":
    main()
