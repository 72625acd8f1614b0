"""Small programs written the PyTorch way run unchanged on minigrad (issue 14's acceptance).

Each program's text is written once, with ``torch``, ``nn``, ``optim`` and ``F`` as its module
names, and executed twice: once with minigrad bound to those names, once with PyTorch (when it is
installed). Both runs start from the same initial weights (drawn here with NumPy and loaded through
``load_state_dict``) and must print the same loss curve; without PyTorch the minigrad run must
still learn. The programs exercise what recurrent PyTorch code uses: factories with ``dtype=``,
``from_numpy``, ``size``/``split``/``cat`` with ``dim=``, LSTMCell, LBFGS with a closure,
MSELoss/NLLLoss, ``view``/``t``/``contiguous``/``narrow``, ``new_zeros``, ``torch.device`` and
``.to(device)``, ``detach`` of hidden states, ``clip_grad_norm_``, in-place SGD under
``no_grad``, tied weights, ``save``/``load`` of a state dict through a file object and
``flatten_parameters``.

Tolerance: the two libraries compute the same float64 expressions but may sum in another order
(GEMM blocking, reductions), so each loss differs by rounding: at most ``ROUNDINGS * U * depth``
relative, where ``depth`` counts the sequential operations on the longest path to the loss
(time steps x layers x a few ops per cell, the reductions' lengths). Every training step then
starts from weights that differ by that much, and the next loss inherits the difference amplified
by at most the number of steps taken (a first-order bound for these short, well-conditioned
runs), so the bound is ``ROUNDINGS * U * depth * (steps + 1)`` -- around 1e-11 here, which a real
discrepancy (a wrong gate, a missing gradient term, a different line-search decision: 1e-3 and
more) cannot meet.
"""
import numpy as np
import pytest

import minigrad
import minigrad.nn
import minigrad.nn.functional
import minigrad.optim
from fdcheck import ROUNDINGS, U

SINE_PROGRAM = '''
class Sequence(nn.Module):
    """Two stacked LSTMCells and a linear head: reads a wave, predicts its next values."""

    def __init__(self, hidden):
        super(Sequence, self).__init__()
        self.hidden = hidden
        self.cell1 = nn.LSTMCell(1, hidden)
        self.cell2 = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, waves, future=0):
        h1 = torch.zeros(waves.size(0), self.hidden, dtype=torch.double)
        c1, h2, c2 = torch.zeros_like(h1), torch.zeros_like(h1), torch.zeros_like(h1)
        outputs = []
        for x_t in waves.split(1, dim=1):
            h1, c1 = self.cell1(x_t, (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            y_t = self.head(h2)
            outputs.append(y_t)
        for _ in range(future):                      # feed the predictions back in
            h1, c1 = self.cell1(y_t, (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            y_t = self.head(h2)
            outputs.append(y_t)
        return torch.cat(outputs, dim=1)


def run(waves, initial_weights, steps):
    torch.manual_seed(0)
    inputs, targets = torch.from_numpy(waves[:, :-1]), torch.from_numpy(waves[:, 1:])
    model = Sequence(HIDDEN)
    model.double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in initial_weights(model).items()})
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(model.parameters(), lr=0.8, max_iter=6)
    losses = []

    def closure():
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        losses.append(loss.item())
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    with torch.no_grad():
        forecast = model(inputs[:1], future=3)
    return losses, forecast.detach().numpy()
'''

WORD_LM_PROGRAM = '''
import io


class LanguageModel(nn.Module):
    """Embedding -> recurrent layers -> Linear, optionally with the output weight tied to the input."""

    def __init__(self, kind, ntoken, nhid, nlayers, dropout, tie):
        super(LanguageModel, self).__init__()
        self.kind, self.ntoken, self.nhid, self.nlayers = kind, ntoken, nhid, nlayers
        self.drop = nn.Dropout(dropout)
        self.embed = nn.Embedding(ntoken, nhid)
        if kind in ("LSTM", "GRU"):
            self.rnn = getattr(nn, kind)(nhid, nhid, nlayers, dropout=dropout)
        else:
            self.rnn = nn.RNN(nhid, nhid, nlayers, nonlinearity=kind, dropout=dropout)
        self.out = nn.Linear(nhid, ntoken)
        if tie:
            self.out.weight = self.embed.weight

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.drop(self.embed(tokens)), hidden)
        scores = self.out(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(scores, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.kind == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def batchify(ids, bsz):
    nbatch = ids.size(0) // bsz
    return ids.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def evaluate(model, source, criterion, bptt):
    model.eval()
    total, hidden = 0.0, model.init_hidden(source.size(1))
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total += len(data) * criterion(output, targets).item()
    return total / (len(source) - 1)


def run(token_ids, kind, tie, initial_weights, epochs, dropout=0.0, lr=2.0, bptt=4, bsz=3):
    torch.manual_seed(0)
    device = torch.device("cpu")
    data = batchify(torch.from_numpy(token_ids), bsz).to(device)
    args = (kind, NTOKEN, NHID, 2, dropout, tie)
    model = LanguageModel(*args).double().to(device)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in initial_weights(model).items()})
    criterion = nn.NLLLoss()
    losses = []
    for epoch in range(epochs):
        model.train()
        hidden = model.init_hidden(bsz)
        for i in range(0, data.size(0) - 1, bptt):
            inputs, targets = get_batch(data, i, bptt)
            hidden = repackage_hidden(hidden)
            model.zero_grad()
            output, hidden = model(inputs, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    reloaded = LanguageModel(*args).double()
    reloaded.load_state_dict(torch.load(buffer))
    reloaded.rnn.flatten_parameters()
    return losses, evaluate(reloaded, data, criterion, bptt), evaluate(model, data, criterion, bptt)
'''

