"""Checkpoints: ``mg.save(obj, path)`` / ``mg.load(path)`` for state dicts, without pickle.

    mg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.npz")
    ckpt = mg.load("ckpt.npz")

What can be saved: NumPy arrays (any non-object dtype, including 0-d and empty ones), NumPy
scalars, Python ``int``/``float``/``bool``/``str``/``None``, and dicts, lists and tuples nesting
them. Dict keys may be ``str``, ``int``, ``float``, ``bool`` or ``None`` (optimizer state dicts
use integer keys); they come back with their type.

File format (a plain ``.npz`` written by ``np.savez``, readable with ``np.load``):
  * every array is one member, named after its path in the structure, for example
    ``data/optim/state/0/exp_avg`` (characters outside ``[A-Za-z0-9_.-]`` become ``_``; a
    ``~n`` suffix keeps names unique);
  * the member ``__minigrad__`` is a uint8 array holding a UTF-8 JSON manifest: a format magic
    string and version, the structure tree (scalars inline, arrays by member name) and, for each
    array, its dtype, shape and the sha256 of its bytes (C order).
Loading never unpickles anything (``allow_pickle=False``), so opening a file cannot run code.

Atomicity: ``save`` writes a temporary file in the target's directory, flushes and fsyncs it and
then ``os.replace``s it over the target, so a crash or an exception mid-write leaves the previous
checkpoint untouched (and the temporary file is removed when Python is still in control).
"""
import hashlib
import json
import math
import os
import re
import secrets
import zipfile
import zlib

import numpy as np

__all__ = ["CheckpointError", "load", "save", "FORMAT_MAGIC", "FORMAT_VERSION"]

FORMAT_MAGIC = "minigrad-checkpoint"
FORMAT_VERSION = 1
_MANIFEST = "__minigrad__"
_PREFIX = "data/"          # array members live under data/ so they never clash with the manifest
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that cannot be loaded as a minigrad checkpoint; the message names the path and why."""


# ---------------------------------------------------------------------------------------- saving
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def _component(key):
    part = _SAFE.sub("_", str(key)) or "_"
    return "_" * len(part) if set(part) == {"."} else part     # no "." / ".." path components


def _encode_key(key, where):
    """A dict key as a JSON value that records its type."""
    if key is None or isinstance(key, (bool, str)):
        return key
    if isinstance(key, (int, np.integer)):
        return {"int": int(key)}
    if isinstance(key, (float, np.floating)):
        return {"float": _encode_float(float(key))}
    raise TypeError(f"mg.save: dict key {key!r} at {where} has type {type(key).__name__}; "
                    "keys must be str, int, float, bool or None")


def _encode_float(x):
    return x if math.isfinite(x) else repr(x)          # 'nan', 'inf', '-inf' (strict JSON)


def _decode_float(x):
    return float(x)


def _decode_key(k):
    if isinstance(k, dict):
        return int(k["int"]) if "int" in k else _decode_float(k["float"])
    return k


class _Flattener:
    """Walks the object once, collecting arrays and building the JSON structure tree."""

    def __init__(self):
        self.arrays = {}        # member name -> ndarray
        self.meta = {}          # member name -> {"dtype", "shape", "sha256"}
        self._active = set()    # ids of containers on the current path (cycle detection)

    def _add_array(self, a, path):
        if a.dtype.hasobject:
            raise TypeError(f"mg.save: the array at {'/'.join(path) or '<root>'} has dtype {a.dtype}; "
                            "object arrays would need pickle and are not supported")
        base = _PREFIX + ("/".join(_component(p) for p in path) or "_root")
        name, n = base, 1
        while name in self.arrays:
            name, n = f"{base}~{n}", n + 1
        self.arrays[name] = a
        self.meta[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _digest(a)}
        return name

    def node(self, obj, path):
        where = "/".join(str(p) for p in path) or "<root>"
        if isinstance(obj, np.generic):      # first: np.float64 / np.str_ subclass float / str
            return {"t": "scalar", "k": self._add_array(np.asarray(obj), path)}
        if obj is None or isinstance(obj, (bool, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": _encode_float(obj)}
        if isinstance(obj, np.ndarray):
            return {"t": "array", "k": self._add_array(obj, path)}
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._active:
                raise ValueError(f"mg.save: the object contains itself at {where}")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    keys = [_encode_key(k, where) for k in obj]
                    vals = [self.node(v, path + [k]) for k, v in obj.items()]
                    return {"t": "dict", "keys": keys, "vals": vals}
                items = [self.node(v, path + [i]) for i, v in enumerate(obj)]
                return {"t": "tuple" if isinstance(obj, tuple) else "list", "items": items}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"mg.save: cannot save an object of type {type(obj).__name__} at {where}; "
                        "supported: NumPy arrays/scalars, int, float, bool, str, None and "
                        "dicts/lists/tuples of them (convert tensors with .numpy() or state_dict())")


def _digest(a):
    """sha256 of the array's bytes in C order (the same on save and load whatever the layout)."""
    return hashlib.sha256(np.ascontiguousarray(a).reshape(-1).view(np.uint8)).hexdigest() \
        if a.size else hashlib.sha256(b"").hexdigest()


