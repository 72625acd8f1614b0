"""Differentiable ops: forward against NumPy, gradients by finite differences (float64), errors."""
import numpy as np
import pytest

from fdcheck import float64_inputs
import minigrad as mg
from minigrad import kernels as K
from minigrad.ops import unbroadcast

F64 = np.float64
rng = np.random.default_rng(1234)
t64 = float64_inputs(1235)


need_act = pytest.mark.skipif(not hasattr(K, "tanh_forward"), reason="C tanh/sigmoid kernels not merged yet")


# ====================================================================== arithmetic + broadcasting
BCAST = [((3, 4), (3, 4)), ((3, 4), ()), ((), (3, 4)), ((1, 5), (4, 1)), ((2, 3, 4), (4,)),
         ((2, 1, 4), (3, 1)), ((5,), (2, 3, 5))]


@pytest.mark.parametrize("sa, sb", BCAST)
@pytest.mark.parametrize("name, npop", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                                        ("div", np.divide)])
def test_binary_forward_and_grad(name, npop, sa, sb):
    a, b = t64(*sa), t64(*sb, lo=0.5)
    fn = getattr(mg.ops, name)
    assert np.allclose(fn(a, b).data, npop(a.data, b.data))
    assert mg.gradcheck(fn, [a, b])


@pytest.mark.parametrize("sa, sb", BCAST[:4])
def test_pow_tensor_tensor(sa, sb):
    a, b = t64(*sa, lo=0.5), t64(*sb)
    assert np.allclose((a ** b).data, a.data ** b.data)
    assert mg.gradcheck(lambda x, y: x ** y, [a, b])


@pytest.mark.parametrize("p", [2, 3, 0.5, -1.5, 1, 0])
def test_pow_scalar(p):
    x = t64(3, 4, lo=0.3)
    assert np.allclose((x ** p).data, x.data ** p)
    assert mg.gradcheck(lambda x: x ** p, [x])


def test_rpow_and_neg():
    x = t64(3, 2)
    assert np.allclose((2.0 ** x).data, 2.0 ** x.data)
    assert mg.gradcheck(lambda x: 2.0 ** x, [x])
    assert np.allclose((-x).data, -x.data)
    assert mg.gradcheck(lambda x: -x, [x])


def test_pow_grad_of_exponent_at_zero_base_is_zero():
    a = mg.tensor([0.0, 2.0], dtype=F64)
    b = mg.tensor([2.0, 3.0], requires_grad=True, dtype=F64)
    (a ** b).sum().backward()
    assert np.allclose(b.grad, [0.0, 8.0 * np.log(2.0)])


def test_reflected_forms():
    x = t64(3)
    arr = rng.standard_normal(3)
    cases = [(2 - x, 2 - x.data), (arr * x, arr * x.data), (x / 3, x.data / 3), (3 / x, 3 / x.data),
             (arr + x, arr + x.data), (np.float64(2.5) * x, 2.5 * x.data), (1 + x, 1 + x.data),
             (arr - x, arr - x.data), (arr / x, arr / x.data)]
    for got, want in cases:
        assert isinstance(got, mg.Tensor) and got.dtype == F64
        assert np.allclose(got.data, want)
    assert mg.gradcheck(lambda x: (2 - x) * (arr / x) + 1, [x])


def test_numbers_and_arrays_take_tensor_dtype():
    x = mg.tensor(np.ones(3, np.float32))
    assert (x * 2.5).dtype == np.float32
    assert (x + np.ones(3, np.float64)).dtype == np.float32
    assert (np.ones(3) * x).dtype == np.float32


def test_int_tensor_with_float_tensor_takes_float_dtype_and_no_grad():
    i = mg.tensor(np.array([1, 2, 3]))
    x = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    y = x * i
    assert y.dtype == np.float32
    y.sum().backward()
    assert np.allclose(x.grad, [1, 2, 3]) and i.grad is None
    assert (i + i).dtype.kind == "i" and not (i + i).requires_grad
    with pytest.raises(TypeError, match="float32/float64"):
        mg.tensor([1, 2], requires_grad=True)


