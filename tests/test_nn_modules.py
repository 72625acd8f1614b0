"""The module system (nn.Module / Parameter) and the basic layers (Linear, Embedding, Dropout,
Sequential): naming, state dicts, modes, repr, dtype conversion; layers against NumPy, finite
differences and PyTorch when it is installed. (PyTorch LSTM state_dicts: tests/test_rnn_layers.py.)"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn


def t64(a, requires_grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad, dtype=np.float64)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 3)
        self.rnn = nn.LSTM(3, 4)
        self.scale = nn.Parameter(np.ones(4, np.float32))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))

    def forward(self, idx):
        out, _ = self.encoder.rnn(self.encoder.embed(idx))
        return self.head(out * self.encoder.scale)


# a module's own parameters come before its children's (PyTorch's order, checked below)
MODEL_NAMES = ["encoder.scale", "encoder.embed.weight", "encoder.rnn.weight_ih_l0", "encoder.rnn.weight_hh_l0",
               "encoder.rnn.bias_ih_l0", "encoder.rnn.bias_hh_l0",
               "head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"]


class Tied(nn.Module):
    """A language-model head tied to its embedding, and one shared sub-module."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight
        self.proj = nn.Linear(3, 3)
        self.proj_again = self.proj


# ---------------------------------------------------------------------- naming and the tree
def test_named_parameters_order_and_nested_names():
    m = Model()
    assert [n for n, _ in m.named_parameters()] == MODEL_NAMES
    assert list(m.state_dict()) == MODEL_NAMES
    assert [p for p in m.parameters()] == [p for _, p in m.named_parameters()]
    assert m.encoder.rnn.weight_hh_l0 is dict(m.named_parameters())["encoder.rnn.weight_hh_l0"]
    assert m.state_dict()["head.2.bias"] is m.head[2].bias.data          # the array, not a copy
    assert [n for n, _ in m.encoder.named_parameters(prefix="enc")][:2] == ["enc.scale", "enc.embed.weight"]
    assert [n for n, _ in m.encoder.named_parameters(recurse=False)] == ["scale"]
    assert m.num_parameters() == sum(p.data.size for p in m.parameters())


def test_parameter_order_matches_pytorch():
    torch = pytest.importorskip("torch")

    class TEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(7, 3)
            self.rnn = torch.nn.LSTM(3, 4)
            self.scale = torch.nn.Parameter(torch.ones(4))

    class TModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = TEncoder()
            self.head = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2))

    tm = TModel()
    assert [n for n, _ in tm.named_parameters()] == MODEL_NAMES
    assert list(tm.state_dict()) == MODEL_NAMES
    m = Model()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    np.testing.assert_array_equal(m.encoder.rnn.weight_hh_l0.data, tm.encoder.rnn.weight_hh_l0.detach().numpy())


def test_children_and_named_modules():
    m = Model()
    assert [type(c).__name__ for c in m.children()] == ["Encoder", "Sequential"]
    assert [n for n, _ in m.named_children()] == ["encoder", "head"]
    names = [n for n, _ in m.named_modules()]
    assert names == ["", "encoder", "encoder.embed", "encoder.rnn", "head", "head.0", "head.1", "head.2"]
    assert next(iter(m.modules())) is m


def test_shared_parameters_and_modules_are_listed_once():
    m = Tied()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["embed.weight", "proj.weight", "proj.bias"]
    assert len(list(m.parameters())) == 3
    assert [n for n, _ in m.named_modules()] == ["", "embed", "out", "proj"]
    all_names = [n for n, _ in m.named_parameters(remove_duplicate=False)]
    assert all_names == ["embed.weight", "out.weight", "proj.weight", "proj.bias",
                         "proj_again.weight", "proj_again.bias"]


def test_state_dict_of_tied_weights_keeps_every_name_and_round_trips():
    """PyTorch's state_dict lists a tied weight under each name; loading one must accept that."""
    a, b = Tied(), Tied()
    sd = a.state_dict()
    assert list(sd) == ["embed.weight", "out.weight", "proj.weight", "proj.bias",
                        "proj_again.weight", "proj_again.bias"]
    assert sd["out.weight"] is sd["embed.weight"]
    assert b.load_state_dict({k: v.copy() for k, v in sd.items()}) == ([], [])
    assert b.out.weight is b.embed.weight                      # still tied after loading
    np.testing.assert_array_equal(b.out.weight.data, a.embed.weight.data)


