"""The packed GEMM (csrc/gemm.c) against NumPy in float64 and against the naive reference kernel.

Shapes cover 1, primes and the register-tile edges (MR = 6 rows; NR = 16 float32 / 8 float64
columns), zero-size dimensions, all transpose combinations, alpha/beta, non-contiguous and
read-only inputs, the SIMD and generic code paths, the small unpacked path, 1 vs 2 threads
(bitwise), the batched entry and bad input.
"""
import numpy as np
import pytest

from minigrad import kernels as K

DTYPES = [np.float32, np.float64]
# (M, N, K): tiny (unpacked path), tile edges and primes (packed path), one multi-block K
SHAPES = [(1, 1, 1), (4, 4, 4), (1, 7, 13), (7, 13, 17), (6, 16, 8), (13, 17, 33), (33, 7, 64),
          (17, 33, 255), (64, 40, 257), (5, 255, 20)]


@pytest.fixture(params=[True, False], ids=["simd", "generic"])
def simd(request):
    K.set_simd(request.param)
    yield request.param
    K.set_simd(True)


def rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def operands(m, n, k, ta, tb, dtype, seed=0):
    a = rand((k, m) if ta else (m, k), dtype, seed)
    b = rand((n, k) if tb else (k, n), dtype, seed + 1)
    return a, b


def exact(a, b, ta, tb):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64.T if ta else a64) @ (b64.T if tb else b64)


def tol(dtype, k):
    """Absolute tolerance for entries of a K-term dot product of N(0,1) values."""
    return 8 * np.finfo(dtype).eps * max(k, 1) ** 0.5 * 4 + 8 * np.finfo(dtype).eps * max(k, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_matches_numpy_and_reference(simd, dtype, shape, ta, tb):
    m, n, k = shape
    a, b = operands(m, n, k, ta, tb, dtype)
    c = K.gemm(a, b, ta, tb)
    assert c.shape == (m, n) and c.dtype == dtype
    np.testing.assert_allclose(c, exact(a, b, ta, tb), rtol=0, atol=tol(dtype, k))
    ref = K.gemm(a, b, ta, tb, reference=True)
    np.testing.assert_allclose(c, ref, rtol=0, atol=tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(255, 257, 33), (257, 33, 255)], ids=["255x257x33", "257x33x255"])
def test_gemm_large_edges(simd, dtype, shape):
    m, n, k = shape
    for ta, tb in [(0, 0), (1, 1)]:
        a, b = operands(m, n, k, ta, tb, dtype, seed=3)
        np.testing.assert_allclose(K.gemm(a, b, ta, tb), exact(a, b, ta, tb), rtol=0,
                                   atol=tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 2.0), (0.0, 3.0)])
@pytest.mark.parametrize("shape", [(3, 5, 4), (13, 40, 37)], ids=["small", "packed"])
def test_alpha_beta(simd, dtype, alpha, beta, shape):
    m, n, k = shape
    a, b = operands(m, n, k, 0, 1, dtype, seed=5)
    c0 = rand((m, n), dtype, 9)
    out = c0.copy()
    res = K.gemm(a, b, False, True, alpha=alpha, beta=beta, out=out)
    assert res is out
    expect = alpha * exact(a, b, 0, 1) + beta * c0.astype(np.float64)
    np.testing.assert_allclose(out, expect, rtol=0, atol=tol(dtype, k) * (abs(alpha) + abs(beta) + 1))
    ref = c0.copy()
    K.gemm(a, b, False, True, alpha=alpha, beta=beta, out=ref, reference=True)
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol(dtype, k) * (abs(alpha) + abs(beta) + 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4, 5), (20, 50, 300)], ids=["small", "packed"])
def test_beta_zero_overwrites_nan(simd, dtype, shape):
    m, n, k = shape
    a, b = operands(m, n, k, 0, 0, dtype, seed=2)
    out = np.full((m, n), np.nan, dtype)
    K.gemm(a, b, out=out, beta=0.0)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, exact(a, b, 0, 0), rtol=0, atol=tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,k", [(0, 5, 3), (4, 0, 3), (0, 0, 0), (4, 5, 0)])
