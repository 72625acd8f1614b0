"""Packed sequences, PyTorch's way of batching sequences of different lengths (``nn.utils.rnn``).

    padded = pad_sequence([a, b, c])                              # (T_max, 3, *) with zeros after each
    packed = pack_padded_sequence(padded, [5, 3, 2])              # only the real steps
    out, h_n = lstm(packed)                                       # out is a PackedSequence
    out, lengths = pad_packed_sequence(out)                       # back to (T_max, 3, H)

A :class:`PackedSequence` stores the real steps time-major: ``data`` (sum(lengths), *) holds step 0
of every sequence, then step 1 of every sequence still running, ...; ``batch_sizes[t]`` is how many
sequences have a step t. Sequences are ordered by decreasing length: ``sorted_indices[j]`` is the
original batch index of the j-th longest, ``unsorted_indices`` the inverse permutation (both None
when the input was already sorted and ``enforce_sorted=True``). Ties keep their original order
(a stable sort; PyTorch's order among equal lengths is unspecified).

Packing and unpacking are one gather / one scatter through a precomputed flat index (no Python
loop over steps), and both are differentiable. RNN, LSTM and GRU accept a PackedSequence: it is
unpacked once to the padded layout and its lengths, run through the layers' ``lengths=`` path (the
time loop is unchanged), and the output is packed again with the input's ``sorted_indices``; ``hx``
and ``h_n`` are in the original batch order, as PyTorch's.
"""
from typing import NamedTuple, Optional

import numpy as np

from ...data import check_padding_value, pad_batch
from ...grad_mode import check_bool
from ...tensor import Function, Tensor, as_tensor
from ..argcheck import int_array

__all__ = ["PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence",
           "unpack_sequence", "unpad_sequence"]


class PackedSequence(NamedTuple):
    """data (sum(lengths), *), batch_sizes (T,) int64, sorted_indices / unsorted_indices (B,) or None."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None

    @property
    def is_cuda(self):
        return False


def _flat_index(batch_sizes, sorted_indices, T, B, batch_first):
    """For each packed row, its row in the padded array viewed as (T*B, *) or (B*T, *)."""
    N = int(batch_sizes.sum())
    t = np.repeat(np.arange(batch_sizes.size, dtype=np.int64), batch_sizes)       # (N,) step of each row
    start = np.cumsum(batch_sizes) - batch_sizes                                   # first row of each step
    j = np.arange(N, dtype=np.int64) - np.repeat(start, batch_sizes)               # rank by length
    b = j if sorted_indices is None else sorted_indices[j]                         # original batch index
    return b * T + t if batch_first else t * B + b


class PackGather(Function):
    """data (N, *) = padded viewed as (T*B, *) at rows ``index``; backward scatters into zeros."""

    def forward(self, padded, index):
        self.index, self.shape = index, padded.shape
        return padded.reshape((-1,) + padded.shape[2:])[index]

    def backward(self, g):
        dx = np.zeros((self.shape[0] * self.shape[1],) + self.shape[2:], g.dtype)
        dx[self.index] = g                    # every padded position appears at most once
        return dx.reshape(self.shape)


class PadScatter(Function):
    """padded (T, B, *) filled with ``padding_value`` and the packed rows at ``index``; backward gathers."""

    def forward(self, data, index, shape, padding_value):
        self.index = index
        out = np.full((shape[0] * shape[1],) + data.shape[1:], padding_value, data.dtype)
        out[index] = data
        return out.reshape(tuple(shape) + data.shape[1:])

    def backward(self, g):
        return g.reshape((-1,) + g.shape[2:])[self.index]


def _int_vector(x, name, fname):
    """A 1-D int64 array (list, array or integer tensor) for lengths and index vectors."""
    arr = int_array(x, fname, name)
    if arr.ndim != 1:
        raise TypeError(f"{fname}: {name} must be 1-D, got shape {arr.shape}")
    return arr


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of ``lengths``.

    With ``enforce_sorted`` the lengths must be non-increasing; otherwise the batch is sorted here
    and the permutation is kept in the result to restore the order on unpacking.
    """
    fname = "pack_padded_sequence"
    batch_first = check_bool(batch_first, f"{fname}: batch_first")
    enforce_sorted = check_bool(enforce_sorted, f"{fname}: enforce_sorted")
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"{fname}: input must be (T, B, *) or (B, T, *) with batch_first, got shape {x.shape}")
    lengths = _int_vector(lengths, "lengths", fname)
    T, B = (x.shape[1], x.shape[0]) if batch_first else (x.shape[0], x.shape[1])
    if lengths.size != B:
        raise ValueError(f"{fname}: got {lengths.size} lengths for a batch of {B} (input shape {x.shape}, "
                         f"batch_first={batch_first})")
    if B and lengths.min() <= 0:
        raise ValueError(f"{fname}: every length must be > 0, got {lengths.min()} (lengths {lengths.tolist()})")
    if B and lengths.max() > T:
        raise ValueError(f"{fname}: length {lengths.max()} exceeds the padded length {T} of the input of shape "
                         f"{x.shape} (batch_first={batch_first})")
    if enforce_sorted:
        if B and (np.diff(lengths) > 0).any():
            raise ValueError(f"{fname}: lengths {lengths.tolist()} must be sorted in decreasing order when "
                             "enforce_sorted=True; pass enforce_sorted=False to pack unsorted sequences")
        sorted_idx = None
    else:
        sorted_idx = np.argsort(-lengths, kind="stable").astype(np.int64)
    return _pack(x, lengths if sorted_idx is None else lengths[sorted_idx], sorted_idx, batch_first)


