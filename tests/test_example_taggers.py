"""examples/ner.py and examples/pos_tag.py (the shared examples/tagging.py) in quick mode.

Each test writes a tiny corpus with a learnable pattern into tmp_path (never the shared data):
the quick run's loss goes down and its test score beats a trivial baseline; a checkpoint
restores the same predictions; --resume continues the very same run; malformed files and a
missing --data stop with a clear message.
"""
import os

import numpy as np
import pytest

import minigrad as mg

from _examples import load_example


_load = load_example


@pytest.fixture(scope="module")
def ner():
    pytest.importorskip("seqeval")
    return _load("ner")


@pytest.fixture(scope="module")
def pos_tag():
    return _load("pos_tag")


def _quick(tmp_path, name, *extra):
    # One thread: results are bitwise identical for any thread count, and a shared machine
    # cannot stall a test on an OpenMP barrier.
    return ["--quick", "--no-progress", "--threads", "1", "--show", "2",
            "--checkpoint", str(tmp_path / f"{name}.npz"), *extra]


# ------------------------------------------------------------------------ tiny corpora
PEOPLE, PLACES, FIRMS = ["John", "Mary", "Ahmed", "Li"], ["Paris", "Oslo", "Lima"], ["Acme", "Initech"]
FILLER = ["said", "that", "the", "visit", "to", "was", "good", "in", "from", "met", "a", "talk"]


def _ner_sentence(rng):
    """Filler words with entities: a person (one or two tokens), a place, sometimes a firm."""
    words, tags = [], []
    for _ in range(rng.integers(2, 4)):
        k = rng.integers(0, 3)
        if k == 0:
            n = rng.integers(1, 3)
            words += [str(rng.choice(PEOPLE)) for _ in range(n)]
            tags += ["I-PER"] * n                        # IOB1: an entity opens with I-
        elif k == 1:
            words.append(str(rng.choice(PLACES)))
            tags.append("I-LOC")
        else:
            words.append(str(rng.choice(FIRMS)))
            tags.append("I-ORG")
        m = rng.integers(1, 4)
        words += [str(rng.choice(FILLER)) for _ in range(m)]
        tags += ["O"] * m
    return words, tags


