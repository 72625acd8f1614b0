"""Pure-NumPy reference for Elman RNN, LSTM and GRU, with backpropagation through time by hand.

This module is the *independent* reference that minigrad's recurrent layers are tested against,
so it imports neither minigrad nor torch: only NumPy. Every gradient below is written out from
the chain rule (no autodiff); tests/test_rnn_reference.py proves it right with central finite
differences and, where PyTorch is installed, against torch.nn.RNN / LSTM / GRU.
It is meant to be read: each function states its equations and shapes.

Dimension legend
    T  time steps            B  batch size
    I  input features        H  hidden features
    G  gates per cell: 1 for the Elman RNN, 4 for the LSTM (i, f, g, o), 3 for the GRU (r, z, n)
    L  num_layers            D  num_directions (2 if bidirectional else 1)

Conventions are PyTorch's, exactly
    Parameters of layer l, direction suffix sfx ('' forward, '_reverse' backward):
        weight_ih_l{l}{sfx} (G*H, I_l)   weight_hh_l{l}{sfx} (G*H, H)
        bias_ih_l{l}{sfx}   (G*H,)       bias_hh_l{l}{sfx}   (G*H,)      (absent if bias=False)
    with I_0 = input_size and I_l = D*H for l >= 1. Row blocks of the (G*H, .) matrices are the
    gates in the order given above.

    kind 'rnn_tanh' / 'rnn_relu' (Elman):
        h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu
    kind 'lstm':
        i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)
        i, f, o = sigmoid(.), g = tanh(.)
        c' = f * c + i * g
        h' = o * tanh(c')
    kind 'gru':
        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

"State" means h (B, H) for the Elman RNN and the GRU and the pair (h, c) for the LSTM, exactly
as PyTorch passes hx / returns h_n. Gradients of a state have the same structure.

Public API
    init_params(kind, input_size, hidden_size, num_layers, bidirectional, bias, rng, dtype)
    param_names(num_layers, bidirectional, bias)
    cell_params(params, layer, direction)
    cell_forward(kind, x, state, params)            -> new_state, cache
    cell_backward(kind, d_new_state, cache)          -> dx, d_state, dparams
    layer_forward(kind, x, hx, params, num_layers, bidirectional,
                  lengths=None, batch_first=False, masks=None)   -> output, h_n, cache
    layer_backward(d_output, d_h_n, cache)           -> dx, dhx, dparams
    state_gradients(d_output, d_h_n, cache)          -> {(layer, direction): dL/dh_t (T, B, H)}
"""
import numpy as np

#: Number of gate blocks G per kind of cell.
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
KINDS = tuple(GATES)