def test_tied_pytorch_state_dict_loads():
    torch = pytest.importorskip("torch")

    class TTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(5, 3)
            self.out = torch.nn.Linear(3, 5, bias=False)
            self.out.weight = self.embed.weight
            self.proj = torch.nn.Linear(3, 3)
            self.proj_again = self.proj

    tm = TTied()
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    m = Tied()
    assert list(sd) == list(m.state_dict())
    m.load_state_dict(sd)
    idx = np.array([[0, 4, 2]])
    ref = tm.out(tm.proj(tm.embed(torch.tensor(idx)))).detach().numpy()
    np.testing.assert_allclose(m.out(m.proj(m.embed(idx))).data, ref, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------- load_state_dict errors
def test_load_state_dict_lists_missing_and_unexpected_names():
    m = Model()
    sd = dict(m.state_dict())
    del sd["encoder.scale"], sd["head.0.bias"]
    sd["encoder.rnn.weight_ih_l1"] = np.zeros((16, 4))
    sd["decoder.weight"] = np.zeros(3)
    with pytest.raises(KeyError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    for name in ("encoder.scale", "head.0.bias", "encoder.rnn.weight_ih_l1", "decoder.weight"):
        assert name in msg
    assert "missing" in msg and "unexpected" in msg


def test_load_state_dict_non_strict_returns_missing_and_unexpected():
    src, dst = Model(), Model()
    sd = dict(src.state_dict())
    del sd["head.2.weight"]
    sd["extra"] = np.ones(2)
    before = dst.head[2].weight.data.copy()
    missing, unexpected = dst.load_state_dict(sd, strict=False)
    assert missing == ["head.2.weight"] and unexpected == ["extra"]
    np.testing.assert_array_equal(dst.head[2].weight.data, before)                  # left alone
    np.testing.assert_array_equal(dst.encoder.rnn.weight_hh_l0.data, src.encoder.rnn.weight_hh_l0.data)


def test_load_state_dict_wrong_shapes_are_named_and_nothing_is_copied():
    m = Model()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    sd = {k: np.full(v.shape, 7.0) for k, v in before.items()}
    sd["head.0.weight"] = np.zeros((4, 5))
    sd["head.2.bias"] = np.zeros(3)
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "head.0.weight" in msg and "(4, 4)" in msg and "(4, 5)" in msg
    assert "head.2.bias" in msg and "(2,)" in msg and "(3,)" in msg
    for k, v in m.state_dict().items():           # no half-loaded model
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="head.2.bias"):      # shapes are checked with strict=False too
        m.load_state_dict({"head.2.bias": np.zeros(3)}, strict=False)


def test_load_state_dict_copies_in_place_and_casts():
    m = nn.Linear(3, 2)
    w = m.weight
    arr = w.data
    m.load_state_dict({"weight": np.arange(6.0).reshape(2, 3), "bias": mg.tensor([1.0, 2.0])})
    assert m.weight is w and m.weight.data is arr and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(m.bias.data, [1.0, 2.0])


# ---------------------------------------------------------------------- modes, grads, dtype
def test_train_eval_propagate():
    m = Model()
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.head.train()
    assert m.head[1].training and not m.training and not m.encoder.rnn.training
    m.train()
    assert all(x.training for x in m.modules())


def test_dropout_train_vs_eval_inside_a_model():
    mg.manual_seed(0)
    m = Model()
    idx = np.array([[1, 2], [3, 4], [5, 6]])
    m.eval()
    a, b = m(idx).data, m(idx).data
    np.testing.assert_array_equal(a, b)                       # deterministic in eval
    m.train()
    assert not np.array_equal(m(idx).data, a)                 # dropout active while training


def test_zero_grad():
    m = Model()
    m(np.array([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_double_and_to():
    m = Model()
    m(np.array([[1, 2]])).sum().backward()
    assert m.double() is m
    for p in m.parameters():
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
    out = m(np.array([[1, 2]]))
    assert out.dtype == np.float64
    m.to(np.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.to(dtype="float64")
    assert all(p.dtype == np.float64 for p in m.parameters())
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="float dtype"):
        m.to(np.int32)


def test_module_to_device_as_torch():
    # model.to(device) / .to("cpu") / .to(device, dtype) / .to(tensor): torch.nn.Module.to's forms
    m = Model()
    assert m.to(mg.device("cpu")) is m and m.to("cpu") is m
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert m.to("cpu", mg.float64) is m
    assert all(p.dtype == np.float64 for p in m.parameters())
    m.to(mg.zeros(1))                                  # a tensor stands for its dtype
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.to(device="cpu", dtype=mg.double)
    assert all(p.dtype == np.float64 for p in m.parameters())
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        m.to("cuda")
    with pytest.raises(RuntimeError, match="for a dtype pass mg.float32"):
        m.to("float32")                                # a string is a device, as in PyTorch
    with pytest.raises(TypeError, match="device given twice"):
        m.to("cpu", "cpu")
    assert all(p.dtype == np.float64 for p in m.parameters())   # failed calls changed nothing


def test_recurrent_flatten_parameters_is_a_no_op():
    # word_language_model calls model.rnn.flatten_parameters() after loading
    for layer in (nn.LSTM(2, 3), nn.GRU(2, 3), nn.RNN(2, 3)):
        before = {k: np.array(v) for k, v in layer.state_dict().items()}
        assert layer.flatten_parameters() is None
        for k, v in layer.state_dict().items():
            np.testing.assert_array_equal(v, before[k])


def test_layers_take_a_dtype():
    assert nn.Linear(2, 3, dtype=np.float64).weight.dtype == np.float64
    assert nn.Embedding(4, 2, dtype=np.float64).weight.dtype == np.float64


# ---------------------------------------------------------------------- attributes
def test_assigning_before_super_init_errors():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))
            super().__init__()

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_attribute_registration_and_deletion():
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.note = "plain"
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    m.w = None                                   # a registered parameter may be set to None...
    assert m.w is None and [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    m.w = nn.Parameter(np.ones(2))               # ...and back
    assert "w" in dict(m.named_parameters())
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = mg.tensor(np.zeros(2))             # a plain tensor would silently stop being trained
    m.sub = "replaced"                           # a module slot may become a plain attribute
    assert m.sub == "replaced" and list(m.children()) == []
    del m.w
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing
    with pytest.raises(NotImplementedError, match="forward"):
        m(1)


def test_parameter_is_a_float_leaf():
    p = nn.Parameter(np.arange(3.0))
    assert p.requires_grad and p.grad_fn is None and p.dtype == np.float64
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert repr(p).startswith("Parameter containing:\n")
    with pytest.raises(TypeError, match="float"):
        nn.Parameter(np.arange(3))


# ---------------------------------------------------------------------- repr
def test_repr_of_a_sequential_is_readable_and_stable():
    m = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.2), nn.LSTM(4, 5, num_layers=2, bidirectional=True),
                      nn.Linear(4, 2, bias=False), nn.Embedding(10, 4, padding_idx=0), nn.GRUCell(2, 3))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): Dropout(p=0.2)\n"
        "  (2): LSTM(4, 5, num_layers=2, bidirectional=True)\n"
        "  (3): Linear(in_features=4, out_features=2, bias=False)\n"
        "  (4): Embedding(10, 4, padding_idx=0)\n"
        "  (5): GRUCell(2, 3)\n"
        ")")
    assert repr(m) == repr(m)


