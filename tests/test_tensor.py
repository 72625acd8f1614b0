"""The engine: Tensor construction, the tape, the reverse walk, hooks, retain_grad, grad modes, gradcheck."""
import re
import warnings

import numpy as np
import pytest

import minigrad as mg

F64 = np.float64


def leaf(values, dtype=F64):
    return mg.tensor(np.asarray(values, dtype=float), requires_grad=True, dtype=dtype)


def test_construction_dtypes_and_properties():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert mg.tensor([1, 2]).dtype.kind == "i"
    t = mg.tensor(np.zeros((2, 3)))
    assert t.shape == (2, 3) and t.ndim == 2 and len(t) == 2 and t.data.flags.c_contiguous
    assert mg.tensor(3.0).shape == () and mg.tensor(3.0).item() == 3.0
    a = np.zeros(4, np.float32)
    assert mg.tensor(a).data is a                      # no copy when none is needed
    assert mg.tensor(np.zeros((3, 4), np.float32).T).data.flags.c_contiguous
    with pytest.raises(TypeError, match="complex"):
        mg.tensor([1j])


def test_int_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="float32/float64"):
        mg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError):
        mg.tensor([1.0], requires_grad=True, dtype=np.int32)


def test_repr():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "dtype=float64" in repr(mg.tensor([1.0], dtype=F64))
    assert "requires_grad=True" in repr(leaf([1.0]))
    assert "grad_fn=<Mul>" in repr(leaf([1.0]) * 2)


def test_backward_on_non_scalar_without_grad_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"single-element.*\(2,\)"):
        (x * 2).backward()
    y = x * 2
    y.backward(np.array([1.0, 10.0]))
    assert np.array_equal(x.grad, [2.0, 20.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_without_requires_grad_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_second_backward_without_retain_graph_errors():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_two_backwards_and_accumulates():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.array_equal(x.grad, 2 * 2 * x.data)


def test_gradients_accumulate_over_backward_calls():
    x = leaf([3.0])
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    assert np.array_equal(x.grad, [7.0])
    x.grad = None
    (x * 1).sum().backward()
    assert np.array_equal(x.grad, [1.0])


def test_mixed_float_dtypes_raise_naming_both():
    a = mg.tensor([1.0], dtype=np.float32)
    b = mg.tensor([1.0], dtype=np.float64)
    with pytest.raises(TypeError, match="float32.*float64"):
        a * b
    with pytest.raises(TypeError, match="float32.*float64"):
        mg.concat([a, b])


def test_shape_mismatch_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        leaf(np.ones((2, 3))) - leaf(np.ones(4))


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with mg.no_grad():
        y = x * 2 + 1
    assert not y.requires_grad and y.grad_fn is None
    assert mg.is_grad_enabled()

    @mg.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    assert (x * 3).requires_grad


def test_grad_mode_contexts_nest_and_restore():
    x = leaf([1.0, 2.0])
    ng = mg.no_grad()
    with ng:
        with ng:                                   # the same object entered twice
            assert not mg.is_grad_enabled()
        assert not mg.is_grad_enabled()            # the inner exit restores the outer no_grad
        with mg.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert mg.is_grad_enabled()


def test_set_grad_enabled_as_function_context_and_decorator():
    x = leaf([1.0])
    try:
        assert mg.set_grad_enabled(False) is not None and not mg.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        mg.set_grad_enabled(True)
    assert mg.is_grad_enabled()
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with mg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()

    @mg.set_grad_enabled(False)
    def f():
        return mg.is_grad_enabled()
    assert mg.is_grad_enabled()                    # decorating does not switch the mode now
    assert f() is False and mg.is_grad_enabled()
    assert f.__name__ == "f"


def test_grad_mode_decorator_on_a_generator_holds_only_inside_it():
    x = leaf([1.0])

    @mg.no_grad()
    def steps(n):
        for i in range(n):
            received = yield (x * i).requires_grad
            assert received in (None, "ping") and not mg.is_grad_enabled()
        return "done"

    g = steps(2)
    assert next(g) is False
    assert mg.is_grad_enabled() and (x * 2).requires_grad      # the caller still records
    assert g.send("ping") is False
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done" and mg.is_grad_enabled()
    g = steps(5)
    next(g)
    g.close()
    assert mg.is_grad_enabled()


def test_retain_grad_on_a_tensor_without_grad_errors():
    with pytest.raises(RuntimeError, match=r"retain_grad\(\) on a tensor of shape \(2,\) that does not require grad"):
        mg.tensor([1.0, 2.0]).retain_grad()
    with mg.no_grad():
        y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.retain_grad()


@pytest.mark.parametrize("mode", [1, "no", None, 0.0])
def test_set_grad_enabled_needs_a_bool(mode):
    with pytest.raises(TypeError, match=f"mode must be a bool, got {type(mode).__name__} {mode!r}"):
        mg.set_grad_enabled(mode)
    assert mg.is_grad_enabled()


def test_grad_mode_decorator_needs_a_callable():
    with pytest.raises(TypeError, match="needs a callable, got int 3"):
        mg.no_grad()(3)
    with pytest.raises(TypeError, match="needs a callable, got str 'f'"):
        mg.enable_grad("f")


def test_bare_grad_mode_decorators_as_pytorch_2():
    x = leaf([1.0])

    @mg.no_grad
    def off():
        return (x * 2).requires_grad

    @mg.enable_grad
    def on():
        return (x * 2).requires_grad

    assert off() is False and off.__name__ == "off" and mg.is_grad_enabled()
    with mg.no_grad():
        assert on() is True and not mg.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_tape():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.data is y.data
    (d * x).sum().backward()
    assert np.array_equal(x.grad, y.data)


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    k = x * 4
    (h * h + k).sum().backward()
    assert np.array_equal(h.grad, 2 * h.data)
    assert k.grad is None


def test_register_hook_observes_and_replaces_leaf_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.copy()))
    (x * 3).sum().backward()
    assert np.array_equal(seen[0], [3.0, 3.0]) and np.array_equal(x.grad, [3.0, 3.0])
    x.grad = None
    h = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert np.array_equal(x.grad, [30.0, 30.0])
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert np.array_equal(x.grad, [3.0, 3.0]) and len(seen) == 3


