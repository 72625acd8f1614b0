"""PyTorch's tensor surface (issue 14 item 1): shape methods, max/min(dim), argmax, dtype and device
conversions, new pointwise ops, masked_fill, comparisons and in-place edits -- against NumPy, with
float64 gradchecks, and against PyTorch when it is installed."""
import numpy as np
import pytest

from fdcheck import float64_inputs
import minigrad as mg

F64 = np.float64
rng = np.random.default_rng(14)
t64 = float64_inputs(15)


# ====================================================================== shape queries and methods
def test_size_dim_numel():
    x = mg.zeros(2, 3, 5)
    assert x.size() == (2, 3, 5) and x.size(1) == 3 and x.size(-1) == 5
    assert x.dim() == 3 and x.numel() == 30
    with pytest.raises(ValueError, match=r"axis 3 .*\(2, 3, 5\)"):
        x.size(3)


@pytest.mark.parametrize("fn, want", [
    (lambda x: x.view(6, 4), lambda a: a.reshape(6, 4)),
    (lambda x: x.view(-1), lambda a: a.reshape(-1)),
    (lambda x: x.view_as(mg.zeros(4, 6)), lambda a: a.reshape(4, 6)),
    (lambda x: x.flatten(), lambda a: a.reshape(-1)),
    (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
    (lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4)),
    (lambda x: x.unsqueeze(0), lambda a: a[None]),
    (lambda x: x.unsqueeze(-1), lambda a: a[..., None]),
    (lambda x: x.unsqueeze(3), lambda a: a[..., None]),
    (lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda x: x.narrow(1, 1, 2), lambda a: a[:, 1:3]),
    (lambda x: x.narrow(-1, -2, 2), lambda a: a[..., 2:4]),
    (lambda x: x.expand(3, 2, 3, 4), lambda a: np.broadcast_to(a, (3, 2, 3, 4))),
    (lambda x: x.contiguous(), lambda a: a),
    (lambda x: x.clone(), lambda a: a),
])
def test_shape_methods_against_numpy_and_gradcheck(fn, want):
    x = t64(2, 3, 4)
    y = fn(x)
    assert y.shape == want(x.data).shape and np.array_equal(y.data, want(x.data))
    assert mg.gradcheck(fn, [x])


def test_squeeze_follows_pytorch():
    x = t64(1, 3, 1, 2)
    assert x.squeeze().shape == (3, 2)
    assert x.squeeze(0).shape == (3, 1, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)          # not of size 1: left alone
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert x.squeeze(dim=-2).shape == (1, 3, 2)
    assert mg.gradcheck(lambda x: x.squeeze(), [x])


def test_t_transposes_matrices_only():
    x = t64(3, 4)
    assert np.array_equal(x.t().data, x.data.T)
    assert mg.gradcheck(lambda x: x.t(), [x])
    v = t64(5)
    assert np.array_equal(v.t().data, v.data)
    with pytest.raises(ValueError, match=r"<= 2 dims.*\(2, 3, 4\)"):
        t64(2, 3, 4).t()


def test_expand_keeps_minus_one_and_errors_name_shapes():
    x = t64(3, 1)
    assert x.expand(-1, 4).shape == (3, 4)
    assert x.expand(2, 3, 4).shape == (2, 3, 4)
    # reused input and broadcasting in one chain
    assert mg.gradcheck(lambda x: x.expand(2, 3, 4) * x + x.expand(3, 4), [x])
    with pytest.raises(ValueError, match=r"expanded size 4 .*existing size 3"):
        x.expand(4, 4)
    with pytest.raises(ValueError, match="number of sizes"):
        x.expand(3)


def test_narrow_errors():
    x = t64(2, 5)
    with pytest.raises(ValueError, match="exceeds dim 1 of size 5"):
        x.narrow(1, 3, 3)
    with pytest.raises(IndexError, match="start 6"):
        x.narrow(1, 6, 0)


