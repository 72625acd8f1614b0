"""In-place edits (add_, mul_, zero_, fill_, copy_, uniform_, normal_, clamp_, ...): their values,
where they are allowed (no_grad leaves, tensors without grad) and the errors where they would break
the tape; checked against PyTorch when it is installed."""
import numpy as np
import pytest

import minigrad as mg

rng = np.random.default_rng(11)


def param(*shape, dtype=np.float32):
    return mg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def test_manual_sgd_step_as_word_language_model():
    p = param(3, 4)
    (p * p).sum().backward()
    before, g = p.data.copy(), p.grad.copy()
    with mg.no_grad():
        r = p.add_(p.grad, alpha=-0.1)
    assert r is p and p.is_leaf and p.requires_grad
    assert np.allclose(p.data, before - 0.1 * g)
    assert p.data.dtype == np.float32


def test_inplace_values_against_numpy():
    a = rng.standard_normal((2, 3))
    b = rng.standard_normal(3)
    x = mg.tensor(a.copy())
    assert np.allclose(x.add_(b).data, a + b)
    assert np.allclose(x.sub_(mg.tensor(b), alpha=2).data, a + b - 2 * b)
    assert np.allclose(x.mul_(2.0).data, 2 * (a - b))
    assert np.allclose(x.div_(4).data, (a - b) / 2)
    assert np.allclose(x.clamp_(-0.1, 0.2).data, np.clip((a - b) / 2, -0.1, 0.2))
    assert np.allclose(x.clamp_(min=0.0).data, np.clip((a - b) / 2, 0.0, 0.2))
    assert np.all(x.fill_(1.5).data == 1.5)
    assert np.all(x.zero_().data == 0)
    assert np.array_equal(x.copy_(b).data, np.broadcast_to(b, (2, 3)))
    m = np.array([True, False, True])
    assert np.array_equal(x.masked_fill_(m, -7).data, np.where(m, -7, np.broadcast_to(b, (2, 3))))


def test_float_operand_keeps_float64_precision():
    x = mg.zeros(2, dtype=mg.float64)
    x.add_(0.1)
    assert x.data[0] == 0.1                         # not 0.1 rounded through float32


def test_random_fills_use_minigrad_generator():
    x = mg.zeros(1000)
    mg.manual_seed(5)
    x.uniform_(-2, 3)
    a = x.data.copy()
    assert a.min() >= -2 and a.max() < 3 and x.dtype == mg.float32
    mg.manual_seed(5)
    assert np.array_equal(x.uniform_(-2, 3).data, a)
    x.normal_(1.0, 0.5)
    assert abs(x.data.mean() - 1.0) < 5 * 0.5 / np.sqrt(1000) and abs(x.data.std() - 0.5) < 0.1
    with pytest.raises(TypeError, match="float tensor"):
        mg.zeros(3, dtype=mg.long).normal_()
    with pytest.raises(ValueError, match="a <= b"):
        x.uniform_(1, 0)


def test_leaf_requiring_grad_outside_no_grad_is_refused():
    p = param(3)
    for edit in (lambda: p.add_(1.0), lambda: p.mul_(2), lambda: p.zero_(), lambda: p.fill_(0),
                 lambda: p.copy_(np.zeros(3)), lambda: p.uniform_(), lambda: p.normal_(),
                 lambda: p.clamp_(0, 1), lambda: p.sub_(1), lambda: p.div_(2)):
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad .*mg\.no_grad\(\)"):
            edit()
    with mg.no_grad():
        p.zero_()
    assert np.all(p.data == 0)


def test_tape_tensor_is_refused_even_under_no_grad():
    x = param(3)
    y = x.exp()                        # Exp saved y itself: editing it would corrupt x.grad
    with pytest.raises(RuntimeError, match=r"computed by the tape \(grad_fn=<Exp>\)"):
        y.mul_(2)
    with mg.no_grad(), pytest.raises(RuntimeError, match="grad_fn=<Exp>"):
        y.add_(1)
    y.sum().backward()
    assert np.allclose(x.grad, np.exp(x.data))
    d = y.detach().clone()             # an independent copy may be edited
    d.zero_()
    assert np.allclose(y.data, np.exp(x.data))


def test_dtype_and_shape_rules():
    i = mg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="cannot be stored in the tensor's dtype int64"):
        i.add_(0.5)
    with pytest.raises(RuntimeError, match="cannot be stored"):
        i.div_(2)
    assert i.mul_(2).data.tolist() == [2, 4, 6]
    assert i.copy_(np.array([1.9, -1.9, 0.0])).data.tolist() == [1, -1, 0]     # truncates, as PyTorch
    with pytest.raises(ValueError, match="NaN or infinity"):
        i.fill_(float("nan"))
    x = mg.zeros(3)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) does not broadcast to the tensor's shape \(3,\)"):
        x.add_(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="0-d"):
        x.fill_(mg.ones(3))
    with pytest.raises(TypeError, match="None"):
        x.add_(None)
    ro = mg.from_numpy(np.broadcast_to(np.zeros(1, np.float32), (1,)))
    with pytest.raises(RuntimeError, match="read-only"):
        ro.zero_()


def test_requires_grad_():
    w = mg.zeros(3).requires_grad_()
    assert w.requires_grad and w.is_leaf
    with pytest.raises(TypeError, match="float32/float64"):
        mg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="detach"):
        (w * 2).requires_grad_(False)


def test_inplace_matches_pytorch():
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    x, tx = mg.tensor(a.copy()), torch.tensor(a.copy())
    steps = [("add_", (b,), {"alpha": -0.3}), ("mul_", (b,), {}), ("sub_", (1.5,), {"alpha": 2}),
             ("div_", (b,), {}), ("clamp_", (-0.5, 0.5), {})]
    for name, args, kw in steps:
        getattr(x, name)(*args, **kw)
        getattr(tx, name)(*[torch.tensor(v) if isinstance(v, np.ndarray) else v for v in args], **kw)
        assert np.allclose(x.data, tx.numpy(), rtol=1e-6, atol=1e-7), name
    tp = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError) as e:
        tp.add_(1)
    assert "leaf" in str(e.value)                    # minigrad's message follows PyTorch's
