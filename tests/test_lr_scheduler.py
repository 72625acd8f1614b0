"""Learning-rate schedules: NumPy closed forms, PyTorch's schedulers, state round trips."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LinearLR, LinearWarmup, StepLR


class Opt:
    """Stand-in optimizer: what the schedulers rely on (``param_groups`` dicts with 'lr')."""

    def __init__(self, *lrs):
        self.param_groups = [{"lr": lr, "params": []} for lr in lrs]


def run(sched, opt, n):
    """lrs used in epochs 0..n-1 (the value in the groups before each step)."""
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == out[-1]
        sched.step()
    return np.array(out)


BASE = np.array([0.1, 0.03])
EPOCHS = np.arange(40)[:, None]

CASES = {
    "step": (lambda o: StepLR(o, step_size=7, gamma=0.5),
             BASE * 0.5 ** (EPOCHS // 7)),
    "cosine": (lambda o: CosineAnnealingLR(o, T_max=15, eta_min=1e-3),
               1e-3 + (BASE - 1e-3) * (1 + np.cos(np.pi * EPOCHS / 15)) / 2),
    "linear": (lambda o: LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=10),
               BASE * (0.25 + 0.75 * np.minimum(EPOCHS, 10) / 10)),
    "lambda": (lambda o: LambdaLR(o, lambda e: 0.9 ** e),
               BASE * 0.9 ** EPOCHS),
    "warmup": (lambda o: LinearWarmup(o, warmup_steps=5),
               BASE * np.minimum(1.0, (EPOCHS + 1) / 5)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_closed_form(name):
    make, expect = CASES[name]
    opt = Opt(*BASE)
    sched = make(opt)
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASE)
    np.testing.assert_allclose(run(sched, opt, 40), expect, rtol=1e-13, atol=0)


def test_cosine_reaches_eta_min_and_continues():
    opt = Opt(1.0)
    sched = CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    lrs = run(sched, opt, 9)[:, 0]
    assert lrs[0] == 1.0 and lrs[4] == pytest.approx(0.1) and lrs[8] == pytest.approx(1.0)


def test_lambda_per_group_and_errors():
    opt = Opt(1.0, 2.0)
    sched = LambdaLR(opt, [lambda e: 1.0 / (e + 1), lambda e: e])
    sched.step()
    assert sched.get_last_lr() == [0.5, 2.0]
    with pytest.raises(ValueError, match="one per param group"):
        LambdaLR(Opt(1.0, 2.0), [lambda e: 1.0])
    with pytest.raises(TypeError, match="not an optimizer"):
        StepLR(object(), 3)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(Opt(1.0), 0)
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(Opt(1.0), 3, last_epoch=5)


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_resume(name, tmp_path):
    make, _ = CASES[name]
    opt = Opt(*BASE)
    sched = make(opt)
    for _ in range(11):
        sched.step()
    state = sched.state_dict()
    mg.save({"sched": state, "groups": opt.param_groups}, tmp_path / "s.npz")   # plain data
    rest = run(sched, opt, 10)

    saved = mg.load(tmp_path / "s.npz")
    opt2 = Opt(*BASE)
    sched2 = make(opt2)                         # construction performs step 0 ...
    for g, s in zip(opt2.param_groups, saved["groups"]):
        g.update(s)                             # ... then, as in PyTorch, the optimizer state
    sched2.load_state_dict(saved["sched"])      # and the scheduler state are loaded (epoch 11)
    assert sched2.last_epoch == 11 and sched2.get_last_lr() == list(rest[0])
    np.testing.assert_array_equal(run(sched2, opt2, 10), rest)


def test_step_with_epoch_jumps():
    opt = Opt(1.0)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    sched.step(7)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01) and sched.last_epoch == 7


TORCH_CASES = {
    "step": (lambda o: StepLR(o, step_size=7, gamma=0.5),
             lambda t, o: t.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    "cosine": (lambda o: CosineAnnealingLR(o, T_max=15, eta_min=1e-3),
               lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=1e-3)),
    "cosine0": (lambda o: CosineAnnealingLR(o, T_max=10),
                lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10)),
    "linear": (lambda o: LinearLR(o, start_factor=0.25, total_iters=10),
               lambda t, o: t.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=10)),
    "lambda": (lambda o: LambdaLR(o, lambda e: 1.0 / math.sqrt(e + 1)),
               lambda t, o: t.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 / math.sqrt(e + 1))),
    "warmup": (lambda o: LinearWarmup(o, warmup_steps=6),
               lambda t, o: t.optim.lr_scheduler.LinearLR(o, start_factor=1 / 6, total_iters=5)),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_make, theirs_make = TORCH_CASES[name]
    opt = Opt(*BASE)
    sched = ours_make(opt)
    params = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    topt = torch.optim.SGD([{"params": [params[0]], "lr": BASE[0]}, {"params": [params[1]], "lr": BASE[1]}])
    tsched = theirs_make(torch, topt)
    for epoch in range(45):                       # past T_max: the cosine comes back up
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-9, atol=1e-15,
                                   err_msg=f"epoch {epoch}")
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in topt.param_groups], rtol=1e-9, atol=1e-15)
        topt.step()
        sched.step()
        tsched.step()
    # the torch state dict's counters load into ours
    fresh = ours_make(Opt(*BASE))
    fresh.load_state_dict(tsched.state_dict())
    assert fresh.last_epoch == tsched.last_epoch == sched.last_epoch
    np.testing.assert_allclose(fresh.base_lrs, BASE)
