"""Sequence-to-sequence models: an RNN encoder, an RNN decoder with attention, greedy and beam decoding.

Shape legend: S source length, T target length, B batch, V vocabulary (V_src / V_tgt), E embedding
size, H_enc / H hidden sizes, D = 2 if the encoder is bidirectional else 1, L layers, K beam width.
Token tensors are time-major integer arrays: src (S, B), tgt (T, B), padded with ``pad_idx``;
``src_lengths`` (B,) gives each source sequence's real length.

Encoder    x_s = Emb_src(src_s);  (outputs, h_n[, c_n]) = RNN(x, lengths)       outputs (S, B, D*H_enc)
           the final states (L*D, B, H_enc) become the decoder's initial states (L, B, H) by a
           "bridge": 'linear' h_0 = tanh(W_h [h_fwd; h_bwd] + b_h), c_0 = W_c [c_fwd; c_bwd] + b_c
           (one Linear per state kind, shared by the layers; needed when D = 2 or H != H_enc);
           'concat' h_0 = [h_fwd; h_bwd] (needs H = D*H_enc); 'zero' starts from zeros.
Decoder    one step, given the previous token y_{t-1} and state s_{t-1} (top layer h_{t-1}):
    none       s_t = Cell(e_t, s_{t-1});                        o_t = h_t
    bahdanau   c_t, a_t = Attn(h_{t-1}, enc);  s_t = Cell([e_t; c_t], s_{t-1});  o_t = tanh(W_c [h_t; c_t])
    dot/general s_t = Cell([e_t; o_{t-1}], s_{t-1}) (input feeding; without it just e_t)
               c_t, a_t = Attn(h_t, enc);                       o_t = tanh(W_c [h_t; c_t])
    logits_t = W_out o_t + b_out                                 (B, V_tgt)
  with e_t = Emb_tgt(y_{t-1}), y_0 = BOS; Cell is a stack of L LSTM/GRU cells (dropout between).
Training   teacher forcing: y_{t-1} is the gold token, or with probability 1 - ratio per item and
           step the model's own previous argmax (scheduled sampling); the loss is
           cross_entropy(logits, tgt, ignore_index=pad_idx), i.e. the mean over real target tokens.
Decoding   greedy (argmax each step) and beam search (below), both batched and under ``no_grad``.

Speed: with full teacher forcing and no step-to-step dependence outside the cell (no attention,
or Luong attention without input feeding) the decoder RNN runs as ONE fused sequence node (the
cells' weights through the layer's C time loop) and attends to all T queries with one batched
matmul; otherwise it steps, but the output projection (and for Bahdanau also W_c) is applied once
to the stacked (T, B, .) features, so the biggest GEMM is never split into T small ones.
"""

import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import Tensor, no_grad
from .argcheck import check_int, check_real
from .attention import Attention, attention_kind, make_mask
from .cell_registry import cell_spec
from .layers import Dropout, Embedding, Linear
from .module import Module
from .direction import check_lengths, run_direction, split_states

#: The cell kinds seq2seq offers (any kind of the registry would run; these are the tested ones).
SEQ2SEQ_CELLS = ("lstm", "gru")


def _cell_kind(cell):
    c = str(cell).lower()
    if c not in SEQ2SEQ_CELLS:
        raise ValueError(f"cell must be one of {SEQ2SEQ_CELLS}, got {cell!r}")
    return c


def _same_batch(what, sizes):
    """Raise ValueError unless every (name, batch size) pair in ``sizes`` agrees."""
    if len({b for _, b in sizes}) > 1:
        raise ValueError(f"{what}: batch sizes differ: " + ", ".join(f"{n} has B = {b}" for n, b in sizes))