def test_register_hook_on_non_leaf_replaces_gradient_downstream():
    x = leaf([1.0, 2.0])
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.copy()))
    handle = h.register_hook(lambda g: g * 0.5)
    (h * 4).sum().backward(retain_graph=True)
    assert np.array_equal(seen[0], [4.0, 4.0])
    assert np.array_equal(x.grad, [4.0, 4.0])        # 4 * 0.5 * 2
    handle.remove()
    x.grad = None
    (h * 4).sum().backward()
    assert np.array_equal(x.grad, [8.0, 8.0])


def test_hook_returning_wrong_shape_errors():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: np.ones(3))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 1).sum().backward()


def test_hook_on_tensor_without_grad_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(lambda g: g)


@pytest.mark.parametrize("grad, match", [
    (np.array([1j, 2.0]), "dtype complex128"),
    (np.array([None, 1.0]), "dtype object"),
    (np.array([True, False]), "dtype bool"),
    ("ab", "dtype <U2"),
    ([[1.0], [2.0, 3.0]], "got list"),
])
def test_backward_grad_must_be_real_numbers(grad, match):
    x = leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"backward\(grad\) must be an array of real numbers.*" + match):
        (x * 2).backward(grad)
    assert x.grad is None


def test_backward_grad_of_another_real_dtype_is_cast():
    x = leaf([1.0, 2.0])
    (x * 2).backward(np.array([1, 3]))                       # ints, as PyTorch casts
    (x * 2).backward(mg.tensor([1.0, 1.0]))                  # a float32 tensor
    assert x.grad.dtype == F64 and np.array_equal(x.grad, [4.0, 8.0])


