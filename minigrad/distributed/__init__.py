"""``minigrad.distributed``: data-parallel training over MPI (``mpi4py``), PyTorch's names.

    # mpiexec -n 4 python train.py
    import minigrad.distributed as dist
    dist.init()                                            # join the job; crash on one rank ends all
    model = dist.DistributedDataParallel(MyModel())        # rank 0's weights on every rank
    streams = dist.shard_streams(batchify(ids, 4 * b))     # this rank's b streams
    ...  loss.backward()                                   # gradients averaged across ranks, overlapped
    dist.log(f"step {step} loss {loss.item():.3f}")        # rank 0 prints
    dist.save(state, "ckpt.npz")                           # rank 0 writes, atomically

Needs the optional extra: ``pip install "minigrad[distributed]"`` (mpi4py and an MPI runtime
wheel). Importing this package works without it; ``init()`` then raises an ImportError saying so.
See docs/distributed.md.
"""
from .comm import (INSTALL_HINT, ReduceOp, all_reduce, barrier, broadcast, get_comm, get_rank,
                   get_world_size, init, init_process_group, is_available, is_initialized, rank,
                   world_size)
from .ddp import DistributedDataParallel, plan_buckets
from .sampler import DistributedSampler, shard_streams
from .utils import is_main_process, log, save

__all__ = ["INSTALL_HINT", "DistributedDataParallel", "DistributedSampler", "ReduceOp", "all_reduce",
           "barrier", "broadcast", "get_comm", "get_rank", "get_world_size", "init", "init_process_group",
           "is_available", "is_initialized", "is_main_process", "log", "plan_buckets", "rank", "save",
           "shard_streams", "world_size"]
