"""Activation modules: ``nn.Tanh()``, ``nn.ReLU()``, ... wrapping the functional forms, as PyTorch.

    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3), nn.LogSoftmax(dim=1))

Each module holds only its constructor arguments; the work is one tape node from
:mod:`minigrad.nn.functional` (or :mod:`minigrad.ops`), so a module and its function give
identical results.
"""
from .. import ops
from . import functional as F
from .argcheck import check_int
from .module import Module


class Identity(Module):
    """Returns its input unchanged (extra constructor arguments are ignored, as PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Tanh(Module):
    def forward(self, input):
        return ops.tanh(input)


class ReLU(Module):
    """max(0, x). ``inplace=True`` is accepted for compatibility and computes out of place
    (minigrad's tape never overwrites a saved input)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input):
        return ops.relu(input)


class Sigmoid(Module):
    def forward(self, input):
        return ops.sigmoid(input)


class GELU(Module):
    """x * Phi(x); ``approximate='tanh'`` uses PyTorch's tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """Softmax along ``dim`` (default: the last axis; PyTorch guesses with a warning)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else check_int(dim, "Softmax", "dim")

    def forward(self, input):
        return F.softmax(input, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim`` (default: the last axis), stable for huge logits."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = None if dim is None else check_int(dim, "LogSoftmax", "dim")

    def forward(self, input):
        return F.log_softmax(input, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Flatten(Module):
    """Flatten dims ``start_dim`` .. ``end_dim`` into one (defaults keep the batch axis 0)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = check_int(start_dim, "Flatten", "start_dim")
        self.end_dim = check_int(end_dim, "Flatten", "end_dim")

    def forward(self, input):
        shape = input.shape
        n = len(shape)
        s, e = self.start_dim, self.end_dim
        if not (-max(n, 1) <= s < max(n, 1) and -max(n, 1) <= e < max(n, 1)):
            raise ValueError(f"Flatten: start_dim={s}, end_dim={e} out of range for an input of shape {shape}")
        s, e = s % max(n, 1), e % max(n, 1)
        if n == 0:
            return ops.reshape(input, (1,))
        if s > e:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for an "
                             f"input of shape {shape}")
        size = 1
        for d in shape[s:e + 1]:
            size *= d
        return ops.reshape(input, tuple(shape[:s]) + (size,) + tuple(shape[e + 1:]))

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
