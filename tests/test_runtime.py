"""Thread control, CPU feature reporting and malloc tuning of the C core."""
import os
import platform
import subprocess
import sys

import pytest

import minigrad as mg
from minigrad import kernels as K


def test_threads_roundtrip():
    old = mg.get_num_threads()
    try:
        mg.set_num_threads(1)
        assert mg.get_num_threads() == 1
        mg.set_num_threads(2)
        assert mg.get_num_threads() == (2 if K.has_openmp() else 1)
    finally:
        mg.set_num_threads(old)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)])
def test_set_num_threads_rejects_bad_values(bad, exc):
    with pytest.raises(exc, match="set_num_threads"):
        mg.set_num_threads(bad)


# A thread count the machine cannot take used to crash the process in libgomp (SIGSEGV at 100000
# threads, "Out of memory allocating ..." and exit at 50000 or 10**9). It is now clamped to
# max_num_threads() = min(OpenMP thread limit, 4 x processors); each count runs in a child
# process so that a crash fails the test instead of killing pytest.
_THREADS_CHILD = """
import sys
import numpy as np
from minigrad import kernels as K
if sys.argv[1] != "env":
    K.set_num_threads(eval(sys.argv[1]))
a = np.ones((300, 300))
K.gemm(a, a)                                   # 54 Mflop: a threaded GEMM
K.tanh_forward(np.ones(200_000))               # the threaded elementwise path
K.lstm_seq_forward(np.zeros((2, 64, 640)), np.zeros((64, 160)), np.zeros((64, 160)), np.zeros((640, 160)))
print(K.get_num_threads(), K.max_num_threads())
"""


def _threads_child(arg, cwd, **env):
    p = subprocess.run([sys.executable, "-c", _THREADS_CHILD, arg], cwd=cwd, capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, **env))
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr[-3000:]}"
    return tuple(map(int, p.stdout.split()))


@pytest.mark.parametrize("n", ["100000", "50000", "10**9", "2**31 + 5", "np.int64(2**62)"])
def test_huge_thread_counts_are_clamped_not_fatal(n, tmp_path):
    used, cap = _threads_child(n, tmp_path)
    assert used == cap == K.max_num_threads()
    assert 1 <= cap <= (4 * os.cpu_count() if K.has_openmp() else 1)


def test_thread_environment_is_bounded_too(tmp_path):
    if "OMP_THREAD_LIMIT" in os.environ:
        pytest.skip("the environment sets OMP_THREAD_LIMIT")
    assert _threads_child("env", tmp_path, OMP_NUM_THREADS="100000") == (K.max_num_threads(),) * 2
    if K.has_openmp():
        assert _threads_child("8", tmp_path, OMP_THREAD_LIMIT="3") == (3, 3)


def test_max_num_threads_rule():
    if not K.has_openmp():
        assert K.max_num_threads() == 1
        return
    limit = int(os.environ.get("OMP_THREAD_LIMIT", 2 ** 31 - 1))
    procs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert K.max_num_threads() == min(limit, 4 * procs)


def test_simd_switch():
    has = K.cpu_has_avx2_fma()
    K.set_simd(False)
    try:
        assert K.cpu_has_avx2_fma() is False
    finally:
        K.set_simd(True)
    assert K.cpu_has_avx2_fma() == has


# A process that starts with glibc's static 128 KiB thresholds (as after some other library's
# allocations switched the dynamic heuristic off) and then frees and re-allocates a 2 MiB buffer
# 20 times: without minigrad's tuning each round trip goes back to the kernel and faults 512
# pages in again; with it the freed block is reused.
_FAULTS_CHILD = """
import resource, numpy as np
import minigrad
a = np.ones(1 << 18); del a                       # warm-up: the heap has grown once
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = np.ones(1 << 18)                          # 2 MiB, every page written
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def _child_faults(tuning, cwd):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072",
               MINIGRAD_MALLOC_TUNING="1" if tuning else "0")
    # cwd: not the repository root, where `import minigrad` would find the source tree (no _C)
    out = subprocess.run([sys.executable, "-c", _FAULTS_CHILD], env=env, capture_output=True, text=True,
                         cwd=cwd)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc malloc only")
def test_malloc_tuning_keeps_freed_buffers(tmp_path):
    untuned, tuned = _child_faults(False, tmp_path), _child_faults(True, tmp_path)
    assert untuned > 20 * 400, untuned     # the buffer is faulted in again every time
    assert tuned < untuned / 10, (tuned, untuned)


def test_tune_malloc_can_be_switched():
    applied = K.tune_malloc(False)
    try:
        assert applied == GLIBC
    finally:
        K.tune_malloc(True)
