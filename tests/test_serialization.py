"""mg.save / mg.load: exact round trips, atomic writes, and clear errors for bad files."""
import io
import json
import os
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
    assert manifest["format"] == S.FORMAT_MAGIC and manifest["version"] == S.FORMAT_VERSION


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
    with pytest.raises(mg.CheckpointError, match=r"future\.npz.*newer.*version 2"):
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
