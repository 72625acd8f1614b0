"""minigrad.distributed across real processes: ``mpiexec -n 2 python tests/mpi_cases.py CASE``.

Marked ``mpi`` (deselected by the default ``pytest``; run with ``pytest -m mpi``) and skipped
without mpi4py or mpiexec. Every launch has a timeout, so a hang fails the test instead of
blocking CI. The single-process references are computed here, from the same functions.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.data import batchify

pytest.importorskip("mpi4py")
import mpi_cases as C                                   # noqa: E402  (tests/ is on sys.path)

pytestmark = pytest.mark.mpi
NP = 2
TIMEOUT = 120                                           # seconds; a loaded 2-core machine is slow


def _mpiexec():
    """mpiexec next to this Python (the mpich wheel's, in a venv), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.access(here, os.X_OK) else shutil.which("mpiexec")


def launch(tmp_path, case, *args, check=True):
    exe = _mpiexec()
    if exe is None:
        pytest.skip("mpiexec not found (pip install \"minigrad[distributed]\")")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive", PYTHONUNBUFFERED="1")
    script = os.path.join(os.path.dirname(__file__), "mpi_cases.py")
    try:
        r = subprocess.run([exe, "-n", str(NP), sys.executable, script, case, str(tmp_path), *args],
                           capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpiexec {case} did not finish in {TIMEOUT} s (a hang):\n{e.stderr}")
    if check and r.returncode != 0:
        pytest.fail(f"mpiexec {case} {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def reference_params(opt_name):
    """One process, the global batch NP * B_RANK: what every rank must end with."""
    model = C.make_model(seed=1)
    C.train(model, C.make_opt(opt_name, model.parameters()), batchify(C.tokens(), NP * C.B_RANK))
    return C.params_of(model)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("bucket_cap_mb", [25.0, 0.0005])      # one bucket per dtype / many buckets
def test_ranks_match_one_process_with_the_global_batch(tmp_path, opt_name, bucket_cap_mb):
    launch(tmp_path, "train", opt_name, str(bucket_cap_mb))
    ranks = [mg.load(str(tmp_path / f"params_{r}.npz")) for r in range(NP)]
    ref = reference_params(opt_name)
    assert sorted(ranks[0]) == sorted(ref)
    for name, want in ref.items():
        for r in range(1, NP):                             # identical on every rank, bit for bit
            assert np.array_equal(ranks[r][name], ranks[0][name]), name
        # the two computations differ only in the order of the sums (two half-batch means averaged
        # vs one mean): float64 rounding, far below 1e-6 of the parameters' scale
        np.testing.assert_allclose(ranks[0][name], want, rtol=1e-6, atol=1e-6 * np.abs(want).max(), err_msg=name)
    # and training did move the weights away from the initial ones
    init = C.params_of(C.make_model(seed=1))
    assert any(not np.allclose(init[n], ref[n]) for n in ref)


def test_no_sync_accumulates_then_averages(tmp_path):
    launch(tmp_path, "no_sync")
    got = [mg.load(str(tmp_path / f"grads_{r}.npz")) for r in range(NP)]
    # reference: each rank's shard run locally (no DDP), two windows accumulated, then averaged
    streams = batchify(C.tokens(), NP * C.B_RANK)
    per_rank = []
    for r in range(NP):
        model = C.make_model(seed=1)
        shard = streams[:, r * C.B_RANK:(r + 1) * C.B_RANK]
        windows = list(C.lm_batches(shard, C.SEQ))[:2]
        for k, (x, y) in enumerate(windows):
            C.F.cross_entropy(model(x)[0].reshape(-1, C.VOCAB), y.reshape(-1)).backward()
            if k == 0:
                np.testing.assert_array_equal(got[r]["local"]["head.weight"], model.head.weight.grad)
        per_rank.append({n: p.grad for n, p in model.named_parameters()})
    for name in per_rank[0]:
        want = sum(g[name] for g in per_rank) / NP
        for r in range(NP):
            np.testing.assert_allclose(got[r]["grads"][name], want, rtol=1e-12, atol=1e-14, err_msg=name)
        assert np.array_equal(got[0]["grads"][name], got[1]["grads"][name])


def test_sampler_shards_partition_the_data(tmp_path):
    launch(tmp_path, "sampler")
    got = mg.load(str(tmp_path / "sampler.npz"))
    for epoch in (0, 1):
        assert sorted(got[f"n10_e{epoch}"].tolist()) == list(range(10))          # a partition
        idx = got[f"n11_e{epoch}"]                      # 11 over 2 ranks: one index repeated
        assert len(idx) == 12 and set(idx.tolist()) == set(range(11))
    assert not np.array_equal(got["n10_e0"], got["n10_e1"])                       # set_epoch reshuffles


def test_buffers_follow_rank_0(tmp_path):
    launch(tmp_path, "buffers")
    got = [mg.load(str(tmp_path / f"buffers_{r}.npz")) for r in range(NP)]
    for r in range(NP):
        np.testing.assert_array_equal(got[r]["after_forward"], [10.0] * 3)
        np.testing.assert_array_equal(got[r]["no_broadcast"], [10.0 + r] * 3)


def test_a_rank_that_raises_ends_every_rank(tmp_path):
    r = launch(tmp_path, "raise", check=False)
    assert r.returncode != 0
    assert "deliberate failure on rank 1" in r.stderr
    assert "aborting all ranks" in r.stderr
    assert not (tmp_path / "rank0_passed_barrier").exists()


def test_char_lm_distributed_resumes_the_same_run(tmp_path):
    """examples/char_lm.py --distributed: identical weights on both ranks (the example checks and
    says so), and a run stopped and resumed ends exactly where an uninterrupted one does."""
    exe = _mpiexec()
    if exe is None:
        pytest.skip("mpiexec not found")
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "char_lm.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive", PYTHONUNBUFFERED="1")

    def run(*args):
        cmd = [exe, "-n", str(NP), sys.executable, example, "--quick", "--distributed", "--threads", "1",
               "--no-progress", "--plot", "", "--max-steps", "6", "--data-chars", "20000", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    out = run("--checkpoint", "full.npz")
    assert f"weights identical on all {NP} ranks" in out
    run("--checkpoint", "part.npz", "--stop-at", "3")
    assert mg.load(str(tmp_path / "part.npz"))["step"] == 3
    run("--resume", "part.npz", "--checkpoint", "part.npz")
    full, part = mg.load(str(tmp_path / "full.npz")), mg.load(str(tmp_path / "part.npz"))
    assert part["step"] == full["step"] == 6
    for name, w in full["model"].items():
        np.testing.assert_array_equal(part["model"][name], w, err_msg=name)
    for a, b in zip(full["hidden"], part["hidden"]):          # every rank's streams, gathered
        assert a.shape[1] == NP * 16                           # --quick: 16 streams per rank
        np.testing.assert_array_equal(a, b)


def test_word_lm_distributed_resumes_the_same_run(tmp_path):
    """examples/word_lm.py --distributed: identical weights on both ranks, and a run stopped inside
    an epoch and resumed ends exactly where an uninterrupted one does (every rank's streams and
    dropout generator are in the checkpoint)."""
    exe = _mpiexec()
    if exe is None:
        pytest.skip("mpiexec not found")
    from test_example_word_lm import write_corpus
    write_corpus(tmp_path)
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "word_lm.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive", PYTHONUNBUFFERED="1")

    def run(*args):
        cmd = [exe, "-n", str(NP), sys.executable, example, "--data", str(tmp_path), "--quick", "--distributed",
               "--threads", "1", "--no-progress", "--plot", "", "--epochs", "2", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    out = run("--checkpoint", "full.npz")
    assert f"weights identical on all {NP} ranks" in out and f"{NP} processes" in out
    run("--checkpoint", "part.npz", "--stop-after", "17")                # --quick: 12 windows per epoch
    assert mg.load(str(tmp_path / "part.npz"))["epoch"] == 2
    run("--resume", "part.npz", "--checkpoint", "part.npz")
    full, part = mg.load(str(tmp_path / "full.npz")), mg.load(str(tmp_path / "part.npz"))
    np.testing.assert_array_equal(full["history"]["valid_ppl"], part["history"]["valid_ppl"])
    for name, w in full["model"].items():
        np.testing.assert_array_equal(part["model"][name], w, err_msg=name)
