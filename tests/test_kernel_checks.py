"""Bad-input battery of minigrad.kernels (issue 11): every public entry point with wrong types,
dtypes, shapes, sizes, strides, read-only and overlapping buffers, huge broadcast views, None.

Each case asserts the exception type and that the message names the offending argument (and
shape, dtype or value). The cases run in a child process (this file run as a script), one after
the other, with a progress line before each: a case that crashes the interpreter is reported as
a crash of that case, the child is restarted after it, and pytest itself never dies.

The child runs under RLIMIT_AS (its address space at start plus 2 GiB) and traces allocations
(NumPy reports its array allocations to tracemalloc): the huge-view cases hand over 4-16 GiB
broadcast views (np.broadcast_to of one element: no memory) with one bad argument, so they prove
that every check runs before any copy -- a copy would need the whole size, fail with MemoryError
under the limit and show in the traced peak.

The second half tests what must *work*: zero-size arrays wherever a kernel can take them,
in-place use where a kernel documents it, broadcast and strided inputs (copied after the
checks), and a hypothesis property of the overlap check.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from minigrad import kernels as K

B, H = 3, 4
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
ADAM = dict(c1=0.1, beta2=0.99, c2=0.01, step_size=0.01, bc2_sqrt=0.5, eps=1e-8)
PEAK_LIMIT = 1 << 20     # bytes NumPy may allocate while rejecting a case (traced peak)


def f64(*shape):
    return np.zeros(shape)


def f32(*shape):
    return np.zeros(shape, np.float32)


def ro(a):
    a.flags.writeable = False
    return a


def huge(*shape, dtype=np.float32):
    """A broadcast view of any size that owns one element."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def misaligned(*shape, dtype=np.float64, fill=0.0):
    """A writeable C-contiguous array whose data starts one byte past an element boundary."""
    n = int(np.prod(shape))
    a = np.frombuffer(bytearray(n * np.dtype(dtype).itemsize + 1), dtype, n, offset=1).reshape(shape)
    a[...] = fill
    return a


def masked(a):
    return np.ma.masked_array(a, mask=np.zeros(a.shape, bool))


# ----------------------------------------------------------------------------- the case table
CASES = []   # (id, thunk, exception type, regex the message must match)


def bad(case_id, fn, exc, pattern):
    CASES.append((case_id, fn, exc, pattern))


BAD_DTYPES = [np.int32, np.int64, np.bool_, np.complex128, np.float16, object]

# --- runtime
for v, exc, pat in [(0, ValueError, r"must be >= 1, got 0"), (-2, ValueError, r">= 1, got -2"),
                    (2.0, TypeError, r"must be an int, got float"), ("4", TypeError, r"got str '4'"),
                    (None, TypeError, r"got NoneType"), (True, TypeError, r"got bool True"),
                    (float("inf"), TypeError, r"got float inf")]:
    bad(f"set_num_threads-{v!r}", lambda v=v: K.set_num_threads(v), exc, "set_num_threads: n .*" + pat)
for v in (1, "avx2", None, 0.0):
    bad(f"set_simd-{v!r}", lambda v=v: K.set_simd(v), TypeError,
        rf"set_simd expects True .* got {type(v).__name__} {re.escape(repr(v))}")
bad("tune_malloc-str", lambda: K.tune_malloc("no"), TypeError, r"tune_malloc expects True or False, got str")

bad("ptr-int", lambda: K.ptr(np.zeros(3, int)), TypeError, r"ptr needs a float32/float64 numpy.ndarray, got \(3,\) int64")
bad("ptr-list", lambda: K.ptr([1.0]), TypeError, r"ptr needs a float32/float64 numpy.ndarray, got list")
bad("cfunc-dtype", lambda: K.cfunc("tanh_forward", np.int32), TypeError, r"cfunc: dtype must be float32 or float64, got <class 'numpy.int32'>")
bad("cfunc-stem", lambda: K.cfunc("no_such_kernel", np.float32), AttributeError, r"mg_no_such_kernel_f32")

# --- gemm
A, Bm = f64(3, 4), f64(4, 5)
bad("gemm-a-list", lambda: K.gemm([[1.0]], Bm), TypeError, r"gemm: a must be a numpy.ndarray, got list")
bad("gemm-a-None", lambda: K.gemm(None, Bm), TypeError, r"gemm: a must be a numpy.ndarray, got NoneType")
bad("gemm-b-float", lambda: K.gemm(A, 3.0), TypeError, r"gemm: b must be a numpy.ndarray, got float")
for dt in BAD_DTYPES:
    name = np.dtype(dt).name
    bad(f"gemm-a-{name}", lambda dt=dt: K.gemm(A.astype(dt), Bm), TypeError,
        rf"gemm: a must be float32 or float64, got \(3, 4\) {name}")
bad("gemm-b-mixed", lambda: K.gemm(A, f32(4, 5)), TypeError, r"gemm: b has dtype float32 \(shape \(4, 5\)\)")
bad("gemm-a-byteswapped", lambda: K.gemm(A.astype(">f8"), Bm), TypeError, r"gemm: a .*non-native byte order")
bad("gemm-a-masked", lambda: K.gemm(masked(A), Bm), TypeError, r"gemm: a is a masked array \(3, 4\)")
bad("gemm-a-1d", lambda: K.gemm(f64(4), Bm), ValueError, r"gemm: a must be 2-D, got shape \(4,\)")
bad("gemm-b-3d", lambda: K.gemm(A, f64(1, 4, 5)), ValueError, r"gemm: b must be 2-D, got shape \(1, 4, 5\)")
bad("gemm-inner", lambda: K.gemm(A, f64(5, 4)), ValueError, r"inner dimensions differ.*\(3, 4\).*\(5, 4\)")
bad("gemm-inner-trans", lambda: K.gemm(A, Bm, trans_a=True), ValueError, r"op\(a\) is \(4, 3\)")
bad("gemm-out-shape", lambda: K.gemm(A, Bm, out=f64(3, 4)), ValueError, r"gemm: out has shape \(3, 4\), expected \(3, 5\)")
bad("gemm-out-dtype", lambda: K.gemm(A, Bm, out=f32(3, 5)), TypeError, r"gemm: out has dtype float32, expected float64")
bad("gemm-out-readonly", lambda: K.gemm(A, Bm, out=ro(f64(3, 5))), ValueError, r"gemm: out \(3, 5\) float64 is read-only")
bad("gemm-out-fortran", lambda: K.gemm(A, Bm, out=f64(5, 3).T), ValueError, r"gemm: out \(3, 5\) float64 is not C-contiguous")
bad("gemm-out-strided", lambda: K.gemm(A, Bm, out=f64(3, 10)[:, ::2]), ValueError, r"gemm: out .* not C-contiguous")
bad("gemm-out-list", lambda: K.gemm(A, Bm, out=[[0.0] * 5] * 3), TypeError, r"gemm: out must be a numpy.ndarray, got list")
bad("gemm-out-masked", lambda: K.gemm(A, Bm, out=masked(f64(3, 5))), TypeError, r"gemm: out is a masked array")
bad("gemm-out-is-a", lambda: (lambda a: K.gemm(a, f64(4, 4), out=a))(f64(4, 4)), ValueError,
    r"gemm: output out overlaps input a in memory")
