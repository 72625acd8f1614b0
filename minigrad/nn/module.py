"""Module and Parameter: how models hold their weights, as in PyTorch.

A :class:`Module` registers every :class:`Parameter` and sub-module assigned to it as an attribute,
so ``named_parameters()`` can walk the tree and ``state_dict()`` can name every weight with a
dotted path (``encoder.rnn.weight_hh_l0``) -- the same names PyTorch uses, so weights move
between the two as plain NumPy arrays.

Buffers (``register_buffer``) are tensors that belong to the model's state but are not trained
(running statistics, masks, step counters): they are in ``state_dict()`` (unless
``persistent=False``) and converted by ``to()``, but not in ``parameters()``.

Sub-modules or parameters kept in a plain Python ``list``/``tuple``/``dict`` attribute are not
registered (PyTorch ignores them silently); minigrad warns at the assignment and points to
``nn.ModuleList`` / ``nn.ModuleDict`` / ``nn.ParameterList``, which register them.
"""
import importlib
import warnings
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ..dtypes import as_dtype
from ..grad_mode import check_bool, describe
from ..ops.convert import to_args
from ..tensor import Tensor, _as_array

_tape = importlib.import_module("..tensor", __package__)   # the module (minigrad.tensor is also a function)


class Parameter(Tensor):
    """A tensor that is a model weight: always a leaf, always ``requires_grad=True``."""

    __slots__ = ()

    def __init__(self, data, dtype=None, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None and isinstance(data, np.ndarray) and data.dtype.kind == "f":
            dtype = data.dtype              # an explicit float array keeps its precision
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)
        if self.data.dtype.kind != "f":
            raise TypeError(f"a Parameter must be float32 or float64, got {self.data.dtype}")

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _as_buffer(value, name):
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value, dtype=value.dtype)
    raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (a Tensor, a NumPy array or None "
                    "expected)")


def _warn_if_unregistered(owner, name, value):
    """Warn when modules/parameters hide in a plain container, where nothing registers them.

    Items already registered elsewhere in ``owner``'s tree (``self.all = [self.w1, self.w2]``)
    are fine: only those that would be invisible to parameters()/state_dict() trigger the warning.
    """
    if not isinstance(value, (dict, list, tuple)):
        return
    items = value.values() if isinstance(value, dict) else value
    hidden = [v for v in items if isinstance(v, (Module, Parameter))]
    if not hidden:
        return
    known = {id(m) for m in owner.modules()} | {id(p) for p in owner.parameters()}
    if all(id(v) in known for v in hidden):
        return
    kind = "ModuleDict" if isinstance(value, dict) else "ModuleList"
    warnings.warn(f"{type(owner).__name__}.{name} is a plain {type(value).__name__} holding modules or "
                  f"parameters: they are NOT registered (not in parameters(), state_dict(), train()/eval() "
                  f"or to()); use nn.{kind} (or nn.ParameterList / nn.ParameterDict for parameters)",
                  UserWarning, stacklevel=3)


