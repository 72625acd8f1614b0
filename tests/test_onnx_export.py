"""minigrad.onnx.export of single modules and ops: each exported file passes onnx.checker, runs in
onnxruntime and gives minigrad's outputs (tolerances: tests/_onnx_run.py); plus the errors and the
tracer's bookkeeping. Recurrent layers and whole models: tests/test_onnx_models.py."""
import importlib
import io
import sys

import numpy as np
import pytest

from _onnx_run import check_export, export_bytes, randn, run_onnx

import minigrad as mg             # noqa: E402
import minigrad.functional as F   # noqa: E402
import minigrad.nn as nn          # noqa: E402

_tape = importlib.import_module("minigrad.tensor")


class Fn(nn.Module):
    """A module running ``fn(x, self.w)`` with one parameter ``w``, so any op chain can be exported."""

    def __init__(self, fn, w_shape=(4,), dtype=np.float32):
        super().__init__()
        self.fn = fn
        self.w = nn.Parameter(np.random.default_rng(1).uniform(0.5, 1.5, w_shape).astype(dtype))

    def forward(self, x):
        return self.fn(x, self.w)


# ------------------------------------------------------------------ modules alone
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (1, 4)])
def test_linear(shape):
    check_export(nn.Linear(4, 5), randn(*shape))


def test_linear_without_bias_and_float64():
    check_export(nn.Linear(4, 3, bias=False, dtype=np.float64), randn(2, 5, 4, dtype=np.float64))


def test_embedding_and_dropout_in_eval_mode_is_identity():
    model = nn.Sequential(nn.Embedding(10, 6), nn.Dropout(0.5), nn.Linear(6, 3))
    model.train()
    ids = mg.tensor(np.array([[1, 9, 0], [3, 3, 7]]))
    export_bytes(model, ids)
    assert model.training                         # the export traces in eval mode, then restores it
    check_export(model, ids)


@pytest.mark.parametrize("act", [nn.Tanh(), nn.ReLU(), nn.Sigmoid(), nn.GELU(), nn.GELU("tanh"), nn.Softmax(-1),
                                 nn.LogSoftmax(1), nn.Identity(), nn.Flatten()])
def test_activation_modules(act):
    check_export(nn.Sequential(nn.Linear(4, 6), act), randn(2, 3, 4))


def test_linear_activation_softmax_chain():
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4), nn.LogSoftmax(-1))
    check_export(model, randn(7, 5))


