"""Bindings of the recurrent cell kernels (csrc/rnn_cells.h): single steps forward and backward,
step plans, and the whole-sequence drivers -- one binding for every cell kind.

Nothing here is written per kind: :func:`step_forward`, :func:`step_backward`,
:func:`seq_forward`, :func:`seq_backward`, :class:`BoundStep` and :class:`BoundSequence` take the
kind's ``CellSpec``
(minigrad/nn/cell_registry.py), whose rows (gates, states, caches, what backward reads, flags)
say which arrays go where in the C call; the C argument order every family follows is spelled
out above each of them. ``rnn_step_forward``, ``lstm_seq_backward``, ... are the named entry
points of the three built-in kinds, one call each; a new kind needs none.

Every public entry point first calls ``_check_call`` on the caller's arrays (types, dtypes,
shapes, outputs, overlaps, lengths, t, plan, flags), before any copy or allocation; each check
runs once per call, there. The layers' own passes check once per pass instead (:func:`check_pass`)
and then call the bound forms, :class:`BoundStep` (one step kernel, per time step) and
:class:`BoundSequence` (the whole-sequence kernels), which check nothing. Aliasing: no kernel here runs in place -- caller-supplied outputs (``out=``,
``dgates=``, ``dh_prev=``, ...) may share memory with no input and no other output; the one
exception is ``lstm_seq_forward(..., overwrite_gx=True)``, which writes the gates into ``gx``
itself (exactly that array)."""
import numpy as np

from .common import cfunc, check_arrays, check_flag, check_int, contiguous, ffi, lib, ptr


# ----------------------------------------------------------------------------- recurrent cells
# Fused cell kernels of csrc/rnn_cells.h (read its header comment for the maths and the
# variable-length rules). Legend: T time, B batch, H hidden, G gates (the spec's ``gates``).
# The layer computes gx = X @ W_ih^T + biases for all steps as one GEMM; these kernels do the
# recurrent part. Step kernels: one time step, caches returned for backward; step backward
# WRITES the gate gradients and ACCUMULATES into dh_prev/dc_prev (zeros unless given). Sequence
# drivers: the whole time loop of one direction in C; they return the caches as a dict.
from ..dtypes import INT64_MAX as _INT64_MAX   # lengths and t are int64 in C


_FAMILIES = {}    # C family -> its CellSpec (the rows), filled on first use


def _cell(c_cell):
    """The rows of the C family ``c_cell`` ('rnn', 'lstm', 'gru'): the first CellSpec using it.
    The rows live with each kind in the cell registry (minigrad/nn/cell_registry.py), which is
    imported here on first use because minigrad.nn itself imports this package."""
    cell = _FAMILIES.get(c_cell)
    if cell is None:
        from ..nn.cell_registry import family
        cell = _FAMILIES[c_cell] = family(c_cell)
    return cell


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


def _cell_lengths(where, lengths, batch, steps=None):
    """Check ``lengths``: a (B,) integer ndarray, values in [0, T] (``steps``; any >= 0 if None)."""
    if lengths is None:
        return
    if not isinstance(lengths, np.ndarray) or lengths.dtype.kind not in "iu":
        raise TypeError(f"{where}: lengths must be an integer numpy.ndarray, got "
                        f"{getattr(lengths, 'dtype', type(lengths).__name__)}")
    if lengths.shape != (batch,):
        raise ValueError(f"{where}: lengths has shape {lengths.shape}, expected ({batch},)")
    hi = _INT64_MAX if steps is None else steps
    if batch and (lengths.min() < 0 or lengths.max() > hi):
        raise ValueError(f"{where}: lengths must lie in [0, {'T' if steps is None else steps}], "
                         f"got min {lengths.min()} max {lengths.max()}")


def _lengths_arg(lengths):
    """The (checked) lengths as the kernels' ``const int64_t *``: NULL, or a typed view of a
    C-contiguous aligned int64 array (copied if not one) that keeps that array alive."""
    if lengths is None:
        return ffi.NULL
    return ffi.from_buffer("int64_t[]", np.require(lengths, np.int64, "CA"))


def _cell_step_index(where, t):
    if type(t) is int and 0 <= t <= _INT64_MAX:
        return t                      # the common case, before the message is formatted
    return check_int(t, f"{where}: t", lo=0)


_NO_T = object()   # _check_call without a step index (sequence kernels, plans)


