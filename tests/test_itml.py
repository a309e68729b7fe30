"""Tests for ITML (shallowml/itml.py), its solver (shallowml/_solvers/bregman.py) and projection kernel (shallowml/_kernels/itml.py)."""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from shallowml import ITML, ITML_Supervised
from shallowml._kernels.itml import itml_sweep
from shallowml.constraints import pairs_from_indices, positive_negative_pairs
from shallowml._solvers.bregman import itml_solve

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _reference_sweep(V, sign, xi, lam, A, gamma_proj, inv_gamma, order):
    """Plain numpy cyclic projections (Davis et al. 2007, Algorithm 1)."""
    n_updates = 0
    for k in order:
        v = V[k]
        Av = A @ v
        p = v @ Av
        if not p > np.finfo(np.float64).tiny:
            continue
        s = sign[k]
        alpha = min(lam[k], gamma_proj * s * (1.0 / p - 1.0 / xi[k]))
        if alpha == 0.0:
            continue
        beta = s * alpha / (1.0 - s * alpha * p)
        xi[k] = 1.0 / (1.0 / xi[k] + s * alpha * inv_gamma)
        lam[k] -= alpha
        A += beta * np.outer(Av, Av)
        n_updates += 1
    return n_updates


@pytest.fixture(scope="module")
def iris_pairs(make_iris_pairs):
    return make_iris_pairs(40)


def _psd_check(M):
    np.testing.assert_array_equal(M, M.T)
    w = np.linalg.eigvalsh(M)
    assert w.min() >= -1e-10 * w.max()


