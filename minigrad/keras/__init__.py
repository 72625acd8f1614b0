"""minigrad.keras: a small Keras-compatible front end written on minigrad's own modules.

    from minigrad import keras
    from minigrad.keras import layers

    model = keras.Sequential([layers.Input((28, 28)), layers.SimpleRNN(64), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=128, validation_split=0.1)

Keras's names and semantics (batch-major (N, T, F) inputs, Keras's default initialisers, weight
layouts and string names for optimizers, losses and metrics); the layers wrap minigrad's
``nn.RNN / nn.LSTM / nn.GRU / nn.Linear / nn.Embedding``, so there is no second engine.

Submodules, imported when first used (``import minigrad`` does not import Keras's front end):

    layers         Dense, SimpleRNN, LSTM, GRU, Embedding, Dropout, Bidirectional, TimeDistributed, Input
    models         Model, Sequential, load_model
    callbacks      Callback, History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler,
                   CSVLogger, TensorBoard
    optimizers     SGD, Adam, RMSprop, Adagrad; optimizers.schedules (CosineDecay, ExponentialDecay, ...)
    losses, metrics, initializers, activations
    datasets       mnist.load_data (from local files; nothing is downloaded)
    preprocessing  text.Tokenizer
    utils          pad_sequences, to_categorical
"""
import importlib

_SUBMODULES = ("activations", "callbacks", "datasets", "initializers", "layers", "losses", "metrics",
               "models", "optimizers", "preprocessing", "utils")
# Keras's top-level names and the submodule each one lives in
_NAMES = {"Sequential": "models", "Model": "models", "load_model": "models", "Input": "layers"}

__all__ = list(_SUBMODULES) + list(_NAMES)


def __getattr__(name):
    """Import a submodule (or a top-level name's submodule) on first access (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
