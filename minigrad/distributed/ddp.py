"""DistributedDataParallel: the same model on every rank, gradients averaged during backward.

    model = DistributedDataParallel(CharLM(...))     # rank 0's weights are broadcast to all
    loss = loss_fn(model(x_shard), y_shard)          # each rank: its own share of the batch
    loss.backward()                                  # gradients averaged over ranks on return
    opt.step()                                       # identical update, identical weights

How the averaging overlaps backward: the parameters are grouped into *buckets* -- one flat NumPy
array per bucket, in reverse registration order (the output layer's gradients are ready first in
backward, the embedding's last) and one dtype per bucket, the first bucket at most 1 MB and the
others at most ``bucket_cap_mb`` (PyTorch's scheme). Each parameter carries a post-accumulate-grad
hook (``Tensor.register_post_accumulate_grad_hook``): the tape calls it as soon as the reverse walk
has passed that parameter's oldest use, i.e. its gradient for this pass is final. The hook copies
the gradient into its bucket slot; the bucket whose last gradient arrives starts a non-blocking
``Iallreduce`` while the walk goes on through the older part of the tape (the rest of BPTT).
Buckets are started in a fixed order (a ready bucket waits for the ones before it) because MPI
requires every rank to issue collectives in the same order. When the last bucket has started, the
hook waits for all of them, scales the sums by 1/world_size and makes each ``.grad`` a view of
its bucket (no copy back). Averaged gradients are therefore in place when ``backward()`` returns.
MPI libraries progress a non-blocking collective only inside MPI calls unless they run a progress
thread (``MPICH_ASYNC_PROGRESS=1``) or the network card does: every later hook calls ``Testall``
on the started buckets, so the transfers advance at each parameter that becomes ready.

A parameter that gets no gradient in a pass would stall its bucket: with
``find_unused_parameters=True`` the forward pass walks the tape from the outputs and marks the
parameters it does not reach as ready (they contribute zeros); without it the next forward raises
an error naming them (both as PyTorch). ``no_sync()`` skips the averaging: gradients accumulate
locally, and the first synchronised backward afterwards averages the accumulated sum.
"""
import contextlib

import numpy as np

from ..grad_mode import check_bool, describe, is_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor, tape_nodes
from .comm import _mpi, get_comm

FIRST_BUCKET_BYTES = 1 << 20          # PyTorch's: a small first bucket starts communication early


