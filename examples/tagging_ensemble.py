"""Several taggers trained side by side -- one process and one core each -- and decoded as one.

    python examples/ner.py --data DIR --ensemble 2     # two BiLSTM-CRFs (seeds 0 and 1) at once

``--ensemble N`` runs examples/tagging.py's ordinary training N times in parallel: N child
processes of the same script, member i with seed ``seed + i``, its own checkpoint
(``ner.m<i>.npz`` next to ``--checkpoint``), ``--threads / N`` threads and the same time budget.
The parent waits for them, loads each member's best model and decodes with their average:

    emissions   E = (1/N) sum_i E_i        (T, B, K): each token's score for each tag
    transitions A = (1/N) sum_i A_i        (K, K), and the start / end scores likewise
    tags        = Viterbi(E, A)            (--no-crf: the argmax of E per token)

A tag sequence's score under the averaged CRF is the mean of its scores under the members, so
Viterbi finds the path the members agree on best (a product of experts; averaging each member's
*probabilities* would need N marginal computations and is not what is done here). Members
trained from different seeds make different mistakes, mostly on rare words, and the average
cancels some of them. On a 2-core machine two one-thread members take about the wall time of
one two-thread model: the small per-sentence GEMMs of a tagger do not use the second core well.
``--resume PATH`` continues every member from its own checkpoint next to PATH.
"""
import os
import subprocess
import sys
import threading
import time

import numpy as np

import minigrad as mg
import minigrad.nn as nn

import tagging

# options the parent sets per member; everything else on the command line is passed through
_PER_MEMBER = ("--ensemble", "--seed", "--checkpoint", "--resume", "--threads", "--show")


def member_paths(checkpoint, n):
    """ner.npz -> [ner.m0.npz, ner.m1.npz, ...]: where member i keeps its checkpoint."""
    base, ext = os.path.splitext(checkpoint)
    return [f"{base}.m{i}{ext or '.npz'}" for i in range(n)]


def _passed_through(argv):
    """``argv`` without the per-member options (``--opt value`` or ``--opt=value``)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in _PER_MEMBER:
            skip = True
        elif not a.startswith(tuple(o + "=" for o in _PER_MEMBER)):
            out.append(a)
    return out


class Ensemble:
    """Trained ``tagging.Tagger`` s decoded as one (see the module docstring); ``predict`` takes it
    as it takes one tagger."""

    def __init__(self, models):
        self.models, self.training = list(models), False
        crfs = [m.crf for m in self.models]
        self.crf = None
        if crfs[0] is not None:
            self.crf = nn.CRF(crfs[0].num_tags)
            for name in ("start_transitions", "end_transitions", "transitions"):
                getattr(self.crf, name).data[...] = np.mean([getattr(c, name).data for c in crfs], axis=0)

    def eval(self):
        return self.train(False)

    def train(self, mode=True):
        for m in self.models:
            m.train(mode)
        self.training = mode
        return self

    def emissions(self, batch):
        """The members' mean emission scores (T, B, K), a NumPy array."""
        return sum(m.emissions(batch).data for m in self.models) / len(self.models)

    def decode(self, batch):
        em = self.emissions(batch)
        if self.crf is not None:
            return self.crf.decode(mg.tensor(em), lengths=batch.lengths)
        best = em.argmax(axis=2)                                       # (T, B)
        return [best[:n, b].tolist() for b, n in enumerate(batch.lengths)]


def _relay(i, stream):
    for line in stream:
        print(f"[member {i}] {line}", end="", flush=True)


def train_members(task, args, argv):
    """Launch the N member runs, relay their output line by line, wait; returns their checkpoints."""
    n, script = args.ensemble, task.script
    paths = member_paths(args.resume or args.checkpoint, n)
    common = _passed_through(argv) + ["--ensemble", "1", "--show", "0", "--no-progress",
                                      "--threads", str(max(1, args.threads // n))]
    procs, relays = [], []
    for i, path in enumerate(paths):
        cmd = [sys.executable, script, *common, "--seed", str(args.seed + i), "--checkpoint", path]
        if args.resume:
            cmd += ["--resume", path]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        procs.append(p)
        relays.append(threading.Thread(target=_relay, args=(i, p.stdout), daemon=True))
        relays[-1].start()
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    for t in relays:
        t.join()
    failed = [i for i, c in enumerate(codes) if c != 0]
    if failed:
        raise SystemExit(f"{task.name}: ensemble member(s) {failed} stopped with exit code(s) "
                         f"{[codes[i] for i in failed]}; their output is above (prefixed [member i])")
    return paths


def run_ensemble(task, args, argv):
    """Train ``args.ensemble`` members in parallel, then score the ensemble on dev and test."""
    try:
        train, dev, test = task.load(args)             # a missing or malformed file stops us here
    except (tagging.CorpusFormatError, ValueError) as e:
        raise SystemExit(f"{task.name}: {e}") from e
    start = time.perf_counter()
    paths = train_members(task, args, argv)
    wall = time.perf_counter() - start
    states = [tagging.load_checkpoint(p) for p in paths]
    vocabs = states[0]["vocabs"]
    for p, st in zip(paths[1:], states[1:]):
        if st["vocabs"]["words"].get_itos() != vocabs["words"].get_itos():
            raise SystemExit(f"{task.name}: {p} was trained with another vocabulary than {paths[0]} "
                             "(different training data?); members must share it")
    models = []
    for st in states:
        st["model"].load_state_dict(st["best_model"])
        models.append(st["model"])
    itos = vocabs["tags"].get_itos()
    enc = {name: tagging.Encoded(split, vocabs, states[0]["run"]["max_word_len"], name)
           for name, split in (("dev", dev), ("test", test))}

    def score(model, name):
        pred = [[itos[t] for t in p] for p in tagging.predict(model, enc[name])]
        return task.score([ts for _, ts in enc[name].sentences], pred) + (pred,)

    members = [score(m, "test")[0] for m in models]
    ensemble = Ensemble(models)
    dev_score = score(ensemble, "dev")[0]
    test_score, report, pred = score(ensemble, "test")
    print(f"members' test {task.metric}: {', '.join(f'{s:.2f}' for s in members)} (seeds {args.seed}.."
          f"{args.seed + len(models) - 1}, best epochs {[st['best_epoch'] for st in states]})")
    print(f"ensemble of {len(models)} ({wall / 60:.1f} min): dev {task.metric} {dev_score:.2f}, "
          f"test {task.metric} {test_score:.2f}")
    print(report)
    for (words, _), tags in list(zip(test, pred))[:args.show]:
        print("  " + task.show(words, tags))
    return {"dev": dev_score, "test": test_score, "report": report, "members": members,
            "model": ensemble, "vocabs": vocabs, "checkpoints": paths, "train_seconds": wall,
            "encoded": enc}