class Module:
    """Base class of every layer and model.

    Subclasses assign parameters and sub-modules in ``__init__`` and implement ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning {name!r}")
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        was_param = name in params
        if was_param and not (value is None or isinstance(value, Parameter)):
            # silently turning a weight into a plain attribute would drop it from parameters()
            raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} of "
                            f"{type(self).__name__} (a Parameter or None expected)")
        buffers = self.__dict__["_buffers"]
        if name in buffers and not isinstance(value, (Module, Parameter)):
            buffers[name] = _as_buffer(value, name)
            return
        modules.pop(name, None)
        buffers.pop(name, None)
        if isinstance(value, Parameter) or (value is None and was_param):
            params[name] = value         # a re-assigned parameter keeps its place (PyTorch's state_dict order)
        elif isinstance(value, Module):
            modules[name] = value
        else:
            _warn_if_unregistered(self, name, value)
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__                 # runs for every parameter access in forward: kept flat
        if name in d.get("_parameters", ()):
            return d["_parameters"][name]
        if name in d.get("_modules", ()):
            return d["_modules"][name]
        if name in d.get("_buffers", ()):
            return d["_buffers"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers.discard(name)
        else:
            object.__delattr__(self, name)

    # ------------------------------------------------------------------ explicit registration
    def _check_new_name(self, name, what):
        if not isinstance(name, str):
            raise TypeError(f"{what} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and name not in self._parameters and name not in self._modules \
                and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor that is state but not a parameter (PyTorch's ``register_buffer``).

        ``tensor`` is a Tensor, a NumPy array (kept as a tensor of the same dtype) or None.
        Persistent buffers are saved by ``state_dict()`` and restored by ``load_state_dict()``;
        none is returned by ``parameters()``, so optimizers never touch them.
        """
        self._check_new_name(name, "buffer")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"{name!r} is already a parameter or sub-module of {type(self).__name__}")
        persistent = check_bool(persistent, "register_buffer: persistent")
        self._buffers[name] = _as_buffer(tensor, name)
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter or None) under ``name``, as ``setattr`` would."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter {name!r} (a Parameter or None "
                            "expected; wrap a tensor in nn.Parameter)")
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        self._parameters[name] = param

    def add_module(self, name, module):
        """Add a sub-module (or None) under ``name``; ``register_module`` is the same."""
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        if _tape._tracer is not None:   # minigrad.onnx.export: the tracer may record this module as one node
            return _tape._tracer.call_module(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ the module tree
    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, prefix="", remove_duplicate=True):
        """Every module in the tree (this one first, depth first), each once, with its dotted name.

        ``remove_duplicate=False`` lists a module shared by two parents under both names.
        """
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, mod = stack.pop(0)
            if remove_duplicate and id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            stack[0:0] = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules is listed once
        (under its first name) unless ``remove_duplicate=False``."""
        seen = set()
        mods = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for mname, mod in mods:
            for pname, p in mod._parameters.items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer tensor) pairs, persistent or not (None buffers are skipped)."""
        seen = set()
        mods = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for mname, mod in mods:
            for bname, b in mod._buffers.items():
                if b is None or (remove_duplicate and id(b) in seen):
                    continue
                seen.add(id(b))
                yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn):
        """Call ``fn(module)`` on every module of the tree (this one included); returns self."""
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}.apply needs a callable fn(module), got {describe(fn)}")
        for m in self.modules():
            fn(m)
        return self

    # ------------------------------------------------------------------ state
    def _named_state(self):
        """(dotted name, tensor) of every parameter and persistent buffer, in PyTorch's order
        (each module's parameters, then its buffers, then its children), shared ones under every name."""
        for mname, mod in self.named_modules(remove_duplicate=False):
            pre = f"{mname}." if mname else ""
            for pname, p in mod._parameters.items():
                if p is not None:
                    yield pre + pname, p
            for bname, b in mod._buffers.items():
                if b is not None and bname not in mod._non_persistent_buffers:
                    yield pre + bname, b

    def state_dict(self):
        """Ordered ``name -> ndarray`` of every parameter and persistent buffer (the arrays
        themselves, not copies).

        As in PyTorch, a parameter shared by two modules (tied weights) appears under every name
        it has, so a PyTorch state_dict of a tied model loads unchanged.
        """
        return OrderedDict((name, t.data) for name, t in self._named_state())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters in place (cast to each parameter's dtype).

        With ``strict`` every name must match; the error lists all missing and unexpected names.
        Shapes must always match: every mismatch is named, and nothing is copied unless all
        shapes match (no half-loaded model). Returns ``(missing, unexpected)`` name lists.
        """
        owner = f"load_state_dict for {type(self).__name__}"
        strict = check_bool(strict, f"{owner}: strict")
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{owner}: expected a dict of name -> array, got {type(state_dict).__name__}")
        bad_keys = [k for k in state_dict if not isinstance(k, str)]
        if bad_keys:
            raise TypeError(f"{owner}: keys must be parameter names (str), got {describe(bad_keys[0])}")
        own = OrderedDict(self._named_state())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"{owner}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        values, wrong = {}, []
        for name, p in own.items():
            if name in state_dict:
                value = state_dict[name]
                # the tensor dtype rule (complex, None/object, strings refused); arrays keep their
                # dtype (no copy here: copyto casts), Python lists take the parameter's dtype
                dtype = None if isinstance(value, (np.ndarray, Tensor)) else p.data.dtype
                try:
                    values[name] = _as_array(value, dtype)
                except (TypeError, ValueError, OverflowError) as e:
                    raise type(e)(f"{owner}: {name!r}: {e}") from None
                if values[name].shape != p.data.shape:
                    wrong.append(f"{name} has shape {p.data.shape} in the model but "
                                 f"{values[name].shape} in the state dict")
        if wrong:
            raise ValueError(f"{owner}: " + "; ".join(wrong))
        for name, value in values.items():
            np.copyto(own[name].data, value, casting="unsafe")
        return missing, unexpected

    def to(self, *args, dtype=None, device=None, non_blocking=False):
        """As ``torch.nn.Module.to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or
        ``to(tensor)`` (its dtype). The device must be "cpu" (the only one); a float dtype
        (float32 / float64) converts every parameter and float buffer in place. Returns self."""
        dtype, _ = to_args(args, dtype, device, "Module.to")
        if dtype is None:
            return self
        dtype = as_dtype(dtype, "Module.to")
        if dtype.kind != "f":
            raise TypeError(f"Module.to expects a float dtype, got {dtype}")
        for p in self.parameters():
            if p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                p.grad = None if p.grad is None else p.grad.astype(dtype)
        for b in self.buffers():
            if b.data.dtype.kind == "f" and b.data.dtype != dtype:
                b.data = b.data.astype(dtype)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def train(self, mode=True):
        mode = check_bool(mode, f"{type(self).__name__}.train(mode)")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        """Drop every parameter's gradient (``.grad = None``, PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def num_parameters(self):
        return sum(p.data.size for p in self.parameters())

    # ------------------------------------------------------------------ repr
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
