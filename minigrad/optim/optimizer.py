"""Base class shared by all optimizers: parameter groups, per-parameter state, state_dict.

Mirrors ``torch.optim.Optimizer`` closely enough that code written for PyTorch reads the same:

* ``param_groups`` is a list of dicts, each with a ``'params'`` list and the group's
  hyperparameters.  The update reads the hyperparameters from the group at every ``step()``,
  so writing ``opt.param_groups[i]['lr'] = x`` takes effect on the next step (LR schedulers
  rely on this).
* ``state`` maps a parameter to a dict of its optimizer state (``'step'``, moment buffers,
  ...).  It is keyed by object identity, so parameters need not be hashable and an
  elementwise ``__eq__`` on tensors cannot confuse it.
* ``state_dict()`` has PyTorch's layout ``{'state': {index: {...}}, 'param_groups':
  [{..., 'params': [indices]}]}`` where ``index`` numbers the parameters in group order.
  Buffers are NumPy arrays; both ``state_dict`` and ``load_state_dict`` copy them, so a saved
  dict never aliases live optimizer state.

A parameter is anything with ``.data`` (a float32/float64 NumPy array, updated IN PLACE because
other objects hold references to it) and ``.grad`` (an array of the same shape and dtype, or
None: such parameters are skipped by ``step()``, as in PyTorch).

Subclasses define ``_check_group(group)`` (raise on invalid hyperparameters),
``_update(w, g, state, group)`` (update one parameter array ``w`` in place given its gradient
``g``; ``g`` must never be modified, it belongs to the caller) and the per-parameter state they
keep: ``state_keys`` (present in every non-empty state; ``'step'`` is an integer, every other key
an array shaped like the parameter) and ``optional_state_keys`` (buffers created on demand).
``load_state_dict`` checks a loaded dict against these before changing anything. A subclass
that updates a whole group at once (Adam: one C call per group) overrides ``_step_group`` instead
of ``_update``.
"""
import copy
import math
import numbers
from collections.abc import Iterable, MutableMapping

import numpy as np

from ..grad_mode import check_bool, describe

from ..dtypes import FLOAT_DTYPES as _FLOAT_DTYPES


class _IdentityMap(MutableMapping):
    """A dict keyed by object identity (holds a reference to each key so ids stay unique)."""

    def __init__(self):
        self._d = {}

    def __getitem__(self, key):
        return self._d[id(key)][1]

    def get(self, key, default=None):    # once per parameter per step: skip Mapping.get's try
        entry = self._d.get(id(key))
        return default if entry is None else entry[1]

    def __setitem__(self, key, value):
        self._d[id(key)] = (key, value)

    def __delitem__(self, key):
        del self._d[id(key)]

    def __iter__(self):
        return (k for k, _ in self._d.values())

    def __len__(self):
        return len(self._d)

    def __repr__(self):
        return f"_IdentityMap({len(self)} entries)"

    # copy.deepcopy / pickle copy the keys (the parameters): re-key the copy by the copies' ids
    def __getstate__(self):
        return list(self._d.values())

    def __setstate__(self, pairs):
        self._d = {id(k): (k, v) for k, v in pairs}


_MODULE_HINT = " (to optimize a module's parameters pass model.parameters())"


def _is_param(obj):
    return hasattr(obj, "data") and hasattr(obj, "grad")


def _check_param(p, where):
    data = getattr(p, "data", None)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{where}: optimizer can only optimize parameters whose .data is a NumPy "
                        f"array, got {type(p).__name__} with .data of type {type(data).__name__}"
                        + _MODULE_HINT * hasattr(p, "parameters"))
    if data.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{where}: optimizer can only optimize float32/float64 parameters, "
                        f"got dtype {data.dtype} (shape {data.shape})")


