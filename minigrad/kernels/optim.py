"""Bindings of the fused optimizer updates (csrc/optim.c): the Adam step over one parameter
(``adam_update``) and over a whole parameter group in one C call (``AdamGroup``).

Dimension legend: N = elements of one parameter (any shape, seen flat); K = parameters in a group.
"""
import numpy as np

from .common import (_owner, cfunc, check_float_array, check_no_overlap, check_out, check_real,
                     contiguous, ffi, ptr)

_ndarray = np.ndarray
_PTR_ARRAY = {np.dtype(np.float32): "float *[]", np.dtype(np.float64): "double *[]"}


def adam_update(w, m, v, g, vmax=None, *, c1, beta2, c2, step_size, bc2_sqrt, eps):
    """One fused Adam step over a parameter (csrc/optim.h), in place on ``w``, ``m``, ``v`` (and
    ``vmax`` for amsgrad): m += (g - m)*c1; v = v*beta2 + g*g*c2; w -= m / (sqrt(v)/bc2_sqrt + eps)
    * step_size. One shape and dtype for all; w, m, v, vmax are written in place, so they must be
    C-contiguous, writeable and share no memory with each other or with ``g`` (copied if not
    C-contiguous). The coefficients are finite real numbers.
    """
    where = "adam_update"
    check_float_array(w, f"{where}: w")
    check_float_array(g, f"{where}: g", w.dtype, "w")
    if g.shape != w.shape:
        raise ValueError(f"{where}: g has shape {g.shape}, w has {w.shape}")
    state = [("w", w), ("m", m), ("v", v)] + ([("vmax", vmax)] if vmax is not None else [])
    for name, a in state:
        check_out(a, w.shape, w.dtype, f"{where}: {name}")
    coef = [check_real(x, f"{where}: {k}") for k, x in (("c1", c1), ("beta2", beta2), ("c2", c2),
            ("step_size", step_size), ("bc2_sqrt", bc2_sqrt), ("eps", eps))]
    check_no_overlap(state, [("g", g)], where=where)
    g = contiguous(g)
    cfunc("adam_update", w.dtype)(ptr(w), ptr(m), ptr(v), ptr(vmax) if vmax is not None else ffi.NULL,
                                  ptr(g), *coef, w.size)


