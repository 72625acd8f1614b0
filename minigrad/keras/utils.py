"""keras.utils: Keras's data helpers ``pad_sequences`` and ``to_categorical`` (and ``set_random_seed``).

    x = pad_sequences([[1], [2, 3], [4, 5, 6]])          # int32 (3, 3): [[0 0 1] [0 2 3] [4 5 6]]
    y = to_categorical([0, 2, 1], num_classes=3)         # float64 (3, 3) one-hot rows

Keras 3's semantics exactly: ``pad_sequences`` pads and truncates at the *start* by default
(``padding='pre'``, ``truncating='pre'``), returns one batch-major (num_samples, maxlen, ...)
array and no lengths. minigrad's own ``minigrad.data.pad_batch`` is a different function (pads
after, returns the lengths, time-major by default); do not confuse the two.
"""
import numbers
import random as _pyrandom

import numpy as np

from ..grad_mode import describe
from ..random import manual_seed

__all__ = ["pad_sequences", "to_categorical", "set_random_seed"]

_SIDES = ("pre", "post")


def _check_side(name, value):
    if not isinstance(value, str) or value not in _SIDES:
        raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {describe(value)}")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (and truncate) a list of sequences into one array of shape (num_samples, maxlen, *sample_shape).

    ``maxlen`` defaults to the longest sequence. Shorter sequences get ``value`` before them
    (``padding='pre'``) or after (``'post'``); longer ones lose their first (``truncating='pre'``)
    or last (``'post'``) elements. Each element may itself be an array (sample_shape, taken from
    the first non-empty sequence); ``dtype=object`` pads strings.
    """
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"pad_sequences: `sequences` must be a list of sequences, got {describe(sequences)}")
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be None or a non-negative integer, got {describe(maxlen)}")
    dtype = np.dtype(dtype)
    if isinstance(value, str) and dtype != object and dtype.kind not in "SU":
        raise ValueError(f"pad_sequences: dtype {dtype} cannot hold the string value {value!r}; "
                         "use dtype=object for variable-length strings")
    lengths, sample_shape, seen = [], (), False
    for i, s in enumerate(sequences):
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; sequence {i} is "
                             f"{describe(s)}") from None
        if not seen and len(s):
            sample_shape, seen = np.asarray(s).shape[1:], True
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences: no sequences and no maxlen: the padded length is undefined")
        maxlen = max(lengths)
    out = np.full((len(lengths), int(maxlen)) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: sequence {i} has elements of shape {kept.shape[1:]}, but the "
                             f"first non-empty sequence's are {sample_shape}")
        if padding == "pre":
            out[i, maxlen - len(kept):] = kept
        else:
            out[i, :len(kept)] = kept
    return out


def to_categorical(x, num_classes=None):
    """One-hot float64 rows of the integer class vector ``x``: shape ``x.shape + (num_classes,)``.

    As Keras 3: a trailing axis of size 1 is dropped first ((N, 1) -> (N, num_classes)), and
    ``num_classes`` defaults to ``max(x) + 1``. Classes must lie in [0, num_classes).
    """
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()           # a minigrad (or torch) tensor
    a = np.asarray(x)
    if a.dtype.kind not in "uib" and not (a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a))):
        raise ValueError(f"to_categorical: x must hold integer class indices, got {a.dtype} values")
    a = a.astype(np.int64)
    shape = a.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    a = a.reshape(-1)
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
                                    or num_classes < 1):
        raise ValueError(f"to_categorical: num_classes must be a positive integer or None, got {describe(num_classes)}")
    if a.size and a.min() < 0:
        raise ValueError(f"to_categorical: class indices must be >= 0, got {int(a.min())}")
    if num_classes is None:
        if not a.size:
            raise ValueError("to_categorical: x is empty and num_classes is None; pass num_classes")
        num_classes = int(a.max()) + 1
    elif a.size and a.max() >= num_classes:
        raise ValueError(f"to_categorical: class index {int(a.max())} is out of range for num_classes={num_classes}")
    out = np.zeros((a.shape[0], int(num_classes)))
    out[np.arange(a.shape[0]), a] = 1
    return out.reshape(shape + (int(num_classes),))


def set_random_seed(seed):
    """Seed Python's ``random``, NumPy's global generator and minigrad's (``mg.manual_seed``), as Keras does."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"set_random_seed: seed must be an integer, got {describe(seed)}")
    _pyrandom.seed(seed)
    np.random.seed(seed)
    manual_seed(seed)
