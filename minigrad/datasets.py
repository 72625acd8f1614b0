"""Reading data sets from disk: the IDX format of MNIST (and Fashion-MNIST, EMNIST, KMNIST).

    images = load_idx("train-images-idx3-ubyte.gz")     # uint8 (60000, 28, 28)
    (x_tr, y_tr), (x_te, y_te) = load_mnist("~/data/mnist")

An IDX file is a tiny header followed by one big-endian array:

    bytes 0-1   0x00 0x00                     (magic, part 1)
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64                  (magic, part 2)
    byte  3     number of dimensions n        (magic, part 3)
    4 * n       each dimension as a big-endian uint32
    rest        the elements, C order, big-endian

Files may be gzip-compressed (detected by the gzip magic 1f 8b, not by the file name). The loader
checks everything it can -- magic, element type, declared size against the bytes present -- and
names the file and the numbers in every error. Arrays come back in native byte order.
No download happens here: point it at files you already have.
"""
import gzip
import os
import struct
import zlib

import numpy as np

from .fileio import as_path, open_regular

__all__ = ["IDX_DTYPES", "IDXError", "load_idx", "save_idx", "load_mnist"]

#: IDX type code -> NumPy dtype (big-endian, as stored in the file)
IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """A file that is not a well-formed IDX file (bad magic, unknown type, truncated, ...)."""


def _read_bytes(path):
    f, _ = open_regular(path, IDXError, "not an IDX file")
    with f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:      # BadGzipFile is an OSError
            raise IDXError(f"{path}: looks gzip-compressed but cannot be decompressed ({e})") from None
    return raw


def load_idx(path):
    """Read an IDX file (raw or gzip) into a NumPy array of its shape, in native byte order."""
    path = as_path("load_idx", path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IDXError(f"{path}: {len(raw)} bytes is too short for an IDX header (4 bytes of magic)")
    if raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: bad IDX magic {raw[:4].hex()} (must start with 0000); "
                       "not an IDX file (or compressed with something other than gzip)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise IDXError(f"{path}: unknown IDX element type 0x{code:02x}; known: "
                       + ", ".join(f"0x{c:02x} {d.name}" for c, d in IDX_DTYPES.items()))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header: {ndim} dimensions need {header} bytes, file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have < need:
        raise IDXError(f"{path}: truncated data: shape {shape} of {dtype.name} needs {need} bytes, "
                       f"only {have} present")
    if have > need:
        raise IDXError(f"{path}: {have - need} unexpected bytes after the data of shape {shape} "
                       f"({dtype.name}); the header does not describe this file")
    arr = np.frombuffer(raw, dtype=dtype, count=need // dtype.itemsize, offset=header)
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def save_idx(path, array, compress=None):
    """Write ``array`` as an IDX file; gzip when ``compress`` is true (default: path ends in .gz)."""
    path = as_path("save_idx", path)
    a = np.asarray(array)
    for code, dt in IDX_DTYPES.items():
        if a.dtype.kind == dt.kind and a.dtype.itemsize == dt.itemsize:
            break
    else:
        raise TypeError(f"save_idx: dtype {a.dtype} has no IDX type code; use uint8, int8, int16, int32, "
                        "float32 or float64")
    if a.ndim > 255 or any(d >= 2 ** 32 for d in a.shape):
        raise ValueError(f"save_idx: shape {a.shape} does not fit the IDX header")
    data = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + \
        np.ascontiguousarray(a, dtype=dt).tobytes()
    if compress is None:
        compress = path.endswith(".gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)


_MNIST_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
                "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def _find(directory, stem):
    # the usual spellings: train-images-idx3-ubyte, train-images.idx3-ubyte, each optionally .gz
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(f"{directory}: no {stem}[.gz] (the standard MNIST file names are "
                            + ", ".join(_MNIST_FILES.values()) + ", optionally gzipped)")


def load_mnist(directory):
    """The four standard MNIST IDX files of ``directory``: ((x_train, y_train), (x_test, y_test)).

    Images are uint8 (N, rows, cols), labels uint8 (N,); counts must match.
    """
    directory = as_path("load_mnist", directory)
    arrays = {k: load_idx(_find(directory, v)) for k, v in _MNIST_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise IDXError(f"{directory}: {split} images {x.shape} and labels {y.shape} do not match "
                           "(expected (N, rows, cols) and (N,))")
    return ((arrays["train_images"], arrays["train_labels"]),
            (arrays["test_images"], arrays["test_labels"]))
