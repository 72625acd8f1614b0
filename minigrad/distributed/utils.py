"""Rank-0 conveniences: print once per job, and checkpoints written by rank 0 only."""
from ..serialization import save as _save
from .comm import barrier, is_initialized, rank


def is_main_process():
    """True on rank 0, and in a program that never called init() (a single process)."""
    return not is_initialized() or rank() == 0


def log(*args, **kwargs):
    """``print`` on rank 0 only (flushed, so lines from mpiexec arrive in order); a no-op elsewhere."""
    if is_main_process():
        kwargs.setdefault("flush", True)
        print(*args, **kwargs)


def save(obj, f):
    """``minigrad.save`` (atomic: temp file + rename) on rank 0, then a barrier, so no rank reads
    the file before it is complete. Every rank must call it (it is collective)."""
    err = None
    if is_main_process():
        try:
            _save(obj, f)
        except Exception as e:              # still reach the barrier; raise after it
            err = e
    if is_initialized():
        barrier()
    if err is not None:
        raise err
