"""minigrad: a small reverse-mode autograd engine with a C core, built for recurrent models.

    import minigrad as mg
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
"""
from .kernels import get_num_threads, set_num_threads
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Function, Tensor, tensor
from .gradcheck import GradcheckError, gradcheck
from .random import default_generator, manual_seed
from .tape_summary import tape_summary
from .draw import draw_tape
from .serialization import CheckpointError, load, save
from . import ops
from . import bptt, datasets
from .ops import concat, exp, log, matmul, relu, sigmoid, split, stack, tanh, where
# PyTorch's tensor surface (issue 14): functions, factories, dtype and device names
from .ops import (argmax, argmin, cat, chunk, clone, cos, flatten, log1p, masked_fill, narrow, sin,
                  sqrt, squeeze, unsqueeze)
from .creation import (arange, empty, empty_like, from_numpy, full, full_like, linspace, ones,
                       ones_like, rand, rand_like, randint, randint_like, randn, randn_like, zeros,
                       zeros_like)
from .dtypes import (bool, device, double, float, float32, float64, int, int8, int16, int32, int64,
                     long, short, uint8)
# torch.max(x, 1) / torch.sum(x) ...: attributes only, left out of __all__ so that a star import
# does not shadow the builtins max, min, sum and abs
from .ops import abs, clamp, max, mean, min, permute, reshape, sum, transpose
# `import minigrad` loads the whole library, as `import torch` does (torch.nn, torch.optim ...)
from . import nn, optim, utils   # nn first: minigrad.functional is an alias of nn.functional
from . import functional

__version__ = "0.1.0"
__all__ = ["CheckpointError", "Function", "GradcheckError", "Tensor", "default_generator", "get_num_threads",
           "enable_grad", "gradcheck", "is_grad_enabled", "load", "manual_seed", "no_grad", "save",
           "set_grad_enabled", "set_num_threads",
           "tape_summary", "tensor", "draw_tape", "bptt", "datasets",
           "ops", "matmul", "concat", "stack", "split", "where", "exp", "log", "tanh", "sigmoid", "relu",
           "argmax", "argmin", "cat", "chunk", "clone", "cos", "flatten", "log1p", "masked_fill", "narrow",
           "sin", "sqrt", "squeeze", "unsqueeze",
           "arange", "empty", "empty_like", "from_numpy", "full", "full_like", "linspace", "ones",
           "ones_like", "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "zeros",
           "zeros_like",
           "device", "double", "float32", "float64", "int8", "int16", "int32", "int64", "long", "short",
           "uint8", "functional", "nn", "optim", "utils"]
# mg.bool, mg.float and mg.int are attributes only: in __all__ a star import would shadow builtins