def test_broadcast_error_names_both_shapes():
    a, b = t64(3, 4), t64(5,)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        a + b
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        a * b


def test_mixing_float_dtypes_raises():
    a = mg.tensor(np.ones(2, np.float32))
    b = mg.tensor(np.ones(2), dtype=np.float64)
    with pytest.raises(TypeError, match="float32.*float64"):
        a + b


def test_zero_dim_tensors_stay_zero_dim():
    x = mg.tensor(2.0, requires_grad=True, dtype=F64)
    y = (x * 3 + 1) ** 2 / 2
    assert x.shape == () and y.shape == ()
    y.backward()
    assert x.grad.shape == () and np.isclose(x.grad, 3 * (3 * 2.0 + 1))


def test_unbroadcast_helper():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (3, 4)).shape == (3, 4) and np.all(unbroadcast(g, (3, 4)) == 2)
    assert unbroadcast(g, (3, 1)).shape == (3, 1) and np.all(unbroadcast(g, (3, 1)) == 8)
    assert unbroadcast(g, ()).shape == () and unbroadcast(g, ()) == 24
    assert unbroadcast(g, (2, 3, 4)) is g


def test_comparisons_are_bool_and_not_recorded():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for got, want in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]),
                      (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1])]:
        assert got.dtype == np.bool_ and not got.requires_grad
        assert list(got.data) == [bool(v) for v in want]
    assert len({x, x}) == 1   # still hashable
    assert (x == None) is False and (x != None) is True  # noqa: E711
    i = mg.tensor(np.array([1, 5]))
    assert list((i > 2).data) == [False, True]
    assert list((x.data < x).data) == [False, False, False]   # reflected: ndarray < tensor


