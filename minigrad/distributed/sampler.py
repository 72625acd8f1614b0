"""Sharding the data between ranks: DistributedSampler (PyTorch's) for map-style datasets and
``shard_streams`` for the language-model streams of ``minigrad.data.batchify``.

Both give each rank a disjoint share, so N ranks with per-rank batch b together see what one
process with batch N*b sees; with the loss averaged per rank and the gradients averaged over
ranks (DistributedDataParallel) the update is the same.
"""
import numbers

import numpy as np

from ..grad_mode import check_bool
from ..utils.data import Sampler
from .comm import rank as _rank, world_size as _world_size


def _group(num_replicas, rank, what):
    """(num_replicas, rank): given, or from the initialized process group."""
    if num_replicas is None:
        num_replicas = _world_size()
    if rank is None:
        rank = _rank()
    for name, v in (("num_replicas", num_replicas), ("rank", rank)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{what}: {name} must be an integer, got {v!r}")
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"{what}: need num_replicas >= 1 and 0 <= rank < num_replicas, got "
                         f"num_replicas={num_replicas}, rank={rank}")
    return int(num_replicas), int(rank)


class DistributedSampler(Sampler):
    """This rank's share of the indices ``range(n)`` (``torch.utils.data.DistributedSampler``).

    ``dataset_or_len``: a dataset (anything with ``len``) or the number of samples. The (shuffled,
    with ``seed + epoch``: call ``set_epoch(e)`` at each epoch so the order changes, identically
    on every rank) index list is made divisible by ``num_replicas`` -- by repeating its first
    indices, or with ``drop_last`` by dropping its tail -- and rank r takes every
    num_replicas-th index starting at r. Pass it as ``DataLoader(ds, batch_size=b, sampler=s)``.
    """

    def __init__(self, dataset_or_len, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        n = dataset_or_len if isinstance(dataset_or_len, numbers.Integral) else len(dataset_or_len)
        if isinstance(n, bool) or n < 0:
            raise ValueError(f"DistributedSampler: the number of samples must be >= 0, got {n!r}")
        self.num_replicas, self.rank = _group(num_replicas, rank, "DistributedSampler")
        self.n = int(n)
        self.shuffle = check_bool(shuffle, "DistributedSampler: shuffle")
        self.drop_last = check_bool(drop_last, "DistributedSampler: drop_last")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"DistributedSampler: seed must be an integer, got {seed!r}")
        self.seed, self.epoch = int(seed), 0
        R = self.num_replicas
        self.num_samples = self.n // R if self.drop_last else -(-self.n // R)
        self.total_size = self.num_samples * R

    def set_epoch(self, epoch):
        """Use ``seed + epoch`` for the next shuffle (the same on every rank)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
            raise TypeError(f"DistributedSampler.set_epoch: epoch must be an integer, got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch (an int64 array of ``num_samples``)."""
        order = (np.random.default_rng(self.seed + self.epoch).permutation(self.n) if self.shuffle
                 else np.arange(self.n)).astype(np.int64)
        if self.total_size > self.n:          # pad by wrapping around (PyTorch's rule)
            order = np.resize(order, self.total_size) if self.n else order
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples


def shard_streams(streams, num_replicas=None, rank=None):
    """This rank's columns of batchified LM streams (n_steps, B, ...) -> (n_steps, B / N, ...).

    Rank r takes the contiguous block of streams ``[r*B/N, (r+1)*B/N)``: make the streams with the
    global batch, ``batchify(ids, N * b)``, and each rank trains on b of them. A view, no copy.
    """
    num_replicas, rank = _group(num_replicas, rank, "shard_streams")
    streams = np.asarray(streams)
    if streams.ndim < 2:
        raise ValueError(f"shard_streams expects (n_steps, batch, ...) streams, got shape {streams.shape}")
    B = streams.shape[1]
    if B % num_replicas:
        raise ValueError(f"shard_streams: {B} streams do not split evenly over {num_replicas} ranks; "
                         f"batchify with a multiple of {num_replicas} streams")
    b = B // num_replicas
    return streams[:, rank * b:(rank + 1) * b]
