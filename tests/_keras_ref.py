"""Keras 3 (torch backend) as a reference for the minigrad.keras tests, when it is installed.

``keras_or_none()`` imports Keras with ``KERAS_BACKEND=torch`` (set before the import, unless the
environment already chose) and returns it, or None when Keras (or torch) is absent or another
backend is active; ``REFERENCES`` parametrizes a test over ``'numpy'`` (always) and ``'keras'``
(skipped without Keras), so CI's fresh venv runs the NumPy side of every case.
"""
import os

import pytest


def keras_or_none():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except Exception:          # ImportError, or a broken backend import (e.g. no tensorflow)
        return None
    return keras if keras.backend.backend() == "torch" else None


def need_keras():
    keras = keras_or_none()
    if keras is None:
        pytest.skip("Keras 3 with the torch backend is not installed")
    return keras


REFERENCES = ["numpy", "keras"]
