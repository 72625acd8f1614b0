"""minigrad.text.read_sst2_tsv and read_stsa on tiny files the tests write: both GLUE layouts,
the stsa layout, lowercasing, and a clear error (file, line number, what was expected) for every
kind of malformed line."""
import pytest

from minigrad.text import read_sst2_tsv, read_stsa


def _write(tmp_path, name, text):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_glue_labelled(tmp_path):
    path = _write(tmp_path, "train.tsv", "sentence\tlabel\nhide new secretions \t0\nA Charming Journey .\t1\n\n")
    sents, labels = read_sst2_tsv(path)
    assert sents == [["hide", "new", "secretions"], ["A", "Charming", "Journey", "."]]
    assert labels == [0, 1]
    sents, _ = read_sst2_tsv(path, lowercase=True)
    assert sents[1] == ["a", "charming", "journey", "."]


def test_glue_unlabelled_test_file(tmp_path):
    path = _write(tmp_path, "test.tsv", "index\tsentence\n0\tuneasy mishmash .\n7\tcrème brûlée\r\n")
    sents, indices = read_sst2_tsv(path)
    assert sents == [["uneasy", "mishmash", "."], ["crème", "brûlée"]] and indices == [0, 7]


def test_stsa_binary_and_fine(tmp_path):
    path = _write(tmp_path, "stsa.binary.dev", "0 one long string of cliches .\n1 a gem\n")
    assert read_stsa(path) == ([["one", "long", "string", "of", "cliches", "."], ["a", "gem"]], [0, 1])
    fine = _write(tmp_path, "stsa.fine.dev", "4 Superb\n2 so-so\n")
    assert read_stsa(fine, num_classes=5, lowercase=True) == ([["superb"], ["so-so"]], [4, 2])
    with pytest.raises(ValueError, match=r"stsa.fine.dev, line 1: expected a label in 0\.\.1, got 4"):
        read_stsa(fine)


@pytest.mark.parametrize("text, match", [
    ("", r"bad.tsv: the file is empty; expected the header line 'sentence<TAB>label'"),
    ("sentence,label\na\t1\n", r"bad.tsv, line 1: expected the header"),
    ("sentence\tlabel\n", r"bad.tsv: only a header line"),
    ("sentence\tlabel\ngood\t1\nno tab here 0\n", r"bad.tsv, line 3: expected two tab-separated fields "
                                                   r"'sentence<TAB>label', got 1"),
    ("sentence\tlabel\ngood\t1\ttoo many\n", r"line 2: expected two tab-separated fields .* got 3"),
    ("sentence\tlabel\ngood\tpositive\n", r"line 2: expected a label 0 or 1, got 'positive'"),
    ("sentence\tlabel\ngood\t2\n", r"line 2: expected a label 0 or 1, got 2"),
    ("sentence\tlabel\n  \t1\n", r"line 2: expected a sentence, got an empty one"),
    ("index\tsentence\nx\tgood\n", r"line 2: expected an integer index, got 'x'"),
    (b"sentence\tlabel\ngood\t1\nbad \xff\t0\n", r"bad.tsv, line 3: not UTF-8 text"),
])
def test_glue_malformed(tmp_path, text, match):
    path = _write(tmp_path, "bad.tsv", text)
    with pytest.raises(ValueError, match=match):
        read_sst2_tsv(path)


@pytest.mark.parametrize("text, match", [
    ("", r"bad.txt: no sentences; expected lines '<label> <sentence>'"),
    ("1 fine\ngood movie\n", r"bad.txt, line 2: expected '<label> <sentence>' with a label in 0\.\.1, got 'good'"),
    ("1 fine\n3 odd\n", r"line 2: expected a label in 0\.\.1, got 3"),
    ("1 fine\n0\n", r"line 2: expected a sentence, got an empty one"),
    ("sentence\tlabel\ngood\t1\n", r"line 1: expected '<label> <sentence>'"),   # a GLUE file by mistake
])
def test_stsa_malformed(tmp_path, text, match):
    path = _write(tmp_path, "bad.txt", text)
    with pytest.raises(ValueError, match=match):
        read_stsa(path)


def test_stsa_num_classes_checked(tmp_path):
    path = _write(tmp_path, "ok.txt", "1 fine\n")
    with pytest.raises(ValueError, match="num_classes must be an int >= 2, got 1"):
        read_stsa(path, num_classes=1)
