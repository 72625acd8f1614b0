"""Bindings of the recurrent cell kernels (csrc/rnn_cells.h): single steps forward and backward,
step plans and the checks every recurrent binding shares -- one binding for every cell kind.
The whole-sequence drivers (``seq_forward``, ``BoundSequence``, ``check_pass``) are in
sequences.py, on the helpers defined here.

Nothing here is written per kind: :func:`step_forward`, :func:`step_backward`, :class:`BoundStep`
(and sequences.py's :func:`seq_forward`, :func:`seq_backward`, :class:`BoundSequence`) take the
kind's ``CellSpec``
(minigrad/nn/cell_registry.py), whose rows (gates, states, caches, what backward reads, flags)
say which arrays go where in the C call; the C argument order every family follows is spelled
out above each of them. ``rnn_step_forward``, ``lstm_seq_backward``, ... are the named entry
points of the three built-in kinds, one call each; a new kind needs none.

Every public entry point first calls ``_check_call`` on the caller's arrays (types, dtypes,
shapes, outputs, overlaps, lengths, t, plan, flags), before any copy or allocation; each check
runs once per call, there. The layers' own passes check once per pass instead (``check_pass``)
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
