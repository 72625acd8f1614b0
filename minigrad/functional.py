"""``minigrad.functional``: an alias of :mod:`minigrad.nn.functional`, the home of the functional API.

    import minigrad.functional as F       # the same module object as minigrad.nn.functional

Kept so existing code keeps working; the module is replaced by the real one in ``sys.modules``,
so there is one copy of every function (and of its state) under both names.
"""
import sys

from .nn import functional as _functional

sys.modules[__name__] = _functional
