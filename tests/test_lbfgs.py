"""optim.LBFGS: PyTorch's loss sequence reproduced in float64 (with and without the strong-Wolfe
line search, with a history short enough to roll over), convergence on a quadratic whose
minimum is known, the helpers, and the argument checks."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.optim.lbfgs import _cubic_interpolate

rng = np.random.default_rng(2)
X = rng.standard_normal((16, 3))
Y = np.sin(X.sum(1, keepdims=True))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(3, 8, dtype=np.float64)
        self.l2 = nn.Linear(8, 1, dtype=np.float64)

    def forward(self, x):
        return self.l2(self.l1(x).tanh())


def run_minigrad(weights, steps, **kw):
    net = Net()
    net.load_state_dict(weights)
    opt = optim.LBFGS(net.parameters(), **kw)
    x = mg.tensor(X, dtype=np.float64)
    losses = []

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(net(x), Y)
        loss.backward()
        losses.append(loss.item())
        return loss
    firsts = [opt.step(closure).item() for _ in range(steps)]
    return firsts, losses


@pytest.mark.parametrize("kw", [dict(lr=0.8), dict(lr=1, line_search_fn="strong_wolfe"),
                                dict(lr=0.5, history_size=3, max_iter=7),
                                dict(lr=1, history_size=2, line_search_fn="strong_wolfe", max_eval=9)])
def test_loss_sequence_matches_torch(kw):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    weights = {k.replace("0.", "l1.").replace("2.", "l2."): v.detach().numpy().copy()
               for k, v in tnet.state_dict().items()}
    topt = torch.optim.LBFGS(tnet.parameters(), **kw)
    tx, ty = torch.tensor(X), torch.tensor(Y)
    tlosses = []

    def tclosure():
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(tnet(tx), ty)
        loss.backward()
        tlosses.append(loss.item())
        return loss
    tfirsts = [topt.step(tclosure).item() for _ in range(2)]
    firsts, losses = run_minigrad(weights, 2, **kw)
    assert len(losses) == len(tlosses)                    # the same number of closure calls
    # Same algorithm, same order of operations; only the dot products' summation order (BLAS vs
    # PyTorch) differs, by ~1e-16 relative per operation. Along ~40 evaluations that typically
    # stays near 1e-14 of the initial loss (over six seeds: 1e-16 .. 2e-10 -- the path can amplify
    # it), so late, tiny losses are compared on the problem's scale: within 1e-10 of the initial
    # loss, or 1e-10 relative. Fixed seed: the same path every run.
    scale = 1e-10 * tlosses[0]
    np.testing.assert_allclose(losses, tlosses, rtol=1e-10, atol=scale)
    np.testing.assert_allclose(firsts, tfirsts, rtol=1e-10, atol=scale)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_converges_on_a_quadratic(line_search_fn):
    A = rng.standard_normal((6, 6))
    A = A @ A.T + 6 * np.eye(6)                            # well conditioned, positive definite
    b = rng.standard_normal(6)
    w = nn.Parameter(np.zeros(6), dtype=np.float64)
    opt = optim.LBFGS([w], lr=1 if line_search_fn else 0.1, max_iter=200, line_search_fn=line_search_fn,
                      tolerance_grad=1e-12, tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w @ (mg.tensor(A, dtype=np.float64) @ w)) - (mg.tensor(b, dtype=np.float64) * w).sum()
        loss.backward()
        return loss
    for _ in range(3):
        opt.step(closure)
    np.testing.assert_allclose(w.data, np.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    assert opt.state[w]["n_iter"] > 1 and opt.state[w]["func_evals"] > 1


def test_state_dict_round_trip_resumes_identically():
    weights = {k: v.copy() for k, v in Net().state_dict().items()}
    _, full = run_minigrad(weights, 2, lr=0.5, history_size=3)

    net = Net()
    net.load_state_dict(weights)
    opt = optim.LBFGS(net.parameters(), lr=0.5, history_size=3)
    x = mg.tensor(X, dtype=np.float64)
    losses = []

    def closure(model, o):
        o.zero_grad()
        loss = F.mse_loss(model(x), Y)
        loss.backward()
        losses.append(loss.item())
        return loss
    opt.step(lambda: closure(net, opt))
    net2 = Net()
    net2.load_state_dict({k: v.copy() for k, v in net.state_dict().items()})
    opt2 = optim.LBFGS(net2.parameters(), lr=0.5, history_size=3)
    opt2.load_state_dict(opt.state_dict())
    opt2.step(lambda: closure(net2, opt2))
    assert losses == full                                   # bit-identical continuation
    bad = opt.state_dict()
    bad["state"][0]["d"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"state 'd' must hold flat arrays of 41 elements.*\(3,\)"):
        opt2.load_state_dict(bad)


def test_cubic_interpolate():
    # f(x) = (x - 1)^2 at 0 and 3: the cubic is the parabola itself, minimum at 1
    assert _cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0) == pytest.approx(1.0, rel=1e-15)
    assert _cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0, bounds=(2.0, 3.0)) == 2.0


def test_lbfgs_argument_errors():
    w = nn.Parameter(np.zeros(2), dtype=np.float64)
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe', got 'wolfe'"):
        optim.LBFGS([w], line_search_fn="wolfe")
    with pytest.raises(ValueError, match="history_size must be a positive integer, got 0"):
        optim.LBFGS([w], history_size=0)
    with pytest.raises(ValueError, match="max_iter must be a positive integer, got 2.5"):
        optim.LBFGS([w], max_iter=2.5)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.LBFGS([w], lr=-1)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [nn.Parameter(np.zeros(1))]}])
    with pytest.raises(TypeError, match="share one dtype"):
        optim.LBFGS([w, nn.Parameter(np.zeros(1, np.float32))])
    opt = optim.LBFGS([w])
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()
    with pytest.raises(TypeError, match="must return the loss.*got str"):
        opt.step(lambda: "loss")
