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


# ---------------------------------------------------------------------- ExponentialLR, OneCycleLR, ReduceLROnPlateau
from minigrad import nn, optim                                             # noqa: E402
from minigrad.optim.lr_scheduler import ExponentialLR, OneCycleLR, ReduceLROnPlateau   # noqa: E402


def test_exponential_closed_form():
    opt = Opt(*BASE)
    np.testing.assert_allclose(run(ExponentialLR(opt, gamma=0.9), opt, 20), BASE * 0.9 ** np.arange(20)[:, None],
                               rtol=1e-14)


def one_cycle_reference(step, total, max_lr, pct=0.3, div=25.0, final=1e4):
    """PyTorch's documented two-phase cosine schedule, written out."""
    init, low = max_lr / div, max_lr / div / final
    end1 = pct * total - 1
    if step <= end1:
        p = step / end1
        return init + (max_lr - init) * (1 - math.cos(math.pi * p)) / 2
    p = (step - end1) / (total - 1 - end1)
    return low + (max_lr - low) * (1 + math.cos(math.pi * p)) / 2


def test_one_cycle_closed_form_and_momentum():
    w = nn.Parameter(np.zeros(1))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=20)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(19):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [one_cycle_reference(s, 20, 1.0) for s in range(20)], rtol=1e-12)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)        # back at max_momentum at the end
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 21 times. The specified number of total steps is 20"):
        sched.step()


def _torch_pair(torch, kind):
    params = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    ours_p = [nn.Parameter(np.zeros(1)), nn.Parameter(np.zeros(1))]
    groups = [(BASE[0], 0), (BASE[1], 1)]
    if kind == "adam":
        return (optim.Adam([{"params": [ours_p[i]], "lr": lr} for lr, i in groups]),
                torch.optim.Adam([{"params": [params[i]], "lr": lr} for lr, i in groups]))
    return (optim.SGD([{"params": [ours_p[i]], "lr": lr} for lr, i in groups], lr=0.1, momentum=0.5),
            torch.optim.SGD([{"params": [params[i]], "lr": lr} for lr, i in groups], lr=0.1, momentum=0.5))


@pytest.mark.parametrize("kw", [dict(max_lr=0.5, total_steps=30),
                                dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=6, anneal_strategy="linear"),
                                dict(max_lr=0.3, total_steps=25, three_phase=True, pct_start=0.4),
                                dict(max_lr=0.3, total_steps=10, cycle_momentum=False, div_factor=5.0)])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_matches_torch(kw, kind):
    torch = pytest.importorskip("torch")
    opt, topt = _torch_pair(torch, kind)
    sched, tsched = OneCycleLR(opt, **kw), torch.optim.lr_scheduler.OneCycleLR(topt, **kw)
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    key = "betas" if kind == "adam" else "momentum"
    for _ in range(total):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
        for g, tg in zip(opt.param_groups, topt.param_groups):
            np.testing.assert_allclose(np.ravel(g[key]), np.ravel(tg[key]), rtol=1e-12)
        topt.step()
        sched.step()
        tsched.step()


def test_exponential_matches_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _torch_pair(torch, "sgd")
    sched, tsched = ExponentialLR(opt, gamma=0.8), torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.8)
    for _ in range(30):
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
        topt.step()
        sched.step()
        tsched.step()


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", patience=2, factor=0.5, cooldown=1),
                                dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.01, 0.02]),
                                dict(patience=0, factor=0.3, min_lr=1e-3, eps=1e-3)])
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    opt, topt = _torch_pair(torch, "sgd")
    sched = ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    metrics = np.concatenate([np.linspace(1, 0.5, 5), np.full(8, 0.5), np.linspace(0.5, 0.45, 6), np.full(30, 0.6)])
    for m in metrics:
        topt.step()
        sched.step(mg.tensor(m) if m < 0.55 else float(m))
        tsched.step(float(m))
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups],
                                   rtol=1e-12)
        assert sched.num_bad_epochs == tsched.num_bad_epochs and sched.cooldown_counter == tsched.cooldown_counter
    np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12)
    fresh = ReduceLROnPlateau(_torch_pair(torch, "sgd")[0], **kw)
    fresh.load_state_dict(sched.state_dict())
    assert fresh.best == sched.best and fresh.num_bad_epochs == sched.num_bad_epochs


def test_new_scheduler_argument_errors():
    opt = Opt(0.1)
    with pytest.raises(TypeError, match="gamma must be a number, got '0.9'"):
        ExponentialLR(opt, gamma="0.9")
    with pytest.raises(ValueError, match="either total_steps OR"):
        OneCycleLR(opt, max_lr=1.0, cycle_momentum=False)
    with pytest.raises(ValueError, match="total_steps must be a positive integer, got 0"):
        OneCycleLR(opt, max_lr=1.0, total_steps=0, cycle_momentum=False)
    with pytest.raises(ValueError, match=r"pct_start must be in \[0.0, 1.0\], got 1.5"):
        OneCycleLR(opt, max_lr=1.0, total_steps=5, pct_start=1.5, cycle_momentum=False)
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        OneCycleLR(opt, max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="expected 1 values for max_lr"):
        OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=5, cycle_momentum=False)
    with pytest.raises(ValueError, match=r"factor must be in \[0.0, 1.0\), got 1.0"):
        ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'avg'"):
        ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="patience must be an int >= 0, got -1"):
        ReduceLROnPlateau(opt, patience=-1)
    with pytest.raises(TypeError, match="expects the metric as a number, got 'low'"):
        ReduceLROnPlateau(opt).step("low")
