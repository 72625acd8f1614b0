"""Session-wide test settings: the instruction-set cap, the hypothesis profile and the header.

``MINIGRAD_TEST_SIMD=<level>`` caps the C kernels at an instruction-set level for the whole
session, as on a CPU that has nothing above it: ``generic`` runs every kernel on its portable C
path, so a green run with it shows the suite passes on an x86-64 CPU without AVX2/FMA (and
without AVX-512). Tests that switch SIMD on themselves (the SIMD-vs-generic comparisons in
test_gemm.py and test_activations.py) get the cap instead, exactly as they would on such a CPU.
Unset (or ``auto``) changes nothing. .ci/run runs the suite once with ``generic``.

The header lines say what the session actually runs on: the CPU, whether it has AVX2/FMA and
whether the kernels use it, OpenMP and the thread count, whether the ASan runtime is loaded,
and which build of ``minigrad._C`` is under test (so a CI variant shows it tests its own build).
"""
import os
import platform

import pytest

import minigrad as mg
from minigrad import kernels as K
from minigrad.kernels import common as _common

# Instruction-set levels, lowest first, each with the argument of kernels.set_simd selecting it.
# A new level of set_simd (e.g. "avx2", "avx512") is one line here, in its place in the order.
SIMD_LEVELS = {
    "generic": False,
    "auto": True,
}
SIMD_ENV = "MINIGRAD_TEST_SIMD"


def _simd_cap():
    """The level named by MINIGRAD_TEST_SIMD (None when unset); a typo is an error, not a no-op."""
    name = os.environ.get(SIMD_ENV, "").strip().lower()
    if not name:
        return None
    if name not in SIMD_LEVELS:
        raise pytest.UsageError(f"{SIMD_ENV}={name!r}: expected one of {', '.join(SIMD_LEVELS)}")
    return name


def _rank(arg):
    """Position in SIMD_LEVELS of a set_simd argument: a level's name, or a truth value (True =
    the fastest the CPU has, False = generic C, as set_simd(bool) means today). None: unknown."""
    names = list(SIMD_LEVELS)
    if isinstance(arg, str):
        return names.index(arg) if arg in SIMD_LEVELS else None
    return len(names) - 1 if arg else 0


def _capped(set_simd, cap):
    """set_simd that never leaves a level above ``cap`` selected, like set_simd on a CPU that
    lacks the rest. The real set_simd runs first, so bad arguments get its own errors."""
    cap_rank = list(SIMD_LEVELS).index(cap)

    def set_simd_capped(level):
        result = set_simd(level)
        rank = _rank(level)
        if rank is None or rank > cap_rank:     # above the cap, or a level not listed above
            set_simd(SIMD_LEVELS[cap])
        return result
    set_simd_capped.__doc__ = set_simd.__doc__
    return set_simd_capped


_CAP = None                            # the session's level name, set by pytest_configure
_HAS_AVX2_FMA = K.cpu_has_avx2_fma()   # before any cap: what the CPU (and the default) offers
_PATCH = pytest.MonkeyPatch()


def pytest_configure(config):
    global _CAP
    _CAP = _simd_cap()
    try:                        # no wall-clock limits (standard 7): sanitizer builds and a shared
        from hypothesis import HealthCheck, settings   # machine are slower, never wrong
    except ImportError:
        pass
    else:
        settings.register_profile("minigrad", deadline=None, print_blob=True,
                                  suppress_health_check=[HealthCheck.too_slow])
        settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minigrad"))
    if _CAP is not None:
        capped = _capped(_common.set_simd, _CAP)
        for module in (K, _common):
            _PATCH.setattr(module, "set_simd", capped)
        K.set_simd(SIMD_LEVELS[_CAP])


def pytest_unconfigure(config):
    _PATCH.undo()


@pytest.fixture(autouse=True)
def _simd_level():
    """Every test starts at the session's level, whatever the previous test left behind."""
    if _CAP is not None:
        K.set_simd(SIMD_LEVELS[_CAP])
    yield


def _cpu_info():
    """(model name, set of feature flags) from /proc/cpuinfo; the platform's names elsewhere."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return model, flags


def _asan_loaded():
    """True if the AddressSanitizer runtime is in the process (the CI's sanitizer stage)."""
    import ctypes
    return hasattr(ctypes.CDLL(None), "__asan_init")


def pytest_report_header(config):
    model, flags = _cpu_info()
    used = K.cpu_has_avx2_fma()
    return [
        f"minigrad: CPU {model} (AVX-512F {'yes' if 'avx512f' in flags else 'no'}); AVX2/FMA "
        f"{'available' if _HAS_AVX2_FMA else 'absent'}, {'used' if used else 'not used'} "
        f"(SIMD level {_CAP or 'auto'}, {SIMD_ENV})",
        f"minigrad: OpenMP {'on' if K.has_openmp() else 'off'}, {mg.get_num_threads()} threads; "
        f"ASan runtime {'loaded' if _asan_loaded() else 'not loaded'}",
        f"minigrad: extension {_common._C.__file__}",
    ]
