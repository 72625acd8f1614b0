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

__version__ = "0.1.0"
__all__ = ["CheckpointError", "Function", "GradcheckError", "Tensor", "default_generator", "get_num_threads",
           "enable_grad", "gradcheck", "is_grad_enabled", "load", "manual_seed", "no_grad", "save",
           "set_grad_enabled", "set_num_threads",
           "tape_summary", "tensor", "draw_tape", "bptt", "datasets",
           "ops", "matmul", "concat", "stack", "split", "where", "exp", "log", "tanh", "sigmoid", "relu"]