@pytest.mark.parametrize("n, chunks", [(6, 3), (5, 3), (6, 4), (1, 3), (7, 1)])
def test_chunk_and_split_method(n, chunks):
    x = t64(2, n)
    pieces = x.chunk(chunks, 1)
    size = -(-n // chunks)
    want = [x.data[:, i:i + size] for i in range(0, n, size)]
    assert len(pieces) == len(want)
    assert all(np.array_equal(p.data, w) for p, w in zip(pieces, want))
    assert [p.shape for p in x.split(2, dim=1)] == [w.shape for w in np.split(x.data, range(2, n, 2), axis=1)]
    assert mg.gradcheck(lambda x: mg.cat([p * (k + 1) for k, p in enumerate(x.chunk(chunks, dim=1))], dim=1), [x])


def test_dim_and_axis_spellings():
    x = t64(2, 3)
    assert np.allclose(x.sum(dim=1).data, x.sum(axis=1).data)
    assert x.mean(1, keepdim=True).shape == (2, 1) and x.mean(axis=1, keepdims=True).shape == (2, 1)
    assert mg.cat([x, x], dim=1).shape == (2, 6) and mg.concat([x, x], axis=1).shape == (2, 6)
    assert mg.stack([x, x], dim=2).shape == (2, 3, 2)
    assert [p.shape for p in mg.split(x, 1, dim=1)] == [(2, 1)] * 3
    assert x.squeeze(axis=0).shape == (2, 3)
    with pytest.raises(TypeError, match="both dim=1 and axis=0"):
        x.sum(dim=1, axis=0)
    with pytest.raises(TypeError, match="both dim"):
        mg.cat([x, x], dim=1, axis=1)
    with pytest.raises(TypeError, match="keepdim and keepdims"):
        x.sum(1, keepdim=True, keepdims=True)


# ====================================================================== max / min / argmax
def test_max_min_dim_named_tuple_and_gradients():
    x = t64(3, 5)
    for name, npf, npa in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
        r = getattr(x, name)(1)
        values, indices = r                         # unpacks like torch.return_types.max
        assert r.values is values and r.indices is indices
        assert np.array_equal(values.data, npf(x.data, axis=1))
        assert indices.dtype == np.int64 and np.array_equal(indices.data, npa(x.data, axis=1))
        assert getattr(x, name)(0, keepdim=True).values.shape == (1, 5)
        assert getattr(x, name)().shape == ()      # max() stays a scalar
        assert mg.gradcheck(lambda x: getattr(x, name)(dim=-1).values.unsqueeze(1) * getattr(x, name)(0, True)[0], [x])


def test_accuracy_idiom_at_batch_size_two():
    out = mg.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    _, pred = out.max(1)
    assert np.array_equal(pred.data, [1, 0])
    assert (pred == mg.tensor([1, 2])).sum().item() == 1


def test_argmax_argmin():
    x = t64(3, 4, requires_grad=False)
    assert x.argmax().item() == np.argmax(x.data) and x.argmin().item() == np.argmin(x.data)
    assert np.array_equal(x.argmax(1).data, np.argmax(x.data, axis=1))
    assert np.array_equal(mg.argmin(x, dim=0, keepdim=True).data, np.argmin(x.data, 0, keepdims=True))
    assert x.argmax(1).dtype == mg.long
    with pytest.raises(ValueError, match="empty"):
        mg.zeros(0, 3).argmax()


def test_max_dim_matches_pytorch_with_ties():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    x = mg.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    v, i = x.max(1)
    tv, ti = tx.max(1)
    assert np.array_equal(v.data, tv.detach().numpy()) and np.array_equal(i.data, ti.numpy())
    (v * mg.tensor([1.0, 2.0], dtype=F64)).sum().backward()
    (tv * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()
    assert np.array_equal(x.grad, tx.grad.numpy())
    x.grad = None
    tx.grad = None
    x.max().backward()
    tx.max().backward()
    assert np.array_equal(x.grad, tx.grad.numpy())


# ====================================================================== pointwise
@pytest.mark.parametrize("name, npf, lo", [("sqrt", np.sqrt, 0.1), ("sin", np.sin, None),
                                           ("cos", np.cos, None), ("log1p", np.log1p, 0.0)])
def test_new_pointwise_ops(name, npf, lo):
    x = t64(3, 4, lo=lo)
    assert np.allclose(getattr(x, name)().data, npf(x.data))
    assert np.allclose(getattr(mg, name)(x).data, npf(x.data))
    assert mg.gradcheck(lambda x: getattr(x, name)() * x, [x])     # reused input


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 1.0), (0.5, 0.5)])
def test_softplus_against_reference_and_gradcheck(beta, threshold):
    x = t64(4, 5)
    x.data *= 3
    bx = beta * x.data
    want = np.where(bx > threshold, x.data, np.log1p(np.exp(bx)) / beta)
    assert np.allclose(mg.ops.softplus(x, beta, threshold).data, want)
    x.data += 1e-3 * (np.abs(bx - threshold) < 1e-3)      # keep finite differences off the kink
    assert mg.gradcheck(lambda x: mg.ops.softplus(x, beta=beta, threshold=threshold), [x])
    with pytest.raises(ValueError, match="beta"):
        mg.ops.softplus(x, beta=0)