# ====================================================================== matmul
MM = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 2, 3, 4), (4, 2)), ((3, 3, 4), (3, 4, 2)),
      ((4,), (4, 3)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
      ((3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((1, 1), (1, 1)), ((7, 1), (1, 3)),
      ((3, 0), (0, 2)), ((0, 3), (3, 2)), ((2, 0, 3), (3, 4)), ((2, 3, 0), (2, 0, 4))]


@pytest.mark.parametrize("sa, sb", MM)
def test_matmul_forward_and_grad(sa, sb):
    a, b = t64(*sa), t64(*sb)
    out = a @ b
    assert out.shape == np.matmul(a.data, b.data).shape
    assert np.allclose(out.data, np.matmul(a.data, b.data))
    assert mg.gradcheck(mg.matmul, [a, b])


def test_matmul_float32_and_one_side_grad():
    a = mg.tensor(rng.standard_normal((2, 5, 7)).astype(np.float32), requires_grad=True)
    b = mg.tensor(rng.standard_normal((7, 3)).astype(np.float32))
    y = a.matmul(b)
    assert y.dtype == np.float32
    y.sum().backward()
    assert np.allclose(a.grad, np.broadcast_to(b.data.sum(1), (2, 5, 7)), atol=1e-5)
    assert b.grad is None


def test_matmul_weight_gradient_is_one_gemm(monkeypatch):
    """(..., M, K) @ (K, P): forward and each gradient are one GEMM over all rows, no batched call."""
    calls = []
    real = K.gemm
    monkeypatch.setattr(K, "gemm", lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    monkeypatch.setattr(K, "gemm_batched", lambda *a, **k: pytest.fail("batched GEMM used"))
    x, w = t64(4, 3, 5), t64(5, 2)
    (x @ w).sum().backward()
    assert calls == [(12, 5), (12, 2), (12, 5)]


def test_matmul_skips_unneeded_gemm(monkeypatch):
    calls = []
    real = K.gemm
    monkeypatch.setattr(K, "gemm", lambda *a, **k: calls.append(k) or real(*a, **k))
    x, w = t64(4, 5, requires_grad=False), t64(5, 2)
    (x @ w).sum().backward()
    assert len(calls) == 2 and calls[1].get("trans_a")


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        t64(3, 4) @ t64(5, 2)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 4, 5\)"):
        t64(2, 3, 4) @ t64(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        mg.matmul(t64(), t64(3))


def test_matmul_with_array_operand():
    w = t64(3, 2)
    x = rng.standard_normal((4, 3))
    assert np.allclose((x @ w).data, x @ w.data)
    assert mg.gradcheck(lambda w: x @ w, [w])


# ====================================================================== reductions
AXES = [None, 0, 1, -1, -2, (0, 2), (-1, 0), ()]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions(name, axis, keepdims):
    x = t64(3, 4, 5)

    def f(x):    # max/min over one int dim return (values, indices), as torch.max(dim)
        r = getattr(x, name)(axis=axis, keepdims=keepdims)
        return r.values if isinstance(axis, int) and name in ("max", "min") else r
    got = f(x)
    want = getattr(np, name)(x.data, axis=axis, keepdims=keepdims)
    assert got.shape == want.shape and np.allclose(got.data, want)
    assert mg.gradcheck(f, [x])


def test_max_ties_split_gradient_equally():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True, dtype=F64)
    x.max(axis=(1,)).sum().backward()          # values-only reduction (a tuple of dims)
    assert np.allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()
    assert np.allclose(x.grad, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.max(1).values.sum().backward()           # max(dim): the gradient goes to the first maximum
    assert np.allclose(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_reduction_axis_errors():
    x = t64(2, 3)
    with pytest.raises(ValueError, match=r"axis 2 .*\(2, 3\)"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="repeated"):
        x.mean(axis=(1, -1))


# ====================================================================== shape ops
def test_reshape_forms():
    x = t64(2, 3, 4)
    for args in [((6, 4),), (6, 4), ((-1,),), (4, -1), ([2, 12],)]:
        y = x.reshape(*args)
        assert y.shape == x.data.reshape(*args).shape
    assert mg.gradcheck(lambda x: x.reshape(4, -1) * np.arange(24.0).reshape(4, 6), [x])
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5, 5\)"):
        x.reshape(5, 5)


def test_transpose_permute_T():
    x = t64(2, 3, 4)
    assert np.array_equal(x.transpose(0, 2).data, np.swapaxes(x.data, 0, 2))
    assert np.array_equal(x.transpose(-1, 1).data, np.swapaxes(x.data, -1, 1))
    assert np.array_equal(x.permute(1, 2, 0).data, x.data.transpose(1, 2, 0))
    assert np.array_equal(x.permute((2, 0, 1)).data, x.data.transpose(2, 0, 1))
    assert np.array_equal(x.T.data, x.data.T)
    assert x.T.data.flags.c_contiguous
    for f in [lambda x: x.transpose(0, 2), lambda x: x.permute(1, 2, 0), lambda x: x.T]:
        assert mg.gradcheck(f, [x])
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0, 1)


INDICES = [
    1, -1, slice(1, 3), (slice(None), 2), (Ellipsis, 1), (None, 0), (0, None, slice(None, None, -1)),
    (slice(None, None, 2), Ellipsis, None),
    np.array([0, 2, 2, 1, 0]),                      # repeated fancy indices
    (np.array([0, 0, 3]), np.array([1, 1, 2])),     # repeated pairs
    (slice(None), np.array([[0, 1], [1, 1]])),
    [3, 3, 0],
]


@pytest.mark.parametrize("idx", INDICES, ids=range(len(INDICES)))
def test_getitem(idx):
    x = t64(4, 3, 2)
    want = x.data[tuple(idx) if isinstance(idx, tuple) else (np.asarray(idx) if isinstance(idx, list) else idx)]
    assert np.array_equal(x[idx].data, want)
    assert mg.gradcheck(lambda x: x[idx], [x])


def test_getitem_boolean_mask_and_index_tensors():
    x = t64(4, 3)
    mask = x.data > 0
    assert np.array_equal(x[mask].data, x.data[mask])
    assert mg.gradcheck(lambda x: x[mask], [x])
    assert mg.gradcheck(lambda x: x[mg.tensor(mask)], [x])
    rows = np.array([True, False, True, True])
    assert mg.gradcheck(lambda x: x[rows, 1:], [x])
    it = mg.tensor(np.array([2, 2, 0]))
    assert np.array_equal(x[it].data, x.data[[2, 2, 0]])
    x[it].sum().backward()
    assert np.array_equal(x.grad[:, 0], [1, 0, 2, 0])


def test_getitem_many_slices_accumulate():
    x = t64(5, 3)
    y = mg.stack([x[t] * (t + 1) for t in range(5)], axis=0)
    y.sum().backward()
    assert np.allclose(x.grad, np.arange(1, 6)[:, None] * np.ones((5, 3)))


def test_concat_stack():
    a, b, c = t64(2, 3), t64(4, 3), t64(1, 3)
    assert np.array_equal(mg.concat([a, b, c], 0).data, np.concatenate([a.data, b.data, c.data]))
    assert mg.gradcheck(lambda a, b, c: mg.concat([a, b, c], axis=0), [a, b, c])
    d = t64(2, 5)
    assert mg.gradcheck(lambda a, d: mg.concat((a, d), axis=-1), [a, d])
    x, y = t64(2, 3), t64(2, 3)
    for ax in [0, 1, 2, -1]:
        assert np.array_equal(mg.stack([x, y], ax).data, np.stack([x.data, y.data], ax))
        assert mg.gradcheck(lambda x, y: mg.stack([x, y, x], axis=ax), [x, y])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 5\)"):
        mg.concat([a, d], axis=0)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 3\)"):
        mg.stack([a, b])


