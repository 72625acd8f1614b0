"""minigrad: a small reverse-mode autograd engine with a C core, built for recurrent models."""
from .kernels import get_num_threads, set_num_threads

__version__ = "0.1.0"
__all__ = ["get_num_threads", "set_num_threads"]
