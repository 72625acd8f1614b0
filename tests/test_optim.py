"""Optimizers (minigrad.optim): update rules vs an independent NumPy reference and vs PyTorch,
parameter groups, skipping of params without gradient, state_dict round trips, validation."""
import numpy as np
import pytest

from minigrad import optim


class P:
    """Stand-in for a minigrad parameter: .data (updated in place), .grad, .requires_grad."""

    def __init__(self, data, grad=None):
        self.data = data
        self.grad = grad
        self.requires_grad = True


SHAPES = [(3, 4), (7,), (), (0, 2)]       # includes a 0-d and a zero-size parameter

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, betas=(0.5, 0.9), weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, eps=1e-4, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.1)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CONFIGS]


def make_problem(dtype, steps, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    return init, grads


# ---------------------------------------------------------------- independent reference
def reference(name, kw, w0, grads, lrs):
    """Textbook form of each rule, in float64, for one parameter; lrs[t] is the lr at step t."""
    w = np.array(w0, dtype=np.float64)
    wd = kw.get("weight_decay", 1e-2 if name == "AdamW" else 0.0)
    m = np.zeros_like(w); v = np.zeros_like(w); vmax = np.zeros_like(w); a = np.zeros_like(w)
    S = np.full_like(w, kw.get("initial_accumulator_value", 0.0))
    buf = None
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        g = np.asarray(g, dtype=np.float64)
        if name == "SGD":
            mom, damp = kw.get("momentum", 0.0), kw.get("dampening", 0.0)
            g = g + wd * w
            if mom:
                buf = g.copy() if buf is None else mom * buf + (1 - damp) * g
                g = g + mom * buf if kw.get("nesterov") else buf
            w = w - lr * g
        elif name in ("Adam", "AdamW"):
            b1, b2 = kw.get("betas", (0.9, 0.999))
            eps = kw.get("eps", 1e-8)
            if name == "AdamW":
                w = w * (1 - lr * wd)
            else:
                g = g + wd * w
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            vmax = np.maximum(vmax, v)
            m_hat = m / (1 - b1 ** t)
            v_hat = (vmax if kw.get("amsgrad") else v) / (1 - b2 ** t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        elif name == "RMSprop":
            alpha, eps, mom = kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("momentum", 0.0)
            g = g + wd * w
            v = alpha * v + (1 - alpha) * g * g
            a = alpha * a + (1 - alpha) * g
            denom = np.sqrt(v - a * a if kw.get("centered") else v) + eps
            if mom:
                m = mom * m + g / denom
                w = w - lr * m
            else:
                w = w - lr * g / denom
        elif name == "Adagrad":
            g = g + wd * w
            clr = lr / (1 + (t - 1) * kw.get("lr_decay", 0.0))
            S = S + g * g
            w = w - clr * g / (np.sqrt(S) + kw.get("eps", 1e-10))
    return w


def run(opt, params, grads, lrs=None):
    """Feed each step's gradients (as copies) and optionally set param_groups' lr first."""
    for t, gs in enumerate(grads):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_reference(name, kw, dtype):
    steps = 5
    init, grads = make_problem(dtype, steps)
    params = [P(x.copy()) for x in init]
    arrays = [p.data for p in params]
    opt = getattr(optim, name)(params, **kw)
    lrs = [kw["lr"]] * 3 + [kw["lr"] * 0.5] * (steps - 3)   # lr changed through param_groups
    for t, gs in enumerate(grads):
        opt.param_groups[0]["lr"] = lrs[t]
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()
        for p, g in zip(params, gs):                # the caller's gradient is never modified
            np.testing.assert_array_equal(p.grad, g)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for i, p in enumerate(params):
        assert p.data is arrays[i] and p.data.dtype == dtype and p.data.flags.c_contiguous
        want = reference(name, kw, init[i], [gs[i] for gs in grads], lrs)
        np.testing.assert_allclose(p.data, want, **tol)
    for st in opt.state.values():                   # state buffers live in the parameter dtype
        for val in st.values():
            if isinstance(val, np.ndarray):
                assert val.dtype == dtype and val.flags.c_contiguous


# ---------------------------------------------------------------- vs PyTorch
def torch_pair(name, kw, dtype, steps, seed=1, shapes=SHAPES):
    torch = pytest.importorskip("torch")
    init, grads = make_problem(dtype, steps, seed, shapes)
    params = [P(x.copy()) for x in init]
    tparams = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    return torch, init, grads, params, tparams


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_torch(name, kw, dtype):
    steps = 10
    torch, init, grads, params, tparams = torch_pair(name, kw, dtype, steps)
    opt = getattr(optim, name)(params, **kw)
    topt = getattr(torch.optim, name)(tparams, foreach=False, **kw)
    lrs = [kw["lr"] * 0.8 ** t for t in range(steps)]   # a schedule, written into param_groups
    for t, gs in enumerate(grads):
        for o in (opt, topt):
            o.param_groups[0]["lr"] = lrs[t]
        for p, tp, g in zip(params, tparams, gs):
            p.grad = g.copy()
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), **tol)


