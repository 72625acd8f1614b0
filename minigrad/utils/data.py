"""``minigrad.utils.data``: Dataset, TensorDataset, samplers and DataLoader, as ``torch.utils.data``.

    ds = TensorDataset(mg.tensor(X), mg.tensor(y))
    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=np.random.default_rng(0))
    for xb, yb in loader:          # xb (32, ...), yb (32,): samples stacked by default_collate
        ...

Semantics are PyTorch's: a map-style dataset has ``__getitem__`` and ``__len__``; the loader asks
a *batch sampler* for lists of indices, fetches ``dataset[i]`` for each and merges the samples
with ``collate_fn`` (default: :func:`default_collate`). ``shuffle=True`` draws a new permutation
every epoch (every ``iter(loader)``) from ``generator`` -- a ``numpy.random.Generator`` -- or,
when none is given, from minigrad's default generator (``mg.manual_seed`` makes it reproducible).

Differences from PyTorch, by design: there are no worker processes. ``num_workers > 0`` is
accepted so ported programs run unchanged, but loading happens in the calling process (a
warning says so once per loader); ``pin_memory`` is accepted and ignored (there is no GPU).
Collated NumPy arrays keep their dtype (a float64 array becomes a float64 tensor, as
``torch.from_numpy`` would); Python floats become float64 tensors and ints int64, as PyTorch.
"""
import collections.abc
import numbers
import warnings

import numpy as np

from .. import ops
from ..grad_mode import check_bool, describe
from ..nn.argcheck import check_generator, positive_int
from ..tensor import Tensor

__all__ = ["BatchSampler", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler",
           "TensorDataset", "default_collate", "default_convert"]


# ====================================================================== datasets
class Dataset:
    """A map-style dataset: subclasses implement ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


class TensorDataset(Dataset):
    """Sample ``i`` is ``tuple(t[i] for t in tensors)``; every tensor (or array) has the same first size."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for k, t in enumerate(tensors):
            if not isinstance(t, (Tensor, np.ndarray)) or t.ndim == 0:
                raise TypeError(f"TensorDataset: argument {k} must be a tensor or array with a first (sample) "
                                f"dimension, got {type(t).__name__}{'' if not hasattr(t, 'shape') else t.shape}")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


# ====================================================================== samplers
class Sampler:
    """Iterates over dataset indices (one epoch per ``iter``)."""

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation per epoch (or ``num_samples`` draws with ``replacement``)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = check_bool(replacement, "RandomSampler: replacement")
        self._num_samples = None if num_samples is None else positive_int(num_samples, "num_samples",
                                                                            "RandomSampler")
        self.generator = generator
        check_generator(generator, "RandomSampler")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, g = len(self.data_source), check_generator(self.generator, "RandomSampler")
        if self.replacement:
            return iter(g.integers(0, n, size=self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0           # num_samples may exceed n: whole permutations
        order = np.concatenate([g.permutation(n) for _ in range(reps)]) if reps else np.zeros(0, np.int64)
        return iter(order[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one may be short)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ====================================================================== collation
def _stack(tensors):
    if any(t.requires_grad for t in tensors):
        return ops.stack(list(tensors), axis=0)                # keeps the graph, as torch.stack
    return Tensor(np.stack([t.data for t in tensors]), dtype=tensors[0].data.dtype)


def default_collate(batch):
    """Merge a list of samples into a batch (PyTorch's rules).

    Tensors and numeric NumPy arrays are stacked on a new first axis (dtype kept); NumPy scalars,
    Python floats (-> float64), ints (-> int64) and bools become 1-D tensors; strings stay a list;
    dicts are collated per key, tuples and lists position by position (returned as a list, as
    PyTorch does; named tuples keep their type).
    """
    if not isinstance(batch, (list, tuple)) or not batch:
        raise TypeError(f"default_collate expects a non-empty list of samples, got {type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {t.shape for t in batch if isinstance(t, Tensor)}
        if len(shapes) != 1 or not all(isinstance(t, Tensor) for t in batch):
            raise ValueError(f"default_collate: cannot stack tensors of different shapes {sorted(shapes)}")
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: NumPy arrays of dtype {elem.dtype} cannot become tensors")
        shapes = {np.shape(a) for a in batch}
        if len(shapes) != 1:
            raise ValueError(f"default_collate: cannot stack arrays of different shapes {sorted(shapes)}")
        return Tensor(np.stack(batch), dtype=elem.dtype)
    if isinstance(elem, np.generic) and elem.dtype.kind in "biuf":
        return Tensor(np.array(batch), dtype=elem.dtype)
    if isinstance(elem, float):
        return Tensor(np.array(batch, np.float64), dtype=np.float64)
    if isinstance(elem, bool):
        return Tensor(np.array(batch, bool))
    if isinstance(elem, int):
        return Tensor(np.array(batch, np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        for i, d in enumerate(batch):
            if not isinstance(d, collections.abc.Mapping) or set(d) != set(elem):
                got = sorted(d, key=repr) if isinstance(d, collections.abc.Mapping) else describe(d)
                raise ValueError(f"default_collate: sample {i} has keys {got} but sample 0 has "
                                 f"{sorted(elem, key=repr)}; every dict sample needs the same keys")
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return out if type(elem) is dict else type(elem)(out)     # OrderedDict etc. keep their type
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):           # named tuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if len({len(s) for s in batch}) != 1:
            raise ValueError("default_collate: each element in a batch of sequences must have the same length, "
                             f"got lengths {[len(s) for s in batch]}")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: a batch must contain tensors, numpy arrays, numbers, strings, dicts or "
                    f"lists; found {type(elem).__name__}")


def default_convert(data):
    """Without batching (``batch_size=None``): NumPy arrays become tensors; containers recurse."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return Tensor(data, dtype=data.dtype)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(v) for v in data]
    return data


# ====================================================================== the loader
class DataLoader:
    """Iterate over ``dataset`` in batches (see the module docstring for what differs from PyTorch)."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 generator=None, prefetch_factor=None, persistent_workers=False):
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must have __getitem__ and __len__ (a map-style dataset), got "
                            f"{type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if num_workers > 0:
            warnings.warn(f"DataLoader: num_workers={num_workers} is accepted but minigrad loads every batch in the "
                          "calling process (no worker processes)", UserWarning, stacklevel=2)
        if not isinstance(drop_last, bool):
            raise ValueError(f"DataLoader: drop_last must be a bool, got {drop_last!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                raise TypeError(f"DataLoader: {name} must be iterable (a Sampler or a sequence of indices), got "
                                f"{type(value).__name__}")
        if shuffle is not None:
            shuffle = check_bool(shuffle, "DataLoader: shuffle")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size = None
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")
        else:
            batch_size = positive_int(batch_size, "batch_size", "DataLoader")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.num_workers = sampler, batch_sampler, int(num_workers)
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)

    def __iter__(self):
        if self.batch_sampler is None:                       # batch_size=None: one sample at a time
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self):
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
