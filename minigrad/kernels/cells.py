"""Bindings of the recurrent cell kernels (csrc/rnn_cells.h): single steps forward and backward,
step plans, and the whole-sequence drivers."""
import numpy as np

from .common import as_float_array, cfunc, check_out, ffi, lib, ptr


# ----------------------------------------------------------------------------- recurrent cells
# Fused RNN / LSTM / GRU kernels of csrc/rnn_cells.h (read its header comment for the maths and
# the variable-length rules). Legend: T time, B batch, H hidden, G gates (rnn 1, lstm 4, gru 3).
# The layer computes gx = X @ W_ih^T + biases for all steps as one GEMM; these kernels do the
# recurrent part. Step kernels: one time step, caches returned for backward; step backward
# WRITES the gate gradients and ACCUMULATES into dh_prev/dc_prev (zeros unless given). Sequence
# drivers: the whole time loop of one direction in C; they return the caches as a dict.
CELL_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
# CELL_GATES: gate blocks per C kernel family (the mg_rnn_* / mg_lstm_* / mg_gru_* symbols; the
# cell registry, minigrad/nn/cell_registry.py, maps each cell kind to its family as spec.c_cell).
# SEQ_CACHE: per family, the (T,B,.) caches the sequence forward returns: name -> width in units of H.
SEQ_CACHE = {"rnn": (("hprev", 1), ("out", 1)),
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
    """Validate w_hh (G*H, H) without copying it; returns (w_hh as given, H).

    The callers make it C-contiguous (``np.ascontiguousarray``) only after every other check, so
    a bad call never copies a large strided w_hh (e.g. a broadcast view) before raising.
    """
    g = CELL_GATES[kind]
    # as_float_array's type and dtype checks, run on an empty view: nothing is copied
    as_float_array(w_hh[:0] if isinstance(w_hh, np.ndarray) and w_hh.ndim else w_hh, f"{where}: w_hh")
    if w_hh.ndim != 2 or w_hh.shape[0] != g * w_hh.shape[1]:
        raise ValueError(f"{where}: w_hh must have shape ({g}*H, H), got {w_hh.shape}")
    return w_hh, w_hh.shape[1]


def _cell_arrays(where, dtype, items):
    """Validate (name, array, shape[, optional]) items: ndarray, `dtype`, exact shape.

    Returns the C-contiguous arrays (None for an omitted optional one).
    """
    out = []
    for name, x, shape, *opt in items:
        if x is None and opt and opt[0]:
            out.append(None)
            continue
        if isinstance(x, np.ndarray) and x.shape != tuple(shape):      # before as_float_array copies
            raise ValueError(f"{where}: {name} has shape {x.shape}, expected {tuple(shape)}")
        out.append(as_float_array(x, f"{where}: {name}", dtype))
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
    L = np.ascontiguousarray(lengths, dtype=np.int64)
    hi = np.iinfo(np.int64).max if steps is None else steps
    if batch and (lengths.min() < 0 or lengths.max() > hi):
        raise ValueError(f"{where}: lengths must lie in [0, {'T' if steps is None else steps}], "
                         f"got min {lengths.min()} max {lengths.max()}")
    return L, ffi.cast("int64_t *", ffi.from_buffer(L))


def _cell_step_index(where, t):
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError(f"{where}: t must be an int, got {type(t).__name__}")
    if t < 0:
        raise ValueError(f"{where}: t must be >= 0, got {t}")
    return int(t)


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


def _cell_no_alias(where, outputs, inputs):
    for o in outputs:
        for i in inputs:
            if o is not None and i is not None and np.may_share_memory(o, i):
                raise ValueError(f"{where}: output buffers must not overlap the inputs")


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
        if kind not in CELL_GATES:
            raise ValueError(f"{where}: kind must be one of {sorted(CELL_GATES)}, got {kind!r}")
        w, H = _cell_weight(where, kind, w_hh)
        w = np.ascontiguousarray(w)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1 or H < 1:
            raise ValueError(f"{where}: needs batch >= 1 and H >= 1, got batch={batch!r}, H={H}")
        handle = cfunc("rnn_plan_new", w.dtype)(ptr(w), int(batch), H, CELL_GATES[kind], int(bool(backward)))
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


def _step_kernel(where, stem, kind, w, batch, reference, plan):
    """(C kernel, its weight argument) for one step: the kernel that packs w_hh itself, or, given
    a StepPlan, its *_planned form with the plan where w_hh goes (same argument positions)."""
    if plan is None:
        w = np.ascontiguousarray(w)      # after every check (see _cell_weight); kept alive by the caller
        return _step_fn(stem, w.dtype, reference), ptr(w), w
    if not isinstance(plan, StepPlan):
        raise TypeError(f"{where}: plan must be a kernels.StepPlan, got {type(plan).__name__}")
    if reference:
        raise ValueError(f"{where}: the naive reference kernels take no plan")
    plan.check(where, kind, w, batch, stem.endswith("backward"))
    return cfunc(stem + "_planned", w.dtype), plan.handle, w


def _step_setup(where, kind, state, w_hh, lengths, t, name="h_prev"):
    """Common checks of a step kernel. ``state`` is a (B,H) array fixing B: returns
    (w_hh, state, B, H, dtype, lengths, lptr, t)."""
    w, hdim = _cell_weight(where, kind, w_hh)
    if isinstance(state, np.ndarray) and (state.ndim != 2 or state.shape[1] != hdim):
        raise ValueError(f"{where}: {name} has shape {state.shape}, expected (B, {hdim}) "
                         f"to match w_hh {w.shape}")
    hp = as_float_array(state, f"{where}: {name}", w.dtype)
    L, lptr = _cell_lengths(where, lengths, hp.shape[0])
    return w, hp, hp.shape[0], hdim, w.dtype, L, lptr, _cell_step_index(where, t)


def rnn_step_forward(gx_t, h_prev, w_hh, lengths=None, t=0, nonlinearity="tanh", out=None,
                     reference=False, plan=None):
    """One Elman step: ``h = act(gx_t + h_prev @ w_hh.T)``; returns h (B,H) (also its own cache)."""
    where = "rnn_step_forward"
    relu = _relu_flag(nonlinearity)
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "rnn", h_prev, w_hh, lengths, t)
    (gx,) = _cell_arrays(where, dt, [("gx_t", gx_t, (B, H))])
    h = _cell_out(where, dt, out, "h", (B, H))
    _cell_no_alias(where, [h], [gx, hp, w])
    fn, wp, w = _step_kernel(where, "rnn_forward", "rnn", w, B, reference, plan)
    rc = fn(ptr(h), ptr(gx), ptr(hp), wp, lp, t, B, H, relu)
    _cell_rc(where, rc)
    return h