def test_param_groups_and_none_grads_match_torch():
    """Two groups with different hyperparameters; some params have no gradient on some steps."""
    steps = 6
    torch, init, grads, params, tparams = torch_pair("Adam", {}, np.float64, steps, seed=2)
    def groups(ps):
        return [{"params": ps[:2], "lr": 0.02, "amsgrad": True},
                {"params": ps[2:], "weight_decay": 0.1, "betas": (0.7, 0.95)}]
    opt = optim.Adam(groups(params), lr=0.05)
    topt = torch.optim.Adam(groups(tparams), lr=0.05, foreach=False)
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[1]["lr"] == 0.05
    assert opt.param_groups[1]["betas"] == (0.7, 0.95) and opt.param_groups[0]["betas"] == (0.9, 0.999)
    for t, gs in enumerate(grads):
        for i, (p, tp, g) in enumerate(zip(params, tparams, gs)):
            missing = (i == 0 and t < 3) or (i == 1 and t % 2 == 1)
            p.grad = None if missing else g.copy()
            tp.grad = None if missing else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        if t < 3:
            assert params[0] not in opt.state and np.array_equal(params[0].data, init[0])
    assert opt.state[params[0]]["step"] == steps - 3 and opt.state[params[1]]["step"] == steps // 2
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_none_grad_param_untouched(name):
    init, grads = make_problem(np.float64, 3)
    params = [P(x.copy()) for x in init]
    opt = getattr(optim, name)(params, lr=0.1, weight_decay=0.1)
    for gs in grads:
        params[0].grad = None
        for p, g in zip(params[1:], gs[1:]):
            p.grad = g.copy()
        opt.step()
    np.testing.assert_array_equal(params[0].data, init[0])
    assert params[0] not in opt.state
    assert not np.array_equal(params[1].data, init[1])


# ---------------------------------------------------------------- state_dict
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip(name, kw):
    init, grads = make_problem(np.float32, 6, seed=3)
    pa = [P(x.copy()) for x in init]
    a = getattr(optim, name)([{"params": pa[:2]}, {"params": pa[2:], "weight_decay": 0.2}], **kw)
    run(a, pa, grads[:3])
    sd = a.state_dict()
    saved = {i: {k: np.copy(v) for k, v in st.items()} for i, st in sd["state"].items()}

    pb = [P(p.data.copy()) for p in pa]
    lr_b = kw["lr"] * 3                                   # different hyperparameters before load
    b = getattr(optim, name)([{"params": pb[:2]}, {"params": pb[2:]}], **dict(kw, lr=lr_b))
    b.load_state_dict(sd)
    assert b.param_groups[0]["lr"] == kw["lr"] and b.param_groups[1]["weight_decay"] == 0.2
    assert b.param_groups[0]["params"][0] is pb[0]
    for st in sd["state"].values():                       # the loaded arrays are copies
        for v in st.values():
            if isinstance(v, np.ndarray):
                v.fill(np.nan)
    run(a, pa, grads[3:])
    run(b, pb, grads[3:])
    for p, q in zip(pa, pb):
        np.testing.assert_array_equal(p.data, q.data)
    sd2 = a.state_dict()                                  # state_dict returned copies too
    for i, st in saved.items():
        assert sd2["state"][i].keys() == st.keys()
    if name != "SGD" or kw.get("momentum"):
        assert any(not np.array_equal(saved[i][k], sd2["state"][i][k], equal_nan=True)
                   for i in saved for k in saved[i])