bad("gemm-out-partial-b", lambda: (lambda buf: K.gemm(f64(3, 3), buf[:3], out=buf[2:]))(f64(5, 3)), ValueError,
    r"gemm: output out overlaps input b")
bad("gemm-beta-no-out", lambda: K.gemm(A, Bm, beta=1.0), ValueError, r"beta != 0 needs an `out` array of shape \(3, 5\)")
for name, v, exc, pat in [("alpha", float("nan"), ValueError, "must be finite, got nan"),
                          ("alpha", float("inf"), ValueError, "must be finite, got inf"),
                          ("beta", -float("inf"), ValueError, "must be finite, got -inf"),
                          ("alpha", "2", TypeError, "must be a real number, got str"),
                          ("alpha", None, TypeError, "must be a real number, got NoneType"),
                          ("beta", 1j, TypeError, "must be a real number, got complex"),
                          ("alpha", True, TypeError, "must be a real number, got bool")]:
    bad(f"gemm-{name}-{v!r}", lambda name=name, v=v: K.gemm(A, Bm, out=f64(3, 5), **{name: v}), exc,
        f"gemm: {name} {pat}")
bad("gemm-trans_a-str", lambda: K.gemm(A, Bm, trans_a="no"), TypeError, r"gemm: trans_a must be True or False, got str 'no'")
bad("gemm-trans_b-2", lambda: K.gemm(A, Bm, trans_b=2), TypeError, r"gemm: trans_b must be True or False, got int 2")
bad("gemm-reference-str", lambda: K.gemm(A, Bm, reference="yes"), TypeError, r"gemm: reference must be True or False")
# 16 GiB views: the checks must not copy them first
bad("gemm-huge-inner", lambda: K.gemm(huge(2 ** 16, 2 ** 16), f32(3, 3)), ValueError, r"inner dimensions differ.*65536")
bad("gemm-huge-out", lambda: K.gemm(huge(2 ** 16, 2 ** 16), huge(2 ** 16, 2), out=f32(3, 3)), ValueError,
    r"gemm: out has shape \(3, 3\), expected \(65536, 2\)")
bad("gemm-huge-dtype", lambda: K.gemm(huge(2 ** 16, 2 ** 16), huge(2 ** 16, 2, dtype=np.float64)), TypeError,
    r"gemm: b has dtype float64")
bad("gemm-huge-alpha", lambda: K.gemm(huge(2 ** 16, 2 ** 16), huge(2 ** 16, 2), alpha=float("nan")), ValueError,
    r"gemm: alpha must be finite")

bad("gemm-out-misaligned", lambda: K.gemm(A, Bm, out=misaligned(3, 5)), ValueError,
    r"gemm: out \(3, 5\) float64 is not aligned to its 8-byte elements")

# --- gemm_batched
A3 = f64(2, 3, 4)
bad("gemm_batched-a-2d", lambda: K.gemm_batched(A, Bm), ValueError, r"gemm_batched: a must be 3-D, got shape \(3, 4\)")
bad("gemm_batched-a-int", lambda: K.gemm_batched(A3.astype(int), Bm), TypeError, r"gemm_batched: a must be float32 or float64, got \(2, 3, 4\) int64")
bad("gemm_batched-batch", lambda: K.gemm_batched(A3, f64(3, 4, 5)), ValueError, r"batch sizes differ.*\(2, 3, 4\).*\(3, 4, 5\)")
bad("gemm_batched-inner", lambda: K.gemm_batched(A3, f64(2, 5, 5)), ValueError, r"inner dimensions differ")
bad("gemm_batched-out-is-a", lambda: (lambda a: K.gemm_batched(a, f64(3, 3), out=a))(f64(2, 3, 3)), ValueError,
    r"gemm_batched: output out overlaps input a")
bad("gemm_batched-out-readonly", lambda: K.gemm_batched(A3, Bm, out=ro(f64(2, 3, 5))), ValueError, r"gemm_batched: out .* is read-only")
bad("gemm_batched-alpha-nan", lambda: K.gemm_batched(A3, Bm, alpha=float("nan")), ValueError, r"gemm_batched: alpha must be finite")
bad("gemm_batched-trans_b-str", lambda: K.gemm_batched(A3, Bm, trans_b="x"), TypeError, r"gemm_batched: trans_b must be True or False")
bad("gemm_batched-huge-batch", lambda: K.gemm_batched(huge(2 ** 10, 2 ** 11, 2 ** 11), f32(3, 2 ** 11, 2)), ValueError,
    r"batch sizes differ")

# --- activations: forward (x, out) and backward (dy, y, dx)
X = f64(2, 3)
for fn in ("tanh_forward", "sigmoid_forward", "exp_forward"):
    f = getattr(K, fn)
    bad(f"{fn}-x-list", lambda f=f: f([1.0, 2.0]), TypeError, rf"{fn}: x must be a numpy.ndarray, got list")
    bad(f"{fn}-x-None", lambda f=f: f(None), TypeError, rf"{fn}: x must be a numpy.ndarray, got NoneType")
    for dt in BAD_DTYPES:
        name = np.dtype(dt).name
        bad(f"{fn}-x-{name}", lambda f=f, dt=dt: f(X.astype(dt)), TypeError,
            rf"{fn}: x must be float32 or float64, got \(2, 3\) {name}")
    bad(f"{fn}-x-masked", lambda f=f: f(masked(X)), TypeError, rf"{fn}: x is a masked array")
    bad(f"{fn}-out-shape", lambda f=f: f(X, out=f64(3, 2)), ValueError, rf"{fn}: out has shape \(3, 2\), expected \(2, 3\)")
    bad(f"{fn}-out-dtype", lambda f=f: f(X, out=f32(2, 3)), TypeError, rf"{fn}: out has dtype float32, expected float64")
    bad(f"{fn}-out-readonly", lambda f=f: f(X, out=ro(f64(2, 3))), ValueError, rf"{fn}: out \(2, 3\) float64 is read-only")
    bad(f"{fn}-out-strided", lambda f=f: f(X, out=f64(2, 6)[:, ::2]), ValueError, rf"{fn}: out .* not C-contiguous")
    bad(f"{fn}-out-shifted", lambda f=f: (lambda buf: f(buf[:-1], out=buf[1:]))(f64(9)), ValueError,
        rf"{fn}: output out overlaps input x in memory: out may only be the very same array as x")
    bad(f"{fn}-out-misaligned", lambda f=f: f(X, out=misaligned(2, 3)), ValueError, rf"{fn}: out \(2, 3\) float64 is not aligned")
    bad(f"{fn}-huge-out", lambda f=f: f(huge(2 ** 16, 2 ** 16), out=f32(2, 2)), ValueError,
        rf"{fn}: out has shape \(2, 2\), expected \(65536, 65536\)")
