"""The BiLSTM(-CRF) sequence tagger shared by examples/ner.py and examples/pos_tag.py.

Model (Lample et al. 2016, "Neural Architectures for Named Entity Recognition"), per token:

    word embedding (lowercased, digits -> 0)  ++  case-pattern embedding  ++  char-BiLSTM(word)
      -> dropout -> BiLSTM over the sentence (``--layers`` stacked, dropout between)
      -> dropout -> Linear: K emission scores
      -> nn.CRF (negative log-likelihood, Viterbi decoding), or softmax cross-entropy (--no-crf)

The characters keep their case, so lowercasing the word vocabulary loses nothing the case
embedding and the char-BiLSTM do not see. Training: batches of sentences of similar length
(sorted, cut, shuffled each epoch), training words seen once replaced by <unk> with probability
``--word-dropout`` (so <unk> is learnt), Adam or SGD with gradient-norm clipping, a dev
evaluation after every epoch, the best model kept, early stopping after ``--patience`` epochs
without improvement or when ``--minutes`` run out (wall time, or with ``--clock cpu`` the
process's CPU time: on a shared machine the wall time grows with the load). The checkpoint
(atomic ``mg.save``) holds the vocabularies, the model, the best model, the optimizer, the
random state and the time spent: ``--resume`` continues from the last finished epoch with the
rest of the budget.

``--ensemble N`` trains N such taggers side by side and decodes with their averaged scores
(examples/tagging_ensemble.py).

A task (ner.py, pos_tag.py) supplies: its script (``script``: what ``--ensemble`` runs once per
member), the three splits, how to score predicted tags (entity F1, accuracy), how to print a
tagged sentence and its own option defaults (``defaults``: the settings that reached its
target); ``run(task, argv)`` does the rest.
"""
import argparse
import re
import sys
import time
from contextlib import contextmanager, nullcontext

import numpy as np

import minigrad as mg
import minigrad.functional as F
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad.text import CorpusFormatError, Vocab, build_vocab_from_iterator

PAD, UNK = "<pad>", "<unk>"            # index 0 and 1 of the word and char vocabularies

# Options that define a run (saved in the checkpoint, restored by --resume) and --quick's settings.
RUN_KEYS = ("word_dim", "case_dim", "char_dim", "char_hidden", "hidden", "layers", "dropout", "word_dropout", "crf",
            "optimizer", "lr", "lr_decay", "momentum", "clip", "batch_size", "max_word_len", "ema", "seed")
QUICK = dict(word_dim=16, case_dim=4, char_dim=8, char_hidden=8, hidden=16, batch_size=4, epochs=8,
             patience=8, minutes=1.0, lr=0.01, dropout=0.0, word_dropout=0.0, ensemble=1)


# ----------------------------------------------------------------------------- token features
def normalize_word(word):
    """The word-embedding key: lowercased, every digit 0 (dates and numbers share their rows)."""
    return re.sub(r"\d", "0", word.lower())


CASES = ("pad", "lower", "upper", "title", "mixed", "numeric", "has_digit", "other")


def case_pattern(word):
    """Index into ``CASES`` of the word's capitalisation pattern (what lowercasing throws away)."""
    if word.isdigit():
        return 5
    if any(c.isdigit() for c in word):
        return 6
    if not any(c.isalpha() for c in word):
        return 7
    if word.islower():
        return 1
    if word.isupper():
        return 2
    if word[0].isupper() and word[1:].islower():
        return 3
    return 4


def build_vocabs(train, vectors_words=()):
    """Word (normalised), char and tag vocabularies from the training sentences [(words, tags)].

    Words of ``vectors_words`` (the pretrained vectors' words that occur in any split) join the
    word vocabulary, so their vectors are used even if training never saw them.
    """
    words = build_vocab_from_iterator(([normalize_word(w) for w in ws] for ws, _ in train),
                                      specials=[PAD, UNK])
    extra = sorted(set(vectors_words) - set(words.get_itos()))
    words = Vocab(words.get_itos() + extra)
    words.set_default_index(1)
    chars = build_vocab_from_iterator(([c for w in ws for c in w] for ws, _ in train), specials=[PAD, UNK])
    chars.set_default_index(1)
    tags = build_vocab_from_iterator(ts for _, ts in train)
    return {"words": words, "chars": chars, "tags": tags}


