"""Bindings of the recurrent cell kernels (csrc/rnn_cells.h): single steps forward and backward,
step plans, and the whole-sequence drivers.

Every entry point first calls ``_check_call`` on the caller's arrays (types, dtypes, shapes,
outputs, overlaps, lengths, t, plan, flags), before any copy or allocation. Aliasing: no kernel
here runs in place -- caller-supplied outputs (``out=``, ``dgates=``, ``dh_prev=``, ...) may share
memory with no input and no other output; the one exception is ``lstm_seq_forward(...,
overwrite_gx=True)``, which writes the gates into ``gx`` itself (exactly that array)."""
import numpy as np

from .common import (as_float_array, cfunc, check_arrays, check_flag, check_int, check_out, ffi,
                     lib, ptr)


# ----------------------------------------------------------------------------- recurrent cells
# Fused RNN / LSTM / GRU kernels of csrc/rnn_cells.h (read its header comment for the maths and
# the variable-length rules). Legend: T time, B batch, H hidden, G gates (rnn 1, lstm 4, gru 3).
# The layer computes gx = X @ W_ih^T + biases for all steps as one GEMM; these kernels do the
# recurrent part. Step kernels: one time step, caches returned for backward; step backward
# WRITES the gate gradients and ACCUMULATES into dh_prev/dc_prev (zeros unless given). Sequence
# drivers: the whole time loop of one direction in C; they return the caches as a dict.
_CELL_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
# Per kind, the (T,B,.) caches the sequence forward returns: name -> width in units of H.
_SEQ_CACHE = {"rnn": (("hprev", 1), ("out", 1)),
              "lstm": (("hprev", 1), ("cprev", 1), ("gates", 4), ("tanh_c", 1)),
              "gru": (("hprev", 1), ("gates", 3), ("hn", 1))}


def _nullable(a):
    return ffi.NULL if a is None else ptr(a)


def _cell_rc(where, rc):
    """Raise if a C kernel reported -1 (scratch allocation failed); the naive reference step
    kernels return nothing (None)."""
    if rc is not None and rc != 0:
        raise MemoryError(f"{where}: could not allocate the kernel's scratch buffers")