def test_repr_nests():
    r = repr(Model())
    assert r.startswith("Model(\n  (encoder): Encoder(\n    (embed): Embedding(7, 3)\n    (rnn): LSTM(3, 4)\n  )")
    assert "  (head): Sequential(\n    (0): Linear(in_features=4, out_features=4, bias=True)\n" in r
    assert r.endswith("\n  )\n)")
    assert repr(nn.Module()) == "Module()"


# ---------------------------------------------------------------------- Linear
@pytest.mark.parametrize("shape", [(4,), (5, 4), (2, 3, 4), (0, 4), (2, 0, 4)])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_linear_forward_backward_vs_numpy(shape, bias):
    lin = nn.Linear(4, 3, bias=bias, dtype=np.float64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    G = rng.standard_normal(shape[:-1] + (3,))
    tx = t64(x)
    y = lin(tx)
    W = lin.weight.data
    ref = x @ W.T + (lin.bias.data if bias else 0)
    assert y.shape == shape[:-1] + (3,) and y.dtype == np.float64
    np.testing.assert_allclose(y.data, ref, rtol=1e-12, atol=1e-12)
    y.backward(G)
    x2, G2 = x.reshape(-1, 4), G.reshape(-1, 3)
    np.testing.assert_allclose(tx.grad, G @ W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lin.weight.grad, G2.T @ x2, rtol=1e-12, atol=1e-12)
    if bias:
        np.testing.assert_allclose(lin.bias.grad, G2.sum(0), rtol=1e-12, atol=1e-12)
    else:
        assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 1, 3)])
