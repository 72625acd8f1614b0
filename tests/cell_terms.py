"""The recurrent cell kernels and the NumPy reference in one set of terms, shared by the kernel tests.

Every kernel wrapper of minigrad.kernels (public API: one function per cell and direction) is
called here through one normalised signature per pass, and the reference cells of
minigrad/reference/rnn.py are put in the kernels' terms, so tests/test_rnn_kernels.py and
tests/test_rnn_ref_kernels.py compare the two without writing the cell maths a second time.

Normalised results (B batch, H hidden, G gates; None where a kind has no such array):
    step forward   (h, c, gates, aux)          aux = tanh(c) for the LSTM, hn for the GRU
    step backward  (dgx, dgh, dh_prev, dc_prev)  dgh is dgx except for the GRU
    seq forward    (out, h_n, c_n, cache)
    seq backward   (dgx, dgh, dh0, dc0)
"""
import numpy as np

from minigrad import kernels as K
from minigrad.nn.cell_registry import CELLS
from minigrad.reference import rnn as ref

KINDS = list(CELLS)
GATES = {k: spec.gates for k, spec in CELLS.items()}


def nl(kind):
    return CELLS[kind].nonlinearity


def is_lstm(kind):
    return CELLS[kind].n_state == 2


# ----------------------------------------------------------------------------- kernel calls
def step_forward(kind, gx, hp, cp, w, bhn, lengths, t, plan=None, reference=False):
    """One step through the kernel wrapper of ``kind``, normalised to (h, c, gates, aux)."""
    if nl(kind):
        h = K.rnn_step_forward(gx, hp, w, lengths, t, nl(kind), plan=plan, reference=reference)
        return h, None, None, None
    if is_lstm(kind):
        return K.lstm_step_forward(gx, hp, cp, w, lengths, t, plan=plan, reference=reference)
    h, g, hn = K.gru_step_forward(gx, hp, w, bhn, lengths, t, plan=plan, reference=reference)
    return h, None, g, hn


def step_backward(kind, fwd, hp, cp, w, lengths, t, dh, dc, dh_prev, dc_prev=None, plan=None, reference=False):
    """Backward of one step from the forward results ``fwd``, accumulating into ``dh_prev`` /
    ``dc_prev`` (used as given); normalised to (dgx, dgh, dh_prev, dc_prev)."""
    h, c, gates, aux = fwd
    if nl(kind):
        dg, dhp = K.rnn_step_backward(dh, h, w, lengths, t, nl(kind), dh_prev=dh_prev, plan=plan,
                                      reference=reference)
        return dg, dg, dhp, None
    if is_lstm(kind):
        dg, dhp, dcp = K.lstm_step_backward(dh, dc, gates, aux, cp, w, lengths, t, dh_prev=dh_prev,
                                            dc_prev=dc_prev, plan=plan, reference=reference)
        return dg, dg, dhp, dcp
    dgx, dgh, dhp = K.gru_step_backward(dh, gates, aux, hp, w, lengths, t, dh_prev=dh_prev, plan=plan,
                                        reference=reference)
    return dgx, dgh, dhp, None


def seq_forward(kind, gx, h0, c0, w, bhn, lengths, reverse):
    """Sequence forward through the C driver, normalised to (out, h_n, c_n, cache)."""
    if nl(kind):
        out, hn, cache = K.rnn_seq_forward(gx, h0, w, lengths, reverse, nl(kind))
        return out, hn, None, cache
    if is_lstm(kind):
        return K.lstm_seq_forward(gx, h0, c0, w, lengths, reverse)
    out, hn, cache = K.gru_seq_forward(gx, h0, w, bhn, lengths, reverse)
    return out, hn, None, cache


def seq_backward(kind, dout, dh_n, dc_n, cache, w, lengths, reverse):
    """Sequence backward through the C driver, normalised to (dgx, dgh, dh0, dc0)."""
    if nl(kind):
        dg, dh0 = K.rnn_seq_backward(dout, dh_n, cache, w, lengths, reverse, nl(kind))
        return dg, dg, dh0, None
    if is_lstm(kind):
        dg, dh0, dc0 = K.lstm_seq_backward(dout, dh_n, dc_n, cache, w, lengths, reverse)
        return dg, dg, dh0, dc0
    dgx, dgh, dh0 = K.gru_seq_backward(dout, dh_n, cache, w, lengths, reverse)
    return dgx, dgh, dh0, None


# ----------------------------------------------------------------------------- NumPy float64
def numpy_step(kind, gx, hp, cp, w, bhn, active, dh=None, dc=None):
    """One step of the reference cells (minigrad/reference/rnn.py) in float64, in the kernels'
    terms: x = gx_t with W_ih = identity and no b_ih (so dx is the input-side gate gradient),
    b_hh = [0, 0, b_hn] for the GRU. Rows where ``active`` (B,) is False pass the state and its
    gradient through and cache zeros. ``dh`` None means zeros.

    Returns (forward (h, c, gates, aux), backward (dgx, dgh, dh_prev, dc_prev)).
    """
    f64 = lambda a: None if a is None else np.asarray(a, np.float64)
    gx, hp, cp, w, bhn, dh, dc = map(f64, (gx, hp, cp, w, bhn, dh, dc))
    B, H = hp.shape
    GH = w.shape[0]
    dh = np.zeros((B, H)) if dh is None else dh
    dc = np.zeros((B, H)) if dc is None else dc
    m = np.asarray(active, bool)[:, None]
    b_hh = None if bhn is None else np.concatenate([np.zeros(2 * H), bhn])
    params = {"weight_ih": np.eye(GH), "weight_hh": w, "bias_ih": None, "bias_hh": b_hh}
    lstm = is_lstm(kind)
    new, cache = ref.cell_forward(kind, gx, (hp, cp) if lstm else hp, params)
    dx, dstate, _ = ref.cell_backward(kind, (dh, dc) if lstm else dh, cache)
    h_new, c_new = new if lstm else (new, None)
    dhp, dcp = dstate if lstm else (dstate, None)

    h = np.where(m, h_new, hp)
    c = gates = aux = dcp_out = None
    dgx = np.where(m, dx, 0)
    dgh = dgx
    if lstm:
        c = np.where(m, c_new, cp)
        gates = np.where(m, np.hstack([cache[k] for k in "ifgo"]), 0)
        aux = np.where(m, cache["tc"], 0)
        dcp_out = np.where(m, dcp, dc)
    elif kind == "gru":
        gates = np.where(m, np.hstack([cache[k] for k in "rzn"]), 0)
        aux = np.where(m, cache["ghn"], 0)
        dgh = dgx * np.hstack([np.ones((B, 2 * H)), cache["r"]])  # n sees gh_n through r * gh_n
    return (h, c, gates, aux), (dgx, dgh, np.where(m, dhp, dh), dcp_out)