def _relu_flag(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return int(nonlinearity == "relu")


def _cell_weight(where, kind, w_hh):
    """Validate w_hh (G*H, H); returns (w_hh, H)."""
    g = _CELL_GATES[kind]
    w = as_float_array(w_hh, f"{where}: w_hh")
    if w.ndim != 2 or w.shape[0] != g * w.shape[1]:
        raise ValueError(f"{where}: w_hh must have shape ({g}*H, H), got {w.shape}")
    return w, w.shape[1]


def _cell_arrays(where, dtype, items):
    """Validate (name, array, shape[, optional]) items: ndarray, `dtype`, exact shape.

    Returns the C-contiguous arrays (None for an omitted optional one).
    """
    out = []
    for name, x, shape, *opt in items:
        if x is None and opt and opt[0]:
            out.append(None)
            continue
        a = as_float_array(x, f"{where}: {name}", dtype)
        if a.shape != tuple(shape):
            raise ValueError(f"{where}: {name} has shape {a.shape}, expected {tuple(shape)}")
        out.append(a)
    return out


def _cell_lengths(where, lengths, batch, steps=None):
    """Validate ``lengths`` ((B,) integer ndarray, values in [0, T]); returns (array, C pointer)."""
    if lengths is None:
        return None, ffi.NULL
    if not isinstance(lengths, np.ndarray) or lengths.dtype.kind not in "iu":
        raise TypeError(f"{where}: lengths must be an integer numpy.ndarray, got "
                        f"{getattr(lengths, 'dtype', type(lengths).__name__)}")
    if lengths.shape != (batch,):
        raise ValueError(f"{where}: lengths has shape {lengths.shape}, expected ({batch},)")
    hi = np.iinfo(np.int64).max if steps is None else steps
    if batch and (lengths.min() < 0 or lengths.max() > hi):
        raise ValueError(f"{where}: lengths must lie in [0, {'T' if steps is None else steps}], "
                         f"got min {lengths.min()} max {lengths.max()}")
    L = np.require(lengths, np.int64, "CA")   # C-contiguous and aligned int64 (copy if not)
    return L, ffi.cast("int64_t *", ffi.from_buffer(L))


def _cell_step_index(where, t):
    return check_int(t, f"{where}: t", lo=0)


def _cell_outputs(where, dtype, given, specs, zero=False):
    """Output buffers: allocate (np.zeros if `zero` else np.empty) or validate the given ones.

    ``given`` is None or a tuple matching ``specs`` ((name, shape) pairs).
    """
    if given is None:
        make = np.zeros if zero else np.empty
        return [make(shape, dtype) for _, shape in specs]
    if not isinstance(given, (tuple, list)) or len(given) != len(specs):
        raise TypeError(f"{where}: out must be a tuple of {len(specs)} arrays "
                        f"({', '.join(n for n, _ in specs)})")
    return [check_out(o, shape, dtype, f"{where}: {name}") for o, (name, shape) in zip(given, specs)]


_NO_T = object()   # _check_call without a step index (sequence kernels, plans)


def _check_call(where, inputs, outputs=(), lengths=None, t=_NO_T, steps=None, inplace=(),
                plan=None, stem=None, reference=False, flags=()):
    """Every check of one kernel call, on the caller's arrays, before any copy or allocation:
    shapes and dtypes (``common.check_arrays``: patterns such as 'B 4H', w_hh first), output
    buffers (no overlap with each other or the inputs, except ``inplace`` pairs), lengths (in
    [0, dims[steps]] when ``steps`` names a symbol), the step index t (if given), the plan (for
    the step kernel ``stem``) and the bools ``reference`` and ``flags`` ((name, value) pairs).
    Returns the dims bound, e.g. {'H': 5, 'B': 3}. No step kernel runs in place: every output
    must be free of every input and of the other outputs (the kernels read h_prev, c_prev, gates
    ... while writing)."""
    for name, value in (("reference", reference),) + tuple(flags):
        check_flag(value, f"{where}: {name}")
    dims, _ = check_arrays(where, inputs, outputs, inplace)
    _cell_lengths(where, lengths, dims.get("B", 0), dims[steps] if steps else None)
    if t is not _NO_T:
        _cell_step_index(where, t)
    if plan is not None:
        _check_plan(where, plan, stem, inputs[0][1], dims["B"], reference)
    return dims


def _out_items(where, given, specs):
    """``out=`` of a step kernel (None or a tuple of arrays) as check_arrays' output items."""
    if given is None:
        return [(name, None, pattern) for name, pattern in specs]
    if not isinstance(given, (tuple, list)) or len(given) != len(specs):
        raise TypeError(f"{where}: out must be a tuple of {len(specs)} arrays "
                        f"({', '.join(n for n, _ in specs)}), got {type(given).__name__}")
    return [(name, a, pattern) for a, (name, pattern) in zip(given, specs)]


def _cell_out(where, dtype, a, name, shape, zero=False):
    """One output buffer: allocated when ``a`` is None, else validated (and then used as is)."""
    return _cell_outputs(where, dtype, None if a is None else (a,), [(name, shape)], zero)[0]


def _step_fn(stem, dtype, reference):
    """The C step kernel ``mg_<stem>_<f32|f64>``; ``reference=True`` (a keyword of every step
    wrapper; tests only) picks its naive version in csrc/rnn_ref.c, e.g. mg_lstm_forward_ref_f64."""
    return cfunc(stem + "_ref" if reference else stem, dtype)


class StepPlan:
    """W_hh packed once for many single steps of one cell and one direction (the step plans of
    csrc/rnn_cells.h). Without a plan every step kernel packs W_hh again; the unrolled layer
    makes one plan per layer direction for its forward steps and one for its backward steps.

    The plan packs a copy of ``w_hh`` taken at creation and serves only steps of this ``kind``
    ('rnn', 'lstm', 'gru'), ``batch`` rows, direction (``backward``) and this very w_hh array
    (all checked at every use): change the weights and the plan is stale, so make a new one.
    """

    def __init__(self, kind, w_hh, batch, backward=False):
        where = "StepPlan"
        if kind not in _CELL_GATES:
            raise ValueError(f"{where}: kind must be one of {sorted(_CELL_GATES)}, got {kind!r}")
        _check_call(where, [("w_hh", w_hh, f"{_CELL_GATES[kind]}H H")], flags=[("backward", backward)])
        if not (w_hh.flags.c_contiguous and w_hh.flags.aligned):   # the plan is tied to this array
            raise ValueError(f"{where}: w_hh {w_hh.shape} must be C-contiguous and aligned (the plan "
                             "serves steps given this very array)")
        w, H = _cell_weight(where, kind, w_hh)
        batch = check_int(batch, f"{where}: batch")
        if batch < 1 or H < 1:   # zero-size steps need no plan
            raise ValueError(f"{where}: needs batch >= 1 and H >= 1, got batch={batch}, H={H}")
        handle = cfunc("rnn_plan_new", w.dtype)(ptr(w), int(batch), H, _CELL_GATES[kind], int(bool(backward)))
        if handle == ffi.NULL:
            raise MemoryError(f"{where}: could not allocate the packed W_hh ({w.shape}, {w.dtype})")
        self.handle = ffi.gc(handle, lib.mg_rnn_plan_delete)
        self.kind, self.batch, self.backward, self.w_hh = kind, int(batch), bool(backward), w

    def check(self, where, kind, w_hh, batch, backward):
        """Raise ValueError unless this plan was made for such a step."""
        want = (kind, batch, backward)
        have = (self.kind, self.batch, self.backward)
        if want != have or w_hh is not self.w_hh:
            what = lambda k, b, bw: f"{k} {'backward' if bw else 'forward'} steps with B={b}"
            raise ValueError(f"{where}: the plan was made for {what(*have)} and w_hh {self.w_hh.shape} "
                             f"{self.w_hh.dtype}; this is one of {what(*want)}"
                             + ("" if w_hh is self.w_hh else " with another w_hh array"))


def _check_plan(where, plan, stem, w, batch, reference):
    """Raise unless ``plan`` is a StepPlan made for this step (kernel ``stem``, w_hh ``w``)."""
    if not isinstance(plan, StepPlan):
        raise TypeError(f"{where}: plan must be a kernels.StepPlan, got {type(plan).__name__}")
    if reference:
        raise ValueError(f"{where}: the naive reference kernels take no plan")
    plan.check(where, stem.split("_")[0], w, batch, stem.endswith("backward"))


def _step_kernel(where, stem, kind, w, batch, reference, plan):
    """(C kernel, its weight argument) for one step: the kernel that packs w_hh itself, or, given
    a StepPlan, its *_planned form with the plan where w_hh goes (same argument positions)."""
    if plan is None:
        return _step_fn(stem, w.dtype, reference), ptr(w)
    _check_plan(where, plan, stem, w, batch, reference)
    return cfunc(stem + "_planned", w.dtype), plan.handle


def _step_setup(where, kind, state, w_hh, lengths, t, name="h_prev"):
    """Common checks of a step kernel. ``state`` is a (B,H) array fixing B: returns
    (w_hh, state, B, H, dtype, lengths, lptr, t)."""
    w, hdim = _cell_weight(where, kind, w_hh)
    hp = as_float_array(state, f"{where}: {name}", w.dtype)
    if hp.ndim != 2 or hp.shape[1] != hdim:
        raise ValueError(f"{where}: {name} has shape {hp.shape}, expected (B, {hdim}) "
                         f"to match w_hh {w.shape}")
    L, lptr = _cell_lengths(where, lengths, hp.shape[0])
    return w, hp, hp.shape[0], hdim, w.dtype, L, lptr, _cell_step_index(where, t)


def rnn_step_forward(gx_t, h_prev, w_hh, lengths=None, t=0, nonlinearity="tanh", out=None,
                     reference=False, plan=None):
    """One Elman step: ``h = act(gx_t + h_prev @ w_hh.T)``; returns h (B,H) (also its own cache)."""
    where = "rnn_step_forward"
    relu = _relu_flag(nonlinearity)
    _check_call(where, [("w_hh", w_hh, "H H"), ("h_prev", h_prev, "B H"), ("gx_t", gx_t, "B H")],
                [("h", out, "B H")], lengths, t, plan=plan, stem="rnn_forward", reference=reference)
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "rnn", h_prev, w_hh, lengths, t)
    (gx,) = _cell_arrays(where, dt, [("gx_t", gx_t, (B, H))])
    h = _cell_out(where, dt, out, "h", (B, H))
    fn, wp = _step_kernel(where, "rnn_forward", "rnn", w, B, reference, plan)
    rc = fn(ptr(h), ptr(gx), ptr(hp), wp, lp, t, B, H, relu)
    _cell_rc(where, rc)
    return h


