"""kernels.AdamGroup (one C call for a parameter group's Adam step) and how optim.Adam keeps it:
bitwise the per-parameter kernel, its checks, and a fresh binding whenever an array is replaced."""
import copy
import pickle

import numpy as np
import pytest

import minigrad as mg
from minigrad import kernels as K
from minigrad import optim

SIZES = [0, 1, 7, 16385, 70001]          # zero-size, one, a prime, chunk edges, 2 threads
KW = dict(c1=1 - 0.9, beta2=0.999, c2=1 - 0.999, eps=1e-8)


def _scale(t, lr=1e-3):
    return lr / (1 - 0.9 ** t), (1 - 0.999 ** t) ** 0.5


def _arrays(dtype, amsgrad, seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    ms = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    vs = [rng.random(n).astype(dtype) for n in SIZES]
    vmaxs = [rng.random(n).astype(dtype) for n in SIZES] if amsgrad else None
    gs = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    return ws, ms, vs, vmaxs, gs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_group_step_is_the_per_parameter_kernel_bit_for_bit(dtype, amsgrad):
    ws, ms, vs, vmaxs, gs = _arrays(dtype, amsgrad)
    ref = [[a.copy() for a in arrs] if arrs is not None else None for arrs in (ws, ms, vs, vmaxs)]
    steps = [1, 2, 3, 4, 5]                       # each parameter at its own step
    for k, t in enumerate(steps):
        ss, bc = _scale(t)
        K.adam_update(ref[0][k], ref[1][k], ref[2][k], gs[k], ref[3][k] if amsgrad else None,
                      step_size=ss, bc2_sqrt=bc, **KW)
    group = K.AdamGroup(ws, ms, vs, vmaxs)
    group.step(gs, [_scale(t)[0] for t in steps], [_scale(t)[1] for t in steps], **KW)
    for got, want in zip((ws, ms, vs, vmaxs), ref):
        for a, b in zip(got or (), want or ()):
            np.testing.assert_array_equal(a, b)


def test_group_step_same_bits_on_one_and_two_threads():
    out, old = [], mg.get_num_threads()
    try:
        for nt in (1, 2):
            mg.set_num_threads(nt)
            ws, ms, vs, vmaxs, gs = _arrays(np.float32, True, seed=3)
            K.AdamGroup(ws, ms, vs, vmaxs).step(gs, [0.3] * 5, [0.5] * 5, **KW)
            out.append(ws + ms + vs + vmaxs)
    finally:
        mg.set_num_threads(old)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_group_step_copies_a_strided_gradient():
    ws, ms, vs, _, gs = _arrays(np.float64, False)
    ref = [[a.copy() for a in arrs] for arrs in (ws, ms, vs)]
    K.AdamGroup(ref[0], ref[1], ref[2]).step(gs, [0.1] * 5, [0.2] * 5, **KW)
    strided = [np.repeat(g, 2)[::2] for g in gs]
    K.AdamGroup(ws, ms, vs).step(strided, [0.1] * 5, [0.2] * 5, **KW)
    for got, want in zip(ws + ms + vs, ref[0] + ref[1] + ref[2]):
        np.testing.assert_array_equal(got, want)


def _group(n=4, dtype=np.float32, k=2):
    arrs = [[np.zeros(n, dtype) for _ in range(k)] for _ in range(3)]
    return K.AdamGroup(*arrs), arrs


def test_group_construction_rejects_bad_arrays():
    z = lambda n=4, dt=np.float32: np.zeros(n, dt)
    with pytest.raises(ValueError, match="one array per parameter"):
        K.AdamGroup([z()], [z(), z()], [z()])
    with pytest.raises(ValueError, match="at least one"):
        K.AdamGroup([], [], [])
    with pytest.raises(TypeError, match=r"w\[1\] has dtype float64.*w\[0\]"):
        K.AdamGroup([z(), z(dt=np.float64)], [z(), z()], [z(), z()])
    with pytest.raises(ValueError, match=r"m\[0\] has shape \(5,\), expected \(4,\)"):
        K.AdamGroup([z()], [z(5)], [z()])
    with pytest.raises(ValueError, match=r"v\[0\].*C-contiguous"):
        K.AdamGroup([z()], [z()], [z(8)[::2]])
    w = z(8)
    with pytest.raises(ValueError, match="overlap"):              # m of one is w of the other
        K.AdamGroup([w[:4], z()], [z(), w[2:6]], [z(), z()])
    ro = z()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.AdamGroup([ro], [z()], [z()])


def test_group_step_rejects_bad_gradients_before_any_update():
    group, (ws, ms, vs) = _group()
    g = [np.ones(4, np.float32), np.ones(4, np.float32)]
    with pytest.raises(ValueError, match="expected 2 gradients"):
        group.step(g[:1], [0.1], [0.1], **KW)
    with pytest.raises(TypeError, match=r"g\[1\] has dtype float64.*w\[1\]"):
        group.step([g[0], np.ones(4)], [0.1] * 2, [0.1] * 2, **KW)
    with pytest.raises(ValueError, match=r"g\[1\] has shape \(3,\), w\[1\] has \(4,\)"):
        group.step([g[0], np.ones(3, np.float32)], [0.1] * 2, [0.1] * 2, **KW)
    with pytest.raises(TypeError, match="ndarray"):
        group.step([g[0], [1.0] * 4], [0.1] * 2, [0.1] * 2, **KW)
    with pytest.raises(ValueError, match=r"output m\[0\] overlaps input g\[1\]"):
        group.step([g[0], ms[0]], [0.1] * 2, [0.1] * 2, **KW)
    with pytest.raises(ValueError, match=r"step_sizes\[1\] must be finite"):
        group.step(g, [0.1, float("nan")], [0.1] * 2, **KW)
    with pytest.raises(ValueError, match="eps must be finite"):
        group.step(g, [0.1] * 2, [0.1] * 2, **dict(KW, eps=float("inf")))
    for a in ws + ms + vs:                                            # nothing was written
        np.testing.assert_array_equal(a, 0)


def test_bound_is_identity():
    group, (ws, ms, vs) = _group()
    assert group.bound(ws, ms, vs)
    assert not group.bound(ws, ms, [vs[0], vs[1].copy()])
    assert not group.bound(ws[:1], ms[:1], vs[:1])
    assert not group.bound(ws, ms[:1], vs)                           # a list one short
    assert not group.bound(ws, ms, vs, [np.zeros(4, np.float32)] * 2)


# ----------------------------------------------------------------------------- through optim.Adam
class P:
    def __init__(self, data):
        self.data, self.grad, self.requires_grad = data, None, True


def _train(opt_of, params, grads_per_step, between=None):
    """Step ``opt_of(params)`` through the gradients; ``between(i, opt, params)`` may return a new
    (opt, params) pair to continue with."""
    opt = opt_of(params)
    for i, grads in enumerate(grads_per_step):
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        if between is not None:
            opt, params = between(i, opt, params) or (opt, params)
    return [p.data for p in params]


def _problem(seed=0, steps=4):
    rng = np.random.default_rng(seed)
    shapes = [(3, 5), (7,), ()]
    w0 = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    return w0, grads


@pytest.mark.parametrize("between", ["replace_data", "load_state", "deepcopy", "pickle", "grad_subset"])
def test_adam_rebinds_when_arrays_change(between):
    """Replacing a parameter's array, loading a state dict, copying or pickling the optimizer, or
    a step in which some parameters have no gradient: the group is bound again and the numbers
    are those of per-parameter updates (the NumPy-free reference: each parameter alone)."""
    w0, grads = _problem()
    if between == "grad_subset":
        grads[1][1] = None
    make = lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01)

    def hook(i, opt, params):
        if i != 1:
            return None
        if between == "replace_data":
            params[0].data = params[0].data.copy()
        elif between == "load_state":
            opt.load_state_dict(opt.state_dict())
        elif between == "deepcopy":                 # the copy steps its own copies of the params
            return copy.deepcopy((opt, params))
        elif between == "pickle":
            return pickle.loads(pickle.dumps((opt, params)))
        return None

    got = _train(make, [P(w.copy()) for w in w0], grads, hook)
    # reference: every parameter in its own optimizer (groups of one) -- the same per-parameter
    # arithmetic, bound separately
    want = []
    for j, w in enumerate(w0):
        want += _train(make, [P(w.copy())], [[g[j]] for g in grads])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_adam_group_of_mixed_dtypes_and_a_strided_parameter():
    rng = np.random.default_rng(2)
    w32, w64 = rng.standard_normal(5).astype(np.float32), rng.standard_normal((4, 6))
    strided = np.asfortranarray(rng.standard_normal((3, 4)))
    params = [P(w32.copy()), P(w64.copy()), P(strided.copy(order="F"))]
    grads = [[rng.standard_normal(p.data.shape).astype(p.data.dtype) for p in params] for _ in range(3)]
    got = _train(lambda ps: optim.Adam(ps, lr=0.1), params, grads)
    for j, p0 in enumerate((w32, w64, strided)):
        alone = _train(lambda ps: optim.Adam(ps, lr=0.1), [P(np.ascontiguousarray(p0))],
                       [[g[j]] for g in grads])[0]
        np.testing.assert_array_equal(got[j], alone)
    assert params[2].data.flags.f_contiguous                          # updated in place


def test_adam_reports_a_read_only_parameter_clearly():
    for data in (np.ones(3), np.array(2.0)):                         # a vector and a 0-d parameter
        data.flags.writeable = False
        p = P(data)
        p.grad = np.ones_like(data)
        with pytest.raises(ValueError, match="read-only"):
            optim.Adam([p], lr=0.1).step()


def test_adam_lets_go_of_a_removed_groups_arrays():
    """A param group taken out of ``param_groups`` leaves no binding behind once a new one is made
    (the binding holds its parameters' arrays)."""
    import gc
    import weakref
    rng = np.random.default_rng(3)
    a, b, c = (P(rng.standard_normal(4)) for _ in range(3))
    opt = optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    for p in (a, b, c):
        p.grad = rng.standard_normal(4)
    opt.step()
    removed = opt.param_groups.pop(1)
    binding = weakref.ref(opt._bound[(id(removed), np.dtype(np.float64))])
    del removed
    opt.add_param_group({"params": [c]})
    opt.step()                                          # binds the new group: the old one goes
    gc.collect()
    assert binding() is None
    assert len(opt._bound) == 2
