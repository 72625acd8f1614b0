"""Word-level language model on Penn Treebank or WikiText-2: Zaremba et al. (2014) in minigrad.

    python examples/word_lm.py --data ~/data/ptb --preset zaremba-small      # the paper's small LSTM
    python examples/word_lm.py --data ~/data/ptb --preset zaremba-medium --minutes 60
    python examples/word_lm.py --resume word_lm.npz --minutes 60              # continue that run
    python examples/word_lm.py --generate word_lm.npz --temperature 0.8 --length 40 --prime "the"
    python examples/word_lm.py --data DIR --cell gru --optimizer adam --lr 2e-3 --tied --dropout 0.5
    python examples/word_lm.py --generate word_lm.npz --length 0 --export-onnx word_lm.onnx   # ship it
    mpiexec -n 2 python examples/word_lm.py --data DIR --distributed --threads 1   # data-parallel (MPI)

The corpus is a directory holding ``train.txt / valid.txt / test.txt`` (WikiText-2's layout),
Mikolov's ``ptb.train.txt / ptb.valid.txt / ptb.test.txt`` or WikiText's ``wiki.*.tokens``:
whitespace-separated words, one sentence (or paragraph) per line, ``<eos>`` added at each line's end.

Model (Zaremba, Sutskever and Vinyals, "Recurrent Neural Network Regularization", 2014):
Embedding -> dropout -> ``layers`` x LSTM/GRU (dropout between layers) -> dropout -> Linear
decoder over the vocabulary, optionally tied to the embedding (Press & Wolf 2017). Dropout is on
the non-recurrent connections only, as in the paper. Training is truncated BPTT over ``batch``
contiguous streams read in windows of ``bptt`` words, the state carried from window to window
(cut off the tape with ``repackage_hidden``) and reset at each epoch. The objective of a window is
the paper's: the sum over its time steps of the batch-mean cross-entropy, so ``--lr 1`` and
``--clip 5`` mean what they mean in the paper; perplexity is exp(mean loss per word). The decoder
and loss run as one fused ``F.linear_cross_entropy`` (no (T*B, V) logits kept for backward).

Presets (``--preset``; options given explicitly win), the paper's Section 4.1:

    preset          layers hidden init  dropout lr  decay  decay after  epochs clip bptt batch  paper valid/test
    zaremba-small     2     200   0.1     0     1.0  0.5        4          13    5    20   20    120.7 / 114.5
    zaremba-medium    2     650   0.05   0.5    1.0  1/1.2      6          39    5    35   20     86.2 /  82.7
    zaremba-large     2    1500   0.04   0.65   1.0  1/1.15    14          55   10    35   20     82.2 /  78.4

The learning rate of epoch e (1-based) is ``lr * decay ** max(0, e - decay_after)``. All
parameters start uniform in [-init, init]. Checkpoints (atomic, ``mg.save``) are written after
every epoch and every ``--checkpoint-every`` seconds; they hold the model, the optimizer, the
position in the epoch, the carried state and the random generator, so ``--resume`` continues the
very same run. ``--minutes`` caps the wall time of one invocation (the run stops at a window
boundary, checkpoints, and says how to resume).

``--distributed`` (launched by ``mpiexec -n N``; docs/distributed.md) trains data-parallel:
the corpus is cut into N * ``batch`` streams, each rank trains its ``batch`` of them with a
``DistributedDataParallel`` model (gradients averaged, so the step is the one-process step with
N * ``batch`` streams), each rank draws its own dropout masks, decisions taken from the clock
come from rank 0, rank 0 prints and writes the checkpoints (every rank's streams and generator
state gathered into them, so ``--resume`` under the same N continues the very same run).
``--export-onnx PATH`` writes the trained (with ``--generate``: the loaded) model as ONNX: ids
(T, B) and the state in, logits (T, B, V) and the state out, T and B dynamic.
"""
import argparse
import math
import os
import sys
import time

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import batchify, lm_batches
from minigrad.text import Vocab, build_vocab_from_iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from char_lm import (_Progress, agree, check_same_weights, export_onnx,  # noqa: E402  (shared helpers:
                     start_distributed, streams_state)                    # progress bar, ONNX, MPI)

EOS, UNK = "<eos>", "<unk>"
SPLITS = ("train", "valid", "test")
# The file names each corpus layout uses, in the order they are looked for.
LAYOUTS = ({s: f"{s}.txt" for s in SPLITS}, {s: f"ptb.{s}.txt" for s in SPLITS},
           {s: f"wiki.{s}.tokens" for s in SPLITS})
