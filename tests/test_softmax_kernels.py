"""Row-wise softmax, log_softmax and cross-entropy kernels (csrc/softmax.c, minigrad.kernels.softmax)
and the functional ops built on them (F.softmax, F.log_softmax, F.cross_entropy).

References: the NumPy versions of minigrad.reference.softmax evaluated in float64, and the naive
libm kernels of csrc/softmax_ref.c. Tolerances are derived, not measured: an entry's error is a
few roundings of the dtype (unit roundoff u) times the scale of what it is computed from:
  * exp(x - m) carries the rounding of x - m, |x - m| u, plus a few u of exp and of the scaling;
  * the row sum rounds in L lane-partial sums of at most blk / L terms each (blk = 1024: the
    block of softmax.c) before they are added in double: (blk / L) u relative at most;
so ROUNDS = blk / L + 8 roundings of the relevant scale bound every result.
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import kernels as K
from minigrad.reference import softmax as ref

DTYPES = [np.float32, np.float64]
LANES = {np.float32: 16, np.float64: 8}
NS = [0, 1, 3, 7]
VS = [1, 2, 7, 15, 16, 17, 31, 1023, 1024, 1025, 3001]   # tails of the 8/16 lanes, block edges


def u(dtype):
    return float(np.finfo(dtype).eps) / 2


def rounds(dtype):
    return 1024 / LANES[dtype] + 8


def data(n, v, dtype, seed=0, scale=5.0):
    return (np.random.default_rng(seed).standard_normal((n, v)) * scale).astype(dtype)


def dev(x):
    """|x - rowmax| in float64: the scale of the rounding of x - m."""
    x = x.astype(np.float64)
    return np.abs(x - x.max(axis=1, keepdims=True)) if x.size else x


@pytest.fixture(params=[True, False], ids=["simd", "generic"])
def simd(request):
    K.set_simd(request.param)
    yield request.param
    K.set_simd(True)


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("v", VS)
def test_forward_matches_float64_reference(simd, dtype, n, v):
    x = data(n, v, dtype, seed=v + n)
    x64 = x.astype(np.float64)
    tol = u(dtype) * (dev(x) + rounds(dtype))
    p_ref = ref.softmax(x64, 1)
    p = K.softmax_forward(x)
    assert p.dtype == dtype and p.shape == (n, v)
    assert np.all(np.abs(p - p_ref) <= tol * p_ref + np.finfo(dtype).tiny)
    lp_ref = ref.log_softmax(x64, 1)
    lp = K.log_softmax_forward(x)
    assert np.all(np.abs(lp - lp_ref) <= u(dtype) * (dev(x) + np.abs(lp_ref) + rounds(dtype)))
    # the naive libm kernels: double inside (x - m rounds in double too, the row sum is sequential:
    # up to V roundings), one rounding to the dtype at the end
    rel = 4 * u(dtype) + u(np.float64) * (dev(x) + 4 + v)
    assert np.all(np.abs(K.softmax_reference(x) - p_ref) <= rel * p_ref + np.finfo(dtype).tiny)
    assert np.all(np.abs(K.log_softmax_reference(x) - lp_ref) <= rel * (np.abs(lp_ref) + 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, v", [(1, 1), (5, 17), (4, 1025), (3, 3001), (2, 70001)])
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_forward_matches_reference(simd, dtype, n, v, eps, weighted):
    rng = np.random.default_rng(v)
    x = data(n, v, dtype, seed=v)
    t = rng.integers(0, v, n)
    t[::3] = -100                                            # some ignored rows
    w = rng.uniform(0.5, 2.0, v).astype(dtype) if weighted else None
    loss, p = K.cross_entropy_forward(x, t, w, -100, eps)
    loss_ref, p_ref = ref.cross_entropy(x.astype(np.float64), t, None if w is None else w.astype(np.float64),
                                        -100, eps)
    wsum = v if w is None else float(w.sum())
    scale = np.abs(loss_ref) + (np.max(dev(x), axis=1) * (1 + eps * wsum) if n else 0) + rounds(dtype)
    assert np.all(np.abs(loss - loss_ref) <= u(dtype) * rounds(dtype) * scale)
    assert np.all(loss[t == -100] == 0)
    assert np.all(np.abs(p - p_ref) <= u(dtype) * (dev(x) + rounds(dtype)) * p_ref + np.finfo(dtype).tiny)
    loss_c, p_c = K.cross_entropy_forward(x, t, w, -100, eps, reference=True)
    assert np.all(np.abs(loss_c - loss_ref) <= 8 * u(dtype) * scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_in_place_is_bitwise_out_of_place(dtype):
    x = data(6, 2049, dtype)
    for fwd in (K.softmax_forward, K.log_softmax_forward):
        y = fwd(x)
        z = x.copy()
        assert fwd(z, out=z) is z and z.tobytes() == y.tobytes()
    t = np.arange(6) * 100
    loss, p = K.cross_entropy_forward(x, t, None, -100, 0.1)
    z = x.copy()
    loss2, p2 = K.cross_entropy_forward(z, t, None, -100, 0.1, p=z)
    assert p2 is z and p2.tobytes() == p.tobytes() and loss2.tobytes() == loss.tobytes()


# ----------------------------------------------------------------------------- non-last axis
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", [((3, 7, 5), 1), ((2, 17, 63), 1), ((2, 5, 64), 1), ((1, 130, 65), 1),
                                         ((4, 3), 0), ((5, 2, 3), 0), ((0, 3, 4), 1), ((2, 0, 4), 1),
                                         ((2, 3, 0), 1)])
def test_non_last_axis_in_place_of_the_array(simd, dtype, shape, axis):
    """The column kernels (I > 1): the same bounds as the rows, along a strided axis; sums of
    SM_SUMROWS = 64 entries in the dtype, then added in double."""
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    x64 = x.astype(np.float64)
    d = np.abs(x64 - x64.max(axis=axis, keepdims=True)) if x.size else x64
    r = 64 + 8
    p, p_ref = K.softmax_forward(x, axis=axis), ref.softmax(x64, axis)
    assert np.all(np.abs(p - p_ref) <= u(dtype) * (d + r) * p_ref + np.finfo(dtype).tiny)
    lp, lp_ref = K.log_softmax_forward(x, axis=axis), ref.log_softmax(x64, axis)
    assert np.all(np.abs(lp - lp_ref) <= u(dtype) * (d + np.abs(lp_ref) + r))
    got = K.softmax_backward(dy, p, axis=axis)
    want = ref.softmax_backward(dy.astype(np.float64), p.astype(np.float64), axis)
    scale = np.abs(p) * (np.abs(dy) + np.sum(np.abs(dy * p), axis=axis, keepdims=True))
    assert np.all(np.abs(got - want) <= 2 * r * u(dtype) * scale)
    got = K.log_softmax_backward(dy, lp, axis=axis)
    want = ref.log_softmax_backward(dy.astype(np.float64), lp.astype(np.float64), axis)
    scale = np.abs(dy) + np.exp(lp) * np.sum(np.abs(dy), axis=axis, keepdims=True)
    assert np.all(np.abs(got - want) <= 2 * r * u(dtype) * scale)
    dx0 = rng.standard_normal(shape).astype(dtype)           # accumulate and in-place forms
    np.testing.assert_array_equal(K.log_softmax_backward(dy, lp, dx=dx0.copy(), axis=axis) - dx0,
                                  K.log_softmax_backward(dy, lp, axis=axis) + dx0 - dx0)
    z = x.copy()
    assert K.softmax_forward(z, out=z, axis=axis).tobytes() == p.tobytes()


def test_non_last_axis_special_values_as_pytorch():
    x = np.zeros((2, 3, 4), np.float32)
    x[0, :, 0] = -np.inf                      # an all -inf column: NaN
    x[0, 0, 1] = -np.inf                      # one -inf entry: probability 0
    x[1, 1, 2] = np.nan
    x[1, 0, 3] = 1e4
    p, lp = K.softmax_forward(x, axis=1), K.log_softmax_forward(x, axis=1)
    assert np.all(np.isnan(p[0, :, 0])) and np.all(np.isnan(p[1, :, 2]))
    assert p[0, 0, 1] == 0 and lp[0, 0, 1] == -np.inf
    assert p[1, 0, 3] == 1 and lp[1, 1, 3] == -1e4
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(p, torch.softmax(torch.tensor(x), 1).numpy())
    np.testing.assert_array_equal(lp, torch.log_softmax(torch.tensor(x), 1).numpy())


# ----------------------------------------------------------------------------- special values
@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits_are_stable(simd, dtype):
    x = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4, -1e4 + 2, -1e4]], dtype)
    x64 = x.astype(np.float64)
    p = K.softmax_forward(x)
    lp = K.log_softmax_forward(x)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(p, ref.softmax(x64, 1), rtol=8 * u(dtype), atol=np.finfo(dtype).tiny)
    np.testing.assert_allclose(lp, ref.log_softmax(x64, 1), rtol=8 * u(dtype))
    loss, _ = K.cross_entropy_forward(x, np.array([1, 2]), None, -100, 0.0)
    np.testing.assert_allclose(loss, [2e4 + np.log1p(np.exp(-1.0)), np.log(1 + 3 * np.exp(-2.0))],
                               rtol=8 * u(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("v", [3, 17, 2500])
def test_minus_inf_and_nan_rows_as_pytorch(simd, dtype, v):
    """-inf entries get probability 0 / log-probability -inf; an all -inf row, or one holding NaN
    or +inf, is NaN throughout (PyTorch's results). Long rows put the -inf block first."""
    inf = np.inf
    x = np.zeros((4, v), dtype)
    x[0, : v - 1] = -inf                       # one finite entry, after whole blocks of -inf
    x[1, :] = -inf                             # all -inf
    x[2, v // 2] = np.nan
    x[3, 0] = inf
    p, lp = K.softmax_forward(x), K.log_softmax_forward(x)
    assert np.all(p[0, : v - 1] == 0) and p[0, v - 1] == 1
    assert np.all(lp[0, : v - 1] == -inf) and lp[0, v - 1] == 0
    assert np.all(np.isnan(p[1:])) and np.all(np.isnan(lp[1:]))
    loss, pc = K.cross_entropy_forward(x, np.array([v - 1, 0, 0, -100]), None, -100, 0.0)
    assert loss[0] == 0 and np.isnan(loss[1]) and np.isnan(loss[2]) and loss[3] == 0
    assert pc.tobytes() == p.tobytes()
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x)
    np.testing.assert_array_equal(p, torch.softmax(tx, 1).numpy())
    np.testing.assert_array_equal(lp, torch.log_softmax(tx, 1).numpy())


# ----------------------------------------------------------------------------- backward
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, v", [(0, 5), (1, 1), (3, 17), (5, 1025), (2, 3001)])
def test_backward_matches_reference(simd, dtype, n, v):
    rng = np.random.default_rng(v)
    x = data(n, v, dtype, seed=v)
    dy = rng.standard_normal((n, v)).astype(dtype)
    dx0 = rng.standard_normal((n, v)).astype(dtype)             # backward adds into dx
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    y = K.softmax_forward(x)
    got = K.softmax_backward(dy, y, dx=dx0.copy()) - dx0
    want = ref.softmax_backward(dy64, y.astype(np.float64), 1)
    scale = np.abs(y) * (np.abs(dy) + np.sum(np.abs(dy * y), axis=1, keepdims=True)) + np.abs(dx0)
    assert np.all(np.abs(got - want) <= 2 * rounds(dtype) * u(dtype) * scale)
    # without dx the kernel writes a new array: the same values as adding into zeros
    np.testing.assert_array_equal(K.softmax_backward(dy, y), K.softmax_backward(dy, y, dx=np.zeros_like(dy)))
    y = K.log_softmax_forward(x)
    np.testing.assert_array_equal(K.log_softmax_backward(dy, y),
                                  K.log_softmax_backward(dy, y, dx=np.zeros_like(dy)))
    got = K.log_softmax_backward(dy, y, dx=dx0.copy()) - dx0
    want = ref.log_softmax_backward(dy64, y.astype(np.float64), 1)
    scale = np.abs(dy) + np.exp(y) * np.sum(np.abs(dy), axis=1, keepdims=True) + np.abs(dx0)
    assert np.all(np.abs(got - want) <= 2 * rounds(dtype) * u(dtype) * scale)
    # cross-entropy: every combination of class weights, smoothing and ignored rows
    t = rng.integers(0, v, n)
    t[::2] = 7
    p = K.softmax_forward(x)
    a = rng.standard_normal(n).astype(dtype)
    for b in (None, rng.standard_normal(n).astype(dtype)):
        for w in (None, rng.uniform(0.5, 2, v).astype(dtype)):
            got = K.cross_entropy_backward(p, t, a, b, w, 7, dx=dx0.copy()) - dx0
            w64 = None if w is None else w.astype(np.float64)
            want = ref.cross_entropy_backward(p.astype(np.float64), t, a.astype(np.float64),
                                              None if b is None else b.astype(np.float64), w64, 7)
            wsum = v if w is None else float(w.sum())
            bb = 0 if b is None else np.abs(b)[:, None]
            # four roundings each in the kernel (a + b W, the product, the subtraction, the add
            # into dx) and in the float64 reference, of terms bounded by `scale`; W itself is a
            # sequential sum in double: up to V roundings of float64
            scale = (np.abs(a)[:, None] * (1 + p) + bb * (p * wsum * (1 + v * u(np.float64) / u(dtype)) + 2)
                     + np.abs(dx0))
            assert np.all(np.abs(got - want) <= 8 * u(dtype) * scale)
            pc = p.copy()
            inplace = K.cross_entropy_backward(pc, t, a, b, w, 7, dx=pc)
            assert inplace is pc
            fresh = K.cross_entropy_backward(p, t, a, b, w, 7)
            assert fresh.tobytes() == inplace.tobytes()
            assert np.all(np.abs(inplace - want) <= 8 * u(dtype) * (scale - np.abs(dx0)))
            assert np.all(inplace[t == 7] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_for_1_and_2_threads(dtype):
    rng = np.random.default_rng(5)
    n, v = 67, 1531                           # n * v above the threading threshold, odd sizes
    x = data(n, v, dtype, seed=5)
    dy = rng.standard_normal((n, v)).astype(dtype)
    t = rng.integers(0, v, n)
    a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    w = rng.uniform(0.5, 2, v).astype(dtype)
    x3 = data(40, 1531, dtype, seed=6).reshape(8, 5, 1531)    # the column kernels (axis 1)
    dy3 = dy[:40].reshape(8, 5, 1531)
    old = K.get_num_threads()
    res = []
    try:
        for nt in (1, 2):
            K.set_num_threads(nt)
            y3, ly3 = K.softmax_forward(x3, axis=1), K.log_softmax_forward(x3, axis=1)
            res.append([y3, ly3, K.softmax_backward(dy3, y3, axis=1), K.log_softmax_backward(dy3, ly3, axis=1)])
            y, ly = K.softmax_forward(x), K.log_softmax_forward(x)
            loss, p = K.cross_entropy_forward(x, t, w, -100, 0.1)
            res.append([y, ly, loss, p, K.softmax_backward(dy, y), K.log_softmax_backward(dy, ly),
                        K.cross_entropy_backward(p, t, a, b, w, -100),
                        K.cross_entropy_backward(p, t, a, b, w, -100, dx=dy.copy())])
    finally:
        K.set_num_threads(old)
    for r1, r2 in zip(res[0] + res[1], res[2] + res[3]):
        assert r1.tobytes() == r2.tobytes()


def test_simd_and_generic_paths_agree():
    x = data(9, 3001, np.float32, seed=9)
    out = {}
    for level in (True, False):
        K.set_simd(level)
        try:
            out[level] = (K.softmax_forward(x), K.log_softmax_forward(x))
        finally:
            K.set_simd(True)
    tol = u(np.float32) * (dev(x) + rounds(np.float32))
    assert np.all(np.abs(out[True][0] - out[False][0]) <= 2 * tol * out[False][0] + 1e-38)
    assert np.all(np.abs(out[True][1] - out[False][1]) <= 2 * tol * (1 + np.abs(out[False][1])))


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors_before_any_c():
    x = data(3, 5, np.float32)
    t = np.array([0, 1, 4])
    with pytest.raises(TypeError, match="float32 or float64"):
        K.softmax_forward(x.astype(np.int32))
    with pytest.raises(ValueError, match="at least one dimension"):
        K.log_softmax_forward(x[0, :1].reshape(()))
    with pytest.raises(ValueError, match="axis must be <= 1"):
        K.softmax_forward(x, axis=2)
    with pytest.raises(ValueError, match="out"):
        K.softmax_forward(x, out=np.empty((3, 4), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        K.softmax_forward(x, out=np.empty((3, 5), np.float64))
    big = data(4, 5, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        K.softmax_forward(big[:3], out=big[1:])          # partial overlap: never allowed
    with pytest.raises(ValueError, match=r"y has shape \(5, 3\)"):
        K.softmax_backward(x, x.T.copy())
    with pytest.raises(TypeError, match="y has dtype float64"):
        K.softmax_backward(x, x.astype(np.float64))
    with pytest.raises(ValueError, match="overlap"):
        K.softmax_backward(x, x, dx=x)
    with pytest.raises(TypeError, match="int64"):
        K.cross_entropy_forward(x, t.astype(np.int32))
    with pytest.raises(ValueError, match=r"target has shape \(2,\)"):
        K.cross_entropy_forward(x, t[:2])
    with pytest.raises(IndexError, match="class 5 outside"):
        K.cross_entropy_forward(x, np.array([0, 5, 1]))
    with pytest.raises(ValueError, match=r"weight has shape \(4,\)"):
        K.cross_entropy_forward(x, t, weight=np.ones(4, np.float32))
    with pytest.raises(ValueError, match="label_smoothing"):
        K.cross_entropy_forward(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="no classes"):
        K.cross_entropy_forward(np.empty((3, 0), np.float32), t)
    with pytest.raises(ValueError, match=r"a has shape \(2,\)"):
        K.cross_entropy_backward(x, t, np.ones(2, np.float32))
    frozen = x.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.cross_entropy_backward(frozen, t, np.ones(3, np.float32), dx=frozen)
    big = data(4, 5, np.float32)
    with pytest.raises(ValueError, match="overlap"):
        K.cross_entropy_backward(big[:3], t, np.ones(3, np.float32), dx=big[1:])


def test_noncontiguous_inputs_are_copied_not_misread():
    base = data(40, 30, np.float64)
    for x in (base.T, base[::3, 1::2]):
        np.testing.assert_array_equal(K.softmax_forward(x), K.softmax_forward(np.ascontiguousarray(x)))


# ----------------------------------------------------------------------------- the ops
def t64(shape, seed=0, scale=2.0):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape) * scale, requires_grad=True,
                     dtype=np.float64)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_ops_gradcheck_any_axis_reuse_broadcast(fn, axis):
    x = t64((3, 4, 5))
    b = t64((5,), seed=1)
    # reused input, broadcasting, and a chain of three softmaxes
    assert mg.gradcheck(lambda x, b: fn(x + b, dim=axis) * x, [x, b])
    assert mg.gradcheck(lambda x: F.softmax(fn(F.log_softmax(x, dim=axis), dim=axis), dim=axis), [x])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_ops_match_reference_on_any_axis(axis):
    x = t64((4, 3, 6), seed=2)
    g = np.random.default_rng(3).standard_normal((4, 3, 6))
    for fn, fwd, bwd in ((F.softmax, ref.softmax, ref.softmax_backward),
                         (F.log_softmax, ref.log_softmax, ref.log_softmax_backward)):
        x.grad = None
        y = fn(x, dim=axis)
        want = fwd(x.data, axis)
        np.testing.assert_allclose(y.data, want, rtol=1e-13, atol=1e-15)
        y.backward(g)
        np.testing.assert_allclose(x.grad, bwd(g, want, axis), rtol=1e-12, atol=1e-14)


def test_softmax_of_scalar_and_zero_size():
    x = mg.tensor(np.float64(3.0), requires_grad=True, dtype=np.float64)
    y = F.softmax(x)
    assert y.shape == () and y.item() == 1.0
    y.backward()
    assert x.grad == 0.0
    z = mg.tensor(np.zeros((0, 4)), requires_grad=True, dtype=np.float64)
    assert F.log_softmax(z, dim=1).shape == (0, 4) and F.softmax(z, dim=0).shape == (0, 4)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_cross_entropy_gradcheck_weights_ignore_and_extra_dims(reduction, eps):
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 2.0, 5)
    x2, t2 = t64((6, 5)), rng.integers(0, 5, 6)
    t2[1] = -100
    x3, t3 = t64((3, 5, 2), seed=1), rng.integers(0, 5, (3, 2))
    t3[0, 1] = -100
    for x, t in ((x2, t2), (x3, t3)):
        kw = dict(weight=w, reduction=reduction, label_smoothing=eps)
        assert mg.gradcheck(lambda x: F.cross_entropy(x, t, **kw), [x])
        assert mg.gradcheck(lambda x: F.cross_entropy(x * x, t, **kw) + F.cross_entropy(x, t, **kw).sum(), [x])


def test_ops_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((9, 1025)) * 4).astype(np.float32)
    x[0, :1000] = -np.inf
    x[1, 5] = 1e4
    t = rng.integers(0, 1025, 9)
    t[2] = -100
    w = rng.uniform(0.5, 2, 1025).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    mx = mg.tensor(x, requires_grad=True)
    tol = dict(rtol=1e-5, atol=1e-6)
    for mfn, tfn in ((F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax)):
        ty, my = tfn(tx, 1), mfn(mx, dim=1)
        np.testing.assert_allclose(my.data, ty.detach().numpy(), **tol)
    for eps in (0.0, 0.1):
        tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t), weight=torch.tensor(w), label_smoothing=eps)
        ml = F.cross_entropy(mx, t, weight=w, label_smoothing=eps)
        np.testing.assert_allclose(ml.item(), tl.item(), rtol=1e-5)
        tx.grad = None
        mx.grad = None
        tl.backward()
        ml.backward()
        np.testing.assert_allclose(mx.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_cross_entropy_minus_inf_rows_and_ignored_rows():
    """A target whose logit is -inf: loss inf, gradient p - onehot as PyTorch. An ignored row
    that is all -inf: gradient 0 (PyTorch gives NaN there; minigrad skips ignored rows)."""
    inf = np.inf
    x = np.array([[-inf, -inf, -inf], [0.0, 1.0, 2.0], [-inf, 0.0, 1.0]])
    mx = mg.tensor(x, requires_grad=True, dtype=np.float64)
    loss = F.cross_entropy(mx, np.array([-100, 1, 0]))
    loss.backward()
    assert loss.item() == inf
    assert np.all(mx.grad[0] == 0)
    p1 = ref.softmax(x[1:2], 1)[0]
    np.testing.assert_allclose(mx.grad[1], (p1 - [0, 1, 0]) / 2, rtol=1e-15)
    np.testing.assert_allclose(mx.grad[2], ([0, *ref.softmax(x[2:, 1:], 1)[0]] - np.array([1, 0, 0])) / 2,
                               rtol=1e-15)