def _write_conll(path, sentences):
    lines = ["-DOCSTART- -X- O O", ""]
    for words, tags in sentences:
        lines += [f"{w} NN I-NP {t}" for w, t in zip(words, tags)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def ner_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("conll")
    rng = np.random.default_rng(0)
    for name, n in (("eng.train", 80), ("eng.testa", 20), ("eng.testb", 20)):
        _write_conll(d / name, [_ner_sentence(rng) for _ in range(n)])
    return d


NOUNS, VERBS, DETS, BOTH = ["dog", "cat", "man", "idea"], ["sees", "likes", "eats"], ["the", "a", "every"], ["walk", "run"]


def _pos_sentence(rng):
    """DET NOUN VERB DET NOUN . -- 'walk'/'run' are NOUN after a determiner and VERB elsewhere."""
    noun = lambda: str(rng.choice(NOUNS + BOTH))            # noqa: E731
    verb = lambda: str(rng.choice(VERBS + BOTH))            # noqa: E731
    return ([str(rng.choice(DETS)), noun(), verb(), str(rng.choice(DETS)), noun(), "."],
            ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"])


def _write_conllu(path, sentences):
    lines = []
    for i, (words, tags) in enumerate(sentences):
        lines.append(f"# sent_id = {i}")
        lines += ["\t".join([str(j + 1), w, w, t, "_", "_", "0", "dep", "_", "_"])
                  for j, (w, t) in enumerate(zip(words, tags))]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def pos_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("ud")
    rng = np.random.default_rng(1)
    for split, n in (("train", 60), ("dev", 15), ("test", 15)):
        _write_conllu(d / f"xx_toy-ud-{split}.conllu", [_pos_sentence(rng) for _ in range(n)])
    return d


# ---------------------------------------------------------------------------------- NER
@pytest.fixture(scope="module")
def ner_run(ner, ner_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ner_run")
    return ner.main(_quick(tmp, "ner", "--data", str(ner_data))), tmp


def test_ner_quick_learns_entities(ner_run):
    res, _ = ner_run
    loss = res["history"]["loss"]
    assert np.all(np.isfinite(loss)) and loss[-1] < 0.5 * loss[0]
    assert res["test"] >= 80.0                          # entity F1 in %; predicting all O scores 0
    assert "PER" in res["report"] and "LOC" in res["report"]
    assert res["vocabs"]["tags"].get_itos()[0] in {"O", "S-PER", "B-PER", "E-PER", "S-LOC", "S-ORG"}
    assert os.path.exists(res["checkpoint"])


def test_ner_checkpoint_restores_the_best_model(ner, ner_run):
    res, _ = ner_run
    tagging = ner.tagging
    ck = tagging.load_checkpoint(res["checkpoint"])
    assert ck["epoch"] == res["epoch"] and ck["best_epoch"] == res["best_epoch"]
    assert ck["vocabs"]["words"].get_itos() == res["vocabs"]["words"].get_itos()
    ck["model"].load_state_dict(ck["best_model"])
    test = res["encoded"]["test"]
    assert tagging.predict(ck["model"], test) == tagging.predict(res["model"], test)
    batch = tagging.length_batches(test, 8)[0]
    ck["model"].eval()
    res["model"].eval()
    with mg.no_grad():
        np.testing.assert_array_equal(ck["model"].emissions(batch).data, res["model"].emissions(batch).data)


def test_ner_resume_continues_the_same_run(ner, ner_data, tmp_path):
    # Dropout and word dropout on, so the restored random generator matters too; the weight
    # average (--ema) must be restored as well.
    common = ["--data", str(ner_data), "--dropout", "0.3", "--word-dropout", "0.5", "--patience", "99",
              "--ema", "0.9"]
    straight = ner.main(_quick(tmp_path, "straight", *common, "--epochs", "4"))
    ner.main(_quick(tmp_path, "part", *common, "--epochs", "2"))
    resumed = ner.main(_quick(tmp_path, "part", *common, "--epochs", "4", "--resume", str(tmp_path / "part.npz")))
    assert resumed["history"]["loss"] == straight["history"]["loss"]
    assert resumed["history"]["dev"] == straight["history"]["dev"]


def test_ner_resume_continues_the_time_budget(ner, ner_data, tmp_path):
    # the checkpoint keeps the training seconds spent: a resumed run whose budget is already used
    # up trains no further epoch, whichever clock counts the budget
    common = ["--data", str(ner_data), "--patience", "99", "--epochs", "4"]
    first = ner.main(_quick(tmp_path, "budget", *common, "--epochs", "2"))
    ck = ner.tagging.load_checkpoint(first["checkpoint"])
    assert ck["train_wall"] > 0 and ck["train_cpu"] > 0
    for clock in ("wall", "cpu"):
        spent = ck["train_" + clock] / 60
        again = ner.main(_quick(tmp_path, "budget", *common, "--clock", clock, "--minutes", str(0.9 * spent),
                                "--resume", first["checkpoint"]))
        assert again["epoch"] == 2 and again["train_seconds"] >= ck["train_wall"]


def test_ner_layers_stack_bilstms_and_the_checkpoint_keeps_them(ner, ner_data, tmp_path):
    # --layers 2: two stacked BiLSTMs with dropout between; the checkpoint rebuilds the same model
    res = ner.main(_quick(tmp_path, "deep", "--data", str(ner_data), "--layers", "2", "--dropout", "0.2",
                          "--epochs", "2"))
    model = res["model"]
    assert model.lstm.num_layers == 2 and model.lstm.dropout == 0.2
    ck = ner.tagging.load_checkpoint(res["checkpoint"])
    assert ck["run"]["layers"] == 2 and ck["model"].lstm.num_layers == 2
    ck["model"].load_state_dict(ck["best_model"])
    test = res["encoded"]["test"]
    assert ner.tagging.predict(ck["model"], test) == ner.tagging.predict(model, test)
    with pytest.raises(SystemExit, match="num_layers"):
        ner.main(_quick(tmp_path, "zero", "--data", str(ner_data), "--layers", "0"))


def test_ner_iob2_layout_and_show(ner, ner_data, tmp_path, capsys):
    # the same corpus as IOB2 in train.txt/valid.txt/test.txt under iob2/, read without --scheme
    from minigrad.text import read_conll
    (tmp_path / "iob2").mkdir()
    for src, dst in (("eng.train", "train.txt"), ("eng.testa", "valid.txt"), ("eng.testb", "test.txt")):
        _write_conll(tmp_path / "iob2" / dst, read_conll(str(ner_data / src), scheme="iob1"))
    res = ner.main(_quick(tmp_path, "iob2", "--data", str(tmp_path), "--epochs", "1", "--tags", "bio"))
    out = capsys.readouterr().out
    assert "as IOB2" in out and res["epoch"] == 1
    assert set(res["vocabs"]["tags"].get_itos()) <= {"O", "B-PER", "I-PER", "B-LOC", "B-ORG"}
    assert ner.NER.show(["John", "Li", "met", "Acme"], ["B-PER", "I-PER", "O", "S-ORG"]) == "[John Li]PER met [Acme]ORG"


def test_ner_malformed_file_and_missing_data(ner, ner_data, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("eng.train", "eng.testa", "eng.testb"):
        (bad / name).write_text((ner_data / name).read_text(encoding="utf-8"), encoding="utf-8")
    with open(bad / "eng.testa", "a", encoding="utf-8") as f:
        f.write("Bonn NNP LOC\n")                             # 3 columns where the file has 4
    n = len((bad / "eng.testa").read_text(encoding="utf-8").splitlines())
    with pytest.raises(SystemExit, match=f"eng.testa, line {n}: expected 4 columns"):
        ner.main(_quick(tmp_path, "bad", "--data", str(bad)))
    with pytest.raises(SystemExit, match="eng.train, eng.testa and eng.testb"):
        ner.main(_quick(tmp_path, "none"))
    with pytest.raises(SystemExit, match="has neither"):
        ner.main(_quick(tmp_path, "empty", "--data", str(tmp_path / "bad" / "..")))


# ---------------------------------------------------------------------------------- POS
def _majority_baseline(sentences):
    """Accuracy (%) of tagging every word with its most frequent training tag."""
    from collections import Counter, defaultdict
    counts = defaultdict(Counter)
    for ws, ts in sentences["train"]:
        for w, t in zip(ws, ts):
            counts[w][t] += 1
    pairs = [(w, t) for ws, ts in sentences["test"] for w, t in zip(ws, ts)]
    return 100.0 * np.mean([counts[w].most_common(1)[0][0] == t for w, t in pairs])


@pytest.mark.parametrize("crf", [True, False], ids=["crf", "softmax"])
def test_pos_quick_beats_the_word_baseline(pos_tag, pos_data, tmp_path, crf):
    res = pos_tag.main(_quick(tmp_path, "pos", "--data", str(pos_data), *([] if crf else ["--no-crf"])))
    loss = res["history"]["loss"]
    assert np.all(np.isfinite(loss)) and loss[-1] < 0.5 * loss[0]
    sentences = {k: v.sentences for k, v in res["encoded"].items()}
    baseline = _majority_baseline(sentences)
    assert baseline < 95.0                              # walk/run need the context ...
    assert res["test"] > baseline and res["test"] >= 95.0   # ... which the BiLSTM reads
    assert (res["model"].crf is not None) == crf
    assert "NOUN" in res["report"]


def test_pos_malformed_file_and_missing_data(pos_tag, pos_data, tmp_path):
    for split in ("train", "dev", "test"):
        src = (pos_data / f"xx_toy-ud-{split}.conllu").read_text(encoding="utf-8")
        if split == "dev":
            src = src.replace("\t", " ", 1)                # one line loses its tab separators
        (tmp_path / f"xx_toy-ud-{split}.conllu").write_text(src, encoding="utf-8")
    with pytest.raises(SystemExit, match=r"xx_toy-ud-dev.conllu, line 2: expected 10 tab-separated"):
        pos_tag.main(_quick(tmp_path, "bad", "--data", str(tmp_path)))
    with pytest.raises(SystemExit, match="en_ewt-ud-train.conllu"):
        pos_tag.main(_quick(tmp_path, "none"))
    with pytest.raises(SystemExit, match=r"expected one \*-ud-train.conllu"):
        pos_tag.main(_quick(tmp_path, "empty", "--data", str(tmp_path / "nothing")))


def test_vectors_start_the_word_embeddings(pos_tag, pos_data, tmp_path):
    # "zebra" occurs only in the test split: with a vector it joins the vocabulary anyway.
    test = (pos_data / "xx_toy-ud-test.conllu").read_text(encoding="utf-8")
    test += "\t".join(["1", "Zebra", "zebra", "NOUN", "_", "_", "0", "root", "_", "_"]) + "\n\n"
    for split in ("train", "dev"):
        (tmp_path / f"xx_toy-ud-{split}.conllu").write_text(
            (pos_data / f"xx_toy-ud-{split}.conllu").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "xx_toy-ud-test.conllu").write_text(test, encoding="utf-8")
    vec = {"dog": [0.5, -1.0, 2.0], "zebra": [1.5, 0.25, -0.75], "absent": [9.0, 9.0, 9.0]}
    glove = tmp_path / "vectors.txt"
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vec.items()), encoding="utf-8")
    res = pos_tag.main(_quick(tmp_path, "vec", "--data", str(tmp_path), "--vectors", str(glove),
                              "--epochs", "1", "--lr", "0"))
    words = res["vocabs"]["words"]
    weight = res["model"].word_emb.weight.data
    assert weight.shape[1] == 3 and "absent" not in words
    for w in ("dog", "zebra"):
        np.testing.assert_array_equal(weight[words[w]], np.array(vec[w], dtype=np.float32))
    glove.write_text("dog 1 2 3\ncat 1 2\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="vectors.txt, line 2: expected 3 values"):
        pos_tag.main(_quick(tmp_path, "vec", "--data", str(tmp_path), "--vectors", str(glove)))


def test_weight_average_is_the_debiased_ema_and_applied_temporarily(pos_tag):
    tagging = pos_tag.tagging
    p = mg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    avg = tagging.WeightAverage([p], decay=0.5)
    want = p.data.copy()
    for t, value in enumerate([3.0, 5.0, -1.0], 1):
        p.data[...] = value
        avg.update()
        d = min(0.5, (1 + t) / (10 + t))                 # 0.18.., 0.25, 0.307..: the warm-up decays
        want = d * want + (1 - d) * value
    np.testing.assert_allclose(avg.arrays[0], want, rtol=1e-12)
    with avg.applied():
        np.testing.assert_array_equal(p.data, avg.arrays[0])
    np.testing.assert_array_equal(p.data, [-1.0, -1.0])


def test_ner_ensemble_trains_its_members_side_by_side_and_averages_them(ner, ner_data, tmp_path):
    # --ensemble 2: two child processes (seeds 0 and 1, their own checkpoints), decoded together
    import tagging_ensemble as ens                      # examples/, on sys.path through ner.py
    res = ner.main(_quick(tmp_path, "ens", "--data", str(ner_data), "--ensemble", "2", "--epochs", "3"))
    assert res["checkpoints"] == [str(tmp_path / "ens.m0.npz"), str(tmp_path / "ens.m1.npz")]
    tagging = ner.tagging
    states = [tagging.load_checkpoint(p) for p in res["checkpoints"]]
    assert [st["run"]["seed"] for st in states] == [0, 1] and [st["epoch"] for st in states] == [3, 3]
    models = []
    for st in states:
        st["model"].load_state_dict(st["best_model"])
        models.append(st["model"].eval())
    assert len(res["members"]) == 2 and res["test"] >= 80.0
    test = res["encoded"]["test"]
    batch = tagging.length_batches(test, 8)[0]
    with mg.no_grad():
        want = (models[0].emissions(batch).data + models[1].emissions(batch).data) / 2
        np.testing.assert_allclose(res["model"].emissions(batch), want, rtol=1e-6)
    # the averaged CRF scores a path by the members' mean score, so two copies of one model
    # decode exactly as that model
    np.testing.assert_allclose(res["model"].crf.transitions.data,
                               (models[0].crf.transitions.data + models[1].crf.transitions.data) / 2, rtol=1e-6)
    assert tagging.predict(ens.Ensemble([models[0], models[0]]), test) == tagging.predict(models[0], test)


def test_ner_ensemble_resume_continues_every_member(ner, ner_data, tmp_path):
    common = ["--data", str(ner_data), "--ensemble", "2", "--patience", "99"]
    straight = ner.main(_quick(tmp_path, "ens_a", *common, "--epochs", "3"))
    ner.main(_quick(tmp_path, "ens_b", *common, "--epochs", "2"))
    resumed = ner.main(_quick(tmp_path, "ens_b", *common, "--epochs", "3", "--resume", str(tmp_path / "ens_b.npz")))
    tagging = ner.tagging
    for a, b in zip(straight["checkpoints"], resumed["checkpoints"]):
        ha, hb = tagging.load_checkpoint(a)["history"], tagging.load_checkpoint(b)["history"]
        assert ha["loss"] == hb["loss"] and ha["dev"] == hb["dev"] and len(ha["loss"]) == 3
    assert resumed["test"] == straight["test"] and resumed["members"] == straight["members"]


def test_ner_ensemble_reports_a_failed_member(ner, ner_data, tmp_path):
    with pytest.raises(SystemExit, match=r"ensemble member\(s\) \[0, 1\] stopped"):
        ner.main(_quick(tmp_path, "bad", "--data", str(ner_data), "--ensemble", "2",
                        "--vectors", str(tmp_path / "missing.txt")))


def test_ensemble_passes_through_all_but_the_per_member_options(ner):
    import tagging_ensemble as ens
    argv = ["--data", "D", "--seed", "3", "--ensemble=2", "--checkpoint", "x.npz", "--layers", "2", "--show=4"]
    assert ens._passed_through(argv) == ["--data", "D", "--layers", "2"]
    assert ens.member_paths("runs/ner.npz", 2) == ["runs/ner.m0.npz", "runs/ner.m1.npz"]