MISSING = """no corpus found{where}.
word_lm.py needs a directory with the three splits of a tokenised corpus, one of:
  train.txt valid.txt test.txt              (e.g. WikiText-2, https://huggingface.co/datasets/Salesforce/wikitext)
  ptb.train.txt ptb.valid.txt ptb.test.txt  (Mikolov's Penn Treebank, simple-examples/data/ in
                                             https://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz)
  wiki.train.tokens wiki.valid.tokens wiki.test.tokens
Put them in a directory and pass it: python examples/word_lm.py --data DIR"""

PRESETS = {
    "zaremba-small": dict(layers=2, hidden=200, init=0.1, dropout=0.0, lr=1.0, decay=0.5, decay_after=4,
                          epochs=13, clip=5.0, bptt=20, batch=20),
    "zaremba-medium": dict(layers=2, hidden=650, init=0.05, dropout=0.5, lr=1.0, decay=1 / 1.2, decay_after=6,
                           epochs=39, clip=5.0, bptt=35, batch=20),
    "zaremba-large": dict(layers=2, hidden=1500, init=0.04, dropout=0.65, lr=1.0, decay=1 / 1.15,
                          decay_after=14, epochs=55, clip=10.0, bptt=35, batch=20),
}
# Options that define a run (kept in the checkpoint; --resume restores them) and their defaults
# when neither the command line nor a preset sets them.
DEFAULTS = dict(PRESETS["zaremba-small"], data=None, cell="lstm", embed=None, tied=False, optimizer="sgd",
                seed=0, max_batches=None, eval_batch=10)
QUICK = dict(layers=2, hidden=24, init=0.1, dropout=0.1, lr=1.0, epochs=2, bptt=6, batch=4, max_batches=12)


# ----------------------------------------------------------------------------------- the data
def find_corpus(data_dir):
    """{split: path} for the first complete layout in ``data_dir``; SystemExit saying what to get."""
    if not data_dir:
        raise SystemExit(MISSING.format(where=" (no --data given)"))
    for names in LAYOUTS:
        paths = {s: os.path.join(data_dir, n) for s, n in names.items()}
        if all(os.path.isfile(p) for p in paths.values()):
            return paths
    raise SystemExit(MISSING.format(where=f" in {data_dir!r}"))


def read_words(path):
    """The file's lines as lists of words, each ending with <eos> (blank lines are skipped)."""
    with open(path, encoding="utf-8") as f:
        return [line.split() + [EOS] for line in f if line.strip()]


def load_corpus(data_dir):
    """(vocab, {split: int64 ids}). The vocabulary is the training split's words, most frequent
    first; words of valid/test that training never saw map to <unk> (added if training has none)."""
    lines = {s: read_words(p) for s, p in find_corpus(data_dir).items()}
    vocab = build_vocab_from_iterator(lines["train"], specials=[EOS])
    if UNK not in vocab:
        vocab = Vocab(vocab.get_itos() + [UNK])
    vocab.set_default_index(vocab[UNK])
    ids = {s: np.array(vocab([w for line in ls for w in line]), dtype=np.int64) for s, ls in lines.items()}
    return vocab, ids


# ---------------------------------------------------------------------------------- the model
class WordLM(nn.Module):
    """Embedding -> dropout -> LSTM/GRU -> dropout -> Linear decoder (optionally tied).

    ``forward(ids (T, B), hidden)`` returns the decoder's input features (T, B, H) and the new
    state; ``loss`` and ``logits`` apply the decoder, so training never forms the (T*B, V)
    logits as a separate tape node.
    """

    CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, vocab_size, hidden, layers=2, cell="lstm", dropout=0.0, embed=None, tied=False,
                 init=None):
        super().__init__()
        embed = embed or hidden
        if tied and embed != hidden:
            raise ValueError(f"--tied needs the embedding size to equal the hidden size, got {embed} and {hidden}")
        self.embedding = nn.Embedding(vocab_size, embed)
        self.rnn = self.CELLS[cell](embed, hidden, layers, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocab_size)
        if tied:
            self.decoder.weight = self.embedding.weight      # one Parameter, two uses on the tape
        if init:
            for p in self.parameters():
                nn.init.uniform_(p, -init, init)

    def forward(self, ids, hidden=None):
        out, hidden = self.rnn(self.drop(self.embedding(ids)), hidden)
        return self.drop(out), hidden

    def loss(self, features, targets):
        """Sum over the (T, B) words of the cross-entropy (nats), one fused decoder + loss."""
        h = features.reshape(-1, features.shape[-1])
        return F.linear_cross_entropy(h, self.decoder.weight, targets.reshape(-1),
                                      linear_bias=self.decoder.bias, reduction="sum")

    def logits(self, features):
        return self.decoder(features)