def test_linear_gradcheck(shape):
    rng = np.random.default_rng(1)
    x, w, b = t64(rng.standard_normal(shape)), t64(rng.standard_normal((2, 3))), t64(rng.standard_normal(2))
    assert mg.gradcheck(nn.linear, [x, w, b])
    assert mg.gradcheck(nn.linear, [x, w])
    lin = nn.Linear(3, 2, dtype=np.float64)
    assert mg.gradcheck(lambda x, w, b: lin(x), [x, lin.weight, lin.bias])


@pytest.mark.parametrize("I,O", [(0, 3), (3, 0)])
def test_linear_zero_features(I, O):
    lin = nn.Linear(I, O, dtype=np.float64)
    x = t64(np.ones((2, 5, I)))
    y = lin(x)
    assert y.shape == (2, 5, O)
    np.testing.assert_array_equal(y.data, np.broadcast_to(lin.bias.data, (2, 5, O)))
    y.backward(np.ones((2, 5, O)))
    assert x.grad.shape == (2, 5, I) and lin.weight.grad.shape == (O, I)
    np.testing.assert_array_equal(lin.bias.grad, np.full(O, 10.0))


def test_linear_gradients_accumulate():
    lin = nn.Linear(3, 2, dtype=np.float64)
    x = np.ones((4, 3))
    lin(x).sum().backward()
    g1 = lin.weight.grad.copy()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad, 2 * g1)