# views whose memory is owned by something other than an ndarray (the owner shortcut of the
# overlap check does not apply; the bounds test must)
bad("tanh_forward-out-frombuffer", lambda: (lambda b: K.tanh_forward(np.frombuffer(b)[:-1], out=np.frombuffer(b)[1:]))(bytearray(80)),
    ValueError, r"tanh_forward: output out overlaps input x")
bad("tanh_forward-out-as_strided", lambda: (lambda a: K.tanh_forward(
    np.lib.stride_tricks.as_strided(a, (9,), (8,)), out=np.lib.stride_tricks.as_strided(a[1:], (9,), (8,))))(f64(10)),
    ValueError, r"tanh_forward: output out overlaps input x")
bad("gemm-out-frombuffer-a", lambda: (lambda b: K.gemm(np.frombuffer(b).reshape(3, 3), f64(3, 3),
                                                       out=np.frombuffer(b).reshape(3, 3)))(bytearray(72)),
    ValueError, r"gemm: output out overlaps input a")
for fn in ("tanh_backward", "sigmoid_backward", "exp_backward"):
    f = getattr(K, fn)
    bad(f"{fn}-dy-int", lambda f=f: f(X.astype(int), X), TypeError, rf"{fn}: dy must be float32 or float64, got \(2, 3\) int64")
    bad(f"{fn}-y-None", lambda f=f: f(X, None), TypeError, rf"{fn}: y must be a numpy.ndarray, got NoneType")
    bad(f"{fn}-y-mixed", lambda f=f: f(X, f32(2, 3)), TypeError, rf"{fn}: y has dtype float32 \(shape \(2, 3\)\) but dy is float64")
    bad(f"{fn}-y-shape", lambda f=f: f(X, f64(3, 2)), ValueError, rf"{fn}: dy has shape \(2, 3\) but y has shape \(3, 2\)")
    bad(f"{fn}-dx-shape", lambda f=f: f(X, X, dx=f64(6)), ValueError, rf"{fn}: dx has shape \(6,\), expected \(2, 3\)")
    bad(f"{fn}-dx-readonly", lambda f=f: f(X, X, dx=ro(f64(2, 3))), ValueError, rf"{fn}: dx .* is read-only")
    bad(f"{fn}-dx-is-dy", lambda f=f: (lambda a: f(a, f64(2, 3), dx=a))(f64(2, 3)), ValueError,
        rf"{fn}: output dx overlaps input dy in memory: dx must not overlap dy")
    bad(f"{fn}-dx-is-y", lambda f=f: (lambda a: f(f64(2, 3), a, dx=a))(f64(2, 3)), ValueError,
        rf"{fn}: output dx overlaps input y")
    bad(f"{fn}-huge-y", lambda f=f: f(huge(2 ** 16, 2 ** 16), huge(2 ** 16, 2 ** 15)), ValueError,
        rf"{fn}: dy has shape \(65536, 65536\) but y has shape \(65536, 32768\)")
    bad(f"{fn}-huge-dx", lambda f=f: f(huge(2 ** 16, 2 ** 16), huge(2 ** 16, 2 ** 16), dx=ro(f32(2 ** 16, 1))), ValueError,
        rf"{fn}: dx has shape \(65536, 1\), expected \(65536, 65536\)")
for fn in ("tanh_reference", "sigmoid_reference", "exp_reference"):
    bad(f"{fn}-int", lambda fn=fn: getattr(K, fn)(np.arange(3)), TypeError, rf"{fn}: x must be float32 or float64, got \(3,\) int64")


# --- adam_update
def adam(w=None, m=None, v=None, g=None, vmax=None, **kw):
    w, m, v, g = (f32(4) if a is None else a for a in (w, m, v, g))
    return K.adam_update(w, m, v, g, vmax, **dict(ADAM, **kw))


bad("adam-w-int", lambda: adam(w=np.zeros(4, int)), TypeError, r"adam_update: w must be float32 or float64, got \(4,\) int64")
bad("adam-w-list", lambda: adam(w=[0.0] * 4), TypeError, r"adam_update: w must be a numpy.ndarray, got list")
bad("adam-g-mixed", lambda: adam(g=f64(4)), TypeError, r"adam_update: g has dtype float64 \(shape \(4,\)\) but w is float32")
bad("adam-g-shape", lambda: adam(g=f32(5)), ValueError, r"adam_update: g has shape \(5,\), w has \(4,\)")
bad("adam-m-shape", lambda: adam(m=f32(5)), ValueError, r"adam_update: m has shape \(5,\), expected \(4,\)")
bad("adam-v-readonly", lambda: adam(v=ro(f32(4))), ValueError, r"adam_update: v \(4,\) float32 is read-only")
bad("adam-m-strided", lambda: adam(m=f32(8)[::2]), ValueError, r"adam_update: m .* not C-contiguous")
bad("adam-vmax-dtype", lambda: adam(vmax=f64(4)), TypeError, r"adam_update: vmax has dtype float64, expected float32")
bad("adam-m-is-w", lambda: (lambda a: adam(w=a, m=a))(f32(4)), ValueError, r"adam_update: output buffers w and m overlap")
bad("adam-g-is-v", lambda: (lambda a: adam(v=a, g=a))(f32(4)), ValueError, r"adam_update: output v overlaps input g")
bad("adam-vmax-partial-m", lambda: (lambda buf: adam(m=buf[:4], vmax=buf[2:]))(f32(6)), ValueError,
    r"adam_update: output buffers m and vmax overlap")