def test_backward_retain_graph_must_be_a_bool():
    with pytest.raises(TypeError, match="retain_graph.*got str 'no'"):
        (leaf([1.0]) * 2).sum().backward(retain_graph="no")


def test_register_hook_needs_a_callable():
    with pytest.raises(TypeError, match="callable fn\\(grad\\), got int 3"):
        leaf([1.0]).register_hook(3)


@pytest.mark.parametrize("ret, match", [
    (lambda g: g.astype(np.float32), "dtype float32, expected float64"),
    (lambda g: g.astype(np.int64), "dtype int64, expected float64"),
    (lambda g: g.astype(np.complex128), "dtype complex128"),
    (lambda g: np.array([None, 1.0]), "dtype object"),
    (lambda g: "abc", "dtype <U3"),
])
def test_hook_result_must_be_real_and_keep_the_gradient_dtype(ret, match):
    x = leaf([1.0, 2.0])
    x.register_hook(ret)                         # a leaf hook
    y = leaf([1.0, 2.0])
    h = y * 1
    h.register_hook(ret)                         # a non-leaf hook
    for out in (x * 1, h):
        with pytest.raises(TypeError, match=match):
            out.sum().backward()


def test_hook_may_return_a_tensor():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: mg.tensor(g, dtype=F64) * 2)
    (x * 1).sum().backward()
    assert np.array_equal(x.grad, [2.0, 2.0])


def _product_with_backward(bw):
    """A two-input op whose backward is ``bw(g)``; returns the inputs after backward."""
    class Product(mg.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, g):
            return bw(g)
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    Product.apply(a, b).sum().backward()
    return a, b


@pytest.mark.parametrize("bw, match", [
    (lambda g: (g,), r"Product.backward returned 1 gradient\(s\) for 2 input\(s\)"),
    (lambda g: (g, g, g), r"returned 3 gradient\(s\) for 2"),
    (lambda g: (g, np.ones(3)), r"gradient of shape \(3,\) for an input of shape \(2,\)"),
    (lambda g: (g, g.astype(complex)), "gradient of dtype complex128 for an input of dtype float64"),
    (lambda g: (g, np.array([None, 1.0])), "gradient of dtype object"),
    (lambda g: (g, "a"), "must be an array of real numbers, got dtype <U1"),
])
def test_custom_function_with_a_bad_backward_is_named(bw, match):
    with pytest.raises(RuntimeError, match=match):
        _product_with_backward(bw)


def test_custom_function_extra_none_gradients_and_other_float_dtypes_are_fine():
    a, b = _product_with_backward(lambda g: (g, g.astype(np.float32), None))
    assert b.grad.dtype == F64 and np.array_equal(b.grad, [1.0, 1.0])


@pytest.mark.parametrize("value, match", [
    (np.zeros(5), r"holds an array of shape \(5,\) and dtype float64"),
    (np.zeros(2, np.float32), "dtype float32"),
    ([0.0, 0.0], "holds a list"),
    (np.broadcast_to(np.zeros(1), (2,)), "read-only"),
])
def test_backward_into_a_bad_user_set_grad_errors_and_changes_nothing(value, match):
    x, y = leaf([1.0, 2.0]), leaf([1.0, 1.0])
    x.grad = value
    with pytest.raises(RuntimeError, match="cannot accumulate .*" + match):
        (x * y).sum().backward()
    assert y.grad is None                        # no leaf received anything


def test_user_gradient_is_not_aliased():
    x = leaf([1.0, 2.0])
    g = np.array([1.0, 1.0])
    (x * 1).backward(g)
    x.grad += 5
    assert np.array_equal(g, [1.0, 1.0])