def _check_grad(p, w, g, where):
    """The parameter's array and its gradient: float32/float64 ndarrays of one shape and dtype."""
    _check_param(p, where)
    if not isinstance(g, np.ndarray):
        raise TypeError(f"{where}: .grad must be a NumPy array, got {type(g).__name__}")
    if g.shape != w.shape:
        raise ValueError(f"{where}: gradient shape {g.shape} does not match parameter "
                         f"shape {w.shape}")
    if g.dtype != w.dtype:
        raise TypeError(f"{where}: gradient dtype {g.dtype} does not match parameter "
                        f"dtype {w.dtype}")


_ndarray = np.ndarray


class Optimizer:
    """Base class; see the module docstring. ``defaults`` fills keys a group does not set."""

    def __init__(self, params, defaults):
        self._check_group(defaults)           # catch bad constructor arguments up front
        self.defaults = dict(defaults)
        self.state = _IdentityMap()
        self.param_groups = []
        if (_is_param(params) or isinstance(params, (np.ndarray, str, bytes))
                or not isinstance(params, Iterable) or hasattr(params, "parameters")):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"parameters or dicts, but got {describe(params)}"
                            + _MODULE_HINT * hasattr(params, "parameters"))
        if isinstance(params, (set, frozenset, dict)):
            raise TypeError("params argument given to the optimizer should be an ordered iterable "
                            f"(list, tuple, generator) of parameters or dicts, got {type(params).__name__}")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        n_dicts = sum(isinstance(g, dict) for g in groups)
        if n_dicts == 0:
            groups = [{"params": groups}]
        elif n_dicts != len(groups):
            raise TypeError("params must be all parameters or all dicts (parameter groups), not a mix")
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group (dict with 'params' and optional hyperparameters overriding defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if _is_param(params):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of a set changes between runs; use a list")
        else:
            params = list(params)
        if len(params) == 0:
            raise ValueError("optimizer got an empty parameter list (a param group has no 'params')")
        gi = len(self.param_groups)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            _check_param(p, f"param group {gi}, parameter {i}")
            if id(p) in seen:
                raise ValueError(f"param group {gi}, parameter {i} (shape {p.data.shape}) appears more "
                                 "than once in the optimizer's parameters")
            seen.add(id(p))
        group = {k: v for k, v in param_group.items() if k != "params"}
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_group(self, group):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Reset gradients: ``p.grad = None`` (default) or fill the existing array with zeros."""
        check_bool(set_to_none, "set_to_none")
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def _gather(self):
        """[(group, [(p, p.data, p.grad), ...])] for parameters with a gradient; validates all of them
        before anything is updated, so a bad gradient leaves every parameter untouched. The groups'
        hyperparameters are checked again (a scheduler or the user may have written a NaN lr into
        ``param_groups``), and so is each parameter's state against its current array (a parameter
        replaced by one of another shape or dtype after the first step)."""
        work = []
        for gi, group in enumerate(self.param_groups):
            try:
                self._check_group(group)
            except (TypeError, ValueError) as e:
                raise type(e)(f"param group {gi}: {e}") from None
            items = []
            for i, p in enumerate(group["params"]):
                g = p.grad
                if g is None:
                    continue
                w = p.data
                # the usual case in one test; anything else gets the checks with their messages
                if not (type(w) is _ndarray and type(g) is _ndarray and w.dtype in _FLOAT_DTYPES
                        and g.dtype == w.dtype and g.shape == w.shape):
                    _check_grad(p, w, g, f"param group {gi}, parameter {i}")
                for k, v in (self.state.get(p) or {}).items():
                    if isinstance(v, np.ndarray) and (v.shape != w.shape or v.dtype != w.dtype):
                        raise ValueError(f"param group {gi}, parameter {i}: optimizer state {k!r} is "
                                         f"{v.dtype}{list(v.shape)} but the parameter is now "
                                         f"{w.dtype}{list(w.shape)} (it was replaced after the first "
                                         "step); build a new optimizer or load a matching state")
                items.append((p, w, g))
            work.append((group, items))
        return work

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        if closure is not None and not callable(closure):
            raise TypeError(f"step(closure): closure must be callable or None, got {describe(closure)}")
        loss = closure() if closure is not None else None
        for group, items in self._gather():
            self._step_group(group, items)
        return loss

    def _step_group(self, group, items):
        """Update one group's parameters, ``items`` = [(p, p.data, p.grad)] from ``_gather``: one
        ``_update`` each (Adam overrides this to update the whole group in one C call)."""
        for p, w, g in items:
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {}
            self._update(w, g, st, group)

    def _update(self, w, g, state, group):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    # ------------------------------------------------------------------ (de)serialisation
    def state_dict(self):
        """PyTorch layout; arrays are copies, hyperparameters deep-copied."""
        index, groups, start = {}, [], 0
        for group in self.param_groups:
            for i, p in enumerate(group["params"]):
                index.setdefault(id(p), start + i)
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(packed)
        state = {}
        for p, st in self.state.items():
            state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v))
                                   for k, v in st.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a dict made by ``state_dict()`` (or a PyTorch one converted to NumPy).

        Everything is validated before anything changes, so a failed load leaves the optimizer as
        it was: the number of groups and of parameters per group, the parameter indices, every
        hyperparameter (as the constructor does), and each parameter's state: the keys this
        optimizer needs (``state_keys``; an empty state is fine), ``'step'`` a non-negative
        integer, every buffer a real NumPy array of the parameter's shape (complex, object or bool
        arrays are rejected, not cast). Arrays are copied, cast to the parameter's dtype, so the
        dict is never aliased."""
        saved_groups, saved_state = check_state_dict_layout(state_dict)
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but the "
                             f"optimizer has {len(self.param_groups)}")
        by_index, new_groups = {}, []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            indices = saved.get("params") if isinstance(saved, dict) else None
            if not isinstance(indices, (list, tuple)):
                raise TypeError(f"loaded state dict's parameter group {gi} must be a dict with a 'params' "
                                f"list of indices, got {describe(saved)}")
            if len(indices) != len(group["params"]):
                raise ValueError(f"loaded state dict's parameter group {gi} has {len(indices)} "
                                 f"parameters, but the optimizer's group {gi} has {len(group['params'])}")
            for idx, p in zip(indices, group["params"]):
                if isinstance(idx, bool) or not isinstance(idx, numbers.Integral):
                    raise TypeError(f"loaded state dict's parameter group {gi} has parameter index "
                                    f"{idx!r} of type {type(idx).__name__}; expected an int")
                if idx in by_index:
                    raise ValueError(f"loaded state dict lists parameter index {idx} more than once")
                by_index[idx] = p
            if saved.get("maximize"):
                raise ValueError(f"loaded state dict's parameter group {gi} has maximize="
                                 f"{saved['maximize']!r}, which minigrad's optimizers do not support")
            new = {k: v for k, v in group.items() if k != "params"}      # keys missing from the save
            new.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
            self._check_group(new)
            new["params"] = group["params"]
            new_groups.append(new)
        new_state = _IdentityMap()
        for idx, st in saved_state.items():
            if idx not in by_index:
                raise ValueError(f"loaded state dict has state for parameter index {idx!r}, which is not "
                                 f"in any of its parameter groups")
            new_state[by_index[idx]] = self._load_param_state(idx, st, by_index[idx].data)
        self.param_groups = new_groups
        self.state = new_state

    state_keys = ()              # set by each subclass (see the module docstring)
    optional_state_keys = ()

    def _load_param_state(self, idx, st, w):
        """A validated copy of one parameter's loaded state (``w``: the parameter's array)."""
        where = f"loaded state for parameter index {idx}"
        if not isinstance(st, dict):
            raise TypeError(f"{where} must be a dict, got {type(st).__name__}")
        st = {k: v for k, v in st.items() if not (v is None and k in self.optional_state_keys)}
        if not st:
            return {}                           # not stepped yet: created on the first step
        name = type(self).__name__
        missing = [k for k in self.state_keys if k not in st]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(repr(k) for k in missing)} (the state of "
                             f"{name} has {list(self.state_keys)}), got keys {list(st)}")
        unknown = [k for k in st if k not in self.state_keys and k not in self.optional_state_keys]
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {', '.join(repr(k) for k in unknown)} for {name} "
                             f"(expected {list(self.state_keys + self.optional_state_keys)})")
        return {k: (_load_step(v, where) if k == "step" else _load_buffer(v, k, w, where))
                for k, v in st.items()}

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in group if k != "params"):
                lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def check_state_dict_layout(state_dict):
    """``(param_groups, state)`` of an optimizer state dict, or an error saying what it is instead."""
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict with keys 'state' and 'param_groups', got "
                        f"{describe(state_dict)}")
    if "state" not in state_dict or "param_groups" not in state_dict:
        raise ValueError(f"state_dict must be a dict with keys 'state' and 'param_groups', got keys "
                         f"{sorted(state_dict, key=repr)}")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(saved_groups, (list, tuple)):
        raise TypeError(f"state_dict['param_groups'] must be a list of dicts, got {type(saved_groups).__name__}")
    if not isinstance(saved_state, dict):
        raise TypeError(f"state_dict['state'] must be a dict, got {type(saved_state).__name__}")
    return saved_groups, saved_state