def _write_npz(f, arrays):
    """Write the members to an open binary file (a separate function so tests can fail it)."""
    np.savez(f, **arrays)


def _open_temp(directory, base):
    """Create a fresh temporary file next to the target (mode 0666 minus the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def _fsync_dir(directory):
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(obj, path):
    """Save ``obj`` (arrays, numbers, strings and nested dicts/lists/tuples) to ``path`` atomically.

    The file is written exactly at ``path`` (no ``.npz`` is appended). Unsupported objects raise
    ``TypeError`` before anything is written.
    """
    path = os.fspath(path)
    flat = _Flattener()
    root = flat.node(obj, [])
    manifest = {"format": FORMAT_MAGIC, "version": FORMAT_VERSION, "root": root, "arrays": flat.meta}
    text = json.dumps(manifest, allow_nan=False, separators=(",", ":"))
    members = dict(flat.arrays)
    members[_MANIFEST] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    directory = os.path.dirname(os.path.abspath(path))
    tmp, fd = _open_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


# --------------------------------------------------------------------------------------- loading
def _rebuild(node, arrays, path):
    t = node.get("t") if isinstance(node, dict) else None
    if t == "value":
        return node["v"]
    if t == "int":
        return int(node["v"])
    if t == "float":
        return _decode_float(node["v"])
    if t == "array":
        return arrays[node["k"]]
    if t == "scalar":
        return arrays[node["k"]][()]
    if t == "dict":
        return {_decode_key(k): _rebuild(v, arrays, path) for k, v in zip(node["keys"], node["vals"])}
    if t in ("list", "tuple"):
        items = [_rebuild(v, arrays, path) for v in node["items"]]
        return tuple(items) if t == "tuple" else items
    raise CheckpointError(f"{path}: damaged manifest (unknown node {str(node)[:80]!r})")


def _read_manifest(npz, path):
    if _MANIFEST not in npz.files:
        shown = ", ".join(npz.files[:5]) + (", ..." if len(npz.files) > 5 else "")
        raise CheckpointError(f"{path}: not a minigrad checkpoint: a .npz/zip file without the "
                              f"'{_MANIFEST}' manifest (members: {shown or 'none'})")
    raw = npz[_MANIFEST]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: damaged manifest (dtype {raw.dtype}, shape {raw.shape})")
    try:
        manifest = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: damaged manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_MAGIC:
        raise CheckpointError(f"{path}: not a minigrad checkpoint (the manifest has no "
                              f"'{FORMAT_MAGIC}' format tag)")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: damaged manifest (format version {version!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer minigrad (checkpoint format version "
                              f"{version}; this version reads up to {FORMAT_VERSION}); upgrade minigrad")
    return manifest


def load(path):
    """Load what ``save`` wrote. Arrays come back as (writable) NumPy arrays of the saved dtype.

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` (a
    ``ValueError``) naming ``path`` for anything that is not an intact minigrad checkpoint:
    a non-zip file, a truncated or damaged archive, a foreign ``.npz``, a newer format version or
    an array whose checksum does not match.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if head != _ZIP_MAGIC:
            what = "an empty file" if not head else f"starts with {head!r}, not a zip/.npz archive"
            raise CheckpointError(f"{path}: not a minigrad checkpoint ({what})")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                manifest = _read_manifest(npz, path)
                arrays = {}
                for name, meta in manifest["arrays"].items():
                    if name not in npz.files:
                        raise CheckpointError(f"{path}: array '{name}' listed in the manifest is missing")
                    a = npz[name]
                    if a.dtype.str != meta["dtype"] or list(a.shape) != meta["shape"]:
                        raise CheckpointError(
                            f"{path}: array '{name}' is {a.dtype.str}{tuple(a.shape)}, the manifest "
                            f"says {meta['dtype']}{tuple(meta['shape'])}")
                    if _digest(a) != meta["sha256"]:
                        raise CheckpointError(f"{path}: checksum mismatch in array '{name}' (the file "
                                              "is corrupted or was modified)")
                    arrays[name] = a
                return _rebuild(manifest["root"], arrays, path)
        except CheckpointError:
            raise
        except zipfile.BadZipFile as e:
            if "CRC" in str(e):
                raise CheckpointError(f"{path}: checksum mismatch (zip CRC: {e}); the file is "
                                      "corrupted") from None
            raise CheckpointError(f"{path}: truncated or damaged zip archive ({e})") from None
        except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, zlib.error,
                zipfile.LargeZipFile) as e:
            # EOFError/ValueError: a member cut short or a malformed .npy header; zlib.error: a
            # damaged compressed member; Key/Type/AttributeError: a tagged manifest of the wrong shape.
            raise CheckpointError(f"{path}: truncated or damaged checkpoint "
                                  f"({type(e).__name__}: {e})") from None
