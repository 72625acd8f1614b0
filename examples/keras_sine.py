"""The tutorial's Keras program (seed 001, section 4): SimpleRNN(50) forecasts a sine wave.

    python examples/keras_sine.py                      # 20 epochs, batch 16, as the tutorial
    python examples/keras_sine.py --plot sine.png      # the tutorial's plot, written to a file
    python examples/keras_sine.py --quick              # 2 epochs (CI)

The tutorial's code with only its import lines changed (``tensorflow.keras`` -> ``minigrad.keras``);
``plt.show()`` becomes ``--plot FILE``. The data are generated (100 values of sin(x) for x in
[0, 100], so about one radian per step), scaled to [0, 1] with scikit-learn's ``MinMaxScaler``, the
first 80% for training; the model reads 10 values (batch-major (N, 10, 1)) and predicts the next.
After training it prints the test MSE in the original units next to the naive forecast "the next
value equals the last one" (a sine sampled this coarsely is far from that forecast).
"""
import argparse

import numpy as np
from sklearn.preprocessing import MinMaxScaler

from minigrad.keras.models import Sequential          # was: from tensorflow.keras.models import Sequential
from minigrad.keras.layers import SimpleRNN, Dense     # was: from tensorflow.keras.layers import SimpleRNN, Dense
from minigrad.keras.utils import set_random_seed


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 20 as the tutorial, --quick 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="FILE", help="write the tutorial's true-vs-predicted plot to FILE (PNG)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="fit's progress output")
    p.add_argument("--quick", action="store_true", help="2 epochs")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 20
    return args


def main(argv=None):
    """Train and forecast; returns {"test_mse", "naive_mse", "y_pred", "y_true", "history"} (original units)."""
    args = parse_args(argv)
    set_random_seed(args.seed)

    # 4.1: generate the series
    def generate_data(seq_length):
        x = np.linspace(0, 100, seq_length)
        y = np.sin(x)
        return y

    seq_length = 100
    data = generate_data(seq_length)

    # 4.2: scale to [0, 1]; the first 80% for training
    scaler = MinMaxScaler()
    data_scaled = scaler.fit_transform(data.reshape(-1, 1))

    train_size = int(len(data_scaled) * 0.8)
    train_data = data_scaled[:train_size]
    test_data = data_scaled[train_size:]

    # 4.3: the model
    model = Sequential([
        SimpleRNN(50, activation='tanh', input_shape=(None, 1)),
        Dense(1)
    ])

    model.compile(optimizer='adam', loss='mse')

    # 4.4: windows of 10 values, each followed by its target
    def create_sequences(data, seq_length):
        x, y = [], []
        for i in range(len(data) - seq_length):
            x.append(data[i:i+seq_length])
            y.append(data[i+seq_length])
        return np.array(x), np.array(y)

    seq_length = 10
    x_train, y_train = create_sequences(train_data, seq_length)
    x_test, y_test = create_sequences(test_data, seq_length)

    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=16, validation_data=(x_test, y_test),
                        verbose=args.verbose)

    # 4.5: predict and undo the scaling
    y_pred = model.predict(x_test)
    y_pred_rescaled = scaler.inverse_transform(y_pred)
    y_test_rescaled = scaler.inverse_transform(y_test)

    test_mse = float(np.mean((y_pred_rescaled - y_test_rescaled) ** 2))
    naive = scaler.inverse_transform(x_test[:, -1])            # "the next value equals the last one"
    naive_mse = float(np.mean((naive - y_test_rescaled) ** 2))
    print(f"test MSE {test_mse:.4f} (original units) vs {naive_mse:.4f} for the last-value forecast")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.plot(y_test_rescaled, label='True')
        plt.plot(y_pred_rescaled, label='Predicted')
        plt.legend()
        plt.savefig(args.plot, dpi=100)                        # the tutorial: plt.show()
        plt.close()
        print(f"plot written to {args.plot}")
    return {"test_mse": test_mse, "naive_mse": naive_mse, "y_pred": y_pred_rescaled, "y_true": y_test_rescaled,
            "history": history}


if __name__ == "__main__":
    main()
