"""minigrad.distributed inside one process: the tape's post-accumulate hook, bucket planning,
DistributedDataParallel's reducer at world size 1, the samplers, and the no-MPI error.

The multi-process behaviour (averaging, identical weights, abort on error) is in
tests/test_distributed_mpi.py (marker ``mpi``). Tests that need an MPI library skip without mpi4py.
"""
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn
from minigrad.distributed import comm as dist_comm
from minigrad.utils.data import DataLoader, TensorDataset


# ====================================================================== the tape hook
def test_post_accumulate_hook_runs_once_when_the_leaf_is_done():
    a = mg.tensor(np.arange(3.0), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    seen = []
    early = (a * b).sum()                 # a's only use, and b's first use (oldest consumer)
    out = early * early + (b * 3.0).sum()
    a.register_post_accumulate_grad_hook(lambda t: seen.append(("a", t.grad.copy())))
    b.register_post_accumulate_grad_hook(lambda t: seen.append(("b", t.grad.copy())))
    out.backward()
    # a: d/da (a.b)^2 = 2 (a.b) b; b: 2 (a.b) a + 3, both uses summed before the hook runs
    assert sorted(k for k, _ in seen) == ["a", "b"]           # once each
    got = dict(seen)
    np.testing.assert_array_equal(got["a"], 2 * 3.0 * np.ones(3))
    np.testing.assert_array_equal(got["b"], 2 * 3.0 * np.arange(3.0) + 3)


def test_post_accumulate_hook_runs_before_the_older_tape_is_walked():
    w_late = mg.tensor(np.ones((2, 2)), requires_grad=True)    # used last in forward: done first
    w_early = mg.tensor(np.ones((2, 2)), requires_grad=True)
    x = mg.tensor(np.ones((1, 2)))
    h = x @ w_early
    for _ in range(5):                                          # a chain between the two uses
        h = h.tanh()
    loss = (h @ w_late).sum()
    when = {}
    w_late.register_post_accumulate_grad_hook(lambda t: when.setdefault("late", w_early.grad is None))
    loss.backward()
    assert when == {"late": True}                               # w_early not reached yet


def test_post_accumulate_hook_sees_accumulated_grad_and_handle_removes():
    w = mg.tensor(np.ones(2), requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.copy()))
    (w * 2.0).sum().backward()
    (w * 2.0).sum().backward()
    np.testing.assert_array_equal(calls[1], [4.0, 4.0])        # .grad accumulates across passes
    handle.remove()
    (w * 2.0).sum().backward()
    assert len(calls) == 2
    handle.remove()                                             # twice: harmless


def test_post_accumulate_hook_after_a_leaf_hook_and_on_bad_targets():
    w = mg.tensor(np.ones(2), requires_grad=True)
    w.register_hook(lambda g: g * 10)
    got = []
    w.register_post_accumulate_grad_hook(lambda t: got.append(t.grad.copy()))
    (w * 1.0).sum().backward()
    np.testing.assert_array_equal(got[0], [10.0, 10.0])
    with pytest.raises(RuntimeError, match="leaf tensors that require grad"):
        (w * 2.0).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="leaf tensors that require grad"):
        mg.tensor(np.ones(2)).register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)


def test_post_accumulate_hook_when_the_oldest_consumer_gets_no_gradient():
    class Blocked(mg.Function):           # passes values on, but no gradient back
        def forward(self, x):
            return x.copy()

        def backward(self, g):
            return None

    w = mg.tensor(np.ones(2), requires_grad=True)
    first = w * 2.0                        # w's oldest consumer: its node receives no gradient
    loss = Blocked.apply(first).sum() + (w * 3.0).sum()
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.copy()))
    loss.backward()                        # the hook still runs, at the end, once
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])


# ====================================================================== bucket planning
class _P:
    def __init__(self, n, dtype=np.float32):
        self.data = np.zeros(n, dtype)


