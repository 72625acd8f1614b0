"""nn.CRF and its C kernels (csrc/crf.c, reference csrc/crf_ref.c).

The ground truth is brute-force enumeration of all K^L tag paths of tiny sequences (log Z, the
NLL, the best path). The fast kernels are compared with the naive log-space reference on awkward
shapes (K = 1, primes, B = 0 and B not a multiple of the chunk, lengths of every kind), the
gradients with finite differences (mg.gradcheck, float64), and the module with pytorch-crf when
it is installed. Tolerances: the kernels compute in float64 whatever the dtype, so two correct
results differ by a few float64 roundings of the result's scale; float32 outputs are one
float32 rounding of such a value.
"""
import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad import kernels as K
from minigrad.kernels.crf import crf_backward, crf_forward, crf_viterbi

EPS64, EPS32 = np.finfo(np.float64).eps, np.finfo(np.float32).eps
DTYPES = (np.float32, np.float64)


def make_crf(K_, dtype=np.float64, seed=0, scale=1.0, batch_first=False):
    """A CRF with parameters drawn from N(0, scale^2) (larger than the default init, so paths differ)."""
    crf = nn.CRF(K_, batch_first=batch_first, dtype=dtype)
    rng = np.random.default_rng(seed)
    for p in (crf.start_transitions, crf.end_transitions, crf.transitions):
        p.data[...] = rng.normal(0, scale, p.shape)
    return crf


def case(T, B, K_, seed=0, lengths=None, dtype=np.float64):
    """Emissions (T, B, K), tags (T, B) and lengths (B,) (random in [1, T] unless given)."""
    rng = np.random.default_rng(seed)
    em = rng.normal(size=(T, B, K_)).astype(dtype)
    tags = rng.integers(0, K_, (T, B))
    L = rng.integers(1, T + 1, B) if lengths is None else np.asarray(lengths)
    return em, tags, L


def params(crf):
    return (np.asarray(crf.start_transitions.data, np.float64),
            np.asarray(crf.end_transitions.data, np.float64),
            np.asarray(crf.transitions.data, np.float64))


def brute(crf, em, tags, L):
    """Per sequence (log Z, nll, best path) by enumerating all K^L paths (time-first inputs)."""
    s, e, A = params(crf)
    em = em.astype(np.float64)
    K_ = A.shape[0]
    out = []
    for b, n in enumerate(L):
        def score(y):
            v = s[y[0]] + em[0, b, y[0]] + e[y[-1]]
            for t in range(1, n):
                v += A[y[t - 1], y[t]] + em[t, b, y[t]]
            return v
        paths = list(itertools.product(range(K_), repeat=int(n)))
        scores = np.array([score(y) for y in paths])
        logz = np.logaddexp.reduce(scores)
        out.append((logz, logz - score(tags[:n, b]), list(paths[int(np.argmax(scores))])))
    return out


def mask_of(L, T):
    return np.arange(T)[:, None] < np.asarray(L)[None, :]          # (T, B)


# ------------------------------------------------------------------ against brute force
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,B,K_,L", [(1, 1, 1, [1]), (1, 3, 4, [1, 1, 1]), (4, 3, 3, [4, 1, 2]),
                                      (5, 4, 2, [5, 5, 3, 1]), (3, 2, 5, [2, 3])])
def test_nll_logz_and_best_path_match_brute_force(dtype, T, B, K_, L):
    crf = make_crf(K_, dtype, seed=T * 10 + K_)
    em, tags, L = case(T, B, K_, seed=K_, lengths=L, dtype=dtype)
    ref = brute(crf, em, tags, L)
    rtol = 8 * EPS64 * T if dtype == np.float64 else 2 * EPS32
    for kw in ({"lengths": L}, {"mask": mask_of(L, T)}):
        nll = crf(em, tags, reduction="none", **kw)
        assert nll.dtype == dtype and nll.shape == (B,)
        np.testing.assert_allclose(nll.numpy(), [r[1] for r in ref], rtol=rtol, atol=rtol)
        assert crf.decode(em, **kw) == [r[2] for r in ref]
    _, logz, _ = crf_forward(em, tags.T, L, *(p.data for p in (crf.start_transitions,
                             crf.end_transitions, crf.transitions)))
    np.testing.assert_allclose(logz, [r[0] for r in ref], rtol=8 * EPS64 * T)