def rnn_step_backward(dh, h, w_hh, lengths=None, t=0, nonlinearity="tanh", dgates=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one Elman step: returns (dgates (B,H), dh_prev (B,H) accumulated into)."""
    where = "rnn_step_backward"
    relu = _relu_flag(nonlinearity)
    _check_call(where, [("w_hh", w_hh, "H H"), ("h", h, "B H"), ("dh", dh, "B H")],
                [("dgates", dgates, "B H"), ("dh_prev", dh_prev, "B H")], lengths, t, plan=plan,
                stem="rnn_backward", reference=reference)
    w, hh, B, H, dt, L, lp, t = _step_setup(where, "rnn", h, w_hh, lengths, t, "h")
    (dhh,) = _cell_arrays(where, dt, [("dh", dh, (B, H))])
    dg = _cell_out(where, dt, dgates, "dgates", (B, H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    fn, wp = _step_kernel(where, "rnn_backward", "rnn", w, B, reference, plan)
    rc = fn(ptr(dg), ptr(dhp), ptr(dhh), ptr(hh), wp, lp, t, B, H, relu)
    _cell_rc(where, rc)
    return dg, dhp


def lstm_step_forward(gx_t, h_prev, c_prev, w_hh, lengths=None, t=0, out=None, reference=False, plan=None):
    """One LSTM step; returns (h, c, gates (B,4H) post-activation i,f,g,o, tanh_c).

    ``out``: optional tuple of 4 buffers in that order (e.g. slices of (T,B,.) caches).
    """
    where = "lstm_step_forward"
    _check_call(where, [("w_hh", w_hh, "4H H"), ("h_prev", h_prev, "B H"), ("gx_t", gx_t, "B 4H"),
                        ("c_prev", c_prev, "B H")],
                _out_items(where, out, [("h", "B H"), ("c", "B H"), ("gates", "B 4H"),
                                        ("tanh_c", "B H")]),
                lengths, t, plan=plan, stem="lstm_forward", reference=reference)
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "lstm", h_prev, w_hh, lengths, t)
    gx, cp = _cell_arrays(where, dt, [("gx_t", gx_t, (B, 4 * H)), ("c_prev", c_prev, (B, H))])
    outs = _cell_outputs(where, dt, out, [("h", (B, H)), ("c", (B, H)), ("gates", (B, 4 * H)),
                                          ("tanh_c", (B, H))])
    fn, wp = _step_kernel(where, "lstm_forward", "lstm", w, B, reference, plan)
    rc = fn(*map(ptr, outs), ptr(gx), ptr(hp), ptr(cp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return tuple(outs)


def lstm_step_backward(dh, dc, gates, tanh_c, c_prev, w_hh, lengths=None, t=0,
                       dgates=None, dh_prev=None, dc_prev=None, reference=False, plan=None):
    """Backward of one LSTM step (dc may be None); returns (dgates (B,4H), dh_prev, dc_prev)."""
    where = "lstm_step_backward"
    _check_call(where, [("w_hh", w_hh, "4H H"), ("dh", dh, "B H"), ("dc", dc, "B H", True),
                        ("gates", gates, "B 4H"), ("tanh_c", tanh_c, "B H"), ("c_prev", c_prev, "B H")],
                [("dgates", dgates, "B 4H"), ("dh_prev", dh_prev, "B H"), ("dc_prev", dc_prev, "B H")],
                lengths, t, plan=plan, stem="lstm_backward", reference=reference)
    w, dhh, B, H, dt, L, lp, t = _step_setup(where, "lstm", dh, w_hh, lengths, t, "dh")
    dcc, g, tc, cp = _cell_arrays(where, dt, [("dc", dc, (B, H), True), ("gates", gates, (B, 4 * H)),
                                              ("tanh_c", tanh_c, (B, H)), ("c_prev", c_prev, (B, H))])
    dg = _cell_out(where, dt, dgates, "dgates", (B, 4 * H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    dcp = _cell_out(where, dt, dc_prev, "dc_prev", (B, H), zero=True)
    fn, wp = _step_kernel(where, "lstm_backward", "lstm", w, B, reference, plan)
    rc = fn(ptr(dg), ptr(dhp), ptr(dcp), ptr(dhh), _nullable(dcc), ptr(g), ptr(tc), ptr(cp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return dg, dhp, dcp


def gru_step_forward(gx_t, h_prev, w_hh, b_hn=None, lengths=None, t=0, out=None, reference=False, plan=None):
    """One GRU step; returns (h, gates (B,3H) post-activation r,z,n, hn = h_prev @ W_hn^T + b_hn)."""
    where = "gru_step_forward"
    _check_call(where, [("w_hh", w_hh, "3H H"), ("h_prev", h_prev, "B H"), ("gx_t", gx_t, "B 3H"),
                        ("b_hn", b_hn, "H", True)],
                _out_items(where, out, [("h", "B H"), ("gates", "B 3H"), ("hn", "B H")]),
                lengths, t, plan=plan, stem="gru_forward", reference=reference)
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "gru", h_prev, w_hh, lengths, t)
    gx, bhn = _cell_arrays(where, dt, [("gx_t", gx_t, (B, 3 * H)), ("b_hn", b_hn, (H,), True)])
    outs = _cell_outputs(where, dt, out, [("h", (B, H)), ("gates", (B, 3 * H)), ("hn", (B, H))])
    fn, wp = _step_kernel(where, "gru_forward", "gru", w, B, reference, plan)
    rc = fn(*map(ptr, outs), ptr(gx), ptr(hp), wp, _nullable(bhn), lp, t, B, H)
    _cell_rc(where, rc)
    return tuple(outs)


def gru_step_backward(dh, gates, hn, h_prev, w_hh, lengths=None, t=0, dgx=None, dgh=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one GRU step; returns (dgx (B,3H), dgh (B,3H), dh_prev (B,H) accumulated into).

    dgx: grads of the input-side pre-activations (gx); dgh: of h_prev @ W_hh^T + b_hh.
    """
    where = "gru_step_backward"
    _check_call(where, [("w_hh", w_hh, "3H H"), ("dh", dh, "B H"), ("gates", gates, "B 3H"),
                        ("hn", hn, "B H"), ("h_prev", h_prev, "B H")],
                [("dgx", dgx, "B 3H"), ("dgh", dgh, "B 3H"), ("dh_prev", dh_prev, "B H")],
                lengths, t, plan=plan, stem="gru_backward", reference=reference)
    w, dhh, B, H, dt, L, lp, t = _step_setup(where, "gru", dh, w_hh, lengths, t, "dh")
    g, hnn, hp = _cell_arrays(where, dt, [("gates", gates, (B, 3 * H)), ("hn", hn, (B, H)),
                                          ("h_prev", h_prev, (B, H))])
    dx = _cell_out(where, dt, dgx, "dgx", (B, 3 * H))
    dg = _cell_out(where, dt, dgh, "dgh", (B, 3 * H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    fn, wp = _step_kernel(where, "gru_backward", "gru", w, B, reference, plan)
    rc = fn(ptr(dx), ptr(dg), ptr(dhp), ptr(dhh), ptr(g), ptr(hnn), ptr(hp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return dx, dg, dhp


def _seq_setup(where, kind, gx, w_hh, lengths):
    """Common checks of a sequence driver: returns (w_hh, gx, T, B, H, dtype, lengths, lptr)."""
    w, hdim = _cell_weight(where, kind, w_hh)
    x = as_float_array(gx, f"{where}: gx", w.dtype)
    if x.ndim != 3 or x.shape[2] != w.shape[0]:
        raise ValueError(f"{where}: gx has shape {x.shape}, expected (T, B, {w.shape[0]}) "
                         f"to match w_hh {w.shape}")
    T, B = x.shape[:2]
    L, lp = _cell_lengths(where, lengths, B, T)
    return w, x, T, B, hdim, w.dtype, L, lp


def _seq_forward(kind, gx, h0, c0, w_hh, b_hn, lengths, reverse, relu=0, overwrite_gx=False):
    where = f"{kind}_seq_forward"
    G, gxo = _CELL_GATES[kind], "gx (overwrite_gx=True)"
    _check_call(where, [("w_hh", w_hh, f"{G}H H"), ("gx", gx, f"T B {G}H"), ("h0", h0, "B H"),
                        ("c0", c0, "B H", kind != "lstm"), ("b_hn", b_hn, "H", True)],
                [(gxo, gx, f"T B {G}H")] if overwrite_gx else (), lengths, steps="T",
                inplace=[(gxo, "gx")], flags=[("reverse", reverse), ("overwrite_gx", overwrite_gx)])
    w, x, T, B, H, dt, L, lp = _seq_setup(where, kind, gx, w_hh, lengths)
    h0, c0, bhn = _cell_arrays(where, dt, [("h0", h0, (B, H)), ("c0", c0, (B, H), kind != "lstm"),
                                           ("b_hn", b_hn, (H,), True)])
    h_n, c_n = np.empty((B, H), dt), np.empty((B, H), dt)
    if L is None:
        # No padding: the state entering step t+1 IS the output of step t, so out and the hprev
        # cache are two views of one (T+1, B, H) buffer with h0 at one end -- a (T,B,H) buffer and
        # a copy per step less. (With padding, out is 0 at padded steps where hprev carries the
        # state on: two buffers.)
        buf = np.empty((T + 1, B, H), dt)
        out, hprev = (buf[:-1], buf[1:]) if reverse else (buf[1:], buf[:-1])
    else:
        out, hprev = np.empty((T, B, H), dt), np.empty((T, B, H), dt)
    given = {"out": out, "hprev": hprev}
    cache = {name: given[name] if name in given else np.empty((T, B, k * H), dt)
             for name, k in _SEQ_CACHE[kind] if not (overwrite_gx and name == "gates")}
    if overwrite_gx:
        if x is not gx or not x.flags.writeable:
            raise ValueError(f"{where}: overwrite_gx needs gx to be a writeable C-contiguous {dt} array")
        cache["gates"] = x
    rev = int(bool(reverse))
    if kind == "rnn":
        rc = cfunc("rnn_seq_forward", dt)(ptr(out), ptr(cache["hprev"]), ptr(h_n), ptr(x), ptr(h0), ptr(w),
                                     lp, T, B, H, rev, relu)
        _cell_rc(where, rc)
        return out, h_n, cache
    if kind == "lstm":
        rc = cfunc("lstm_seq_forward", dt)(ptr(out), *(ptr(cache[n]) for n, _ in _SEQ_CACHE[kind]),
                                      ptr(h_n), ptr(c_n), ptr(x), ptr(h0), ptr(c0), ptr(w), lp, T, B, H, rev)
        _cell_rc(where, rc)
        return out, h_n, c_n, cache
    rc = cfunc("gru_seq_forward", dt)(ptr(out), *(ptr(cache[n]) for n, _ in _SEQ_CACHE[kind]),
                                 ptr(h_n), ptr(x), ptr(h0), ptr(w), _nullable(bhn), lp, T, B, H, rev)
    _cell_rc(where, rc)
    return out, h_n, cache


def _seq_backward(kind, dout, dh_n, dc_n, cache, w_hh, lengths, reverse, relu=0):
    where = f"{kind}_seq_backward"
    if not isinstance(cache, dict) or any(n not in cache for n, _ in _SEQ_CACHE[kind]):
        raise TypeError(f"{where}: cache must be the dict returned by {kind}_seq_forward "
                        f"(keys {[n for n, _ in _SEQ_CACHE[kind]]})")
    _check_call(where, [("w_hh", w_hh, f"{_CELL_GATES[kind]}H H")]
                + [(f"cache[{n!r}]", cache[n], f"T B {k}H") for n, k in _SEQ_CACHE[kind]]
                + [("dout", dout, "T B H", True), ("dh_n", dh_n, "B H", True), ("dc_n", dc_n, "B H", True)],
                lengths=lengths, steps="T", flags=[("reverse", reverse)])
    # The state cache hprev (T,B,H) fixes T and B here (there is no gx in backward).
    w, hdim = _cell_weight(where, kind, w_hh)
    hprev = as_float_array(cache["hprev"], f"{where}: cache['hprev']", w.dtype)
    if hprev.ndim != 3 or hprev.shape[2] != hdim:
        raise ValueError(f"{where}: cache['hprev'] has shape {hprev.shape}, expected (T, B, {hdim})")
    T, B, H = hprev.shape
    dt = w.dtype
    L, lp = _cell_lengths(where, lengths, B, T)
    c = dict(zip([n for n, _ in _SEQ_CACHE[kind]], _cell_arrays(
        where, dt, [(f"cache[{n!r}]", cache[n], (T, B, k * H)) for n, k in _SEQ_CACHE[kind]])))
    do, dhn, dcn = _cell_arrays(where, dt, [("dout", dout, (T, B, H), True), ("dh_n", dh_n, (B, H), True),
                                            ("dc_n", dc_n, (B, H), True)])
    G = _CELL_GATES[kind]
    dg, dh0, dc0 = np.empty((T, B, G * H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
    rev = int(bool(reverse))
    if kind == "rnn":
        rc = cfunc("rnn_seq_backward", dt)(ptr(dg), ptr(dh0), _nullable(do), _nullable(dhn), ptr(c["out"]),
                                           ptr(w), lp, T, B, H, rev, relu)
        res = (dg, dh0)
    elif kind == "lstm":
        rc = cfunc("lstm_seq_backward", dt)(ptr(dg), ptr(dh0), ptr(dc0), _nullable(do), _nullable(dhn),
                                            _nullable(dcn), ptr(c["gates"]), ptr(c["tanh_c"]), ptr(c["cprev"]),
                                            ptr(w), lp, T, B, H, rev)
        res = (dg, dh0, dc0)
    else:
        dgh = np.empty((T, B, G * H), dt)
        rc = cfunc("gru_seq_backward", dt)(ptr(dg), ptr(dgh), ptr(dh0), _nullable(do), _nullable(dhn),
                                           ptr(c["gates"]), ptr(c["hn"]), ptr(c["hprev"]), ptr(w),
                                           lp, T, B, H, rev)
        res = (dg, dgh, dh0)
    if rc != 0:
        raise MemoryError(f"{where}: could not allocate the (4, {B}, {H}) workspace")
    return res


def rnn_seq_forward(gx, h0, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Elman RNN over a whole sequence: gx (T,B,H), h0 (B,H), w_hh (H,H).

    Returns (out (T,B,H) with zeros at padded steps, h_n (B,H), cache) where cache holds
    'hprev' (T,B,H), the state entering each step, and 'out'.
    """
    return _seq_forward("rnn", gx, h0, None, w_hh, None, lengths, reverse, _relu_flag(nonlinearity))


def rnn_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Backward of rnn_seq_forward; dout (T,B,H) and dh_n (B,H) may be None (zeros).

    Returns (dgates (T,B,H) = grads of the pre-activations, dh0 (B,H)).
    """
    return _seq_backward("rnn", dout, dh_n, None, cache, w_hh, lengths, reverse, _relu_flag(nonlinearity))


def lstm_seq_forward(gx, h0, c0, w_hh, lengths=None, reverse=False, overwrite_gx=False):
    """LSTM over a whole sequence: gx (T,B,4H), h0, c0 (B,H), w_hh (4H,H).

    Returns (out (T,B,H), h_n, c_n, cache) with cache 'hprev', 'cprev', 'gates' (T,B,4H), 'tanh_c'.
    ``overwrite_gx=True`` stores the gates in gx itself (cache['gates'] is gx): one (T,B,4H)
    buffer less, and gx's input values are gone afterwards.
    """
    return _seq_forward("lstm", gx, h0, c0, w_hh, None, lengths, reverse, overwrite_gx=overwrite_gx)


def lstm_seq_backward(dout, dh_n, dc_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of lstm_seq_forward; dout, dh_n, dc_n may be None. Returns (dgates (T,B,4H), dh0, dc0)."""
    return _seq_backward("lstm", dout, dh_n, dc_n, cache, w_hh, lengths, reverse)


def gru_seq_forward(gx, h0, w_hh, b_hn=None, lengths=None, reverse=False):
    """GRU over a whole sequence: gx (T,B,3H) (b_hn not folded in), h0 (B,H), w_hh (3H,H), b_hn (H,).

    Returns (out (T,B,H), h_n, cache) with cache 'hprev', 'gates' (T,B,3H), 'hn'.
    """
    return _seq_forward("gru", gx, h0, None, w_hh, b_hn, lengths, reverse)


def gru_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of gru_seq_forward; returns (dgx (T,B,3H), dgh (T,B,3H), dh0 (B,H))."""
    return _seq_backward("gru", dout, dh_n, None, cache, w_hh, lengths, reverse)