def with_weight_decay(g, w, weight_decay):
    """``g + weight_decay * w`` in a fresh array (one allocation); ``g`` is never modified."""
    out = np.multiply(w, weight_decay, out=np.empty_like(w))
    out += g
    return out


def lerp_(buf, value, weight, scratch):
    """``buf += weight * (value - buf)`` in place (torch's lerp form of a running average)."""
    np.subtract(value, buf, out=scratch)
    scratch *= weight
    buf += scratch


def ema_square_(buf, g, decay, scratch):
    """``buf = decay * buf + (1 - decay) * g^2`` in place (running average of squared gradients)."""
    np.multiply(g, g, out=scratch)
    scratch *= 1 - decay
    buf *= decay
    buf += scratch


def _load_step(v, where):
    """A loaded ``'step'`` as an int: an integer >= 0 (PyTorch keeps it as a 0-d float tensor,
    so a 0-d real array or an integral float is accepted too)."""
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "fiu":
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{where}: 'step' must be a non-negative integer, got {describe(v)}")
    if not (math.isfinite(v) and v >= 0 and v == int(v)):
        raise ValueError(f"{where}: 'step' must be a non-negative integer, got {v!r}")
    return int(v)


def _load_buffer(v, key, w, where):
    """A loaded state buffer as a fresh C-contiguous array of ``w``'s dtype, after checking it is a
    real NumPy array of ``w``'s shape."""
    if not isinstance(v, np.ndarray):
        raise TypeError(f"{where}: {key!r} must be a NumPy array, got {describe(v)}")
    if v.dtype.kind not in "fiu":
        raise TypeError(f"{where}: {key!r} has dtype {v.dtype}; expected real numbers (it is cast to "
                        f"the parameter's {w.dtype}, which {v.dtype} values cannot be without loss)")
    if v.shape != w.shape:
        raise ValueError(f"{where}: {key!r} has shape {v.shape}, but the parameter has shape {w.shape}")
    return np.array(v, dtype=w.dtype, order="C", copy=True)


def check_nonneg(group, *keys):
    """Raise unless every ``group[key]`` is a finite real number >= 0 (NaN and inf fail too), with
    PyTorch's messages ("Invalid learning rate: -0.1")."""
    for k in keys:
        v = group[k]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{k} must be a real number, got {describe(v)}")
        if not (0.0 <= v and math.isfinite(v)):
            raise ValueError(f"Invalid {_NAMES.get(k, k)}: {v}")


def check_flags(group, *keys):
    """Raise TypeError unless every ``group[key]`` is a bool (``nesterov='no'`` would be truthy)."""
    for k in keys:
        check_bool(group[k], k)


_NAMES = {"lr": "learning rate", "eps": "epsilon value", "weight_decay": "weight_decay value",
          "momentum": "momentum value", "alpha": "alpha value", "lr_decay": "lr_decay value",
          "dampening": "dampening value",
          "initial_accumulator_value": "initial_accumulator_value value"}
