"""Tensor and the tape: the whole reverse-mode idea in one file.

A :class:`Tensor` wraps a C-contiguous NumPy array. Every differentiable operation is a small
:class:`Function` subclass with a ``forward`` (NumPy arrays in, array(s) out, saving what backward
needs with ``self.save``) and a ``backward`` (output gradient(s) in, one gradient per input out).
When any input requires a gradient, ``Function.apply`` records the function object as a *node*:
the node remembers its input tensors, its saved arrays and a sequence number.

The tape is the set of nodes reachable from the tensor you call ``backward()`` on. Because a node
is always created after the nodes of its inputs, sorting the reachable nodes by decreasing
sequence number is a valid reverse topological order -- no recursion, so a chain of 100,000 ops
works. Walking that order, each node turns the gradients of its outputs into gradients of its
inputs, which are *accumulated* (a tensor used twice receives the sum). Leaf tensors (created by
the user with ``requires_grad=True``) finally add their gradient into ``.grad``; a leaf with a
post-accumulate-grad hook does so as soon as the walk has passed its oldest consumer (its gradient
is complete then), and its hook runs while the rest of the walk goes on (data-parallel training
starts communicating there).

Dtype policy: float32 is the default float dtype; a float64 NumPy array given to ``tensor`` stays
float64 (``_as_array`` states the whole rule). Python numbers and NumPy arrays used as operands
take the dtype of the tensor they meet (like PyTorch's scalars). Two tensors of different float
dtypes in one op raise ``TypeError`` naming the fix (``.float()`` / ``.double()``): silent promotion
would hide a doubled memory bill.

Threads: grad mode and the running backward pass are per thread (grad_mode.py); the only state
shared between threads is the sequence counter and the lock around leaf accumulation (below).
"""
import itertools
import threading
import weakref

import numpy as np

from .dtypes import DEFAULT_FLOAT, FLOAT_DTYPES as _FLOAT_DTYPES, as_dtype
from .grad_mode import _state, check_bool, describe
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401 (re-exported)


