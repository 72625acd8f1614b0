"""The process group: MPI start-up, rank/size, collectives on arrays and tensors, and the
crash rule (an uncaught exception on one rank ends every rank instead of leaving them hanging).

minigrad talks to MPI through ``mpi4py`` (the optional extra ``minigrad[distributed]``, which also
installs an MPI runtime wheel). ``import minigrad.distributed`` works without it; ``init()``
then raises an ImportError saying what to install. Names follow ``torch.distributed``:
``init_process_group``/``get_rank``/``get_world_size`` are aliases of ``init``/``rank``/``world_size``.
"""
import sys
import traceback

import numpy as np

from ..grad_mode import describe
from ..tensor import Tensor

INSTALL_HINT = 'pip install "minigrad[distributed]" (mpi4py and an MPI runtime wheel)'

_comm = None                 # the communicator once init() ran (MPI.COMM_WORLD by default)


def _mpi():
    """The ``mpi4py.MPI`` module, or an ImportError naming the extra to install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"minigrad.distributed needs mpi4py and an MPI runtime: {INSTALL_HINT} "
                          f"({e})") from e
    return MPI


class ReduceOp:
    """Reduction operators of :func:`all_reduce` (``torch.distributed.ReduceOp``'s names)."""
    SUM, AVG, PRODUCT, MIN, MAX = "sum", "avg", "product", "min", "max"


def init(comm=None):
    """Join the process group (PyTorch's ``init_process_group``); call once per process.

    ``comm``: an mpi4py communicator (default ``MPI.COMM_WORLD``: all processes ``mpiexec``
    started; a single process run without ``mpiexec`` is a group of one). Installs an excepthook
    that prints the traceback and then aborts every rank (``COMM_WORLD.Abort(1)``), so a rank
    that raises ends the job instead of leaving the others waiting in a collective. Calling it
    again is a no-op. Returns the communicator.
    """
    global _comm
    MPI = _mpi()
    if _comm is not None:
        return _comm
    if comm is None:
        comm = MPI.COMM_WORLD
    elif not isinstance(comm, MPI.Comm):
        raise TypeError(f"init(comm=...) expects an mpi4py communicator, got {describe(comm)}")
    _comm = comm
    _install_excepthook(MPI)
    return _comm


def _install_excepthook(MPI):
    previous = sys.excepthook

    def abort_all(exc_type, exc, tb):
        # Print first (with the rank, flushed): Abort kills the process before buffers drain.
        if issubclass(exc_type, KeyboardInterrupt):
            return previous(exc_type, exc, tb)
        head = f"minigrad.distributed: rank {MPI.COMM_WORLD.Get_rank()} raised; aborting all ranks\n"
        sys.stderr.write(head + "".join(traceback.format_exception(exc_type, exc, tb)))
        sys.stderr.flush()
        sys.stdout.flush()
        MPI.COMM_WORLD.Abort(1)

    sys.excepthook = abort_all


def is_available():
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_initialized():
    return _comm is not None


def get_comm():
    """The communicator of the process group (a RuntimeError before :func:`init`)."""
    if _comm is None:
        raise RuntimeError("minigrad.distributed is not initialized: call minigrad.distributed.init() "
                           "first (and launch with mpiexec -n N python ...)")
    return _comm


def rank():
    """This process's rank, 0 ... world_size() - 1."""
    return get_comm().Get_rank()


def world_size():
    """The number of processes in the group."""
    return get_comm().Get_size()


def barrier():
    """Wait until every rank has reached this call."""
    get_comm().Barrier()


def _buffer(x, what):
    """The C-contiguous NumPy array behind ``x`` (a Tensor or an array), written in place."""
    arr = x.data if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{what} expects a Tensor or a NumPy array, got {describe(x)}")
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        raise ValueError(f"{what} works in place and needs a C-contiguous writeable array, got shape "
                         f"{arr.shape} (contiguous={arr.flags.c_contiguous}, writeable={arr.flags.writeable})")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what}: unsupported dtype {arr.dtype}")
    return arr


def all_reduce(tensor, op=ReduceOp.SUM):
    """Reduce ``tensor`` (a Tensor or NumPy array) over all ranks, in place, as PyTorch's
    ``all_reduce``: afterwards every rank holds the sum (or avg, product, min, max). Returns it."""
    MPI = _mpi()
    ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
           ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}
    if op not in ops:
        raise ValueError(f"all_reduce: op must be one of {sorted(ops)}, got {op!r}")
    arr = _buffer(tensor, "all_reduce")
    if op == ReduceOp.AVG and arr.dtype.kind != "f":
        raise TypeError(f"all_reduce(op=AVG) needs a float array, got {arr.dtype}")
    comm = get_comm()
    comm.Allreduce(MPI.IN_PLACE, arr, op=ops[op])
    if op == ReduceOp.AVG:
        arr *= arr.dtype.type(1.0 / comm.Get_size())
    return tensor


def broadcast(tensor, src=0):
    """Overwrite ``tensor`` (a Tensor or NumPy array) on every rank with rank ``src``'s, in place.
    Shapes and dtypes must agree on all ranks. Returns it."""
    arr = _buffer(tensor, "broadcast")
    comm = get_comm()
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src must be a rank in [0, {comm.Get_size()}), got {src!r}")
    comm.Bcast(arr, root=int(src))
    return tensor


init_process_group = init
get_rank = rank
get_world_size = world_size