def test_zero_size(dtype, m, n, k):
    a, b = operands(m, n, k, 0, 0, dtype)
    c = K.gemm(a, b)
    np.testing.assert_array_equal(c, np.zeros((m, n)))
    if m and n:  # K == 0: C = beta * C
        out = np.full((m, n), 2.0, dtype)
        K.gemm(a, b, beta=1.5, out=out)
        np.testing.assert_array_equal(out, np.full((m, n), 3.0))
        out[:] = np.nan
        K.gemm(a, b, beta=0.0, out=out)
        np.testing.assert_array_equal(out, np.zeros((m, n)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_noncontiguous_and_readonly_inputs(dtype):
    big = rand((40, 60), dtype, 4)
    a = big[3:30:2, 5:50]            # strided rows and a column window: 14 x 45, not contiguous
    b = rand((45, 70), dtype, 5)[:, ::3]  # column stride 3: 45 x 24
    np.testing.assert_allclose(K.gemm(a, b), exact(a, b, 0, 0), rtol=0, atol=tol(dtype, 45))
    # transposed views: F-contiguous, passed without a copy by flipping the transpose flag
    x, y = rand((45, 14), dtype, 6), rand((24, 45), dtype, 7)
    np.testing.assert_allclose(K.gemm(x.T, y.T), exact(x, y, 1, 1), rtol=0, atol=tol(dtype, 45))
    np.testing.assert_allclose(K.gemm(x.T, y, False, True), exact(x, y, 1, 1), rtol=0,
                               atol=tol(dtype, 45))
    np.testing.assert_allclose(K.gemm(x, y.T, True, False), exact(x, y, 1, 1), rtol=0,
                               atol=tol(dtype, 45))
    x.setflags(write=False)
    y.setflags(write=False)
    np.testing.assert_allclose(K.gemm(x, y, True, True), exact(x, y, 1, 1), rtol=0,
                               atol=tol(dtype, 45))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ta,tb", [((64, 1024, 96), 0, 0), ((300, 200, 130), 1, 0),
                                         ((200, 300, 64), 0, 1)], ids=["wide", "tall_ta", "tb"])