bad("adam-m-misaligned", lambda: adam(m=misaligned(4, dtype=np.float32)), ValueError, r"adam_update: m \(4,\) float32 is not aligned")
bad("adam-eps-nan", lambda: adam(eps=float("nan")), ValueError, r"adam_update: eps must be finite, got nan")
bad("adam-step_size-str", lambda: adam(step_size="0.1"), TypeError, r"adam_update: step_size must be a real number, got str")
bad("adam-c1-None", lambda: adam(c1=None), TypeError, r"adam_update: c1 must be a real number, got NoneType")
bad("adam-huge-g", lambda: adam(g=huge(2 ** 16, 2 ** 16)), ValueError, r"adam_update: g has shape \(65536, 65536\), w has \(4,\)")

# --- StepPlan
W4 = f64(4 * H, H)
bad("StepPlan-kind", lambda: K.StepPlan("elman", W4, B), ValueError, r"StepPlan: kind must be one of .*'elman'")
bad("StepPlan-kind-None", lambda: K.StepPlan(None, W4, B), ValueError, r"StepPlan: kind must be one of .*None")
bad("StepPlan-w-int", lambda: K.StepPlan("lstm", W4.astype(int), B), TypeError, r"StepPlan: w_hh must be float32 or float64")
bad("StepPlan-w-shape", lambda: K.StepPlan("lstm", f64(15, 4), B), ValueError, r"StepPlan: w_hh must have shape \(4\*H, H\), got \(15, 4\)")
bad("StepPlan-w-fortran", lambda: K.StepPlan("lstm", np.asfortranarray(W4), B), ValueError, r"StepPlan: w_hh \(16, 4\) must be C-contiguous")
bad("StepPlan-w-misaligned", lambda: K.StepPlan("lstm", misaligned(4 * H, H), B), ValueError,
    r"StepPlan: w_hh \(16, 4\) must be C-contiguous and aligned")
bad("StepPlan-w-H0", lambda: K.StepPlan("lstm", f64(0, 0), B), ValueError, r"StepPlan: needs batch >= 1 and H >= 1, got batch=3, H=0")
bad("StepPlan-batch-0", lambda: K.StepPlan("lstm", W4, 0), ValueError, r"StepPlan: needs batch >= 1 .* batch=0")
bad("StepPlan-batch-float", lambda: K.StepPlan("lstm", W4, 1.5), TypeError, r"StepPlan: batch must be an int, got float 1.5")
bad("StepPlan-batch-inf", lambda: K.StepPlan("lstm", W4, float("inf")), TypeError, r"StepPlan: batch must be an int, got float inf")
bad("StepPlan-batch-None", lambda: K.StepPlan("lstm", W4, None), TypeError, r"StepPlan: batch must be an int, got NoneType")
bad("StepPlan-backward-str", lambda: K.StepPlan("lstm", W4, B, "yes"), TypeError, r"StepPlan: backward must be True or False")
bad("StepPlan-huge", lambda: K.StepPlan("lstm", huge(4 * 2 ** 14, 2 ** 14), B), ValueError, r"StepPlan: w_hh \(65536, 16384\) must be C-contiguous")


# --- step kernels: (function, inputs {name: shape}, outputs {name: shape}, output keyword)
def step_specs(B=B, H=H):
    """Per step kernel: (inputs {name: shape}, outputs {name: shape}, how outputs are passed)."""
    return {
        "rnn_step_forward": ({"gx_t": (B, H), "h_prev": (B, H), "w_hh": (H, H)}, {"h": (B, H)}, "out"),
        "rnn_step_backward": ({"dh": (B, H), "h": (B, H), "w_hh": (H, H)}, {"dgates": (B, H), "dh_prev": (B, H)}, None),
        "lstm_step_forward": ({"gx_t": (B, 4 * H), "h_prev": (B, H), "c_prev": (B, H), "w_hh": (4 * H, H)},
                              {"h": (B, H), "c": (B, H), "gates": (B, 4 * H), "tanh_c": (B, H)}, "tuple"),
        "lstm_step_backward": ({"dh": (B, H), "dc": (B, H), "gates": (B, 4 * H), "tanh_c": (B, H), "c_prev": (B, H),
                                "w_hh": (4 * H, H)}, {"dgates": (B, 4 * H), "dh_prev": (B, H), "dc_prev": (B, H)}, None),
        "gru_step_forward": ({"gx_t": (B, 3 * H), "h_prev": (B, H), "w_hh": (3 * H, H), "b_hn": (H,)},
                             {"h": (B, H), "gates": (B, 3 * H), "hn": (B, H)}, "tuple"),
        "gru_step_backward": ({"dh": (B, H), "gates": (B, 3 * H), "hn": (B, H), "h_prev": (B, H), "w_hh": (3 * H, H)},
                              {"dgx": (B, 3 * H), "dgh": (B, 3 * H), "dh_prev": (B, H)}, None),
    }


def call_step(fn, ins=None, outs=None, **kw):
    """Call step kernel ``fn`` with valid zeros, arrays in ``ins`` / ``outs`` replacing them."""
    inputs, outputs, style = step_specs()[fn]
    args = {n: f64(*s) for n, s in inputs.items()}
    args.update(ins or {})
    if outs is not None:
        o = {n: f64(*s) for n, s in outputs.items()}
        o.update(outs)
        if style == "out":
            args["out"] = o["h"]
        elif style == "tuple":
            args["out"] = tuple(o[n] for n in outputs)
        else:
            args.update(o)
    args.update(kw)
    return getattr(K, fn)(**args)


