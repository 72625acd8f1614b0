"""The tutorial's Keras program (seed 003, section 5.1): a stacked SimpleRNN classifier, here on MNIST rows.

    python examples/keras_stacked_rnn.py --data /path/to/mnist      # 10 epochs, Keras's default batch 32
    python examples/keras_stacked_rnn.py --quick                    # a few hundred images, one epoch (CI)

The tutorial's code with only its import line changed (``import tensorflow as tf`` -> minigrad,
so that ``tf.keras`` is ``minigrad.keras``). It leaves ``x_train``/``y_train``/``x_test``/``y_test``
to the reader; its ``Dense(units=10, activation='softmax')`` classifies ten classes, so the data are
MNIST read row by row as in seed 000 (examples/keras_mnist_rows.py, whose loader this uses): 28 steps
of 28 pixels. The model has no ``input_shape``: it is built on the first batch ``fit`` gives it.
"""
import argparse
import os
import sys

import minigrad.keras          # was: import tensorflow as tf
import minigrad as tf          # (tf.keras is minigrad.keras)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_mnist_rows import load_scaled_mnist  # noqa: E402  (examples/keras_mnist_rows.py, next to this file)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", help="directory with the four MNIST IDX files (or mnist.npz), or the .npz itself "
                                  "(default: $MINIGRAD_DATASETS/mnist/, then ~/.minigrad/datasets/mnist/)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 10 as the tutorial, --quick 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="fit's progress output")
    p.add_argument("--quick", action="store_true", help="512 training and 256 test images, 1 epoch")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 10
    return args


def main(argv=None):
    """Train and evaluate; returns {"test_loss", "test_acc", "history", "model"}."""
    args = parse_args(argv)
    try:
        (x_train, y_train), (x_test, y_test) = load_scaled_mnist(args.data, args.quick)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2) from None
    tf.keras.utils.set_random_seed(args.seed)

    # the tutorial's model
    model = tf.keras.Sequential([
        tf.keras.layers.SimpleRNN(units=64, return_sequences=True),
        tf.keras.layers.SimpleRNN(units=64),
        tf.keras.layers.Dense(units=10, activation='softmax')
    ])

    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])

    history = model.fit(x_train, y_train, epochs=args.epochs, verbose=args.verbose)

    test_loss, test_acc = model.evaluate(x_test, y_test)
    print(f"test accuracy {test_acc:.4f} (loss {test_loss:.4f})")
    return {"test_loss": float(test_loss), "test_acc": float(test_acc), "history": history, "model": model}


if __name__ == "__main__":
    main()