def plan_buckets(params, cap_bytes, first_cap_bytes=FIRST_BUCKET_BYTES):
    """Group parameter indices into buckets: lists of indices into ``params``.

    Walks ``params`` in reverse (the order backward finishes them), one dtype per bucket; a bucket
    is closed when adding the next parameter would exceed its cap (``min(first_cap_bytes,
    cap_bytes)`` for the first bucket of each dtype, ``cap_bytes`` after); a parameter larger than the cap gets a
    bucket of its own. Pure bookkeeping, no MPI.
    """
    open_by_dtype, buckets = {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        dt, nbytes = p.data.dtype, p.data.nbytes
        cur = open_by_dtype.get(dt)
        if cur is not None:
            cap = min(first_cap_bytes, cap_bytes) if cur["first"] else cap_bytes
            if cur["bytes"] + nbytes > cap and cur["idx"]:
                open_by_dtype[dt] = cur = None
        if cur is None:
            first = not any(b["dtype"] == dt for b in buckets)
            cur = open_by_dtype[dt] = {"dtype": dt, "idx": [], "bytes": 0, "first": first}
            buckets.append(cur)
        cur["idx"].append(i)
        cur["bytes"] += nbytes
    return [b["idx"] for b in buckets]


class _Bucket:
    """One flat gradient buffer and the parameters laid out in it (slot views, same shapes)."""

    def __init__(self, params):
        self.params = params
        dtype = params[0].data.dtype
        self.buffer = np.zeros(sum(p.data.size for p in params), dtype=dtype)
        self.views, off = [], 0
        for p in params:                    # views: (*p.shape) windows of the flat buffer
            self.views.append(self.buffer[off:off + p.data.size].reshape(p.data.shape))
            off += p.data.size
        self.reset()

    def reset(self):
        self.ready = [False] * len(self.params)
        self.pending = len(self.params)
        self.request = None

    def mark(self, k, name_of):
        if self.ready[k]:
            raise RuntimeError(f"DistributedDataParallel: parameter {name_of(self.params[k])} got a second "
                               "gradient in one synchronised pass (two backward passes after one forward?); "
                               "run all but the last inside no_sync()")
        self.ready[k] = True
        self.pending -= 1


class DistributedDataParallel(Module):
    """Data-parallel training of ``module`` over the process group (``torch.nn.parallel``'s name).

    ``bucket_cap_mb``: bucket size cap in MiB (PyTorch's default 25); ``broadcast_buffers``:
    copy rank 0's module buffers to every rank at each forward; ``find_unused_parameters``: see
    the module docstring. Construction broadcasts rank 0's parameters (so every rank starts from
    the same weights) after checking that all ranks hold the same parameter names, shapes and
    dtypes. The wrapped model is ``.module``; ``state_dict()`` names carry the ``module.``
    prefix, as PyTorch's.
    """

    def __init__(self, module, bucket_cap_mb=25, broadcast_buffers=True, find_unused_parameters=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps an nn.Module, got {describe(module)}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = check_bool(broadcast_buffers, "broadcast_buffers")
        self.find_unused_parameters = check_bool(find_unused_parameters, "find_unused_parameters")
        self.require_backward_grad_sync = True
        comm = get_comm()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        _check_same_everywhere(comm, [(n, p.data.shape, p.data.dtype.str) for n, p in named])
        self._names = [n for n, _ in named]
        params = [p for _, p in named]
        cap = int(bucket_cap_mb * (1 << 20))
        self._buckets = [_Bucket([params[i] for i in idx]) for idx in plan_buckets(params, cap)]
        self._slot = {}                     # id(param) -> (bucket index, position in bucket)
        for b, bucket in enumerate(self._buckets):
            for k, p in enumerate(bucket.params):
                self._slot[id(p)] = (b, k)
        self._active = False                # this backward pass is averaged
        self._finished = False              # ... and was: until the next forward
        self._next = 0                      # first bucket not started yet
        for bucket in self._buckets:        # rank 0's weights everywhere, one Bcast per bucket
            for v, p in zip(bucket.views, bucket.params):
                v[...] = p.data
            comm.Bcast(bucket.buffer, root=0)
            for v, p in zip(bucket.views, bucket.params):
                p.data[...] = v
        if self.broadcast_buffers:          # as PyTorch: buffers too, unless told not to
            self._sync_buffers()
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready) for p in params]

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        if self._active:
            self._raise_unfinished()
        if self.broadcast_buffers:
            self._sync_buffers()
        self._finished = False
        out = self.module(*args, **kwargs)
        # as PyTorch: only a forward that can be followed by backward arms the reducer (not one
        # under no_grad, e.g. an evaluation)
        if self.require_backward_grad_sync and self._buckets and is_grad_enabled() \
                and any(t.requires_grad for t in _tensors_in(out)):
            for bucket in self._buckets:
                bucket.reset()
            self._next, self._active = 0, True
            if self.find_unused_parameters:
                self._mark_unused(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside: backward passes accumulate gradients locally without communication."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------------ the reducer
    def _grad_ready(self, p):
        """Post-accumulate hook of parameter ``p``: its gradient of this pass is final."""
        if not self._active:
            if self._finished:
                raise RuntimeError(
                    "DistributedDataParallel: a second backward pass after one synchronised forward "
                    "(retain_graph=True?): its gradients would not be averaged over ranks. Run the "
                    "forward again, or do all but the last of such passes inside no_sync().")
            return                          # no_sync, or a forward that bypassed the wrapper
        b, k = self._slot[id(p)]
        bucket = self._buckets[b]
        view = bucket.views[k]
        if p.grad is not view:              # a fresh gradient (after zero_grad): into the slot
            view[...] = p.grad
        bucket.mark(k, self._name_of)
        if bucket.pending == 0:
            self._start_ready()
        elif self._next:
            # MPICH moves a non-blocking collective on only inside MPI calls (unless
            # MPICH_ASYNC_PROGRESS=1): poke the started ones at every hook
            _mpi().Request.Testall([b.request for b in self._buckets[:self._next]])

    def _start_ready(self):
        """Start the Iallreduce of every ready bucket in order; finish after the last one."""
        MPI, comm = _mpi(), get_comm()
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            bucket = self._buckets[self._next]
            bucket.request = comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)
            self._next += 1
        if self._next == len(self._buckets):
            self._finish()

    def _finish(self):
        """Wait for every bucket, average, and point each ``.grad`` at its bucket slot."""
        MPI = _mpi()
        MPI.Request.Waitall([b.request for b in self._buckets])
        scale = 1.0 / get_comm().Get_size()
        for bucket in self._buckets:
            if scale != 1.0:
                bucket.buffer *= bucket.buffer.dtype.type(scale)
            for v, p in zip(bucket.views, bucket.params):
                p.grad = v
        self._active, self._finished = False, True

    def _mark_unused(self, out):
        """Parameters the tape from ``out`` does not reach: ready now, with zero gradient."""
        reached = set()
        for t in _tensors_in(out):
            for node in tape_nodes(t):
                reached.update(id(x) for x in node.inputs if x._node is None)
        for bucket in self._buckets:
            for k, (v, p) in enumerate(zip(bucket.views, bucket.params)):
                if id(p) not in reached:
                    v[...] = 0
                    bucket.mark(k, self._name_of)
        if any(b.pending == 0 for b in self._buckets):
            self._start_ready()

    def _raise_unfinished(self):
        waiting = {id(p) for b in self._buckets for p, r in zip(b.params, b.ready) if not r}
        missing = [n for n, p in self.module.named_parameters() if id(p) in waiting]
        self._active = False
        raise RuntimeError(
            "DistributedDataParallel: the previous backward pass did not produce gradients for "
            f"{len(missing)} parameter(s) ({', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}), or "
            "backward() was not called after forward. Pass find_unused_parameters=True if parts of the "
            "model are not used in every pass (or run such passes inside no_sync()).")


    def _name_of(self, p):
        return next((n for n, q in self.module.named_parameters() if q is p), "?")

    def _sync_buffers(self):
        comm = get_comm()
        if comm.Get_size() == 1:
            return
        for b in self.module.buffers():
            arr = b.data
            if not arr.flags.c_contiguous:
                arr = b.data = np.ascontiguousarray(arr)
            comm.Bcast(arr, root=0)


def _tensors_in(out):
    """The tensors in a forward's output (a tensor or nested tuples/lists/dicts of them)."""
    stack, found = [out], []
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            found.append(x)
        elif isinstance(x, (tuple, list)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    return found


def _check_same_everywhere(comm, signature):
    """Raise on every rank when any rank's parameter list (name, shape, dtype) differs from rank 0's."""
    ref = comm.bcast(signature, root=0)
    bad = comm.allreduce(int(ref != signature))
    if bad:
        mine = set(signature) ^ set(ref)
        raise RuntimeError(f"DistributedDataParallel: {bad} rank(s) hold parameters that differ from rank 0's "
                           f"(names, shapes or dtypes); rank {comm.Get_rank()} differs in: "
                           f"{sorted(map(str, mine))[:6] or 'order'}")