class Encoded:
    """A split's sentences as id arrays: words, cases, tags (n_i,), chars (n_i, L_i) and char lengths."""

    def __init__(self, sentences, vocabs, max_word_len, name):
        tag_vocab = vocabs["tags"]
        self.sentences = sentences
        self.words, self.cases, self.tags, self.chars, self.char_lens = [], [], [], [], []
        for ws, ts in sentences:
            unknown = [t for t in ts if t not in tag_vocab]
            if unknown:
                raise ValueError(f"the {name} split has tag {unknown[0]!r}, which the training split never uses "
                                 f"(training tags: {', '.join(tag_vocab.get_itos())})")
            self.words.append(np.array(vocabs["words"]([normalize_word(w) for w in ws]), dtype=np.int64))
            self.cases.append(np.array([case_pattern(w) for w in ws], dtype=np.int64))
            self.tags.append(np.array(tag_vocab(ts), dtype=np.int64))
            # Words longer than max_word_len keep their first and last max_word_len/2 characters
            # (prefix and suffix carry the information; URLs and runs of dashes are cut).
            half = max_word_len // 2
            cut = [w if len(w) <= max_word_len else w[:half] + w[len(w) - (max_word_len - half):] for w in ws]
            lens = np.array([len(w) for w in cut], dtype=np.int64)
            ch = np.zeros((len(ws), max(1, int(lens.max()))), dtype=np.int64)
            for i, w in enumerate(cut):
                ch[i, :len(w)] = vocabs["chars"](list(w))
            self.chars.append(ch)
            self.char_lens.append(lens)
        self.lengths = np.array([len(ws) for ws, _ in sentences], dtype=np.int64)

    def __len__(self):
        return len(self.sentences)


class Batch:
    """Padded, time-major arrays for sentences ``index`` of an ``Encoded`` split.

    words, cases, tags (T, B); chars (T, B, L); char_lens (T, B) (0 at padded steps); lengths (B,).
    """

    def __init__(self, data, index):
        self.index = np.asarray(index)
        self.lengths = data.lengths[self.index]
        T, B = int(self.lengths.max()), len(self.index)
        L = max(data.chars[i].shape[1] for i in self.index)
        self.words = np.zeros((T, B), dtype=np.int64)
        self.cases = np.zeros((T, B), dtype=np.int64)
        self.tags = np.zeros((T, B), dtype=np.int64)
        self.chars = np.zeros((T, B, L), dtype=np.int64)
        self.char_lens = np.zeros((T, B), dtype=np.int64)
        for b, i in enumerate(self.index):
            n, ch = len(data.words[i]), data.chars[i]
            self.words[:n, b], self.cases[:n, b], self.tags[:n, b] = data.words[i], data.cases[i], data.tags[i]
            self.chars[:n, b, :ch.shape[1]] = ch
            self.char_lens[:n, b] = data.char_lens[i]


def length_batches(data, batch_size, rng=None):
    """Batches of sentences of similar length: sorted by length (ties in random order when ``rng``
    is given), cut into ``batch_size`` pieces, the pieces shuffled (rng) or in order (None)."""
    ties = rng.random(len(data)) if rng is not None else np.arange(len(data))
    order = np.lexsort((ties, data.lengths))
    pieces = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        pieces = [pieces[i] for i in rng.permutation(len(pieces))]
    return [Batch(data, p) for p in pieces]