def _as_array(data, dtype):
    """The array of a new tensor, by the dtype rule (README, "From PyTorch"):

    * ``dtype`` given: the data is converted to it (float32, float64, an integer type or bool);
    * a Tensor, a NumPy array or a NumPy scalar keeps its dtype (a float64 array stays float64);
    * Python data (numbers, nested lists/tuples): floats become float32 (the default float dtype),
      ints int64, bools bool.

    Nothing is converted silently into something else: complex values, ``None``, strings and other
    non-numbers raise TypeError naming the value, and NaN/inf cannot become integers. The array is
    copied only when a conversion (or a C-contiguous layout) is needed.
    """
    if isinstance(data, Tensor):
        data = data.data
    if type(data) is np.ndarray:            # fast path: a float array that needs no conversion
        dt = data.dtype
        if dt in _FLOAT_DTYPES and (dtype is None or dt == dtype) and data.flags.c_contiguous:
            return data
    typed = isinstance(data, (np.ndarray, np.generic))     # NumPy data carries its own dtype
    try:
        arr = np.asarray(data)
    except ValueError as e:
        raise ValueError(f"cannot make a tensor from this data: {e} (nested lists must be "
                         "rectangular)") from None
    if arr.dtype.kind == "O":
        arr, typed = _from_objects(arr), False
    elif not arr.dtype.isnative:            # big-endian data from a file: same values, native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"complex values are not supported (got {arr.dtype}); take .real, .imag or "
                        "abs() explicitly")
    if kind not in "fiub":
        what = "string" if kind in "US" else "date/time" if kind in "Mm" else "non-numeric"
        raise TypeError(f"cannot make a tensor from {what} data (dtype {arr.dtype}); expected numbers")
    if dtype is not None:
        dtype = as_dtype(dtype)
        if dtype not in _FLOAT_DTYPES and dtype.kind not in "iub":
            raise TypeError(f"unsupported tensor dtype {dtype}; use float32, float64, an integer type or bool")
        if kind == "f" and dtype.kind != "f" and arr.size and not np.isfinite(arr).all():
            raise ValueError(f"cannot convert NaN or infinity to {dtype}")
    elif kind == "f" and (not typed or arr.dtype not in _FLOAT_DTYPES):
        if typed:   # float16, longdouble: NumPy data of a float type minigrad does not compute in
            raise TypeError(f"{arr.dtype} tensors are not supported; pass dtype=mg.float32 or "
                            "dtype=mg.float64 to convert")
        dtype = DEFAULT_FLOAT
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    # not np.ascontiguousarray unconditionally: it turns a 0-d array into shape (1,)
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _from_objects(arr):
    """An object array (e.g. from ``[1.0, None]``) as a numeric array, element by element, so that
    ``None``, complex numbers and other objects are refused by name instead of turning into NaN."""
    values = []
    for i, v in enumerate(arr.flat):
        if isinstance(v, Tensor) and v.data.size == 1:
            v = v.data.item()
        elif isinstance(v, np.ndarray) and v.size == 1:
            v = v.item()
        if isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
            values.append(v)
            continue
        where = np.unravel_index(i, arr.shape) if arr.ndim else ()
        what = ("None" if v is None else "a complex number" if isinstance(v, (complex, np.complexfloating))
                else f"a {type(v).__name__}")
        raise TypeError(f"cannot make a tensor from {what} (at index {tuple(int(k) for k in where)}); "
                        "tensor data must be numbers")
    out = np.array(values)
    if out.dtype.kind == "O":
        raise OverflowError(f"cannot make a tensor from integers outside the int64 range (such as "
                            f"{max(values, key=lambda v: abs(int(v)))})")
    return out.reshape(arr.shape)


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is anything NumPy can turn into an
    array of numbers. Python floats become float32, NumPy arrays keep their dtype, and ``dtype``
    (mg.float32, mg.float64, ... or a NumPy dtype) converts explicitly; the array is copied only
    when a conversion is needed. Integer tensors hold indices and class targets; they cannot
    require gradients.
    """

    __slots__ = ("data", "grad", "_requires_grad", "_node", "_index", "_hooks", "_retain", "name",
                 "_post_hooks", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Tensor` calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self._node = None      # the Function that produced this tensor (None for leaves)
        set_requires_grad(self, requires_grad, "Tensor: requires_grad")
        self._index = 0        # which output of that Function this tensor is
        self._hooks = None     # leaf hooks (non-leaf hooks live on the node)
        self._retain = False
        self.name = name
        self._post_hooks = None   # register_post_accumulate_grad_hook (leaves only)

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):     # checked as PyTorch does (the engine writes _requires_grad)
        set_requires_grad(self, value, "requires_grad")

    # ------------------------------------------------------------------ array-like properties
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: self._node)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self):
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """A new leaf tensor sharing this tensor's data, cut off from the tape."""
        return Tensor(self.data, dtype=self.data.dtype)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=20)
        extra = f", dtype={self.data.dtype}" if self.data.dtype != np.float32 else ""
        if self._node is not None:
            extra += f", grad_fn=<{type(self._node).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------------ gradient observation
    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (e.g. every h_t of a sequence)."""
        if not self.requires_grad:
            raise RuntimeError(f"retain_grad() on a tensor of shape {self.shape} that does not require grad "
                               "(no input required grad, or it was computed under no_grad)")
        if self._node is None:
            return  # leaves always keep their gradient
        self._retain = True
        self._node._watch(self._index, self)

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned array (or tensor) of
        the same shape and dtype replaces it (as PyTorch, a hook may not change the dtype).

        Returns a handle with ``remove()``.
        """
        if not callable(fn):
            raise TypeError(f"register_hook needs a callable fn(grad), got {describe(fn)}")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        hooks = self._node._hooks_for(self._index) if self._node is not None else self._leaf_hooks()
        hooks.append(fn)
        return _HookHandle(hooks, fn)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` once per backward pass, as soon as this leaf's gradient of that pass
        has been added into ``.grad`` -- while the walk still runs the older part of the tape
        (PyTorch's name and semantics; ``minigrad.distributed`` starts its allreduce here).

        A leaf is done when the walk has passed its oldest consumer node; from then on its
        ``.grad`` is final for this pass. Returns a handle with ``remove()``.
        """
        if not callable(hook):
            raise TypeError(f"register_post_accumulate_grad_hook needs a callable hook(tensor), got {describe(hook)}")
        if self._node is not None or not self.requires_grad:
            raise RuntimeError("post accumulate grad hooks can only be registered on leaf tensors that "
                               f"require grad (shape {self.shape})")
        global _post_hooks_alive
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        _post_hooks_alive += 1
        return _PostHookHandle(self._post_hooks, hook)

    def _leaf_hooks(self):
        if self._hooks is None:
            self._hooks = []
        return self._hooks

    # ------------------------------------------------------------------ backward
    def backward(self, grad=None, retain_graph=False):
        """Reverse pass over the tape that produced this tensor.

        ``grad`` (the gradient of some scalar with respect to this tensor) may be omitted only when
        the tensor has one element; it may have any real dtype (it is cast to this tensor's), but
        complex, object, bool or string values raise. With ``retain_graph=False`` the saved buffers
        are freed as the walk goes; a second backward through them raises. The pass runs in the
        calling thread; other threads may run their own backward passes at the same time.
        """
        backward(self, grad, retain_graph)


class _HookHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
            return True
        return False


class _PostHookHandle(_HookHandle):
    def remove(self):
        global _post_hooks_alive
        if super().remove():
            _post_hooks_alive -= 1


def set_requires_grad(t, value, what):
    """Set ``t.requires_grad`` to the bool ``value``: only float tensors can require gradients, and
    only a leaf can stop requiring them (a tensor computed by the tape: use detach())."""
    value = check_bool(value, what)
    if value and t.data.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"only float32/float64 tensors can require gradients, got {t.data.dtype}")
    if not value and t._node is not None:
        raise RuntimeError(f"{what}: requires_grad=False on a tensor computed by the tape; use detach()")
    t._requires_grad = value


def tensor(data, requires_grad=False, dtype=None):
    """Create a tensor (see :class:`Tensor`)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x, like=None):
    """``x`` as a Tensor; numbers and arrays take the float dtype of ``like`` when given."""
    if isinstance(x, Tensor):
        return x
    if like is not None and (type(x) is float or type(x) is int):   # fast path: a Python number
        dt = like.data.dtype
        if dt in _FLOAT_DTYPES:
            return _wrap(np.array(x, dtype=dt))
    if like is not None and like.data.dtype in _FLOAT_DTYPES:
        arr = np.asarray(x)
        if arr.dtype.kind in "fiub":
            return Tensor(arr, dtype=like.data.dtype)
    return Tensor(x)


# ====================================================================== recorded operations
# Shared by all threads, and that is safe: next() on itertools.count is one C call that holds the
# GIL, so two threads never get the same number; and a node always takes its number after the
# nodes of its inputs already have theirs (even when the input came from another thread), which is
# all the reverse walk's ordering needs. Every other piece of engine state is per thread (_state).
_seq = itertools.count()

# The tracer of minigrad.onnx.export while it records one forward pass, else None: Function.apply
# and Module.__call__ each pay one check of this name when no export is running.
_tracer = None


def trace_untaped(op, inputs, consts, outputs):
    """Report an op computed outside ``Function.apply`` (a comparison, argmax: never on the tape) to
    minigrad.onnx's tracer when an export is tracing; ``op`` names it, ``outputs`` is a tuple."""
    if _tracer is not None:
        _tracer.record_op(op, inputs, consts, outputs)


class Function:
    """Base class of every differentiable op; an instance is one node of the tape.

    Subclasses implement ``forward(self, *arrays, **consts)`` returning an array (or a tuple of
    arrays) and ``backward(self, grad)`` (or ``backward(self, *grads)`` for several outputs)
    returning one gradient per tensor input (``None`` where no gradient flows). What backward needs
    is stored with ``self.save(...)`` and read back from ``self.saved``. ``self.needs[i]`` tells
    whether input ``i`` needs a gradient, so backward can skip work. A backward may instead add
    into ``self.grad_buffer(i)`` (a zero-initialised array it may ``+=`` into, e.g. from a C
    kernel) and return ``None`` for that input.
    """

    __slots__ = ("inputs", "needs", "saved", "saved_nbytes", "seq", "n_outputs", "out_shapes",
                 "out_dtype", "_grads", "_leaf_grads", "_watched", "_out_hooks", "_freed")

    def save(self, *arrays):
        self.saved = arrays
        self.saved_nbytes = sum([a.nbytes for a in arrays if isinstance(a, np.ndarray)])

    @classmethod
    def apply(cls, *operands, **consts):
        """Run ``forward`` on the operands' arrays and, if any needs a gradient, record the node."""
        # This runs once per op, so it is written for speed: plain loops, no helper calls on the
        # common path (all operands already tensors of one float dtype).
        like, convert = None, False
        for o in operands:
            if isinstance(o, Tensor):
                if like is None and o.data.dtype in _FLOAT_DTYPES:
                    like = o
            else:
                convert = True
        inputs = [as_tensor(o, like) for o in operands] if convert else list(operands)
        record = False
        if like is not None:
            dt = like.data.dtype
            for t in inputs:
                d = t.data.dtype
                if d is not dt and d != dt and d in _FLOAT_DTYPES:
                    _check_dtypes(cls, inputs)
                if t._requires_grad:
                    record = True
            record = record and _state.grad_enabled
        fn = cls()
        fn.saved, fn.saved_nbytes = (), 0
        if record:
            fn.needs = tuple([t._requires_grad for t in inputs])
        out = fn.forward(*[t.data for t in inputs], **consts)
        if type(out) is tuple:
            results = tuple([_wrap(o) for o in out])
        else:
            results = None
            r = _wrap(out)
        if record:
            fn.inputs = inputs
            fn.seq = next(_seq)
            fn._watched = fn._out_hooks = None
            fn._freed = False
            if results is None:
                fn.n_outputs = 1
                fn.out_shapes = (r.data.shape,)
                fn.out_dtype = d = r.data.dtype
                if d in _FLOAT_DTYPES:
                    r._requires_grad, r._node = True, fn
            else:
                fn.n_outputs = len(results)
                fn.out_shapes = tuple([t.data.shape for t in results])
                fn.out_dtype = results[0].data.dtype if results else None
                for i, t in enumerate(results):
                    if t.data.dtype in _FLOAT_DTYPES:
                        t._requires_grad, t._node, t._index = True, fn, i
        else:
            fn.saved = ()
        if _tracer is not None:      # minigrad.onnx: record the op, its inputs, constants and outputs
            _tracer.record_op(cls, inputs, consts, (r,) if results is None else results)
        return r if results is None else results

    def forward(self, *arrays, **consts):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, *arrays, **consts)")

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__} must define backward(self, *grads)")

    # ------------------------------------------------------------------ used by the engine
    def _watch(self, index, t):
        if self._watched is None:
            self._watched = {}
        self._watched[index] = weakref.ref(t)

    def _hooks_for(self, index):
        if self._out_hooks is None:
            self._out_hooks = {}
        return self._out_hooks.setdefault(index, [])

    def grad_buffer(self, i):
        """The zero-initialised, owned gradient buffer of input ``i`` (only during backward)."""
        engine = _state.engine                 # this thread's running backward pass
        if engine is None:
            raise RuntimeError(f"{type(self).__name__}.grad_buffer({i}) called outside backward(): the "
                               "buffer exists only while this thread runs a backward pass")
        return engine.buffer_for(self.inputs[i])

    def __repr__(self):
        return f"<{type(self).__name__} #{getattr(self, 'seq', '?')}>"


def _wrap(arr):
    """A new tensor around a forward's output (no copy unless it is not C-contiguous)."""
    if not isinstance(arr, np.ndarray):          # a NumPy scalar from a reduction, or a custom op's value
        arr = _real_array(arr, "a Function.forward output") if not isinstance(arr, np.generic) else np.asarray(arr)
    t = Tensor.__new__(Tensor)
    t.data = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    t.grad, t._requires_grad, t._node, t._index, t._hooks, t._retain, t.name = None, False, None, 0, None, False, None
    t._post_hooks = None
    return t


def _check_dtypes(cls, inputs):
    floats = {t.data.dtype for t in inputs if t.data.dtype in _FLOAT_DTYPES}
    if len(floats) > 1:
        shapes = ", ".join(f"{t.data.dtype}{list(t.data.shape)}" for t in inputs)
        raise TypeError(f"{cls.__name__}: operands mix float32 and float64 ({shapes}); convert one "
                        "explicitly with .float() (to float32) or .double() (to float64) -- minigrad "
                        "does not promote silently")


# ====================================================================== the reverse walk
def tape_nodes(root):
    """The nodes reachable from ``root`` (a Tensor or Function), oldest first (forward order)."""
    if not isinstance(root, (Tensor, Function)):
        raise TypeError(f"expected a Tensor (or a tape node), got {describe(root)}")
    start = root._node if isinstance(root, Tensor) else root
    if start is None:
        return []
    seen, stack = {id(start): start}, [start]
    while stack:                                  # iterative DFS: no recursion limit
        node = stack.pop()
        for t in node.inputs:
            p = t._node
            if p is not None and id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return sorted(seen.values(), key=lambda n: n.seq)


# Held while a backward pass adds into leaves' .grad. NumPy releases the GIL inside `+=` on large
# arrays, and `if leaf.grad is None: leaf.grad = g` is two steps, so two threads accumulating into
# the same parameter at once would lose one of the gradients. One acquisition per backward pass.
_ACCUMULATE = threading.Lock()

# Post-accumulate hooks registered and not removed (in any thread): while 0, backward skips the
# pre-pass that finds when each hooked leaf is done, so a model without such hooks pays nothing.
_post_hooks_alive = 0


def _leaves_done_at(nodes):
    """{id(node): [leaves]}: each leaf with post-accumulate hooks under its *oldest* consumer
    among ``nodes`` (forward order), the last node of the reverse walk that adds to its gradient."""
    first = {}
    for node in nodes:
        for t in node.inputs:
            if t._post_hooks and t._node is None and id(t) not in first:
                first[id(t)] = (node, t)
    done_at = {}
    for node, t in first.values():
        done_at.setdefault(id(node), []).append(t)
    return done_at


class _BadGradient(RuntimeError):
    """A backward returned a gradient that does not fit its input (reported with the op's name)."""


class _Engine:
    """Holds the gradients in flight during one backward pass.

    A slot holds ``(array, owned)``. A gradient handed over by a backward is *borrowed*: it may be
    the very array another input also received (``Add`` passes ``g`` to both sides), so it is
    never modified in place. The first time a second gradient arrives, the sum goes into a fresh
    *owned* array, which later contributions then update in place.
    """

    def __init__(self):
        self.node_grads = {}    # id(node) -> list of (gradient, owned) per output
        self.leaf_grads = {}    # id(leaf) -> [leaf, (gradient, owned)]

    def _slot(self, t):
        if t._node is None:
            entry = self.leaf_grads.get(id(t))
            if entry is None:
                entry = self.leaf_grads[id(t)] = [t, None]
            return entry, 1
        grads = self.node_grads.get(id(t._node))
        if grads is None:
            grads = self.node_grads[id(t._node)] = [None] * t._node.n_outputs
        return grads, t._index

    def add(self, t, g, owned=False):
        """Accumulate gradient ``g`` into the slot of tensor ``t``."""
        data = t.data
        if type(g) is not np.ndarray:                  # a number or NumPy scalar from a backward
            g = _real_array(g, "the gradient")
        if g.shape != data.shape:
            raise _BadGradient(f"returned a gradient of shape {g.shape} for an input of shape {data.shape}")
        if g.dtype is not data.dtype and g.dtype != data.dtype:
            if g.dtype.kind not in "fiu":              # complex, object, bool: never cast silently
                raise _BadGradient(f"returned a gradient of dtype {g.dtype} for an input of dtype {data.dtype}")
            g, owned = g.astype(data.dtype), True
        node = t._node
        if node is not None and node.n_outputs == 1:   # the common case, without _slot
            slot = self.node_grads.get(id(node))
            if slot is None:
                self.node_grads[id(node)] = [(g, owned)]
                return
            k = 0
        else:
            slot, k = self._slot(t)
        cur = slot[k]
        if cur is None:
            slot[k] = (g, owned)
        elif cur[1]:
            cur[0].__iadd__(g)
        else:
            slot[k] = (cur[0] + g, True)

    def buffer_for(self, t):
        slot, k = self._slot(t)
        cur = slot[k]
        if cur is None:
            cur = slot[k] = (np.zeros(t.data.shape, t.data.dtype), True)
        elif not cur[1] or not cur[0].flags.c_contiguous:
            # borrowed, or an owned sum that NumPy laid out in F order (sum of transposed views):
            # C kernels write into this buffer, so it must be an owned C-contiguous array
            cur = slot[k] = (np.array(cur[0], order="C", copy=True), True)
        return cur[0]


def _real_array(value, what):
    """``value`` (array-like or Tensor) as a NumPy array of real numbers, or a TypeError naming
    ``what`` and the offending dtype: complex, object (e.g. ``None``), string and bool arrays are
    never cast silently."""
    if isinstance(value, Tensor):
        value = value.data
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:            # ragged nested lists
        raise TypeError(f"{what} must be an array of real numbers, got {type(value).__name__}: {e}") from None
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{what} must be an array of real numbers, got dtype {arr.dtype} "
                        f"({describe(value)})")
    return arr


def _run_hooks(hooks, g):
    for h in list(hooks):
        r = h(g)
        if r is not None:
            r = _real_array(r, f"the gradient returned by hook {describe(h)}")
            if r.dtype != g.dtype:     # as PyTorch: a hook may not change the gradient's dtype
                raise TypeError(f"hook {describe(h)} returned a gradient of dtype {r.dtype}, expected "
                                f"{g.dtype} (a hook must not change the gradient's dtype)")
            if r.shape != g.shape:
                raise ValueError(f"a hook returned a gradient of shape {r.shape}, expected {g.shape}")
            g = r
    return g


def _extra_nones(grads, n):
    """True when ``grads`` has more than ``n`` entries and all the extra ones are None (an op with
    an optional input, e.g. a bias, may return a fixed-length tuple)."""
    return len(grads) > n and all(g is None for g in grads[n:])


def _check_grad_attr(leaf):
    """``leaf.grad`` must be None or an array ``+=`` can accumulate into (a user may have set it)."""
    cur = leaf.grad
    if cur is None or (type(cur) is np.ndarray and cur.shape == leaf.data.shape
                       and cur.dtype == leaf.data.dtype and cur.flags.writeable):
        return
    what = (f"an array of shape {cur.shape} and dtype {cur.dtype}" + ("" if cur.flags.writeable else " (read-only)")
            if isinstance(cur, np.ndarray) else f"a {type(cur).__name__}")
    raise RuntimeError(f"cannot accumulate the gradient of a leaf of shape {leaf.data.shape} and dtype "
                        f"{leaf.data.dtype}: its .grad holds {what}; set .grad to None first")


def _observe(node, grads):
    """Run the output hooks of ``node`` (which may replace entries of ``grads``) and fill in
    ``.grad`` of its outputs that asked for ``retain_grad()``."""
    for i, gi in enumerate(grads):
        if gi is None:
            continue
        if node._out_hooks and i in node._out_hooks:
            gi = grads[i] = _run_hooks(node._out_hooks[i], gi)
        if node._watched and i in node._watched:
            t = node._watched[i]()
            if t is not None:
                t.grad = gi.copy() if t.grad is None else t.grad + gi


def backward(root, grad=None, retain_graph=False):
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` (see :meth:`Tensor.backward`)."""
    check_bool(retain_graph, "backward(retain_graph=...)")
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad "
                           "(no input had requires_grad=True, or it was computed under no_grad)")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward() without `grad` needs a single-element tensor, got shape "
                               f"{root.shape}; pass grad= (an array of that shape)")
        g, owned = np.ones(root.data.shape, root.data.dtype), True
    else:
        # any real dtype is cast to the root's (as PyTorch); complex/object/bool/str raise. The
        # caller's array is borrowed, not copied (the engine never writes into a borrowed
        # gradient): for an (N, V) loss-free backward that copy was ~5 ms of a 28 MB array.
        g = _real_array(grad, "backward(grad)")
        if g.shape != root.data.shape:
            raise ValueError(f"backward(grad): grad has shape {g.shape} but the tensor has shape {root.shape}")
        owned = g.dtype != root.data.dtype
        if owned:
            g = g.astype(root.data.dtype)
    engine, prev = _Engine(), _state.engine      # prev: a backward run from inside a hook
    _state.engine = engine
    try:
        engine.add(root, g, owned=owned)
        node_grads, add = engine.node_grads, engine.add
        nodes = tape_nodes(root)
        done_at = _leaves_done_at(nodes) if _post_hooks_alive else None
        for node in reversed(nodes):
            grads = node_grads.pop(id(node), None)
            if grads is None:
                continue
            if node._freed:
                raise RuntimeError(
                    f"backward through {type(node).__name__} a second time: its saved buffers were freed "
                    "by the first backward. Call backward(retain_graph=True) the first time to keep them.")
            grads = [None if e is None else e[0] for e in grads]
            if node._out_hooks is not None or node._watched is not None:
                _observe(node, grads)
            in_grads = node.backward(grads[0]) if node.n_outputs == 1 else node.backward(*grads)
            if type(in_grads) is not tuple and not isinstance(in_grads, (tuple, list)):
                in_grads = (in_grads,)
            if len(in_grads) != len(node.inputs) and not _extra_nones(in_grads, len(node.inputs)):
                # zip would silently drop inputs' gradients (or gradients for inputs that do not exist)
                raise RuntimeError(f"{type(node).__name__}.backward returned {len(in_grads)} gradient(s) "
                                   f"for {len(node.inputs)} input(s)")
            try:
                for t, need, gi in zip(node.inputs, node.needs, in_grads):
                    if need and gi is not None:
                        add(t, gi)
            except (_BadGradient, TypeError) as e:
                raise RuntimeError(f"{type(node).__name__}.backward: {e}") from None
            if not retain_graph:
                node.saved, node._freed = None, True
            if done_at and id(node) in done_at:  # hooked leaves whose gradient is now complete
                _accumulate([engine.leaf_grads.pop(id(t), (t, None)) for t in done_at.pop(id(node))])
        _accumulate(engine.leaf_grads.values())
    finally:
        _state.engine = prev


def _accumulate(entries):
    """Add each ``(leaf, (gradient, owned))`` entry into ``leaf.grad``, then run the leaves'
    post-accumulate hooks. Leaf hooks and checks run first: all of the leaves or none."""
    final = []
    for leaf, entry in entries:
        if entry is None:
            continue
        g, owned = entry
        if leaf._hooks:
            g, owned = _run_hooks(leaf._hooks, g), False
        _check_grad_attr(leaf)
        final.append((leaf, g, owned))
    with _ACCUMULATE:      # threads whose graphs share leaves (one model, two batches)
        for leaf, g, owned in final:
            if leaf.grad is None:
                leaf.grad = g if owned else g.copy()
            else:
                leaf.grad += g
    for leaf, _, _ in final:
        if leaf._post_hooks:
            for h in list(leaf._post_hooks):
                h(leaf)