# ------------------------------------------------------------------ ops
OPS = {
    "arith": lambda x, w: (x + w) * w - x / w + (-x) * 2.0 - 1.5 / w,
    "pow": lambda x, w: (x * x) ** 1.5 + w ** 2 + mg.tensor(np.float32(2.0)) ** w.reshape(1, 4),
    "unary": lambda x, w: (mg.exp(x) + mg.log(w) + mg.sqrt(w) + mg.sin(x) + mg.cos(x) + mg.log1p(w)
                          + x.abs() + mg.relu(x) + mg.sigmoid(x) + mg.tanh(x)),
    "softplus_clip": lambda x, w: mg.ops.softplus(x * 10, beta=2.0, threshold=5.0) + x.clip(-0.5, 0.3)
                                  + mg.clamp(x, min=0.0),
    "reductions": lambda x, w: (x.sum(1, keepdim=True) + x.mean(-1, keepdim=True) + x.max()
                                + x.min(dim=(0,)) + x.sum() * w + x.mean()),
    "max_dim": lambda x, w: x.max(1).values * 2 + x.min(1, keepdim=True).values.sum(),
    "shapes": lambda x, w: mg.concat([x.reshape(4, 3).transpose(0, 1), w.reshape(1, 4)], 0).T.flatten(),
    "stack_split": lambda x, w: sum(mg.split(mg.stack([x, x * w], axis=1), [1, 1], dim=1)),
    "chunk_unsqueeze": lambda x, w: x.chunk(2, dim=1)[1].unsqueeze(0).squeeze(0) + w[:2],
    "matmul": lambda x, w: (x @ w) + (x @ w.reshape(4, 1) @ w.reshape(1, 4)).sum(1),
    "softmax": lambda x, w: F.softmax(x * w, dim=0) + F.log_softmax(x, dim=-1),
    "where": lambda x, w: mg.where(np.array([[True], [False], [True]]), x, w) + mg.where(np.array([True, False, True, False]), -x, 0.5),
    "expand_clone": lambda x, w: w.reshape(1, 4).expand(3, 4).clone() * x,
    "cast": lambda x, w: x.double().float() + w,
    "compare": lambda x, w: (mg.where(x > w, x, w) + mg.where(x <= 0.1, 1.0, -x) + (x == x).float()
                             + (x != w).float() + (x < 0).float() * (x >= w).float() + x.masked_fill(x > 0.5, -2.0)),
    "argmax": lambda x, w: (x.argmax(1), x.argmin(0, keepdim=True), mg.argmax(x * w), x.argmin(keepdim=True)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_ops(name):
    check_export(Fn(OPS[name]), randn(3, 4))


INDEXES = {
    "int": lambda x: x[1], "negative_int": lambda x: x[-1], "slice": lambda x: x[1:3],
    "step": lambda x: x[::2, 1:], "negative_step": lambda x: x[::-1, :-1],
    "array": lambda x: x[np.array([1, 0, 1])], "array_axis1": lambda x: x[:, np.array([[2, 1], [0, 0]])],
    "none_ellipsis": lambda x: x[None, ..., 1:2, None], "int_slice": lambda x: x[1, ::-2],
    "last_axis_int": lambda x: x[..., -2],
}


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_indexing(name):
    x = randn(2, 3, 4, seed=3)
    fn = INDEXES[name]
    check_export(Fn(lambda x, w: fn(x * w)), x)


def test_output_computed_with_numpy_warns():
    with pytest.warns(UserWarning, match="not computed by a traced op"):
        export_bytes(Fn(lambda x, w: mg.tensor(np.tanh(x.data))), randn(2, 4))


def test_float64_ops_chain():
    model = Fn(lambda x, w: F.log_softmax(mg.tanh(x @ w.reshape(4, 1)) * x, -1), dtype=np.float64)
    check_export(model, randn(3, 4, dtype=np.float64))


def test_input_used_directly_as_output_and_several_outputs():
    model = Fn(lambda x, w: (x, x * w, x))
    x = randn(2, 4)
    data = export_bytes(model, (x,), input_names=["x"], output_names=["a", "b", "c"])
    a, b, c = run_onnx(data, {"x": x.data})
    np.testing.assert_array_equal(a, x.data)
    np.testing.assert_array_equal(c, x.data)


def test_writes_to_a_path_and_returns_none(tmp_path):
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "m.onnx"
    assert mg.onnx.export(nn.Linear(3, 2), randn(1, 3), str(path), input_names=["x"]) is None
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == ["x"]
    assert {i.name for i in model.graph.initializer} == {"weight", "bias"}   # state_dict names


def test_keyword_arguments_in_a_trailing_dict():
    class Scale(nn.Module):
        def forward(self, x, scale=None):
            return x * scale
    x, s = randn(2, 3), randn(2, 3, seed=5)
    data = export_bytes(Scale(), (x, {"scale": s}))
    np.testing.assert_allclose(run_onnx(data, {"input_0": x.data, "input_1": s.data})[0], (x * s).data)


# ------------------------------------------------------------------ errors
class WithLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return F.cross_entropy(self.head(x), np.array([0, 2]))


def test_unmapped_op_names_the_op_the_module_and_the_line():
    model = nn.Sequential(WithLoss())
    with pytest.raises(mg.onnx.ExportError) as e:
        export_bytes(model, randn(2, 4))
    msg = str(e.value)
    assert "CrossEntropy" in msg and "module '0'" in msg and "test_onnx_export.py:" in msg
    assert _tape._tracer is None                  # the tracer is off again


def test_tracer_is_off_after_a_failing_forward_and_the_tape_still_records():
    class Boom(nn.Module):
        def forward(self, x):
            raise KeyError("boom")
    with pytest.raises(KeyError):
        export_bytes(Boom(), randn(2))
    assert _tape._tracer is None
    x = randn(3)
    x.requires_grad = True
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_boolean_mask_indexing_is_refused():
    with pytest.raises(mg.onnx.ExportError, match="boolean mask"):
        export_bytes(Fn(lambda x, w: x[x.data > 0] * 2), randn(3, 4))


@pytest.mark.parametrize("kwargs, match", [
    ({"opset_version": 9}, "opset_version"), ({"export_params": False}, "export_params"),
    ({"input_names": ["a", "b"]}, "input_names"), ({"dynamic_axes": {"nope": [0]}}, "nope"),
    ({"training": True}, "training"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        export_bytes(nn.Linear(2, 2), randn(1, 2), **kwargs)


@pytest.mark.parametrize("kwargs, match", [({"input_names": "x"}, "input_names"), ({"output_names": [1]}, "output_names")])
def test_bad_names(kwargs, match):
    with pytest.raises(TypeError, match=match):
        export_bytes(nn.Linear(2, 2), randn(1, 2), **kwargs)


def test_bad_file_argument():
    with pytest.raises(TypeError, match="binary file object"):
        mg.onnx.export(nn.Linear(2, 2), randn(1, 2), 42)


@pytest.mark.parametrize("opset", [14, 17, 18, "newest"])
def test_opset_versions(opset):
    """Reductions take their axes as an attribute before opset 18 and as an input from 18 on."""
    onnx = pytest.importorskip("onnx")
    opset = onnx.defs.onnx_opset_version() if opset == "newest" else opset
    model = Fn(lambda x, w: x.mean(1, keepdim=True) * w + x.max(0).values + x.sum() + x.min())
    check_export(model, randn(4, 4), opset_version=opset)
    check_export(nn.Sequential(nn.GRU(4, 3, 2)), randn(5, 2, 4), opset_version=opset)


def test_verbose_prints_the_graph(capsys):
    export_bytes(nn.Linear(2, 3), randn(1, 2), verbose=True)
    assert "Gemm" in capsys.readouterr().out


def test_without_onnx_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)          # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"minigrad\[onnx\]"):
        mg.onnx.export(nn.Linear(2, 2), randn(1, 2), io.BytesIO())


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        export_bytes(lambda x: x, randn(1, 2))