# ----------------------------------------------------------------------------------- the model
class Tagger(nn.Module):
    """Token features -> BiLSTM -> emission scores (T, B, K) -> CRF or softmax."""

    def __init__(self, n_words, n_chars, n_tags, word_dim=100, case_dim=8, char_dim=25, char_hidden=25,
                 hidden=200, dropout=0.5, crf=True, layers=1):
        super().__init__()
        self.word_emb = nn.Embedding(n_words, word_dim, padding_idx=0)
        # N(0, 1) rows would dwarf the other features: U(-sqrt(3/d), sqrt(3/d)) has variance 1/d
        bound = float(np.sqrt(3.0 / word_dim))
        nn.init.uniform_(self.word_emb.weight, -bound, bound)
        self.word_emb.weight.data[0] = 0
        self.case_emb = nn.Embedding(len(CASES), case_dim, padding_idx=0) if case_dim else None
        self.chars = nn.CharEncoder(n_chars, char_dim, char_hidden, padding_idx=0) if char_hidden else None
        features = word_dim + case_dim + (2 * char_hidden if char_hidden else 0)
        self.drop = nn.Dropout(dropout)
        # with layers > 1 the same dropout sits between the stacked BiLSTMs
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                            bidirectional=True)
        self.proj = nn.Linear(2 * hidden, n_tags)
        self.crf = nn.CRF(n_tags) if crf else None

    def emissions(self, batch):
        x = [self.word_emb(batch.words)]                               # (T, B, word_dim)
        if self.case_emb is not None:
            x.append(self.case_emb(batch.cases))                       # (T, B, case_dim)
        if self.chars is not None:
            x.append(self.chars(batch.chars, batch.char_lens))         # (T, B, 2 char_hidden)
        x = self.drop(mg.concat(x, axis=2) if len(x) > 1 else x[0])
        out, _ = self.lstm(x, lengths=batch.lengths)                   # (T, B, 2 hidden), 0 at padding
        return self.proj(self.drop(out))                               # (T, B, K)

    def loss(self, batch, words=None):
        """Mean negative log-likelihood per real token (CRF) or mean cross-entropy per real token."""
        em = self.emissions(batch)
        if self.crf is not None:
            return self.crf(em, batch.tags, lengths=batch.lengths, reduction="token_mean")
        real = np.arange(em.shape[0])[:, None] < batch.lengths[None, :]   # (T, B)
        target = np.where(real, batch.tags, -100)
        return F.cross_entropy(em.reshape(-1, em.shape[2]), target.reshape(-1), ignore_index=-100)

    def decode(self, batch):
        """Best tag ids of each sentence of the batch: a list of B lists (Viterbi or argmax)."""
        em = self.emissions(batch)
        if self.crf is not None:
            return self.crf.decode(em, lengths=batch.lengths)
        best = em.data.argmax(axis=2)                                  # (T, B)
        return [best[:n, b].tolist() for b, n in enumerate(batch.lengths)]


def predict(model, data, batch_size=64):
    """Predicted tag ids of every sentence of ``data`` (eval mode, no tape), in the split's order."""
    was_training = model.training
    model.eval()
    out = [None] * len(data)
    with mg.no_grad():
        for batch in length_batches(data, batch_size):
            for i, tags in zip(batch.index, model.decode(batch)):
                out[i] = tags
    model.train(was_training)
    return out


class WeightAverage:
    """An exponential moving average of the parameters (Polyak averaging), evaluated in their place.

    After every optimizer step: avg += (1 - d) (param - avg) with d = min(decay, (1 + t) / (10 + t))
    at step t, so the first steps do not keep the random initialisation. The average of the
    last few hundred steps is a smoother model than the last step's (the dev score jumps less).
    """

    def __init__(self, params, decay, arrays=None, steps=0):
        self.params, self.decay, self.steps = params, decay, steps
        self.arrays = [p.data.copy() for p in params] if arrays is None else [np.array(a) for a in arrays]

    def update(self):
        self.steps += 1
        d = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        for a, p in zip(self.arrays, self.params):
            a += (1.0 - d) * (p.data - a)

    @contextmanager
    def applied(self):
        """Inside the block the parameters hold the average; the trained values come back after."""
        live = [p.data.copy() for p in self.params]
        for a, p in zip(self.arrays, self.params):
            p.data[...] = a
        try:
            yield
        finally:
            for x, p in zip(live, self.params):
                p.data[...] = x


def load_vectors(path, vocab_keys):
    """GloVe-format text vectors (``word v1 ... vd`` per line) of the words in ``vocab_keys``
    (normalised words); returns (dict key -> float32 vector, d). A line with another number of
    values than the first raises CorpusFormatError."""
    vectors, dim = {}, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip().split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue                                 # word2vec text header "count dim"
            if dim is None:
                dim = len(parts) - 1
                if dim < 1:
                    raise CorpusFormatError(path, lineno, f"expected a word and its vector values, got {line!r}")
            if len(parts) - 1 != dim:
                raise CorpusFormatError(path, lineno, f"expected {dim} values after the word as on the first "
                                        f"line, got {len(parts) - 1}")
            key = normalize_word(parts[0])
            if key in vocab_keys and key not in vectors:
                try:
                    vectors[key] = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    raise CorpusFormatError(path, lineno, "expected numbers after the word") from None
    if dim is None:
        raise CorpusFormatError(path, 1, "expected word vectors, the file is empty")
    return vectors, dim


