"""Cases run under ``mpiexec -n N python tests/mpi_cases.py CASE OUTDIR`` by tests/test_distributed_mpi.py.

Each case trains or checks something on every rank and writes what the test compares into
OUTDIR (one file per rank); the test computes the single-process reference itself. Tiny float64
models on tiny made-up data: nothing is read from disk.
"""
import os
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.functional as F
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import batchify, lm_batches

VOCAB, EMBED, HIDDEN, SEQ, B_RANK, STEPS = 11, 5, 7, 6, 3, 4


class TinyLM(nn.Module):
    """Embedding -> LSTM -> Linear, float64: the char-LM's structure at toy size."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN)
        self.head = nn.Linear(HIDDEN, VOCAB)

    def forward(self, ids, hidden=None):
        out, hidden = self.rnn(self.embedding(ids), hidden)
        return self.head(out), hidden


def make_model(seed):
    mg.manual_seed(seed)
    return TinyLM().double()


def tokens():
    return np.random.default_rng(5).integers(0, VOCAB, size=400)


def make_opt(name, params):
    return optim.SGD(params, lr=0.5, momentum=0.9) if name == "sgd" else optim.Adam(params, lr=0.01)


def train(model, opt, streams, steps=STEPS):
    """Truncated BPTT over ``streams`` (T, B) for ``steps`` windows; returns the losses."""
    hidden, losses = None, []
    for (x, y), _ in zip(lm_batches(streams, SEQ), range(steps)):
        logits, hidden = model(x, hidden)
        hidden = nn.utils.repackage_hidden(hidden)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def params_of(model):
    return {n: p.data for n, p in model.named_parameters()}


def case_train(outdir, opt_name, bucket_cap_mb):
    """Each rank: its B_RANK streams of the N*B_RANK global ones, DDP, STEPS steps."""
    # a different seed on each rank: DDP must broadcast rank 0's initial weights
    model = make_model(seed=1 + dist.rank())
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    streams = dist.shard_streams(batchify(tokens(), B_RANK * dist.world_size()))
    train(ddp, make_opt(opt_name, ddp.parameters()), streams)
    mg.save(params_of(model), os.path.join(outdir, f"params_{dist.rank()}.npz"))


def case_no_sync(outdir):
    """Two windows: the first backward inside no_sync (local), the second synchronised."""
    model = make_model(seed=1)
    ddp = dist.DistributedDataParallel(model)
    streams = dist.shard_streams(batchify(tokens(), B_RANK * dist.world_size()))
    windows = list(lm_batches(streams, SEQ))[:2]
    with ddp.no_sync():
        x, y = windows[0]
        F.cross_entropy(ddp(x)[0].reshape(-1, VOCAB), y.reshape(-1)).backward()
    local = {n: p.grad.copy() for n, p in model.named_parameters()}
    x, y = windows[1]
    F.cross_entropy(ddp(x)[0].reshape(-1, VOCAB), y.reshape(-1)).backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    mg.save({"local": local, "grads": grads}, os.path.join(outdir, f"grads_{dist.rank()}.npz"))


def case_sampler(outdir):
    """Every rank's DistributedSampler indices (two epochs), gathered on rank 0."""
    comm = dist.get_comm()
    out = {}
    for n in (10, 11):
        s = dist.DistributedSampler(n, shuffle=True, seed=3)
        for epoch in (0, 1):
            s.set_epoch(epoch)
            out[f"n{n}_e{epoch}"] = np.concatenate(comm.allgather(s.indices()))
    dist.save(out, os.path.join(outdir, "sampler.npz"))


def case_buffers(outdir):
    """A buffer that differs per rank: broadcast_buffers=True gives every rank rank 0's at forward."""
    model = make_model(seed=1)
    model.register_buffer("counter", mg.tensor(np.full(3, 10.0 + dist.rank())))
    ddp = dist.DistributedDataParallel(model)
    with mg.no_grad():
        ddp(np.zeros((2, 1), dtype=np.int64))
    after_forward = model.counter.data.copy()
    model.counter.data[...] += dist.rank()            # diverge again; without broadcasting it stays
    lazy = dist.DistributedDataParallel(model, broadcast_buffers=False)
    with mg.no_grad():
        lazy(np.zeros((2, 1), dtype=np.int64))
    mg.save({"after_forward": after_forward, "no_broadcast": model.counter.data},
            os.path.join(outdir, f"buffers_{dist.rank()}.npz"))


def case_raise(outdir):
    """Rank 1 raises; rank 0 waits in a collective that rank 1 never joins."""
    if dist.rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    dist.barrier()
    open(os.path.join(outdir, "rank0_passed_barrier"), "w").close()


if __name__ == "__main__":
    case, outdir = sys.argv[1], sys.argv[2]
    dist.init()
    if case == "train":
        case_train(outdir, sys.argv[3], float(sys.argv[4]))
    else:
        globals()[f"case_{case}"](outdir)
