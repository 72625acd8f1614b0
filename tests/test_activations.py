"""Elementwise tanh / sigmoid / exp kernels (csrc/activations.c, csrc/mathfun.h).

Accuracy is measured in ulps of the kernel's dtype against a long-double reference
(np.longdouble: 64-bit mantissa on x86, far finer than float64), over the whole input range,
on both the AVX2/FMA and the generic code paths. The bounds are what the implementation
achieves (measured maxima: tanh 1.51, sigmoid 2.33, exp 1.00 ulp), with a little headroom.
"""
import numpy as np
import pytest

from fdcheck import fd_atol
from minigrad import kernels as K

L = np.longdouble
DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 7, 13, 17, 33, 255, 257, 100003]
MAX_ULP = {"tanh": 2.0, "sigmoid": 3.0, "exp": 1.5}


def ref_tanh(x):
    return np.tanh(x.astype(L))


def ref_sigmoid(x):
    x = x.astype(L)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def ref_exp(x):
    with np.errstate(over="ignore"):
        return np.exp(x.astype(L))


OPS = {
    "tanh": (K.tanh_forward, K.tanh_backward, ref_tanh, lambda y: 1 - y * y),
    "sigmoid": (K.sigmoid_forward, K.sigmoid_backward, ref_sigmoid, lambda y: y * (1 - y)),
    "exp": (K.exp_forward, K.exp_backward, ref_exp, lambda y: y),
}


def ulp_error(y, ref, dtype):
    """|y - ref| in units of the dtype's spacing at the (rounded) reference value."""
    with np.errstate(over="ignore"):
        spacing = np.spacing(np.abs(ref.astype(dtype))).astype(L)
    return np.abs(y.astype(L) - ref) / spacing


@pytest.fixture(params=[True, False], ids=["simd", "generic"])
def simd(request):
    K.set_simd(request.param)
    yield request.param
    K.set_simd(True)