# -------------------------------------------------------------------------------- the run
def parse_args(task, argv):
    p = argparse.ArgumentParser(description=task.description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = p.add_argument
    a("--data", metavar="DIR", help=task.data_help)
    task.add_arguments(p)
    a("--no-crf", dest="crf", action="store_false", help="softmax cross-entropy per token instead of the CRF")
    a("--word-dim", type=int, default=100, help="word embedding size (the vectors' size with --vectors)")
    a("--case-dim", type=int, default=8, help="capitalisation-pattern embedding size (0: none)")
    a("--char-dim", type=int, default=25, help="character embedding size")
    a("--char-hidden", type=int, default=25, help="char-BiLSTM size per direction (0: no char features)")
    a("--hidden", type=int, default=100, help="word BiLSTM size per direction")
    a("--layers", type=int, default=1, help="stacked word BiLSTMs")
    a("--dropout", type=float, default=0.5, help="dropout on the token features and the BiLSTM output")
    a("--word-dropout", type=float, default=0.5, help="probability of replacing a word seen once by <unk>")
    a("--vectors", metavar="FILE", help="GloVe-format text vectors to start the word embeddings from")
    a("--optimizer", choices=("adam", "sgd"), default="adam")
    a("--lr", type=float, default=None, help="learning rate (default 1e-3 for Adam, 0.015 for SGD)")
    a("--lr-decay", type=float, default=0.0, help="lr / (1 + lr_decay * epoch) (0.05 with SGD is usual)")
    a("--momentum", type=float, default=0.9, help="SGD momentum")
    a("--clip", type=float, default=5.0, help="max gradient norm")
    a("--ema", type=float, default=0.0, help="evaluate an exponential moving average of the weights with this "
      "decay per step (e.g. 0.999; 0: the trained weights)")
    a("--batch-size", type=int, default=16, help="sentences per batch")
    a("--max-word-len", type=int, default=30, help="longer words keep their first and last characters")
    a("--epochs", type=int, default=100)
    a("--patience", type=int, default=5, help="stop after this many epochs without a better dev score")
    a("--minutes", type=float, default=15.0, help="training time budget (dev evaluations included)")
    a("--clock", choices=("wall", "cpu"), default="wall", help="what --minutes counts: wall time, or the "
      "process's CPU time (load-independent on a shared machine; use with --threads 1)")
    a("--seed", type=int, default=0)
    a("--ensemble", type=int, default=1, metavar="N", help="train N taggers in parallel (seeds seed..seed+N-1, "
      "threads/N threads each) and decode with their averaged scores (examples/tagging_ensemble.py)")
    a("--threads", type=int, default=2)
    a("--checkpoint", default=f"{task.name}.npz", help="where to save checkpoints (after every epoch)")
    a("--resume", metavar="PATH", help="continue the run saved in this checkpoint")
    a("--show", type=int, default=5, help="tagged test sentences to print")
    a("--quick", action="store_true", help="smoke test: a tiny model for a few epochs")
    a("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(**task.defaults)
    args = p.parse_args(argv)
    if args.ensemble < 1:
        p.error(f"--ensemble must be at least 1, got {args.ensemble}")
    if args.quick:
        given = {s.split("=")[0].lstrip("-").replace("-", "_") for s in (argv or []) if s.startswith("--")}
        for k, v in QUICK.items():
            if k not in given:
                setattr(args, k, v)
    if args.lr is None:
        args.lr = 1e-3 if args.optimizer == "adam" else 0.015
    return args


def build(run, vocabs):
    """Model, optimizer and per-epoch lr scheduler for the run options ``run``."""
    model = Tagger(len(vocabs["words"]), len(vocabs["chars"]), len(vocabs["tags"]), run["word_dim"],
                   run["case_dim"], run["char_dim"], run["char_hidden"], run["hidden"], run["dropout"], run["crf"],
                   run.get("layers", 1))
    if run["optimizer"] == "adam":
        opt = optim.Adam(model.parameters(), lr=run["lr"])
    else:
        opt = optim.SGD(model.parameters(), lr=run["lr"], momentum=run["momentum"])
    sched = optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / (1.0 + run["lr_decay"] * epoch))
    return model, opt, sched


def save_checkpoint(path, state):
    """``state``: run, vocabs, model, opt, sched, epoch, best (score, epoch, weights), history and
    the training seconds spent (wall, CPU: a resumed run continues its budget)."""
    mg.save({"run": state["run"], "vocabs": {k: v.state_dict() for k, v in state["vocabs"].items()},
             "model": state["model"].state_dict(), "optim": state["opt"].state_dict(),
             "sched": state["sched"].state_dict(), "epoch": state["epoch"], "best_score": state["best_score"],
             "best_epoch": state["best_epoch"], "best_model": state["best_model"],
             "ema": state["ema"].arrays if state["ema"] else [],
             "ema_steps": state["ema"].steps if state["ema"] else 0,
             "history": {k: np.asarray(v, dtype=np.float64) for k, v in state["history"].items()},
             "train_wall": state["train_wall"], "train_cpu": state["train_cpu"],
             "rng": mg.default_generator().bit_generator.state}, path)


def load_checkpoint(path):
    """The state ``save_checkpoint`` wrote, with the model, optimizer and scheduler rebuilt."""
    ck = mg.load(path)
    vocabs = {k: Vocab.from_state_dict(v) for k, v in ck["vocabs"].items()}
    model, opt, sched = build(ck["run"], vocabs)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    sched.load_state_dict(ck["sched"])
    ema = None
    if ck["run"]["ema"]:
        ema = WeightAverage(list(model.parameters()), ck["run"]["ema"], ck["ema"], ck["ema_steps"])
    return dict(ema=ema, run=ck["run"], vocabs=vocabs, model=model, opt=opt, sched=sched, epoch=ck["epoch"],
                best_score=ck["best_score"], best_epoch=ck["best_epoch"], best_model=ck["best_model"],
                history={k: list(v) for k, v in ck["history"].items()}, rng=ck["rng"],
                train_wall=float(ck.get("train_wall", 0.0)), train_cpu=float(ck.get("train_cpu", 0.0)))


def new_state(args, train, dev, test):
    """A fresh run: vocabularies (with the covered pretrained words), model, optimizer."""
    run = {k: getattr(args, k) for k in RUN_KEYS}
    mg.manual_seed(run["seed"])
    vectors = {}
    if args.vectors:
        keys = {normalize_word(w) for split in (train, dev, test) for ws, _ in split for w in ws}
        vectors, run["word_dim"] = load_vectors(args.vectors, keys)
    vocabs = build_vocabs(train, vectors)
    model, opt, sched = build(run, vocabs)
    if vectors:
        itos = vocabs["words"].get_itos()
        rows = [i for i, w in enumerate(itos) if w in vectors]
        model.word_emb.weight.data[rows] = np.stack([vectors[itos[i]] for i in rows])
        print(f"--vectors: {len(rows):,} of {len(itos):,} words start from {args.vectors}")
    return dict(run=run, vocabs=vocabs, model=model, opt=opt, sched=sched, epoch=0, best_score=-1.0,
                best_epoch=0, best_model=None, history={"loss": [], "dev": []}, train_wall=0.0, train_cpu=0.0,
                ema=WeightAverage(list(model.parameters()), run["ema"]) if run["ema"] else None)


class TrainClock:
    """The training time spent so far, wall and CPU seconds, carried across ``--resume``.

    ``kind`` ("wall" or "cpu") is the one the ``--minutes`` budget counts. On a machine shared with
    other jobs the wall time grows with the load; the process's CPU time does not (with
    ``--threads 1`` it is the wall time the run would take on an idle core).
    """

    def __init__(self, kind, wall=0.0, cpu=0.0):
        self.kind = kind
        self.start_wall, self.start_cpu = time.perf_counter() - wall, time.process_time() - cpu

    def wall(self):
        return time.perf_counter() - self.start_wall

    def cpu(self):
        return time.process_time() - self.start_cpu

    def spent(self):
        """Seconds of the budget used: CPU or wall time."""
        return self.cpu() if self.kind == "cpu" else self.wall()


def averaged(state):
    """A context in which the model holds the weights it is evaluated with (the average if any)."""
    return state["ema"].applied() if state["ema"] is not None else nullcontext()


def _progress(total, disable, desc):
    if disable:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="batch", dynamic_ncols=True, leave=False)