def _check_call(where, inputs, outputs=(), lengths=None, t=_NO_T, steps=None, inplace=(),
                plan=None, stem=None, reference=False, flags=()):
    """Every check of one kernel call, on the caller's arrays, before any copy or allocation:
    shapes and dtypes (``common.check_arrays``: patterns such as 'B 4H', w_hh first), output
    buffers (no overlap with each other or the inputs, except ``inplace`` pairs), lengths (in
    [0, dims[steps]] when ``steps`` names a symbol), the step index t (if given), the plan (for
    the step kernel ``stem``) and the bools ``reference`` and ``flags`` ((name, value) pairs).
    Returns the dims bound, e.g. {'H': 5, 'B': 3}; the callers only convert after it (``_inputs``,
    ``_lengths_arg``, allocation), checking nothing again.

    Aliasing: no step kernel runs in place. Every output must be free of every input and of the
    other outputs (the kernels read h_prev, c_prev, gates ... while writing); the sequence
    kernels' only in-place use is lstm_seq_forward's ``overwrite_gx`` (the ``inplace`` pair)."""
    if reference is not False:        # (messages are formatted only off the common path)
        check_flag(reference, f"{where}: reference")
    for name, value in flags:
        check_flag(value, f"{where}: {name}")
    dims, _ = check_arrays(where, inputs, outputs, inplace)
    if lengths is not None:
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


def _inputs(*arrays):
    """The checked input arrays C-contiguous and aligned (copied only when not); None stays."""
    return [None if a is None else contiguous(a) for a in arrays]


def _out(a, shape, dtype, zero=False):
    """A checked output buffer as given, or a new one (np.zeros if ``zero``, else np.empty)."""
    if a is not None:
        return a
    return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)


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
        from ..nn.cell_registry import families
        if not isinstance(kind, str) or kind not in families():
            raise ValueError(f"{where}: kind must be one of {families()}, got {kind!r}")
        G = _cell(kind).gates
        H = _check_call(where, [("w_hh", w_hh, f"{G}H H")], flags=[("backward", backward)])["H"]
        if not (w_hh.flags.c_contiguous and w_hh.flags.aligned):   # the plan is tied to this array
            raise ValueError(f"{where}: w_hh {w_hh.shape} must be C-contiguous and aligned (the plan "
                             "serves steps given this very array)")
        batch = check_int(batch, f"{where}: batch")
        if batch < 1 or H < 1:   # zero-size steps need no plan
            raise ValueError(f"{where}: needs batch >= 1 and H >= 1, got batch={batch}, H={H}")
        w = w_hh
        handle = cfunc("rnn_plan_new", w.dtype)(ptr(w), batch, H, G, int(bool(backward)))
        if handle == ffi.NULL:
            raise MemoryError(f"{where}: could not allocate the packed W_hh ({w.shape}, {w.dtype})")
        self.handle = ffi.gc(handle, lib.mg_rnn_plan_delete)
        self.kind, self.batch, self.backward, self.w_hh = kind, batch, bool(backward), w
        self.kernels = {}     # kernel stem -> its *_planned C function (filled by _step_kernel)

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


def _step_kernel(stem, w, reference, plan):
    """(C kernel, its weight argument, w_hh kept alive) for one checked step (``_check_call``
    checked the plan): the kernel that packs w_hh itself, or, given a StepPlan, its *_planned
    form with the plan where w_hh goes (same argument positions)."""
    if plan is None:
        w = contiguous(w)      # after every check; kept alive by the caller
        return _step_fn(stem, w.dtype, reference), ptr(w), w
    fn = plan.kernels.get(stem)            # looked up once per plan, not at every time step
    if fn is None:
        fn = plan.kernels[stem] = cfunc(stem + "_planned", w.dtype)
    return fn, plan.handle, w


_FROM = {np.dtype(np.float32): "float[]", np.dtype(np.float64): "double[]"}