def rnn_step_backward(dh, h, w_hh, lengths=None, t=0, nonlinearity="tanh", dgates=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one Elman step: returns (dgates (B,H), dh_prev (B,H) accumulated into)."""
    where = "rnn_step_backward"
    relu = _relu_flag(nonlinearity)
    w, hh, B, H, dt, L, lp, t = _step_setup(where, "rnn", h, w_hh, lengths, t, "h")
    (dhh,) = _cell_arrays(where, dt, [("dh", dh, (B, H))])
    dg = _cell_out(where, dt, dgates, "dgates", (B, H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    _cell_no_alias(where, [dg, dhp], [dhh, hh, w])
    _cell_no_alias(where, [dg], [dhp])
    fn, wp, w = _step_kernel(where, "rnn_backward", "rnn", w, B, reference, plan)
    rc = fn(ptr(dg), ptr(dhp), ptr(dhh), ptr(hh), wp, lp, t, B, H, relu)
    _cell_rc(where, rc)
    return dg, dhp


def lstm_step_forward(gx_t, h_prev, c_prev, w_hh, lengths=None, t=0, out=None, reference=False, plan=None):
    """One LSTM step; returns (h, c, gates (B,4H) post-activation i,f,g,o, tanh_c).

    ``out``: optional tuple of 4 buffers in that order (e.g. slices of (T,B,.) caches).
    """
    where = "lstm_step_forward"
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "lstm", h_prev, w_hh, lengths, t)
    gx, cp = _cell_arrays(where, dt, [("gx_t", gx_t, (B, 4 * H)), ("c_prev", c_prev, (B, H))])
    outs = _cell_outputs(where, dt, out, [("h", (B, H)), ("c", (B, H)), ("gates", (B, 4 * H)),
                                          ("tanh_c", (B, H))])
    _cell_no_alias(where, outs, [gx, hp, cp, w])
    fn, wp, w = _step_kernel(where, "lstm_forward", "lstm", w, B, reference, plan)
    rc = fn(*map(ptr, outs), ptr(gx), ptr(hp), ptr(cp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return tuple(outs)


def lstm_step_backward(dh, dc, gates, tanh_c, c_prev, w_hh, lengths=None, t=0,
                       dgates=None, dh_prev=None, dc_prev=None, reference=False, plan=None):
    """Backward of one LSTM step (dc may be None); returns (dgates (B,4H), dh_prev, dc_prev)."""
    where = "lstm_step_backward"
    w, dhh, B, H, dt, L, lp, t = _step_setup(where, "lstm", dh, w_hh, lengths, t, "dh")
    dcc, g, tc, cp = _cell_arrays(where, dt, [("dc", dc, (B, H), True), ("gates", gates, (B, 4 * H)),
                                              ("tanh_c", tanh_c, (B, H)), ("c_prev", c_prev, (B, H))])
    dg = _cell_out(where, dt, dgates, "dgates", (B, 4 * H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    dcp = _cell_out(where, dt, dc_prev, "dc_prev", (B, H), zero=True)
    _cell_no_alias(where, [dg, dhp, dcp], [dhh, dcc, g, tc, cp, w])
    _cell_no_alias(where, [dg], [dhp, dcp])
    fn, wp, w = _step_kernel(where, "lstm_backward", "lstm", w, B, reference, plan)
    rc = fn(ptr(dg), ptr(dhp), ptr(dcp), ptr(dhh), _nullable(dcc), ptr(g), ptr(tc), ptr(cp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return dg, dhp, dcp


def gru_step_forward(gx_t, h_prev, w_hh, b_hn=None, lengths=None, t=0, out=None, reference=False, plan=None):
    """One GRU step; returns (h, gates (B,3H) post-activation r,z,n, hn = h_prev @ W_hn^T + b_hn)."""
    where = "gru_step_forward"
    w, hp, B, H, dt, L, lp, t = _step_setup(where, "gru", h_prev, w_hh, lengths, t)
    gx, bhn = _cell_arrays(where, dt, [("gx_t", gx_t, (B, 3 * H)), ("b_hn", b_hn, (H,), True)])
    outs = _cell_outputs(where, dt, out, [("h", (B, H)), ("gates", (B, 3 * H)), ("hn", (B, H))])
    _cell_no_alias(where, outs, [gx, hp, w, bhn])
    fn, wp, w = _step_kernel(where, "gru_forward", "gru", w, B, reference, plan)
    rc = fn(*map(ptr, outs), ptr(gx), ptr(hp), wp, _nullable(bhn), lp, t, B, H)
    _cell_rc(where, rc)
    return tuple(outs)


def gru_step_backward(dh, gates, hn, h_prev, w_hh, lengths=None, t=0, dgx=None, dgh=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one GRU step; returns (dgx (B,3H), dgh (B,3H), dh_prev (B,H) accumulated into).

    dgx: grads of the input-side pre-activations (gx); dgh: of h_prev @ W_hh^T + b_hh.
    """
    where = "gru_step_backward"
    w, dhh, B, H, dt, L, lp, t = _step_setup(where, "gru", dh, w_hh, lengths, t, "dh")
    g, hnn, hp = _cell_arrays(where, dt, [("gates", gates, (B, 3 * H)), ("hn", hn, (B, H)),
                                          ("h_prev", h_prev, (B, H))])
    dx = _cell_out(where, dt, dgx, "dgx", (B, 3 * H))
    dg = _cell_out(where, dt, dgh, "dgh", (B, 3 * H))
    dhp = _cell_out(where, dt, dh_prev, "dh_prev", (B, H), zero=True)
    _cell_no_alias(where, [dx, dg, dhp], [dhh, g, hnn, hp, w])
    _cell_no_alias(where, [dx], [dg, dhp])
    _cell_no_alias(where, [dg], [dhp])
    fn, wp, w = _step_kernel(where, "gru_backward", "gru", w, B, reference, plan)
    rc = fn(ptr(dx), ptr(dg), ptr(dhp), ptr(dhh), ptr(g), ptr(hnn), ptr(hp), wp, lp, t, B, H)
    _cell_rc(where, rc)
    return dx, dg, dhp


def _seq_forward_setup(kind, gx, h0, c0, w_hh, b_hn, lengths, reverse, overwrite_gx=False):
    """Checks and buffers of a sequence forward (every shape checked before any copy).

    Returns (where, C-contiguous w_hh, gx, T, B, H, dtype, lengths pointer, h0, c0, b_hn,
    out, h_n, c_n, cache); the per-kind functions below make the C call.
    """
    where = f"{kind}_seq_forward"
    w, H = _cell_weight(where, kind, w_hh)
    if isinstance(gx, np.ndarray) and (gx.ndim != 3 or gx.shape[2] != w.shape[0]):
        raise ValueError(f"{where}: gx has shape {gx.shape}, expected (T, B, {w.shape[0]}) "
                         f"to match w_hh {w.shape}")
    as_float_array(gx[:0] if isinstance(gx, np.ndarray) else gx, f"{where}: gx", w.dtype)   # type, dtype
    T, B, dt = gx.shape[0], gx.shape[1], w.dtype
    L, lp = _cell_lengths(where, lengths, B, T)
    h0, c0, bhn = _cell_arrays(where, dt, [("h0", h0, (B, H)), ("c0", c0, (B, H), "cprev" not in dict(SEQ_CACHE[kind])),
                                           ("b_hn", b_hn, (H,), True)])
    x = as_float_array(gx, f"{where}: gx", dt)
    if overwrite_gx and (x is not gx or not x.flags.writeable):
        raise ValueError(f"{where}: overwrite_gx needs gx to be a writeable C-contiguous {dt} array")
    w = np.ascontiguousarray(w)                 # after every check (see _cell_weight)
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
    given = {"out": out, "hprev": hprev, "gates": x if overwrite_gx else None}
    cache = {name: given[name] if given.get(name) is not None else np.empty((T, B, k * H), dt)
             for name, k in SEQ_CACHE[kind]}
    return where, w, x, T, B, H, dt, lp, h0, c0, bhn, out, h_n, c_n, cache


def _seq_backward_setup(kind, dout, dh_n, dc_n, cache, w_hh, lengths):
    """Checks and buffers of a sequence backward. The state cache hprev (T, B, H) fixes T and B
    (there is no gx in backward). Returns (where, w_hh, T, B, H, dtype, lengths pointer, cache
    arrays dict, dout, dh_n, dc_n, dgates (T, B, G*H))."""
    where = f"{kind}_seq_backward"
    names = [n for n, _ in SEQ_CACHE[kind]]
    if not isinstance(cache, dict) or any(n not in cache for n in names):
        raise TypeError(f"{where}: cache must be the dict returned by {kind}_seq_forward (keys {names})")
    w, hdim = _cell_weight(where, kind, w_hh)
    hprev = cache["hprev"]
    if isinstance(hprev, np.ndarray) and (hprev.ndim != 3 or hprev.shape[2] != hdim):
        raise ValueError(f"{where}: cache['hprev'] has shape {hprev.shape}, expected (T, B, {hdim})")
    as_float_array(hprev[:0] if isinstance(hprev, np.ndarray) else hprev, f"{where}: cache['hprev']", w.dtype)
    T, B, H = hprev.shape
    dt = w.dtype
    L, lp = _cell_lengths(where, lengths, B, T)
    c = dict(zip(names, _cell_arrays(where, dt, [(f"cache[{n!r}]", cache[n], (T, B, k * H))
                                                 for n, k in SEQ_CACHE[kind]])))
    do, dhn, dcn = _cell_arrays(where, dt, [("dout", dout, (T, B, H), True), ("dh_n", dh_n, (B, H), True),
                                            ("dc_n", dc_n, (B, H), True)])
    w = np.ascontiguousarray(w)
    return where, w, T, B, H, dt, lp, c, do, dhn, dcn, np.empty((T, B, CELL_GATES[kind] * H), dt)


def _seq_rc(where, rc, B, H):
    if rc != 0:
        raise MemoryError(f"{where}: could not allocate the (4, {B}, {H}) workspace")


def rnn_seq_forward(gx, h0, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Elman RNN over a whole sequence: gx (T,B,H), h0 (B,H), w_hh (H,H).

    Returns (out (T,B,H) with zeros at padded steps, h_n (B,H), cache) where cache holds
    'hprev' (T,B,H), the state entering each step, and 'out'.
    """
    relu = _relu_flag(nonlinearity)
    where, w, x, T, B, H, dt, lp, h0, _, _, out, h_n, _, cache = _seq_forward_setup("rnn", gx, h0, None, w_hh,
                                                                                    None, lengths, reverse)
    rc = cfunc("rnn_seq_forward", dt)(ptr(out), ptr(cache["hprev"]), ptr(h_n), ptr(x), ptr(h0), ptr(w),
                                      lp, T, B, H, int(bool(reverse)), relu)
    _cell_rc(where, rc)
    return out, h_n, cache


def rnn_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Backward of rnn_seq_forward; dout (T,B,H) and dh_n (B,H) may be None (zeros).

    Returns (dgates (T,B,H) = grads of the pre-activations, dh0 (B,H)).
    """
    relu = _relu_flag(nonlinearity)
    where, w, T, B, H, dt, lp, c, do, dhn, _, dg = _seq_backward_setup("rnn", dout, dh_n, None, cache, w_hh,
                                                                       lengths)
    dh0 = np.empty((B, H), dt)
    rc = cfunc("rnn_seq_backward", dt)(ptr(dg), ptr(dh0), _nullable(do), _nullable(dhn), ptr(c["out"]),
                                       ptr(w), lp, T, B, H, int(bool(reverse)), relu)
    _seq_rc(where, rc, B, H)
    return dg, dh0


def lstm_seq_forward(gx, h0, c0, w_hh, lengths=None, reverse=False, overwrite_gx=False):
    """LSTM over a whole sequence: gx (T,B,4H), h0, c0 (B,H), w_hh (4H,H).

    Returns (out (T,B,H), h_n, c_n, cache) with cache 'hprev', 'cprev', 'gates' (T,B,4H), 'tanh_c'.
    ``overwrite_gx=True`` stores the gates in gx itself (cache['gates'] is gx): one (T,B,4H)
    buffer less, and gx's input values are gone afterwards.
    """
    where, w, x, T, B, H, dt, lp, h0, c0, _, out, h_n, c_n, cache = _seq_forward_setup(
        "lstm", gx, h0, c0, w_hh, None, lengths, reverse, overwrite_gx)
    rc = cfunc("lstm_seq_forward", dt)(ptr(out), *(ptr(cache[n]) for n, _ in SEQ_CACHE["lstm"]),
                                       ptr(h_n), ptr(c_n), ptr(x), ptr(h0), ptr(c0), ptr(w), lp, T, B, H,
                                       int(bool(reverse)))
    _cell_rc(where, rc)
    return out, h_n, c_n, cache


def lstm_seq_backward(dout, dh_n, dc_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of lstm_seq_forward; dout, dh_n, dc_n may be None. Returns (dgates (T,B,4H), dh0, dc0)."""
    where, w, T, B, H, dt, lp, c, do, dhn, dcn, dg = _seq_backward_setup("lstm", dout, dh_n, dc_n, cache, w_hh,
                                                                         lengths)
    dh0, dc0 = np.empty((B, H), dt), np.empty((B, H), dt)
    rc = cfunc("lstm_seq_backward", dt)(ptr(dg), ptr(dh0), ptr(dc0), _nullable(do), _nullable(dhn),
                                        _nullable(dcn), ptr(c["gates"]), ptr(c["tanh_c"]), ptr(c["cprev"]),
                                        ptr(w), lp, T, B, H, int(bool(reverse)))
    _seq_rc(where, rc, B, H)
    return dg, dh0, dc0


def gru_seq_forward(gx, h0, w_hh, b_hn=None, lengths=None, reverse=False):
    """GRU over a whole sequence: gx (T,B,3H) (b_hn not folded in), h0 (B,H), w_hh (3H,H), b_hn (H,).

    Returns (out (T,B,H), h_n, cache) with cache 'hprev', 'gates' (T,B,3H), 'hn'.
    """
    where, w, x, T, B, H, dt, lp, h0, _, bhn, out, h_n, _, cache = _seq_forward_setup(
        "gru", gx, h0, None, w_hh, b_hn, lengths, reverse)
    rc = cfunc("gru_seq_forward", dt)(ptr(out), *(ptr(cache[n]) for n, _ in SEQ_CACHE["gru"]),
                                      ptr(h_n), ptr(x), ptr(h0), ptr(w), _nullable(bhn), lp, T, B, H,
                                      int(bool(reverse)))
    _cell_rc(where, rc)
    return out, h_n, cache


def gru_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of gru_seq_forward; returns (dgx (T,B,3H), dgh (T,B,3H), dh0 (B,H)).

    dgx: gradients of the input-side pre-activations gx; dgh: of h_prev @ W_hh^T + b_hh (they
    differ in the n block, which r scales).
    """
    where, w, T, B, H, dt, lp, c, do, dhn, _, dg = _seq_backward_setup("gru", dout, dh_n, None, cache, w_hh,
                                                                       lengths)
    dgh, dh0 = np.empty((T, B, 3 * H), dt), np.empty((B, H), dt)
    rc = cfunc("gru_seq_backward", dt)(ptr(dg), ptr(dgh), ptr(dh0), _nullable(do), _nullable(dhn),
                                       ptr(c["gates"]), ptr(c["hn"]), ptr(c["hprev"]), ptr(w),
                                       lp, T, B, H, int(bool(reverse)))
    _seq_rc(where, rc, B, H)
    return dg, dgh, dh0