def run(task, argv=None):
    """Train and evaluate the tagger for ``task``; returns a dict (scores, history, model, ...)."""
    args = parse_args(task, argv)
    if args.ensemble > 1:
        import tagging_ensemble                      # examples/tagging_ensemble.py, next to this file
        return tagging_ensemble.run_ensemble(task, args, list(argv if argv is not None else sys.argv[1:]))
    mg.set_num_threads(args.threads)
    try:
        train, dev, test = task.load(args)
        state = load_checkpoint(args.resume) if args.resume else new_state(args, train, dev, test)
        if args.resume:
            mg.default_generator().bit_generator.state = state["rng"]
            print(f"resuming {args.resume} after epoch {state['epoch']}")
        vocabs, model, opt, sched, runo = state["vocabs"], state["model"], state["opt"], state["sched"], state["run"]
        enc = {name: Encoded(split, vocabs, runo["max_word_len"], name)
               for name, split in (("train", train), ("dev", dev), ("test", test))}
    except (CorpusFormatError, ValueError) as e:
        raise SystemExit(f"{task.name}: {e}") from e
    itos = vocabs["tags"].get_itos()

    def score(name):
        pred = [[itos[t] for t in p] for p in predict(model, enc[name])]
        return task.score([ts for _, ts in enc[name].sentences], pred) + (pred,)

    # words seen once in training: replaced by <unk> with probability word_dropout
    counts = np.bincount(np.concatenate(enc["train"].words), minlength=len(vocabs["words"]))
    singleton = counts == 1
    params = list(model.parameters())
    rng = mg.default_generator()
    print(f"{task.name}: {len(train):,} / {len(dev):,} / {len(test):,} sentences, {len(vocabs['words']):,} words, "
          f"{len(vocabs['chars'])} chars, {len(itos)} tags; {'CRF' if runo['crf'] else 'softmax'}, "
          f"{model.num_parameters():,} parameters, {args.threads} threads")
    budget, clock = args.minutes * 60.0, TrainClock(args.clock, state["train_wall"], state["train_cpu"])
    model.train()
    while state["epoch"] < args.epochs and state["epoch"] - state["best_epoch"] < args.patience:
        if clock.spent() > budget:
            break
        batches = length_batches(enc["train"], runo["batch_size"], rng)
        bar = _progress(len(batches), args.no_progress, f"epoch {state['epoch'] + 1}")
        total, tokens, t_epoch = 0.0, 0, time.perf_counter()
        for batch in batches:
            if runo["word_dropout"]:
                drop = singleton[batch.words] & (rng.random(batch.words.shape) < runo["word_dropout"])
                batch.words[drop] = 1
            loss = model.loss(batch)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, runo["clip"])
            opt.step()
            if state["ema"] is not None:
                state["ema"].update()
            lv = float(loss.item())
            total, tokens = total + lv * batch.lengths.sum(), tokens + batch.lengths.sum()
            if bar is not None:
                bar.set_postfix_str(f"loss {lv:.3f}", refresh=False)
                bar.update(1)
            if clock.spent() > budget:
                break
        if bar is not None:
            bar.close()
        sched.step()
        state["epoch"] += 1
        with averaged(state):
            dev_score = score("dev")[0]
        state["history"]["loss"].append(float(total / max(tokens, 1)))
        state["history"]["dev"].append(float(dev_score))
        better = dev_score > state["best_score"]
        if better:
            state["best_score"], state["best_epoch"] = dev_score, state["epoch"]
            with averaged(state):
                state["best_model"] = {k: v.copy() for k, v in model.state_dict().items()}
        print(f"epoch {state['epoch']}: train loss {total / max(tokens, 1):.4f} per token, dev {task.metric} "
              f"{dev_score:.2f}{' (best)' if better else ''}, {time.perf_counter() - t_epoch:.0f} s, "
              f"{clock.wall():.0f} s in all ({clock.cpu():.0f} s of CPU)", flush=True)
        state["train_wall"], state["train_cpu"] = clock.wall(), clock.cpu()
        save_checkpoint(args.checkpoint, state)
    train_seconds, cpu_seconds = clock.wall(), clock.cpu()
    if state["best_model"] is not None:
        model.load_state_dict(state["best_model"])
    dev_score, _, _ = score("dev")
    test_score, report, pred = score("test")
    print(f"best epoch {state['best_epoch']} of {state['epoch']} ({train_seconds / 60:.1f} min, "
          f"{cpu_seconds / 60:.1f} min of CPU): "
          f"dev {task.metric} {dev_score:.2f}, test {task.metric} {test_score:.2f}")
    print(report)
    for (words, _), tags in list(zip(test, pred))[:args.show]:
        print("  " + task.show(words, tags))
    return {"dev": dev_score, "test": test_score, "report": report, "history": state["history"],
            "epoch": state["epoch"], "best_epoch": state["best_epoch"], "model": model, "opt": opt,
            "vocabs": vocabs, "checkpoint": args.checkpoint, "train_seconds": train_seconds,
            "cpu_seconds": cpu_seconds, "encoded": enc}