OPTIONAL = ("dc", "b_hn")   # may be None: zero dc / no b_hn (see test_optional_step_inputs)
for fn, (inputs, outputs, style) in step_specs().items():
    kind = fn.split("_")[0]
    for arg, shape in inputs.items():
        if arg not in OPTIONAL:
            bad(f"{fn}-{arg}-None", lambda fn=fn, arg=arg: call_step(fn, {arg: None}), TypeError,
                rf"{fn}: {arg} must be a numpy.ndarray, got NoneType")
        bad(f"{fn}-{arg}-list", lambda fn=fn, arg=arg, s=shape: call_step(fn, {arg: f64(*s).tolist()}), TypeError,
            rf"{fn}: {arg} must be a numpy.ndarray, got list")
        for dt in (np.int64, np.complex64, np.float16, object):
            name = np.dtype(dt).name
            bad(f"{fn}-{arg}-{name}", lambda fn=fn, arg=arg, s=shape, dt=dt: call_step(fn, {arg: np.zeros(s, dt)}),
                TypeError, rf"{fn}: {arg} must be float32 or float64, got {re.escape(str(shape))} {name}")
        if arg != "w_hh":
            bad(f"{fn}-{arg}-float32", lambda fn=fn, arg=arg, s=shape: call_step(fn, {arg: f32(*s)}), TypeError,
                rf"{fn}: {arg} has dtype float32 \(shape {re.escape(str(shape))}\) but w_hh is float64")
        wrong = shape[:-1] + (shape[-1] + 1,)
        bad(f"{fn}-{arg}-shape", lambda fn=fn, arg=arg, s=wrong: call_step(fn, {arg: f64(*s)}), ValueError,
            rf"{fn}: {arg} (has shape {re.escape(str(wrong))}, expected|must have shape)")
        bad(f"{fn}-{arg}-masked", lambda fn=fn, arg=arg, s=shape: call_step(fn, {arg: masked(f64(*s))}), TypeError,
            rf"{fn}: {arg} is a masked array")
    for out, shape in outputs.items():
        bad(f"{fn}-out-{out}-readonly", lambda fn=fn, out=out, s=shape: call_step(fn, outs={out: ro(f64(*s))}),
            ValueError, rf"{fn}: {out} {re.escape(str(shape))} float64 is read-only")
        bad(f"{fn}-out-{out}-fortran", lambda fn=fn, out=out, s=shape: call_step(fn, outs={out: np.asfortranarray(f64(*s))}),
            ValueError, rf"{fn}: {out} .* not C-contiguous")
        bad(f"{fn}-out-{out}-shape", lambda fn=fn, out=out, s=shape: call_step(fn, outs={out: f64(s[0] + 1, s[1])}),
            ValueError, rf"{fn}: {out} has shape \({shape[0] + 1}, {shape[1]}\), expected")
        bad(f"{fn}-out-{out}-misaligned", lambda fn=fn, out=out, s=shape: call_step(fn, outs={out: misaligned(*s)}),
            ValueError, rf"{fn}: {out} {re.escape(str(shape))} float64 is not aligned")
        bad(f"{fn}-out-{out}-dtype", lambda fn=fn, out=out, s=shape: call_step(fn, outs={out: f32(*s)}),
            TypeError, rf"{fn}: {out} has dtype float32, expected float64")
        same = next((n for n, s in inputs.items() if s == shape), None)
        if same is not None:   # an output that IS an input of its shape: no step kernel runs in place
            bad(f"{fn}-out-{out}-is-{same}", lambda fn=fn, out=out, same=same, s=shape:
                (lambda a: call_step(fn, {same: a}, {out: a}))(f64(*s)), ValueError,
                rf"{fn}: output {out} overlaps input {same} in memory")
    names = list(outputs)
    for i, o1 in enumerate(names):   # two outputs in one buffer (e.g. lstm out=(hc, hc, g, tc))
        for o2 in names[i + 1:]:
            if outputs[o1] == outputs[o2]:
                bad(f"{fn}-out-{o1}-is-{o2}", lambda fn=fn, o1=o1, o2=o2, s=outputs[o1]:
                    (lambda a: call_step(fn, outs={o1: a, o2: a}))(f64(*s)), ValueError,
                    rf"{fn}: output buffers {o1} and {o2} overlap")
    if style == "tuple":
        bad(f"{fn}-out-short", lambda fn=fn: call_step(fn, out=(f64(B, H),)), TypeError,
            rf"{fn}: out must be a tuple of {len(outputs)} arrays")
        bad(f"{fn}-out-array", lambda fn=fn: call_step(fn, out=f64(B, H)), TypeError,
            rf"{fn}: out must be a tuple of {len(outputs)} arrays .*got ndarray")
    bad(f"{fn}-lengths-float", lambda fn=fn: call_step(fn, lengths=np.ones(B)), TypeError, rf"{fn}: lengths must be an integer")
    bad(f"{fn}-lengths-list", lambda fn=fn: call_step(fn, lengths=[1] * B), TypeError, rf"{fn}: lengths must be an integer numpy.ndarray, got list")
    bad(f"{fn}-lengths-shape", lambda fn=fn: call_step(fn, lengths=np.ones(B + 1, int)), ValueError,
        rf"{fn}: lengths has shape \({B + 1},\), expected \({B},\)")
    bad(f"{fn}-lengths-negative", lambda fn=fn: call_step(fn, lengths=np.array([1, -1, 2])), ValueError, rf"{fn}: lengths must lie in")
    bad(f"{fn}-lengths-uint64", lambda fn=fn: call_step(fn, lengths=np.array([1, 2 ** 63, 2], np.uint64)), ValueError,
        rf"{fn}: lengths must lie in .*max 9223372036854775808")
    for t, exc, pat in [(-1, ValueError, r"t must be >= 0, got -1"), (1.5, TypeError, r"t must be an int, got float"),
                        (None, TypeError, r"t must be an int, got NoneType"), (2 ** 70, ValueError, r"t must be <= 9223372036854775807"),
                        (True, TypeError, r"t must be an int, got bool")]:
        bad(f"{fn}-t-{t!r}", lambda fn=fn, t=t: call_step(fn, t=t), exc, rf"{fn}: {pat}")
    bad(f"{fn}-reference-str", lambda fn=fn: call_step(fn, reference="yes"), TypeError, rf"{fn}: reference must be True or False")
    bad(f"{fn}-plan-str", lambda fn=fn: call_step(fn, plan="fast"), TypeError, rf"{fn}: plan must be a kernels.StepPlan, got str")
    other = "gru" if kind == "lstm" else "lstm"
    bad(f"{fn}-plan-other-kind", lambda fn=fn, other=other: call_step(fn, plan=K.StepPlan(other, f64(GATES[other] * H, H), B)),
        ValueError, rf"{fn}: the plan was made for {other}")
    # a 4 GiB w_hh view with one bad argument: reported before the view is copied
    G, HH = GATES[kind], 2 ** 15 if kind == "rnn" else 2 ** 14
    bad(f"{fn}-huge-w_hh", lambda fn=fn, G=G, HH=HH: call_step(fn, {"w_hh": huge(G * HH, HH, dtype=np.float64)}),
        ValueError, rf"{fn}: \w+ has shape \({B}, \d+\), expected \(B, (\d\*)?H\) = \({B}, \d+\) with H={HH} from w_hh")
