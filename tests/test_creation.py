"""Factories (zeros, ones, full, arange, rand, ..., from_numpy, new_*), the dtype rule of
``mg.tensor``, the refusal of silent conversions (None, complex) and the dtypes of ops on integer
tensors -- against NumPy, and against PyTorch when it is installed."""
import numpy as np
import pytest

import minigrad as mg


# ====================================================================== factories
@pytest.mark.parametrize("name, fill", [("zeros", 0), ("ones", 1), ("empty", 0)])
def test_constant_factories(name, fill):
    f = getattr(mg, name)
    for t in (f(2, 3), f((2, 3)), f([2, 3])):
        assert t.shape == (2, 3) and t.dtype == mg.float32 and np.all(t.data == fill)
    assert f(4, dtype=mg.double).dtype == np.float64 and f(4, dtype=np.int64).dtype == np.int64
    assert f().shape == () and f(0, 3).shape == (0, 3)
    w = f(3, requires_grad=True)
    assert w.requires_grad and w.is_leaf
    with pytest.raises(ValueError, match=r"non-negative, got \(2, -1\)"):
        f(2, -1)
    with pytest.raises(TypeError, match="ints"):
        f(2.5)
    with pytest.raises(TypeError, match="float32/float64"):
        f(2, dtype=mg.long, requires_grad=True)


def test_full_infers_dtype_like_pytorch():
    assert mg.full((2,), 3).dtype == mg.int64
    assert mg.full((2,), 3.5).dtype == mg.float32
    assert mg.full((2,), True).dtype == mg.bool
    assert mg.full((2, 2), 7, dtype=mg.double).data.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    with pytest.raises(TypeError, match="complex"):
        mg.full((2,), 1j)


def test_like_and_new_factories_keep_the_source_dtype():
    x = mg.ones(2, 3, dtype=mg.float64)
    for t in (mg.zeros_like(x), mg.ones_like(x), mg.empty_like(x), mg.full_like(x, 2), mg.rand_like(x),
              mg.randn_like(x), x.new_zeros(4), x.new_ones((4, 1)), x.new_full((2,), 5), x.new_empty(1),
              x.new_tensor([1, 2])):
        assert t.dtype == mg.float64
    assert mg.zeros_like(x).shape == (2, 3) and mg.zeros_like(x, dtype=mg.float32).dtype == mg.float32
    assert x.new_tensor([1.5]).data.tolist() == [1.5] and x.new_zeros(2, 2).shape == (2, 2)
    i = mg.randint_like(mg.zeros(3, dtype=mg.long), 5)
    assert i.dtype == mg.long and i.data.min() >= 0 and i.data.max() < 5


def test_random_factories_are_seeded_by_minigrad():
    mg.manual_seed(3)
    a, b, c = mg.rand(2, 3), mg.randn(4), mg.randint(2, 9, (50,))
    mg.manual_seed(3)
    assert np.array_equal(mg.rand(2, 3).data, a.data) and np.array_equal(mg.randn(4).data, b.data)
    assert np.array_equal(mg.randint(2, 9, (50,)).data, c.data)
    assert a.dtype == mg.float32 and np.all((a.data >= 0) & (a.data < 1))
    assert c.dtype == mg.int64 and c.data.min() >= 2 and c.data.max() < 9
    assert mg.randint(3, (2, 2)).shape == (2, 2) and mg.randn(2, dtype=mg.double).dtype == np.float64
    g = np.random.default_rng(0)
    assert np.array_equal(mg.rand(3, generator=g).data, np.random.default_rng(0).random(3, dtype=np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        mg.rand(2, dtype=mg.long)
    with pytest.raises(ValueError, match="low < high"):
        mg.randint(5, 5, (2,))


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (0.0, 1.0, 0.1), (5, 0, -1), (0, 1, 0.25),
                                  (-1.5, 2)])
def test_arange_against_pytorch(args):
    got = mg.arange(*args)
    want_dtype = mg.int64 if all(isinstance(a, int) for a in args) else mg.float32
    assert got.dtype == want_dtype
    assert np.allclose(got.data, np.arange(*args))
    torch = pytest.importorskip("torch")
    ref = torch.arange(*args)
    assert got.shape == tuple(ref.shape) and np.allclose(got.data, ref.numpy())


