"""Containers, buffers, the plain-list warning and activation modules: registration and names as
PyTorch's (state-dict keys compared with PyTorch's when it is installed)."""
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

rng = np.random.default_rng(5)


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Linear(3, 2)})
        self.scales = nn.ParameterList([nn.Parameter(np.ones(3, np.float32))])
        self.register_buffer("running", np.zeros(3, np.float32))
        self.register_buffer("scratch", np.zeros(2, np.float32), persistent=False)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x) * self.scales[0]
        return self.heads["b"](x)


EXPECTED = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "heads.a.weight",
            "heads.a.bias", "heads.b.weight", "heads.b.bias", "scales.0", "running"]


def test_containers_register_under_pytorch_names():
    m = Stack()
    assert sorted(m.state_dict()) == sorted(EXPECTED)
    assert len(list(m.parameters())) == 9                     # buffers are not parameters
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert m(np.ones((4, 3), np.float32)).shape == (4, 2)
    m.eval()
    assert not m.layers[1].training and not m.heads["a"].training


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")

    class TStack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 3) for _ in range(2)])
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(3, 1), "b": torch.nn.Linear(3, 2)})
            self.scales = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(3))])
            self.register_buffer("running", torch.zeros(3))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    t = TStack()
    assert list(Stack().state_dict()) == list(t.state_dict())
    m = Stack()
    sd = {k: v.numpy() + 1 for k, v in t.state_dict().items()}
    m.load_state_dict(sd)
    np.testing.assert_array_equal(m.running.data, sd["running"])


def test_buffers_load_convert_and_reassign():
    m = Stack()
    sd = {k: np.full(v.shape, 2.0) for k, v in m.state_dict().items()}
    m.load_state_dict(sd)
    assert (m.running.data == 2).all() and m.running.data.dtype == np.float32
    m.to(np.float64)
    assert m.running.dtype == np.float64 and m.scratch.dtype == np.float64
    m.running = np.arange(3.0)                                 # assignment keeps it a buffer
    assert "running" in m.state_dict() and isinstance(m.running, mg.Tensor)
    with pytest.raises(TypeError, match="cannot assign str as buffer 'running'"):
        m.running = "x"
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("forward", np.zeros(1))
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(KeyError, match="already a parameter"):
        nn.Linear(2, 2).register_buffer("weight", np.zeros(1))
    del m.running
    assert "running" not in m.state_dict()


def test_module_list_operations():
    a, b, c = nn.Linear(1, 1), nn.Tanh(), nn.ReLU()
    ml = nn.ModuleList([a])
    ml.append(b)
    ml += [c]
    assert list(ml) == [a, b, c] and len(ml) == 3 and ml[-1] is c
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Tanh", "ReLU"]
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2"] and ml[0] is a      # indices shift down, as PyTorch
    assert isinstance(ml[1:], nn.ModuleList) and list(ml[1:]) == [b, c]
    ml[1] = nn.Sigmoid()
    assert type(ml[1]).__name__ == "Sigmoid"
    with pytest.raises(IndexError, match="index 5 is out of range for a ModuleList of length 3"):
        ml[5]
    with pytest.raises(TypeError, match="ModuleList expects Modules, element 0 is int"):
        nn.ModuleList([1])
    with pytest.raises(NotImplementedError, match="iterate over it"):
        ml(1)


def test_module_dict_and_parameter_containers():
    md = nn.ModuleDict(OrderedDict([("x", nn.Tanh())]))
    md["y"] = nn.Linear(2, 2)
    assert list(md.keys()) == ["x", "y"] and "y" in md and len(md) == 2
    assert list(dict(md.named_parameters())) == ["y.weight", "y.bias"]
    assert isinstance(md.pop("x"), nn.Tanh) and list(md) == ["y"]
    with pytest.raises(KeyError, match="has no key 'z'"):
        md["z"]
    with pytest.raises(TypeError, match="ModuleDict expects Modules"):
        md["z"] = 3
    pl = nn.ParameterList([mg.tensor(np.ones(2))])          # a plain tensor becomes a Parameter
    assert isinstance(pl[0], nn.Parameter) and pl[0].requires_grad
    pd = nn.ParameterDict({"w": nn.Parameter(np.ones(2, np.float32))})
    assert list(pd.state_dict()) == ["w"] and len(list(pd.parameters())) == 1
    with pytest.raises(TypeError, match="must be a Parameter or a Tensor, got int"):
        pl.append(3)