def _pack(x, sorted_lengths, sorted_idx, batch_first):
    """Pack ``x`` given its lengths in sorted order and the sorting permutation (or None)."""
    T, B = (x.shape[1], x.shape[0]) if batch_first else (x.shape[0], x.shape[1])
    max_len = int(sorted_lengths[0]) if B else 0
    # batch_sizes[t] = #sequences longer than t (lengths are sorted: a searchsorted on the reversed)
    batch_sizes = (sorted_lengths[None, :] > np.arange(max_len)[:, None]).sum(axis=1).astype(np.int64)
    index = _flat_index(batch_sizes, sorted_idx, T, B, batch_first)
    data = PackGather.apply(x, index=index)
    if sorted_idx is None:
        return PackedSequence(data, Tensor(batch_sizes))
    return PackedSequence(data, Tensor(batch_sizes), Tensor(sorted_idx), Tensor(np.argsort(sorted_idx)))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of :func:`pack_padded_sequence`: ``(padded, lengths)`` in the original batch order.

    ``padded`` is (T, B, *) (or (B, T, *)) with T = ``total_length`` or the longest length;
    ``lengths`` is an int64 tensor (B,).
    """
    fname = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fname}: expected a PackedSequence, got {type(sequence).__name__}")
    batch_first = check_bool(batch_first, f"{fname}: batch_first")
    check_padding_value(fname, padding_value)
    bs = _int_vector(sequence.batch_sizes, "batch_sizes", fname)
    data = as_tensor(sequence.data)
    if data.ndim == 0 or bs.sum() != data.shape[0]:
        raise ValueError(f"{fname}: batch_sizes sum to {bs.sum()} but data has shape {data.shape}")
    sorted_idx = None if sequence.sorted_indices is None else _int_vector(sequence.sorted_indices,
                                                                          "sorted_indices", fname)
    B, max_len = (int(bs[0]) if bs.size else 0), bs.size
    T = max_len
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, (int, np.integer)) \
                or total_length < max_len:
            raise ValueError(f"{fname}: total_length must be an int >= the longest length {max_len}, "
                             f"got {total_length!r}")
        T = int(total_length)
    index = _flat_index(bs, sorted_idx, T, B, batch_first)
    padded = PadScatter.apply(data, index=index, shape=(B, T) if batch_first else (T, B),
                              padding_value=padding_value)
    sorted_lengths = (bs[None, :] > np.arange(B)[:, None]).sum(axis=1)           # (B,) in sorted order
    lengths = np.empty(B, np.int64)
    lengths[np.arange(B) if sorted_idx is None else sorted_idx] = sorted_lengths
    return padded, Tensor(lengths)


class PadSequence(Function):
    """(T, B, *) padded stack of sequences (L_i, *); backward slices each sequence's rows back out."""

    def forward(self, *seqs, batch_first, padding_value):
        self.batch_first = batch_first
        out, self.lengths = pad_batch(list(seqs), padding_value, batch_first, seqs[0].dtype)
        return out

    def backward(self, g):
        return tuple((g[i, :n] if self.batch_first else g[:n, i]) if need else None
                     for i, (n, need) in enumerate(zip(self.lengths, self.needs)))


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Stack tensors (L_i, *) into (T_max, B, *) (or (B, T_max, *)), padding with ``padding_value``."""
    if isinstance(sequences, Tensor) or not hasattr(sequences, "__len__") or len(sequences) == 0:
        raise ValueError("pad_sequence expects a non-empty list of tensors (L_i, *)")
    seqs = [as_tensor(s) for s in sequences]
    for i, s in enumerate(seqs):
        if s.ndim == 0:
            raise ValueError(f"pad_sequence: sequence {i} is 0-d; expected shape (L, *)")
    return PadSequence.apply(*seqs, batch_first=check_bool(batch_first, "pad_sequence: batch_first"),
                             padding_value=check_padding_value("pad_sequence", padding_value))


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) directly (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = [len(as_tensor(s)) if as_tensor(s).ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Inverse of :func:`pad_sequence`: the list of tensors (L_i, *) cut out of a padded batch."""
    x = as_tensor(padded_sequences)
    lengths = _int_vector(lengths, "lengths", "unpad_sequence")
    if x.ndim < 2:
        raise ValueError(f"unpad_sequence: expected a padded batch (T, B, *) or (B, T, *), got shape {x.shape}")
    T, B = (x.shape[1], x.shape[0]) if batch_first else (x.shape[0], x.shape[1])
    if lengths.size != B or (B and (lengths.min() < 0 or lengths.max() > T)):
        raise ValueError(f"unpad_sequence: lengths {lengths.tolist()} do not fit a padded batch of shape {x.shape} "
                         f"(batch_first={batch_first})")
    return [x[b, :n] if batch_first else x[:n, b] for b, n in enumerate(lengths.tolist())]


def unpack_sequence(packed_sequences):
    """Inverse of :func:`pack_sequence`: the list of tensors (L_i, *) in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def forward_packed(layer, packed, hx, lengths):
    """Run a recurrent layer on a PackedSequence (the hook at the top of ``RNNBase.forward``).

    The packed steps are unpacked once, the layer runs its ``lengths=`` path, and the output is
    re-packed with the input's permutation: ``(PackedSequence, h_n)`` as PyTorch returns.
    """
    if lengths is not None:
        raise ValueError(f"{type(layer).__name__}: a PackedSequence carries its own lengths; do not pass lengths=")
    padded, lens = pad_packed_sequence(packed, batch_first=layer.batch_first)
    out, h_n = layer.forward(padded, hx, lengths=lens)
    sorted_idx = None if packed.sorted_indices is None else _int_vector(packed.sorted_indices, "sorted_indices",
                                                                        type(layer).__name__)
    sorted_lengths = lens.data if sorted_idx is None else lens.data[sorted_idx]
    out = _pack(out, sorted_lengths, sorted_idx, layer.batch_first)
    return PackedSequence(out.data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), h_n
