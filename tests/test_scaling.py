"""The rescaling statistics every learner uses (shallowml.utils.scaling), against numpy."""

import numpy as np
import pytest

from shallowml.utils.scaling import downscale_exponent, power_of_two_scale, rms_distance


def _brute_rms(A, I, J):
    return np.sqrt(np.mean(np.sum((A[I] - A[J]) ** 2, axis=1)))


def test_rms_distance_over_all_pairs_matches_brute_force():
    A = np.random.RandomState(0).randn(30, 4) * [1.0, 10.0, 0.1, 3.0]
    I, J = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    assert rms_distance(A) == pytest.approx(_brute_rms(A, I.ravel(), J.ravel()), rel=1e-12)


def test_rms_distance_over_given_pairs_matches_brute_force():
    rng = np.random.RandomState(1)
    A = rng.randn(20, 3)
    I, J = rng.randint(20, size=15), rng.randint(20, size=15)
    assert rms_distance(A, I, J) == pytest.approx(_brute_rms(A, I, J), rel=1e-12)


@pytest.mark.parametrize("factor", [1e-300, 1e300])
def test_rms_distance_neither_overflows_nor_underflows(factor):
    A = np.random.RandomState(2).randn(10, 3)
    assert rms_distance(A * factor) == pytest.approx(rms_distance(A) * factor, rel=1e-12)


def test_rms_distance_of_identical_points_raises():
    with pytest.raises(ValueError, match="identical"):
        rms_distance(np.ones((4, 2)), np.array([0, 1]), np.array([2, 3]))


def test_power_of_two_scale_is_exact_and_nearest():
    V = np.array([[0.3, -5.9, 2.0]])
    s = power_of_two_scale(V)
    assert s == 8.0  # log2(5.9) = 2.56 rounds to 3: 8 is nearer than 4 by ratio
    np.testing.assert_array_equal((V / s) * s, V)  # division by a power of two is exact
    assert power_of_two_scale(np.zeros((2, 2))) == 0.0


def test_downscale_exponent():
    assert downscale_exponent(np.array([3.0e20])) == 69  # 3e20 / 2**69 = 0.51
    assert downscale_exponent(np.array([3.0e18])) == 0
    assert downscale_exponent(np.array([-3.0]), above=0.0) == 2