def test_state_dict_layout():
    init, grads = make_problem(np.float64, 2)
    params = [P(x.copy()) for x in init]
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], amsgrad=True)
    params[1].grad = None
    for p, g in zip([params[0]] + params[2:], [grads[0][0]] + grads[0][2:]):
        p.grad = g
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2, 3]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["amsgrad"] is True
    assert list(sd["state"]) == [0, 2, 3]                 # parameter 1 had no gradient yet
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 1
    assert sd["state"][0]["exp_avg"] is not opt.state[params[0]]["exp_avg"]


def _loaded_opt():
    init, grads = make_problem(np.float64, 1)
    params = [P(x.copy()) for x in init]
    opt = optim.Adam(params, lr=0.1)
    run(opt, params, grads)
    return opt, params


@pytest.mark.parametrize("mutate, match", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "group 0 has 3 parameters"),
    (lambda sd: sd["state"][0].__setitem__("exp_avg", np.zeros((4, 3))), r"shape \(4, 3\)"),
    (lambda sd: sd["state"].__setitem__(9, {"step": 1}), "index 9"),
    (lambda sd: sd.pop("state"), "keys 'state' and 'param_groups'"),
    (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "Invalid learning rate"),
])
def test_load_state_dict_errors(mutate, match):
    src, _ = _loaded_opt()
    sd = src.state_dict()
    mutate(sd)
    dst, _ = _loaded_opt()
    before = dst.state_dict()
    with pytest.raises(ValueError, match=match):
        dst.load_state_dict(sd)
    after = dst.state_dict()                              # a failed load changes nothing
    assert after["param_groups"] == before["param_groups"]
    for i in before["state"]:
        for k, v in before["state"][i].items():
            np.testing.assert_array_equal(after["state"][i][k], v)


def _load_into_fresh(name, mutate, **kw):
    """Step an optimizer once, mutate its state_dict, load it into a second one; returns
    (second optimizer, its state_dict before the load)."""
    def make():
        params = [P(np.ones((2, 3))), P(np.ones(4))]
        opt = getattr(optim, name)(params, **dict(dict(lr=0.1), **kw))
        for p in params:
            p.grad = np.full_like(p.data, 0.5)
        opt.step()
        return opt
    sd = make().state_dict()
    mutate(sd)
    dst = make()
    return dst, sd


def _set(key, value, index=0):
    return lambda sd: sd["state"][index].__setitem__(key, value)


@pytest.mark.parametrize("name, kw, mutate, exc, match", [
    ("Adam", {}, lambda sd: sd["state"][0].pop("exp_avg"), ValueError, "index 0 lacks 'exp_avg'"),
    ("Adam", {}, lambda sd: sd["state"][1].pop("step"), ValueError, "index 1 lacks 'step'"),
    ("RMSprop", {}, lambda sd: sd["state"][0].pop("square_avg"), ValueError, "lacks 'square_avg'"),
    ("Adagrad", {}, lambda sd: sd["state"][0].pop("sum"), ValueError, "lacks 'sum'"),
    ("Adam", {}, _set("step", "3"), TypeError, "'step' must be a non-negative integer, got str '3'"),
    ("Adam", {}, _set("step", -1), ValueError, "'step' must be a non-negative integer, got -1"),
    ("Adagrad", {}, _set("step", 2.5), ValueError, "got 2.5"),
    ("RMSprop", {}, _set("step", True), TypeError, "got bool True"),
    ("Adam", {}, _set("exp_avg", np.ones((2, 3), complex)), TypeError, "'exp_avg' has dtype complex128"),
    ("Adam", {}, _set("exp_avg_sq", np.array([[None] * 3] * 2)), TypeError, "'exp_avg_sq' has dtype object"),
    ("Adagrad", {}, _set("sum", np.ones((2, 3), bool)), TypeError, "'sum' has dtype bool"),
    ("Adam", {}, _set("exp_avg", [[0.0] * 3] * 2), TypeError, "'exp_avg' must be a NumPy array, got list"),
    ("SGD", dict(momentum=0.9), _set("momentum_buffer", np.ones(4)), ValueError,
     r"'momentum_buffer' has shape \(4,\), but the parameter has shape \(2, 3\)"),
    ("Adam", {}, _set("foo", 1), ValueError, "unknown key\\(s\\) 'foo' for Adam"),
    ("Adam", {}, lambda sd: sd["state"].__setitem__(0, 3), TypeError, "index 0 must be a dict, got int"),
    ("Adam", {}, lambda sd: sd["param_groups"][0].__setitem__("params", ["0", 1]), TypeError,
     "parameter index '0' of type str"),
    ("Adam", {}, lambda sd: sd["param_groups"][0].__setitem__("params", [1, 1]), ValueError,
     "parameter index 1 more than once"),
    ("Adam", {}, lambda sd: sd["param_groups"][0].__setitem__("maximize", True), ValueError, "maximize=True"),
    ("Adam", {}, lambda sd: sd["param_groups"][0].__setitem__("betas", (0.9, "x")), TypeError,
     "index 1 must be a real number, got str 'x'"),
    ("Adam", {}, lambda sd: sd["param_groups"][0].__setitem__("amsgrad", "yes"), TypeError,
     "amsgrad must be a bool, got str 'yes'"),
    ("Adam", {}, lambda sd: sd.__setitem__("param_groups", 3), TypeError, "list of dicts, got int"),
    ("Adam", {}, lambda sd: sd["param_groups"].__setitem__(0, 3), TypeError, "group 0 must be a dict"),
    ("Adam", {}, lambda sd: sd.__setitem__("state", []), TypeError, r"state_dict\['state'\] must be a dict"),
])
def test_load_state_dict_validates_everything_before_changing_anything(name, kw, mutate, exc, match):
    dst, sd = _load_into_fresh(name, mutate, **kw)
    before = dst.state_dict()
    with pytest.raises(exc, match=match):
        dst.load_state_dict(sd)
    after = dst.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, st in before["state"].items():
        for k, v in st.items():
            np.testing.assert_array_equal(after["state"][i][k], v)


