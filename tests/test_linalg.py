"""Linear-algebra and solver helpers: PSD -> L, principal subspaces, inverse square roots."""

import re

import numpy as np
import pytest
from scipy import linalg

from shallowml._solvers.eigen import fisher_directions
from shallowml.utils.init import class_scatters, initial_components, resolve_n_components
from shallowml.utils.linalg import components_from_metric, principal_subspace, symmetric_inverse_sqrt
from shallowml.utils.subspace import ScaledSubspace


@pytest.fixture
def rng():
    return np.random.RandomState(0)


# ------------------------------------------------------- components_from_metric
def test_components_from_metric_positive_definite(rng):
    A = rng.standard_normal((5, 5))
    M = A @ A.T + 0.1 * np.eye(5)
    L = components_from_metric(M)
    assert L.shape == (5, 5) and L.flags.c_contiguous
    np.testing.assert_allclose(L.T @ L, M, rtol=1e-12, atol=1e-12)
    # Cholesky path: L is upper triangular
    np.testing.assert_allclose(np.tril(L, -1), 0.0)


def test_components_from_metric_singular_psd(rng):
    A = rng.standard_normal((2, 5))
    M = A.T @ A  # rank 2
    L = components_from_metric(M)
    assert np.all(np.isfinite(L)) and L.shape == (5, 5)
    np.testing.assert_allclose(L.T @ L, M, atol=1e-10)
    # rows sorted by decreasing eigenvalue: the last 3 are (numerically) zero
    norms = np.linalg.norm(L, axis=1)
    assert np.all(norms[2:] < 1e-6 * norms[0])


def test_components_from_metric_zero_and_extreme_scales():
    np.testing.assert_array_equal(components_from_metric(np.zeros((3, 3))), 0.0)
    for s in (1e-300, 1e300):
        M = np.array([[2.0, 1.0], [1.0, 2.0]]) * s
        L = components_from_metric(M)
        np.testing.assert_allclose(L.T @ L, M, rtol=1e-12)


def test_components_from_metric_round_off_negative_eigenvalue_clipped(rng):
    v = rng.standard_normal(4)
    M = np.outer(v, v) - 1e-14 * np.eye(4)  # tiny negative eigenvalues from round-off
    L = components_from_metric(M)
    np.testing.assert_allclose(L.T @ L, np.outer(v, v), atol=1e-12)