def _tokens(x, name, ndim):
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "iu" or arr.ndim != ndim:
        raise TypeError(f"{name} must be an integer array with {ndim} dimensions "
                        f"({'(T, B) time-major' if ndim == 2 else '(B,)'}), got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64, copy=False)


class DecoderState:
    """The decoder's recurrent state: ``layers[k]`` is layer k's ``(h, c)`` (LSTM) or ``(h,)`` (GRU),
    each (B, H); ``feed`` the previous output o_{t-1} (Luong input feeding) or None."""

    __slots__ = ("layers", "feed")

    def __init__(self, layers, feed=None):
        self.layers, self.feed = list(layers), feed

    @property
    def h(self):
        """The top layer's hidden state (B, H)."""
        return self.layers[-1][0]

    def index(self, rows):
        """The state of batch rows ``rows`` (beam search: repeat, then follow back-pointers)."""
        rows = np.asarray(rows, dtype=np.int64)
        return DecoderState([tuple(s[rows] for s in layer) for layer in self.layers],
                            None if self.feed is None else self.feed[rows])


class Encoder(Module):
    """Embedding + (bi)LSTM/GRU over padded source batches, plus the bridge to the decoder size.

    ``forward(src (S, B), lengths (B,) or None)`` returns ``(outputs (S, B, D*H_enc), state)``
    where ``state`` is a tuple of per-state-kind tensors (L, B, dec_hidden_size): ``(h, c)`` for
    the LSTM, ``(h,)`` for the GRU (see the module docstring for the bridge).
    """

    def __init__(self, vocab_size, embed_size, hidden_size, num_layers=1, cell="lstm", bidirectional=False,
                 dropout=0.0, padding_idx=None, dec_hidden_size=None, bridge="auto", dtype=np.float32):
        super().__init__()
        self.cell = _cell_kind(cell)
        self.hidden_size, self.num_layers, self.bidirectional = int(hidden_size), int(num_layers), bool(bidirectional)
        D = 2 if bidirectional else 1
        self.output_size = D * self.hidden_size
        self.dec_hidden_size = int(dec_hidden_size or self.output_size)
        if bridge == "auto":
            bridge = "concat" if self.dec_hidden_size == self.output_size and D == 1 else "linear"
        if bridge not in ("linear", "concat", "zero"):
            raise ValueError(f"bridge must be 'auto', 'linear', 'concat' or 'zero', got {bridge!r}")
        if bridge == "concat" and self.dec_hidden_size != self.output_size:
            raise ValueError(f"bridge='concat' needs dec_hidden_size == D*hidden_size = {self.output_size}, "
                             f"got {self.dec_hidden_size}")
        self.bridge = bridge
        self.embedding = Embedding(vocab_size, embed_size, padding_idx=padding_idx, dtype=dtype)
        self.drop = Dropout(dropout)
        self.rnn = cell_spec(self.cell).make_layer(embed_size, hidden_size, num_layers, dropout=dropout,
                                                   bidirectional=bidirectional, dtype=dtype)
        if bridge == "linear":
            self.bridge_h = Linear(self.output_size, self.dec_hidden_size, dtype=dtype)
            for name in cell_spec(self.cell).state_names[1:]:       # the LSTM's c: bridge_c
                setattr(self, f"bridge_{name}", Linear(self.output_size, self.dec_hidden_size, dtype=dtype))

    def forward(self, src, lengths=None):
        src = _tokens(src, "src", 2)
        S, B = src.shape
        x = self.drop(self.embedding(src))                                 # (S, B, E)
        outputs, hn = self.rnn(x, lengths=lengths)
        finals = split_states("Encoder", self.rnn.spec, hn, "h_n")
        L, D, Hd = self.num_layers, 2 if self.bidirectional else 1, self.dec_hidden_size
        if self.bridge == "zero":
            zero = Tensor(np.zeros((L, B, Hd), x.dtype), dtype=x.dtype)
            return outputs, (zero,) * len(finals)
        # (L*D, B, H_enc) -> (L, B, D*H_enc): each layer's forward and backward state side by side
        cat = [f if D == 1 else f.reshape(L, D, B, self.hidden_size).transpose(1, 2).reshape(L, B, D * self.hidden_size)
               for f in finals]
        if self.bridge == "concat":
            return outputs, tuple(cat)
        state = [ops.tanh(self.bridge_h(cat[0]))]
        state += [getattr(self, f"bridge_{name}")(c) for name, c in zip(self.rnn.spec.state_names[1:], cat[1:])]
        return outputs, tuple(state)


class Decoder(Module):
    """Embedding + a stack of LSTM/GRU cells + optional attention + the output projection.

    ``attention`` is None, 'bahdanau' (additive; query = previous state), 'dot' or 'general'
    (Luong; query = current state, with ``input_feeding`` of o_{t-1}). ``memory_size`` is the
    encoder output size Hk. See the module docstring for the equations.
    """

    def __init__(self, vocab_size, embed_size, hidden_size, num_layers=1, cell="lstm", attention=None,
                 memory_size=None, attn_size=None, input_feeding=True, dropout=0.0, padding_idx=None,
                 dtype=np.float32):
        super().__init__()
        self.cell = _cell_kind(cell)
        self.vocab_size, self.hidden_size, self.num_layers = int(vocab_size), int(hidden_size), int(num_layers)
        self.attention_kind = attention_kind(attention, allow_none=True)
        self.input_feeding = bool(input_feeding) and self.attention_kind in ("dot", "general")
        self.memory_size = int(memory_size or hidden_size)
        H = self.hidden_size
        extra = {"bahdanau": self.memory_size}.get(self.attention_kind, H if self.input_feeding else 0)
        self.embedding = Embedding(vocab_size, embed_size, padding_idx=padding_idx, dtype=dtype)
        self.drop = Dropout(dropout)
        spec = cell_spec(self.cell)
        for k in range(num_layers):
            setattr(self, f"cell{k}", spec.make_cell(embed_size + extra if k == 0 else H, H, dtype=dtype))
        if self.attention_kind is not None:
            self.attention = Attention(H, self.memory_size, self.attention_kind, attn_size, dtype=dtype)
            self.combine = Linear(H + self.memory_size, H, dtype=dtype)      # o = tanh(W_c [h; c])
        self.out = Linear(H, vocab_size, dtype=dtype)

    @property
    def cells(self):
        return [getattr(self, f"cell{k}") for k in range(self.num_layers)]

    # ------------------------------------------------------------------ state
    def init_state(self, enc_state, batch_size):
        """DecoderState from the encoder's bridged states (tuple of (L, B, H)) or zeros if None."""
        L, H, dtype = self.num_layers, self.hidden_size, self.out.weight.dtype
        n = cell_spec(self.cell).n_state
        if enc_state is None:
            z = Tensor(np.zeros((batch_size, H), dtype), dtype=dtype)
            layers = [(z,) * n for _ in range(L)]
        else:
            if len(enc_state) != n or enc_state[0].shape[0] != L or enc_state[0].shape[2] != H:
                raise ValueError(f"decoder ({self.cell}, {L} layers, hidden {H}) cannot start from encoder states "
                                 f"{[tuple(s.shape) for s in enc_state]}")
            layers = [tuple(s[k] for s in enc_state) for k in range(L)]
        feed = Tensor(np.zeros((batch_size, H), dtype), dtype=dtype) if self.input_feeding else None
        return DecoderState(layers, feed)

    # ------------------------------------------------------------------ one step
    def _features(self, h, ctx):
        """o = tanh(W_c [h; c]) over any leading dimensions (h alone without attention)."""
        if ctx is None:
            return h
        return ops.tanh(self.combine(ops.concat([h, ctx], axis=-1)))

    def step(self, e, state, memory):
        """One step from the embedded previous token e (B, E): returns (h_t, c_t or None, weights or None,
        new state). The output features are ``_features(h_t, c_t)`` (already in ``state.feed`` with
        input feeding)."""
        ctx = weights = None
        if self.attention_kind == "bahdanau":
            ctx, weights = self.attention(state.h, memory)
            x = ops.concat([e, ctx], axis=1)
        elif self.input_feeding:
            x = ops.concat([e, state.feed], axis=1)
        else:
            x = e
        layers = []
        for k, cell in enumerate(self.cells):
            s = cell(x, state.layers[k] if cell.spec.n_state > 1 else state.layers[k][0])
            s = split_states("Decoder", cell.spec, s, "state")
            layers.append(s)
            x = self.drop(s[0]) if k < self.num_layers - 1 else s[0]
        h = x
        if self.attention_kind in ("dot", "general"):
            ctx, weights = self.attention(h, memory)
        feed = self._features(h, ctx) if self.input_feeding else None
        return h, ctx, weights, DecoderState(layers, feed)

    def logits(self, h, ctx, state=None):
        """Output logits (..., V) of step results (``state.feed`` is reused with input feeding)."""
        o = state.feed if (self.input_feeding and state is not None) else self._features(h, ctx)
        return self.out(self.drop(o))

    # ------------------------------------------------------------------ teacher-forced training pass
    def forward(self, tgt_in, state, memory=None, teacher_forcing=1.0, generator=None, return_attention=False):
        """Logits (T, B, V) for decoder inputs tgt_in (T, B) (BOS then the gold tokens shifted by one).

        ``teacher_forcing`` < 1 feeds back the model's own argmax with probability 1 - ratio
        (drawn per item and step from ``generator`` or minigrad's default generator).
        With ``return_attention`` also returns the weights (T, B, S) as a NumPy array.
        """
        teacher_forcing = check_real(teacher_forcing, "Decoder", "teacher_forcing", 0.0, 1.0)   # a ratio
        tgt_in = _tokens(tgt_in, "tgt_in", 2)
        T, B = tgt_in.shape
        if self.attention_kind is not None and memory is None:
            raise ValueError("decoder with attention needs the encoder memory")
        sizes = [("tgt_in (T, B)", B), ("the decoder state", state.layers[0][0].shape[0])]
        _same_batch("Decoder", sizes + ([("the encoder memory", memory.batch_size)] if memory is not None else []))
        if teacher_forcing >= 1.0 and not (self.attention_kind == "bahdanau" or self.input_feeding):
            logits, att = self._forward_fused(tgt_in, state, memory)
        elif teacher_forcing >= 1.0:
            emb = self.drop(self.embedding(tgt_in))                          # all T steps in one lookup
            hs, ctxs, atts = [], [], []
            for t in range(T):
                h, ctx, w, state = self.step(emb[t], state, memory)
                hs.append(state.feed if self.input_feeding else h)
                ctxs.append(ctx)
                atts.append(w)
            if self.input_feeding:                                           # hs already hold o_t
                logits = self.out(self.drop(ops.stack(hs, axis=0)))
            else:
                logits = self.logits(ops.stack(hs, axis=0), None if ctxs[0] is None else ops.stack(ctxs, axis=0))
            att = None if atts[0] is None else np.stack([a.data for a in atts])
        else:
            logits, att = self._forward_sampled(tgt_in, state, memory, teacher_forcing, generator)
        return (logits, att) if return_attention else logits

    def _forward_fused(self, tgt_in, state, memory):
        """Whole-sequence decoder: each layer is one fused recurrent node on the cells' weights."""
        x = self.drop(self.embedding(tgt_in))                                # (T, B, E)
        for k, cell in enumerate(self.cells):
            x, _, _ = run_direction(cell.spec, x, state.layers[k], cell.weight_ih, cell.weight_hh,
                                    cell.bias_ih, cell.bias_hh, names=(f"cell{k}.weight_ih", f"cell{k}.weight_hh"))
            if k < self.num_layers - 1:
                x = self.drop(x)
        if self.attention_kind is None:
            return self.out(self.drop(x)), None
        ctx, a = self.attention(x.transpose(0, 1), memory)                   # (B, T, Hk), (B, T, S)
        return self.logits(x, ctx.transpose(0, 1)), a.data.transpose(1, 0, 2)

    def _forward_sampled(self, tgt_in, state, memory, ratio, generator):
        """Scheduled sampling: step by step, projecting each step to pick the model's own token."""
        from ..random import default_generator
        gen = generator or default_generator()
        T, B = tgt_in.shape
        tokens, logits, atts = tgt_in[0], [], []
        for t in range(T):
            if t > 0:
                own = logits[-1].data.argmax(axis=1)
                tokens = np.where(gen.random(B) < ratio, tgt_in[t], own)
            h, ctx, w, state = self.step(self.drop(self.embedding(tokens)), state, memory)
            logits.append(self.logits(h, ctx, state))
            atts.append(w)
        att = None if atts[0] is None else np.stack([a.data for a in atts])
        return ops.stack(logits, axis=0), att


class Seq2Seq(Module):
    """Encoder + decoder with training loss, greedy decoding and batched beam search.

    ``Seq2Seq(src_vocab, tgt_vocab, embed_size, hidden_size, num_layers=1, cell='lstm',
    bidirectional=True, attention='bahdanau', ...)``; the special tokens ``pad_idx``, ``bos_idx``,
    ``eos_idx`` index the target vocabulary (``pad_idx`` also pads sources).
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, embed_size=32, hidden_size=64, num_layers=1, cell="lstm",
                 bidirectional=True, attention="bahdanau", attn_size=None, input_feeding=True, dropout=0.0,
                 enc_hidden_size=None, bridge="auto", pad_idx=0, bos_idx=1, eos_idx=2, dtype=np.float32):
        super().__init__()
        self.pad_idx, self.bos_idx, self.eos_idx = int(pad_idx), int(bos_idx), int(eos_idx)
        enc_h = int(enc_hidden_size or (hidden_size // 2 if bidirectional else hidden_size))
        self.encoder = Encoder(src_vocab_size, embed_size, enc_h, num_layers, cell, bidirectional, dropout,
                               padding_idx=pad_idx, dec_hidden_size=hidden_size, bridge=bridge, dtype=dtype)
        self.decoder = Decoder(tgt_vocab_size, embed_size, hidden_size, num_layers, cell, attention,
                               memory_size=self.encoder.output_size, attn_size=attn_size,
                               input_feeding=input_feeding, dropout=dropout, padding_idx=pad_idx, dtype=dtype)

    # ------------------------------------------------------------------ training
    def encode(self, src, src_lengths=None):
        """Run the encoder: returns (attention memory or None, initial DecoderState)."""
        src = _tokens(src, "src", 2)
        S, B = src.shape
        if src_lengths is not None:
            src_lengths = check_lengths(src_lengths, B, S)        # None when nothing is padded
        outputs, enc_state = self.encoder(src, src_lengths)
        memory = None
        if self.decoder.attention_kind is not None:
            mask = make_mask(src_lengths, S, B)
            memory = self.decoder.attention.memory(outputs.transpose(0, 1), mask)   # keys (B, S, D*H_enc)
        state = self.decoder.init_state(None if self.encoder.bridge == "zero" else enc_state, B)
        return memory, state

    def shift_right(self, tgt):
        """Decoder inputs (T, B): BOS followed by the targets without their last row."""
        tgt = _tokens(tgt, "tgt", 2)
        return np.concatenate([np.full((1, tgt.shape[1]), self.bos_idx, np.int64), tgt[:-1]], axis=0)

    def forward(self, src, src_lengths, tgt, teacher_forcing=1.0, generator=None, return_attention=False):
        """Logits (T, B, V) for targets tgt (T, B) (each ending in EOS, padded with pad_idx)."""
        src, tgt = _tokens(src, "src", 2), _tokens(tgt, "tgt", 2)
        _same_batch("Seq2Seq", [("src (S, B)", src.shape[1]), ("tgt (T, B)", tgt.shape[1])])
        memory, state = self.encode(src, src_lengths)
        return self.decoder(self.shift_right(tgt), state, memory, teacher_forcing, generator, return_attention)

    def loss(self, src, src_lengths, tgt, teacher_forcing=1.0, generator=None, label_smoothing=0.0):
        """Mean cross-entropy over the real (non-pad) target tokens."""
        tgt = _tokens(tgt, "tgt", 2)
        logits = self(src, src_lengths, tgt, teacher_forcing, generator)
        T, B, V = logits.shape
        return F.cross_entropy(logits.reshape(T * B, V), tgt.reshape(-1), ignore_index=self.pad_idx,
                               label_smoothing=label_smoothing)

    # ------------------------------------------------------------------ decoding
    def _max_len(self, src, max_len, fname):
        """``max_len`` as given (an int >= 1), or the default 2 S + 10 for None."""
        return 2 * src.shape[0] + 10 if max_len is None else check_int(max_len, fname, "max_len", lo=1)

    def greedy_decode(self, src, src_lengths=None, max_len=None, return_attention=False):
        """Argmax decoding of a batch; returns a list of B token lists (without EOS) and, with
        ``return_attention``, a list of (len_b + 1, S) weight arrays (the EOS step included)."""
        src = _tokens(src, "src", 2)
        B = src.shape[1]
        max_len = self._max_len(src, max_len, "Seq2Seq.greedy_decode")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                memory, state = self.encode(src, src_lengths)
                tokens = np.full(B, self.bos_idx, np.int64)
                out = np.full((max_len, B), self.pad_idx, np.int64)
                lengths = np.full(B, max_len, np.int64)
                done = np.zeros(B, bool)
                atts = []
                for t in range(max_len):
                    h, ctx, w, state = self.decoder.step(self.decoder.embedding(tokens), state, memory)
                    tokens = self.decoder.logits(h, ctx, state).data.argmax(axis=1)
                    out[t] = tokens
                    if w is not None:
                        atts.append(w.data)
                    newly = ~done & (tokens == self.eos_idx)
                    lengths[newly] = t
                    done |= newly
                    if done.all():
                        break
        finally:
            self.train(was_training)
        seqs = [out[:lengths[b], b].tolist() for b in range(B)]
        if not return_attention:
            return seqs
        att = np.stack(atts) if atts else None                     # (steps, B, S)
        return seqs, [None if att is None else att[:lengths[b] + 1, b] for b in range(B)]

    @staticmethod
    def length_penalty(length, alpha):
        """GNMT's lp(L) = ((5 + L) / 6)^alpha; hypotheses are ranked by log P / lp (alpha=0: raw log P)."""
        return ((5.0 + length) / 6.0) ** alpha

    def beam_search(self, src, src_lengths=None, beam_width=5, max_len=None, alpha=0.6, return_scores=False):
        """Batched beam search: the K beams of all B sentences advance together as one (B*K) batch.

        Each step scores all K*V continuations of every sentence (log P of the prefix + log
        softmax), keeps the 2K best, finalises those among the top K that end in EOS (scored
        log P / lp(length incl. EOS)) and carries on with the K best that do not. A sentence stops
        once K hypotheses have finished; at ``max_len`` its live beams are scored as they are.
        Returns a list of B token lists (without EOS), and their normalised scores if asked.
        With K = 1 this is exactly greedy decoding.
        """
        src = _tokens(src, "src", 2)
        B, K = src.shape[1], int(beam_width)
        if K < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        max_len = self._max_len(src, max_len, "Seq2Seq.beam_search")
        V, eos = self.decoder.vocab_size, self.eos_idx
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                memory, state = self.encode(src, src_lengths)
                rep = np.repeat(np.arange(B), K)                     # sentence b -> rows b*K .. b*K+K-1
                memory = None if memory is None else memory.index(rep)
                state = state.index(rep)
                scores = np.full((B, K), -np.inf)
                scores[:, 0] = 0.0                                   # only one live beam at the start
                tokens = np.full(B * K, self.bos_idx, np.int64)
                hist = np.zeros((B * K, 0), np.int64)                # tokens of each live beam so far
                best = np.full(B, -np.inf)
                best_seq = np.zeros((B, max_len), np.int64)
                best_len = np.zeros(B, np.int64)
                n_done = np.zeros(B, np.int64)
                base = np.arange(B)[:, None] * K
                for t in range(max_len):
                    h, ctx, _, state = self.decoder.step(self.decoder.embedding(tokens), state, memory)
                    logp = F.log_softmax(self.decoder.logits(h, ctx, state), axis=1).data.astype(np.float64)
                    cand = (scores.reshape(B * K, 1) + logp).reshape(B, K * V)
                    n = min(2 * K, K * V)
                    top = np.argpartition(-cand, n - 1, axis=1)[:, :n]
                    order = np.argsort(-np.take_along_axis(cand, top, 1), axis=1, kind="stable")
                    top = np.take_along_axis(top, order, 1)
                    top_scores = np.take_along_axis(cand, top, 1)                         # (B, 2K) best first
                    beam, tok = top // V, top % V
                    is_eos = tok == eos
                    active = n_done < K
                    # finalise EOS candidates among the top K (as fairseq; width 1 == greedy)
                    lp = self.length_penalty(t + 1, alpha)
                    for j in range(min(K, n)):                      # a loop over the beam width only
                        fin = active & is_eos[:, j] & np.isfinite(top_scores[:, j])
                        norm = top_scores[:, j] / lp
                        better = fin & (norm > best)
                        if better.any():
                            rows = (base[:, 0] + beam[:, j])[better]
                            best[better] = norm[better]
                            best_seq[better, :t] = hist[rows]
                            best_len[better] = t
                        n_done += fin
                    # continue with the K best candidates that do not end in EOS
                    keep = np.argsort(is_eos, axis=1, kind="stable")[:, :K]
                    beam = np.take_along_axis(beam, keep, 1)
                    tok = np.take_along_axis(tok, keep, 1)
                    scores = np.take_along_axis(top_scores, keep, 1)
                    scores[np.take_along_axis(is_eos, keep, 1)] = -np.inf   # (only if fewer than K non-EOS)
                    if scores.shape[1] < K:                          # tiny vocabularies: fewer than K continuations
                        pad = K - scores.shape[1]
                        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
                        beam = np.pad(beam, ((0, 0), (0, pad)))
                        tok = np.pad(tok, ((0, 0), (0, pad)))
                    rows = (base + beam).reshape(-1)
                    hist = np.concatenate([hist[rows], tok.reshape(-1, 1)], axis=1)
                    state = state.index(rows)
                    tokens = tok.reshape(-1)
                    if (n_done >= K).all():
                        break
                # sentences that never finished K hypotheses: their live beams compete as they are
                L = hist.shape[1]
                live = scores / self.length_penalty(L, alpha)
                for j in range(K):
                    better = (n_done < K) & np.isfinite(live[:, j]) & (live[:, j] > best)
                    if better.any():
                        rows = (base[:, 0] + j)[better]
                        best[better] = live[better, j]
                        best_seq[better, :L] = hist[rows]
                        best_len[better] = L
        finally:
            self.train(was_training)
        seqs = [best_seq[b, :best_len[b]].tolist() for b in range(B)]
        return (seqs, best) if return_scores else seqs