def test_threads_bitwise_identical(simd, dtype, shape, ta, tb):
    if not K.has_openmp():
        pytest.skip("built without OpenMP")
    m, n, k = shape
    a, b = operands(m, n, k, ta, tb, dtype, seed=11)
    old = K.get_num_threads()
    try:
        K.set_num_threads(1)
        c1 = K.gemm(a, b, ta, tb)
        K.set_num_threads(2)
        c2 = K.gemm(a, b, ta, tb)
    finally:
        K.set_num_threads(old)
    assert c1.tobytes() == c2.tobytes()
    np.testing.assert_allclose(c1, exact(a, b, ta, tb), rtol=0, atol=tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("shared_b", [False, True])
def test_batched(simd, dtype, ta, tb, shared_b):
    nb, m, n, k = 5, 7, 13, 17
    a = rand((nb, k, m) if ta else (nb, m, k), dtype, 1)
    bshape = (n, k) if tb else (k, n)
    b = rand(bshape if shared_b else (nb,) + bshape, dtype, 2)
    out0 = rand((nb, m, n), dtype, 3)
    out = out0.copy()
    K.gemm_batched(a, b, ta, tb, alpha=0.5, beta=2.0, out=out)
    for i in range(nb):
        bi = b if shared_b else b[i]
        expect = 0.5 * exact(a[i], bi, ta, tb) + 2.0 * out0[i].astype(np.float64)
        np.testing.assert_allclose(out[i], expect, rtol=0, atol=3 * tol(dtype, k))
    plain = K.gemm_batched(a, b, ta, tb)
    for i in range(nb):
        bi = b if shared_b else b[i]
        np.testing.assert_allclose(plain[i], exact(a[i], bi, ta, tb), rtol=0, atol=tol(dtype, k))


def test_batched_threads_bitwise_identical():
    if not K.has_openmp():
        pytest.skip("built without OpenMP")
    a, b = rand((64, 32, 48), np.float32, 1), rand((64, 48, 40), np.float32, 2)  # parallel over items
    old = K.get_num_threads()
    try:
        K.set_num_threads(1)
        c1 = K.gemm_batched(a, b)
        K.set_num_threads(2)
        c2 = K.gemm_batched(a, b)
    finally:
        K.set_num_threads(old)
    assert c1.tobytes() == c2.tobytes()
    np.testing.assert_allclose(c1, np.einsum("bmk,bkn->bmn", a.astype(np.float64), b), rtol=0,
                               atol=tol(np.float32, 48))


# ----------------------------------------------------------------------------- bad input
F32 = np.zeros((3, 4), np.float32)
F32B = np.zeros((4, 5), np.float32)


@pytest.mark.parametrize("args,kwargs,exc,pattern", [
    ((F32.astype(np.int32), F32B), {}, TypeError, r"float32 or float64.*\(3, 4\)"),
    ((F32, F32B.astype(np.float64)), {}, TypeError, r"float64 \(shape \(4, 5\)\).*float32"),
    ((F32, np.zeros((5, 4), np.float32)), {}, ValueError, r"\(3, 4\).*\(5, 4\)"),
    ((F32, F32B), {"trans_a": True}, ValueError, r"\(4, 3\).*\(3, 4\)"),
    ((np.zeros(4, np.float32), F32B), {}, ValueError, r"2-D, got shape \(4,\)"),
    ((F32, np.zeros((1, 4, 5), np.float32)), {}, ValueError, r"2-D, got shape \(1, 4, 5\)"),
    (([[1.0, 2.0]], F32B), {}, TypeError, r"numpy.ndarray, got list"),
    ((F32, 3.0), {}, TypeError, r"numpy.ndarray, got float"),
    ((F32, F32B), {"out": np.zeros((3, 4), np.float32)}, ValueError, r"\(3, 4\), expected \(3, 5\)"),
    ((F32, F32B), {"out": np.zeros((3, 5), np.float64)}, TypeError, r"dtype float64"),
    ((F32, F32B), {"out": np.zeros((5, 3), np.float32).T}, ValueError, r"C-contiguous"),
    ((F32, F32B), {"beta": 1.0}, ValueError, r"beta != 0.*\(3, 5\)"),
])
def test_gemm_bad_input(args, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        K.gemm(*args, **kwargs)


def test_gemm_out_overlapping_input_rejected():
    a = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        K.gemm(a, np.ones((4, 4), np.float32), out=a)


@pytest.mark.parametrize("a,b,exc,pattern", [
    (np.zeros((2, 3, 4)), np.zeros((3, 4, 5)), ValueError, r"batch sizes differ.*\(2, 3, 4\).*\(3, 4, 5\)"),
    (np.zeros((2, 3, 4)), np.zeros((2, 5, 5)), ValueError, r"inner dimensions.*\(2, 3, 4\).*\(2, 5, 5\)"),
    (np.zeros((3, 4)), np.zeros((4, 5)), ValueError, r"3-D, got shape \(3, 4\)"),
    (np.zeros((2, 3, 4)), np.zeros(4), ValueError, r"2 or 3-D, got shape \(4,\)"),
    (np.zeros((2, 3, 4)), np.zeros((2, 4, 5), np.float32), TypeError, r"float32.*float64"),
    ([[[1.0]]], np.zeros((1, 1)), TypeError, r"numpy.ndarray, got list"),
])
def test_gemm_batched_bad_input(a, b, exc, pattern):
    with pytest.raises(exc, match=pattern):
        K.gemm_batched(a, b)


def test_gemm_batched_bad_out():
    a, b = np.zeros((2, 3, 4)), np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"\(2, 5, 3\), expected \(2, 3, 5\)"):
        K.gemm_batched(a, b, out=np.zeros((2, 5, 3)))