bad("rnn_step_forward-nonlinearity", lambda: call_step("rnn_step_forward", nonlinearity="sigmoid"), ValueError,
    r"nonlinearity must be 'tanh' or 'relu', got 'sigmoid'")


# --- sequence kernels
T = 5


def seq_args(kind, **kw):
    G = GATES[kind]
    args = {"gx": f64(T, B, G * H), "h0": f64(B, H), "w_hh": f64(G * H, H)}
    if kind == "lstm":
        args["c0"] = f64(B, H)
    args.update(kw)
    return args


def seq_cache(kind):
    res = getattr(K, f"{kind}_seq_forward")(**seq_args(kind))
    return res[-1]


def seq_back(kind, cache=None, **kw):
    args = {"dout": f64(T, B, H), "dh_n": f64(B, H), "cache": seq_cache(kind) if cache is None else cache,
            "w_hh": f64(GATES[kind] * H, H)}
    if kind == "lstm":
        args["dc_n"] = f64(B, H)
    args.update(kw)
    return getattr(K, f"{kind}_seq_backward")(**args)


for kind, G in GATES.items():
    fw, bw = f"{kind}_seq_forward", f"{kind}_seq_backward"
    run = lambda fw=fw, kind=kind, **kw: getattr(K, fw)(**seq_args(kind, **kw))
    bad(f"{fw}-gx-2d", lambda run=run, G=G: run(gx=f64(B, G * H)), ValueError,
        rf"{fw}: gx has shape \({B}, {G * H}\), expected \(T, B, ({G}\*)?H\) = \(\?, \?, {G * H}\) with H={H} from w_hh")
    bad(f"{fw}-gx-width", lambda run=run, G=G: run(gx=f64(T, B, G * H + 1)), ValueError,
        rf"{fw}: gx has shape \({T}, {B}, {G * H + 1}\), expected \(T, B, ({G}\*)?H\) = \({T}, {B}, {G * H}\)")
    bad(f"{fw}-h0-None", lambda run=run: run(h0=None), TypeError, rf"{fw}: h0 must be a numpy.ndarray, got NoneType")
    bad(f"{fw}-h0-batch", lambda run=run: run(h0=f64(B + 1, H)), ValueError,
        rf"{fw}: h0 has shape \({B + 1}, {H}\), expected \(B, H\) = \({B}, {H}\)")
    bad(f"{fw}-h0-object", lambda run=run: run(h0=np.full((B, H), None)), TypeError,
        rf"{fw}: h0 must be float32 or float64, got \({B}, {H}\) object")
    bad(f"{fw}-lengths-long", lambda run=run: run(lengths=np.array([1, T + 1, 2])), ValueError,
        rf"{fw}: lengths must lie in \[0, {T}\]")
    bad(f"{fw}-reverse-str", lambda run=run: run(reverse="yes"), TypeError, rf"{fw}: reverse must be True or False")
    HH = 2 ** 15 if kind == "rnn" else 2 ** 14    # a w_hh view of 6-8 GiB
    bad(f"{fw}-huge-w_hh", lambda run=run, G=G, HH=HH: run(w_hh=huge(G * HH, HH, dtype=np.float64)), ValueError,
        rf"{fw}: gx has shape \({T}, {B}, {G * H}\), expected")
    bad(f"{bw}-cache-list", lambda kind=kind: seq_back(kind, cache=[]), TypeError, rf"{bw}: cache must be the dict")
    bad(f"{bw}-cache-missing", lambda kind=kind: seq_back(kind, cache={"hprev": f64(T, B, H)}), TypeError,
        rf"{bw}: cache must be the dict returned by {fw}")
    bad(f"{bw}-cache-dtype", lambda kind=kind: seq_back(kind, cache={k: v.astype(np.float32) for k, v in seq_cache(kind).items()}),
        TypeError, rf"{bw}: cache\['hprev'\] has dtype float32 .* but w_hh is float64")
    bad(f"{bw}-dout-shape", lambda kind=kind: seq_back(kind, dout=f64(T - 1, B, H)), ValueError,
        rf"{bw}: dout has shape \({T - 1}, {B}, {H}\), expected \(T, B, H\) = \({T}, {B}, {H}\)")
    bad(f"{bw}-dh_n-int", lambda kind=kind: seq_back(kind, dh_n=np.zeros((B, H), int)), TypeError,
        rf"{bw}: dh_n must be float32 or float64")
    bad(f"{bw}-reverse-str", lambda kind=kind: seq_back(kind, reverse="no"), TypeError, rf"{bw}: reverse must be True or False")
    bad(f"{bw}-huge-cache", lambda kind=kind, G=G: seq_back(
        kind, cache={n: huge(2 ** 12, 2 ** 8, k * 2 ** 10, dtype=np.float64) for n, k in
                     {"rnn": {"hprev": 1, "out": 1}, "lstm": {"hprev": 1, "cprev": 1, "gates": 4, "tanh_c": 1},
                      "gru": {"hprev": 1, "gates": 3, "hn": 1}}[kind].items()},
        w_hh=huge(G * 2 ** 10, 2 ** 10, dtype=np.float64), dout=f64(T, B, H)), ValueError, rf"{bw}: dout has shape \({T}, {B}, {H}\), expected")
bad("lstm_seq_forward-c0-None", lambda: K.lstm_seq_forward(**seq_args("lstm", c0=None)), TypeError,
    r"lstm_seq_forward: c0 must be a numpy.ndarray, got NoneType")
bad("gru_seq_forward-b_hn-shape", lambda: K.gru_seq_forward(**seq_args("gru", b_hn=f64(H + 1))), ValueError,
    rf"gru_seq_forward: b_hn has shape \({H + 1},\), expected \(H,\) = \({H},\)")
bad("rnn_seq_forward-nonlinearity", lambda: K.rnn_seq_forward(**seq_args("rnn"), nonlinearity=None), ValueError,
    r"nonlinearity must be 'tanh' or 'relu', got None")
bad("lstm_seq_forward-overwrite-readonly", lambda: K.lstm_seq_forward(**seq_args("lstm", gx=ro(f64(T, B, 4 * H))), overwrite_gx=True),
    ValueError, r"lstm_seq_forward: gx \(overwrite_gx=True\) .* is read-only")
bad("lstm_seq_forward-overwrite-fortran", lambda: K.lstm_seq_forward(**seq_args("lstm", gx=np.asfortranarray(f64(T, B, 4 * H))),
                                                                    overwrite_gx=True),
    ValueError, r"lstm_seq_forward: gx \(overwrite_gx=True\) .* not C-contiguous")