@pytest.mark.parametrize("gamma", [1.0, 10.0, np.inf])
@pytest.mark.parametrize("order_kind", ["all", "subset"])
def test_kernel_matches_numpy_reference(gamma, order_kind):
    rng = np.random.RandomState(0)
    V = rng.randn(40, 5)
    V[3] = 0.0  # zero difference: skipped
    V[7] = V[5]  # duplicate constraint
    V[:, 4] *= 0.0  # a feature that never varies
    sign = np.where(rng.rand(40) < 0.5, 1.0, -1.0)
    gp = 1.0 if np.isinf(gamma) else gamma / (gamma + 1)
    ig = 0.0 if np.isinf(gamma) else 1 / gamma
    if order_kind == "all":
        order = np.arange(40)
    else:  # a permuted subset, with the zero row and the duplicate pair in it
        order = np.r_[rng.permutation(np.r_[0:3, 8:30]), 3, 5, 7]
    state = [np.where(sign > 0, 1.0, 8.0), np.zeros(40), np.eye(5)]
    ref = [a.copy() for a in state]
    for _ in range(5):
        n1 = itml_sweep(V, sign, *state, gp, ig, order)
        n2 = _reference_sweep(V, sign, *ref, gp, ig, order)
        # with hard constraints, re-projecting onto a tight constraint gives a
        # round-off sized alpha that may be exactly 0 in one implementation only
        assert n1 == n2 or (np.isinf(gamma) and abs(n1 - n2) <= 2)
    for a, b in zip(state, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert np.all(state[1] >= 0)  # duals stay non-negative
    assert state[1][3] == 0.0
    assert np.all(state[2][4] == np.eye(5)[4])  # the null direction is untouched
    unvisited = np.setdiff1d(np.arange(40), order)
    assert np.all(state[1][unvisited] == 0.0)  # constraints not in order are untouched
    assert np.all(state[0][unvisited] == np.where(sign > 0, 1.0, 8.0)[unvisited])
    assert itml_sweep(V, sign, *state, gp, ig, order[:0]) == 0  # empty order: no-op


def _plain_full_sweeps(V, sign, gamma, bounds, n_sweeps):
    """Full cyclic sweeps with the numpy reference (no skipping), identity prior."""
    xi = np.where(sign > 0, bounds[0], bounds[1]).astype(float)
    lam, A = np.zeros(len(sign)), np.eye(V.shape[1])
    for _ in range(n_sweeps):
        _reference_sweep(V, sign, xi, lam, A, gamma / (gamma + 1), 1 / gamma, range(len(sign)))
    return A


@pytest.mark.parametrize("gamma", [0.01, 1.0])
def test_skipping_sweeps_reach_the_plain_optimum(iris_pairs, gamma):
    # the solver skips constraints whose projection would do nothing; run to
    # a tight tol it must land on the optimum of plain full cyclic sweeps
    pairs, y = iris_pairs
    V = pairs[:, 0] - pairs[:, 1]
    bounds = (0.5, 6.0)
    M, _, res = itml_solve(V, y, gamma=gamma, bounds=bounds, max_iter=20000, tol=1e-12)
    assert res.converged
    M_ref = _plain_full_sweeps(V, y.astype(float), gamma, bounds, 3000)
    np.testing.assert_allclose(M, M_ref, rtol=1e-7, atol=1e-7 * np.abs(M_ref).max())
    assert not np.allclose(M, np.eye(4), atol=1e-2)  # the constraints did move the metric


def test_stops_only_when_no_skipped_constraint_is_violated():
    # sweep 1 visits only the violated similar pair (the dissimilar one is
    # satisfied and skipped); projecting it shrinks the metric along x, which
    # violates the dissimilar pair. With tol=2 the dual change of sweep 1
    # (exactly 1) is "small", so only the violation check keeps it going.
    V = np.array([[2.0, 0.0], [1.0, 0.1]])
    sign = np.array([1.0, -1.0])
    M, _, res = itml_solve(V, sign, gamma=np.inf, bounds=(1.0, 0.5), max_iter=1000, tol=2.0)
    assert res.converged and res.n_iter >= 2
    assert res.history[0] == pytest.approx(1.0)
    d2 = np.sum((V @ M) * V, axis=1)
    assert d2[1] >= 0.5 * (1 - 1e-9)


def test_fit_psd_symmetric_and_components(iris_pairs):
    pairs, y = iris_pairs
    itml = ITML(max_iter=50).fit(pairs, y)
    M = itml.get_mahalanobis_matrix()
    _psd_check(M)
    d2 = np.einsum("ij,jk,ik->i", pairs[:, 0] - pairs[:, 1], M, pairs[:, 0] - pairs[:, 1])
    np.testing.assert_allclose(itml.pair_distance(pairs) ** 2, d2, rtol=1e-8)
    assert itml.components_.shape == (4, 4) and itml.n_features_in_ == 4
    assert 1 <= itml.n_iter_ <= 50
    assert itml.bounds_.shape == (2,) and itml.bounds_[0] < itml.bounds_[1]
    # threshold_ is the training-accuracy calibration
    t = itml.threshold_
    assert itml.calibrate_threshold(pairs, y, strategy="accuracy").threshold_ == t
    assert itml.score(pairs, y) > 0.9


def test_constraints_satisfied_on_feasible_problem():
    # similar pairs differ along axis 0, dissimilar along axis 1: feasible
    rng = np.random.RandomState(0)
    n = 20
    a = rng.randn(2 * n, 3)
    diff = np.zeros((2 * n, 3))
    diff[:n, 0] = rng.uniform(1, 2, n)
    diff[n:, 1] = rng.uniform(0.2, 0.5, n)
    diff[:, 2] = rng.uniform(-0.1, 0.1, 2 * n)
    pairs = np.stack([a, a + diff], axis=1)
    y = np.r_[np.ones(n), -np.ones(n)]
    u, l = 0.5, 4.0
    for gamma in (1e8, np.inf):
        itml = ITML(gamma=gamma, bounds=(u, l), max_iter=5000, tol=1e-9).fit(pairs, y)
        d2 = itml.pair_distance(pairs) ** 2
        assert d2[:n].max() <= u * (1 + 1e-3)
        assert d2[n:].min() >= l * (1 - 1e-3)
    # with little slack (small gamma) the constraints are only partly enforced
    soft = ITML(gamma=1e-3, bounds=(u, l), max_iter=5000, tol=1e-9).fit(pairs, y)
    assert (soft.pair_distance(pairs[:n]) ** 2).max() > u * 1.01
    np.testing.assert_allclose(itml.bounds_, [u, l])
    np.testing.assert_array_equal(itml.predict(pairs), y)
    _psd_check(itml.get_mahalanobis_matrix())


def test_satisfied_constraints_keep_the_prior():
    pairs = np.array([[[0.0, 0.0], [0.1, 0.0]], [[0.0, 0.0], [3.0, 0.0]]])
    itml = ITML(bounds=(1.0, 2.0)).fit(pairs, [1, -1])
    np.testing.assert_allclose(itml.get_mahalanobis_matrix(), np.eye(2))
    assert itml.n_iter_ == 1
    prior = np.array([[2.0, 0.5], [0.5, 1.0]])
    itml = ITML(bounds=(1e-3, 1e-2), prior=prior).fit(pairs, [-1, -1])
    np.testing.assert_allclose(itml.get_mahalanobis_matrix(), prior)


def test_logdet_optimum_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.RandomState(1)
    d, n = 3, 6
    V = rng.randn(n, d)
    sign = np.array([1, 1, 1, -1, -1, -1.0])
    u, l = 0.5, 6.0
    M, _, res = itml_solve(V, sign, gamma=np.inf, bounds=(u, l), max_iter=20000, tol=1e-12)
    assert res.converged
    X = cp.Variable((d, d), PSD=True)
    cons = [cp.quad_form(v, X) <= u if s > 0 else cp.quad_form(v, X) >= l for v, s in zip(V, sign)]
    prob = cp.Problem(cp.Minimize(cp.trace(X) - cp.log_det(X)), cons)
    prob.solve()
    assert prob.status == "optimal"
    obj = np.trace(M) - np.linalg.slogdet(M)[1]
    assert obj == pytest.approx(prob.value, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(M, X.value, atol=2e-3 * np.abs(M).max())


def _slack_objective(M, V, sign, gamma, bounds, M0):
    """ITML objective with slack (Davis et al. 2007, eq. 4.3) at ``M``, slack chosen optimally.

    ``D_ld(M, M0) + gamma * sum_c (xi_c / xi0_c - log(xi_c / xi0_c) - 1)`` with
    ``xi0 = u`` for similar and ``l`` for dissimilar pairs. For a fixed ``M``
    the best feasible slack is ``xi0`` where the constraint holds at ``xi0``
    and the squared distance otherwise, so every PD ``M`` gives a feasible point.
    """
    xi0 = np.where(sign > 0, bounds[0], bounds[1])
    p = np.einsum("ij,jk,ik->i", V, M, V)
    r = np.where(sign * (p - xi0) > 0, p, xi0) / xi0
    M0_inv = np.linalg.inv(M0)
    d_ld = np.trace(M @ M0_inv) - np.linalg.slogdet(M @ M0_inv)[1] - M.shape[0]
    return d_ld + gamma * np.sum(r - np.log(r) - 1.0)


def _kkt_residual(M, V, sign, gamma, bounds, M0):
    """Relative residual of the KKT stationarity condition of the slack problem at ``M``.

    The Lagrangian of ``min D_ld(M, M0) + gamma D_ld(diag xi, diag xi0)``
    s.t. ``sign_c (v_c^T M v_c - xi_c) <= 0`` gives ``M^-1 = M0^-1 + sum_c
    sign_c lam_c v_c v_c^T`` and ``lam_c = sign_c gamma (1/xi0_c - 1/xi_c)``,
    with ``lam_c >= 0`` and ``lam_c = 0`` unless the constraint is tight. So
    ``lam`` follows from ``M`` alone: ``max(0, sign_c gamma (1/xi0_c - 1/p_c))``
    with ``p_c`` the squared distance. The problem is convex, so a zero
    residual certifies the optimum.
    """
    xi0 = np.where(sign > 0, bounds[0], bounds[1])
    p = np.einsum("ij,jk,ik->i", V, M, V)
    lam = np.maximum(0.0, sign * gamma * (1.0 / xi0 - 1.0 / p))
    M_inv = np.linalg.inv(M)
    R = M_inv - np.linalg.inv(M0) - (V.T * (sign * lam)) @ V
    return np.abs(R).max() / np.abs(M_inv).max()


@pytest.fixture(scope="module")
def slack_problem():
    """5 features, 8 similar + 8 dissimilar pairs; bounds such that, at the optimum,
    some constraints of each kind need slack and others hold without it."""
    rng = np.random.RandomState(0)
    V = rng.randn(16, 5)
    sign = np.r_[np.ones(8), -np.ones(8)]
    B = rng.randn(5, 5)
    priors = {"identity": np.eye(5), "spd": B @ B.T / 5 + 0.5 * np.eye(5)}
    return V, sign, (4.0, 5.0), priors


@pytest.mark.parametrize("prior", ["identity", "spd"])
@pytest.mark.parametrize("gamma", [0.1, 1.0, 10.0])
def test_slack_optimum_matches_cvxpy_and_kkt(slack_problem, gamma, prior):
    # Independent of the kernel: the problem of Davis et al. (2007) with slack,
    # min D_ld(M, M0) + gamma * sum_c (xi_c/xi0_c - log(xi_c/xi0_c) - 1)
    # s.t. v^T M v <= xi (similar), >= xi (dissimilar), solved by cvxpy, and
    # its KKT conditions. gamma enters unscaled (the projections' gamma/(gamma+1)
    # is how the Bregman step solves exactly this objective).
    cp = pytest.importorskip("cvxpy")
    if "CLARABEL" not in cp.installed_solvers():
        pytest.skip("needs the CLARABEL solver (log_det: exponential and PSD cones)")
    V, sign, bounds, priors = slack_problem
    M0 = priors[prior]
    n, d = V.shape
    M, _, res = itml_solve(V, sign, gamma=gamma, prior=prior if prior == "identity" else M0,
                           bounds=bounds, max_iter=100000, tol=1e-13)
    assert res.converged

    # 1. KKT: exact optimality certificate, needs no solver; shallowml's
    # projections reach round-off (observed relative residual <= 1e-12)
    assert _kkt_residual(M, V, sign, gamma, bounds, M0) < 1e-9

    # 2. cvxpy on the same objective (constants kept, so the values compare)
    X = cp.Variable((d, d), PSD=True)
    xi = cp.Variable(n)
    xi0 = np.where(sign > 0, bounds[0], bounds[1])
    dist = cp.sum(cp.multiply(V @ X, V), axis=1)
    M0_inv = np.linalg.inv(M0)
    objective = (cp.trace(M0_inv @ X) - cp.log_det(X) + np.linalg.slogdet(M0)[1] - d
                 + gamma * cp.sum(xi / xi0 - cp.log(xi) + np.log(xi0) - 1.0))
    prob = cp.Problem(cp.Minimize(objective), [cp.multiply(sign, dist - xi) <= 0])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prob.status == "optimal"
    M_cvx = 0.5 * (X.value + X.value.T)
    # the case exercises the slack: at the optimum, constraints of each kind
    # that need slack (violated at xi0) and that hold without it
    excess = sign * (np.einsum("ij,jk,ik->i", V, M_cvx, V) - xi0) / xi0
    for kind in (sign > 0, sign < 0):
        assert np.any(excess[kind] > 1e-3) and np.any(excess[kind] < -1e-3)
    f_ours = _slack_objective(M, V, sign, gamma, bounds, M0)
    f_cvx = _slack_objective(M_cvx, V, sign, gamma, bounds, M0)
    # M_cvx with its best slack is a feasible point, so the optimum cannot be
    # worse than it, whatever cvxpy's accuracy (observed f_ours - f_cvx in [-5e-10, 0])
    assert f_ours <= f_cvx + 1e-10 * (1.0 + abs(f_cvx))
    assert f_ours == pytest.approx(prob.value, rel=1e-7, abs=1e-7)
    # Clarabel's interior point stops at a gap of ~1e-10 in the objective; as the
    # objective is quadratic near the optimum, M is only accurate to ~sqrt(gap):
    # observed max |M - M_cvx| <= 5e-6 * max|M| over these cases (prob.value
    # agrees with the objective at M to 1e-9 relative)
    np.testing.assert_allclose(M, M_cvx, rtol=0, atol=1e-4 * np.abs(M).max())

    # 3. the estimator solves the same problem (pairs, prior, components_ round trip)
    a = np.random.RandomState(1).randn(n, d)
    pairs = np.stack([a + V, a], axis=1)
    est = ITML(gamma=gamma, prior=prior if prior == "identity" else M0, bounds=bounds,
               max_iter=100000, tol=1e-13).fit(pairs, sign.astype(int))
    np.testing.assert_allclose(est.get_mahalanobis_matrix(), M, rtol=1e-9, atol=1e-12 * np.abs(M).max())


def test_scale_invariance(iris_pairs):
    pairs, y = iris_pairs
    base = ITML(max_iter=20).fit(pairs, y)
    for s in (1e-120, 1e120):
        est = ITML(max_iter=20).fit(pairs * s, y)
        # identity prior: default bounds scale with the data, M does not change
        np.testing.assert_allclose(est.get_mahalanobis_matrix(), base.get_mahalanobis_matrix(), rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(est.predict(pairs * s), base.predict(pairs))
        cov = ITML(max_iter=20, prior="covariance").fit(pairs * s, y)
        assert np.all(np.isfinite(cov.components_))
        np.testing.assert_array_equal(cov.predict(pairs * s), ITML(max_iter=20, prior="covariance").fit(pairs, y).predict(pairs))


def test_covariance_prior_constant_feature():
    X, y = load_iris(return_X_y=True)
    X = np.c_[X, np.full(len(X), 3.0)]  # constant feature (like empty digits pixels)
    est = ITML_Supervised(prior="covariance", max_iter=30, random_state=0).fit(X, y)
    assert np.all(np.isfinite(est.components_))
    np.testing.assert_allclose(est.components_[:, -1], 0.0, atol=1e-12)
    _psd_check(est.get_mahalanobis_matrix())


def test_degenerate_inputs(iris_pairs):
    pairs, y = iris_pairs
    # zero-difference pairs are ignored, not divided by
    p2 = pairs.copy()
    p2[:5, 1] = p2[:5, 0]
    est = ITML(max_iter=20).fit(p2, y)
    assert np.all(np.isfinite(est.components_))
    # only similar (or only dissimilar) pairs
    est = ITML(max_iter=20).fit(pairs[y > 0], y[y > 0])
    _psd_check(est.get_mahalanobis_matrix())
    assert np.all(est.predict(pairs[y > 0]) == 1)
    est = ITML(max_iter=20).fit(pairs[y < 0], y[y < 0])
    assert np.all(est.predict(pairs[y < 0]) == -1)
    with pytest.raises(ValueError, match=re.escape("Every pair has two identical points (zero difference); nothing to learn.")):
        ITML().fit(np.ones((3, 2, 2)), [1, -1, 1])
    bad = pairs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ITML().fit(bad, y)
    with pytest.raises(ValueError, match=re.escape("Pair labels must be -1 (dissimilar) or +1 (similar), got [0, 1].")):
        ITML().fit(pairs, (y > 0).astype(int))
    with pytest.raises(ValueError, match=re.escape("pairs must be a 3-D array of shape (n_pairs, 2, n_features)")):
        ITML().fit(pairs[:, 0], y)


def test_parameter_errors(iris_pairs):
    pairs, y = iris_pairs
    with pytest.raises(ValueError, match=re.escape("bounds must be two positive finite numbers (u, l), got (1, 0).")):
        ITML(bounds=(1, 0)).fit(pairs, y)
    msg = "bounds=(5.0, 1.0): u (the largest squared distance of similar pairs) must be below l"
    with pytest.raises(ValueError, match=re.escape(msg)):
        ITML(bounds=(5, 1)).fit(pairs, y)
    X, yc = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=re.escape(msg)):
        ITML_Supervised(bounds=(5, 1)).fit(X, yc)
    with pytest.raises(ValueError, match=re.escape("prior must be 'identity', 'covariance' or an array of shape (4, 4), got shape (3, 3).")):
        ITML(prior=np.eye(3)).fit(pairs, y)
    with pytest.raises(ValueError, match=re.escape("prior must be a symmetric matrix.")):
        ITML(prior=np.triu(np.ones((4, 4)))).fit(pairs, y)
    with pytest.raises(ValueError, match=re.escape("prior must be positive semi-definite and non-zero")):
        ITML(prior=-np.eye(4)).fit(pairs, y)
    with pytest.raises(ValueError, match="gamma"):
        ITML(gamma=0).fit(pairs, y)
    with pytest.raises(ValueError, match="prior"):
        ITML(prior="bogus").fit(pairs, y)
    X, yc = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=re.escape("Cannot sample 5000 distinct similar pairs: only 3675 exist")):
        ITML_Supervised(n_constraints=5000, random_state=0).fit(X, yc)
    with pytest.raises(ValueError, match=re.escape("ITML_Supervised needs samples of at least 2 classes; got 1 class.")):
        ITML_Supervised().fit(X, np.zeros(len(X)))


def test_random_prior(iris_pairs):
    # metric-learn's prior='random': a random symmetric positive definite M0 drawn with random_state
    from shallowml.itml import _resolve_prior

    M0 = _resolve_prior("random", 4, np.random.RandomState(0))
    np.testing.assert_allclose(M0, M0.T)
    assert np.linalg.eigvalsh(M0).min() > 0
    pairs, y = iris_pairs
    a = ITML(prior="random", random_state=0, max_iter=30).fit(pairs, y).components_
    b = ITML(prior="random", random_state=0, max_iter=30).fit(pairs, y).components_
    c = ITML(prior="random", random_state=1, max_iter=30).fit(pairs, y).components_
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    X, yc = load_iris(return_X_y=True)
    est = ITML_Supervised(prior="random", random_state=3, max_iter=5)
    assert np.all(np.isfinite(est.fit(X, yc).components_))


def test_verbose_takes_an_int_like_lmnn_and_nca(iris_pairs, capsys):
    pairs, y = iris_pairs
    ITML(verbose=2, max_iter=3).fit(pairs, y)
    assert capsys.readouterr().out


def test_convergence_warning_and_verbose(iris_pairs, capsys):
    pairs, y = iris_pairs
    with pytest.warns(ConvergenceWarning, match=re.escape("ITML did not converge after 2 iterations")):
        est = ITML(max_iter=2).fit(pairs, y)
    assert est.n_iter_ == 2
    ITML(max_iter=3, verbose=True).fit(pairs, y)
    out = capsys.readouterr().out
    assert len(re.findall(r"^\[ITML\] +\d+ ", out, flags=re.M)) == 3  # one row per sweep


def test_supervised_deterministic_and_defaults():
    X, y = load_iris(return_X_y=True)
    a = ITML_Supervised(max_iter=30, random_state=0).fit(X, y)
    b = ITML_Supervised(max_iter=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.components_, b.components_)
    c = ITML_Supervised(max_iter=30, random_state=1).fit(X, y)
    assert not np.array_equal(a.components_, c.components_)
    np.testing.assert_array_equal(a.classes_, [0, 1, 2])
    # default n_constraints = 20 * n_classes^2 of each kind: equals fitting ITML on those pairs
    pos, neg = positive_negative_pairs(y, 180, random_state=np.random.RandomState(0))
    pairs, py = pairs_from_indices(X, pos, neg)
    d = ITML(gamma=a.gamma, max_iter=30).fit(pairs, py)
    np.testing.assert_allclose(a.components_, d.components_, rtol=1e-12, atol=1e-12)
    # the defaults differ on purpose (see the Notes of both classes)
    assert ITML().gamma == 1.0 and ITML_Supervised().gamma == 0.01
    assert ITML().tol == ITML_Supervised().tol == 1e-3
    # small classes: the default is capped at the available pairs
    e = ITML_Supervised(max_iter=5, random_state=0).fit(X[::10], y[::10])
    assert np.all(np.isfinite(e.components_))


def test_pairs_api_model_selection(iris_pairs):
    pairs, y = iris_pairs
    itml = ITML(gamma=2.0, max_iter=20)
    assert clone(itml).get_params() == itml.get_params()
    assert itml.set_params(gamma=3.0).gamma == 3.0
    itml.fit(pairs, y)
    again = pickle.loads(pickle.dumps(itml))
    np.testing.assert_array_equal(again.components_, itml.components_)
    np.testing.assert_array_equal(again.predict(pairs), itml.predict(pairs))
    assert again.threshold_ == itml.threshold_
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(ITML(max_iter=20), pairs, y, cv=cv)
    assert scores.shape == (3,) and np.all(scores > 0.8)
    grid = GridSearchCV(ITML(max_iter=20), {"gamma": [0.5, 5.0]}, cv=cv, scoring="accuracy").fit(pairs, y)
    assert grid.best_params_["gamma"] in (0.5, 5.0)
    assert grid.predict(pairs).shape == y.shape
    assert ITML()._common_check_instance().__class__ is ITML_Supervised