@pytest.mark.parametrize(
    "M, msg",
    [
        (np.diag([1.0, -1.0]), "The metric matrix is not positive semi-definite (smallest eigenvalue -1, largest 1)."),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "The metric matrix contains NaN or infinity."),
        (np.array([[1.0, np.inf], [np.inf, 1.0]]), "The metric matrix contains NaN or infinity."),
        (np.array([[1.0, 0.5], [0.0, 1.0]]), "The metric matrix must be symmetric."),
        (np.ones((2, 3)), "The metric matrix must be square, got shape (2, 3)."),
        (np.ones(3), "The metric matrix must be square, got shape (3,)."),
    ],
)
def test_components_from_metric_errors(M, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        components_from_metric(M)


def test_components_from_metric_tol():
    M = np.diag([1.0, -1e-6])
    with pytest.raises(ValueError, match="not positive semi-definite"):
        components_from_metric(M)
    L = components_from_metric(M, tol=1e-5)
    np.testing.assert_allclose(L.T @ L, np.diag([1.0, 0.0]))


# ------------------------------------------------------------ principal subspace
def test_principal_subspace_drops_constant_and_duplicate(rng):
    X = rng.standard_normal((30, 3))
    X = np.hstack([X, np.full((30, 1), 4.0), X[:, :1]])  # constant + duplicate column
    mean, basis, var = principal_subspace(X)
    np.testing.assert_allclose(mean, X.mean(0))
    assert basis.shape == (5, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    assert np.all(np.diff(var) <= 0)
    np.testing.assert_allclose(basis[3], 0.0, atol=1e-12)  # no weight on the constant feature
    # variances are those of the projected, centred data
    np.testing.assert_allclose(var, ((X - mean) @ basis).var(axis=0), rtol=1e-10)


@pytest.mark.parametrize("scale", [1e-150, 1.0, 1e150])
def test_principal_subspace_extreme_scales(rng, scale):
    X = rng.standard_normal((20, 3)) @ np.diag([3.0, 1.0, 0.0])
    _, basis, var = principal_subspace(X * scale)
    _, basis1, var1 = principal_subspace(X)
    assert basis.shape == (3, 2)
    np.testing.assert_allclose(np.abs(basis), np.abs(basis1), atol=1e-12)
    np.testing.assert_allclose(var, var1 * scale**2, rtol=1e-10)


def test_principal_subspace_constant_data():
    mean, basis, var = principal_subspace(np.ones((5, 3)))
    assert basis.shape == (3, 0) and var.shape == (0,)


def test_scaled_subspace_round_trip(rng):
    X = rng.standard_normal((40, 3)) * 1e-120 + 5e-120
    sub = ScaledSubspace(X)
    assert sub.rank == 3 and np.linalg.norm(sub.Z, axis=1).max() <= np.sqrt(3) + 1e-12
    A = rng.standard_normal((2, 3))
    L = sub.to_features(A, 4)
    assert L.shape == (4, 3) and np.all(L[2:] == 0)
    # L applied to centred X equals A applied to Z
    np.testing.assert_allclose((X - X.mean(0)) @ L[:2].T, sub.Z @ A.T, rtol=1e-8, atol=1e-12)


# --------------------------------------------------------- symmetric inverse sqrt
def test_symmetric_inverse_sqrt_full_rank(rng):
    A = rng.standard_normal((4, 4))
    S = A @ A.T + np.eye(4)
    R = symmetric_inverse_sqrt(S)
    np.testing.assert_allclose(R, R.T, atol=1e-12)
    np.testing.assert_allclose(R @ S @ R, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(R, linalg.inv(linalg.sqrtm(S)).real, atol=1e-10)


def test_symmetric_inverse_sqrt_singular_is_pseudo_inverse(rng):
    v = rng.standard_normal((3, 1))
    S = v @ v.T
    R = symmetric_inverse_sqrt(S)
    assert np.all(np.isfinite(R))
    P = v @ v.T / (v.T @ v)  # projector onto the range
    np.testing.assert_allclose(R @ S @ R, P, atol=1e-10)
    np.testing.assert_allclose(symmetric_inverse_sqrt(np.zeros((2, 2))), 0.0)
    # eigenvalues below rtol * largest are dropped, above are inverted
    np.testing.assert_allclose(symmetric_inverse_sqrt(np.diag([1.0, 1e-13])), np.diag([1.0, 0.0]))
    np.testing.assert_allclose(symmetric_inverse_sqrt(np.diag([1.0, 1e-10])), np.diag([1.0, 1e5]))


def test_symmetric_inverse_sqrt_reg():
    S = np.diag([4.0, 0.0])
    R = symmetric_inverse_sqrt(S, reg=0.5)  # adds 0.5 * mean eigenvalue = 1
    np.testing.assert_allclose(np.diag(R), [1 / np.sqrt(5.0), 1.0])


# --------------------------------------------------------------- fisher / init
def test_fisher_directions_generalised_eigenproblem(rng):
    X = rng.standard_normal((60, 3))
    y = np.arange(60) % 3
    X[:, 0] += 3 * y
    S_w, S_b = class_scatters(X, y)
    vals, V = fisher_directions(S_b, S_w, 2, reg=0.0)
    assert V.shape == (3, 2) and np.all(np.diff(vals) <= 0)
    S_w_reg = S_w + np.finfo(float).eps * np.eye(3)
    np.testing.assert_allclose(V.T @ S_w_reg @ V, np.eye(2), atol=1e-10)
    np.testing.assert_allclose(S_b @ V, S_w_reg @ V * vals, atol=1e-8)
    assert abs(V[0, 0]) > abs(V[1, 0])  # the discriminative feature dominates


def test_class_scatters_total(rng):
    X = rng.standard_normal((20, 2))
    y = np.arange(20) % 4
    S_w, S_b = class_scatters(X, y)
    Xc = X - X.mean(0)
    np.testing.assert_allclose(S_w + S_b, Xc.T @ Xc / 20, atol=1e-12)


def test_resolve_n_components():
    assert resolve_n_components(None, 4) == 4 and resolve_n_components(2, 4) == 2
    with pytest.raises(ValueError, match=re.escape("n_components=5 is larger than the number of features (4); use at most 4, or None.")):
        resolve_n_components(5, 4)
    with pytest.raises(ValueError, match=re.escape("n_components must be a positive integer, got 0.")):
        resolve_n_components(0, 4)


@pytest.mark.parametrize("init", ["auto", "pca", "lda", "identity", "random"])
def test_initial_components_shapes_finite(rng, init):
    X = rng.standard_normal((30, 4))
    y = np.arange(30) % 3
    L0 = initial_components(init, X, y, 2, random_state=np.random.RandomState(0))
    assert L0.shape == (2, 4) and np.all(np.isfinite(L0))
    again = initial_components(init, X, y, 2, random_state=np.random.RandomState(0))
    np.testing.assert_array_equal(L0, again)


def test_initial_components_errors(rng):
    X = rng.standard_normal((10, 4))
    y = np.arange(10) % 2
    rs = np.random.RandomState(0)
    with pytest.raises(ValueError, match=re.escape("The init array has shape (2, 2); expected")):
        initial_components(np.eye(2), X, y, 2, random_state=rs)
    with pytest.raises(ValueError, match=re.escape("init='lda' needs n_components <= min(n_features, n_classes - 1) = 1")):
        initial_components("lda", X, y, 2, random_state=rs)
    with pytest.raises(ValueError, match=re.escape("init='lda' needs class labels")):
        initial_components("lda", X, None, 1, random_state=rs)
    with pytest.raises(ValueError, match=re.escape("init must be one of")):
        initial_components("bogus", X, y, 2, random_state=rs)


def test_absolute_tolerance_for_a_metric_shrunk_to_zero():
    # ITML shrinking a unit-scale prior to ~0 (found by the property tests: 1-D data, every
    # pair similar) left M = [[-2.2e-16]]: relative to itself that is "negative definite",
    # relative to the prior it is round-off
    M = np.array([[-2.2e-16]])
    with pytest.raises(ValueError, match="not positive semi-definite"):
        components_from_metric(M)
    np.testing.assert_array_equal(components_from_metric(M, atol=1e-12), [[0.0]])
    with pytest.raises(ValueError, match="not positive semi-definite"):
        components_from_metric(np.array([[-1e-6]]), atol=1e-12)