def test_load_state_dict_accepts_pytorch_forms():
    """PyTorch keeps 'step' as a 0-d float tensor and SGD's momentum_buffer as None when unused;
    an empty state (a parameter not stepped yet) loads as no state."""
    dst, sd = _load_into_fresh("Adam", _set("step", np.array(1.0, np.float32)))
    dst.load_state_dict(sd)
    assert type(dst.state_dict()["state"][0]["step"]) is int
    dst, sd = _load_into_fresh("SGD", _set("momentum_buffer", None))
    dst.load_state_dict(sd)
    assert 0 not in dst.state_dict()["state"] or dst.state_dict()["state"][0] == {}
    dst, sd = _load_into_fresh("Adagrad", _set("sum", np.ones((2, 3), np.int64)))   # cast
    dst.load_state_dict(sd)
    assert dst.state_dict()["state"][0]["sum"].dtype == np.float64


@pytest.mark.parametrize("name, kw", [("SGD", dict(momentum=0.9)), ("Adam", {}),
                                      ("RMSprop", dict(centered=True)), ("Adagrad", {})])
@pytest.mark.parametrize("new_data, match", [
    (np.ones(1), r"is float64\[3\] but the parameter is now float64\[1\]"),
    (np.ones(3, np.float32), r"is float64\[3\] but the parameter is now float32\[3\]"),
])
def test_step_rejects_state_that_no_longer_fits_a_replaced_parameter(name, kw, new_data, match):
    p, q = P(np.ones(3), np.ones(3)), P(np.ones(2), np.ones(2))
    opt = getattr(optim, name)([q, p], **dict(dict(lr=0.1), **kw))
    opt.step()
    q_before = q.data.copy()
    p.data, p.grad = new_data, np.ones_like(new_data)
    with pytest.raises(ValueError, match="param group 0, parameter 1: optimizer state .*" + match):
        opt.step()
    np.testing.assert_array_equal(q.data, q_before)           # nothing was updated


@pytest.mark.parametrize("key, value, exc, match", [
    ("lr", float("nan"), ValueError, "param group 0: Invalid learning rate: nan"),
    ("lr", "0.1", TypeError, "param group 0: lr must be a real number, got str '0.1'"),
    ("weight_decay", -1.0, ValueError, "Invalid weight_decay value: -1.0"),
])
def test_step_rechecks_hyperparameters_written_into_param_groups(key, value, exc, match):
    p = P(np.ones(3), np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    opt.param_groups[0][key] = value
    with pytest.raises(exc, match=match):
        opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3))


# ---------------------------------------------------------------- lr, zero_grad, closure
def test_lr_change_takes_effect_next_step():
    w0, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    p = P(w0.copy(), g.copy())
    opt = optim.SGD([p], lr=0.1)
    opt.param_groups[0]["lr"] = 0.0
    opt.step()
    np.testing.assert_array_equal(p.data, w0)
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_array_equal(p.data, w0 - 0.5 * g)