def test_split_torch_semantics_and_multi_output_grad():
    x = t64(7, 2)
    parts = mg.split(x, 3)
    assert [p.shape for p in parts] == [(3, 2), (3, 2), (1, 2)]
    assert [p.shape for p in mg.split(x, [2, 5], axis=0)] == [(2, 2), (5, 2)]
    assert [p.shape for p in mg.split(x, 1, axis=-1)] == [(7, 1), (7, 1)]
    assert np.array_equal(np.concatenate([p.data for p in parts]), x.data)
    assert mg.gradcheck(lambda x: mg.split(x, [2, 4, 1]), [x])
    # only some pieces used: the unused ones get zero gradient
    a, _, c = mg.split(x, 3)
    (a * 2 + 0).sum().backward(retain_graph=True)
    c.sum().backward()
    assert np.allclose(x.grad, np.r_[np.full((3, 2), 2.0), np.zeros((3, 2)), np.ones((1, 2))])
    with pytest.raises(ValueError, match="add up"):
        mg.split(x, [3, 3])


def test_where():
    a, b = t64(3, 4), t64(1, 4)
    cond = rng.standard_normal((3, 4)) > 0
    assert np.array_equal(mg.where(cond, a, b).data, np.where(cond, a.data, b.data))
    assert mg.gradcheck(lambda a, b: mg.where(cond, a, b), [a, b])
    c1 = mg.tensor(rng.standard_normal((3, 1)) > 0)
    assert mg.gradcheck(lambda a: mg.where(c1, a, 0.0), [a])
    with pytest.raises(TypeError, match="boolean"):
        mg.where(np.ones(3), a, b)
    with pytest.raises(ValueError, match=r"\(5,\)"):
        mg.where(np.ones(5, bool), a, b)


# ====================================================================== pointwise
POINTWISE = [("exp", np.exp, None), ("log", np.log, 0.2), ("relu", lambda v: np.maximum(v, 0), None),
             ("abs", np.abs, None)]


@pytest.mark.parametrize("name, ref, lo", POINTWISE)
def test_pointwise(name, ref, lo):
    x = t64(3, 5, lo=lo)
    assert np.allclose(getattr(x, name)().data, ref(x.data))
    assert mg.gradcheck(lambda x: getattr(x, name)(), [x])
    assert np.allclose(getattr(mg.ops, name)(x).data, ref(x.data))