def _check_kind(kind):
    if kind not in GATES:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), evaluated without overflow for any sign of x."""
    e = np.exp(-np.abs(x))  # in (0, 1], never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------

def _suffix(direction):
    return "_reverse" if direction == 1 else ""


def param_names(num_layers=1, bidirectional=False, bias=True, proj=False):
    """Parameter names in PyTorch's order: layer, then direction, then w_ih, w_hh, b_ih, b_hh
    (and w_hr for an LSTM with projections, ``proj=True``)."""
    names = []
    for l in range(num_layers):
        for d in range(2 if bidirectional else 1):
            sfx = f"_l{l}{_suffix(d)}"
            names += ["weight_ih" + sfx, "weight_hh" + sfx]
            if bias:
                names += ["bias_ih" + sfx, "bias_hh" + sfx]
            if proj:
                names += ["weight_hr" + sfx]
    return names


def init_params(kind, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True,
                rng=None, dtype=np.float64, proj_size=0):
    """Random parameters as PyTorch initialises them: every entry ~ U(-1/sqrt(H), 1/sqrt(H)).

    rng is a numpy Generator or a seed. ``proj_size`` P > 0 (LSTM only) adds the projection
    weight_hr (P, H) and makes h (and so weight_hh's columns and the next layer's input) P wide.
    Returns a dict {PyTorch name: array}, in PyTorch order.
    """
    _check_kind(kind)
    if proj_size and kind != "lstm":
        raise ValueError(f"proj_size is supported by the LSTM only, got kind {kind!r}")
    rng = np.random.default_rng(rng)
    G, H, D = GATES[kind], hidden_size, (2 if bidirectional else 1)
    Hout = proj_size or H
    k = 1.0 / np.sqrt(H)
    params = {}
    for name in param_names(num_layers, bidirectional, bias, proj=bool(proj_size)):
        layer = int(name.split("_l")[1].split("_")[0])
        in_size = input_size if layer == 0 else D * Hout
        if name.startswith("weight_ih"):
            shape = (G * H, in_size)
        elif name.startswith("weight_hh"):
            shape = (G * H, Hout)
        elif name.startswith("weight_hr"):
            shape = (Hout, H)
        else:
            shape = (G * H,)
        params[name] = rng.uniform(-k, k, size=shape).astype(dtype)
    return params


def cell_params(params, layer, direction):
    """The arrays of one (layer, direction) as a cell parameter dict.

    Keys are torch.nn.RNNCell's names: weight_ih, weight_hh, bias_ih, bias_hh (None when the
    layer has no bias), plus weight_hr for an LSTM with projections.
    """
    sfx = f"_l{layer}{_suffix(direction)}"
    p = {
        "weight_ih": params["weight_ih" + sfx],
        "weight_hh": params["weight_hh" + sfx],
        "bias_ih": params.get("bias_ih" + sfx),
        "bias_hh": params.get("bias_hh" + sfx),
    }
    if "weight_hr" + sfx in params:
        p["weight_hr"] = params["weight_hr" + sfx]
    return p


# ---------------------------------------------------------------------------------------------
# One time step (a cell)
# ---------------------------------------------------------------------------------------------

def _affine(v, w, b):
    """v (B, K) @ w.T (K -> G*H) + b: one of the two gate pre-activation terms, (B, G*H)."""
    out = v @ w.T
    return out if b is None else out + b


def cell_forward(kind, x, state, params):
    """One step of the recurrence.

    x (B, I); state = h (B, H), or (h, c) for the LSTM; params a cell dict (see cell_params).
    An LSTM with a projection (params["weight_hr"] (P, H)) has h (B, P) and c (B, H):
        m = o * tanh(c'),   h' = m @ W_hr^T.
    Returns (new_state, cache); new_state has the structure of state. The cache keeps the inputs
    and the gate activations that cell_backward needs.
    """
    _check_kind(kind)
    W_ih, W_hh = params["weight_ih"], params["weight_hh"]
    b_ih, b_hh = params.get("bias_ih"), params.get("bias_hh")
    h, c = state if kind == "lstm" else (state, None)
    H = W_hh.shape[0] // GATES[kind]
    gi = _affine(x, W_ih, b_ih)  # input term   (B, G*H)
    gh = _affine(h, W_hh, b_hh)  # hidden term  (B, G*H)
    cache = {"kind": kind, "x": x, "h": h, "params": params}

    if kind in ("rnn_tanh", "rnn_relu"):
        a = gi + gh
        h_new = np.tanh(a) if kind == "rnn_tanh" else np.maximum(a, 0.0)
        cache.update(a=a, h_new=h_new)
        return h_new, cache

    if kind == "lstm":
        a = gi + gh
        i = sigmoid(a[:, 0 * H:1 * H])
        f = sigmoid(a[:, 1 * H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        o = sigmoid(a[:, 3 * H:4 * H])
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        m = o * tc                                       # (B, H)
        W_hr = params.get("weight_hr")
        h_new = m if W_hr is None else m @ W_hr.T        # projection: (B, P)
        cache.update(c=c, i=i, f=f, g=g, o=o, tc=tc, m=m)
        return (h_new, c_new), cache

    # GRU: the hidden term of the candidate n is gated by r, so gi and gh stay separate.
    r = sigmoid(gi[:, 0 * H:1 * H] + gh[:, 0 * H:1 * H])
    z = sigmoid(gi[:, 1 * H:2 * H] + gh[:, 1 * H:2 * H])
    ghn = gh[:, 2 * H:3 * H]  # W_hn h + b_hn
    n = np.tanh(gi[:, 2 * H:3 * H] + r * ghn)
    h_new = (1.0 - z) * n + z * h
    cache.update(r=r, z=z, n=n, ghn=ghn)
    return h_new, cache


def cell_backward(kind, d_new_state, cache):
    """Gradients of one step, given the gradient of its output state.

    d_new_state = dh' (B, H), or (dh', dc') for the LSTM.
    Returns (dx (B, I), d_state, dparams) with d_state the gradient of the input state (same
    structure) and dparams a dict with the keys of the cell params (bias keys only if present).

    Each kind reduces its gates to the gradients of the two pre-activation terms
        dgi = dL/d(W_ih x + b_ih),  dgh = dL/d(W_hh h + b_hh)     both (B, G*H)
    after which the linear part is the same for all kinds:
        dx = dgi W_ih,  dh += dgh W_hh,  dW_ih = dgi^T x,  dW_hh = dgh^T h,
        db_ih = sum_B dgi,  db_hh = sum_B dgh.
    """
    _check_kind(kind)
    x, h, p = cache["x"], cache["h"], cache["params"]
    dc_prev = None

    if kind in ("rnn_tanh", "rnn_relu"):
        dh_new = d_new_state
        if kind == "rnn_tanh":
            da = dh_new * (1.0 - cache["h_new"] ** 2)  # tanh' = 1 - tanh^2
        else:
            da = dh_new * (cache["a"] > 0)  # relu' = 1 for a > 0, else 0 (PyTorch's choice at 0)
        dgi = dgh = da
        dh_direct = 0.0

    elif kind == "lstm":
        dh_new, dc_new = d_new_state
        i, f, g, o, tc, c = (cache[k] for k in ("i", "f", "g", "o", "tc", "c"))
        W_hr = p.get("weight_hr")
        dm = dh_new if W_hr is None else dh_new @ W_hr  # h' = m @ W_hr^T (projection)
        do = dm * tc                                    # m = o * tanh(c')
        dc = dc_new + dm * o * (1.0 - tc ** 2)          # c' reaches the loss directly and via h'
        di, df, dg = dc * g, dc * c, dc * i             # c' = f*c + i*g
        dc_prev = dc * f
        da = np.concatenate([di * i * (1.0 - i),        # sigmoid' = s (1 - s)
                             df * f * (1.0 - f),
                             dg * (1.0 - g ** 2),        # tanh' = 1 - tanh^2
                             do * o * (1.0 - o)], axis=1)
        dgi = dgh = da
        dh_direct = 0.0

    else:  # gru
        dh_new = d_new_state
        r, z, n, ghn = (cache[k] for k in ("r", "z", "n", "ghn"))
        dn = dh_new * (1.0 - z)                 # h' = (1-z) n + z h
        dz = dh_new * (h - n)
        dh_direct = dh_new * z
        dan = dn * (1.0 - n ** 2)               # n = tanh(gi_n + r * ghn)
        dr = dan * ghn
        dar = dr * r * (1.0 - r)
        daz = dz * z * (1.0 - z)
        dgi = np.concatenate([dar, daz, dan], axis=1)
        dgh = np.concatenate([dar, daz, dan * r], axis=1)

    dx = dgi @ p["weight_ih"]
    dh_prev = dgh @ p["weight_hh"] + dh_direct
    dparams = {"weight_ih": dgi.T @ x, "weight_hh": dgh.T @ h}
    if p.get("bias_ih") is not None:
        dparams["bias_ih"] = dgi.sum(axis=0)
    if p.get("bias_hh") is not None:
        dparams["bias_hh"] = dgh.sum(axis=0)
    if p.get("weight_hr") is not None:
        dparams["weight_hr"] = d_new_state[0].T @ cache["m"]
    d_state = (dh_prev, dc_prev) if kind == "lstm" else dh_prev
    return dx, d_state, dparams


# ---------------------------------------------------------------------------------------------
# A full multi-layer, optionally bidirectional layer over a sequence (like torch.nn.LSTM)
# ---------------------------------------------------------------------------------------------

def _step_mask(lengths, T, B):
    """(T, B, 1) boolean: True where step t is a real step of sequence b (t < lengths[b])."""
    if lengths is None:
        return np.ones((T, B, 1), dtype=bool)
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be {B} integers, got shape {lengths.shape} ({lengths.dtype})")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must lie in [1, T={T}], got {lengths.tolist()}")
    return (np.arange(T)[:, None] < lengths[None, :])[:, :, None]


def _select(m, new, old):
    """Per batch row: new where m else old, applied to a state (h or (h, c))."""
    if isinstance(new, tuple):
        return tuple(np.where(m, a, b) for a, b in zip(new, old))
    return np.where(m, new, old)


def layer_forward(kind, x, hx, params, num_layers=1, bidirectional=False, lengths=None,
                  batch_first=False, masks=None):
    """Run the stacked recurrence over a padded batch of sequences, as torch.nn.RNN/LSTM/GRU.

    x        (T, B, I), or (B, T, I) if batch_first.
    hx       initial state: (L*D, B, H), or (h0, c0) for the LSTM (with a projection, h0 is
             (L*D, B, P) and c0 (L*D, B, H)); None means zeros. Row
             k = l*D + d belongs to layer l, direction d (0 forward, 1 reverse).
    params   dict by PyTorch name (see init_params); bias=False means no bias entries.
    lengths  None, or one int per batch row, 1 <= len_b <= T, in any order. Steps t >= len_b
             are padding: they leave the state unchanged, their output is 0 and they get no
             gradient. The forward direction runs t = 0 .. len_b-1, the reverse direction runs
             t = len_b-1 .. 0 of each sequence; h_n holds each sequence's last real state. This is
             what pack_padded_sequence(enforce_sorted=False) gives in PyTorch.
    masks    None, or a list of L-1 arrays (or None entries) shaped like output: masks[l]
             multiplies layer l's output before it enters layer l+1 (a dropout mask, already
             scaled by 1/(1-p)). PyTorch's inter-layer dropout with the randomness made explicit.

    Each layer l and direction d computes, over its own time order,
        state_t = cell(x_t, state_{t-1})  where t is a real step, else state_t = state_{t-1}
        out_t[:, d*H:(d+1)*H] = h_t (0 at padding)
    and the next layer's input is the concatenation of both directions' outputs.

    Returns (output, h_n, cache): output (T, B, D*H) (or (B, T, D*H) if batch_first), h_n
    shaped like hx ((h_n, c_n) for the LSTM); cache for layer_backward.
    """
    _check_kind(kind)
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D, got shape {x.shape}")
    if batch_first:
        x = x.transpose(1, 0, 2)
    T, B, _ = x.shape
    L, D = num_layers, (2 if bidirectional else 1)
    H = params["weight_hh_l0"].shape[1]                   # width of h: hidden_size, or proj_size
    Hc = params["weight_hh_l0"].shape[0] // GATES[kind]   # width of the LSTM's c: hidden_size
    dtype = np.result_type(x, params["weight_hh_l0"])
    lstm = kind == "lstm"

    if hx is None:
        h0 = np.zeros((L * D, B, H), dtype)
        c0 = np.zeros((L * D, B, Hc), dtype) if lstm else None
    else:
        h0, c0 = hx if lstm else (hx, None)
    step_mask = _step_mask(lengths, T, B)
    if masks is not None:
        if len(masks) != L - 1:
            raise ValueError(f"masks must hold num_layers-1 = {L - 1} entries, got {len(masks)}")
        masks = [None if m is None else (np.asarray(m).transpose(1, 0, 2) if batch_first
                                         else np.asarray(m)) for m in masks]

    h_n = np.zeros((L * D, B, H), dtype)
    c_n = np.zeros((L * D, B, Hc), dtype) if lstm else None
    layer_caches = []
    layer_in = x
    for l in range(L):
        out = np.zeros((T, B, D * H), dtype)
        dir_caches = []
        for d in range(D):
            k = l * D + d
            p = cell_params(params, l, d)
            state = (h0[k], c0[k]) if lstm else h0[k]
            step_caches = []
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                m = step_mask[t]
                # Padding rows are computed and then discarded; zeroing their input keeps
                # whatever the padding holds (even NaN) out of the results and the gradients.
                new_state, cc = cell_forward(kind, np.where(m, layer_in[t], 0.0), state, p)
                state = _select(m, new_state, state)
                h_t = state[0] if lstm else state
                out[t, :, d * H:(d + 1) * H] = np.where(m, h_t, 0.0)
                step_caches.append((t, cc))
            if lstm:
                h_n[k], c_n[k] = state
            else:
                h_n[k] = state
            dir_caches.append(step_caches)
        layer_caches.append({"in_size": layer_in.shape[2], "dirs": dir_caches})
        if l < L - 1 and masks is not None and masks[l] is not None:
            layer_in = out * masks[l]
        else:
            layer_in = out

    output = out.transpose(1, 0, 2) if batch_first else out
    cache = {"kind": kind, "L": L, "D": D, "H": H, "Hc": Hc, "T": T, "B": B, "dtype": dtype,
             "batch_first": batch_first, "step_mask": step_mask, "masks": masks,
             "layers": layer_caches, "names": [n for n in params], "params": params}
    return output, ((h_n, c_n) if lstm else h_n), cache


def layer_backward(d_output, d_h_n, cache, state_grads=None):
    """Backpropagation through time for layer_forward, through all layers and directions.

    d_output  gradient of output (its layout, batch_first or not), or None for zeros.
    d_h_n     gradient of h_n, (L*D, B, H); for the LSTM (d_h_n, d_c_n) with either None for
              zeros; None for zeros altogether.
    Returns (dx, dhx, dparams): dx shaped like x, dhx shaped like hx ((dh0, dc0) for the LSTM),
    dparams a dict by PyTorch name.
    state_grads  None, or a dict that receives, per (layer, direction), the (T, B, H) array of
              dL/dh_t: the total gradient flowing into the state h_t of step t (from the output
              at t and from step t+1), in time order; for the LSTM also (layer, direction, "c")
              with dL/dc_t. See state_gradients().

    Per layer, from the top one down, and per direction, steps are visited in the reverse of the
    order in which they ran. At a step t the carried state gradient gets the output gradient
    added (output_t = h_t at real steps); at a real step it goes through cell_backward, at a
    padding step it passes to the previous state unchanged (the state was copied). The input
    gradients of all directions of layer l, times the dropout mask, are the output gradient of
    layer l-1.
    """
    kind, L, D, H, Hc, T, B = (cache[k] for k in ("kind", "L", "D", "H", "Hc", "T", "B"))
    dtype, step_mask, masks = cache["dtype"], cache["step_mask"], cache["masks"]
    lstm = kind == "lstm"
    zeros = np.zeros((L * D, B, H), dtype)
    zeros_c = np.zeros((L * D, B, Hc), dtype)

    if d_output is None:
        d_out = np.zeros((T, B, D * H), dtype)
    else:
        d_out = np.asarray(d_output)
        d_out = d_out.transpose(1, 0, 2) if cache["batch_first"] else d_out
    if lstm:
        dh_n, dc_n = (None, None) if d_h_n is None else d_h_n
        dc_n = zeros_c if dc_n is None else dc_n
    else:
        dh_n = d_h_n
    dh_n = zeros if dh_n is None else dh_n

    dparams = {n: np.zeros_like(cache["params"][n]) for n in cache["names"]}
    dhx = np.zeros_like(zeros)
    dcx = np.zeros_like(zeros_c) if lstm else None
    for l in range(L - 1, -1, -1):
        lc = cache["layers"][l]
        d_in = np.zeros((T, B, lc["in_size"]), dtype)
        for d in range(D):
            k = l * D + d
            sfx = f"_l{l}{_suffix(d)}"
            dh = dh_n[k].copy()
            dc = dc_n[k].copy() if lstm else None
            if state_grads is not None:
                sg_h = state_grads[(l, d)] = np.zeros((T, B, H), dtype)
                sg_c = state_grads[(l, d, "c")] = np.zeros((T, B, Hc), dtype) if lstm else None
            for t, cc in reversed(lc["dirs"][d]):
                m = step_mask[t]
                dh = dh + np.where(m, d_out[t, :, d * H:(d + 1) * H], 0.0)
                if state_grads is not None:      # everything that reaches h_t (and c_t) is in now
                    sg_h[t] = dh
                    if lstm:
                        sg_c[t] = dc
                d_new = (np.where(m, dh, 0.0), np.where(m, dc, 0.0)) if lstm else np.where(m, dh, 0.0)
                dx_t, d_prev, dp = cell_backward(kind, d_new, cc)
                d_in[t] += dx_t  # zero rows at padding: the cell got a zero gradient there
                if lstm:
                    dh = d_prev[0] + np.where(m, 0.0, dh)
                    dc = d_prev[1] + np.where(m, 0.0, dc)
                else:
                    dh = d_prev + np.where(m, 0.0, dh)
                for name, g in dp.items():
                    dparams[name + sfx] += g
            dhx[k] = dh
            if lstm:
                dcx[k] = dc
        if l > 0 and masks is not None and masks[l - 1] is not None:
            d_out = d_in * masks[l - 1]
        else:
            d_out = d_in

    dx = d_out.transpose(1, 0, 2) if cache["batch_first"] else d_out
    return dx, ((dhx, dcx) if lstm else dhx), dparams


def state_gradients(d_output, d_h_n, cache):
    """dL/dh_t for every step of every layer and direction: {(l, d): (T, B, H)} (LSTM: also
    {(l, d, "c"): dL/dc_t}). The quantity a hook on h_t sees during backpropagation through time:
    the gradient arriving from the output at step t plus the one flowing back from step t+1
    (at padding steps, where h_t is a copy of h_{t-1}, just the carried gradient)."""
    grads = {}
    layer_backward(d_output, d_h_n, cache, state_grads=grads)
    return grads
