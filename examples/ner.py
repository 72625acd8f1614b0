"""Named-entity recognition on CoNLL-2003 English with a BiLSTM-CRF (Lample et al. 2016).

    python examples/ner.py --data DIR                 # DIR holds eng.train eng.testa eng.testb (IOB1)
                                                      # or train.txt valid.txt test.txt (IOB2)
    python examples/ner.py --data DIR --ensemble 1    # one tagger (default: two, averaged, one per core)
    python examples/ner.py --data DIR --no-crf        # softmax per token instead of the CRF
    python examples/ner.py --data DIR --vectors glove.6B.100d.txt
    python examples/ner.py --data DIR --resume ner.npz
    python examples/ner.py --data DIR --clock cpu     # --minutes counts CPU time, not wall time (a busy
                                                      # machine slows every epoch down)
    python examples/ner.py --data DIR --quick         # a tiny model for a few epochs (CI smoke test)

The model and the training loop are examples/tagging.py's (shared with pos_tag.py). The tags
are read as BIO (IOB1 files converted), trained as IOBES (``--tags bio`` to keep BIO) and
converted back to BIO for evaluation: entity-level precision, recall and F1 by ``seqeval``
(the CoNLL evaluation script's rules), per entity type; early stopping on dev F1.

By default two taggers train side by side, one per core (``--ensemble 2``: seeds ``seed`` and
``seed + 1``, one thread each, examples/tagging_ensemble.py), and the test set is tagged with
their averaged emission and transition scores. One model's test F1 moves by about +-0.4 with the
seed; the average of two is about 0.6 higher and moves less, in the wall time of one model.

Measured (AMD EPYC Zen 3, AVX2/FMA, 2 cores, random word embeddings, ``python examples/ner.py
--data DIR --seed S``, nothing else running): seed 0 (members 0 and 1) test F1 85.25, dev 90.96
(LOC 89.6, MISC 75.0, ORG 80.8, PER 89.9; members alone 85.09 and 84.34), 14.4 min of training;
seed 2 (members 2 and 3) test F1 85.21 (members 84.41 and 84.70), 14.1 min; seed 4 test F1 85.42
(members 84.92 and 84.70; 22.2 min, sharing the cores with a CI run). Single models (``--ensemble
1``, the same settings) over seeds 0-5: 85.09, 84.34, 84.41, 84.70, 84.92, 84.70; ``--char-hidden
50`` (84.65, 84.40) and ``--layers 2`` (84.37, 84.77, 1.6x the time) were no better. Lample et
al.'s ablation without pretrained embeddings is about 83.6; their full model with pretrained
embeddings 90.94.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tagging  # noqa: E402  (examples/tagging.py, next to this file)

from minigrad.text import bio_to_iobes, iobes_to_bio, read_conll  # noqa: E402

# the two layouts of CoNLL-2003: the original release (IOB1) and the common IOB2 copies
LAYOUTS = ((("eng.train", "eng.testa", "eng.testb"), "iob1"),
           (("train.txt", "valid.txt", "test.txt"), "iob2"))


def find_files(directory):
    """(train, dev, test paths, scheme) of the first layout found in ``directory`` (or its iob2/)."""
    for sub in ("", "iob2"):
        for names, scheme in LAYOUTS:
            paths = [os.path.join(directory, sub, n) for n in names]
            if all(os.path.isfile(p) for p in paths):
                return paths, scheme
    return None, None


class NER:
    name, metric = "ner", "F1"
    script = os.path.abspath(__file__)      # what --ensemble runs once per member
    # NER overfits fast and dev F1 jumps by +-0.5 between epochs: a decaying lr and a patient early
    # stop (with lr_decay 0 and patience 5 the CoNLL run stopped at epoch 17, test F1 84.4)
    defaults = dict(minutes=30.0, lr_decay=0.1, patience=10, ensemble=2)
    description = __doc__.split("\n")[0]
    data_help = ("directory with CoNLL-2003: eng.train eng.testa eng.testb (IOB1) or train.txt valid.txt "
                 "test.txt (IOB2)")

    @staticmethod
    def add_arguments(p):
        p.add_argument("--scheme", choices=("auto", "iob1", "iob2"), default="auto",
                       help="the files' tagging (auto: iob1 for eng.*, iob2 for *.txt)")
        p.add_argument("--tags", choices=("iobes", "bio"), default="iobes", help="the tags the model learns")

    @staticmethod
    def load(args):
        if not args.data:
            raise SystemExit("ner.py needs the CoNLL-2003 English data: put eng.train, eng.testa and eng.testb "
                             "(the original IOB1 release) or train.txt, valid.txt and test.txt (IOB2) in a "
                             "directory and pass --data DIR")
        paths, scheme = find_files(args.data)
        if paths is None:
            raise SystemExit(f"ner.py: {args.data} has neither eng.train/eng.testa/eng.testb nor "
                             "train.txt/valid.txt/test.txt (nor an iob2/ folder with them)")
        scheme = scheme if args.scheme == "auto" else args.scheme
        print(f"reading {', '.join(paths)} as {scheme.upper()}")
        return [read_conll(p, scheme=scheme, to=args.tags) for p in paths]

    @staticmethod
    def score(gold, pred):
        """Entity-level micro F1 (in %) and seqeval's per-type report, on BIO tags."""
        try:
            from seqeval.metrics import classification_report, f1_score
        except ImportError:
            raise SystemExit("ner.py evaluates with seqeval: pip install seqeval (or minigrad[examples])") from None
        gold, pred = [iobes_to_bio(t) for t in gold], [iobes_to_bio(t) for t in pred]
        return (100.0 * f1_score(gold, pred, zero_division=0),
                classification_report(gold, pred, digits=4, zero_division=0))

    @staticmethod
    def show(words, tags):
        """'[EU]ORG rejects [German]MISC call': the entities in brackets with their type."""
        out, tags = [], bio_to_iobes(iobes_to_bio(tags))
        for w, t in zip(words, tags):
            out.append(w if t == "O" else ("[" if t[0] in "BS" else "") + w + ("]" + t[2:] if t[0] in "ES" else ""))
        return " ".join(out)


def main(argv=None):
    """Run the example; returns tagging.run's dict (dev/test F1, report, history, model, ...)."""
    return tagging.run(NER, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