class BoundStep:
    """One step kernel (``mg_<stem>``, e.g. stem 'lstm_forward') bound to everything that stays
    fixed over one pass -- its StepPlan (W_hh packed once), lengths, the parameters after W_hh
    (the GRU forward's b_hn) and the trailing flags (the Elman RNN's relu) -- for the unrolled
    layer's own per-step calls: ``step(arrays, t)`` calls C with no checks at all.

    ``arrays`` are the kernel's array arguments in C order (outputs, then the inputs before W_hh;
    None for an optional one such as the LSTM's dc). They must be what :func:`check_pass`
    checked or arrays of those shapes and dtype the pass made itself (slices of gx, states the
    previous step wrote, C-contiguous gradient buffers): that check, once per pass, is what makes
    the per-step call safe. Anything else goes through the public step functions, which check
    every call. ``plan`` None (B or H is 0: nothing to pack) binds the kernel that takes W_hh
    itself (``w_hh``)."""

    __slots__ = ("fn", "head", "lengths", "sizes", "ctype", "where", "_keep")

    def __init__(self, stem, w_hh, batch, plan=None, lengths=None, post=(), flags=()):
        self.ctype, self.where = _FROM[w_hh.dtype], f"{stem} step"
        self.fn, head, w = _step_kernel(stem, w_hh, False, plan)
        # the C arguments around the per-step arrays: (W_hh or plan, post...) and (B, H, flags...)
        post = _inputs(*post)                # (checked by check_pass; copied only if strided)
        self.head = (head,) + tuple(_nullable(a) for a in post)
        self.lengths = _lengths_arg(lengths)
        self.sizes = (batch, w_hh.shape[1]) + tuple(flags)
        self._keep = (w, plan, post)        # everything the pointers in head point into

    def __call__(self, arrays, t):
        fb, ct, null = ffi.from_buffer, self.ctype, ffi.NULL
        rc = self.fn(*[null if a is None else fb(ct, a, require_writable=False) for a in arrays],
                     *self.head, self.lengths, t, *self.sizes)
        if rc:          # the unplanned kernels return -1 when their scratch cannot be allocated
            _cell_rc(self.where, rc)


# ----------------------------------------------------------------------------- single steps
# One binding for every cell kind, driven by the kind's rows in its CellSpec (``cell``): besides
# the rows the sequence drivers read (below), ``step_caches`` ((name, k) of the (B, k*H) caches a
# step forward writes after the new states) and ``step_saved`` (what its backward reads, by name:
# a new state 'h'/'c', a previous state 'h_prev'/'c_prev', or a cache). The C argument order of
# every family (csrc/rnn_cells.h):
#   forward:  <new states>, <caches>, gx_t, <previous states>, W_hh or plan, [b_hn], lengths, t, B,
#             H, <flags>
#   backward: dgx, [dgh], <previous-state grads (accumulated)>, <new-state grads: dh, then dc or
#             NULL>, <the saved arrays>, W_hh or plan, lengths, t, B, H, <flags>
def step_grad_names(cell):
    """The gate-gradient outputs of ``cell``'s step backward: ('dgates',), or ('dgx', 'dgh') when
    the hidden-side gradient differs (the GRU)."""
    return ("dgx", "dgh") if cell.separate_hidden_grad else ("dgates",)


def step_forward(cell, gx_t, states, w_hh, b_hn=None, lengths=None, t=0, flags=(), out=None,
                 reference=False, plan=None):
    """One step of the cell kind ``cell`` (a CellSpec): gx_t (B, G*H), states the previous
    states (B, H) each, w_hh (G*H, H), b_hn (H,) or None (kinds with ``recurrent_bias``), lengths
    (B,) or None, ``flags`` the kind's trailing ints. ``out``: None or a tuple of buffers for the
    new states and ``step_caches``, in that order. Returns that tuple (new states, then caches)."""
    where = f"{cell.c_cell}_step_forward"
    G, names = cell.gates, cell.state_names
    specs = [(n, "B H") for n in names] + [(n, f"B {k}H") for n, k in cell.step_caches]
    outs = _out_items(where, out, specs)
    bias = [("b_hn", b_hn, "H", True)] if cell.recurrent_bias else []
    d = _check_call(where, [("w_hh", w_hh, f"{G}H H"), ("gx_t", gx_t, f"B {G}H")]
                    + [(n + "_prev", s, "B H") for n, s in zip(names, states)] + bias,
                    outs, lengths, t, plan=plan, stem=f"{cell.c_cell}_forward", reference=reference)
    B, H, dt = d["B"], d["H"], w_hh.dtype
    gx, *prev = _inputs(gx_t, *states)
    widths = [1] * len(names) + [k for _, k in cell.step_caches]
    res = [_out(a, (B, k * H), dt) for (_, a, _), k in zip(outs, widths)]
    fn, wp, w = _step_kernel(f"{cell.c_cell}_forward", w_hh, reference, plan)
    post = (_nullable(contiguous(b_hn) if b_hn is not None else None),) if cell.recurrent_bias else ()
    rc = fn(*map(ptr, res), ptr(gx), *map(ptr, prev), wp, *post, _lengths_arg(lengths), int(t), B, H, *flags)
    _cell_rc(where, rc)
    return tuple(res)