class AdamGroup:
    """The Adam arrays of K parameters bound to C once; ``step`` updates all K in one C call.

    An optimizer's parameters and their state are the same arrays from one step to the next;
    only the gradients are new. So the arrays the kernel writes -- w, m, v (and vmax with
    amsgrad) of every parameter -- are checked here, once (float32 or float64, one dtype for
    all; m, v, vmax of their w's shape; writeable, C-contiguous, aligned; no two sharing
    memory), and their C pointers kept. ``step`` then checks only what is new -- each gradient
    (an ndarray of its w's shape and dtype, overlapping none of the written arrays; copied if
    not C-contiguous) and the coefficients -- and makes one call of ``mg_adam_update_many``:
    bitwise the results of K ``adam_update`` calls, at a per-parameter cost of one pointer.

    ``bound(ws, ms, vs, vmaxs)`` says whether the group still holds exactly these arrays (by
    identity): ``optim.Adam`` builds a new group when a parameter or its state was replaced.
    """

    def __init__(self, ws, ms, vs, vmaxs=None):
        where = "AdamGroup"
        ws, ms, vs = list(ws), list(ms), list(vs)
        vmaxs = None if vmaxs is None else list(vmaxs)
        K = len(ws)
        if len(ms) != K or len(vs) != K or (vmaxs is not None and len(vmaxs) != K):
            raise ValueError(f"{where}: ws, ms, vs (and vmaxs) must have one array per parameter, got "
                             f"{K}, {len(ms)}, {len(vs)}" + ("" if vmaxs is None else f", {len(vmaxs)}"))
        if K == 0:
            raise ValueError(f"{where}: a group needs at least one parameter")
        dtype = check_float_array(ws[0], f"{where}: w[0]").dtype
        written = []                                   # (name, array): every buffer C writes
        for k, w in enumerate(ws):
            check_float_array(w, f"{where}: w[{k}]", dtype, "w[0]")
            state = (("w", w), ("m", ms[k]), ("v", vs[k])) + ((("vmax", vmaxs[k]),) if vmaxs else ())
            for name, a in state:
                check_out(a, w.shape, dtype, f"{where}: {name}[{k}]")
                written.append((f"{name}[{k}]", a))
        check_no_overlap(written, where=where)
        self.dtype, self.K = dtype, K
        self._arrays = (ws, ms, vs, vmaxs)             # held: the pointers below stay valid
        self._written = written
        owners = [_owner(a) for _, a in written]
        self._owner_ids = {id(o) for o in owners if o is not None}
        self._foreign = any(o is None for o in owners)  # memory of unknown origin: check g exactly
        kind = _PTR_ARRAY[dtype]
        self._w, self._m, self._v = (ffi.new(kind, [ptr(a) for a in arrs]) for arrs in (ws, ms, vs))
        self._vmax = ffi.new(kind, [ptr(a) for a in vmaxs]) if vmaxs else ffi.NULL
        self._g = ffi.new(kind, K)                     # filled by every step
        self._n = ffi.new("int64_t[]", [w.size for w in ws])
        self._step_size, self._bc2_sqrt = ffi.new("double[]", K), ffi.new("double[]", K)
        self._fn = cfunc("adam_update_many", dtype)

    def bound(self, ws, ms, vs, vmaxs=None):
        """True if the group holds exactly these arrays (the same objects, in this order)."""
        mine = self._arrays
        if (len(ws) != self.K or len(ms) != self.K or len(vs) != self.K
                or (vmaxs is None) != (mine[3] is None) or (vmaxs is not None and len(vmaxs) != self.K)):
            return False
        for got, have in zip((ws, ms, vs, vmaxs or ()), mine):
            for a, b in zip(got, have or ()):
                if a is not b:
                    return False
        return True

    def step(self, gs, step_sizes, bc2_sqrts, *, c1, beta2, c2, eps):
        """One Adam step of every parameter: ``gs[k]`` is parameter k's gradient, ``step_sizes[k]``
        = lr / (1 - beta1^t) and ``bc2_sqrts[k]`` = sqrt(1 - beta2^t) at its step t; ``c1``,
        ``beta2``, ``c2``, ``eps`` as in ``adam_update``."""
        where, K, ws = "AdamGroup.step", self.K, self._arrays[0]
        if len(gs) != K or len(step_sizes) != K or len(bc2_sqrts) != K:
            raise ValueError(f"{where}: expected {K} gradients, step sizes and bc2_sqrts (one per "
                             f"parameter), got {len(gs)}, {len(step_sizes)}, {len(bc2_sqrts)}")
        coef = [check_real(x, f"{where}: {k}") for k, x in (("c1", c1), ("beta2", beta2), ("c2", c2),
                                                              ("eps", eps))]
        held = []                                      # the gradients C reads, alive until the call ends
        for k, g in enumerate(gs):
            w = ws[k]
            if type(g) is not _ndarray or g.dtype != w.dtype or g.shape != w.shape:
                check_float_array(g, f"{where}: g[{k}]", w.dtype, f"w[{k}]")
                raise ValueError(f"{where}: g[{k}] has shape {g.shape}, w[{k}] has {w.shape}")
            o = _owner(g)
            if o is None or self._foreign or id(o) in self._owner_ids:
                check_no_overlap(self._written, [(f"g[{k}]", g)], where=where)
            g = contiguous(g)
            held.append(g)
            self._g[k] = ptr(g)
            self._step_size[k] = check_real(step_sizes[k], f"{where}: step_sizes[{k}]")
            self._bc2_sqrt[k] = check_real(bc2_sqrts[k], f"{where}: bc2_sqrts[{k}]")
        self._fn(self._w, self._m, self._v, self._vmax, self._g, self._n, self._step_size,
                 self._bc2_sqrt, *coef, K)

    def __repr__(self):
        return f"AdamGroup({self.K} parameters, {self.dtype}{', amsgrad' if self._arrays[3] else ''})"


__all__ = ["AdamGroup", "adam_update"]