def test_zero_grad_and_closure():
    a, b = P(np.ones(3), np.ones(3)), P(np.ones(2))
    opt = optim.SGD([a, b], lr=1.0)
    assert opt.step(closure=lambda: 42.0) == 42.0 and opt.step() is None
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g and not g.any() and b.grad is None
    opt.zero_grad()
    assert a.grad is None and b.grad is None


# ---------------------------------------------------------------- validation
def _p(shape=(2,), dtype=np.float64):
    return P(np.zeros(shape, dtype))


class _Module:
    """Anything with .parameters(): a module passed where its parameters were meant."""

    def parameters(self):
        return iter([_p()])


@pytest.mark.parametrize("make, exc, match", [
    (lambda: optim.SGD([_p()], lr=-0.1), ValueError, "Invalid learning rate"),
    (lambda: optim.SGD([_p()], lr=float("nan")), ValueError, "Invalid learning rate"),
    (lambda: optim.SGD([_p()], lr="0.1"), TypeError, "lr must be a real number"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=-1), ValueError, "Invalid momentum"),
    (lambda: optim.SGD([_p()], lr=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.Adam([_p()], betas=(1.0, 0.999)), ValueError, "beta parameter at index 0"),
    (lambda: optim.AdamW([_p()], betas=(0.9, -0.1)), ValueError, "beta parameter at index 1"),
    (lambda: optim.Adam([_p()], eps=-1e-8), ValueError, "Invalid epsilon"),
    (lambda: optim.Adam([_p()], weight_decay=-1), ValueError, "Invalid weight_decay"),
    (lambda: optim.RMSprop([_p()], alpha=-0.5), ValueError, "Invalid alpha"),
    (lambda: optim.RMSprop([_p()], eps=-1), ValueError, "Invalid epsilon"),
    (lambda: optim.Adagrad([_p()], lr_decay=-1), ValueError, "Invalid lr_decay"),
    (lambda: optim.Adagrad([_p()], eps=-1), ValueError, "Invalid epsilon"),
    (lambda: optim.Adam([{"params": [_p()], "lr": -1}]), ValueError, "Invalid learning rate"),
    (lambda: optim.Adam([]), ValueError, "empty parameter list"),
    (lambda: optim.Adam([{"params": []}]), ValueError, "empty parameter list"),
    (lambda: optim.Adam(_p()), TypeError, "iterable"),
    (lambda: optim.Adam({_p()}), TypeError, "ordered"),
    (lambda: optim.Adam([_p(), {"params": [_p()]}]), TypeError, "not a mix"),
    (lambda: optim.Adam([P(np.zeros(2, np.int64))]), TypeError, "float32/float64.*int64"),
    (lambda: optim.Adam([P([1.0, 2.0])]), TypeError, "NumPy array"),
    (lambda: optim.Adam(None), TypeError, "iterable of parameters or dicts, but got NoneType None"),
    (lambda: optim.Adam(3), TypeError, "but got int 3"),
    (lambda: optim.Adam("abc"), TypeError, "but got str 'abc'"),
    (lambda: optim.Adam(_Module()), TypeError, r"but got _Module .*pass model.parameters\(\)"),
    (lambda: optim.Adam([_Module()]), TypeError, r"parameter 0: .*got _Module.*pass model.parameters\(\)"),
    (lambda: optim.Adam([_p()], lr=float("inf")), ValueError, "Invalid learning rate: inf"),
    (lambda: optim.SGD([_p()], lr=None), TypeError, "lr must be a real number, got NoneType None"),
    (lambda: optim.Adam([_p()], betas=0.9), TypeError, r"betas must be a pair .*got float 0.9"),
    (lambda: optim.Adam([_p()], betas=(0.9, 0.99, 0.5)), TypeError, r"got tuple \(0.9, 0.99, 0.5\)"),
    (lambda: optim.Adam([_p()], betas=("0.9", 0.99)), TypeError, "index 0 must be a real number, got str '0.9'"),
    (lambda: optim.Adam([_p()], betas=(0.9, float("nan"))), ValueError, "beta parameter at index 1: nan"),
    (lambda: optim.Adam([_p()], amsgrad="yes"), TypeError, "amsgrad must be a bool, got str 'yes'"),
    (lambda: optim.SGD([_p()], lr=0.1, momentum=0.9, nesterov=1), TypeError, "nesterov must be a bool, got int 1"),
    (lambda: optim.RMSprop([_p()], centered="no"), TypeError, "centered must be a bool, got str 'no'"),
    (lambda: optim.RMSprop([_p()], alpha=1.5), ValueError, r"Invalid alpha value: 1.5 \(must be in \[0, 1\]"),
    (lambda: optim.RMSprop([_p()], momentum=float("inf")), ValueError, "Invalid momentum value: inf"),
    (lambda: optim.Adagrad([_p()], initial_accumulator_value=-1), ValueError,
     "Invalid initial_accumulator_value value: -1"),
    (lambda: optim.SGD([_p()], lr=0.1).add_param_group({"params": [_p()], "lr": "x"}), TypeError,
     "lr must be a real number, got str 'x'"),
    (lambda: optim.SGD([_p()], lr=0.1).step(closure=3), TypeError, "closure must be callable or None, got int 3"),
    (lambda: optim.SGD([_p()], lr=0.1).zero_grad(set_to_none="no"), TypeError,
     "set_to_none must be a bool, got str 'no'"),
])
def test_validation_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_duplicate_parameters_rejected():
    p, q = _p(), _p()
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [q, p]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [p]})
    opt.add_param_group({"params": [q], "lr": 0.2})
    assert opt.param_groups[1]["lr"] == 0.2 and opt.param_groups[1]["momentum"] == 0