def test_plan_buckets_reverse_order_caps_and_dtypes():
    ps = [_P(100), _P(100), _P(300), _P(50, np.float64), _P(100)]        # 400, 400, 1200, 400, 400 bytes
    # first bucket capped at 500 bytes, later ones at 1000; float64 apart
    # 4 alone in the 500-byte first bucket; 2 (1200 bytes) oversize alone; then 1 and 0 share one
    assert dist.plan_buckets(ps, cap_bytes=1000, first_cap_bytes=500) == [[4], [3], [2], [1, 0]]
    assert dist.plan_buckets(ps, cap_bytes=10_000) == [[4, 2, 1, 0], [3]]
    assert dist.plan_buckets(ps, cap_bytes=1) == [[4], [3], [2], [1], [0]]   # oversize: one each
    assert dist.plan_buckets([], cap_bytes=10) == []


# ====================================================================== without MPI
def test_without_mpi4py_import_works_and_init_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)          # `import mpi4py` raises ImportError
    monkeypatch.setattr(dist_comm, "_comm", None)
    assert not dist.is_available() and not dist.is_initialized()
    with pytest.raises(ImportError, match=r'pip install "minigrad\[distributed\]"'):
        dist.init()
    with pytest.raises(RuntimeError, match="call minigrad.distributed.init"):
        dist.rank()
    assert dist.is_main_process()             # a plain single process is the main one


def test_samplers_without_a_process_group():
    parts = [dist.DistributedSampler(10, num_replicas=3, rank=r, shuffle=False).indices() for r in range(3)]
    assert [p.tolist() for p in parts] == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]   # padded
    parts = [dist.DistributedSampler(10, 3, r, shuffle=False, drop_last=True).indices() for r in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(9))
    s = [dist.DistributedSampler(list(range(7)), 2, r, seed=4) for r in range(2)]
    first = np.concatenate([x.indices() for x in s])
    assert sorted(first.tolist()) == sorted(list(range(7)) + [first[0]])
    for x in s:
        x.set_epoch(1)
    assert not np.array_equal(np.concatenate([x.indices() for x in s]), first)
    assert len(s[0]) == 4
    ds = TensorDataset(mg.tensor(np.arange(8.0)))
    batches = [b[0].data.tolist() for b in DataLoader(ds, batch_size=2, sampler=dist.DistributedSampler(
        ds, 2, 1, shuffle=False))]
    assert batches == [[1.0, 3.0], [5.0, 7.0]]
    with pytest.raises(ValueError, match="0 <= rank < num_replicas"):
        dist.DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(TypeError, match="epoch must be an integer"):
        s[0].set_epoch(1.5)


def test_shard_streams_splits_columns():
    streams = mg.data.batchify(np.arange(24), 6)              # (4, 6)
    shards = [dist.shard_streams(streams, 3, r) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(shards, axis=1), streams)
    assert shards[1].shape == (4, 2)
    with pytest.raises(ValueError, match="do not split evenly over 4 ranks"):
        dist.shard_streams(streams, 4, 0)
    with pytest.raises(ValueError, match="expects .n_steps, batch"):
        dist.shard_streams(np.arange(5), 1, 0)


# ====================================================================== world size 1
@pytest.fixture
def world1(monkeypatch):
    """An initialized group of one (this process); the excepthook and the group are restored after."""
    pytest.importorskip("mpi4py")
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(dist_comm, "_comm", None)
    dist.init()
    assert dist.world_size() == 1 and dist.rank() == 0
    return dist.get_comm()


class Net(nn.Module):
    def __init__(self, unused=False):
        super().__init__()
        self.embedding = nn.Embedding(7, 4)
        self.rnn = nn.GRU(4, 5)
        self.head = nn.Linear(5, 7)
        self.spare = nn.Linear(3, 3) if unused else None

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.head(out)


def _loss(model, ids):
    return mg.functional.cross_entropy(model(ids).reshape(-1, 7), ids.reshape(-1))


IDS = np.random.default_rng(0).integers(0, 7, size=(6, 3))


def _net(unused=False):
    mg.manual_seed(0)
    return Net(unused).double()