def test_tensor_tags_mask_and_lengths():
    crf = make_crf(3)
    em, tags, L = case(5, 4, 3, seed=14)
    want = crf(em, tags, lengths=L).item()
    assert crf(mg.tensor(em), mg.tensor(tags), mask=mg.tensor(mask_of(L, 5))).item() == want
    assert crf(em, mg.tensor(tags), lengths=mg.tensor(L)).item() == want
    assert crf.decode(mg.tensor(em), lengths=mg.tensor(L)) == crf.decode(em, mask=mask_of(L, 5).astype(np.uint8))


def test_no_mask_means_full_length():
    crf = make_crf(3)
    em, tags, _ = case(4, 2, 3)
    full = np.array([4, 4])
    assert crf(em, tags).item() == crf(em, tags, lengths=full).item()
    assert crf.decode(em) == crf.decode(em, mask=mask_of(full, 4))


# ------------------------------------------------------------------ fast kernels vs reference
SHAPES = [(1, 1, 1), (3, 0, 4), (1, 5, 3), (2, 4, 2), (7, 5, 1), (13, 9, 5), (6, 4, 17), (11, 3, 33), (40, 32, 9)]


def _kernel_args(T, B, K_, dtype, seed, batch_first):
    em, tags, L = case(T, B, K_, seed=seed, dtype=dtype)
    crf = make_crf(K_, dtype, seed=seed)
    em = np.ascontiguousarray(em.transpose(1, 0, 2)) if batch_first else em
    return em, np.ascontiguousarray(tags.T), L, [p.data for p in (crf.start_transitions,
                                                  crf.end_transitions, crf.transitions)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,B,K_", SHAPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_fast_kernels_match_reference(dtype, T, B, K_, batch_first):
    em, tags, L, p = _kernel_args(T, B, K_, dtype, T + B + K_, batch_first)
    fast = crf_forward(em, tags, L, *p, batch_first=batch_first)
    ref = crf_forward(em, tags, L, *p, batch_first=batch_first, reference=True)
    scale = np.abs(ref[1]).max(initial=0) + T      # |log Z| and the terms it sums
    for a, r in zip(fast[:2], ref[:2]):
        np.testing.assert_allclose(a, r, rtol=0, atol=64 * EPS64 * scale)
    g = np.random.default_rng(1).normal(size=B)
    fast_b = crf_backward(g, fast[2], fast[1], em, tags, L, *p, batch_first=batch_first)
    ref_b = crf_backward(g, ref[2], ref[1], em, tags, L, *p, batch_first=batch_first, reference=True)
    gs = np.abs(g).sum() * T + 1                     # the gradients are sums of |g_b| * marginals
    for name, a, r in zip(("dem", "dstart", "dend", "dtrans"), fast_b, ref_b):
        assert a.dtype == (dtype if name == "dem" else np.float64)
        atol = 64 * EPS64 * gs if (a.dtype == np.float64) else 2 * EPS32 * gs
        np.testing.assert_allclose(a, r, rtol=0, atol=atol, err_msg=name)
    dem = fast_b[0] if batch_first else fast_b[0].transpose(1, 0, 2)
    assert not (dem[np.arange(T)[None, :] >= L[:, None]]).any()     # zero at padded steps
    best, score = crf_viterbi(em, L, *p, batch_first=batch_first)
    best_r, score_r = crf_viterbi(em, L, *p, batch_first=batch_first, reference=True)
    np.testing.assert_array_equal(best, best_r)
    np.testing.assert_array_equal(score, score_r)
    assert ((best == -1) == (np.arange(T)[None, :] >= L[:, None])).all()


def test_strided_emissions():
    """Views with steps or negative strides give the same numbers (copied to C order first)."""
    em, tags, L, p = _kernel_args(6, 5, 4, np.float64, 3, False)
    wide = np.zeros((6, 10, 4))
    wide[:, ::2] = em                                # a view with a step on the batch axis
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    a = crf_forward(view, tags, L, *p)
    b = crf_forward(em, tags, L, *p)
    np.testing.assert_array_equal(a[0], b[0])
    flipped = np.ascontiguousarray(em[::-1])[::-1]   # negative time stride
    np.testing.assert_array_equal(crf_forward(flipped, tags, L, *p)[0], b[0])


def test_wide_transitions_take_the_exact_path():
    """Transitions spanning more than 600 nats (forbidden moves scored -1e4, a BIO constraint)
    underflow the exp-space fast path; the kernels fall back to exact log-space sums."""
    T, B, K_ = 8, 6, 5
    em, tags, L, p = _kernel_args(T, B, K_, np.float64, 4, False)
    p[2] = p[2].copy()
    p[2][0, 1:] = -1e4                   # tag 0 may only be followed by itself
    p[2][2, 3] = 700.0
    tags[:, :] = 1
    fast = crf_forward(em, tags, L, *p)
    ref = crf_forward(em, tags, L, *p, reference=True)
    np.testing.assert_allclose(fast[0], ref[0], rtol=0, atol=64 * EPS64 * 1e4)
    g = np.ones(B)
    for a, r in zip(crf_backward(g, fast[2], fast[1], em, tags, L, *p),
                    crf_backward(g, ref[2], ref[1], em, tags, L, *p, reference=True)):
        # marginals exp(alpha + beta - log Z) of terms of size 1e4: rounding of that scale
        np.testing.assert_allclose(a, r, rtol=0, atol=64 * EPS64 * 1e4 * B)
    assert np.isfinite(fast[0]).all()


def test_threads_do_not_change_a_bit():
    em, tags, L, p = _kernel_args(40, 33, 9, np.float32, 5, False)
    g = np.linspace(-1, 1, 33)
    old = K.get_num_threads()
    outs = []
    try:
        for nt in (1, 2):
            K.set_num_threads(nt)
            f = crf_forward(em, tags, L, *p)
            outs.append(f[:2] + crf_backward(g, f[2], f[1], em, tags, L, *p)
                        + crf_viterbi(em, L, *p))
    finally:
        K.set_num_threads(old)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ gradients
def _grad_inputs(crf, em):
    x = mg.tensor(em, requires_grad=True, dtype=np.float64)
    return [x, crf.start_transitions, crf.end_transitions, crf.transitions]


@pytest.mark.parametrize("kw", ["mask", "lengths", None])
def test_gradcheck(kw):
    T, B, K_ = 5, 4, 3
    crf = make_crf(K_)
    em, tags, L = case(T, B, K_, seed=2, lengths=[5, 2, 1, 4])
    args = {"mask": {"mask": mask_of(L, T)}, "lengths": {"lengths": L}, None: {}}[kw]
    assert mg.gradcheck(lambda x, *_: crf(x, tags, reduction="sum", **args), _grad_inputs(crf, em))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "token_mean"])