def test_softplus_and_pointwise_match_pytorch():
    torch = pytest.importorskip("torch")
    a = np.linspace(-30, 30, 41)
    got = mg.ops.softplus(mg.tensor(a), beta=1.5, threshold=10).data
    assert np.allclose(got, torch.nn.functional.softplus(torch.tensor(a), beta=1.5, threshold=10).numpy())
    pos = np.abs(a) + 0.5
    for name in ("sqrt", "sin", "cos", "log1p"):
        assert np.allclose(getattr(mg.tensor(pos), name)().data, getattr(torch.tensor(pos), name)().numpy())


def test_masked_fill():
    x = t64(3, 4)
    mask = mg.tensor(rng.random((1, 4)) > 0.5)
    y = x.masked_fill(mask, -1.5)
    assert np.array_equal(y.data, np.where(mask.data, -1.5, x.data))
    assert mg.gradcheck(lambda x: x.masked_fill(mask, 0.0) * x, [x])
    assert x.masked_fill(mask.data, float("-inf")).data[mask.data.repeat(3, 0)].max() == -np.inf
    with pytest.raises(TypeError, match="boolean"):
        x.masked_fill(mg.tensor([1, 0, 1, 0]), 0.0)
    with pytest.raises(ValueError, match=r"\(2, 4\) does not broadcast"):
        x.masked_fill(np.zeros((2, 4), bool), 0.0)


def test_module_level_functions_as_torch():
    x = t64(3, 4)
    _, pred = mg.max(x.data, 1)                      # torch.max(outputs.data, 1)
    assert np.array_equal(pred.data, np.argmax(x.data, 1))
    assert np.allclose(mg.sum(x, dim=0).data, x.data.sum(0)) and np.allclose(mg.mean(x).data, x.data.mean())
    assert np.array_equal(mg.clamp(x, min=0).data, np.clip(x.data, 0, None))
    assert np.array_equal(x.clamp(max=0.5).data, np.clip(x.data, None, 0.5))
    assert mg.gradcheck(lambda x: mg.clamp(x, -0.5, 0.5) * x, [x])
    assert "max" not in mg.__all__ and "sum" not in mg.__all__       # a star import keeps the builtins


def test_comparisons_return_boolean_tensors():
    x = mg.tensor([1.0, 2.0, 3.0])
    for r in (x > 2, x >= 2, x < 2, x <= 2, x == 2, x != 2, x > mg.tensor([0, 5, 1])):
        assert isinstance(r, mg.Tensor) and r.dtype == mg.bool and not r.requires_grad
    assert np.array_equal((x > 1.5).data, [False, True, True])


