"""keras.datasets.mnist.load_data: MNIST as Keras returns it, from files already on this machine.

    (x_train, y_train), (x_test, y_test) = mnist.load_data()          # the default directories
    (x_train, y_train), (x_test, y_test) = mnist.load_data("~/data/mnist")

Keras downloads ``mnist.npz``; minigrad never downloads anything. ``load_data`` reads either the
four original IDX files (``train-images-idx3-ubyte`` ... , gzipped or not, through
``minigrad.datasets.load_mnist``, which checks magic numbers and sizes) or Keras's ``mnist.npz``
(arrays ``x_train y_train x_test y_test``), from the first of:

1. ``path``: a directory holding either form, or the ``.npz`` file itself;
2. ``$MINIGRAD_DATASETS/mnist/``;
3. ``~/.minigrad/datasets/mnist/``.

Missing files raise ``FileNotFoundError`` saying which files to put where; a corrupt file raises
``ValueError`` (``minigrad.datasets.IDXError`` for IDX files) naming the file and the problem.
The arrays are Keras's: images uint8 (N, 28, 28), labels uint8 (N,).
"""
import os
import zipfile

import numpy as np

from ...datasets import _MNIST_FILES, load_mnist
from ...fileio import as_path, open_regular

__all__ = ["load_data", "default_dirs"]

_NPZ = "mnist.npz"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def default_dirs():
    """The directories searched when ``load_data`` gets no ``path``, in order."""
    dirs = []
    if os.environ.get("MINIGRAD_DATASETS"):
        dirs.append(os.path.join(os.path.expanduser(os.environ["MINIGRAD_DATASETS"]), "mnist"))
    dirs.append(os.path.join(os.path.expanduser("~"), ".minigrad", "datasets", "mnist"))
    return dirs


def _has_idx(directory):
    # the spellings minigrad.datasets.load_mnist accepts (dash or dot before idx, optional .gz)
    def present(stem):
        dotted = stem.replace("-idx", ".idx")
        return any(os.path.isfile(os.path.join(directory, n)) for n in (stem, stem + ".gz", dotted, dotted + ".gz"))
    return all(present(stem) for stem in _MNIST_FILES.values())


def _load_npz(path):
    """The four arrays of a Keras ``mnist.npz``, checked (never unpickled)."""
    fh, _ = open_regular(path, ValueError, "not an mnist.npz file")
    try:
        with fh, np.load(fh, allow_pickle=False) as f:
            missing = [k for k in _NPZ_KEYS if k not in f.files]
            if missing:
                raise ValueError(f"{path}: not Keras's mnist.npz: no array {', '.join(missing)} "
                                 f"(it holds {', '.join(f.files) or 'nothing'}; expected {', '.join(_NPZ_KEYS)})")
            arrays = {k: f[k] for k in _NPZ_KEYS}
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f"{path}: cannot be read as an .npz archive ({e})") from None
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot be read as Keras's mnist.npz ({e})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"{path}: x_{split} {x.shape} and y_{split} {y.shape} do not match "
                             "(expected (N, rows, cols) and (N,))")
        if x.dtype != np.uint8 or y.dtype.kind not in "ui":
            raise ValueError(f"{path}: x_{split} is {x.dtype} and y_{split} {y.dtype}; expected uint8 images "
                             "and integer labels")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _missing_message(searched):
    idx = ", ".join(_MNIST_FILES.values())
    where = "\n".join(f"  {d}" for d in searched)
    return ("MNIST not found; minigrad does not download data sets. Searched:\n" + where +
            f"\nPut the four original IDX files ({idx}; each may be gzipped, .gz) or Keras's {_NPZ} "
            "into one of these directories (or set $MINIGRAD_DATASETS to a directory whose mnist/ "
            "holds them), or pass load_data(path=DIR_OR_NPZ).")


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))`` as Keras's ``mnist.load_data``, from local files.

    ``path`` is a directory with the IDX files or ``mnist.npz``, or the ``.npz`` file; None
    searches ``default_dirs()``. Images are uint8 (N, 28, 28), labels uint8 (N,).
    """
    if path is not None:
        path = as_path("mnist.load_data", path)
        if os.path.isfile(path):
            return _load_npz(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"mnist.load_data: {path} does not exist (expected a directory "
                                    f"with the MNIST files or an {_NPZ} file)\n" + _missing_message([path]))
        searched = [path]
    else:
        searched = default_dirs()
    for d in searched:
        if _has_idx(d):
            return load_mnist(d)
        if os.path.isfile(os.path.join(d, _NPZ)):
            return _load_npz(os.path.join(d, _NPZ))
    raise FileNotFoundError(_missing_message(searched))