@pytest.mark.parametrize("args", [(0, 1, 5), (-2.0, 3.0, 7), (1, 1, 1), (0, 1, 0)])
def test_linspace_against_pytorch(args):
    got = mg.linspace(*args)
    assert got.dtype == mg.float32 and np.allclose(got.data, np.linspace(*args))
    torch = pytest.importorskip("torch")
    assert np.allclose(got.data, torch.linspace(*args).numpy(), rtol=1e-6, atol=1e-6)


def test_arange_linspace_errors():
    with pytest.raises(ValueError, match="nonzero"):
        mg.arange(0, 5, 0)
    with pytest.raises(ValueError, match="finite"):
        mg.arange(0, float("inf"))
    with pytest.raises(ValueError, match="2\\*\\*40"):
        mg.arange(0, 1e15)
    with pytest.raises(ValueError, match="steps"):
        mg.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="linspace: expected a number, got 'b'"):
        mg.linspace(0, "b", 3)
    with pytest.raises(TypeError, match="arange: expected a number, got 'a'"):
        mg.arange("a")
    with pytest.raises(TypeError, match="full: expected a number, got None"):
        mg.full((2,), None)


def test_from_numpy_shares_memory_and_keeps_dtype():
    for dt in (np.float32, np.float64, np.int64, np.int32, np.bool_):
        a = np.zeros((2, 3), dt)
        t = mg.from_numpy(a)
        assert t.dtype == dt and t.data is a
    a = np.zeros(3)
    t = mg.from_numpy(a)
    a[0] = 5.0
    assert t.data[0] == 5.0
    with torch_or_none() as torch:
        if torch is not None:
            assert torch.from_numpy(a).dtype == torch.float64          # same rule as PyTorch
    strided = np.arange(12.0).reshape(3, 4)[1:, :-1]         # as time_sequence_prediction's data[3:, :-1]
    t = mg.from_numpy(strided)
    assert t.dtype == mg.float64 and np.array_equal(t.data, strided) and t.data.flags.c_contiguous
    with pytest.raises(TypeError, match="numpy.ndarray"):
        mg.from_numpy([1.0])
    with pytest.raises(TypeError, match="float16"):
        mg.from_numpy(np.zeros(2, np.float16))


class torch_or_none:
    def __enter__(self):
        try:
            import torch
        except ImportError:
            return None
        return torch

    def __exit__(self, *exc):
        return False


# ====================================================================== the dtype rule
def test_dtype_rule():
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32              # Python floats: the default
    assert mg.tensor(2.5).dtype == mg.float32
    assert mg.tensor(np.zeros(2)).dtype == mg.float64              # a float64 array stays float64
    assert mg.tensor(np.zeros(2, np.float32)).dtype == mg.float32
    assert mg.tensor(np.float64(1.5)).dtype == mg.float64          # a NumPy scalar too
    assert mg.tensor([1, 2]).dtype == mg.int64 and mg.tensor([True]).dtype == mg.bool
    assert mg.tensor(np.zeros(2, np.int32)).dtype == mg.int32
    assert mg.tensor(np.zeros(2), dtype=mg.float32).dtype == mg.float32
    assert mg.tensor(mg.tensor(np.zeros(2))).dtype == mg.float64
    assert mg.tensor([1, 2.5]).dtype == mg.float32
    with pytest.raises(TypeError, match="float16.*dtype=mg.float32"):
        mg.tensor(np.zeros(2, np.float16))


def test_dtype_rule_matches_pytorch():
    torch = pytest.importorskip("torch")
    for data in ([1.0, 2.0], 2.5, np.zeros(2), np.zeros(2, np.float32), [1, 2], [True, False],
                 np.zeros(2, np.int32), np.float64(1.5)):
        assert str(mg.tensor(data).dtype) == str(torch.tensor(data).dtype).replace("torch.", "")