def test_bad_gradients_rejected_before_any_update():
    a, b = P(np.ones(3), np.ones(3)), P(np.ones(2), np.ones(3))
    opt = optim.Adam([a, b], lr=0.1)
    with pytest.raises(ValueError, match=r"gradient shape \(3,\) does not match parameter shape \(2,\)"):
        opt.step()
    np.testing.assert_array_equal(a.data, np.ones(3))     # the valid first parameter is untouched
    assert len(opt.state) == 0
    b.grad = np.ones(2, np.float32)
    with pytest.raises(TypeError, match="gradient dtype float32 does not match parameter dtype float64"):
        opt.step()


# ----------------------------------------------------------------------------- fused Adam kernel
def _adam_numpy(w, m, v, vmax, g, c1, beta2, c2, step_size, bc2_sqrt, eps):
    """The update as separate NumPy operations, each rounded to the dtype (csrc/optim.h's order)."""
    m += (g - m) * c1
    v *= beta2
    v += (g * g) * c2
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    denom = np.sqrt(v)
    denom /= bc2_sqrt
    denom += eps
    w -= (m / denom) * step_size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 16385, 70001])   # chunk edges; 70001 runs on 2 threads
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_kernel_is_the_numpy_sequence_bit_for_bit(n, dtype, amsgrad):
    from minigrad import kernels as K
    rng = np.random.default_rng(n)
    w, m, g = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    v = rng.random(n).astype(dtype)
    vmax = rng.random(n).astype(dtype) if amsgrad else None
    kw = dict(c1=1 - 0.9, beta2=0.999, c2=1 - 0.999, step_size=1e-3 / (1 - 0.9 ** 3),
              bc2_sqrt=(1 - 0.999 ** 3) ** 0.5, eps=1e-8)
    ref = [a.copy() if a is not None else None for a in (w, m, v, vmax)]
    _adam_numpy(*ref, g, **kw)
    K.adam_update(w, m, v, g, vmax, **kw)
    for got, want in zip((w, m, v, vmax), ref):
        if want is not None:
            np.testing.assert_array_equal(got, want)


