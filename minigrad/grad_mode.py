"""Grad mode and the per-thread state of the tape, with PyTorch's names.

``no_grad()``, ``enable_grad()`` and ``set_grad_enabled(mode)`` switch recording off and on; as in
PyTorch they work as context managers and as decorators (``@no_grad`` also bare, and on generator
functions), and the mode is per thread. So is the backward pass a thread is running (the engine
that ``Function.grad_buffer`` hands out buffers from): both live in ``_state``, a
``threading.local`` that ``Function.apply`` reads once per op. Also here: ``describe`` and
``check_bool``, the package's shared pieces of error messages.
"""
import functools
import inspect
import threading

import numpy as np


class _ThreadState(threading.local):
    """Per-thread tape state, as PyTorch keeps grad mode per thread.

    The class attributes are the defaults every thread starts from (grad mode on, no backward
    running); an assignment creates the thread's own value. Two threads training independent
    models therefore never see each other's ``no_grad`` or each other's backward pass. Read in
    ``Function.apply`` as one attribute lookup (``_state.grad_enabled``).
    """

    grad_enabled = True
    engine = None          # the _Engine of the backward pass running in this thread, if any


_state = _ThreadState()


def describe(value):
    """``"<type> <repr>"`` for error messages, the repr cut to 80 characters (used package-wide)."""
    r = repr(value)
    return f"{type(value).__name__} {r if len(r) <= 80 else r[:77] + '...'}"


def check_bool(value, what):
    """``value`` as a bool, or a TypeError naming ``what`` and the value (``'no'`` would be truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be a bool, got {describe(value)}")
    return bool(value)


class _GradModeContext:
    """Sets this thread's grad mode to ``mode`` inside a ``with`` block (or each call of a
    decorated function) and restores the previous mode on exit: the base of ``no_grad`` and
    ``enable_grad``.

    Re-entrant and shareable between threads: the modes to restore are kept per thread, on a
    stack, so one instance may be entered again while already active (nesting, recursion) or
    from several threads at once.
    """

    def __init__(self, mode):
        self._mode = mode
        self._prev = {}        # thread id -> stack of modes to restore on __exit__

    def __enter__(self):
        self._prev.setdefault(threading.get_ident(), []).append(_state.grad_enabled)
        _state.grad_enabled = self._mode
        return self

    def __exit__(self, *exc):
        tid = threading.get_ident()
        stack = self._prev[tid]
        _state.grad_enabled = stack.pop()
        if not stack:
            del self._prev[tid]
        return False

    def __call__(self, fn):
        """Decorator: every call of ``fn`` runs under this mode."""
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}() used as a decorator needs a callable, got {describe(fn)}")
        scope = _GradModeContext(self._mode)
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(fn, scope)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with scope:
                return fn(*args, **kwargs)
        return wrapper


def _generator_in_mode(fn, scope):
    """Decorated generator function: the mode holds while the generator's own code runs (each
    resumption), not while the caller runs between two ``next`` calls -- as PyTorch does."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with scope:
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with scope:
                        gen.close()
                    raise
                except BaseException as e:
                    with scope:
                        response = gen.throw(e)
                else:
                    with scope:
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value
    return wrapper


class _NoParamGradMode(_GradModeContext):
    """``@no_grad()`` and, as PyTorch 2 allows, the bare ``@no_grad`` both decorate."""

    _fixed_mode = False

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)                # used as @no_grad without parentheses

    def __init__(self, orig_func=None):
        super().__init__(self._fixed_mode)


class no_grad(_NoParamGradMode):
    """Context manager (and decorator) under which no operation is recorded on the tape.

    As ``torch.no_grad``: the mode is per thread (another thread keeps recording), nesting
    restores the enclosing mode, and ``enable_grad()`` inside switches recording back on.
    """

    _fixed_mode = False


class enable_grad(_NoParamGradMode):
    """Context manager (and decorator) that switches recording on, e.g. inside ``no_grad``;
    per thread, like ``torch.enable_grad``."""

    _fixed_mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(mode)``: switch recording on or off in this thread, as PyTorch.

    Called as a function it takes effect at once (``mg.set_grad_enabled(False)``); used as a
    context manager (``with mg.set_grad_enabled(is_train):``) or decorator, the previous mode is
    restored on exit. ``mode`` must be a bool.
    """

    def __init__(self, mode):
        super().__init__(check_bool(mode, "set_grad_enabled: mode"))
        self._set_prev = _state.grad_enabled
        _state.grad_enabled = self._mode      # immediate, as torch.set_grad_enabled(False)

    def __enter__(self):
        return self                           # the mode was already set by __init__

    def __exit__(self, *exc):
        _state.grad_enabled = self._set_prev
        return False

    def __call__(self, fn):
        _state.grad_enabled = self._set_prev  # as a decorator it must not change the mode now
        return super().__call__(fn)


def is_grad_enabled():
    """Whether operations are recorded in this thread (see ``no_grad``, ``set_grad_enabled``)."""
    return _state.grad_enabled
