"""mg.save / mg.load: exact round trips (paths and file objects), atomic writes, cleanup after
killed saves, and a CheckpointError naming the file for every bad file, bounded by its real size."""
import io
import json
import os
import re
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization as S


def sample():
    rng = np.random.default_rng(0)
    return {
        "model": {"weight": rng.standard_normal((3, 4)).astype(np.float32),
                  "bias": rng.standard_normal(4),                                    # float64
                  "odd/key name": np.arange(6, dtype=np.int64).reshape(2, 3)},
        "optim": {"state": {0: {"step": 7, "exp_avg": rng.standard_normal(5).astype(np.float32),
                                "scalar0d": np.array(2.5)},
                            1: {"momentum_buffer": np.zeros((0, 3), np.float32)}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                    "nesterov": False, "name": None}]},
        "epoch": 3, "loss": float("nan"), "best": float("inf"), "tag": "run-Ω",
        "npscalar": np.float32(1.25), "flags": np.array([True, False]),
        "strings": np.array(["ab", "c"]), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "keys": {2.5: "float key", True: "bool key", None: "none key"},
        "empty": {}, "nested": [[], (), [np.float64(3.0), (1, "x")]],
    }


def assert_same(a, b, where="root"):
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert type(k) is type(next(k2 for k2 in b if k2 == k))
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}/{i}")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b)
        if isinstance(a, np.ndarray):
            assert a.tobytes() == b.tobytes()                                   # bit-exact
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_round_trip_exact(tmp_path):
    obj = sample()
    path = tmp_path / "ckpt.npz"
    mg.save(obj, path)
    back = mg.load(path)
    assert_same(obj, back)
    assert back["model"]["weight"].flags.writeable
    assert back["fortran"].flags.f_contiguous          # layout preserved too
    # it is an ordinary .npz with path-like member names and a manifest
    with np.load(path, allow_pickle=False) as z:
        assert "data/optim/state/0/exp_avg" in z.files and "data/model/odd_key name".replace(" ", "_") in z.files
        manifest = json.loads(z["__minigrad__"].tobytes())
    assert manifest["format"] == S.FORMAT_MAGIC and manifest["version"] == 1   # no tensors: v1


def test_exact_path_and_plain_values(tmp_path):
    path = str(tmp_path / "model.ckpt")           # no .npz is appended
    for obj in [np.arange(3), 5, "text", None, [1, 2], {}]:
        mg.save(obj, path)
        assert sorted(os.listdir(tmp_path)) == ["model.ckpt"]
        assert_same(obj, mg.load(path))


def test_unsupported_objects_rejected_before_writing(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="set"):
        mg.save({"a": {1, 2}}, path)
    with pytest.raises(TypeError, match="object"):
        mg.save({"a": np.array([None, 1], dtype=object)}, path)
    with pytest.raises(TypeError, match="key"):
        mg.save({(1, 2): 3}, path)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        mg.save(loop, path)
    assert not os.listdir(tmp_path)


