"""Module and Parameter: how models hold their weights, as in PyTorch.

A :class:`Module` registers every :class:`Parameter` and sub-module assigned to it as an attribute,
so ``named_parameters()`` can walk the tree and ``state_dict()`` can name every weight with a
dotted path (``encoder.rnn.weight_hh_l0``) -- the same names PyTorch uses, so weights move
between the two as plain NumPy arrays.
"""
from collections import OrderedDict

import numpy as np

from ..tensor import Tensor


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


class Module:
    """Base class of every layer and model.

    Subclasses assign parameters and sub-modules in ``__init__`` and implement ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
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
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter) or (value is None and was_param):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        if name in d.get("_parameters", ()):
            return d["_parameters"][name]
        if name in d.get("_modules", ()):
            return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
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
            stack[0:0] = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items()]

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

    def apply(self, fn):
        for m in self.modules():
            fn(m)
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """Ordered ``name -> ndarray`` of every parameter (the arrays themselves, not copies).

        As in PyTorch, a parameter shared by two modules (tied weights) appears under every name
        it has, so a PyTorch state_dict of a tied model loads unchanged.
        """
        return OrderedDict((name, p.data) for name, p in self.named_parameters(remove_duplicate=False))

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters in place (cast to each parameter's dtype).

        With ``strict`` every name must match; the error lists all missing and unexpected names.
        Shapes must always match: every mismatch is named, and nothing is copied unless all
        shapes match (no half-loaded model). Returns ``(missing, unexpected)`` name lists.
        """
        own = OrderedDict(self.named_parameters(remove_duplicate=False))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        values, wrong = {}, []
        for name, p in own.items():
            if name in state_dict:
                value = state_dict[name]
                values[name] = np.asarray(value.data if isinstance(value, Tensor) else value)
                if values[name].shape != p.data.shape:
                    wrong.append(f"{name} has shape {p.data.shape} in the model but "
                                 f"{values[name].shape} in the state dict")
        if wrong:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(wrong))
        for name, value in values.items():
            np.copyto(own[name].data, value, casting="unsafe")
        return missing, unexpected

    def to(self, dtype):
        """Convert every parameter to ``dtype`` (np.float32 / np.float64) in place; returns self."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to expects a float dtype, got {dtype}")
        for p in self.parameters():
            if p.data.dtype != dtype:
                p.data = p.data.astype(dtype)
                p.grad = None if p.grad is None else p.grad.astype(dtype)
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
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