class WithLogits(nn.Module):
    """``lm`` with the decoder applied: ids (T, B), state -> logits (T, B, V), state (for ONNX)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, ids, hidden=None):
        feats, hidden = self.lm(ids, hidden)
        return self.lm.logits(feats), hidden


def perplexity(model, ids, batch=10, bptt=35):
    """exp(mean cross-entropy per word) of ``model`` on ``ids`` (eval mode, no tape, state carried)."""
    was_training = model.training
    model.eval()
    total, count, hidden = 0.0, 0, None
    with mg.no_grad():
        for x, y in lm_batches(batchify(ids, min(batch, max(1, len(ids) // 2))), bptt):
            feats, hidden = model(x, hidden)
            total += float(model.loss(feats, y).item())
            count += y.size
    model.train(was_training)
    return math.exp(total / max(count, 1))


def generate(model, vocab, length, temperature=1.0, prime=EOS, generator=None):
    """``length`` words after ``prime`` drawn from softmax(logits / temperature), one at a time."""
    rng = generator if generator is not None else np.random.default_rng()
    was_training = model.training
    model.eval()
    ids = np.array(vocab(prime.split() or [EOS]), dtype=np.int64).reshape(-1, 1)
    words = []
    with mg.no_grad():
        feats, hidden = model(ids)                              # the whole prime in one call
        for _ in range(length):
            logp = F.log_softmax(model.logits(feats[-1, 0]) / max(temperature, 1e-6), dim=-1).data
            p = np.exp(logp.astype(np.float64))
            nxt = int(rng.choice(len(p), p=p / p.sum()))
            words.append(vocab.lookup_token(nxt))
            feats, hidden = model(np.array([[nxt]], dtype=np.int64), hidden)
    model.train(was_training)
    return " ".join(words).replace(f" {EOS} ", "\n").replace(EOS, "\n")


# ------------------------------------------------------------------------ run and checkpoints
def epoch_lr(run, epoch):
    """The learning rate of ``epoch`` (1-based): lr * decay ** max(0, epoch - decay_after)."""
    return run["lr"] * run["decay"] ** max(0, epoch - run["decay_after"])


def build(run, vocab_size):
    """Model and optimizer for the run options ``run`` (a dict)."""
    model = WordLM(vocab_size, run["hidden"], run["layers"], run["cell"], run["dropout"], run["embed"],
                   run["tied"], run["init"])
    if run["optimizer"] == "adam":
        opt = optim.Adam(model.parameters(), lr=run["lr"])
    else:
        opt = optim.SGD(model.parameters(), lr=run["lr"])
    return model, opt


def state_arrays(hidden):
    """The carried recurrent state as a list of arrays (for the checkpoint); None stays []."""
    if hidden is None:
        return []
    return [h.data for h in (hidden if isinstance(hidden, tuple) else (hidden,))]


def save_checkpoint(path, run, vocab, model, opt, pos, hidden, history, dist=None):
    """Write the run's state (atomically). Under --distributed every rank calls it: the streams'
    states and the generators are gathered from all ranks and rank 0 writes the file."""
    rng = mg.default_generator().bit_generator.state
    ck = {"model": model.state_dict(), "optim": opt.state_dict(), "run": run, "vocab": vocab.get_itos(),
          "epoch": pos[0], "batch": pos[1], "hidden": state_arrays(streams_state(dist, hidden, gather=True)),
          "rng": dist.get_comm().allgather(rng) if dist else [rng],
          "history": {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}}
    (dist.save if dist else mg.save)(ck, path)


def load_checkpoint(path):
    """Everything a checkpoint restores, as a dict (model, opt, vocab, run, epoch, batch, ...)."""
    ck = mg.load(path)
    run = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in ck["run"].items()}
    vocab = Vocab(list(ck["vocab"]))
    vocab.set_default_index(vocab[UNK])
    model, opt = build(run, len(vocab))
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    hs = tuple(mg.tensor(a) for a in ck["hidden"])
    hidden = None if not hs else (hs if run["cell"] == "lstm" else hs[0])
    rng = ck["rng"]          # one generator state per process (a single dict: written by one process)
    return dict(model=model, opt=opt, vocab=vocab, run=run, epoch=int(ck["epoch"]), batch=int(ck["batch"]),
                hidden=hidden, rng=[rng] if isinstance(rng, dict) else list(rng),
                history={k: list(v) for k, v in ck["history"].items()})


def plot_history(history, path, title):
    """Training loss per logged chunk and train/valid/test perplexity per epoch, as a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no loss plot (pip install matplotlib)")
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(history["chunk_epoch"], np.exp(history["chunk_loss"]), color="0.5", lw=0.8)
    a1.set_xlabel("epoch")
    a1.set_ylabel("training perplexity (running)")
    a1.set_yscale("log")
    ep = np.arange(1, len(history["valid_ppl"]) + 1)
    for key, style in (("train_ppl", "o-"), ("valid_ppl", "s-"), ("test_ppl", "^-")):
        a2.plot(ep, history[key], style, label=key.split("_")[0])
    a2.set_xlabel("epoch")
    a2.set_ylabel("perplexity")
    a2.set_yscale("log")
    a2.legend()
    for a in (a1, a2):
        a.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------- training