def test_atomic_write_survives_a_crash(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    mg.save({"v": np.arange(4.0)}, path)
    original = path.read_bytes()

    def crashing_writer(f, arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(S, "_write_npz", crashing_writer)
    with pytest.raises(OSError, match="simulated"):
        mg.save({"v": np.zeros(1000)}, path)
    assert path.read_bytes() == original                        # the old file is intact
    assert os.listdir(tmp_path) == ["ckpt.npz"]                 # no temporary left behind
    assert_same(mg.load(path), {"v": np.arange(4.0)})

    def interrupted(f, arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "_write_npz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"v": np.zeros(3)}, path)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.7, 0.99])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    mg.save(sample(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(mg.CheckpointError, match="ckpt.npz") as e:
        mg.load(path)
    assert isinstance(e.value, ValueError)
    assert "truncated" in str(e.value) or "empty" in str(e.value)


def test_foreign_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(mg.CheckpointError, match=r"other\.npz.*manifest.*weights"):
        mg.load(path)
    zpath = tmp_path / "archive.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(mg.CheckpointError, match="archive.zip"):
        mg.load(zpath)


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a checkpoint\n")
    with pytest.raises(mg.CheckpointError, match=r"notes\.txt.*not a zip"):
        mg.load(path)


def test_pickled_member_is_not_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    manifest = {"format": S.FORMAT_MAGIC, "version": 1,
                "root": {"t": "array", "k": "data/x"},
                "arrays": {"data/x": {"dtype": "|O", "shape": [1], "sha256": ""}}}
    np.savez(path, **{"data/x": np.array([{"a": 1}], dtype=object),
                      "__minigrad__": np.frombuffer(json.dumps(manifest).encode(), np.uint8)})
    with pytest.raises(mg.CheckpointError, match="evil.npz"):
        mg.load(path)


def rewrite_member(path, name, transform):
    """Rewrite one member of the archive consistently (valid zip CRCs, same manifest)."""
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    members[name] = transform(members[name])
    with zipfile.ZipFile(path, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)


def test_newer_format_version(tmp_path):
    path = tmp_path / "future.npz"
    mg.save({"a": np.ones(2)}, path)

    def bump(raw):
        m = json.loads(np.lib.format.read_array(io.BytesIO(raw)).tobytes())
        m["version"] = S.FORMAT_VERSION + 1
        buf = np.frombuffer(json.dumps(m).encode(), np.uint8)
        out = io.BytesIO()
        np.lib.format.write_array(out, buf)
        return out.getvalue()

    rewrite_member(path, "__minigrad__.npy", bump)
    with pytest.raises(mg.CheckpointError, match=rf"future\.npz.*newer.*version {S.FORMAT_VERSION + 1}"):
        mg.load(path)


def test_tampered_array_fails_checksum(tmp_path):
    path = tmp_path / "ckpt.npz"
    mg.save({"w": np.arange(32, dtype=np.float32)}, path)
    # 1) flip a data byte in place: the zip's own CRC or our sha256 catches it
    data = bytearray(path.read_bytes())
    off = bytes(data).index(np.arange(32, dtype=np.float32).tobytes()) + 40
    data[off] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(mg.CheckpointError, match=r"ckpt\.npz.*checksum"):
        mg.load(path)
    # 2) a consistently rewritten archive (valid zip CRCs): only the manifest sha256 can tell
    mg.save({"w": np.arange(32, dtype=np.float32)}, path)

    def flip_last_byte(raw):
        return raw[:-1] + bytes([raw[-1] ^ 0x80])

    rewrite_member(path, "data/w.npy", flip_last_byte)
    with pytest.raises(mg.CheckpointError, match=r"ckpt\.npz.*checksum mismatch in array 'data/w'"):
        mg.load(path)


def test_training_checkpoint_resume_is_exact(tmp_path):
    """Optimizer + scheduler + parameters saved mid-run resume bit-exactly after mg.load."""
    from minigrad import optim
    from minigrad.optim.lr_scheduler import CosineAnnealingLR
    from minigrad.nn.utils import clip_grad_norm_

    def setup():
        params = [mg.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True, dtype=np.float64),
                  mg.tensor(np.ones(4, np.float32), requires_grad=True)]
        opt = optim.Adam(params, lr=0.1)
        return params, opt, CosineAnnealingLR(opt, T_max=6, eta_min=0.01)

    def train(params, opt, sched, steps, start):
        for k in range(start, start + steps):
            for i, p in enumerate(params):       # deterministic fake gradients
                p.grad = (np.sin(p.data * (k + 1) + i) * 3).astype(p.data.dtype)
            clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()

    params, opt, sched = setup()
    train(params, opt, sched, 4, 0)
    mg.save({"params": [p.data for p in params], "optim": opt.state_dict(),
             "sched": sched.state_dict()}, tmp_path / "ckpt.npz")
    train(params, opt, sched, 5, 4)

    ckpt = mg.load(tmp_path / "ckpt.npz")
    params2, opt2, sched2 = setup()
    for p, a in zip(params2, ckpt["params"]):
        p.data[...] = a
    opt2.load_state_dict(ckpt["optim"])
    sched2.load_state_dict(ckpt["sched"])
    train(params2, opt2, sched2, 5, 4)
    for p, q in zip(params, params2):
        assert p.data.tobytes() == q.data.tobytes()
    assert sched.get_last_lr() == sched2.get_last_lr()


# ------------------------------------------------------------------ tensors, nesting, file objects
def test_tensors_and_nesting_round_trip(tmp_path):
    from minigrad.nn import Parameter
    obj = {"w": mg.tensor(np.arange(6.0).reshape(2, 3), dtype=np.float64, requires_grad=True),
           "h": mg.tensor(np.ones(3, np.float32)), "idx": mg.tensor(np.array([3, 1], np.int64)),
           "mask": mg.tensor(np.array([True, False])), "p": Parameter(np.zeros((2, 2), np.float32)),
           "pair": (mg.tensor([1.0]), [np.arange(2), (None, "s", 1.5)]), 7: "int key", "7": "str key"}
    mg.save(obj, tmp_path / "t.ckpt")
    back = mg.load(tmp_path / "t.ckpt")
    assert list(back) == list(obj) and back[7] == "int key" and back["7"] == "str key"
    for k in ("w", "h", "idx", "mask", "p"):
        assert type(back[k]) is type(obj[k]), k
        assert back[k].dtype == obj[k].dtype and back[k].requires_grad == obj[k].requires_grad, k
        assert back[k].data.tobytes() == obj[k].data.tobytes(), k
    assert isinstance(back["pair"], tuple) and isinstance(back["pair"][1][1], tuple)
    assert type(back["pair"][0]) is mg.Tensor and back["pair"][0].dtype == np.float32
    assert_same(back["pair"][1], obj["pair"][1])
    with np.load(tmp_path / "t.ckpt", allow_pickle=False) as z:
        assert json.loads(z["__minigrad__"].tobytes())["version"] == 2      # tensor nodes: v2


def test_file_objects(tmp_path):
    obj = {"model": {"w": mg.tensor(np.ones((2, 2)))}, "epoch": 4, "t": (1, 2)}
    buf = io.BytesIO()
    mg.save(obj, buf)
    buf.seek(0)
    back = mg.load(buf)
    assert back["epoch"] == 4 and back["t"] == (1, 2) and back["model"]["w"].shape == (2, 2)
    path = tmp_path / "f.pt"
    with open(path, "wb") as f:                       # torch.save(data, open(path, 'wb'))
        mg.save(obj, f)
    with open(path, "rb") as f:
        assert mg.load(f)["t"] == (1, 2)
    assert mg.load(path)["epoch"] == 4

    class Unseekable(io.RawIOBase):                   # a pipe-like stream: read once, no seek
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), len(self.data))
            b[:n], self.data = self.data[:n], self.data[n:]
            return n
    assert mg.load(io.BufferedReader(Unseekable(buf.getvalue())))["epoch"] == 4
    prefixed = io.BytesIO(b"header" + buf.getvalue())      # read from the current position
    prefixed.seek(6)
    assert mg.load(prefixed)["t"] == (1, 2)
    with pytest.raises(mg.CheckpointError, match="BytesIO.*truncated"):
        mg.load(io.BytesIO(buf.getvalue()[:200]))
    with open(path, "w") as f, pytest.raises(TypeError, match=r"binary file object.*'wb'"):
        mg.save(obj, f)
    with open(path, "r") as f, pytest.raises(TypeError, match=r"binary file object.*'rb'"):
        mg.load(f)
    with pytest.raises(TypeError, match="path or a binary file object, got int"):
        mg.save(obj, 3)


