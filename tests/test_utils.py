"""nn.utils: gradient clipping against NumPy formulas and PyTorch; repackage_hidden."""
import collections
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import utils


class P:
    """Stand-in parameter: what clipping relies on (``data``, ``grad``)."""

    def __init__(self, grad, data=None):
        self.grad = grad
        self.data = np.zeros_like(grad) if data is None and grad is not None else data


def make_params(rng, dtype, shapes=((3, 4), (7,), (1,), (0, 5), (2, 3, 5)), scale=1.0):
    return [P((scale * rng.standard_normal(s)).astype(dtype)) for s in shapes]


def ref_norm(grads, p):
    flat = np.concatenate([g.astype(np.float64).ravel() for g in grads])
    if p == math.inf:
        return np.abs(flat).max()
    return (np.abs(flat) ** p).sum() ** (1.0 / p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_formula(dtype, p, max_norm):
    rng = np.random.default_rng(0)
    params = make_params(rng, dtype)
    before = [x.grad.copy() for x in params]
    ids = [id(x.grad) for x in params]
    pf = float(p)
    total = utils.clip_grad_norm_(params, max_norm, norm_type=p)
    expect = ref_norm(before, pf)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert isinstance(total, float)
    assert total == pytest.approx(expect, rel=tol)
    coef = min(max_norm / (expect + 1e-6), 1.0)
    for x, b, i in zip(params, before, ids):
        assert id(x.grad) == i and x.grad.dtype == dtype          # in place
        np.testing.assert_allclose(x.grad, b * coef, rtol=tol, atol=0)
    if max_norm < expect:
        assert ref_norm([x.grad for x in params], pf) == pytest.approx(max_norm, rel=1e-4)


def test_clip_grad_norm_none_grads_single_tensor_and_generators():
    a, b = P(np.array([3.0, 4.0])), P(None)
    assert utils.clip_grad_norm_([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-6)
    c = P(np.array([[6.0, 8.0]]))
    assert utils.clip_grad_norm_(c, 5.0) == pytest.approx(10.0)           # a single tensor
    np.testing.assert_allclose(c.grad, [[3.0, 4.0]], rtol=1e-6)
    d = P(np.array([1.0, -1.0]))
    assert utils.clip_grad_norm_((x for x in [d, P(None)]), 10.0) == pytest.approx(math.sqrt(2))
    np.testing.assert_array_equal(d.grad, [1.0, -1.0])                     # below max: untouched
    assert utils.clip_grad_norm_([P(None), P(None)], 1.0) == 0.0
    assert utils.clip_grad_norm_([], 1.0) == 0.0


def test_clip_grad_norm_works_on_real_tensors():
    t = mg.tensor(np.ones(4), requires_grad=True, dtype=np.float64)
    t.grad = np.full(4, 2.0)
    assert utils.clip_grad_norm_([t], 2.0) == pytest.approx(4.0)
    np.testing.assert_allclose(t.grad, np.ones(4), rtol=1e-6)


def test_clip_grad_norm_nonfinite():
    a = P(np.array([1.0, np.inf]))
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(a.grad, [1.0, np.inf])                   # unchanged on error
    b = P(np.array([1.0, np.nan]))
    total = utils.clip_grad_norm_([b], 1.0)
    assert math.isnan(total) and np.isnan(b.grad).all()                    # as PyTorch


@pytest.mark.parametrize("bad", [0, -1.0, "l2", float("nan")])
def test_clip_grad_norm_bad_norm_type(bad):
    with pytest.raises(ValueError, match="norm_type"):
        utils.clip_grad_norm_([P(np.ones(2))], 1.0, norm_type=bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value(dtype):
    rng = np.random.default_rng(1)
    params = make_params(rng, dtype, scale=3.0) + [P(None)]
    before = [x.grad.copy() for x in params[:-1]]
    utils.clip_grad_value_(params, 1.5)
    for x, b in zip(params, before):
        np.testing.assert_array_equal(x.grad, np.clip(b, -1.5, 1.5))
        assert x.grad.dtype == dtype
    with pytest.raises(ValueError, match="clip_value"):
        utils.clip_grad_value_(params, -1.0)


@pytest.mark.parametrize("p", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_vs_torch(p, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    shapes = ((3, 4), (7,), (1,), (2, 3, 5))      # no empty grad: torch rejects its inf norm
    ours = make_params(rng, dtype, shapes, scale=2.0)
    theirs = []
    for x in ours:
        t = torch.zeros(x.grad.shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                        requires_grad=True)
        t.grad = torch.from_numpy(x.grad.copy())
        theirs.append(t)
    theirs.append(torch.zeros(3, requires_grad=True))                      # grad None
    total = utils.clip_grad_norm_(ours + [P(None)], 1.25, norm_type=p)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.25, norm_type=p)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert total == pytest.approx(ref.item(), rel=tol)
    for x, t in zip(ours, theirs):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=tol, atol=1e-7)
    ours2, theirs2 = make_params(rng, dtype, shapes, scale=2.0), []
    for x in ours2:
        t = torch.zeros(x.grad.shape, dtype=theirs[0].dtype, requires_grad=True)
        t.grad = torch.from_numpy(x.grad.copy())
        theirs2.append(t)
    utils.clip_grad_value_(ours2, 0.7)
    torch.nn.utils.clip_grad_value_(theirs2, 0.7)
    for x, t in zip(ours2, theirs2):
        np.testing.assert_array_equal(x.grad, t.grad.numpy())


class _Double(mg.Function):
    """A one-off op so the test does not depend on the operator set."""

    def forward(self, a):
        return 2.0 * a

    def backward(self, g):
        return (2.0 * g,)


def test_repackage_hidden_nested():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True, dtype=np.float64)
    h = _Double.apply(x)
    c = _Double.apply(h)
    assert h.grad_fn is not None
    State = collections.namedtuple("State", "h c")
    out = utils.repackage_hidden([(h, c), State(h, c), None])
    assert isinstance(out, list) and isinstance(out[0], tuple) and isinstance(out[1], State)
    assert out[2] is None
    for new, old in [(out[0][0], h), (out[0][1], c), (out[1].h, h), (out[1].c, c)]:
        assert isinstance(new, mg.Tensor) and new is not old
        assert new.grad_fn is None and not new.requires_grad
        np.testing.assert_array_equal(new.data, old.data)
    single = utils.repackage_hidden(h)
    assert single.grad_fn is None and np.shares_memory(single.data, h.data)
    with pytest.raises(TypeError, match="repackage_hidden"):
        utils.repackage_hidden(np.ones(3))