def test_shared_borrowed_gradient_is_not_modified():
    """Add hands the same array to both inputs; accumulation must not corrupt either."""
    x = leaf([1.0, 2.0])
    y = leaf([1.0, 1.0])
    s = x + y
    (s + x + y).sum().backward()
    assert np.array_equal(x.grad, [2.0, 2.0]) and np.array_equal(y.grad, [2.0, 2.0])


def test_item_and_bool():
    assert leaf([2.5]).item() == 2.5
    with pytest.raises(ValueError, match=r"\(2,\)"):
        leaf([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(leaf([1.0, 2.0]))


def test_deep_chain_backward_is_iterative():
    x = leaf([1.0])
    y = x
    for _ in range(20_000):     # far beyond the recursion limit; 100,000 is in test_ops
        y = y * 1.0
    y.backward()
    assert x.grad[0] == 1.0


# ---------------------------------------------------------------------- gradcheck
class WrongSquare(mg.Function):
    """x^2 with a deliberately wrong backward (3x instead of 2x): gradcheck must catch it."""

    def forward(self, x):
        self.save(x)
        return x * x

    def backward(self, g):
        (x,) = self.saved
        return g * 3 * x


def test_gradcheck_catches_a_wrong_backward_and_names_the_element():
    x = leaf([1.0, 2.0])
    with pytest.raises(mg.GradcheckError, match=r"input 0 \(shape \(2,\)\) at element \(1,\)"):
        mg.gradcheck(WrongSquare.apply, [x])


@pytest.mark.parametrize("ret, match", [
    (lambda x: None, "got NoneType"),
    (lambda x: 3.0, "got float"),
    (lambda x: (None, 1), r"got tuple of \['NoneType', 'int'\]"),
])
def test_gradcheck_needs_a_tensor_output(ret, match):
    with pytest.raises(TypeError, match="fn must return a Tensor.*" + match):
        mg.gradcheck(ret, [leaf([1.0, 2.0])])


def test_gradcheck_needs_a_callable():
    with pytest.raises(TypeError, match="fn must be callable, got list"):
        mg.gradcheck([leaf([1.0])], [leaf([1.0])])


def test_gradcheck_without_any_output_that_requires_grad_is_an_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="no output of fn requires grad"):
        mg.gradcheck(lambda x: mg.tensor([1.0, 5.0], dtype=F64), [x])      # a constant
    # an output computed outside the tape but depending on x: its numerical gradient is not zero
    with pytest.raises(mg.GradcheckError, match=r"output\(s\) \[0\] do not require grad"):
        mg.gradcheck(lambda x: mg.tensor(x.data * 2, dtype=F64), [x])
    with pytest.raises(mg.GradcheckError, match=r"output\(s\) \[1\] do not require grad"):
        mg.gradcheck(lambda x: (x * 2, x.detach() * 3), [x])


@pytest.mark.parametrize("name, value, exc", [
    ("eps", 0, ValueError), ("eps", -1e-6, ValueError), ("eps", float("nan"), ValueError),
    ("eps", float("inf"), ValueError), ("atol", -1.0, ValueError), ("rtol", float("inf"), ValueError),
    ("atol", float("nan"), ValueError), ("eps", "1e-6", TypeError), ("rtol", None, TypeError),
    ("eps", True, TypeError),
])
def test_gradcheck_validates_eps_and_tolerances(name, value, exc):
    with pytest.raises(exc, match=f"{name} must be .*got .*{re.escape(repr(value))}"):
        mg.gradcheck(lambda x: x * 2, [leaf([1.0])], **{name: value})


def test_gradcheck_nan_gradient_is_a_mismatch():
    with pytest.raises(mg.GradcheckError, match="tape gives nan"):
        mg.gradcheck(lambda x: x * float("nan"), [leaf([1.0])])


def test_gradcheck_rejects_a_read_only_input():
    a = np.array([1.0, 2.0])
    a.flags.writeable = False
    x = mg.tensor(a, requires_grad=True, dtype=F64)
    with pytest.raises(ValueError, match=r"input 0 \(shape \(2,\)\) is read-only"):
        mg.gradcheck(lambda x: x * 2, [x])


def test_gradcheck_tolerance_includes_the_rounding_of_the_central_difference():
    """y = x^2 + 1e10: a loss evaluation is a multiple of ulp(1e10) = 2e-6, so the central
    difference with eps = 1e-6 moves in steps of about 1 although the tape's 2x is exact: far
    outside atol + rtol |num|. The rounding bound ROUNDINGS * u * S / eps (S >= 1e10 |w|) covers it."""
    x = leaf([0.3, -0.7, 1.1])
    with pytest.warns(UserWarning, match=r"rounding bound of the finite differences \(\d"):
        assert mg.gradcheck(lambda x: x * x + 1e10, [x])     # and a warning that the check is weak
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # no warning at an ordinary scale
        assert mg.gradcheck(lambda x: x * x + 1.0, [x])


# ---------------------------------------------------------------------- tape_summary, manual_seed
@pytest.mark.parametrize("call, exc, match", [
    (lambda y: mg.tape_summary(np.ones(3)), TypeError, r"expected a Tensor .*got ndarray array\(\[1., 1., 1.\]\)"),
    (lambda y: mg.tape_summary(None), TypeError, "expected a Tensor .*got NoneType None"),
    (lambda y: mg.tape_summary(y, max_rows=-1), ValueError, "max_rows must be >= 0, got -1"),
    (lambda y: mg.tape_summary(y, max_rows="3"), TypeError, "max_rows must be an int, got str '3'"),
    (lambda y: mg.tape_summary(y, collapse_after=None), TypeError, "collapse_after must be an int, got NoneType"),
    (lambda y: mg.tape_summary(y, file="out.txt"), TypeError, "file must be a text stream .*got str 'out.txt'"),
    (lambda y: mg.manual_seed(1.0), TypeError, "seed must be an integer, got float 1.0"),
    (lambda y: mg.manual_seed("1"), TypeError, "got str '1'"),
    (lambda y: mg.manual_seed(-1), ValueError, "non-negative, got -1"),
])
def test_tape_summary_and_manual_seed_arguments_are_checked(call, exc, match):
    y = leaf([1.0]) * 2
    with pytest.raises(exc, match=match):
        call(y)


def test_custom_function_forward_must_return_numbers():
    class ReturnsNone(mg.Function):
        def forward(self, a):
            return None
    with pytest.raises(TypeError, match="Function.forward output must be an array of real numbers, got dtype object"):
        ReturnsNone.apply(leaf([1.0]))


def test_grad_buffer_outside_backward_errors():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"Mul.grad_buffer\(0\) called outside backward"):
        y.grad_fn.grad_buffer(0)


@pytest.mark.parametrize("op", ["leaf", "mul", "softmax", "log_softmax", "tanh", "ce_none", "twice"])
def test_backward_borrows_the_callers_grad_without_writing_it(op):
    # backward(grad) does not copy `grad` any more; no op may write into it, and the result must be
    # the same as with a private copy.
    import minigrad.nn.functional as F
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    fns = {"leaf": lambda: x, "mul": lambda: x * 2.0, "softmax": lambda: F.softmax(x, dim=1),
           "log_softmax": lambda: F.log_softmax(x, dim=0), "tanh": lambda: mg.tanh(x),
           "ce_none": lambda: F.cross_entropy(x, mg.tensor(np.arange(6) % 5), reduction="none"),
           "twice": lambda: x + x}
    y = fns[op]()
    g = rng.standard_normal(y.shape)
    g_before = g.copy()
    y.backward(g)
    assert np.array_equal(g, g_before)
    got = x.grad.copy()
    x.grad += 1.0                                   # .grad is the library's array, not the caller's
    assert np.array_equal(g, g_before)
    x.grad = None
    fns[op]().backward(g_before.copy())
    np.testing.assert_array_equal(got, x.grad)