# ====================================================================== dtypes and devices
def test_dtype_conversions():
    x = t64(2, 3)
    f = x.float()
    assert f.dtype == mg.float32 and x.double() is x and f.float() is f
    f.sum().backward()                                       # the float32 gradient comes back float64
    assert x.grad.dtype == np.float64 and np.array_equal(x.grad, np.ones((2, 3)))
    assert mg.tensor([1.7, -2.2]).long().data.tolist() == [1, -2]
    assert mg.tensor([0.0, 2.0]).bool().data.tolist() == [False, True]
    assert mg.tensor([1, 2]).int().dtype == mg.int32
    assert mg.tensor([1, 2]).type_as(x).dtype == mg.float64
    assert x.to(mg.float32).dtype == mg.float32 and x.to(np.float32).dtype == mg.float32
    assert x.to("cpu") is x and x.to(mg.device("cpu")) is x and x.cpu() is x
    assert x.to("cpu", mg.float32).dtype == mg.float32 and x.to(f).dtype == mg.float32
    assert x.to(dtype=mg.float32, device="cpu").dtype == mg.float32
    assert mg.tensor([1, 2]).type(mg.int64).dtype == mg.int64 and mg.tensor([1, 2]).type(mg.float).dtype == mg.float32
    assert x.type() == "minigrad.DoubleTensor" and mg.tensor([1]).type() == "minigrad.LongTensor"
    c = x.to(copy=True)
    assert c is not x and np.array_equal(c.data, x.data) and not np.shares_memory(c.data, x.data)
    with pytest.raises(ValueError, match="NaN or infinity"):
        mg.tensor([np.nan]).long()
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    with pytest.raises(TypeError, match="not a dtype"):
        x.to(dtype="nonsense")


def test_dtype_names_are_numpy_dtypes():
    assert mg.float32 == np.float32 and mg.float == mg.float32
    assert mg.float64 == mg.double == np.float64
    assert mg.int64 == mg.long == np.int64 and mg.int == mg.int32 == np.int32
    assert mg.bool == np.bool_
    assert mg.tensor([1.0], dtype=mg.double).dtype == np.float64
    assert np.zeros(2, mg.long).dtype == np.int64


def test_device():
    d = mg.device("cpu")
    assert d == mg.device("cpu:0") == mg.device(d) and str(d) == "cpu" and d.type == "cpu"
    assert repr(d) == "device(type='cpu')"
    assert mg.tensor([1.0]).device == d and mg.zeros(2, device="cpu").device == d
    for bad in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="CPU only"):
            mg.device(bad)
    with pytest.raises(RuntimeError, match="index"):
        mg.device("cpu", 1)
    with pytest.raises(RuntimeError, match="CPU only"):
        mg.zeros(2, device="cuda")


def test_long_chain_of_new_ops_gradchecks():
    x = t64(2, 3)

    def f(x):
        y = x
        for k in range(40):        # 200 recorded ops; the reverse walk is iterative
            y = y.unsqueeze(0).expand(2, 2, 3).narrow(0, k % 2, 1).squeeze(0).view(3, 2).t()
            y = y.sin() * 0.5 + x.cos() * 0.5 if k % 10 == 0 else y
        return y.masked_fill(mg.tensor([[True, False, False], [False, False, True]]), 0.0)
    assert mg.gradcheck(f, [x])


# ====================================================================== PyTorch-style programs
def _batchify_and_batches(lib, ids, bsz, bptt):
    """word_language_model's batchify + get_batch, written once for torch and minigrad."""
    device = lib.device("cpu")
    data = lib.tensor(ids).type(lib.int64)
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    data = data.view(bsz, -1).t().contiguous().to(device)
    out = []
    for i in range(0, data.size(0) - 1, bptt):
        seq_len = min(bptt, len(data) - 1 - i)
        out.append((data[i:i + seq_len], data[i + 1:i + 1 + seq_len].view(-1)))
    return out


def _sine_step(lib, seq):
    """time_sequence_prediction's data handling: from_numpy, zeros(dtype=double), split, cat."""
    x = lib.from_numpy(seq[3:, :-1])
    h = lib.zeros(x.size(0), 5, dtype=lib.double)
    outputs = []
    for x_t in x.split(1, dim=1):
        h = (x_t * 0.5 + h.sum(1, keepdim=True) * 0.1).expand(-1, 5).tanh()
        outputs += [h.narrow(1, 0, 1)]
    return lib.cat(outputs, dim=1)