def train_epoch(run, model, opt, windows, epoch, start, hidden, history, bar, stop, forward=None):
    """Train on windows[start:] of ``epoch``; returns (next window, state, words, seconds, loss sum).

    ``stop()`` is asked before every window (time budget, interruption, checkpoint timer); when it
    returns "stop" the epoch is left at that window (the caller checkpoints the position).
    ``forward`` runs the model (default ``model``; under --distributed its DistributedDataParallel).
    """
    forward = forward or model
    params = list(model.parameters())
    B = run["batch"]
    words, seconds, loss_sum, chunk_loss, chunk_words = 0, 0.0, 0.0, 0.0, 0
    for i in range(start, len(windows)):
        if stop(epoch, i, hidden) == "stop":
            return i, hidden, words, seconds, loss_sum
        t0 = time.perf_counter()
        x, y = windows[i]
        feats, hidden = forward(x, hidden)
        hidden = nn.utils.repackage_hidden(hidden)
        total = model.loss(feats, y)                     # summed over the window's T*B words
        opt.zero_grad()
        (total / B).backward()                           # the paper's objective: sum over time, mean over batch
        nn.utils.clip_grad_norm_(params, run["clip"])
        opt.step()
        lv = float(total.item())
        seconds += time.perf_counter() - t0
        words += y.size
        loss_sum += lv
        chunk_loss += lv
        chunk_words += y.size
        if chunk_words >= 20 * B * run["bptt"] or i == len(windows) - 1:   # the plot's training curve
            history["chunk_epoch"].append(epoch - 1 + (i + 1) / len(windows))
            history["chunk_loss"].append(chunk_loss / chunk_words)
            chunk_loss, chunk_words = 0.0, 0
        bar.update(f"ppl {math.exp(lv / y.size):7.1f}, {words / seconds:,.0f} words/s, "
                   f"lr {opt.param_groups[0]['lr']:.3g}")
    return len(windows), hidden, words, seconds, loss_sum


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Options left unset take the preset's value (default preset: zaremba-small).")
    a = p.add_argument
    a("--data", help="corpus directory (train/valid/test.txt, ptb.*.txt or wiki.*.tokens)")
    a("--preset", choices=sorted(PRESETS), default="zaremba-small")
    a("--cell", choices=sorted(WordLM.CELLS))
    a("--layers", type=int)
    a("--hidden", type=int)
    a("--embed", type=int, help="embedding size (default: --hidden)")
    a("--tied", action="store_const", const=True, help="tie the decoder's weight to the embedding")
    a("--dropout", type=float, help="dropout on the non-recurrent connections")
    a("--init", type=float, help="parameters start uniform in [-init, init] (0: PyTorch's default init)")
    a("--optimizer", choices=("sgd", "adam"))
    a("--lr", type=float)
    a("--decay", type=float, help="learning-rate factor per epoch after --decay-after epochs")
    a("--decay-after", type=int, help="epochs at the full learning rate")
    a("--epochs", type=int)
    a("--clip", type=float, help="max global gradient norm")
    a("--bptt", type=int, help="truncated-BPTT window (words)")
    a("--batch", type=int, help="parallel streams")
    a("--eval-batch", type=int, help="streams when measuring valid/test perplexity")
    a("--max-batches", type=int, help="train on at most this many windows per epoch (benchmarks, smoke tests)")
    a("--seed", type=int)
    a("--threads", type=int, default=2)
    a("--minutes", type=float, default=None, help="wall-clock cap of this invocation (default: none)")
    a("--checkpoint", default="word_lm.npz", help="checkpoint path (written atomically)")
    a("--checkpoint-every", type=float, default=300.0, help="seconds between mid-epoch checkpoints")
    a("--stop-after", type=int, default=None, help="stop (and checkpoint) after this many windows, as if interrupted")
    a("--resume", metavar="PATH", help="continue the run saved in this checkpoint")
    a("--generate", metavar="PATH", help="generate text from this checkpoint and exit")
    a("--temperature", type=float, default=1.0)
    a("--length", type=int, default=50, help="words to generate")
    a("--prime", default=EOS, help="words to start --generate from")
    a("--plot", default="word_lm.png", help="loss/perplexity plot PNG ('' for none)")
    a("--export-onnx", metavar="PATH", help="also write the trained (with --generate: the loaded) model as ONNX")
    a("--distributed", action="store_true", help="data-parallel over MPI: launch with mpiexec -n N "
      "(--batch is per rank)")
    a("--quick", action="store_true", help="smoke test: a tiny model, a few windows per epoch")
    a("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def run_options(args):
    """The run's options: DEFAULTS, then the preset, then --quick, then what the command line set."""
    run = dict(DEFAULTS, **PRESETS[args.preset])
    if args.quick:
        run.update(QUICK)
    run.update({k: v for k, v in vars(args).items() if k in run and v is not None})
    for k in ("layers", "hidden", "epochs", "bptt", "batch", "eval_batch"):
        if run[k] < 1:
            raise SystemExit(f"--{k.replace('_', '-')} must be >= 1, got {run[k]}")
    return run


def main(argv=None):
    """Run the example; returns a dict (history, perplexities, ...) so tests can call it directly."""
    args = parse_args(argv)
    dist = start_distributed() if args.distributed else None
    lead = dist is None or dist.rank() == 0              # the process that plots and exports
    mg.set_num_threads(args.threads)
    if args.generate:
        ck = load_checkpoint(args.generate)
        text = generate(ck["model"], ck["vocab"], args.length, args.temperature, args.prime,
                        np.random.default_rng(args.seed))
        print(args.prime, text)
        if args.export_onnx:
            export_onnx(WithLogits(ck["model"]), args.export_onnx, rnn=ck["model"].rnn)
        return {"text": text}

    if args.resume:
        ck = load_checkpoint(args.resume)
        run, vocab, model, opt = ck["run"], ck["vocab"], ck["model"], ck["opt"]
        if args.data:
            run["data"] = args.data                      # the corpus may have moved
        epoch, start, hidden, history = ck["epoch"], ck["batch"], ck["hidden"], ck["history"]
        if len(ck["rng"]) != (dist.world_size() if dist else 1):
            raise SystemExit(f"{args.resume} was written by {len(ck['rng'])} process(es): resume it with as many")
        mg.default_generator().bit_generator.state = ck["rng"][dist.rank() if dist else 0]
        hidden = streams_state(dist, hidden, gather=False)
        _, ids = load_corpus(run["data"])
        print(f"resuming {args.resume}: epoch {epoch}, window {start}")
    else:
        run = run_options(args)
        mg.manual_seed(run["seed"])
        vocab, ids = load_corpus(run["data"])
        model, opt = build(run, len(vocab))
        if dist:
            mg.manual_seed(run["seed"] + 1 + dist.rank())   # each rank its own dropout masks
        epoch, start, hidden = 1, 0, None
        history = {k: [] for k in ("train_ppl", "valid_ppl", "test_ppl", "lr", "epoch_s", "words_per_s",
                                   "chunk_epoch", "chunk_loss")}
    streams = batchify(ids["train"], run["batch"] * (dist.world_size() if dist else 1))
    windows = list(lm_batches(dist.shard_streams(streams) if dist else streams, run["bptt"]))[: run["max_batches"]]
    forward = dist.DistributedDataParallel(model) if dist else model   # rank 0's weights on every rank
    world = dist.world_size() if dist else 1
    print(f"{run['cell'].upper()} {run['layers']}x{run['hidden']}{' tied' if run['tied'] else ''}, "
          f"{model.num_parameters():,} parameters, vocab {len(vocab):,}, train {len(ids['train']):,} words "
          f"({len(windows)} windows of {run['bptt']}x{run['batch']} per epoch), valid {len(ids['valid']):,}, "
          f"test {len(ids['test']):,}; {run['optimizer']} lr {run['lr']}, {args.threads} threads"
          + (f", {dist.world_size()} processes" if dist else ""))

    t_start = time.perf_counter()
    budget = args.minutes * 60.0 if args.minutes else math.inf
    last_ck, done = [t_start], [0]

    def stop(ep, i, h):
        """Asked before every window: "stop" at the time cap (or --stop-after); a checkpoint when due.
        (Decisions from the clock are rank 0's, so every rank stops and checkpoints together.)"""
        now = time.perf_counter()
        over, due = agree(dist, (now - t_start > budget, now - last_ck[0] > args.checkpoint_every))
        if over or (args.stop_after is not None and done[0] >= args.stop_after):
            return "stop"
        done[0] += 1
        if due:
            save_checkpoint(args.checkpoint, run, vocab, model, opt, (ep, i), h, history, dist)
            last_ck[0] = time.perf_counter()
        return None

    stopped = False
    while epoch <= run["epochs"]:
        if run["optimizer"] == "sgd":
            for g in opt.param_groups:
                g["lr"] = epoch_lr(run, epoch)
        model.train()
        bar = _Progress(len(windows) - start, args.no_progress or not lead)
        if start == 0:
            hidden = None                                # each epoch starts the streams afresh
        pos, hidden, words, seconds, loss_sum = train_epoch(run, model, opt, windows, epoch, start, hidden,
                                                            history, bar, stop, forward)
        bar.close()
        if pos < len(windows):
            save_checkpoint(args.checkpoint, run, vocab, model, opt, (epoch, pos), hidden, history, dist)
            print(f"stopped in epoch {epoch} at window {pos}/{len(windows)}; checkpoint "
                  f"{args.checkpoint} (continue with --resume {args.checkpoint})")
            stopped = True
            break
        # The epoch's training perplexity counts only this invocation's share if it was resumed mid-epoch.
        history["train_ppl"].append(math.exp(loss_sum / max(words, 1)))
        history["valid_ppl"].append(perplexity(model, ids["valid"], run["eval_batch"]))
        history["test_ppl"].append(perplexity(model, ids["test"], run["eval_batch"]))
        history["lr"].append(opt.param_groups[0]["lr"])
        history["epoch_s"].append(seconds)
        history["words_per_s"].append(world * words / seconds if seconds else 0.0)   # all ranks' words
        print(f"epoch {epoch:3d} | lr {history['lr'][-1]:.4g} | train ppl {history['train_ppl'][-1]:8.2f} | "
              f"valid ppl {history['valid_ppl'][-1]:8.2f} | test ppl {history['test_ppl'][-1]:8.2f} | "
              f"{seconds:6.1f} s training, {history['words_per_s'][-1]:,.0f} words/s", flush=True)
        epoch, start = epoch + 1, 0
        save_checkpoint(args.checkpoint, run, vocab, model, opt, (epoch, 0), None, history, dist)
        last_ck[0] = time.perf_counter()

    if dist:
        check_same_weights(dist, model)
    png = None
    if args.plot and history["valid_ppl"] and lead:
        png = plot_history(history, args.plot, f"minigrad word LM: {run['cell'].upper()} "
                                               f"{run['layers']}x{run['hidden']} on {os.path.basename(os.path.normpath(run['data']))}")
    if not stopped:
        print(f"done: {run['epochs']} epochs in {time.perf_counter() - t_start:.0f} s wall; "
              f"final valid ppl {history['valid_ppl'][-1]:.2f}, test ppl {history['test_ppl'][-1]:.2f}"
              + (f"; plot {png}" if png else ""))
    if args.export_onnx and lead:
        export_onnx(WithLogits(model), args.export_onnx, rnn=model.rnn)
    return {"history": history, "run": run, "model": model, "opt": opt, "vocab": vocab, "stopped": stopped,
            "epoch": epoch, "checkpoint": args.checkpoint, "plot": png}


if __name__ == "__main__":
    main(sys.argv[1:])