def test_sequential_from_ordered_dict_and_append():
    s = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.Tanh())]))
    assert list(s.state_dict()) == ["fc.weight", "fc.bias"] and s[1] is s.act
    s.append(nn.Linear(3, 1))
    assert list(s._modules) == ["fc", "act", "2"]


def test_plain_list_of_modules_warns():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]

    with pytest.warns(UserWarning, match=r"Bad.layers is a plain list.*NOT registered.*nn.ModuleList"):
        m = Bad()
    assert list(m.parameters()) == []                           # PyTorch's behaviour, now announced
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Module().sizes = [1, 2, 3]                           # lists of other things stay silent
        s = nn.Sequential(nn.Linear(2, 2))
        s.refs = [s[0], s[0].weight]                            # already registered: no warning


def test_sequential_tuple_output_names_the_fix():
    model = nn.Sequential(nn.GRU(3, 4), nn.Linear(4, 2))
    with pytest.raises(TypeError, match=r"module '0' \(GRU\) returned a tuple of 2 values.*'1' \(Linear\)"):
        model(np.ones((2, 1, 3), np.float32))
    assert nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, 2))(np.ones((2, 1, 3), np.float32))[0].shape == (2, 1, 2)


# ---------------------------------------------------------------------- activation modules
def test_activation_modules_match_functions():
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-15, atol=1e-300)
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-15)
    np.testing.assert_array_equal(nn.Softmax(dim=0)(x).data, F.softmax(x, dim=0).data)
    np.testing.assert_array_equal(nn.LogSoftmax(dim=1)(x).data, F.log_softmax(x, axis=1).data)
    assert nn.Identity(3, k=1)(x) is x
    assert nn.Flatten()(mg.tensor(np.ones((2, 3, 4)))).shape == (2, 12)
    assert nn.Flatten(0, 1)(mg.tensor(np.ones((2, 3, 4)))).shape == (6, 4)
    with pytest.raises(ValueError, match="start_dim 2 comes after end_dim 1"):
        nn.Flatten(2, 1)(mg.tensor(np.ones((2, 3, 4))))
    with pytest.raises(TypeError, match="dim must be an int, got '1'"):
        nn.Softmax(dim="1")
    with pytest.raises(TypeError, match="give dim or axis, not both"):
        F.softmax(x, dim=0, axis=0)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_values_gradcheck_and_torch(approximate):
    from math import erfc
    x = mg.tensor(np.concatenate([rng.standard_normal(20) * 3, [0.0, -8.0, 8.0]]), requires_grad=True,
                  dtype=np.float64)
    if approximate == "none":
        ref = np.array([v * 0.5 * erfc(-v / np.sqrt(2)) for v in x.data])
    else:
        ref = 0.5 * x.data * (1 + np.tanh(np.sqrt(2 / np.pi) * (x.data + 0.044715 * x.data ** 3)))
    # x * (1/sqrt 2) and x / sqrt 2 may differ by one ulp; erfc's condition number 2 z^2 (z <= 5.7
    # here) amplifies that to ~65 eps, hence rtol = 4 * 66 * eps
    rtol = 4 * 66 * np.finfo(np.float64).eps
    np.testing.assert_allclose(nn.GELU(approximate)(x).data, ref, rtol=rtol, atol=1e-300)
    assert mg.gradcheck(lambda a: F.gelu(a, approximate), [x])
    x32 = mg.tensor(x.data.astype(np.float32))
    assert F.gelu(x32, approximate).dtype == np.float32
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x.data, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.sum().backward()
    x.grad = None
    F.gelu(x, approximate).sum().backward()
    # PyTorch forms 1 + erf(x / sqrt 2), which cancels for negative x: an absolute error up to
    # about |x| * eps (|x| <= 9 here), so compare with atol = 16 * 9 * eps
    atol = 16 * 9 * np.finfo(np.float64).eps
    np.testing.assert_allclose(F.gelu(x, approximate).data, yt.detach().numpy(), rtol=1e-13, atol=atol)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-13, atol=atol)


def test_functional_linear_is_nn_linear():
    lin = nn.Linear(3, 2, dtype=np.float64)
    x = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(F.linear(x, lin.weight, lin.bias).data, lin(x).data)
    import minigrad.functional as alias
    assert alias is F and alias.linear is F.linear          # one module under both names