def test_gradcheck_reductions_batch_first(reduction):
    T, B, K_ = 4, 3, 4
    crf = make_crf(K_, batch_first=True, seed=1)
    em, tags, L = case(T, B, K_, seed=3, lengths=[4, 1, 3])
    emb, tagsb, maskb = em.transpose(1, 0, 2).copy(), tags.T.copy(), mask_of(L, T).T.copy()
    w = np.arange(1.0, B + 1)                # a non-uniform upstream gradient for 'none'

    def f(x, *_):
        out = crf(x, tagsb, mask=maskb, reduction=reduction)
        return (out * w).sum() if reduction == "none" else out
    assert mg.gradcheck(f, _grad_inputs(crf, emb))


def test_gradcheck_reused_input_and_long_chain():
    """The emissions used twice (a sum of two CRF losses, one on 2x) and a chain of 30 steps."""
    T, B, K_ = 30, 2, 3
    crf = make_crf(K_, seed=7)
    em, tags, L = case(T, B, K_, seed=5, lengths=[30, 17])

    def f(x, *_):
        return crf(x, tags, lengths=L, reduction="sum") + crf(x * 2.0, tags, lengths=L, reduction="mean")
    assert mg.gradcheck(f, _grad_inputs(crf, em))


def test_reductions_relate():
    T, B, K_ = 6, 4, 3
    crf = make_crf(K_, seed=2)
    em, tags, L = case(T, B, K_, seed=6)
    none = crf(em, tags, lengths=L, reduction="none").numpy()
    np.testing.assert_allclose(crf(em, tags, lengths=L, reduction="sum").item(), none.sum(), rtol=1e-14)
    np.testing.assert_allclose(crf(em, tags, lengths=L).item(), none.mean(), rtol=1e-14)
    np.testing.assert_allclose(crf(em, tags, lengths=L, reduction="token_mean").item(),
                               none.sum() / L.sum(), rtol=1e-14)
    assert (none > 0).all()                  # -log of a probability below 1


