"""minigrad.text corpus readers: CoNLL-2003 (IOB1/IOB2 -> BIO, IOBES) and CoNLL-U (UPOS).

Every test writes its own tiny file; malformed files must name the file, the line and what was
expected.
"""
import pytest

from minigrad.text import (CorpusFormatError, bio_to_iobes, iob1_to_bio, iobes_to_bio, read_conll,
                           read_conllu)

IOB1 = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
Jan NNP I-NP B-PER
Smit NNP I-NP I-PER
in IN I-PP O
Den NNP I-NP I-LOC
Haag NNP I-NP I-LOC
Paris NNP I-NP I-LOC
-DOCSTART- -X- O O
Bonn NNP I-NP I-LOC
"""

WANT_BIO = [
    (["EU", "rejects", "German", "call", "."], ["B-ORG", "O", "B-MISC", "O", "O"]),
    (["Peter", "Blackburn", "Jan", "Smit", "in", "Den", "Haag", "Paris"],
     ["B-PER", "I-PER", "B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC"]),
    (["Bonn"], ["B-LOC"]),
]


def _write(tmp_path, text, name="corpus.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_iob1_file_reads_as_bio(tmp_path):
    # -DOCSTART- breaks a sentence even without a blank line; I-X after O or another type opens an
    # entity; B-X between two same-type entities stays B-X; "Den Haag Paris" is one IOB1 entity.
    assert read_conll(_write(tmp_path, IOB1), scheme="iob1") == WANT_BIO


def test_iob2_file_and_tab_columns(tmp_path):
    text = "EU\tNNP\tB-NP\tB-ORG\nrejects\tVBZ\tB-VP\tO\n\n\n\nBonn\tNNP\tB-NP\tB-LOC\r\n"
    got = read_conll(_write(tmp_path, text), scheme="iob2")
    assert got == [(["EU", "rejects"], ["B-ORG", "O"]), (["Bonn"], ["B-LOC"])]


def test_iobes_output_and_round_trip(tmp_path):
    got = read_conll(_write(tmp_path, IOB1), scheme="iob1", to="iobes")
    assert got[1][1] == ["B-PER", "E-PER", "B-PER", "E-PER", "O", "B-LOC", "I-LOC", "E-LOC"]
    assert got[0][1] == ["S-ORG", "O", "S-MISC", "O", "O"]
    assert [(w, iobes_to_bio(t)) for w, t in got] == WANT_BIO


def test_tag_column_and_untyped_tags(tmp_path):
    got = read_conll(_write(tmp_path, IOB1), scheme=None, tag_column=1)
    assert got[0] == (["EU", "rejects", "German", "call", "."], ["NNP", "VBZ", "JJ", "NN", "."])


@pytest.mark.parametrize("tags, bio, iobes", [
    ([], [], []),
    (["O"], ["O"], ["O"]),
    (["I-A"], ["B-A"], ["S-A"]),
    (["I-A", "I-B", "I-B", "O", "I-B"], ["B-A", "B-B", "I-B", "O", "B-B"], ["S-A", "B-B", "E-B", "O", "S-B"]),
    (["B-A", "I-A", "I-A", "B-A"], ["B-A", "I-A", "I-A", "B-A"], ["B-A", "I-A", "E-A", "S-A"]),
])
def test_scheme_conversions(tags, bio, iobes):
    assert iob1_to_bio(tags) == bio
    assert iob1_to_bio(bio) == bio                      # BIO is a fixed point
    assert bio_to_iobes(bio) == iobes
    assert bio_to_iobes(tags) == iobes                  # a stray I-X is read as B-X
    assert iobes_to_bio(iobes) == bio


@pytest.mark.parametrize("text, line, expected", [
    ("EU NNP I-NP I-ORG\nrejects VBZ O\n", 2, "expected 4 columns"),
    ("EU NNP I-NP ORG\n", 1, "expected a IOB1 tag"),
    ("EU NNP I-NP I-ORG\n\n\nBonn NNP I-NP E-LOC\n", 4, "expected a IOB1 tag"),
    ("EU\n", 1, "expected a word and its tag"),
])
def test_malformed_conll_names_file_and_line(tmp_path, text, line, expected):
    path = _write(tmp_path, text, "bad.txt")
    with pytest.raises(CorpusFormatError, match=expected) as info:
        read_conll(path, scheme="iob1")
    assert f"bad.txt, line {line}:" in str(info.value) and info.value.lineno == line


def test_bad_arguments():
    with pytest.raises(ValueError, match="scheme must be one of"):
        read_conll("x", scheme="bilou")
    with pytest.raises(ValueError, match="to must be"):
        read_conll("x", to="iob1")
    with pytest.raises(ValueError, match="column must be one of"):
        read_conllu("x", column="pos")


def _row(*cols):
    return "\t".join(cols) + "\n"


CONLLU = (
    "# sent_id = 1\n# text = Don't go.\n"
    + _row("1-2", "Don't", "_", "_", "_", "_", "_", "_", "_", "_")
    + _row("1", "Do", "do", "AUX", "VBP", "_", "3", "aux", "_", "_")
    + _row("2", "n't", "not", "PART", "RB", "_", "3", "advmod", "_", "_")
    + _row("3", "go", "go", "VERB", "VB", "_", "0", "root", "_", "_")
    + _row("3.1", "went", "go", "VERB", "VBD", "_", "_", "_", "3:conj", "_")
    + _row("4", ".", ".", "PUNCT", ".", "_", "3", "punct", "_", "_")
    + "\n# sent_id = 2\n"
    + _row("1", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_")
)


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path):
    path = _write(tmp_path, CONLLU, "x.conllu")
    assert read_conllu(path) == [(["Do", "n't", "go", "."], ["AUX", "PART", "VERB", "PUNCT"]),
                                 (["Hi"], ["INTJ"])]
    assert read_conllu(path, column="xpos")[0][1] == ["VBP", "RB", "VB", "."]


@pytest.mark.parametrize("text, line, expected", [
    (_row("1", "Hi", "hi", "INTJ") + "\n", 1, "expected 10 tab-separated"),
    ("# c\n" + _row("x", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_"), 2, "expected a word ID"),
    (_row("1", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_")
     + _row("1", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_"), 2, "expected word ID 2"),
])
def test_malformed_conllu_names_file_and_line(tmp_path, text, line, expected):
    path = _write(tmp_path, text, "bad.conllu")
    with pytest.raises(CorpusFormatError, match=expected) as info:
        read_conllu(path)
    assert f"bad.conllu, line {line}:" in str(info.value)
