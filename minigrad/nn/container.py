"""Containers that register what they hold: Sequential, ModuleList, ModuleDict, ParameterList,
ParameterDict (PyTorch's names and behaviour).

A plain Python list of layers assigned to a module is invisible to ``parameters()`` and
``state_dict()``; these containers register each element under its index (``layers.0.weight``)
or key, exactly as PyTorch names them, so state dicts move between the two unchanged.
"""
from collections import OrderedDict

from ..grad_mode import describe
from ..tensor import Tensor
from .module import Module, Parameter


def _index(i, n, what):
    """An int index into a container of length n (negative allowed) -> 0..n-1."""
    if not hasattr(i, "__index__") or isinstance(i, bool):
        raise TypeError(f"{what} indices must be integers or slices, got {type(i).__name__} {i!r}")
    i = i.__index__()
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for a {what} of length {n}")
    return i % n


def _check_module(m, what, where):
    if not isinstance(m, Module):
        raise TypeError(f"{what} expects Modules, {where} is {type(m).__name__}")
    return m



def _iterable(values, where):
    """``values`` when it can be iterated (not a string), else a TypeError naming ``where`` and it."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{where} expects an iterable, got {describe(values)}")
    return values

class Sequential(Module):
    """Modules applied one after another; ``Sequential(a, b)(x) == b(a(x))``.

    Also ``Sequential(OrderedDict([('fc', Linear(...)), ...]))`` to name the children.
    A module returning a tuple (a recurrent layer's ``(output, state)``) may only be last: the
    next module would receive the tuple, so that raises a clear TypeError.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, _check_module(m, "Sequential", f"entry {name!r}"))
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), _check_module(m, "Sequential", f"argument {i}"))

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        mods = list(self._modules.items())
        if isinstance(i, slice):
            return Sequential(OrderedDict(mods[i]))
        return mods[_index(i, len(mods), "Sequential")][1]

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), _check_module(module, "Sequential", "the appended value"))
        return self

    def forward(self, x):
        mods = list(self._modules.items())
        for k, (name, m) in enumerate(mods):
            if isinstance(x, tuple) and k > 0:
                prev = mods[k - 1]
                raise TypeError(
                    f"Sequential: module {prev[0]!r} ({type(prev[1]).__name__}) returned a tuple of "
                    f"{len(x)} values, but the next module {name!r} ({type(m).__name__}) takes one tensor. "
                    "A recurrent layer returns (output, h_n): write a Module whose forward calls it and "
                    "keeps the output (out, _ = self.rnn(x)), or put the recurrent layer last")
            x = m(x)
        return x


class ModuleList(Module):
    """A list of sub-modules, registered under their indices ("0", "1", ...) like PyTorch's.

    Supports indexing (int or slice), ``len``, iteration, ``append``, ``extend``, ``insert``,
    ``+=``, item assignment and deletion (later indices shift down, as in PyTorch). It has no
    ``forward``: iterate over it in your own module's forward.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self):
        return list(self._modules.values())

    def _reset(self, mods):
        self._modules.clear()
        for i, m in enumerate(mods):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, i):
        mods = self._items()
        if isinstance(i, slice):
            return ModuleList(mods[i])
        return mods[_index(i, len(mods), "ModuleList")]

    def __setitem__(self, i, module):
        mods = self._items()
        mods[_index(i, len(mods), "ModuleList")] = _check_module(module, "ModuleList", "the assigned value")
        self._reset(mods)

    def __delitem__(self, i):
        mods = self._items()
        if isinstance(i, slice):
            del mods[i]
        else:
            del mods[_index(i, len(mods), "ModuleList")]
        self._reset(mods)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(self._items() + list(other))

    def append(self, module):
        self._modules[str(len(self))] = _check_module(module, "ModuleList", "the appended value")
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend expects an iterable of Modules, got a single "
                            f"{type(modules).__name__} (use append)")
        for k, m in enumerate(_iterable(modules, "ModuleList.extend")):
            self.append(_check_module(m, "ModuleList", f"element {k}"))
        return self

    def insert(self, index, module):
        mods = self._items()
        mods.insert(index, _check_module(module, "ModuleList", "the inserted value"))
        self._reset(mods)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it in your module's forward")


class ModuleDict(Module):
    """An ordered dict of sub-modules, registered under their keys (PyTorch's ModuleDict)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, _check_module(module, "ModuleDict", f"the value for {key!r}"))

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        m = self[key]
        del self._modules[key]
        return m

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        pairs = modules.items() if hasattr(modules, "items") else _iterable(modules, "ModuleDict.update")
        for pair in pairs:
            key, m = pair
            self[key] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): index it in your module's forward")


def _as_parameter(p, where):
    if isinstance(p, Parameter):
        return p
    if isinstance(p, Tensor):               # as PyTorch: a plain tensor becomes a Parameter
        return Parameter(p.data, dtype=p.data.dtype)
    raise TypeError(f"{where} must be a Parameter or a Tensor, got {type(p).__name__}")


class ParameterList(Module):
    """A list of parameters registered under their indices (plain tensors become Parameters)."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, i):
        ps = list(self._parameters.values())
        if isinstance(i, slice):
            return ParameterList(ps[i])
        return ps[_index(i, len(ps), "ParameterList")]

    def __setitem__(self, i, p):
        n = len(self)
        self._parameters[str(_index(i, n, "ParameterList"))] = _as_parameter(p, "the assigned value")

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, p):
        self._parameters[str(len(self))] = _as_parameter(p, "the appended value")
        return self

    def extend(self, values):
        for k, p in enumerate(_iterable(values, "ParameterList.extend")):
            self.append(_as_parameter(p, f"element {k}"))
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward()")


class ParameterDict(Module):
    """An ordered dict of parameters registered under their keys (plain tensors become Parameters)."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._parameters:
            raise KeyError(f"ParameterDict has no key {key!r}; keys: {list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key, p):
        self.register_parameter(key, _as_parameter(p, f"the value for {key!r}"))

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def update(self, parameters):
        pairs = parameters.items() if hasattr(parameters, "items") else _iterable(parameters, "ParameterDict.update")
        for key, p in pairs:
            self[key] = p

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict has no forward()")
