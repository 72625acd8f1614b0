"""Seeding: the one random number generator that minigrad's own randomness draws from.

Dropout masks (and parameter initialisation) draw from a module-level
``numpy.random.Generator``. ``manual_seed(s)`` re-seeds that generator *in place*, so code that
fetched it earlier with ``default_generator()`` sees the new stream too, and two runs that call
``manual_seed`` with the same seed draw exactly the same numbers. Until ``manual_seed`` is called
the generator is seeded from operating-system entropy (NumPy's default).

Functions that draw random numbers also accept an explicit ``generator=`` so a caller can keep a
private, independent stream.

Threads: the default generator is shared by all threads. NumPy serialises its draws with a lock,
so concurrent use is safe, but which thread gets which numbers depends on how the threads
interleave; threads that must reproduce a run exactly (e.g. dropout in concurrent training) pass
each its own ``generator=``.
"""
import numbers

import numpy as np

from .grad_mode import describe

_generator = np.random.Generator(np.random.PCG64())


def manual_seed(seed):
    """Re-seed minigrad's default generator with the non-negative integer ``seed``; returns it."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an integer, got {describe(seed)}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    # Replace the bit generator's state rather than the Generator object: references handed out
    # by default_generator() stay valid.
    _generator.bit_generator.state = np.random.PCG64(int(seed)).state
    return _generator


def default_generator():
    """The module-level ``numpy.random.Generator`` used when no ``generator=`` is given."""
    return _generator


def check_generator(generator, fname):
    """``generator`` (a ``numpy.random.Generator``), or minigrad's default generator for None."""
    if generator is None:
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{fname}: generator must be a numpy.random.Generator or None, got "
                        f"{describe(generator)}")
    return generator