def test_linear_bad_inputs_are_named():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(2, 3\)"):
        lin(np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        lin(mg.tensor(1.0))
    with pytest.raises(TypeError, match="float32 and float64"):
        lin(mg.tensor(np.zeros((1, 3)), dtype=np.float64))


@pytest.mark.parametrize("make, exc, match", [
    (lambda: nn.Linear(-1, 2), ValueError, "Linear: in_features must be >= 0, got -1"),
    (lambda: nn.Linear(2, -5), ValueError, "Linear: out_features must be >= 0, got -5"),
    (lambda: nn.Linear(2.5, 2), TypeError, "in_features must be an int, got float 2.5"),
    (lambda: nn.Linear("3", 2), TypeError, "in_features must be an int, got str '3'"),
    (lambda: nn.Linear(True, 2), TypeError, "in_features must be an int, got bool True"),
    (lambda: nn.Linear(2, 2, bias="no"), TypeError, "bias must be a bool, got str 'no'"),
    (lambda: nn.Linear(2, 2, dtype=np.int64), TypeError, "dtype must be np.float32 or np.float64, got int64"),
    (lambda: nn.Linear(2, 2, dtype="banana"), TypeError, "got 'banana'"),
    (lambda: nn.Linear(2, 2, dtype=None), TypeError, "got None"),
    (lambda: nn.Embedding(0, 3), ValueError, "Embedding: num_embeddings must be >= 1, got 0"),
    (lambda: nn.Embedding(-3, 3), ValueError, "num_embeddings must be >= 1, got -3"),
    (lambda: nn.Embedding(3, -1), ValueError, "embedding_dim must be >= 0, got -1"),
    (lambda: nn.Embedding(3.0, 2), TypeError, "num_embeddings must be an int, got float 3.0"),
    (lambda: nn.Embedding(3, 2, padding_idx=1.5), TypeError, "padding_idx must be an int or None, got float 1.5"),
    (lambda: nn.Embedding(3, 2, dtype=np.float16), TypeError, "Embedding: dtype .* got float16"),
    (lambda: nn.Dropout(1.5), ValueError, "between 0 and 1, but got 1.5"),
    (lambda: nn.Dropout(-0.1), ValueError, "but got -0.1"),
    (lambda: nn.Dropout(float("nan")), ValueError, "but got nan"),
    (lambda: nn.Dropout("0.1"), TypeError, "p must be a real number in \\[0, 1\\], got str '0.1'"),
    (lambda: nn.Dropout(None), TypeError, "got NoneType None"),
    (lambda: nn.Sequential(nn.Linear(2, 2))[5], IndexError, "index 5 is out of range for a Sequential of length 1"),
    (lambda: nn.Sequential(nn.Linear(2, 2))["a"], TypeError, "integers or slices, got str 'a'"),
])
def test_layer_constructor_arguments_are_checked_and_named(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def f32(shape, dtype=np.float32):
    return mg.tensor(np.ones(shape, dtype))


@pytest.mark.parametrize("args, exc, match", [
    ((f32((2, 3), np.int64), f32((2, 3))), TypeError, r"input must be a float32/float64 tensor, got dtype int64"),
    ((f32((2, 3)), f32((2, 3), np.int64)), TypeError, "weight must be a float32/float64 tensor, got dtype int64"),
    ((f32((2, 3)), f32(3)), ValueError, r"weight must have shape \(out_features, in_features\), got \(3,\)"),
    ((f32((2, 3)), f32((2, 3)), f32(5)), ValueError, r"bias must have shape \(2,\) .* got \(5,\)"),
    ((f32((2, 3)), f32((2, 3)), f32((1, 2))), ValueError, r"bias must have shape \(2,\) .* got \(1, 2\)"),
])
def test_linear_function_checks_operands_before_any_kernel(args, exc, match):
    with pytest.raises(exc, match=match):
        nn.linear(*args)


def test_linear_default_init_bounds():
    mg.manual_seed(0)
    lin = nn.Linear(16, 50)
    assert np.abs(lin.weight.data).max() <= 0.25 and np.abs(lin.bias.data).max() <= 0.25
    assert np.abs(lin.weight.data).max() > 0.2                  # fills the range U(-1/4, 1/4)


def test_linear_matches_pytorch():
    torch = pytest.importorskip("torch")
    tl = torch.nn.Linear(5, 3).double()
    lin = nn.Linear(5, 3, dtype=np.float64)
    lin.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    rng = np.random.default_rng(2)
    x, G = rng.standard_normal((2, 4, 5)), rng.standard_normal((2, 4, 3))
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    ty.backward(torch.tensor(G))
    mx = t64(x)
    my = lin(mx)
    my.backward(G)
    np.testing.assert_allclose(my.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mx.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lin.weight.grad, tl.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, tl.bias.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert [n for n, _ in lin.named_parameters()] == [n for n, _ in tl.named_parameters()]


# ---------------------------------------------------------------------- Embedding
def test_embedding_lookup_and_grad():
    e = nn.Embedding(6, 3, dtype=np.float64)
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    out = e(idx)
    np.testing.assert_array_equal(out.data, e.weight.data[idx])
    G = np.random.default_rng(3).standard_normal((2, 3, 3))
    out.backward(G)
    ref = np.zeros((6, 3))
    np.add.at(ref, idx, G)
    np.testing.assert_allclose(e.weight.grad, ref, rtol=1e-12, atol=1e-12)
    assert e(mg.tensor(np.array([1, 3]), dtype=None)).shape == (2, 3)   # integer tensors are accepted


@pytest.mark.parametrize("padding_idx,row", [(2, 2), (-1, 4)])
def test_embedding_padding_idx(padding_idx, row):
    e = nn.Embedding(5, 3, padding_idx=padding_idx)
    assert e.padding_idx == row
    np.testing.assert_array_equal(e.weight.data[row], 0)
    assert np.all(np.delete(e.weight.data, row, axis=0) != 0)
    idx = np.array([row, 0, row, 1])
    e(idx).sum().backward()
    np.testing.assert_array_equal(e.weight.grad[row], 0)           # padding receives no gradient
    np.testing.assert_array_equal(e.weight.grad[0], 1)


def test_embedding_errors():
    e = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match="index 5 is out of range"):
        e(np.array([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        e(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        e(np.array([1.0]))
    with pytest.raises(ValueError, match="padding_idx 5"):
        nn.Embedding(5, 3, padding_idx=5)


# ---------------------------------------------------------------------- Dropout
def test_dropout_train_vs_eval():
    mg.manual_seed(1)
    d = nn.Dropout(0.25)
    x = t64(np.ones((200, 50)))
    y = d(x)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.backward(np.ones((200, 50)))
    np.testing.assert_allclose(x.grad, kept / 0.75)
    d.eval()
    assert d(x) is x                                           # identity in eval mode
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, 0)
    with pytest.raises(ValueError, match="1.5"):
        nn.Dropout(1.5)


# ---------------------------------------------------------------------- Sequential
def test_sequential_indexing_len_iteration_forward():
    a, b, c = nn.Linear(3, 4, dtype=np.float64), nn.Dropout(0.5), nn.Linear(4, 2, dtype=np.float64)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    head = s[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    with pytest.raises(IndexError):
        s[3]
    s.eval()
    x = np.random.default_rng(4).standard_normal((5, 3))
    np.testing.assert_allclose(s(x).data, c(a(x)).data, rtol=1e-15)
    np.testing.assert_allclose(s(x).data, (x @ a.weight.data.T + a.bias.data) @ c.weight.data.T + c.bias.data,
                               rtol=1e-12)
    assert len(nn.Sequential()) == 0 and nn.Sequential()(x) is x
    with pytest.raises(TypeError, match="argument 1 is int"):
        nn.Sequential(a, 3)


def test_layer_constructors_with_arbitrary_arguments_build_or_raise_clearly():
    """Any value for any argument of Linear/Embedding/Dropout: a layer with exactly the sizes asked
    for, or a TypeError/ValueError naming the value -- never a NumPy error from deep inside."""
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies
    values = st.one_of(st.none(), st.booleans(), st.integers(-5, 40), st.floats(), st.text(max_size=2),
                       st.integers(-5, 40).map(np.int64), st.sampled_from([np.float32, np.float64, np.int32, "f8"]))
    layers = {"Linear": (nn.Linear, ["in_features", "out_features", "bias", "dtype"]),
              "Embedding": (nn.Embedding, ["num_embeddings", "embedding_dim", "padding_idx", "dtype"]),
              "Dropout": (nn.Dropout, ["p"])}

    @hyp.settings(max_examples=300, deadline=None, database=None)
    @hyp.given(name=st.sampled_from(sorted(layers)), data=st.data())
    def check(name, data):
        cls, arg_names = layers[name]
        kwargs = {k: data.draw(values, label=k) for k in arg_names if data.draw(st.booleans()) or k in
                  ("in_features", "out_features", "num_embeddings", "embedding_dim")}
        try:
            layer = cls(**kwargs)
        except (TypeError, ValueError) as e:
            assert any(repr(v) in str(e) or type(v).__name__ in str(e) or str(v) in str(e)
                       for v in kwargs.values()), f"{e} does not name any of {kwargs}"
            return
        if name == "Linear":
            assert layer.weight.shape == (kwargs["out_features"], kwargs["in_features"])
        elif name == "Embedding":
            assert layer.weight.shape == (kwargs["num_embeddings"], kwargs["embedding_dim"])
        else:
            assert 0.0 <= layer.p <= 1.0

    check()
