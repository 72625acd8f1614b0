"""Checkpoints: ``mg.save(obj, f)`` / ``mg.load(f)`` for state dicts and nested data, without pickle.

    mg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.npz")
    ckpt = mg.load("ckpt.npz")
    mg.save(data, open(path, "wb"))       # a binary file object works too (io.BytesIO, ...)

What can be saved: Tensors (they come back as Tensors of the same dtype and ``requires_grad``; a
``nn.Parameter`` comes back as a Parameter; ``.grad`` and the tape are not saved), NumPy arrays
(bool, integer, float, bytes/str and datetime dtypes; 0-d and empty ones too) and NumPy scalars,
Python ``int``/``float``/``bool``/``str``/``None``, and dicts, lists and tuples nesting them up to
``MAX_DEPTH`` levels (tuples stay tuples). Dict keys may be ``str``, ``int``, ``float``, ``bool``
or ``None``; they come back with their type (an int key is tagged in the manifest, so ``1`` and
``"1"`` stay distinct). Anything else -- a set, a lambda, an object or complex array, a cycle --
raises ``TypeError``/``ValueError`` naming where it is (``obj['optim']['state'][3]``) before
anything is written.

File format (a plain ``.npz`` written by ``np.savez``, readable with ``np.load``):
  * every array is one uncompressed member, named after its path in the structure, for example
    ``data/optim/state/0/exp_avg`` (characters outside ``[A-Za-z0-9_.-]`` become ``_``; a
    ``~n`` suffix keeps names unique);
  * the member ``__minigrad__`` is a uint8 array holding a UTF-8 JSON manifest: a format magic
    string and version, the structure tree (scalars inline, arrays by member name) and, for each
    array, its dtype, shape and the sha256 of its bytes (C order). Version 2 adds tensor nodes;
    files without tensors are still written as version 1.

Guarantees of ``load`` (a path or a readable binary file object):
  * it never unpickles anything, so opening a file cannot run code;
  * every bad input raises :class:`CheckpointError` (a ``ValueError``) naming the file and the
    problem -- not a zip, truncated, foreign, newer version, damaged or over-deep manifest, a
    member whose header, size or checksum disagrees with the manifest, a forbidden dtype, or a
    path that is not a regular file (a FIFO or a device is refused before it is opened, so it
    cannot block). A missing file raises ``FileNotFoundError``;
  * memory is bounded by the file's real size: every member's declared shape, dtype and sizes
    are checked against the manifest, the archive's size and deflate's maximum ratio
    (``_MAX_RATIO``) before any of its data is read or inflated, and the manifest's nesting
    depth is measured before it is parsed.

Limits: ``MAX_DEPTH`` (100) levels of nesting; ints of up to 13000 bits (Python cannot read longer
ones back from JSON); arrays declared in an uncompressed archive may total at most the file's size,
in a deflated one (a checkpoint recompressed by a zip tool) at most ``_MAX_RATIO`` times it. A file
object is read from its current position; an unseekable stream is read into memory first.
Saving to a directory, or to a file object not open for writing, raises before anything is
written; ``PermissionError`` and other ``OSError``s of the path itself pass through unchanged.

Atomicity of ``save`` to a path: it writes a temporary file ``.<name>.<host>-<pid>.<random>.tmp``
in the target's directory, flushes and fsyncs it and then ``os.replace``s it over the target, so
a crash, an exception or Ctrl-C mid-write leaves the previous checkpoint untouched. On any
exception (``KeyboardInterrupt`` included) the temporary file is removed. After ``kill -9`` or a
power loss it cannot be; the next ``save`` to the same path removes the temporary files of that
path whose writer is gone: same host tag, a pid that is no longer running (a live pid, e.g. a
second process saving the same path at the same moment, is never touched; a reused pid only
delays the cleanup). Files written from other hosts of a shared filesystem are left alone, and on
Windows (no cheap liveness test) no cleanup is done. Saving to a file object is not atomic:
the bytes go straight to the stream.
"""
import hashlib
import io
import json
import math
import os
import re
import secrets
import socket
import sys
import zipfile
import zlib

import numpy as np

from .fileio import open_regular
from .tensor import Tensor

__all__ = ["CheckpointError", "load", "save", "FORMAT_MAGIC", "FORMAT_VERSION", "MAX_DEPTH"]