@need_act
@pytest.mark.parametrize("name, ref", [("tanh", np.tanh), ("sigmoid", lambda v: 1 / (1 + np.exp(-v)))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_sigmoid_c_kernels(name, ref, dtype):
    x = mg.tensor(rng.standard_normal((4, 7)) * 3, requires_grad=True, dtype=dtype)
    y = getattr(x, name)()
    assert y.dtype == dtype
    assert np.allclose(y.data, ref(x.data.astype(F64)), atol=1e-6)
    if dtype == F64:
        assert mg.gradcheck(lambda x: getattr(mg, name)(x) * x, [x])   # x reused: two paths


def test_clip_gradient_rule():
    x = mg.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True, dtype=F64)
    y = x.clip(-1.0, 1.0)
    assert np.array_equal(y.data, [-1, -1, 0, 1, 1])
    y.sum().backward()
    assert np.array_equal(x.grad, [0, 1, 1, 1, 0])   # boundary included (PyTorch's rule)
    z = t64(4, 3)
    assert mg.gradcheck(lambda z: z.clip(-0.5, None) + z.clip(None, 0.3), [z])


def test_abs_relu_at_zero():
    x = mg.tensor([0.0, 0.0], requires_grad=True, dtype=F64)
    (x.abs() + x.relu()).sum().backward()
    assert np.array_equal(x.grad, [0.0, 0.0])


# ====================================================================== graphs
def test_reused_inputs():
    x = t64(3, 4)
    assert mg.gradcheck(lambda x: x * x, [x])
    assert mg.gradcheck(lambda x: (x.exp() + x * 3).sum(axis=0) * x.sum(axis=0), [x])
    x.grad = None
    (x * x).sum().backward()
    assert np.allclose(x.grad, 2 * x.data)


def test_deep_chain_no_recursion_error():
    x = mg.tensor([0.5], requires_grad=True, dtype=F64)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad[0] == 1.0 and y.data[0] == 100_000.5


def test_mlp_float32_end_to_end():
    x = mg.tensor(rng.standard_normal((8, 5)).astype(np.float32))
    w1 = mg.tensor(rng.standard_normal((5, 6)).astype(np.float32) * 0.3, requires_grad=True)
    b1 = mg.tensor(np.zeros(6, np.float32), requires_grad=True)
    w2 = mg.tensor(rng.standard_normal((6, 1)).astype(np.float32) * 0.3, requires_grad=True)
    target = rng.standard_normal((8, 1)).astype(np.float32)
    losses = []
    for _ in range(30):
        h = (x @ w1 + b1).relu()
        loss = ((h @ w2 - target) ** 2).mean()
        assert loss.dtype == np.float32
        losses.append(loss.item())
        for p in (w1, b1, w2):
            p.grad = None
        loss.backward()
        for p in (w1, b1, w2):
            assert p.grad.dtype == np.float32
            p.data -= 0.1 * p.grad
    assert losses[-1] < 0.7 * losses[0]


def test_mixed_graph_gradcheck():
    x, w, b = t64(2, 3, 4), t64(4, 5), t64(5)
    def f(x, w, b):
        h = (x @ w + b).relu()
        parts = mg.split(h, 2, axis=-1)
        return mg.concat([parts[0] * 2, parts[2]], axis=-1).mean(axis=(0, -1)) + h[:, 1].max()
    assert mg.gradcheck(f, [x, w, b])


def test_c_kernel_accumulates_into_f_ordered_gradient():
    """Two transposed gradients sum to an F-ordered array; the C tanh backward must still get a
    C-contiguous buffer to accumulate into."""
    w = t64(3, 4)
    def f(w):
        x = w * 1.0
        t = x.tanh()          # recorded first, so its backward runs last
        return t.sum(axis=0) + (x.T * 2).sum(axis=1) + (x.T * 3).sum(axis=1)
    assert mg.gradcheck(f, [w])