def test_pytorch_style_programs_give_pytorch_results():
    torch = pytest.importorskip("torch")
    ids = list(np.random.default_rng(3).integers(0, 50, 103))
    for (d, t), (td, tt) in zip(_batchify_and_batches(mg, ids, 4, 7), _batchify_and_batches(torch, ids, 4, 7)):
        assert d.dtype == mg.long and np.array_equal(d.data, td.numpy()) and np.array_equal(t.data, tt.numpy())
    seq = np.sin(np.arange(60.0).reshape(6, 10) / 3)
    got, want = _sine_step(mg, seq), _sine_step(torch, seq)
    assert got.dtype == mg.float64 and np.allclose(got.data, want.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: x.view("a"), TypeError, "view: expected a shape"),
    (lambda x: x.view(4, 4), ValueError, r"\(2, 3\) \(6 elements\) into shape \(4, 4\)"),
    (lambda x: x.reshape(2.0, 3), TypeError, r"reshape: sizes must be ints, got \(2.0, 3\)"),
    (lambda x: x.expand("a"), TypeError, "expand: sizes must be ints"),
    (lambda x: x.permute(0, 0), ValueError, "not a permutation"),
    (lambda x: x.unsqueeze(1.5), TypeError, "unsqueeze: dim must be an int, got 1.5"),
    (lambda x: x.narrow(0, 0, -1), ValueError, "length"),
    (lambda x: x.chunk(0), ValueError, "chunks must be a positive int, got 0"),
    (lambda x: x.flatten(1, 0), ValueError, "start_dim 1 comes after end_dim 0"),
    (lambda x: x.to(5), TypeError, "5 is not a dtype"),
    (lambda x: x.to("float32"), RuntimeError, "pass mg.float32"),
    (lambda x: x.type_as(3), TypeError, "type_as expects a tensor, got int"),
    (lambda x: x.max("a"), TypeError, "max: axis must be an int"),
    (lambda x: x.argmax(5), ValueError, r"axis 5 is out of range for a tensor of shape \(2, 3\)"),
    (lambda x: x.add_(1.0, alpha="a"), TypeError, "alpha must be a real number, got 'a'"),
    (lambda x: x.add_("s"), TypeError, "string"),
    (lambda x: x.uniform_("a"), TypeError, "a must be a real number"),
    (lambda x: mg.ops.softplus(x, beta="a"), TypeError, "beta must be a number"),
    (lambda x: x.masked_fill(x > 0, None), TypeError, "None"),
])
def test_bad_arguments_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(mg.zeros(2, 3))


def test_shape_methods_match_pytorch():
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((1, 6, 1, 4))
    calls = [lambda t: t.squeeze(), lambda t: t.squeeze(2), lambda t: t.squeeze(1), lambda t: t.unsqueeze(-2),
             lambda t: t.flatten(1, 2), lambda t: t.view(6, -1), lambda t: t.narrow(1, -3, 2),
             lambda t: t.expand(2, 1, 6, 3, 4), lambda t: t.permute(3, 1, 0, 2), lambda t: t.squeeze().t(),
             lambda t: t.masked_fill(t > 0, -1.0), lambda t: t.max(3)[0], lambda t: t.min(1, keepdim=True)[1],
             lambda t: t.argmax(), lambda t: t.argmin(-1), lambda t: t.sum(dim=(1, 3), keepdim=True),
             lambda t: t.double().float(), lambda t: t.long(), lambda t: t.new_zeros(2), lambda t: t.new_full((2,), 3)]
    for f in calls:
        got, want = f(mg.tensor(a)), f(torch.tensor(a))
        assert got.shape == tuple(want.shape) and np.allclose(got.data, want.numpy(), rtol=1e-12, atol=0)
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    for n, chunks in [(6, 4), (5, 3), (1, 3), (7, 7)]:
        got, want = mg.arange(n).chunk(chunks), torch.arange(n).chunk(chunks)
        assert [p.data.tolist() for p in got] == [p.tolist() for p in want]
