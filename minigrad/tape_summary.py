"""tape_summary: a terminal table of the tape behind a tensor -- what ran, and what it keeps.

    >>> print(mg.tape_summary(loss))
    #  op            output  dtype    saved
    0  Softmax       (2, 3)  float64   48 B
    1  CrossEntropy  ()      float64   66 B
    total: 2 nodes, 114 B saved for backward

One row per node reachable from the tensor, in forward order (``tape_nodes``): its index, the op
name (the Function's class name, plus its ``label`` attribute when it has one, e.g. an RNN step
saying "LSTM step t=3"), the output shape(s), the dtype and the bytes the node keeps alive for
backward (``node.saved_nbytes``). The "saved" column is the memory bill of training: it grows with
sequence length, and it is what ``retain_graph`` keeps alive.

Long tapes (more than ``collapse_after`` nodes) are folded so that a 1000-step RNN fits on a
screen: a run of identical consecutive nodes (same op, shapes and dtype) becomes one row
"Op x1000", and a repeating block of a few different ops (an unfused RNN step: MatMul, Add, Tanh,
MatMul, ...) becomes a header row "block of k ops x1000" followed by its k ops, each with the bytes
summed over all repetitions. The total line always counts every node and every byte exactly.
"""
import numbers

_MAX_BLOCK = 8          # longest repeating block of ops that is folded


def _fmt_bytes(n):
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024.0
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"


def _fmt_shapes(shapes):
    return ", ".join("(" + ", ".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")" for s in shapes)


def _signature(node):
    return (type(node).__name__, node.out_shapes, str(node.out_dtype))


def _label(node):
    lab = getattr(node, "label", None)
    return lab if isinstance(lab, str) and lab else None


def _op_text(nodes, count):
    """Op column for a node; ``nodes`` are its occurrences, ``count`` says "xN" (0: say nothing)."""
    text = type(nodes[0]).__name__
    if count > 1:
        text += f" x{count}"
    first, last = _label(nodes[0]), _label(nodes[-1])
    if first and len(nodes) > 1 and last and last != first:
        text += f"  [{first} .. {last}]"
    elif first:
        text += f"  [{first}]"
    return text


def _group(sigs, collapse):
    """Split node positions into (start, block_length, repetitions) groups, greedily."""
    groups, i, n = [], 0, len(sigs)
    while i < n:
        best_k, best_r = 1, 1
        if collapse:
            for k in range(1, _MAX_BLOCK + 1):
                if i + 2 * k > n:
                    break
                r = 1
                while i + (r + 1) * k <= n and sigs[i + r * k:i + (r + 1) * k] == sigs[i:i + k]:
                    r += 1
                if r >= 2 and k * r > best_k * best_r:     # ties keep the shorter block
                    best_k, best_r = k, r
        groups.append((i, best_k, best_r))
        i += best_k * best_r
    return groups


def _rows(nodes, collapse):
    """Table rows (index, op, output, dtype, saved bytes or None)."""
    rows = []
    for start, k, reps in _group([_signature(nd) for nd in nodes], collapse):
        end = start + k * reps - 1
        idx = str(start) if start == end else f"{start}-{end}"
        if k > 1:
            rows.append((idx, f"block of {k} ops x{reps}:", "", "", None))
        for j in range(k):
            occ = nodes[start + j:end + 1:k]           # this op in every repetition
            nd = occ[0]
            rows.append(("" if k > 1 else idx, ("  " + _op_text(occ, 0)) if k > 1 else _op_text(occ, reps),
                         _fmt_shapes(nd.out_shapes), str(nd.out_dtype), sum(o.saved_nbytes for o in occ)))
    return rows


def tape_summary(tensor, file=None, max_rows=None, collapse_after=60):
    """Return (and print to ``file`` when given) a table of the nodes behind ``tensor``.

    ``max_rows`` limits the table rows shown (the total line still counts everything);
    tapes longer than ``collapse_after`` nodes have repeated ops folded into "xN" rows.
    """
    from .grad_mode import describe
    from .tensor import tape_nodes

    for name, v in (("max_rows", max_rows), ("collapse_after", collapse_after)):
        if v is None and name == "max_rows":
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"tape_summary: {name} must be an int, got {describe(v)}")
        if v < 0:
            raise ValueError(f"tape_summary: {name} must be >= 0, got {v!r}")
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"tape_summary: file must be a text stream with .write() (e.g. sys.stdout) or None, "
                        f"got {describe(file)}")
    nodes = tape_nodes(tensor)
    total = sum(nd.saved_nbytes for nd in nodes)
    rows = _rows(nodes, collapse=len(nodes) > collapse_after)
    hidden = 0
    if max_rows is not None and len(rows) > max_rows:
        hidden, rows = len(rows) - max_rows, rows[:max(max_rows, 0)]

    header = ("#", "op", "output", "dtype", "saved")
    cells = [header] + [(i, op, out, dt, "" if b is None else _fmt_bytes(b)) for i, op, out, dt, b in rows]
    widths = [max(len(c[j]) for c in cells) for j in range(5)]
    lines = []
    for c in cells:
        left = "  ".join(c[j].ljust(widths[j]) for j in range(4))
        lines.append((left + "  " + c[4].rjust(widths[4])).rstrip())
    if not nodes:
        lines.append("(no recorded operations: a leaf tensor, or computed under no_grad)")
    if hidden:
        lines.append(f"... {hidden} more rows")
    exact = f" ({total:,} B)" if total >= 1024 else ""
    freed = ""
    if any(nd._freed for nd in nodes):
        freed = " (already freed by backward)" if all(nd._freed for nd in nodes) else " (partly freed by backward)"
    lines.append(f"total: {len(nodes)} node{'s' if len(nodes) != 1 else ''}, "
                 f"{_fmt_bytes(total)}{exact} saved for backward{freed}")
    text = "\n".join(lines)
    if file is not None:
        print(text, file=file)
    return text