@pytest.mark.parametrize("bad, kind, where", [
    (lambda x: x, "function", "obj['optim']['state'][3]"),
    ({1, 2}, "set", "obj['optim']['state'][3]"),
    (np.array([None, 1], dtype=object), "dtype object", "obj['optim']['state'][3]"),
    (np.ones(2, np.complex64), "dtype complex64", "obj['optim']['state'][3]"),
    (mg.tensor(np.ones(2)).data.astype([("a", "f4")]), "structured", "obj['optim']['state'][3]"),
])
def test_unsupported_values_name_their_key_path(tmp_path, bad, kind, where):
    obj = {"optim": {"state": {3: bad}}}
    with pytest.raises(TypeError, match=re.escape(kind)) as e:
        mg.save(obj, tmp_path / "x")
    assert where in str(e.value)
    with pytest.raises(TypeError, match=r"dict key \(1, 2\) in obj\['a'\]"):
        mg.save({"a": {(1, 2): 3}}, tmp_path / "x")
    assert not os.listdir(tmp_path)


def test_nesting_depth_limit(tmp_path):
    deep = leaf = []
    for _ in range(S.MAX_DEPTH - 1):
        leaf.append([])
        leaf = leaf[0]
    mg.save(deep, tmp_path / "ok")                          # exactly MAX_DEPTH levels: fine
    assert mg.load(tmp_path / "ok") == deep
    leaf.append([])
    with pytest.raises(ValueError, match=rf"nested deeper than MAX_DEPTH = {S.MAX_DEPTH}"):
        mg.save(deep, tmp_path / "too_deep")


