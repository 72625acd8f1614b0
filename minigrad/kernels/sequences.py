"""Bindings of the whole-sequence recurrent kernels (csrc/rnn_cells.h, ``mg_<family>_seq_*``):
the time loop of one direction in C, forward and backward, for every cell kind.

``seq_forward`` / ``seq_backward`` (and the named ``rnn_seq_forward``, ``lstm_seq_backward``, ...)
check every call, as every public binding does; a layer's pass checks its arrays once instead
(``check_pass``, before its first kernel) and then calls the kind's ``BoundSequence``, which
checks nothing. The shared checks and helpers are cells.py's.

Legend: T time, B batch, H hidden, G gates (the spec's ``gates``).
"""
import numpy as np

from .cells import (_FROM, _cell, _cell_rc, _check_call, _inputs, _lengths_arg, _relu_flag)
from .common import cfunc, ffi


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