def test_adam_kernel_same_bits_on_one_and_two_threads():
    import minigrad as mg
    from minigrad import kernels as K
    rng = np.random.default_rng(5)
    base = [rng.standard_normal(200003) for _ in range(3)] + [rng.random(200003)]
    kw = dict(c1=0.1, beta2=0.99, c2=0.01, step_size=0.3, bc2_sqrt=0.5, eps=1e-6)
    out, old = [], mg.get_num_threads()
    try:
        for nt in (1, 2):
            mg.set_num_threads(nt)
            w, m, g, v = (a.copy() for a in base)
            K.adam_update(w, m, v, g, **kw)
            out.append((w, m, v))
    finally:
        mg.set_num_threads(old)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_adam_kernel_rejects_bad_arrays():
    from minigrad import kernels as K
    kw = dict(c1=0.1, beta2=0.99, c2=0.01, step_size=0.3, bc2_sqrt=0.5, eps=1e-6)
    a = lambda n=4, dt=np.float32: np.zeros(n, dt)
    with pytest.raises(TypeError, match="dtype"):
        K.adam_update(a(), a(), a(dt=np.float64), a(), **kw)
    with pytest.raises(ValueError, match="shape"):
        K.adam_update(a(), a(), a(5), a(), **kw)
    with pytest.raises(ValueError, match="distinct"):
        w = a()
        K.adam_update(w, w, a(), a(), **kw)
    with pytest.raises(ValueError, match="C-contiguous"):
        K.adam_update(a(8)[::2], a(), a(), a(), **kw)
    with pytest.raises(TypeError, match="ndarray"):
        K.adam_update([0.0] * 4, a(), a(), a(), **kw)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_updates_non_contiguous_parameters_in_place(name):
    """The fused kernel needs C-contiguous arrays: a strided parameter (and gradient) is updated
    through a contiguous copy that is written back, giving the contiguous parameter's numbers."""
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((4, 6))
    grads = [rng.standard_normal((4, 6)) for _ in range(3)]
    plain, strided = P(w0.copy()), P(np.asfortranarray(w0))
    view = strided.data
    for p in (plain, strided):
        opt = getattr(optim, name)([p], lr=0.1, weight_decay=0.01, amsgrad=True)
        for g in grads:
            p.grad = np.asfortranarray(g) if p is strided else g
            opt.step()
    assert strided.data is view                                   # updated in place
    np.testing.assert_array_equal(strided.data, plain.data)


# ---------------------------------------------------------------- load_state_dict under random damage
_FUZZ_CONFIGS = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.1, amsgrad=True),
                 "RMSprop": dict(lr=0.1, momentum=0.5, centered=True), "Adagrad": dict(lr=0.1)}
_STATE_KEYS = ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "momentum_buffer",
               "grad_avg", "sum", "foo"]
_GROUP_KEYS = ["lr", "eps", "betas", "weight_decay", "momentum", "alpha", "params", "amsgrad", "nesterov",
               "centered", "dampening", "lr_decay", "maximize"]


def test_load_state_dict_with_any_damaged_entry_loads_cleanly_or_raises_and_changes_nothing():
    """One entry of a valid state dict replaced by an arbitrary value (numbers of every kind,
    strings, None, lists, arrays of every dtype and of wrong shapes): the load either succeeds and
    the next step() runs, or raises TypeError/ValueError and leaves the optimizer as it was."""
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies
    arrays = st.builds(lambda shape, dt: np.zeros(shape, dt),
                       st.sampled_from([(), (2, 3), (3, 2), (4,), (0,)]),
                       st.sampled_from(["f4", "f8", "i8", "u1", "c16", "O", "?", "U1"]))
    values = st.one_of(st.none(), st.booleans(), st.integers(-3, 10 ** 20), st.floats(), st.text(max_size=3),
                       st.lists(st.floats(), max_size=3), st.tuples(st.floats(), st.floats()), arrays)

    @hyp.settings(max_examples=200, deadline=None, database=None)
    @hyp.given(name=st.sampled_from(sorted(_FUZZ_CONFIGS)), in_state=st.booleans(),
               key=st.sampled_from(_STATE_KEYS + _GROUP_KEYS), value=values)
    def check(name, in_state, key, value):
        dst, sd = _load_into_fresh(name, lambda sd: None, **_FUZZ_CONFIGS[name])
        (sd["state"][0] if in_state else sd["param_groups"][0])[key] = value
        before = dst.state_dict()
        try:
            dst.load_state_dict(sd)
        except (TypeError, ValueError):
            after = dst.state_dict()
            assert after["param_groups"] == before["param_groups"]
            for i, s in before["state"].items():
                assert after["state"][i].keys() == s.keys()
                for k, v in s.items():
                    np.testing.assert_array_equal(after["state"][i][k], v)
            return
        for group in dst.param_groups:
            for p in group["params"]:
                p.grad = np.full_like(p.data, 0.5)
        with np.errstate(all="ignore"):          # huge accepted hyperparameters may overflow
            dst.step()

    check()
