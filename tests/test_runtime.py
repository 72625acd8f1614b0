"""Thread control and CPU feature reporting of the C core."""
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


def test_simd_switch():
    has = K.cpu_has_avx2_fma()
    K.set_simd(False)
    try:
        assert K.cpu_has_avx2_fma() is False
    finally:
        K.set_simd(True)
    assert K.cpu_has_avx2_fma() == has
