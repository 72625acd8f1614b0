"""How a bad-input case is declared (shared by test_bad_inputs.py and the case lists it imports).

``C(id, code, raises, *frags)``: the snippet ``code`` must raise one of ``raises`` (classes or class
names) with a message holding every fragment in ``frags`` (a tuple fragment matches any of its
spellings), or set ``OK = True`` where a documented result is acceptable.
"""
from dataclasses import dataclass


@dataclass
class Case:
    id: str
    code: str
    raises: tuple         # exception class names; any of them
    frags: tuple          # each a string or a tuple of alternative spellings


def C(id, code, raises, *frags):
    names = raises if isinstance(raises, tuple) else (raises,)
    names = tuple(r if isinstance(r, str) else r.__name__ for r in names)
    return Case(id, code.strip(), names, frags)


TE, VE, IE, KE, RE = TypeError, ValueError, IndexError, KeyError, RuntimeError
CKPT = "CheckpointError"
