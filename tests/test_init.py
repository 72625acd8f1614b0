"""nn.init: fans and gains as PyTorch computes them, the distributions' bounds and moments, in-place
fills that keep array identity and dtype, seeding by minigrad's generator, and the argument checks."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn import init


def param(shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


@pytest.mark.parametrize("shape,fans", [((5, 3), (3, 5)), ((4, 2, 3, 3), (18, 36)), ((1, 7), (7, 1))])
def test_fans(shape, fans):
    assert init._calculate_fan_in_and_fan_out(param(shape)) == fans


def test_fans_and_gains_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(5, 3), (4, 2, 3, 3), (6, 1, 2)]:
        assert init._calculate_fan_in_and_fan_out(param(shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    for nl, p in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                  ("leaky_relu", 0.2), ("selu", None), ("conv2d", None)]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p), rel=1e-15)


def test_fills_are_in_place_and_keep_dtype():
    p = param((3, 4))
    arr = p.data
    for fn in (init.zeros_, init.ones_):
        assert fn(p) is p and p.data is arr
    assert (p.data == 1).all()
    init.constant_(p, 0.5)
    assert (p.data == 0.5).all() and p.data.dtype == np.float32 and p.data is arr
    assert init.uniform_(p, -0.1, 0.1) is p and p.data is arr and p.data.dtype == np.float32


def test_seeded_by_minigrad_generator():
    a, b = param((20, 30), np.float64), param((20, 30), np.float64)
    mg.manual_seed(3)
    init.kaiming_uniform_(a)
    mg.manual_seed(3)
    init.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.data, b.data)
    init.normal_(a, generator=np.random.default_rng(1))
    init.normal_(b, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.data, b.data)


def test_distribution_bounds_and_moments():
    n_out, n_in = 400, 300
    p = param((n_out, n_in), np.float64)
    g = np.random.default_rng(0)
    init.uniform_(p, -0.3, 0.2, generator=g)
    assert p.data.min() >= -0.3 and p.data.max() < 0.2
    init.normal_(p, 1.0, 2.0, generator=g)
    # 120,000 draws: the sample mean is within 5 standard errors (2 / sqrt(n) ~ 0.006) of 1
    assert abs(p.data.mean() - 1.0) < 5 * 2.0 / math.sqrt(p.data.size)
    a = math.sqrt(6.0 / (n_in + n_out)) * 1.5
    init.xavier_uniform_(p, gain=1.5, generator=g)
    assert np.abs(p.data).max() <= a and np.abs(p.data).max() > 0.99 * a
    bound = math.sqrt(2.0) * math.sqrt(3.0 / n_in)              # relu gain, fan_in
    init.kaiming_uniform_(p, nonlinearity="relu", generator=g)
    assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.99 * bound
    bound = math.sqrt(2.0 / (1 + 5)) * math.sqrt(3.0 / n_out)   # leaky_relu slope sqrt(5), fan_out
    init.kaiming_uniform_(p, a=math.sqrt(5), mode="fan_out", generator=g)
    assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.99 * bound
    init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu", generator=g)
    std = math.sqrt(2.0 / n_out)
    # the sample std of 120,000 normals is within 5 % of the true one with overwhelming probability
    assert abs(p.data.std() / std - 1) < 0.05
    init.xavier_normal_(p, generator=g)
    assert abs(p.data.std() / math.sqrt(2.0 / (n_in + n_out)) - 1) < 0.05


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3)])
def test_orthogonal(shape):
    p = param(shape, np.float64)
    init.orthogonal_(p, gain=2.0, generator=np.random.default_rng(0))
    w = p.data.reshape(shape[0], -1)
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-12)


def test_word_language_model_init_idiom():
    """The calls of pytorch/examples' word_language_model RNNModel.init_weights, unchanged."""
    encoder, decoder = nn.Embedding(10, 4), nn.Linear(4, 10)
    initrange = 0.1
    nn.init.uniform_(encoder.weight, -initrange, initrange)
    nn.init.zeros_(decoder.bias)
    nn.init.uniform_(decoder.weight, -initrange, initrange)
    assert np.abs(encoder.weight.data).max() <= 0.1 and (decoder.bias.data == 0).all()


def test_init_argument_errors():
    p = param((3, 4))
    with pytest.raises(TypeError, match="expected a Tensor or Parameter, got ndarray"):
        init.zeros_(np.zeros(3))
    with pytest.raises(TypeError, match="expected a float tensor, got dtype int64"):
        init.ones_(mg.tensor(np.zeros(3, np.int64)))
    with pytest.raises(ValueError, match=r"a must be <= b, got a=1.0, b=0.0"):
        init.uniform_(p, 1, 0)
    with pytest.raises(TypeError, match="b must be a finite number, got '1'"):
        init.uniform_(p, 0, "1")
    with pytest.raises(ValueError, match="std must be non-negative, got -1"):
        init.normal_(p, 0, -1)
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(4,\)\)"):
        init.xavier_uniform_(param((4,)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(p, mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match=r"2 or more dimensions are supported, got shape \(3,\)"):
        init.orthogonal_(param((3,)))
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator or None, got int"):
        init.normal_(p, generator=3)
    assert init.kaiming_uniform_(param((0, 3))).shape == (0, 3)     # empty: a no-op, as PyTorch