def test_ddp_world1_same_gradients_as_the_plain_model(world1):
    ref = _net()
    _loss(ref, IDS).backward()
    model = _net()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.0003)       # several buckets
    assert len(ddp._buckets) > 2
    _loss(ddp, IDS).backward()
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=n)
    # the gradients are views of the buckets: no copy back
    assert all(p.grad is v for b in ddp._buckets for p, v in zip(b.params, b.views))
    # zeroed in place, the next pass accumulates straight into the bucket slots
    for p in model.parameters():
        p.grad[...] = 0
    _loss(ddp, IDS).backward()
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=n)
    assert sorted(ddp.state_dict()) == sorted("module." + k for k in ref.state_dict())


def test_ddp_starts_the_first_bucket_before_backward_reaches_the_embedding(world1):
    model = _net()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.0003)
    started = []
    real = ddp._start_ready

    def spy():
        started.append((ddp._next, model.embedding.weight.grad is None))
        real()
    ddp._start_ready = spy
    _loss(ddp, IDS).backward()
    assert started[0] == (0, True)          # the head's bucket went out while BPTT still ran
    assert not ddp._active and model.embedding.weight.grad is not None


def test_ddp_unused_parameters(world1):
    ddp = dist.DistributedDataParallel(_net(unused=True))
    _loss(ddp, IDS).backward()
    with pytest.raises(RuntimeError, match=r"no.*gradients for 2 parameter\(s\) \(spare.weight, spare.bias\).*"
                                           "find_unused_parameters=True"):
        ddp(IDS)
    model = _net(unused=True)
    ddp = dist.DistributedDataParallel(model, find_unused_parameters=True)
    for _ in range(2):
        _loss(ddp, IDS).backward()
        np.testing.assert_array_equal(model.spare.weight.grad, 0)
        assert not ddp._active


def test_ddp_no_grad_forward_and_no_sync_do_not_arm(world1):
    model = _net()
    ddp = dist.DistributedDataParallel(model)
    with mg.no_grad():
        ddp(IDS)
    assert not ddp._active
    with ddp.no_sync():
        _loss(ddp, IDS).backward()
        assert not ddp._active
    local = model.head.weight.grad.copy()
    _loss(ddp, IDS).backward()                     # synchronised: the accumulated sum, averaged (n=1)
    np.testing.assert_allclose(model.head.weight.grad, 2 * local, rtol=1e-12)


def test_ddp_second_backward_of_one_forward_raises(world1):
    ddp = dist.DistributedDataParallel(_net())
    loss = _loss(ddp, IDS)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward pass after one synchronised forward"):
        loss.backward()
    loss = _loss(ddp, IDS)                 # a new forward re-arms it
    loss.backward()
    assert not ddp._active


def test_ddp_bad_arguments(world1):
    with pytest.raises(TypeError, match="wraps an nn.Module"):
        dist.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        dist.DistributedDataParallel(_net(), bucket_cap_mb=0)


def test_collectives_world1(world1, tmp_path, capsys):
    t = mg.tensor(np.arange(4.0))
    assert dist.all_reduce(t) is t and t.data.tolist() == [0.0, 1.0, 2.0, 3.0]
    a = np.arange(3.0)
    dist.all_reduce(a, op=dist.ReduceOp.AVG)
    dist.broadcast(a, src=0)
    assert a.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="C-contiguous writeable"):
        dist.all_reduce(np.ones((3, 3))[:, 0])
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(a, op="mean")
    with pytest.raises(TypeError, match="Tensor or a NumPy array"):
        dist.broadcast([1.0])
    with pytest.raises(ValueError, match=r"src must be a rank in \[0, 1\)"):
        dist.broadcast(a, src=1)
    dist.barrier()
    dist.log("hello from rank 0")
    assert capsys.readouterr().out == "hello from rank 0\n"
    dist.save({"w": a}, str(tmp_path / "ck.npz"))
    np.testing.assert_array_equal(mg.load(str(tmp_path / "ck.npz"))["w"], a)


def test_char_lm_distributed_without_mpi_says_what_to_install(monkeypatch, tmp_path):
    from _examples import load_example
    char_lm = load_example("char_lm")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setattr(dist_comm, "_comm", None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r'--distributed: .*pip install "minigrad\[distributed\]"'):
        char_lm.main(["--quick", "--distributed", "--no-progress", "--plot", ""])