bad("lstm_seq_forward-overwrite-h0-in-gx", lambda: (lambda gx: K.lstm_seq_forward(**seq_args("lstm", gx=gx, h0=gx[-1, :, :H]),
                                                                                  overwrite_gx=True))(f64(T, B, 4 * H)),
    ValueError, r"lstm_seq_forward: output gx \(overwrite_gx=True\) overlaps input h0")
bad("lstm_seq_forward-overwrite-str", lambda: K.lstm_seq_forward(**seq_args("lstm"), overwrite_gx="yes"), TypeError,
    r"lstm_seq_forward: overwrite_gx must be True or False")


# ----------------------------------------------------------------------------- what must work
DTYPES = [np.float32, np.float64]


def rand(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", [(0, 5, 3), (3, 0, 5), (3, 5, 0), (0, 0, 0)])
def test_gemm_zero_sizes(dtype, m, n, k):
    a, b = rand((m, k), dtype), rand((k, n), dtype, 1)
    assert K.gemm(a, b).shape == (m, n)
    np.testing.assert_array_equal(K.gemm(a, b), np.zeros((m, n), dtype))      # empty sum: 0
    out = np.full((m, n), np.nan, dtype)
    np.testing.assert_array_equal(K.gemm(a, b, out=out), np.zeros((m, n), dtype))  # beta 0 ignores NaN
    c0 = rand((m, n), dtype, 2)
    out = c0.copy()
    K.gemm(a, b, alpha=2.0, beta=3.0, out=out)
    np.testing.assert_allclose(out, 3.0 * c0.astype(np.float64) + 2.0 * (a.astype(np.float64) @ b),
                               rtol=np.finfo(dtype).eps * 4)
    for shape_a, shape_b in [((0, m, k), (k, n)), ((2, m, k), (2, k, n)), ((2, m, k), (k, n))]:
        assert K.gemm_batched(rand(shape_a, dtype), rand(shape_b, dtype)).shape == shape_a[:1] + (m, n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)])
def test_activations_and_adam_zero_sizes(dtype, shape):
    x = np.zeros(shape, dtype)
    for name in ("tanh", "sigmoid", "exp"):
        y = getattr(K, f"{name}_forward")(x)
        assert y.shape == shape and y.dtype == dtype
        assert getattr(K, f"{name}_backward")(x, y).shape == shape
    K.adam_update(x, x.copy(), x.copy(), x.copy(), x.copy(), **ADAM)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b,h", [(0, 4), (3, 0), (0, 0)])
@pytest.mark.parametrize("fn", list(step_specs()))
def test_step_kernels_zero_sizes(fn, b, h, dtype):
    """B = 0 or H = 0 steps are no-ops returning empty arrays (a StepPlan refuses them: battery)."""
    inputs, outputs, _ = step_specs(b, h)[fn]
    res = getattr(K, fn)(**{n: np.zeros(s, dtype) for n, s in inputs.items()})
    res = res if isinstance(res, tuple) else (res,)
    assert [r.shape for r in res] == [tuple(s) for s in outputs.values()]
    assert all(r.dtype == dtype for r in res)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", list(GATES))
def test_sequence_kernels_zero_steps(kind, dtype):
    """T = 0: the final state is the initial one, and the gradient reaching h0 (c0) is dh_n (dc_n)."""
    G = GATES[kind]
    gx, h0, c0, w = np.zeros((0, B, G * H), dtype), rand((B, H), dtype), rand((B, H), dtype, 1), rand((G * H, H), dtype, 2)
    dh_n, dc_n = rand((B, H), dtype, 3), rand((B, H), dtype, 4)
    if kind == "lstm":
        out, h_n, c_n, cache = K.lstm_seq_forward(gx, h0, c0, w)
        np.testing.assert_array_equal(c_n, c0)
        dg, dh0, dc0 = K.lstm_seq_backward(None, dh_n, dc_n, cache, w)
        np.testing.assert_array_equal(dc0, dc_n)
    else:
        out, h_n, cache = getattr(K, f"{kind}_seq_forward")(gx, h0, w)
        dg, *_, dh0 = getattr(K, f"{kind}_seq_backward")(None, dh_n, cache, w)
    assert out.shape == (0, B, H) and dg.shape == (0, B, G * H)
    np.testing.assert_array_equal(h_n, h0)
    np.testing.assert_array_equal(dh0, dh_n)


@pytest.fixture(params=[True, False], ids=["simd", "generic"])
def simd(request):
    K.set_simd(request.param)
    yield request.param
    K.set_simd(True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 37, 100_003])   # 100_003: the chunked, threaded path
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp"])
def test_forward_activations_run_in_place(simd, name, n, dtype):
    """``out=x`` is supported (documented): each element is read before it is written, in the
    generic and the AVX2 loops alike, so the result is the out-of-place one, bit for bit."""
    x = rand(n, dtype, 5)
    expect = getattr(K, f"{name}_forward")(x)
    assert getattr(K, f"{name}_forward")(x, out=x) is x
    np.testing.assert_array_equal(x, expect)


def test_non_overlapping_views_of_one_buffer_are_accepted():
    """The overlap check is exact, not by address bounds: views that interleave without sharing
    an element are fine, so are adjacent rows of one buffer."""
    buf = rand(16)
    x = buf[::8]                 # elements 0 and 8
    out = buf[1:3]               # inside x's bounds, sharing no element
    # the same kernel on separate buffers is the reference: the results must be the same bits
    # (the kernels' accuracy against NumPy is tested elsewhere, with bounds derived from rounding)
    expect = K.tanh_forward(x.copy())
    K.tanh_forward(x, out=out)
    np.testing.assert_array_equal(out, expect)
    rows = np.zeros((3, 4, 4))
    rows[1] = rand((4, 4), seed=1)
    expect = K.gemm(rows[1].copy(), rows[1].copy())
    K.gemm(rows[1], rows[1], out=rows[2])
    np.testing.assert_array_equal(rows[2], expect)
    cache = np.zeros((4, B, H))  # lstm step outputs in four slices of one cache
    args = dict(gx_t=rand((B, 4 * H)), h_prev=rand((B, H), seed=1), c_prev=rand((B, H), seed=2), w_hh=rand((4 * H, H), seed=3))
    h, c, g, tc = K.lstm_step_forward(**args)
    K.lstm_step_forward(**args, out=(cache[0], cache[1], np.zeros((B, 4 * H)), cache[2]))
    np.testing.assert_array_equal(cache[:3], np.stack([h, c, tc]))