def _saved_pattern(cell, name):
    """The (B, k*H) pattern of a saved array named as in ``cell.step_saved``."""
    return f"B {dict(cell.step_caches).get(name, 1)}H"


def step_backward(cell, dstates, saved, w_hh, lengths=None, t=0, flags=(), outs=None, reference=False,
                  plan=None):
    """Backward of :func:`step_forward`: ``dstates`` the new states' gradients (dh, and dc or
    None), ``saved`` the arrays named by ``cell.step_saved``; ``outs`` None or a tuple of buffers
    for the ``step_grad_names`` outputs then dh_prev (and dc_prev), each None to allocate. WRITES
    the gate gradients, ACCUMULATES into dh_prev/dc_prev (zeros unless given). Returns them all."""
    where = f"{cell.c_cell}_step_backward"
    G, names = cell.gates, cell.state_names
    grads = step_grad_names(cell)
    specs = [(n, f"B {G}H") for n in grads] + [(f"d{n}_prev", "B H") for n in names]
    outs = [(n, a, p) for (n, p), a in zip(specs, outs or (None,) * len(specs))]
    d = _check_call(where, [("w_hh", w_hh, f"{G}H H")]
                    + [("d" + n, g, "B H", i > 0) for i, (n, g) in enumerate(zip(names, dstates))]
                    + [(n, a, _saved_pattern(cell, n)) for n, a in zip(cell.step_saved, saved)],
                    outs, lengths, t, plan=plan, stem=f"{cell.c_cell}_backward", reference=reference)
    B, H, dt = d["B"], d["H"], w_hh.dtype
    dst, sv = _inputs(*dstates), _inputs(*saved)
    res = [_out(a, (B, G * H), dt) for _, a, _ in outs[:len(grads)]]
    res += [_out(a, (B, H), dt, zero=True) for _, a, _ in outs[len(grads):]]
    fn, wp, w = _step_kernel(f"{cell.c_cell}_backward", w_hh, reference, plan)
    rc = fn(*map(ptr, res), *map(_nullable, dst), *map(ptr, sv), wp, _lengths_arg(lengths), int(t), B, H, *flags)
    _cell_rc(where, rc)
    return tuple(res)


# The named step entry points of the three kinds minigrad was built with: each is one call of the
# binding above (a new cell kind needs none of these).
def rnn_step_forward(gx_t, h_prev, w_hh, lengths=None, t=0, nonlinearity="tanh", out=None,
                     reference=False, plan=None):
    """One Elman step: ``h = act(gx_t + h_prev @ w_hh.T)``; returns h (B,H) (also its own cache)."""
    relu = _relu_flag(nonlinearity)
    return step_forward(_cell("rnn"), gx_t, (h_prev,), w_hh, None, lengths, t, (relu,),
                        None if out is None else (out,), reference, plan)[0]