FORMAT_MAGIC = "minigrad-checkpoint"
FORMAT_VERSION = 2         # the newest version this code reads (it writes 1 when it can)
MAX_DEPTH = 100            # nesting levels of dicts/lists/tuples that save writes and load reads
_MANIFEST = "__minigrad__"
_PREFIX = "data/"          # array members live under data/ so they never clash with the manifest
_ZIP_MAGIC = b"PK\x03\x04"
_ALLOWED_KINDS = "biufSUMm"   # no object (pickle), complex (minigrad has none) or void/structured
_MAX_RATIO = 1032             # deflate cannot expand data more than ~1032:1
_NPY_HEADER_MAX = 10000 + 16  # np.lib.format's header limit plus magic and length field
_CHUNK = 1 << 24              # members are read in 16 MiB pieces
_MAX_INT_BITS = 13000         # ~3900 decimal digits: below Python's int/str conversion limit


class CheckpointError(ValueError):
    """A file that cannot be loaded as a minigrad checkpoint; the message names the path and why."""


def _where(path):
    """``obj['optim']['state'][3]``: a key path as the user would index it."""
    return "obj" + "".join(f"[{k!r}]" for k in path)


# ---------------------------------------------------------------------------------------- saving
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def _component(key):
    part = _SAFE.sub("_", str(key)) or "_"
    return "_" * len(part) if set(part) == {"."} else part     # no "." / ".." path components


def _encode_key(key, path):
    """A dict key as a JSON value that records its type."""
    if key is None or isinstance(key, (bool, str)):
        return key
    if isinstance(key, (int, np.integer)):
        return {"int": int(key)}
    if isinstance(key, (float, np.floating)):
        return {"float": _encode_float(float(key))}
    raise TypeError(f"mg.save: dict key {key!r} in {_where(path)} has type {type(key).__name__}; "
                    "keys must be str, int, float, bool or None")


def _encode_float(x):
    return x if math.isfinite(x) else repr(x)          # 'nan', 'inf', '-inf' (strict JSON)


class _Flattener:
    """Walks the object once, collecting arrays and building the JSON structure tree."""

    def __init__(self):
        self.arrays = {}        # member name -> ndarray
        self.meta = {}          # member name -> {"dtype", "shape", "sha256"}
        self.version = 1        # 2 once a tensor node is written
        self._active = set()    # ids of containers on the current path (cycle detection)

    def _add_array(self, a, path):
        if a.dtype.kind not in _ALLOWED_KINDS:
            why = {"O": "object arrays would need pickle",
                   "c": "minigrad has no complex numbers"}.get(a.dtype.kind, "a structured dtype")
            raise TypeError(f"mg.save: the array at {_where(path)} has dtype {a.dtype}, which "
                            f"cannot be saved ({why})")
        base = _PREFIX + ("/".join(_component(p) for p in path) or "_root")
        name, n = base, 1
        while name in self.arrays:
            name, n = f"{base}~{n}", n + 1
        self.arrays[name] = a
        self.meta[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _digest(a)}
        return name

    def node(self, obj, path):
        if isinstance(obj, np.generic):      # first: np.float64 / np.str_ subclass float / str
            return {"t": "scalar", "k": self._add_array(np.asarray(obj), path)}
        if obj is None or isinstance(obj, (bool, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, int):
            if obj.bit_length() > _MAX_INT_BITS:      # JSON holds it, but Python cannot read it back
                raise ValueError(f"mg.save: the int at {_where(path)} has {obj.bit_length()} bits; "
                                 f"at most {_MAX_INT_BITS} can be saved")
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, float):
            return {"t": "float", "v": _encode_float(obj)}
        if isinstance(obj, np.ndarray):
            return {"t": "array", "k": self._add_array(obj, path)}
        if isinstance(obj, Tensor):
            self.version = 2
            node = {"t": "tensor", "k": self._add_array(obj.data, path), "rg": obj.requires_grad}
            nn_module = sys.modules.get(__package__ + ".nn.module")    # no nn loaded: no Parameter
            if nn_module is not None and isinstance(obj, nn_module.Parameter):
                node["param"] = True
            return node
        if isinstance(obj, (dict, list, tuple)):
            if len(path) >= MAX_DEPTH:
                raise ValueError(f"mg.save: {_where(path)} is nested deeper than MAX_DEPTH = "
                                 f"{MAX_DEPTH} levels of dicts/lists/tuples")
            if id(obj) in self._active:
                raise ValueError(f"mg.save: the object contains itself at {_where(path)}")
            self._active.add(id(obj))
            try:
                if isinstance(obj, dict):
                    keys = [_encode_key(k, path) for k in obj]
                    vals = [self.node(v, path + [k]) for k, v in obj.items()]
                    return {"t": "dict", "keys": keys, "vals": vals}
                items = [self.node(v, path + [i]) for i, v in enumerate(obj)]
                return {"t": "tuple" if isinstance(obj, tuple) else "list", "items": items}
            finally:
                self._active.discard(id(obj))
        raise TypeError(f"mg.save: cannot save an object of type {type(obj).__name__} at "
                        f"{_where(path)}; supported: Tensors, NumPy arrays/scalars, int, float, "
                        "bool, str, None and dicts/lists/tuples of them")