def test_batch_first_equals_time_first():
    T, B, K_ = 5, 3, 4
    a, b = make_crf(K_, seed=3), make_crf(K_, seed=3, batch_first=True)
    em, tags, L = case(T, B, K_, seed=8)
    x1 = mg.tensor(em, requires_grad=True, dtype=np.float64)
    x2 = mg.tensor(em.transpose(1, 0, 2).copy(), requires_grad=True, dtype=np.float64)
    l1 = a(x1, tags, mask=mask_of(L, T), reduction="sum")
    l2 = b(x2, tags.T, mask=mask_of(L, T).T, reduction="sum")
    assert l1.item() == l2.item()
    l1.backward(), l2.backward()
    np.testing.assert_array_equal(x1.grad, x2.grad.transpose(1, 0, 2))
    np.testing.assert_array_equal(a.transitions.grad, b.transitions.grad)
    assert a.decode(em, lengths=L) == b.decode(em.transpose(1, 0, 2), lengths=L)


def test_padded_tags_and_emissions_are_ignored():
    T, B, K_ = 6, 3, 3
    crf = make_crf(K_, seed=4)
    em, tags, L = case(T, B, K_, seed=9, lengths=[6, 2, 4])
    pad = ~mask_of(L, T)
    em2, tags2 = em.copy(), tags.copy()
    em2[pad], tags2[pad] = 1e6, -100                 # garbage where the mask is False
    assert crf(em, tags, lengths=L).item() == crf(em2, tags2, lengths=L).item()
    assert crf.decode(em, lengths=L) == crf.decode(em2, lengths=L)


def test_decode_ties_pick_the_smallest_tag():
    crf = make_crf(4)
    for p in (crf.start_transitions, crf.end_transitions, crf.transitions):
        p.data[...] = 0
    em = np.zeros((5, 2, 4))
    assert crf.decode(em, lengths=[5, 3]) == [[0] * 5, [0] * 3]
    em[:, :, 2:] = 1.0                               # tags 2 and 3 tie everywhere
    assert crf.decode(em) == [[2] * 5, [2] * 5]


def test_float32_module():
    crf = make_crf(5, np.float32, seed=5)
    em, tags, L = case(7, 4, 5, seed=10, dtype=np.float32)
    x = mg.tensor(em, requires_grad=True)
    loss = crf(x, tags, lengths=L)
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and crf.transitions.grad.dtype == np.float32
    ref = np.mean([r[1] for r in brute(crf, em, tags, L)])
    np.testing.assert_allclose(loss.item(), ref, rtol=2 * EPS32)


def test_zero_size_batch():
    crf = make_crf(3)
    em = mg.tensor(np.zeros((4, 0, 3)), requires_grad=True, dtype=np.float64)
    tags = np.zeros((4, 0), np.int64)
    assert crf(em, tags, reduction="none").shape == (0,)
    assert crf(em, tags, reduction="sum").item() == 0.0
    assert np.isnan(crf(em, tags).item())            # mean of nothing, as PyTorch
    loss = crf(em, tags, reduction="sum")
    loss.backward()
    assert em.grad.shape == (4, 0, 3) and (crf.transitions.grad == 0).all()
    assert crf.decode(em) == []


def test_module_basics():
    crf = nn.CRF(5)
    names = dict(crf.named_parameters())
    assert set(names) == {"start_transitions", "end_transitions", "transitions"}
    assert crf.transitions.shape == (5, 5) and crf.transitions.dtype == np.float32
    for p in names.values():
        assert (np.abs(p.data) <= 0.1).all()         # pytorch-crf's U(-0.1, 0.1)
    assert "num_tags=5" in repr(crf)


# ------------------------------------------------------------------ bad inputs
def _bad(crf, em, tags, **kw):
    return lambda: crf(em, tags, **kw)


