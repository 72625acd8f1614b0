"""Shared by the ONNX export tests: export a model, check the file, run it in onnxruntime, compare.

Tolerance: float32 outputs must equal minigrad's to 1e-5 (issue 18), relative to max(1, |value|).
That is derived, not fitted: every output here is a sum of at most a few hundred float32 products
of unit-scale numbers (weights U(-1/sqrt(H), 1/sqrt(H)), inputs N(0, 1)), computed in another order
by onnxruntime, so each side is off by at most ~n * u32 * scale with u32 = 6e-8 and n <= ~150
(recurrences included: the tanh/sigmoid gates are contractions), i.e. below 1e-5. float64: the
same bound with u64 = 1.1e-16, so 1e-12.
"""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import minigrad as mg             # noqa: E402
import minigrad.onnx              # noqa: E402,F401

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def randn(*shape, seed=0, dtype=np.float32):
    """A tensor of N(0, 1) values (tests build their own tiny data)."""
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def export_bytes(model, args, **kwargs):
    """``model`` exported to ONNX bytes (checked with onnx.checker, as export itself does)."""
    buf = io.BytesIO()
    mg.onnx.export(model, args, buf, **kwargs)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    return data


def run_onnx(data, feeds):
    """Outputs of the ONNX model ``data`` for ``feeds`` {name: array} (one thread: deterministic)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {k: np.asarray(v) for k, v in feeds.items()})


def run_reference(data, feeds):
    """Outputs of the ONNX model ``data`` from onnx's own NumPy reference evaluator (it runs the
    float64 recurrent operators, for which onnxruntime has no CPU kernels)."""
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(onnx.load_from_string(data)).run(None, {k: np.asarray(v) for k, v in feeds.items()})


def flat(out):
    """The tensors of a model's output (nested tuples), as arrays, in order."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in flat(o)]
    return [] if out is None else [out.data]


def assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        tol = TOL.get(w.dtype, 0)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def check_export(model, args, feeds=None, run_args=None, **kwargs):
    """Export ``model`` with example ``args``, then run the file on ``feeds`` (default: the example
    inputs, named input_0..) and compare with ``model(*run_args)`` (default: ``args``) in eval mode."""
    args = args if isinstance(args, tuple) else (args,)
    data = export_bytes(model, args, **kwargs)
    if feeds is None:
        names = kwargs.get("input_names") or [f"input_{i}" for i in range(len(flat(args)))]
        feeds = dict(zip(names, flat(args)))
    model.eval()
    with mg.no_grad():
        want = flat(model(*(run_args if run_args is not None else args)))
    assert_same(run_onnx(data, feeds), want)
    return data