def test_mixed_float_dtypes_name_the_fix():
    a, b = mg.tensor(np.zeros(2)), mg.ones(2)
    with pytest.raises(TypeError, match=r"float32 and float64 .*\.float\(\).*\.double\(\)"):
        a + b
    assert (a.float() + b).dtype == mg.float32 and (a + b.double()).dtype == mg.float64


# ====================================================================== no silent conversions
@pytest.mark.parametrize("data, what", [([1.0, None], "None"), (np.array([[1.0], [None]], dtype=object), "None"),
                                        ([1.0, "x"], "string"), (np.array([1.0, 2j], dtype=object), "complex")])
def test_none_and_objects_are_refused_by_name(data, what):
    with pytest.raises(TypeError, match=what):
        mg.tensor(data)
    with pytest.raises(TypeError, match=what):
        mg.tensor(data, dtype=mg.float64)


def test_none_in_rnn_input_is_refused():
    import minigrad.nn as nn
    rnn = nn.RNN(1, 2)
    x = np.array([[[0.5]], [[None]]], dtype=object)
    with pytest.raises(TypeError, match="None"):
        rnn(x)


def test_complex_is_refused_not_truncated():
    for data in ([1 + 2j], np.array([1.0 + 0j]), np.complex64(1)):
        for dtype in (None, mg.float32, mg.float64, mg.int64):
            with pytest.raises(TypeError, match="complex"):
                mg.tensor(data, dtype=dtype)


def test_other_bad_data():
    with pytest.raises(ValueError, match="rectangular"):
        mg.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="string data"):
        mg.tensor(np.array(["a"]))
    with pytest.raises(ValueError, match="NaN or infinity to int64"):
        mg.tensor([1.0, np.inf], dtype=mg.long)
    assert mg.tensor([mg.tensor(1.0), mg.tensor(2.0)]).data.tolist() == [1.0, 2.0]
    with pytest.raises(OverflowError, match="int64 range"):
        mg.tensor([1, 2 ** 70])
    big_endian = np.arange(3, dtype=">f8")
    assert mg.tensor(big_endian).dtype == mg.float64 and mg.tensor(big_endian).data.tolist() == [0, 1, 2]


# ====================================================================== ops on integer and bool tensors
def test_integer_inputs_follow_pytorch_dtypes():
    i = mg.tensor([1, 2, 4])
    for name in ("exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "sigmoid"):
        r = getattr(i, name)()
        assert r.dtype == mg.float32, name
        assert np.allclose(r.data, getattr(mg.tensor([1.0, 2.0, 4.0]), name)().data)
    assert mg.exp(mg.tensor([True, False])).dtype == mg.float32
    assert mg.ops.softplus(i).dtype == mg.float32
    assert (i / 2).dtype == mg.float32 and (i / i).dtype == mg.float32 and (1 / i).dtype == mg.float32
    assert (i * 0.5).dtype == mg.float32 and (0.5 + i).dtype == mg.float32 and (i ** 0.5).dtype == mg.float32
    assert (i + 1).dtype == mg.int64 and (i * i).dtype == mg.int64 and (i ** 2).dtype == mg.int64
    assert (i * np.ones(3)).dtype == mg.float64                     # a float64 array brings float64
    assert i.relu().dtype == mg.int64 and i.abs().dtype == mg.int64 and i.clip(0, 2).dtype == mg.int64
    assert i.sum().dtype == mg.int64 and mg.tensor([True, True]).sum().item() == 2
    assert i.max().dtype == mg.int64 and i.max(0).values.dtype == mg.int64
    with pytest.raises(TypeError, match="float"):
        i.mean()


def test_integer_op_dtypes_match_pytorch():
    torch = pytest.importorskip("torch")
    a = np.array([1, 2, 4])
    cases = [lambda m: m.exp(), lambda m: m.sqrt(), lambda m: m.sigmoid(), lambda m: m / 2,
             lambda m: m * 0.5, lambda m: m + 1, lambda m: m.sum(), lambda m: m ** 0.5, lambda m: m.relu(),
             lambda m: m.max(), lambda m: m > 1]
    for f in cases:
        got, want = f(mg.tensor(a)), f(torch.tensor(a))
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), want.dtype
        assert np.allclose(got.data, want.numpy())