# ------------------------------------------------------------------ handcrafted bad archives
def write_archive(path, root, arrays, members, compression=zipfile.ZIP_STORED, version=1):
    """A zip with a manifest (``arrays``: name -> meta) and raw ``.npy`` members (name -> bytes)."""
    manifest = {"format": S.FORMAT_MAGIC, "version": version, "root": root, "arrays": arrays}
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    return write_raw_manifest(path, text.encode(), members, compression)


def write_raw_manifest(path, raw, members, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    np.lib.format.write_array(out, np.frombuffer(raw, np.uint8))
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("__minigrad__.npy", out.getvalue())
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return path


def npy_bytes(a):
    out = io.BytesIO()
    np.lib.format.write_array(out, a)
    return out.getvalue()


def npy_header_only(descr, shape, data=b""):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue() + data


def meta(a):
    return {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": S._digest(a)}


def test_deeply_nested_manifest_is_a_checkpoint_error(tmp_path):
    raw = ('{"format":"%s","version":1,"arrays":{},"root":' % S.FORMAT_MAGIC
           + '{"t":"list","items":[' * 5000 + ']}' * 5000 + "}").encode()
    path = write_raw_manifest(tmp_path / "deep.npz", raw, {})
    with pytest.raises(mg.CheckpointError, match=r"deep\.npz: damaged manifest \(nested 10001 levels"):
        mg.load(path)
    # shallow JSON but a tree deeper than MAX_DEPTH (an ill-formed node list) is refused too
    node = {"t": "value", "v": 1}
    for _ in range(S.MAX_DEPTH + 1):
        node = {"t": "list", "items": [node]}
    with pytest.raises(mg.CheckpointError, match="deeper than MAX_DEPTH"):
        mg.load(write_archive(tmp_path / "d2.npz", node, {}, {}))


def test_npy_header_claiming_2_to_40_elements(tmp_path):
    small = np.arange(2.0)
    # the manifest is honest, the member's .npy header lies: refused before allocating
    path = write_archive(tmp_path / "h.npz", {"t": "array", "k": "data/x"}, {"data/x": meta(small)},
                         {"data/x": npy_header_only("<f8", (2 ** 40,), small.tobytes())})
    with pytest.raises(mg.CheckpointError, match=r"h\.npz: array 'data/x' is <f8\(1099511627776,\)"):
        mg.load(path)
    # manifest and header agree on 2**40 elements: the file's real size refutes both
    big = {"dtype": "<f8", "shape": [2 ** 40], "sha256": ""}
    path = write_archive(tmp_path / "m.npz", {"t": "array", "k": "data/x"}, {"data/x": big},
                         {"data/x": npy_header_only("<f8", (2 ** 40,), small.tobytes())})
    with pytest.raises(mg.CheckpointError, match=r"m\.npz: the manifest declares 8796093022208 bytes"):
        mg.load(path)


def test_compressed_member_checked_before_inflating(tmp_path):
    import tracemalloc
    small = np.arange(4.0)
    bomb = npy_bytes(np.zeros(8 << 20))                    # 64 MiB of zeros, ~64 KiB deflated
    path = write_archive(tmp_path / "bomb.npz", {"t": "array", "k": "data/x"}, {"data/x": meta(small)},
                         {"data/x": bomb}, compression=zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(mg.CheckpointError, match=r"bomb\.npz: member 'data/x' holds 67108992 bytes"):
            mg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20                                  # nothing near 64 MiB was inflated
    # a consistent deflated checkpoint (a recompressed save) still loads
    mg.save({"a": small, "t": mg.tensor(small)}, tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "plain.npz") as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    with zipfile.ZipFile(tmp_path / "deflated.npz", "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    back = mg.load(tmp_path / "deflated.npz")
    assert_same(back["a"], small) and back["t"].dtype == np.float32


@pytest.mark.parametrize("arrays, root, members, message", [
    ({"data/x": {"dtype": "|O", "shape": [1], "sha256": ""}}, {"t": "array", "k": "data/x"}, {},
     "dtype object"),
    ({"data/x": {"dtype": "<c16", "shape": [1], "sha256": ""}}, {"t": "array", "k": "data/x"}, {},
     "dtype complex128"),
    ({"data/x": {"dtype": "no such dtype", "shape": [1], "sha256": ""}}, {"t": "array", "k": "data/x"},
     {}, "unknown dtype"),
    ({"data/x": {"dtype": "<f8", "shape": [-1], "sha256": ""}}, {"t": "array", "k": "data/x"}, {},
     "invalid shape"),
    ({"data/x": meta(np.arange(2.0))}, {"t": "array", "k": "data/x"}, {}, "'data/x' listed in the manifest is missing"),
    ({"data/x": meta(np.arange(2.0))}, {"t": "tensor", "k": "data/x", "rg": "yes"},
     {"data/x": npy_bytes(np.arange(2.0))}, "damaged manifest"),
    ({"data/x": meta(np.arange(2))}, {"t": "tensor", "k": "data/x", "rg": True},
     {"data/x": npy_bytes(np.arange(2))}, "dtype int64 and requires grad"),
    ({"data/x": meta(np.array(["a"]))}, {"t": "tensor", "k": "data/x"},
     {"data/x": npy_bytes(np.array(["a"]))}, "tensor 'data/x' has dtype <U1"),
    ({}, {"t": "dict", "keys": [[1]], "vals": [{"t": "value", "v": 1}]}, {}, "dict key"),
    ({}, {"t": "float", "v": "pi"}, {}, "float 'pi'"),
    ({}, {"t": "int", "v": "3"}, {}, "bad node"),
    ({}, {"t": "code", "v": "import os"}, {}, "bad node"),
    ({}, {"t": "dict", "keys": [1], "vals": []}, {}, "keys and values differ"),
    ({}, {"t": "array", "k": "data/nope"}, {}, "bad node"),
])
def test_damaged_manifests(tmp_path, arrays, root, members, message):
    path = write_archive(tmp_path / "bad.npz", root, arrays, members)
    with pytest.raises(mg.CheckpointError, match=r"bad\.npz") as e:
        mg.load(path)
    assert message in str(e.value)


def test_non_regular_files_are_refused_without_blocking(tmp_path):
    import threading
    fifo = tmp_path / "ckpt.fifo"
    os.mkfifo(fifo)
    result = []

    def try_load():
        try:
            mg.load(fifo)
        except Exception as e:           # noqa: BLE001 - the type is asserted below
            result.append(e)
    t = threading.Thread(target=try_load, daemon=True)
    t.start()
    t.join(60)
    if t.is_alive():                      # unblock the reader so the test run can finish
        open(fifo, "wb").close()
        pytest.fail("mg.load blocked on a FIFO")
    assert isinstance(result[0], mg.CheckpointError) and "ckpt.fifo" in str(result[0])
    assert "a FIFO, not a regular file" in str(result[0])
    with pytest.raises(mg.CheckpointError, match="a directory, not a regular file"):
        mg.load(tmp_path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(mg.CheckpointError, match="/dev/zero.*character device"):
            mg.load("/dev/zero")


# ------------------------------------------------------------------ faults: kill -9 and Ctrl-C
CHILD = r"""
import signal, sys
import numpy as np
import minigrad as mg
from minigrad import serialization as S

# Ctrl-C must raise KeyboardInterrupt here even if this process inherited SIGINT as ignored (a
# background job of a non-interactive shell does, e.g. CI started with `&`): Python then keeps it
# ignored unless told otherwise
signal.signal(signal.SIGINT, signal.default_int_handler)

def stalled_writer(f, arrays):
    f.write(b"PK\x03\x04" + bytes(1 << 20))     # half a checkpoint is on disk
    f.flush()
    print("writing", flush=True)                # the parent signals us now: no timing guesswork
    while True:
        signal.pause()

S._write_npz = stalled_writer
mg.save({"v": np.zeros(3)}, sys.argv[1])
"""


def stalled_save(path):
    import subprocess
    import sys
    # cwd: the checkpoint's (temporary) directory, not the source tree, where `python -c` would
    # import the uncompiled minigrad/ instead of the installed package
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(str(path)))
    assert p.stdout.readline().strip() == "writing", p.stderr.read()
    return p


def temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def test_killed_saves_are_cleaned_up_by_the_next_save(tmp_path):
    import signal
    path = tmp_path / "ckpt.npz"
    mg.save({"v": np.arange(4.0)}, path)
    for _ in range(3):
        p = stalled_save(path)                    # its own save first removed the previous litter
        p.send_signal(signal.SIGKILL)
        p.wait()
        (left,) = temps(tmp_path)
        assert f".ckpt.npz.{S._HOST}-{p.pid}." in left and os.path.getsize(tmp_path / left) > 1 << 20
    assert_same(mg.load(path), {"v": np.arange(4.0)})            # the old checkpoint is intact
    # unrelated files that merely look similar are never touched
    keep = [".other.npz.%s-1.0123456789ab.tmp" % S._HOST, ".ckpt.npz.0123456789ab.tmp",
            ".ckpt.npz.00000000-999999999.0123456789ab.tmp", "ckpt.npz.tmp"]
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    mg.save({"v": np.ones(2)}, path)
    assert temps(tmp_path) == sorted(n for n in keep if n.endswith(".tmp"))
    assert_same(mg.load(path), {"v": np.ones(2)})


def test_live_writers_temp_is_kept_and_ctrl_c_removes_its_own(tmp_path):
    import signal
    path = tmp_path / "ckpt.npz"
    mg.save({"v": np.arange(4.0)}, path)
    p = stalled_save(path)                        # a second process saving the same path, alive
    try:
        (live,) = temps(tmp_path)
        mg.save({"v": np.ones(2)}, path)          # must not delete the live writer's file
        assert temps(tmp_path) == [live]
    finally:
        p.send_signal(signal.SIGINT)              # Ctrl-C in the middle of its save
        _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert temps(tmp_path) == []                  # it removed its own temporary file
    assert_same(mg.load(path), {"v": np.ones(2)})


def test_unusable_targets_and_sources(tmp_path):
    path = tmp_path / "c.ckpt"
    path.write_bytes(b"")
    with open(path, "rb") as f, pytest.raises(io.UnsupportedOperation, match=r"c\.ckpt is not open for writing"):
        mg.save({}, f)
    with open(path, "wb") as f, pytest.raises(io.UnsupportedOperation, match=r"c\.ckpt is not open for reading"):
        mg.load(f)
    closed = io.BytesIO()
    closed.close()
    with pytest.raises(ValueError, match="BytesIO> is closed"):
        mg.load(closed)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        mg.save({}, tmp_path)
    with pytest.raises(ValueError, match=r"the int at obj\['n'\] has \d+ bits"):
        mg.save({"n": 10 ** 5000}, tmp_path / "big")
    mg.save({"n": -10 ** 3000}, tmp_path / "ok")                 # big, but readable back
    assert mg.load(tmp_path / "ok")["n"] == -10 ** 3000
    assert sorted(os.listdir(tmp_path)) == ["c.ckpt", "ok"]


# ------------------------------------------------------------------ properties (hypothesis)
try:
    from hypothesis import given, settings, strategies as st
except ImportError:                        # an optional test dependency: skip, do not fail
    st = None


if st is None:
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_properties():
        pass
else:
    PROPS = settings(max_examples=40, derandomize=True, deadline=None, database=None)
    arrays = st.builds(lambda shape, dt, seed: np.random.default_rng(seed).standard_normal(shape).astype(dt),
                       st.lists(st.integers(0, 3), max_size=3).map(tuple),
                       st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint16, np.bool_]),
                       st.integers(0, 9))
    tensors = st.builds(lambda a, rg: mg.tensor(a, dtype=a.dtype, requires_grad=rg),
                        arrays.filter(lambda a: a.dtype.kind == "f"), st.booleans())
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.text(max_size=5),
                       st.floats(allow_nan=True, allow_infinity=True), arrays, tensors)
    keys = st.one_of(st.text(max_size=4), st.integers(-5, 5))
    trees = st.recursive(leaves, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                        st.lists(kids, max_size=3).map(tuple),
                                                        st.dictionaries(keys, kids, max_size=3)), max_leaves=12)


    def same_tree(a, b):
        if isinstance(a, mg.Tensor):
            return (type(a) is type(b) and a.dtype == b.dtype and a.requires_grad == b.requires_grad
                    and a.data.tobytes() == b.data.tobytes() and a.shape == b.shape)
        if isinstance(a, np.ndarray):
            return type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        if type(a) is not type(b):
            return False
        if isinstance(a, dict):
            return list(a) == list(b) and all(type(k) is type(next(j for j in b if j == k)) and same_tree(a[k], b[k])
                                              for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same_tree(x, y) for x, y in zip(a, b))
        if isinstance(a, float) and np.isnan(a):
            return np.isnan(b)
        return a == b


    @PROPS
    @given(tree=trees)
    def test_any_tree_round_trips_through_bytes(tree):
        buf = io.BytesIO()
        mg.save(tree, buf)
        assert same_tree(tree, mg.load(io.BytesIO(buf.getvalue())))


    @PROPS
    @given(tree=st.dictionaries(keys, trees, min_size=1, max_size=3), data=st.data())
    def test_a_bad_leaf_is_named_by_its_key_path(tree, data):
        # walk down a random path of containers, then put an unsupported value there
        node, where = tree, "obj"
        while True:
            k = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
            child = node[k]
            if isinstance(child, (dict, list)) and len(child) and data.draw(st.booleans()):
                node, where = child, where + f"[{k!r}]"
                continue
            node[k] = data.draw(st.sampled_from([{1}, object(), np.ones(2, complex), lambda: 0]))
            where += f"[{k!r}]"
            break
        with pytest.raises(TypeError) as e:
            mg.save(tree, io.BytesIO())
        assert where in str(e.value)
