"""minigrad.utils.data: datasets, samplers, collation and the DataLoader, checked against plain
Python references and against torch.utils.data's batching (same indices -> same batches)."""
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils.data import (BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler,
                                 TensorDataset, default_collate)


def make_ds(n=10):
    return TensorDataset(mg.tensor(np.arange(2.0 * n).reshape(n, 2), dtype=np.float64), mg.tensor(np.arange(n)))


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False),
                                            (0, 2, False)])
def test_sequential_batches_cover_dataset(n, bs, drop_last):
    ds = make_ds(n)
    batches = list(DataLoader(ds, batch_size=bs, drop_last=drop_last))
    stop = n - n % bs if drop_last else n
    assert len(batches) == len(DataLoader(ds, batch_size=bs, drop_last=drop_last)) == -(-stop // bs)
    ys = np.concatenate([yb.data for _, yb in batches]) if batches else np.zeros(0)
    np.testing.assert_array_equal(ys, np.arange(stop))
    for xb, yb in batches:
        assert xb.dtype == np.float64 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.data, 2.0 * yb.data[:, None] + [0, 1])


def test_shuffle_is_seeded_and_fresh_each_epoch():
    ds = make_ds(20)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3))
    e1 = np.concatenate([y.data for _, y in loader])
    e2 = np.concatenate([y.data for _, y in loader])
    assert sorted(e1) == list(range(20)) and sorted(e2) == list(range(20)) and (e1 != e2).any()
    again = DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(np.concatenate([y.data for _, y in again]), e1)
    mg.manual_seed(7)
    a = [y.data.tolist() for _, y in DataLoader(ds, batch_size=4, shuffle=True)]
    mg.manual_seed(7)
    assert a == [y.data.tolist() for _, y in DataLoader(ds, batch_size=4, shuffle=True)]


def test_samplers():
    ds = list(range(7))
    assert list(SequentialSampler(ds)) == ds
    g = np.random.default_rng(0)
    assert sorted(RandomSampler(ds, generator=g)) == ds
    r = list(RandomSampler(ds, replacement=True, num_samples=30, generator=g))
    assert len(r) == 30 and set(r) <= set(ds)
    assert len(list(RandomSampler(ds, num_samples=10, generator=g))) == 10
    assert list(BatchSampler(SequentialSampler(ds), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(SequentialSampler(ds), 3, True)) == 2
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, False))
    assert [b.data.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6]]
    assert [b.data.tolist() for b in DataLoader(ds, sampler=[6, 5], batch_size=2)] == [[6, 5]]


def test_default_collate_kinds():
    P = namedtuple("P", "a b")
    batch = [{"x": np.ones(2, np.float32), "n": 1, "f": 0.5, "s": "u", "t": (np.int16(2), True), "p": P(1, 2.0)},
             {"x": np.zeros(2, np.float32), "n": 2, "f": 1.5, "s": "v", "t": (np.int16(3), False), "p": P(3, 4.0)}]
    out = default_collate(batch)
    assert out["x"].shape == (2, 2) and out["x"].dtype == np.float32
    assert out["n"].dtype == np.int64 and out["f"].dtype == np.float64 and out["s"] == ["u", "v"]
    assert isinstance(out["t"], list) and out["t"][0].dtype == np.int16 and out["t"][1].dtype == np.bool_
    assert isinstance(out["p"], P) and out["p"].b.data.tolist() == [2.0, 4.0]
    assert isinstance(default_collate([OrderedDict(a=1)]), OrderedDict)
    x = mg.tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    stacked = default_collate([x, x * 2])
    stacked.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])         # collating keeps the graph
    assert list(DataLoader([np.arange(3)], batch_size=None))[0].shape == (3,)


def test_matches_torch_batching():
    torch = pytest.importorskip("torch")
    X, y = np.random.default_rng(0).standard_normal((11, 3)), np.arange(11)
    tl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y)),
                                     batch_size=4, drop_last=False)
    ml = DataLoader(TensorDataset(mg.tensor(X, dtype=np.float64), mg.tensor(y)), batch_size=4)
    assert len(tl) == len(ml)
    for (tx, ty), (mx, my) in zip(tl, ml):
        np.testing.assert_array_equal(mx.data, tx.numpy())
        np.testing.assert_array_equal(my.data, ty.numpy())
    tb = torch.utils.data.default_collate([(1, 2.0), (3, 4.0)])
    mb = default_collate([(1, 2.0), (3, 4.0)])
    assert type(tb) is type(mb) and [t.numpy().tolist() for t in tb] == [m.data.tolist() for m in mb]


def test_num_workers_runs_in_process_with_a_warning():
    with pytest.warns(UserWarning, match="num_workers=2 is accepted but minigrad loads every batch in the calling"):
        loader = DataLoader(make_ds(4), batch_size=2, num_workers=2, pin_memory=True)
    assert len(list(loader)) == 2


def test_dataloader_argument_errors():
    ds = make_ds(4)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got '2'"):
        DataLoader(ds, batch_size="2")
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="num_workers must be a non-negative integer, got -1"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator or None, got int"):
        DataLoader(ds, shuffle=True, generator=0)
    with pytest.raises(TypeError, match="dataset must have __getitem__ and __len__.*got int"):
        DataLoader(5)
    with pytest.raises(ValueError, match=r"size mismatch between tensors: first dimensions \[4, 3\]"):
        TensorDataset(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"arrays of different shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object()])
    with pytest.raises(TypeError, match="dtype <U1 cannot become tensors"):
        default_collate([np.array(["a"])])
    with pytest.raises(NotImplementedError, match="must implement __getitem__"):
        Dataset()[0]
    with pytest.raises(ValueError, match="same length, got lengths \\[2, 1\\]"):
        default_collate([(1, 2), (3,)])
