"""Data helpers for sequence models: language-model streams, padding and minibatch indices.

    streams = batchify(token_ids, batch_size=20)          # (n_steps, 20)
    for x, y in lm_batches(streams, seq_len=35):          # (35, 20) each, y is x shifted by one
        ...
    padded, lengths = pad_batch([s1, s2, s3])             # (T_max, 3), [len(s1), len(s2), len(s3)]
    for idx in minibatches(len(X), 32, generator=rng):   # index arrays, one epoch
        ...

Everything returns NumPy arrays (time-major (T, B, ...) by default, like minigrad's RNN layers);
wrap them with ``mg.tensor`` or pass them as indices directly. No Python work per element.

``pad_batch`` was called ``pad_sequences`` until the Keras front end arrived: Keras's
``keras.utils.pad_sequences`` (``minigrad.keras.utils.pad_sequences``) is a different function
(pads *before* each sequence by default, truncates to ``maxlen``, returns no lengths, batch-major).
The old name still works but warns (DeprecationWarning).
"""
import numbers
import warnings

import numpy as np

from .grad_mode import check_bool, describe

__all__ = ["batchify", "lm_batches", "minibatches", "pad_batch", "pad_sequences"]


def batchify(tokens, batch_size):
    """Split a 1-D token sequence into ``batch_size`` contiguous streams: shape (n_steps, B).

    As in PyTorch's word_language_model example: the tail that does not fill a whole row is
    dropped (n_steps = len(tokens) // B), and column ``b`` holds tokens
    ``[b * n_steps, (b + 1) * n_steps)`` in order. Consecutive windows of rows therefore continue
    each stream, so a recurrent state can be carried from one batch to the next (truncated BPTT,
    see ``nn.utils.repackage_hidden``). Returns a new C-contiguous array.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"batchify expects a 1-D token sequence, got shape {tokens.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n_steps = tokens.shape[0] // batch_size
    if n_steps == 0:
        raise ValueError(f"batchify: {tokens.shape[0]} tokens cannot fill {batch_size} streams")
    return np.ascontiguousarray(tokens[: n_steps * batch_size].reshape(batch_size, n_steps).T)


def lm_batches(streams, seq_len):
    """Iterate over ``(x, y)`` windows of shape (L, B) of batchified streams; ``y`` is ``x`` shifted by one.

    ``x = streams[i:i+L]`` and ``y = streams[i+1:i+1+L]`` for i = 0, seq_len, 2*seq_len, ...;
    L is ``seq_len`` except for the last window, which may be shorter (every token except the
    very last row is an input exactly once). Windows are views of ``streams`` (no copies).
    """
    streams = np.asarray(streams)
    if streams.ndim < 2:
        raise ValueError(f"lm_batches expects (n_steps, batch, ...) streams, got shape {streams.shape}")
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive integer, got {seq_len!r}")
    n = streams.shape[0] - 1            # the last row is only ever a target
    return ((streams[i:i + min(seq_len, n - i)], streams[i + 1:i + 1 + min(seq_len, n - i)])
            for i in range(0, n, seq_len))  # arguments are checked now, windows made lazily


def check_padding_value(fname, value):
    """``value`` if it is a real number (what a padded slot may hold), else a TypeError naming it."""
    if not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"{fname}: padding_value must be a real number, got {describe(value)}")
    return value


def pad_batch(seqs, padding_value=0, batch_first=False, dtype=None):
    """Stack variable-length sequences into one padded array; returns ``(padded, lengths)``.

    ``seqs`` is a non-empty list of arrays of shape (len_i, *features) (1-D token arrays or 2-D
    (len, features) arrays; the feature dimensions must agree). ``padded`` has shape
    (T_max, B, *features), or (B, T_max, *features) with ``batch_first``, holding each sequence
    at the start of its slot and ``padding_value`` after it; ``lengths`` is an int64 array of
    the len_i (what minigrad's RNN layers take as ``lengths=``). ``dtype`` defaults to the common
    dtype of the sequences. (Not Keras's ``pad_sequences``: see the module docstring.)
    """
    check_padding_value("pad_batch", padding_value)
    arrays = [np.asarray(s) for s in seqs]
    if not arrays:
        raise ValueError("pad_batch needs at least one sequence")
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"pad_batch: sequence {i} is a scalar; expected shape (len, ...)")
    features = arrays[0].shape[1:]
    for i, a in enumerate(arrays):
        if a.shape[1:] != features:
            raise ValueError(f"pad_batch: sequence {i} has shape {a.shape}, but sequence 0 has "
                             f"feature shape {features}; all must be (len, {', '.join(map(str, features))})")
    dtype = np.result_type(*arrays) if dtype is None else np.dtype(dtype)
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    T = int(lengths.max())
    out = np.full((len(arrays), T) + features, padding_value, dtype=dtype)
    for b, a in enumerate(arrays):      # one block copy per sequence
        out[b, : a.shape[0]] = a
    if not batch_first:
        out = np.ascontiguousarray(np.swapaxes(out, 0, 1))
    return out, lengths


def pad_sequences(seqs, padding_value=0, batch_first=False, dtype=None):
    """Deprecated name of ``pad_batch`` (same arguments and results); warns, since Keras's
    ``pad_sequences`` (``minigrad.keras.utils.pad_sequences``) pads before and returns no lengths."""
    warnings.warn("minigrad.data.pad_sequences is renamed minigrad.data.pad_batch (pads after each sequence, "
                  "returns (padded, lengths), time-major by default); for Keras's pad_sequences (pads before, "
                  "batch-major, no lengths) use minigrad.keras.utils.pad_sequences", DeprecationWarning, stacklevel=2)
    return pad_batch(seqs, padding_value, batch_first, dtype)


def _rng(generator):
    if generator is None:
        return np.random.default_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be a numpy.random.Generator, an integer seed or None, "
                    f"got {type(generator).__name__}")


def minibatches(n, batch_size, shuffle=True, generator=None, drop_last=False):
    """Iterate over int64 index arrays that split ``range(n)`` into batches of ``batch_size`` (one epoch).

    With ``shuffle`` the order is a permutation drawn from ``generator``: a
    ``numpy.random.Generator`` (pass the same one every epoch to get a fresh but reproducible
    order per epoch), an integer seed (the same order every call) or None (fresh entropy);
    the permutation is drawn when ``minibatches`` is called.
    Every index appears exactly once per epoch, except that ``drop_last`` drops a final batch
    smaller than ``batch_size``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    shuffle = check_bool(shuffle, "minibatches: shuffle")
    drop_last = check_bool(drop_last, "minibatches: drop_last")
    order = _rng(generator).permutation(n) if shuffle else np.arange(n)
    order = order.astype(np.int64, copy=False)
    stop = n - n % batch_size if drop_last else n
    return (order[i:i + batch_size] for i in range(0, stop, batch_size))