HIDDEN, NTOKEN, NHID = 4, 7, 8


def execute(program, lib, nn, optim, F, **constants):
    """Run ``program`` with ``torch``/``nn``/``optim``/``F`` bound to the given modules; its names."""
    names = {"torch": lib, "nn": nn, "optim": optim, "F": F, "__name__": "program", **constants}
    exec(compile(program, "<program>", "exec"), names)
    return names


def on_minigrad(program, **constants):
    return execute(program, minigrad, minigrad.nn, minigrad.optim, minigrad.nn.functional, **constants)


def on_torch(program, **constants):
    """The program's names with PyTorch; its ``run`` uses one thread (tiny matrices: more threads
    only spin on a busy machine)."""
    torch = pytest.importorskip("torch")
    names = execute(program, torch, torch.nn, torch.optim, torch.nn.functional, **constants)
    run = names["run"]

    def run_one_thread(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return run(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
    names["run"] = run_one_thread
    return names


def weights_for(seed, scale):
    """A function giving, for a model, a fixed float64 array per state-dict entry (sorted names, so
    both libraries draw the same numbers). The language model's output weight starts equal to its
    embedding, so a tied model gets the same value whichever of the two entries is loaded last."""
    def initial_weights(model):
        rng, drawn = np.random.default_rng(seed), {}
        state = model.state_dict()
        for name in sorted(state):
            drawn[name] = rng.uniform(-scale, scale, tuple(state[name].shape))
        if "out.weight" in drawn:
            drawn["out.weight"] = drawn["embed.weight"].copy()
        return drawn
    return initial_weights


def tolerance(depth, steps):
    """The rounding bound of the module docstring, relative to the loss."""
    return ROUNDINGS * U * depth * (steps + 1)


def sine_waves():
    rng = np.random.default_rng(2)
    t = np.arange(13)[None, :] + rng.integers(-20, 20, (3, 1))
    return np.sin(t / 3.0)                                        # (3 waves, 13 samples)


def token_stream():
    rng = np.random.default_rng(7)
    pattern = np.array([0, 1, 2, 3, 4, 5, 6, 2, 4, 6])           # a repeating "sentence"
    ids = np.tile(pattern, 4)
    noise = rng.random(ids.size) < 0.1
    ids[noise] = rng.integers(0, NTOKEN, noise.sum())
    return ids.astype(np.int64)                                   # 40 token ids


def test_sine_lbfgs_program_matches_torch():
    waves, init = sine_waves(), weights_for(0, 0.4)
    ours, our_forecast = on_minigrad(SINE_PROGRAM, HIDDEN=HIDDEN)["run"](waves, init, 3)
    theirs, their_forecast = on_torch(SINE_PROGRAM, HIDDEN=HIDDEN)["run"](waves, init, 3)
    assert len(ours) == len(theirs)                # same number of closure calls: same line search
    # depth: 12 time steps x 2 cells x ~8 ops, plus the MSE sum over 36 terms
    rtol = tolerance(12 * 2 * 8 + 36, len(ours))
    np.testing.assert_allclose(ours, theirs, rtol=rtol)
    np.testing.assert_allclose(our_forecast, their_forecast, rtol=rtol, atol=rtol * np.abs(their_forecast).max())


def test_sine_lbfgs_program_learns_on_minigrad():
    losses, forecast = on_minigrad(SINE_PROGRAM, HIDDEN=HIDDEN)["run"](sine_waves(), weights_for(0, 0.4), 3)
    assert losses[-1] < 0.5 * losses[0]
    assert forecast.shape == (1, 15) and forecast.dtype == np.float64


@pytest.mark.parametrize("kind,tie", [("LSTM", False), ("LSTM", True), ("GRU", True),
                                      ("tanh", False), ("relu", True)])
def test_word_lm_program_matches_torch(kind, tie):
    ids, init = token_stream(), weights_for(1, 0.3)
    ours = on_minigrad(WORD_LM_PROGRAM, NTOKEN=NTOKEN, NHID=NHID)["run"](ids, kind, tie, init, 2)
    theirs = on_torch(WORD_LM_PROGRAM, NTOKEN=NTOKEN, NHID=NHID)["run"](ids, kind, tie, init, 2)
    # depth: 4 time steps x 2 layers x ~8 ops, the softmax over 7 and the mean over 12 targets;
    # steps: 2 epochs x 3 batches of SGD
    rtol = tolerance(4 * 2 * 8 + 7 + 12, len(ours[0]))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol)
    np.testing.assert_allclose(ours[1:], theirs[1:], rtol=rtol)


@pytest.mark.parametrize("kind,lr", [("LSTM", 4.0), ("GRU", 4.0), ("tanh", 1.0), ("relu", 1.0)])
def test_word_lm_program_learns_on_minigrad(kind, lr):
    run = on_minigrad(WORD_LM_PROGRAM, NTOKEN=NTOKEN, NHID=NHID)["run"]
    losses, reloaded_loss, trained_loss = run(token_stream(), kind, kind != "relu", weights_for(1, 0.5),
                                              40, dropout=0.1, lr=lr)
    first_epoch = np.mean(losses[:3])                # 40 tokens / 3 columns / bptt 4: 3 batches an epoch
    assert reloaded_loss < 0.5 * first_epoch       # log(7) = 1.95 is the loss of a uniform guess
    assert reloaded_loss == trained_loss           # the state dict survived save/load through a file object