@pytest.mark.parametrize("make,exc,match", [
    (lambda c, em, t: c(em, t + 3), ValueError, r"tags hold \d+ at a real .* \[0, 3\)"),
    (lambda c, em, t: c(em, t - 1, lengths=[4, 4]), ValueError, "tags hold -1"),
    (lambda c, em, t: c(em, t[:3]), ValueError, r"tags must have shape \(4, 2\)"),
    (lambda c, em, t: c(em, t.astype(float)), TypeError, "tags must hold integers"),
    (lambda c, em, t: c(em[..., :2], t), ValueError, r"emissions must have shape \(T, B, num_tags\)"),
    (lambda c, em, t: c(em[0], t), ValueError, "emissions must have shape"),
    (lambda c, em, t: c(em.astype(np.float32), t), TypeError, "emissions are float32 but the CRF"),
    (lambda c, em, t: c(em.astype(int), t), TypeError, "float32/float64"),
    (lambda c, em, t: c(em, t, mask=np.array([[1, 1], [0, 1], [1, 1], [0, 0]], bool)), ValueError,
     "sequence 0 is not a prefix"),
    (lambda c, em, t: c(em, t, mask=np.array([[1, 0], [1, 0], [0, 0], [0, 0]], bool)), ValueError,
     "first time step must be all True"),
    (lambda c, em, t: c(em, t, mask=np.ones((2, 4), bool)), ValueError, r"mask must have shape \(4, 2\)"),
    (lambda c, em, t: c(em, t, mask=np.ones((4, 2))), TypeError, "mask must be boolean"),
    (lambda c, em, t: c(em, t, mask=np.ones((4, 2), bool), lengths=[4, 4]), ValueError, "not both"),
    (lambda c, em, t: c(em, t, lengths=[0, 4]), ValueError, r"lengths must lie in \[1, 4\]"),
    (lambda c, em, t: c(em, t, lengths=[5, 4]), ValueError, r"lengths must lie in \[1, 4\]"),
    (lambda c, em, t: c(em, t, lengths=[4]), ValueError, "one length per batch item"),
    (lambda c, em, t: c(em, t, lengths=[4.0, 4.0]), TypeError, "lengths must be integers"),
    (lambda c, em, t: c(em, t, reduction="batchmean"), ValueError, "unknown reduction 'batchmean'"),
    (lambda c, em, t: c(np.where(em > 0, np.nan, em), t), ValueError, "NaN or infinite"),
    (lambda c, em, t: c(em[:0], t[:0]), ValueError, "no time steps"),
    (lambda c, em, t: c.decode(em, lengths=[3, 9]), ValueError, r"lengths must lie in \[1, 4\]"),
    (lambda c, em, t: c.decode(em[..., :1]), ValueError, "num_tags = 3"),
    (lambda c, em, t: c(("out", "state"), t), TypeError, "emissions must be a tensor"),
])
def test_bad_inputs(make, exc, match):
    crf = make_crf(3)
    em, tags, _ = case(4, 2, 3)
    with pytest.raises(exc, match=match):
        make(crf, em, tags)


def test_bad_constructor_and_parameters():
    with pytest.raises(ValueError, match="num_tags"):
        nn.CRF(0)
    with pytest.raises(TypeError, match="batch_first"):
        nn.CRF(3, batch_first="yes")
    with pytest.raises(TypeError, match="dtype"):
        nn.CRF(3, dtype=np.int32)
    crf = make_crf(3)
    crf.transitions.data[0, 0] = np.inf
    em, tags, _ = case(4, 2, 3)
    with pytest.raises(ValueError, match="transitions .* NaN or infinite"):
        crf(em, tags)


# ------------------------------------------------------------------ parity with pytorch-crf
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_pytorch_crf(dtype, batch_first):
    torch = pytest.importorskip("torch")
    torchcrf = pytest.importorskip("torchcrf")
    T, B, K_ = 9, 6, 5
    crf = make_crf(K_, dtype, seed=11, batch_first=batch_first)
    tc = torchcrf.CRF(K_, batch_first=batch_first).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for name in ("start_transitions", "end_transitions", "transitions"):
            getattr(tc, name).copy_(torch.from_numpy(getattr(crf, name).data.copy()))
    em, tags, L = case(T, B, K_, seed=12, dtype=dtype, lengths=[9, 1, 4, 9, 2, 7])
    mask = mask_of(L, T)
    if batch_first:
        em, tags, mask = em.transpose(1, 0, 2).copy(), tags.T.copy(), mask.T.copy()
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5}
    for reduction in ("none", "sum", "mean", "token_mean"):
        x = mg.tensor(em, requires_grad=True)
        crf.zero_grad()
        tc.zero_grad()
        xt = torch.from_numpy(em.copy()).requires_grad_()
        ours = crf(x, tags, mask=mask, reduction=reduction)
        theirs = -tc(xt, torch.from_numpy(tags), torch.from_numpy(mask), reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **tol)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), **tol)
        for name in ("start_transitions", "end_transitions", "transitions"):
            np.testing.assert_allclose(getattr(crf, name).grad, getattr(tc, name).grad.numpy(),
                                       err_msg=name, **tol)
    assert crf.decode(em, mask=mask) == tc.decode(torch.from_numpy(em), torch.from_numpy(mask))