def whole_range(dtype):
    """Inputs covering every regime: wide linspace, dense near 0 down to the subnormals, both
    sides of each branch point of mathfun.h, the exp clamp/overflow/underflow edges."""
    fi = np.finfo(dtype)
    tiny = float(fi.smallest_subnormal)
    mags = np.geomspace(tiny, 1.0, 20000)
    branch = [0.625, 0.3125, 104.0 / 2, 746.0 / 2, 104.0, 89.0, 746.0, 710.0, 88.72, 709.78,
              87.33, 103.97, 708.4, 745.13, 9.01, 19.06, 0.5, 1.0, np.log(2) / 2]
    near = []
    for b in branch:
        v = dtype(b)
        for _ in range(40):
            near.append(v)
            v = np.nextafter(v, dtype(np.inf))
        v = dtype(b)
        for _ in range(40):
            v = np.nextafter(v, dtype(0))
            near.append(v)
        near.extend(np.linspace(b * 0.98, b * 1.02, 2001))
    rng = np.random.default_rng(0)
    pos = np.concatenate([np.linspace(0, 1000, 100001), mags, np.asarray(near, dtype=float),
                          rng.uniform(0, 30, 100000), [float(fi.tiny), float(fi.max), 1e30]])
    return np.concatenate([pos, -pos]).astype(dtype)


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_whole_range_ulp(op, dtype, simd):
    fwd, _, ref, _ = OPS[op]
    x = whole_range(dtype)
    y = fwd(x)
    r = ref(x)
    with np.errstate(over="ignore"):
        finite = np.isfinite(r.astype(dtype))
    # exp overflows to inf exactly where the correctly rounded result does
    assert np.array_equal(np.isposinf(y), ~finite)
    err = ulp_error(y[finite], r[finite], dtype)
    worst = int(np.argmax(err))
    msg = f"{op} {np.dtype(dtype)}: {float(err[worst]):.3f} ulp at x={x[finite][worst]!r}"
    assert err[worst] <= MAX_ULP[op], msg


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("op", ["tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sizes_vs_numpy(n, op, dtype):
    """Odd sizes exercise the vector-loop remainders; NumPy float64 is the reference here."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    y = OPS[op][0](x)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        sig = np.where(x64 >= 0, 1 / (1 + np.exp(-x64)), np.exp(x64) / (1 + np.exp(x64)))
    expect = np.tanh(x64) if op == "tanh" else sig
    # float64: both sides carry a few ulp of their own error (the tight bound is in the ulp test)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y, expect, rtol=(4 if dtype == np.float32 else 6) * eps, atol=0)
    assert y.dtype == dtype and y.shape == (n,)


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(dtype, simd):
    x = np.array([np.inf, -np.inf, 1000, -1000, np.nan, 0.0, -0.0, 1e30, -1e30], dtype=dtype)
    t = K.tanh_forward(x)
    s = K.sigmoid_forward(x)
    e = K.exp_forward(x)
    np.testing.assert_array_equal(t[:4], [1, -1, 1, -1])
    np.testing.assert_array_equal(s[:4], [1, 0, 1, 0])
    np.testing.assert_array_equal(t[7:], [1, -1])
    np.testing.assert_array_equal(s[7:], [1, 0])
    assert np.isnan(t[4]) and np.isnan(s[4]) and np.isnan(e[4])
    assert t[5] == 0 and not np.signbit(t[5])
    assert t[6] == 0 and np.signbit(t[6])          # tanh(-0.0) == -0.0
    assert s[5] == s[6] == 0.5
    np.testing.assert_array_equal(e[[0, 1, 2, 3, 5, 6]], [np.inf, 0, np.inf, 0, 1, 1])
    # tanh(tiny) == tiny, including subnormals
    sub = np.array([np.finfo(dtype).smallest_subnormal, np.finfo(dtype).tiny, 1e-30], dtype=dtype)
    np.testing.assert_array_equal(K.tanh_forward(sub), sub)
    np.testing.assert_array_equal(K.tanh_forward(-sub), -sub)


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_kernels(op, dtype):
    x = np.linspace(-30, 30, 1001).astype(dtype)
    refk = {"tanh": K.tanh_reference, "sigmoid": K.sigmoid_reference, "exp": K.exp_reference}[op]
    err = ulp_error(refk(x), OPS[op][2](x), dtype)
    assert err.max() <= (1.0 if dtype == np.float32 else 2.0)   # libm in double, then rounded
    np.testing.assert_allclose(OPS[op][0](x), refk(x), rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_formula_and_accumulation(op, dtype, simd):
    fwd, bwd, _, deriv = OPS[op]
    rng = np.random.default_rng(1)
    shape = (3, 5, 67)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    y = fwd(x)
    eps = np.finfo(dtype).eps
    fresh = bwd(dy, y)
    assert fresh.shape == shape and fresh.dtype == dtype
    np.testing.assert_allclose(fresh, dy * deriv(y), rtol=8 * eps, atol=8 * eps * np.abs(dy).max())
    # dx given: accumulated into, in place, and returned
    dx0 = rng.standard_normal(shape).astype(dtype)
    dx = dx0.copy()
    out = bwd(dy, y, dx=dx)
    assert out is dx
    np.testing.assert_allclose(dx, dx0 + dy * deriv(y), rtol=8 * eps, atol=8 * eps * 10)
    bwd(dy, y, dx=dx)                               # a second call accumulates again
    np.testing.assert_allclose(dx, dx0 + 2 * (dy * deriv(y)), rtol=16 * eps, atol=16 * eps * 10)


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp"])
def test_gradient_finite_differences(op):
    """float64 central differences of the forward kernel vs the backward kernel."""
    fwd, bwd, _, _ = OPS[op]
    rng = np.random.default_rng(2)
    x = rng.uniform(-3, 3, 200)
    x = x[np.abs(x) > 1e-3]
    dy = rng.standard_normal(x.shape)
    h = 1e-6
    numeric = dy * (fwd(x + h) - fwd(x - h)) / (2 * h)
    # per element: the function's scale is |dy * f(x)| (see fdcheck.py)
    atol = np.array([fd_atol(s, h) for s in np.abs(dy * fwd(x))])
    assert np.all(np.abs(bwd(dy, fwd(x)) - numeric) <= atol + 1e-7 * np.abs(numeric))


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise_identical(op, dtype):
    if not K.has_openmp():
        pytest.skip("built without OpenMP")
    fwd, bwd, _, _ = OPS[op]
    rng = np.random.default_rng(3)
    n = 300007                                      # above the threading threshold, ragged end
    x = (rng.standard_normal(n) * 5).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    dx0 = rng.standard_normal(n).astype(dtype)
    old = K.get_num_threads()
    res = []
    try:
        for nt in (1, 2):
            K.set_num_threads(nt)
            y = fwd(x)
            res.append((y, bwd(dy, y, dx=dx0.copy())))
    finally:
        K.set_num_threads(old)
    assert res[0][0].tobytes() == res[1][0].tobytes()
    assert res[0][1].tobytes() == res[1][1].tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_noncontiguous_readonly_inplace(dtype):
    rng = np.random.default_rng(4)
    base = rng.standard_normal((40, 30)).astype(dtype)
    for x in (base.T, base[::3, 1::2], base[:, 5]):
        assert not x.flags.c_contiguous
        xc = np.ascontiguousarray(x)
        np.testing.assert_array_equal(K.tanh_forward(x), K.tanh_forward(xc))
        np.testing.assert_array_equal(K.sigmoid_forward(x), K.sigmoid_forward(xc))
        y = K.tanh_forward(xc)
        np.testing.assert_array_equal(K.tanh_backward(x, y), K.tanh_backward(xc, y))
    ro = base.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(K.sigmoid_forward(ro), K.sigmoid_forward(base))
    y = K.tanh_forward(ro)
    y.flags.writeable = False
    expect = K.tanh_backward(base, K.tanh_forward(base))
    np.testing.assert_array_equal(K.tanh_backward(ro, y), expect)
    # in place: out is x
    x = base.copy()
    expect = K.tanh_forward(x)
    assert K.tanh_forward(x, out=x) is x
    np.testing.assert_array_equal(x, expect)
    # scalar-shaped (0-d) arrays work too
    t0 = K.tanh_forward(np.array(0.5, dtype=dtype))
    assert t0.shape == () and t0.dtype == dtype
    np.testing.assert_allclose(t0, np.tanh(0.5), rtol=2 * np.finfo(dtype).eps)


def test_bad_inputs():
    f32 = np.zeros((2, 3), np.float32)
    f64 = np.zeros((2, 3), np.float64)
    with pytest.raises(TypeError, match="tanh_forward: x must be a numpy.ndarray"):
        K.tanh_forward([1.0, 2.0])
    with pytest.raises(TypeError, match="int64"):
        K.sigmoid_forward(np.arange(3))
    with pytest.raises(ValueError, match=r"out has shape \(3, 2\), expected \(2, 3\)"):
        K.tanh_forward(f32, out=np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="out has dtype float64, expected float32"):
        K.sigmoid_forward(f32, out=f64)
    with pytest.raises(ValueError, match=r"out \(2, 3\) float64 is not C-contiguous"):
        K.tanh_forward(f64, out=np.zeros((3, 2)).T)
    with pytest.raises(TypeError, match=r"tanh_backward: y has dtype float64 \(shape \(2, 3\)\) but dy is float32"):
        K.tanh_backward(f32, f64)
    with pytest.raises(ValueError, match=r"dy has shape \(2, 3\) but y has shape \(3, 2\)"):
        K.sigmoid_backward(f64, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"dx has shape \(6,\), expected \(2, 3\)"):
        K.tanh_backward(f64, f64, dx=np.zeros(6))
    ro = np.zeros((2, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"dx \(2, 3\) float64 is read-only"):
        K.sigmoid_backward(f64, f64, dx=ro)
    with pytest.raises(TypeError, match="dx has dtype float32, expected float64"):
        K.exp_backward(f64, f64, dx=f32)
