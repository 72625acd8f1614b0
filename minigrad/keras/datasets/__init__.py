"""keras.datasets: the data sets of the tutorials, read from local files (nothing is downloaded).

    from minigrad.keras.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()     # uint8 (60000, 28, 28), (60000,)
"""
from . import mnist

__all__ = ["mnist"]