def rnn_step_backward(dh, h, w_hh, lengths=None, t=0, nonlinearity="tanh", dgates=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one Elman step: returns (dgates (B,H), dh_prev (B,H) accumulated into)."""
    relu = _relu_flag(nonlinearity)
    return step_backward(_cell("rnn"), (dh,), (h,), w_hh, lengths, t, (relu,), (dgates, dh_prev),
                         reference, plan)


def lstm_step_forward(gx_t, h_prev, c_prev, w_hh, lengths=None, t=0, out=None, reference=False, plan=None):
    """One LSTM step; returns (h, c, gates (B,4H) post-activation i,f,g,o, tanh_c).

    ``out``: optional tuple of 4 buffers in that order (e.g. slices of (T,B,.) caches).
    """
    return step_forward(_cell("lstm"), gx_t, (h_prev, c_prev), w_hh, None, lengths, t, (), out, reference, plan)


def lstm_step_backward(dh, dc, gates, tanh_c, c_prev, w_hh, lengths=None, t=0,
                       dgates=None, dh_prev=None, dc_prev=None, reference=False, plan=None):
    """Backward of one LSTM step (dc may be None); returns (dgates (B,4H), dh_prev, dc_prev)."""
    return step_backward(_cell("lstm"), (dh, dc), (gates, tanh_c, c_prev), w_hh, lengths, t, (),
                         (dgates, dh_prev, dc_prev), reference, plan)


def gru_step_forward(gx_t, h_prev, w_hh, b_hn=None, lengths=None, t=0, out=None, reference=False, plan=None):
    """One GRU step; returns (h, gates (B,3H) post-activation r,z,n, hn = h_prev @ W_hn^T + b_hn)."""
    return step_forward(_cell("gru"), gx_t, (h_prev,), w_hh, b_hn, lengths, t, (), out, reference, plan)


def gru_step_backward(dh, gates, hn, h_prev, w_hh, lengths=None, t=0, dgx=None, dgh=None, dh_prev=None,
                      reference=False, plan=None):
    """Backward of one GRU step; returns (dgx (B,3H), dgh (B,3H), dh_prev (B,H) accumulated into).

    dgx: grads of the input-side pre-activations (gx); dgh: of h_prev @ W_hh^T + b_hh.
    """
    return step_backward(_cell("gru"), (dh,), (gates, hn, h_prev), w_hh, lengths, t, (),
                         (dgx, dgh, dh_prev), reference, plan)


# ----------------------------------------------------------------------------- sequence drivers
# One binding for every cell kind, driven by the kind's rows in its CellSpec (``cell`` below;
# minigrad/nn/cell_registry.py): ``c_cell`` (the C family: mg_<c_cell>_seq_forward_<f32|f64>),
# ``gates`` (G), ``state_names`` (('h',) or ('h', 'c')), ``seq_cache`` ((name, k) of the (T, B, k*H)
# caches forward writes, in C argument order; 'out' and 'hprev' always among them),
# ``seq_backward_reads`` (the caches backward reads, in its C order), ``recurrent_bias`` (the
# forward takes b_hn right after W_hh) and ``separate_hidden_grad`` (backward also writes dgh).
# The C argument order of every family (csrc/rnn_cells.h):
#   forward:  out, <the other caches>, <final states>, gx, <initial states>, W_hh, [b_hn], lengths,
#             T, B, H, reverse, <flags>
#   backward: dgx, [dgh], <initial-state grads>, dout, <final-state grads>, <the caches it reads>,
#             W_hh, lengths, T, B, H, reverse, <flags>
class BoundSequence:
    """The sequence kernels ``mg_<c_cell>_seq_forward`` / ``_seq_backward`` of one cell kind and
    dtype, with everything the kind fixes looked up once (the C functions, the cache layout, which
    caches backward reads, b_hn, dgh): ``CellSpec.bound_sequence(dtype)`` makes one per (spec,
    dtype) and keeps it. Its calls check nothing: the arrays must be what ``check_pass`` (or the
    public :func:`seq_forward` / :func:`seq_backward`) checked, C-contiguous and aligned, or arrays
    of those shapes and dtype the caller made itself (the engine's gradients, made C-contiguous).

    :meth:`forward` returns, besides the results, the pass's ``SeqPass`` record -- the C pointers of
    W_hh, lengths and the caches backward reads, and the sizes -- so that :meth:`backward` re-derives
    none of them."""

    __slots__ = ("fwd", "bwd", "ctype", "dtype", "n_state", "gates", "cache", "reads", "bias", "dgh",
                 "overwrite", "where")

    def __init__(self, cell, dtype, overwrite_gx=False):
        dtype = np.dtype(dtype)
        self.fwd = cfunc(f"{cell.c_cell}_seq_forward", dtype)
        self.bwd = cfunc(f"{cell.c_cell}_seq_backward", dtype)
        self.ctype, self.dtype, self.where = _FROM[dtype], dtype, f"{cell.c_cell}_seq"
        self.n_state, self.gates, self.cache = cell.n_state, cell.gates, cell.seq_cache
        names = [n for n, _ in cell.seq_cache]
        self.reads = tuple(names.index(n) for n in cell.seq_backward_reads)   # in backward's C order
        self.bias, self.dgh = cell.recurrent_bias, cell.separate_hidden_grad
        self.overwrite = bool(overwrite_gx)     # the 'gates' cache is written over gx (the LSTM)

    def forward(self, gx, states0, w_hh, b_hn, lengths, reverse, flags):
        """gx (T, B, G*H), states0 tuple of (B, H), w_hh (G*H, H), b_hn (H,) or None, lengths (B,)
        int64 or None, flags the kind's trailing ints. Returns (out (T, B, H), final states tuple,
        cache dict of the ``seq_cache`` arrays, the SeqPass record for :meth:`backward`)."""
        T, B = gx.shape[0], gx.shape[1]
        H, dt = w_hh.shape[1], self.dtype
        fb, ct = ffi.from_buffer, self.ctype
        finals = tuple([np.empty((B, H), dt) for _ in states0])
        if lengths is None:
            # No padding: the state entering step t+1 IS the output of step t, so out and the hprev
            # cache are two views of one (T+1, B, H) buffer with h0 at one end -- a (T,B,H) buffer
            # and a copy per step less. (With padding, out is 0 at padded steps where hprev carries
            # the state on: two buffers.)
            buf = np.empty((T + 1, B, H), dt)
            out, hprev = (buf[:-1], buf[1:]) if reverse else (buf[1:], buf[:-1])
        else:
            out, hprev = np.empty((T, B, H), dt), np.empty((T, B, H), dt)
        out_p = fb(ct, out)
        cache, ptrs = {}, []       # the seq_cache arrays and their pointers ('out' is out_p)
        for name, k in self.cache:
            a = (out if name == "out" else hprev if name == "hprev" else gx if self.overwrite and name == "gates"
                 else np.empty((T, B, k * H), dt))
            cache[name] = a
            ptrs.append(out_p if a is out else fb(ct, a))
        w = fb(ct, w_hh, require_writable=False)
        len_p = _lengths_arg(lengths)
        tail = (T, B, H, int(bool(reverse))) + tuple(flags)
        post = (ffi.NULL if b_hn is None else fb(ct, b_hn, require_writable=False),) if self.bias else ()
        rc = self.fwd(out_p, *[p for p in ptrs if p is not out_p], *[fb(ct, f) for f in finals],
                      fb(ct, gx, require_writable=False), *[fb(ct, s, require_writable=False) for s in states0],
                      w, *post, len_p, *tail)
        _cell_rc(self.where + "_forward", rc)
        return out, finals, cache, SeqPass(tuple([ptrs[i] for i in self.reads]), w, len_p, tail)

    def backward(self, dout, dfinals, rec):
        """Backward of :meth:`forward` given its SeqPass ``rec``: dout (T, B, H) and each (B, H) of
        ``dfinals`` may be None (zeros). Returns (dgx (T, B, G*H), dgh (T, B, G*H) -- dgx itself
        unless the kind's ``separate_hidden_grad`` --, initial-state gradients tuple)."""
        T, B, H = rec.tail[0], rec.tail[1], rec.tail[2]
        fb, ct, null, dt = ffi.from_buffer, self.ctype, ffi.NULL, self.dtype
        dgx = np.empty((T, B, self.gates * H), dt)
        dgh = np.empty((T, B, self.gates * H), dt) if self.dgh else dgx
        d0 = tuple([np.empty((B, H), dt) for _ in range(self.n_state)])
        rc = self.bwd(fb(ct, dgx), *((fb(ct, dgh),) if self.dgh else ()), *[fb(ct, d) for d in d0],
                      *[null if g is None else fb(ct, g, require_writable=False) for g in (dout, *dfinals)],
                      *rec.reads, rec.w, rec.lengths, *rec.tail)
        if rc != 0:
            raise MemoryError(f"{self.where}_backward: could not allocate the (4, {B}, {H}) workspace")
        return dgx, dgh, d0


class SeqPass:
    """What one :meth:`BoundSequence.forward` call hands its backward: the C pointers of the caches
    backward reads (``reads``, in its C order), of W_hh (``w``) and of lengths (NULL or the (B,)
    int64 array), and the trailing ints (T, B, H, reverse, flags...). The pointers keep their
    arrays alive, so the record lives exactly as long as the node's saved arrays."""

    __slots__ = ("reads", "w", "lengths", "tail")

    def __init__(self, reads, w, lengths, tail):
        self.reads, self.w, self.lengths, self.tail = reads, w, lengths, tail


_BOUND_SEQ = {}   # (cell, dtype, overwrite_gx) -> its BoundSequence, made on first use


def bound_sequence(cell, dtype, overwrite_gx=False):
    """The :class:`BoundSequence` of the cell kind ``cell`` (a CellSpec) and ``dtype``, made once
    and kept (``overwrite_gx``: its forward writes the 'gates' cache over gx)."""
    key = (cell, dtype, overwrite_gx)
    b = _BOUND_SEQ.get(key)
    if b is None:
        b = _BOUND_SEQ[key] = BoundSequence(cell, dtype, overwrite_gx)
    return b


def check_pass(where, gates, w_hh, gx, states, state_names, b_hn=None, lengths=None):
    """Every check a pass over one direction needs, made ONCE before it runs: w_hh (G*H, H),
    gx (T, B, G*H), each state (B, H) (named by ``state_names``), b_hn (H,) or None, all of one
    float dtype, and lengths (B,) in [0, T]. After it, the pass runs its kernels -- a
    :class:`BoundStep` per time step, or a :class:`BoundSequence` for the whole loop -- on these
    arrays (and on arrays it makes from them) with no further checks."""
    _check_call(where, [("w_hh", w_hh, f"{gates}H H"), ("gx", gx, f"T B {gates}H")]
                + [(name, s, "B H") for name, s in zip(state_names, states)] + [("b_hn", b_hn, "H", True)],
                lengths=lengths, steps="T")


def seq_forward(cell, gx, states0, w_hh, b_hn=None, lengths=None, reverse=False, flags=(), overwrite_gx=False):
    """The whole time loop of one direction in C, for the cell kind ``cell`` (a CellSpec).

    gx (T, B, G*H), states0 tuple of (B, H) (h0, and c0 for the LSTM), w_hh (G*H, H), b_hn (H,)
    or None, lengths (B,) int64 in [0, T] or None, ``flags`` the kind's trailing ints (the Elman
    RNN's relu). Returns (out (T, B, H) with zeros at padded steps, final states tuple, cache dict
    of the ``seq_cache`` arrays). ``overwrite_gx=True`` writes the gates cache into gx itself
    (only for a kind whose 'gates' cache is (T, B, G*H) and whose C loop allows it: the LSTM).
    Every check runs before any copy or allocation (``_check_call``); the C call is the
    kind's :class:`BoundSequence`."""
    where = f"{cell.c_cell}_seq_forward"
    G, gxo = cell.gates, "gx (overwrite_gx=True)"
    names0 = [n + "0" for n in cell.state_names]
    # overwrite_gx: gx is also an output (writeable, C-contiguous, aligned), the very same buffer
    _check_call(where, [("w_hh", w_hh, f"{G}H H"), ("gx", gx, f"T B {G}H")]
                + [(n, s, "B H") for n, s in zip(names0, states0)] + [("b_hn", b_hn, "H", True)],
                [(gxo, gx, f"T B {G}H")] if overwrite_gx else (), lengths, steps="T",
                inplace=[(gxo, "gx")], flags=[("reverse", reverse), ("overwrite_gx", overwrite_gx)])
    w, x, bhn, *s0 = _inputs(w_hh, gx, b_hn, *states0)
    out, finals, cache, _ = bound_sequence(cell, w.dtype, overwrite_gx).forward(x, s0, w, bhn, lengths,
                                                                                 reverse, flags)
    return out, finals, cache


def seq_backward(cell, dout, dfinals, cache, w_hh, lengths=None, reverse=False, flags=()):
    """Backward of :func:`seq_forward`: dout (T, B, H) and the final-state gradients ``dfinals``
    (a tuple of (B, H), one per state) may each be None (zeros); ``cache`` the dict it returned.
    Returns (dgx (T, B, G*H), dgh (T, B, G*H): the gradient of h_prev @ W_hh^T + b_hh -- dgx itself
    unless ``cell.separate_hidden_grad`` --, initial-state gradients tuple)."""
    where = f"{cell.c_cell}_seq_backward"
    names = [n for n, _ in cell.seq_cache]
    if not isinstance(cache, dict) or any(n not in cache for n in names):
        raise TypeError(f"{where}: cache must be the dict returned by {cell.c_cell}_seq_forward (keys {names})")
    fin = [n + "_n" for n in cell.state_names]
    d = _check_call(where, [("w_hh", w_hh, f"{cell.gates}H H")]
                    + [(f"cache[{n!r}]", cache[n], f"T B {k}H") for n, k in cell.seq_cache]
                    + [("dout", dout, "T B H", True)] + [("d" + n, g, "B H", True) for n, g in zip(fin, dfinals)],
                    lengths=lengths, steps="T", flags=[("reverse", reverse)])
    w, do, *dfin = _inputs(w_hh, dout, *dfinals)
    bound = bound_sequence(cell, w.dtype)
    fb, ct = ffi.from_buffer, bound.ctype
    reads = tuple(fb(ct, a, require_writable=False) for a in _inputs(*(cache[n] for n in cell.seq_backward_reads)))
    rec = SeqPass(reads, fb(ct, w, require_writable=False), _lengths_arg(lengths),
                  (d["T"], d["B"], d["H"], int(bool(reverse))) + tuple(flags))
    return bound.backward(do, dfin, rec)


# The named entry points of the three kinds minigrad was built with: each is one call of the
# binding above (a new cell kind needs none of these -- the layers call seq_forward/seq_backward
# with its spec).
def rnn_seq_forward(gx, h0, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Elman RNN over a whole sequence: gx (T,B,H), h0 (B,H), w_hh (H,H).

    Returns (out (T,B,H) with zeros at padded steps, h_n (B,H), cache) where cache holds
    'hprev' (T,B,H), the state entering each step, and 'out'.
    """
    relu = _relu_flag(nonlinearity)
    out, (h_n,), cache = seq_forward(_cell("rnn"), gx, (h0,), w_hh, None, lengths, reverse, (relu,))
    return out, h_n, cache


def rnn_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False, nonlinearity="tanh"):
    """Backward of rnn_seq_forward; dout (T,B,H) and dh_n (B,H) may be None (zeros).

    Returns (dgates (T,B,H) = grads of the pre-activations, dh0 (B,H)).
    """
    relu = _relu_flag(nonlinearity)
    dg, _, (dh0,) = seq_backward(_cell("rnn"), dout, (dh_n,), cache, w_hh, lengths, reverse, (relu,))
    return dg, dh0


def lstm_seq_forward(gx, h0, c0, w_hh, lengths=None, reverse=False, overwrite_gx=False):
    """LSTM over a whole sequence: gx (T,B,4H), h0, c0 (B,H), w_hh (4H,H).

    Returns (out (T,B,H), h_n, c_n, cache) with cache 'hprev', 'cprev', 'gates' (T,B,4H), 'tanh_c'.
    ``overwrite_gx=True`` stores the gates in gx itself (cache['gates'] is gx): one (T,B,4H)
    buffer less, and gx's input values are gone afterwards.
    """
    out, (h_n, c_n), cache = seq_forward(_cell("lstm"), gx, (h0, c0), w_hh, None, lengths, reverse,
                                         overwrite_gx=overwrite_gx)
    return out, h_n, c_n, cache


def lstm_seq_backward(dout, dh_n, dc_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of lstm_seq_forward; dout, dh_n, dc_n may be None. Returns (dgates (T,B,4H), dh0, dc0)."""
    dg, _, (dh0, dc0) = seq_backward(_cell("lstm"), dout, (dh_n, dc_n), cache, w_hh, lengths, reverse)
    return dg, dh0, dc0


def gru_seq_forward(gx, h0, w_hh, b_hn=None, lengths=None, reverse=False):
    """GRU over a whole sequence: gx (T,B,3H) (b_hn not folded in), h0 (B,H), w_hh (3H,H), b_hn (H,).

    Returns (out (T,B,H), h_n, cache) with cache 'hprev', 'gates' (T,B,3H), 'hn'.
    """
    out, (h_n,), cache = seq_forward(_cell("gru"), gx, (h0,), w_hh, b_hn, lengths, reverse)
    return out, h_n, cache


def gru_seq_backward(dout, dh_n, cache, w_hh, lengths=None, reverse=False):
    """Backward of gru_seq_forward; returns (dgx (T,B,3H), dgh (T,B,3H), dh0 (B,H)).

    dgx: gradients of the input-side pre-activations gx; dgh: of h_prev @ W_hh^T + b_hh (they
    differ in the n block, which r scales).
    """
    dgx, dgh, (dh0,) = seq_backward(_cell("gru"), dout, (dh_n,), cache, w_hh, lengths, reverse)
    return dgx, dgh, dh0