@pytest.mark.parametrize("call,exc,match", [
    (lambda em, y, L, p: crf_forward(em, y, L, p[0].astype(np.float32), *p[1:]), TypeError,
     "start_transitions has dtype float32 .* emissions is float64"),
    (lambda em, y, L, p: crf_forward(em, y, L, p[0], p[1], p[2][:2]), ValueError,
     r"transitions has shape \(2, 3\), expected \(3, 3\)"),
    (lambda em, y, L, p: crf_forward(em[..., :0], y, L, p[0][:0], p[1][:0], p[2][:0, :0]), ValueError,
     r"no tags \(K = 0\)"),
    (lambda em, y, L, p: crf_forward(em[0], y, L, *p), ValueError, "emissions must be 3-D"),
    (lambda em, y, L, p: crf_forward(em, y.T, L, *p), ValueError, r"tags must be integers of shape \(2, 4\)"),
    (lambda em, y, L, p: crf_forward(em, y + 3, L, *p), ValueError, r"tags hold 3"),
    (lambda em, y, L, p: crf_forward(em, y, L.astype(np.uint64) + 2**63, *p), ValueError,
     r"lengths must lie in \[1, 4\]"),
    (lambda em, y, L, p: crf_forward(em, y, L[:1], *p), ValueError, "lengths must be 2 integers"),
    (lambda em, y, L, p: crf_forward(em, None, L, *p), ValueError, "has no tags"),
    (lambda em, y, L, p: crf_backward(np.ones(3), np.zeros((2, 4, 3)), np.zeros(2), em, y, L, *p),
     ValueError, r"do not match B=2"),
    (lambda em, y, L, p: crf_viterbi(em.astype(np.int32), L, *p), TypeError, "float32 or float64"),
    (lambda em, y, L, p: crf_viterbi(em, L, p[0], p[1], p[2].astype(np.float32)), TypeError,
     "transitions has dtype float32"),
])
def test_binding_checks_before_any_c(call, exc, match):
    """The kernel binding's own checks: what the C code relies on, named, before it runs."""
    em, tags, L, p = _kernel_args(4, 2, 3, np.float64, 0, False)
    with pytest.raises(exc, match=match):
        call(em, tags, L, p)


def test_loads_a_pytorch_crf_state_dict():
    torch = pytest.importorskip("torch")
    torchcrf = pytest.importorskip("torchcrf")
    tc = torchcrf.CRF(4).double()
    crf = nn.CRF(4, dtype=np.float64)
    crf.load_state_dict({k: v.numpy() for k, v in tc.state_dict().items()})
    em, tags, L = case(5, 3, 4, seed=13)
    mask = mask_of(L, 5)
    theirs = -tc(torch.from_numpy(em), torch.from_numpy(tags), torch.from_numpy(mask), reduction="sum")
    np.testing.assert_allclose(crf(em, tags, mask=mask, reduction="sum").item(), theirs.item(), rtol=1e-12)


def test_learns_a_tagging_rule_only_transitions_can_express():
    """BIO spans (tags O=0, B=1, I=2): token 0 begins a span (B), token 3 continues an open span (I
    after B or I, O after O), tokens 1 and 2 are outside (O). The emissions see only the current
    token, so token 3 is ambiguous for them; learning that O -> I is impossible makes the decoded
    paths exact."""
    rng = np.random.default_rng(0)
    T, B, V = 10, 16, 4
    x = rng.choice(V, (T, B), p=[0.2, 0.2, 0.2, 0.4])
    y = np.zeros((T, B), np.int64)
    for t in range(T):
        y[t] = np.where(x[t] == 0, 1, np.where((x[t] == 3) & (y[t - 1] > 0) if t else False, 2, 0))
    assert ((x == 3) & (y == 2)).any() and ((x == 3) & (y == 0)).any()    # token 3 is ambiguous
    crf = nn.CRF(3, dtype=np.float64)
    emb = nn.Embedding(V, 3, dtype=np.float64)           # per-token emission scores
    opt = mg.optim.Adam(list(crf.parameters()) + list(emb.parameters()), lr=0.1)
    first = None
    for _ in range(200):
        loss = crf(emb(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first
    assert crf.decode(emb(x).numpy()) == y.T.tolist()
    assert crf.transitions.data[0, 2] < crf.transitions.data[1, 2] - 1      # O -> I learned unlikely
