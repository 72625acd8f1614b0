"""Tests for mg.tape_summary: exact table for a tiny graph, folding of long tapes, exact totals.

The graphs are built from small Functions defined here, so the expected bytes do not depend on
how the library's own ops choose what to save."""
import io

import numpy as np

import minigrad as mg
from minigrad.tape_summary import _fmt_bytes


class Double(mg.Function):                 # saves nothing
    def forward(self, x):
        return 2 * x

    def backward(self, g):
        return 2 * g


class Square(mg.Function):                 # saves its input
    def forward(self, x):
        self.save(x)
        return x * x

    def backward(self, g):
        return 2 * self.saved[0] * g


class SplitCols(mg.Function):              # two outputs
    def forward(self, x):
        return x[:, :1].copy(), x[:, 1:].copy()

    def backward(self, g1, g2):
        return np.concatenate([np.zeros((g1.shape[0], 1)) if g1 is None else g1,
                               np.zeros((g2.shape[0], g2.shape[1])) if g2 is None else g2], axis=1)


class Step(mg.Function):                   # an RNN-like step with a label, saving its input
    def forward(self, h, t):
        self.label = f"step t={t}"
        self.save(h)
        return np.tanh(h)

    def backward(self, g):
        return g * (1 - np.tanh(self.saved[0]) ** 2)


def leaf(shape, dtype=np.float64):
    return mg.tensor(np.ones(shape), requires_grad=True, dtype=dtype)


def test_tiny_graph_exact_output():
    x = leaf((2, 3))
    a, b = SplitCols.apply(Square.apply(Double.apply(x)))
    text = mg.tape_summary(b)
    assert text == (
        "#  op         output          dtype    saved\n"
        "0  Double     (2, 3)          float64    0 B\n"
        "1  Square     (2, 3)          float64   48 B\n"
        "2  SplitCols  (2, 1), (2, 2)  float64    0 B\n"
        "total: 3 nodes, 48 B saved for backward")


def test_labels_file_output_and_freed_buffers():
    h = leaf((1, 4), np.float32)
    for t in range(2):
        h = Step.apply(h, t=t)
    buf = io.StringIO()
    text = mg.tape_summary(h, file=buf)
    assert buf.getvalue() == text + "\n"
    assert text.splitlines()[1:] == [
        "0  Step  [step t=0]  (1, 4)  float32   16 B",
        "1  Step  [step t=1]  (1, 4)  float32   16 B",
        "total: 2 nodes, 32 B saved for backward"]
    h.backward(np.ones((1, 4)))
    assert mg.tape_summary(h).endswith("32 B saved for backward (already freed by backward)")


def test_long_run_collapses_with_exact_total():
    h = leaf((4, 64))                       # each step saves 4*64*8 = 2048 B
    for t in range(1000):
        h = Step.apply(h, t=t)
    y = Square.apply(h)
    lines = mg.tape_summary(y).splitlines()
    assert len(lines) == 4
    assert lines[1].split() == ["0-999", "Step", "x1000", "[step", "t=0", "..", "step", "t=999]",
                                "(4,", "64)", "float64", "2.0", "MiB"]
    assert lines[2].split()[:2] == ["1000", "Square"]
    assert lines[3] == "total: 1001 nodes, 2.0 MiB (2,050,048 B) saved for backward"


def test_repeating_block_collapses():
    h = mg.tensor(np.zeros(3), requires_grad=True, dtype=np.float64)
    for _ in range(100):
        h = Double.apply(Square.apply(h))
    lines = mg.tape_summary(h).splitlines()
    assert [ln.split()[:5] for ln in lines[1:4]] == [
        ["0-199", "block", "of", "2", "ops"], ["Square", "(3,)", "float64", "2.3", "KiB"],
        ["Double", "(3,)", "float64", "0", "B"]]
    assert lines[1].split()[5] == "x100:"
    assert lines[-1] == "total: 200 nodes, 2.3 KiB (2,400 B) saved for backward"


def test_short_tapes_are_not_collapsed_and_max_rows():
    h = leaf((2,))
    for _ in range(30):
        h = Square.apply(h)
    text = mg.tape_summary(h)
    assert len(text.splitlines()) == 32              # header, 30 rows, total
    assert "x30" in mg.tape_summary(h, collapse_after=10)
    cut = mg.tape_summary(h, max_rows=5).splitlines()
    assert len(cut) == 8 and cut[6] == "... 25 more rows"
    assert cut[-1] == "total: 30 nodes, 480 B saved for backward"


def test_leaf_and_formatting_helpers():
    assert mg.tape_summary(mg.tensor([1.0])).splitlines()[-1] == "total: 0 nodes, 0 B saved for backward"
    assert [_fmt_bytes(n) for n in (0, 1023, 1024, 1536, 5 * 2**20, 3 * 2**30)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3.0 GiB"]