def _digest(a):
    """sha256 of the array's bytes in C order (the same on save and load whatever the layout)."""
    return hashlib.sha256(np.ascontiguousarray(a).reshape(-1).view(np.uint8)).hexdigest() \
        if a.size else hashlib.sha256(b"").hexdigest()


def _write_npz(f, arrays):
    """Write the members to an open binary file (a separate function so tests can fail it)."""
    np.savez(f, **arrays)


_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _temp_pattern(base):
    """The temporary names of ``base`` written on this host; group 1 is the writer's pid."""
    return re.compile(rf"\.{re.escape(base)}\.{_HOST}-(\d+)\.[0-9a-f]{{12}}\.tmp")


def _open_temp(directory, base):
    """Create a fresh temporary file next to the target (mode 0666 minus the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{_HOST}-{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def _pid_alive(pid):
    try:
        os.kill(pid, 0)                     # signal 0: existence test, nothing is sent
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True                         # someone else's process, or unsure: keep the file
    return True


def _remove_stale_temps(directory, base):
    """Remove temporaries of ``base`` left by killed writers on this host (see the docstring)."""
    if os.name == "nt":
        return                              # os.kill(pid, 0) is not a liveness test there
    pattern = _temp_pattern(base)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            pass                            # removed by another process meanwhile, or read-only


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


def _is_file_object(f, mode):
    """False for a path; True for a usable binary file object; a clear error for anything else."""
    if isinstance(f, (str, bytes, os.PathLike)):
        return False
    fn = "mg.save" if mode == "write" else "mg.load"
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{fn} needs a binary file object (open(path, '{mode[0]}b')), got a text "
                        f"file {getattr(f, 'name', f)!r}")
    if not hasattr(f, mode):
        raise TypeError(f"{fn}: f must be a path or a binary file object, got {type(f).__name__}")
    if getattr(f, "closed", False):
        raise ValueError(f"{fn}: the file object {_stream_name(f)} is closed")
    able = getattr(f, "writable" if mode == "write" else "readable", None)
    if callable(able) and not able():
        raise io.UnsupportedOperation(f"{fn}: the file object {_stream_name(f)} is not open for "
                                      f"{'writing' if mode == 'write' else 'reading'} (open it with '{mode[0]}b')")
    return True


def save(obj, f):
    """Save ``obj`` (tensors, arrays, numbers, strings and nested dicts/lists/tuples) to ``f``.

    ``f`` is a path (written exactly there, atomically; no ``.npz`` is appended) or a writable
    binary file object. Unsupported objects raise ``TypeError`` naming their key path before
    anything is written.
    """
    flat = _Flattener()
    root = flat.node(obj, [])
    manifest = {"format": FORMAT_MAGIC, "version": flat.version, "root": root, "arrays": flat.meta}
    text = json.dumps(manifest, allow_nan=False, separators=(",", ":"))
    members = dict(flat.arrays)
    members[_MANIFEST] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if _is_file_object(f, "write"):
        if hasattr(f, "read"):
            _write_npz(f, members)
        else:       # NumPy's zip writer insists on a 'read' attribute: a write-only stream gets one write
            buf = io.BytesIO()
            _write_npz(buf, members)
            f.write(buf.getvalue())
        return

    write_atomically(os.fsdecode(os.fspath(f)), lambda out: _write_npz(out, members), "mg.save")


def write_atomically(path, write, fname):
    """Write a file at ``path`` atomically: ``write(binary_file)`` fills a temporary file next to it,
    which is fsynced and renamed over ``path`` (a reader sees the old file or the whole new one).
    ``fname`` names the caller in errors. Also used by ``minigrad.keras`` (``model.save``)."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{fname}: {path} is a directory; give a file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{fname}: cannot write {path}: the directory {directory} does not exist")
    _remove_stale_temps(directory, os.path.basename(path))
    tmp, fd = _open_temp(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:                   # KeyboardInterrupt too: never leave the temporary
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


# --------------------------------------------------------------------------------------- loading
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def _json_depth(raw):
    """Deepest bracket nesting of JSON text (strings blanked first), measured without parsing."""
    b = np.frombuffer(_JSON_STRING.sub(b'""', raw), np.uint8)
    step = np.isin(b, (0x5B, 0x7B)).astype(np.int64) - np.isin(b, (0x5D, 0x7D))
    return int(np.cumsum(step).max(initial=0))


def _shape_text(dtype, shape):
    return f"{dtype.str}{tuple(shape)}"


class _Reader:
    """One checkpoint being loaded: every check runs before the bytes it protects are read."""

    def __init__(self, z, name, size, end):
        self.z, self.name, self.size = z, name, size     # size: the archive's real byte count
        self.end = end                                    # its end as an offset in the stream

    def fail(self, why):
        raise CheckpointError(f"{self.name}: {why}")

    def _info(self, member, nbytes):
        """The zip entry of ``member``, its sizes checked against the file and ``nbytes``."""
        try:
            info = self.z.getinfo(member + ".npy")
        except KeyError:
            self.fail(f"array '{member}' listed in the manifest is missing")
        if info.flag_bits & 0x1:
            self.fail(f"member '{member}' is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                self.fail(f"member '{member}' is stored with {info.compress_size} bytes but claims "
                          f"{info.file_size}")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > _MAX_RATIO * info.compress_size + 1024:
                self.fail(f"member '{member}' claims {info.file_size} bytes inflated from "
                          f"{info.compress_size}, beyond deflate's {_MAX_RATIO}:1 limit")
        else:
            self.fail(f"member '{member}' uses zip compression method {info.compress_type}; only "
                      "stored and deflated members are read")
        if info.header_offset + info.compress_size > self.end:
            self.fail(f"member '{member}' claims {info.compress_size} bytes at offset "
                      f"{info.header_offset}, beyond the end of the {self.size}-byte file (truncated?)")
        if nbytes is not None and not 10 <= info.file_size - nbytes <= _NPY_HEADER_MAX:
            self.fail(f"member '{member}' holds {info.file_size} bytes; the manifest's array "
                      f"needs {nbytes} bytes plus a .npy header")
        return info

    def read(self, member, dtype, shape):
        """Read one .npy member whose header must say ``dtype``/``shape`` (None: 1-D uint8)."""
        nbytes = None if shape is None else math.prod(shape) * dtype.itemsize
        info = self._info(member, nbytes)
        with self.z.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                self.fail(f"member '{member}' has .npy format version {version}")
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            hshape, fortran, hdtype = read_header(f)
            if shape is None:
                if hdtype != dtype or len(hshape) != 1:
                    self.fail(f"damaged manifest (dtype {hdtype}, shape {hshape})")
                shape, nbytes = hshape, hshape[0]
            elif hdtype != dtype or tuple(hshape) != tuple(shape):
                self.fail(f"array '{member}' is {_shape_text(hdtype, hshape)}, the manifest says "
                          f"{_shape_text(dtype, shape)}")
            if f.tell() + nbytes != info.file_size:
                self.fail(f"member '{member}' holds {info.file_size} bytes, not the "
                          f"{f.tell() + nbytes} its header declares")
            if nbytes == 0:
                return np.empty(shape, dtype, order="F" if fortran else "C")
            buf = bytearray(nbytes)
            view, pos = memoryview(buf), 0
            while pos < nbytes:
                n = f.readinto(view[pos:pos + _CHUNK])
                if not n:
                    self.fail(f"member '{member}' is truncated")
                pos += n
        return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")

    def manifest(self):
        if (_MANIFEST + ".npy") not in self.z.namelist():
            files = [n[:-4] if n.endswith(".npy") else n for n in self.z.namelist()]
            shown = ", ".join(files[:5]) + (", ..." if len(files) > 5 else "")
            self.fail(f"not a minigrad checkpoint: a .npz/zip file without the '{_MANIFEST}' "
                      f"manifest (members: {shown or 'none'})")
        raw = self.read(_MANIFEST, np.dtype(np.uint8), None).tobytes()
        depth = _json_depth(raw)
        if depth > 2 * MAX_DEPTH + 8:      # a saved level is two JSON levels (node, its list)
            self.fail(f"damaged manifest (nested {depth} levels deep; at most {2 * MAX_DEPTH + 8})")
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self.fail(f"damaged manifest ({e})")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_MAGIC:
            self.fail(f"not a minigrad checkpoint (the manifest has no '{FORMAT_MAGIC}' format tag)")
        version = manifest.get("version")
        if type(version) is not int or version < 1:
            self.fail(f"damaged manifest (format version {version!r})")
        if version > FORMAT_VERSION:
            self.fail(f"written by a newer minigrad (checkpoint format version {version}; this "
                      f"version reads up to {FORMAT_VERSION}); upgrade minigrad")
        return manifest

    def specs(self, arrays):
        """name -> (dtype, shape, sha256) from the manifest, every field checked."""
        if not isinstance(arrays, dict):
            self.fail("damaged manifest (no array table)")
        specs, total = {}, 0
        for name, meta in arrays.items():
            if not (isinstance(meta, dict) and isinstance(meta.get("dtype"), str)
                    and isinstance(meta.get("shape"), list) and isinstance(meta.get("sha256"), str)):
                self.fail(f"damaged manifest (entry of array '{name}': {str(meta)[:80]})")
            try:
                dtype = np.dtype(meta["dtype"])
            except (TypeError, ValueError, OverflowError):
                self.fail(f"array '{name}' has an unknown dtype {meta['dtype'][:40]!r}")
            if dtype.kind not in _ALLOWED_KINDS or dtype.hasobject:
                self.fail(f"array '{name}' has dtype {dtype}, which a checkpoint may not hold "
                          "(object arrays need pickle; no complex or structured dtypes)")
            shape = meta["shape"]
            if len(shape) > 64 or any(type(d) is not int or d < 0 for d in shape):
                self.fail(f"array '{name}' has an invalid shape {str(shape)[:80]}")
            total += math.prod(shape) * dtype.itemsize
            specs[name] = (dtype, tuple(shape), meta["sha256"])
        stored = all(i.compress_type == zipfile.ZIP_STORED for i in self.z.infolist())
        if total > (1 if stored else _MAX_RATIO) * self.size:
            self.fail(f"the manifest declares {total} bytes of arrays; a {self.size}-byte file "
                      "cannot hold them")
        return specs

    def load(self):
        manifest = self.manifest()
        arrays = {}
        for name, (dtype, shape, sha) in self.specs(manifest.get("arrays")).items():
            a = self.read(name, dtype, shape)
            if _digest(a) != sha:
                self.fail(f"checksum mismatch in array '{name}' (the file is corrupted or was modified)")
            arrays[name] = a
        return self.rebuild(manifest.get("root"), arrays, 0)

    def rebuild(self, node, arrays, depth):
        t = node.get("t") if isinstance(node, dict) else None
        if t == "value" and (node["v"] is None or isinstance(node["v"], (bool, str))):
            return node["v"]
        if t == "int" and type(node["v"]) is int:
            return node["v"]
        if t == "float":
            return self.float(node["v"])
        if t in ("array", "scalar", "tensor") and node["k"] in arrays:
            a = arrays[node["k"]]
            if t == "array":
                return a
            if t == "scalar":
                return a[()] if a.ndim == 0 else self.fail(f"damaged manifest (scalar '{node['k']}' "
                                                            f"has shape {a.shape})")
            return self.tensor(node, a)
        if t in ("dict", "list", "tuple") and depth < MAX_DEPTH:
            if t == "dict":
                keys, vals = node["keys"], node["vals"]
                if not (isinstance(keys, list) and isinstance(vals, list) and len(keys) == len(vals)):
                    self.fail("damaged manifest (a dict node's keys and values differ)")
                return {self.key(k): self.rebuild(v, arrays, depth + 1) for k, v in zip(keys, vals)}
            if not isinstance(node["items"], list):
                self.fail("damaged manifest (a list node without items)")
            items = [self.rebuild(v, arrays, depth + 1) for v in node["items"]]
            return tuple(items) if t == "tuple" else items
        if depth >= MAX_DEPTH:
            self.fail(f"damaged manifest (nested deeper than MAX_DEPTH = {MAX_DEPTH})")
        self.fail(f"damaged manifest (bad node {str(node)[:80]!r})")

    def float(self, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool) or v in ("nan", "inf", "-inf"):
            return float(v)
        self.fail(f"damaged manifest (float {str(v)[:40]!r})")

    def key(self, k):
        if k is None or isinstance(k, (bool, str)):
            return k
        if isinstance(k, dict) and list(k) == ["int"] and type(k["int"]) is int:
            return k["int"]
        if isinstance(k, dict) and list(k) == ["float"]:
            return self.float(k["float"])
        self.fail(f"damaged manifest (dict key {str(k)[:40]!r})")

    def tensor(self, node, a):
        requires_grad, param = node.get("rg", False), node.get("param", False)
        if not (isinstance(requires_grad, bool) and isinstance(param, bool)):
            self.fail(f"damaged manifest (tensor node {str(node)[:80]!r})")
        floating = a.dtype in (np.float32, np.float64)
        if not floating and (a.dtype.kind not in "iub" or requires_grad or param):
            self.fail(f"tensor '{node['k']}' has dtype {a.dtype}"
                      + (" and requires grad" if requires_grad or param else ""))
        if param:
            from .nn.module import Parameter          # nn imports the engine; import on use
            return Parameter(a, dtype=a.dtype, requires_grad=requires_grad)
        return Tensor(a, requires_grad=requires_grad, dtype=a.dtype)


def _stream_name(f):
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


def _load_stream(fh, name, size=None):
    if size is None:                      # a file object: measure it, or read it if unseekable
        if getattr(fh, "seekable", lambda: False)():
            start = fh.tell()
            size = fh.seek(0, io.SEEK_END) - start
            fh.seek(start)
        else:
            data = fh.read()
            if not isinstance(data, bytes):
                raise TypeError(f"mg.load needs a binary file object, {name} returned "
                                f"{type(data).__name__}")
            fh, size = io.BytesIO(data), len(data)
    start = fh.tell()
    head = fh.read(4)
    if not isinstance(head, bytes):
        raise TypeError(f"mg.load needs a binary file object, {name} returned {type(head).__name__}")
    if head != _ZIP_MAGIC:
        what = (f"starts with {head!r}, not a zip/.npz archive" if head else
                f"nothing to read at offset {start}: the end of the stream (seek(0) after writing?)" if start
                else "an empty file")
        raise CheckpointError(f"{name}: not a minigrad checkpoint ({what})")
    fh.seek(start)
    try:
        with zipfile.ZipFile(fh) as z:
            return _Reader(z, name, size, start + size).load()
    except CheckpointError:
        raise
    except zipfile.BadZipFile as e:
        if "CRC" in str(e):
            raise CheckpointError(f"{name}: checksum mismatch (zip CRC: {e}); the file is "
                                  "corrupted") from None
        raise CheckpointError(f"{name}: truncated or damaged zip archive ({e})") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, zlib.error,
            zipfile.LargeZipFile, RuntimeError, NotImplementedError) as e:
        # EOFError/ValueError: a member cut short or a malformed .npy header; zlib.error: a
        # damaged compressed member; Key/Type/AttributeError: a manifest node of the wrong shape;
        # NotImplementedError: a damaged zip version field; RuntimeError: damaged flag bits.
        raise CheckpointError(f"{name}: truncated or damaged checkpoint "
                              f"({type(e).__name__}: {e})") from None


def load(f):
    """Load what ``save`` wrote from a path or a readable binary file object.

    Arrays come back as writable NumPy arrays of the saved dtype, tensors as Tensors. Raises
    ``FileNotFoundError`` for a missing file and :class:`CheckpointError` (a ``ValueError``)
    naming the file for anything that is not an intact minigrad checkpoint (see the module
    docstring for the full list and the size bounds).
    """
    if _is_file_object(f, "read"):
        return _load_stream(f, _stream_name(f))
    path = os.fsdecode(os.fspath(f))
    fh, size = open_regular(path, CheckpointError, "not a minigrad checkpoint")
    with fh:
        return _load_stream(fh, path, size)