def test_broadcast_and_strided_inputs_are_copied_after_the_checks():
    a = np.broadcast_to(rand(4), (3, 4))
    b = rand((5, 4))[:, ::-1].T  # (4, 5), neither C- nor F-contiguous
    np.testing.assert_allclose(K.gemm(a, b), a @ b, rtol=1e-14)
    np.testing.assert_allclose(K.tanh_forward(a), np.tanh(a), rtol=1e-15)
    w, g = rand(6), rand(12)[::2]
    w2 = w.copy()
    m, v = np.zeros(6), np.zeros(6)
    K.adam_update(w, m, v, g, **ADAM)
    K.adam_update(w2, np.zeros(6), np.zeros(6), np.ascontiguousarray(g), **ADAM)
    np.testing.assert_array_equal(w, w2)
    hp = np.broadcast_to(rand(H), (B, H))
    gx, w_hh = rand((B, H), seed=1), rand((H, H), seed=2)
    np.testing.assert_array_equal(K.rnn_step_forward(gx, hp, w_hh), K.rnn_step_forward(gx, hp.copy(), w_hh))


def test_misaligned_inputs_are_copied_aligned():
    """Inputs at an odd byte offset are C-contiguous but not aligned: they are copied (a
    misaligned double * is undefined behaviour in C), with the same results."""
    x = misaligned(1000, fill=0.5)
    np.testing.assert_array_equal(K.tanh_forward(x), K.tanh_forward(x.copy()))
    a = misaligned(40, 40, fill=0.25)
    np.testing.assert_array_equal(K.gemm(a, a), K.gemm(a.copy(), a.copy()))
    np.testing.assert_array_equal(K.gemm(a, a.T), K.gemm(a.copy(), a.copy().T))
    gx, w = rand((3, B, 4 * H)), misaligned(4 * H, H, fill=0.1)
    lengths = misaligned(B, dtype=np.int64, fill=2)
    ref = K.lstm_seq_forward(gx, f64(B, H), f64(B, H), w.copy(), lengths.copy())
    for x, y in zip(K.lstm_seq_forward(gx, f64(B, H), f64(B, H), w, lengths)[:3], ref[:3]):
        np.testing.assert_array_equal(x, y)


def test_optional_step_inputs():
    """dc=None is a zero dc; b_hn=None is a zero b_hn."""
    rng = np.random.default_rng(7)
    dh, tc, cp = (rng.standard_normal((B, H)) for _ in range(3))
    gates, w = rng.uniform(0.1, 0.9, (B, 4 * H)), rng.standard_normal((4 * H, H))
    for x, y in zip(K.lstm_step_backward(dh, None, gates, tc, cp, w), K.lstm_step_backward(dh, np.zeros((B, H)), gates, tc, cp, w)):
        np.testing.assert_array_equal(x, y)
    gx, hp, w3 = rng.standard_normal((B, 3 * H)), rng.standard_normal((B, H)), rng.standard_normal((3 * H, H))
    for x, y in zip(K.gru_step_forward(gx, hp, w3), K.gru_step_forward(gx, hp, w3, np.zeros(H))):
        np.testing.assert_array_equal(x, y)


def test_overlap_property_of_an_elementwise_kernel():
    """For any two views of one buffer: tanh_forward(x, out) either computes tanh of x as it was,
    or (when they share memory without being the very same view) raises ValueError."""
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies

    @hyp.settings(max_examples=200, deadline=None)
    @hyp.given(st.integers(0, 40), st.integers(1, 4), st.integers(0, 40), st.integers(0, 20))
    def check(x_start, x_step, out_start, n):
        buf = np.arange(64, dtype=np.float64) / 64
        x = buf[x_start::x_step][:n]
        out = buf[out_start:out_start + len(x)]
        if len(out) != len(x):
            return
        before = x.copy()
        identical = x.ctypes.data == out.ctypes.data and x.strides == out.strides
        if np.shares_memory(x, out) and not identical:
            with pytest.raises(ValueError, match="tanh_forward: output out overlaps input x"):
                K.tanh_forward(x, out=out)
            np.testing.assert_array_equal(buf, np.arange(64) / 64)   # nothing written
        else:
            K.tanh_forward(x, out=out)
            np.testing.assert_array_equal(out, K.tanh_forward(before))

    check()


# ----------------------------------------------------------------------------- the child process
def run_cases(start):
    """Child: run CASES[start:] under an address-space limit, one JSON line per event."""
    import resource
    import tracemalloc
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), resource.getrlimit(resource.RLIMIT_AS)[1]))
    tracemalloc.start()
    for i in range(start, len(CASES)):
        case_id, fn, exc, pattern = CASES[i]
        print(json.dumps({"i": i, "start": True}), flush=True)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            fn()
            got = {"raised": None, "message": ""}
        except BaseException as e:   # noqa: BLE001 - every outcome is reported to the parent
            got = {"raised": [c.__name__ for c in type(e).__mro__], "message": str(e)}
        got.update(i=i, peak=tracemalloc.get_traced_memory()[1] - base)
        print(json.dumps(got), flush=True)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run the table in child processes; a crash is recorded for its case and the next child
    resumes after it."""
    res, start = {}, 0
    cwd = tmp_path_factory.mktemp("battery")   # not the source tree: import the installed minigrad
    while start < len(CASES):
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(start)], cwd=cwd,
                           capture_output=True, text=True, timeout=600)
        last = start
        for line in p.stdout.splitlines():
            rec = json.loads(line)
            last = rec["i"]
            if not rec.get("start"):
                res[last] = rec
                last += 1
        if last < len(CASES) and last not in res:
            res[last] = {"crash": f"exit code {p.returncode}", "stderr": p.stderr[-2000:]}
            last += 1
        start = last
    return res


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_clearly(results, index):
    case_id, _, exc, pattern = CASES[index]
    got = results[index]
    assert "crash" not in got, f"{case_id} crashed the interpreter ({got.get('crash')}): {got.get('stderr')}"
    assert got["raised"] is not None, f"{case_id}: no exception (silently accepted)"
    assert exc.__name__ in got["raised"], f"{case_id}: raised {got['raised'][0]}: {got['message']}"
    assert re.search(pattern, got["message"]), f"{case_id}: message {got['message']!r} does not match {pattern!r}"
    if "huge" in case_id:   # (other thunks allocate their own small test arrays)
        assert got["peak"] < PEAK_LIMIT, f"{case_id}: {got['peak']} bytes allocated before the error"


def test_battery_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    run_cases(int(sys.argv[2]))
