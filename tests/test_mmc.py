"""Tests for MMC (shallowml/mmc.py), its objectives (_losses/mmc.py) and solvers (_solvers/mmc.py).

Reference values of metric-learn 0.7 come from ``tests/data/pairs_reference.npz``
(produced by ``tests/data/make_pairs_reference.py`` in the reference
interpreter; metric-learn is never imported here).
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from shallowml import MMC, MMC_Supervised
from shallowml._losses.mmc import mmc_constraint, mmc_diagonal_loss, mmc_loss
from shallowml._solvers.mmc import mmc_cvxpy, mmc_diagonal, mmc_full, project_spectraplex

REF = np.load(Path(__file__).resolve().parent / "data" / "pairs_reference.npz")
PAIRS, Y = REF["pairs"], REF["y"]
DIFF = PAIRS[:, 0] - PAIRS[:, 1]
POS, NEG = DIFF[Y > 0], DIFF[Y < 0]
T_ML = float(REF["mmc_ml_full_t"])  # metric-learn's bound: 1/100 of sum_S ||v||^2 at M = I


def _sum_dist(M, V):
    return float(np.sum(np.sqrt(np.einsum("ij,jk,ik->i", V, M, V))))


def _ratio(M):
    """``sum_D ||v||_M / sqrt(sum_S ||v||_M^2)``: MMC's objective, free of the scale of ``M``."""
    return _sum_dist(M, NEG) / np.sqrt(np.sum((POS @ M) * POS))


def _best_g(w, C=1.0):
    """Diagonal objective at the best multiple of ``w`` (``s.w = C / 2``)."""
    s = np.sum(POS**2, axis=0)
    return mmc_diagonal_loss(w * (0.5 * C / (s @ w)), POS, NEG, C)[0]


# ------------------------------------------------------- objectives vs metric-learn
def test_full_objective_and_constraint_match_metric_learn():
    for M, fD, fS in zip(REF["mmc_mats"], REF["mmc_fD"], REF["mmc_fS"]):
        loss, _ = mmc_loss(M.ravel(), NEG)
        value, _ = mmc_constraint(M.ravel(), POS)
        # metric-learn's _fD is log(sum + 1e-6): equal to 1e-8 at this scale
        np.testing.assert_allclose(-loss, fD, rtol=1e-8)
        np.testing.assert_allclose(value, fS, rtol=1e-12)


def test_diagonal_objective_gradient_hessian_match_metric_learn():
    s = REF["mmc_diag_s"]
    for w, fD, fD1, fD2 in zip(REF["mmc_diag_w"], REF["mmc_diag_fD"], REF["mmc_diag_fD1"], REF["mmc_diag_fD2"]):
        loss, grad, hess = mmc_diagonal_loss(w, POS, NEG, 1.0, hessian=True)
        # metric-learn's Newton step uses exactly these (s - C fD', -C fD''): the objective s.w - C fD
        np.testing.assert_allclose(loss, s @ w - fD, rtol=1e-12)
        np.testing.assert_allclose(grad, s - fD1, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(hess, -fD2, rtol=1e-12, atol=1e-14)


def test_loss_gradients_match_finite_differences():
    rng = np.random.RandomState(0)
    A = rng.standard_normal((4, 4))
    M = A @ A.T + np.eye(4)

    def f(m):
        m = m.reshape(4, 4)
        return mmc_loss((0.5 * (m + m.T)).ravel(), NEG)[0]

    def g(m):
        G = mmc_loss(m, NEG)[1].reshape(4, 4)
        return G.ravel()

    assert check_grad(f, g, M.ravel()) < 1e-5 * np.linalg.norm(g(M.ravel()))
    w = np.abs(rng.standard_normal(4)) + 0.1
    assert check_grad(lambda v: mmc_diagonal_loss(v, POS, NEG, 2.0)[0],
                      lambda v: mmc_diagonal_loss(v, POS, NEG, 2.0)[1], w) < 1e-5
    H = mmc_diagonal_loss(w, POS, NEG, 2.0, hessian=True)[2]
    eps = 1e-6
    H_fd = np.array([(mmc_diagonal_loss(w + eps * e, POS, NEG, 2.0)[1]
                      - mmc_diagonal_loss(w - eps * e, POS, NEG, 2.0)[1]) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- optima
@pytest.mark.slow
def test_full_optimum_matches_cvxpy():
    exact = mmc_cvxpy(POS, NEG, T_ML)
    assert exact.converged, exact.message
    L, res = mmc_full(POS, NEG, tol=1e-10)
    M = L.T @ L
    assert res.converged
    # same feasible set (the bound is active), same optimal value, same matrix
    np.testing.assert_allclose(np.sum((POS @ M) * POS), T_ML, rtol=1e-10)
    np.testing.assert_allclose(_sum_dist(M, NEG), exact.fun, rtol=1e-8)
    np.testing.assert_allclose(np.log(exact.fun), res.fun, rtol=1e-8)
    np.testing.assert_allclose(M, exact.x, atol=1e-5 * np.abs(M).max())


@pytest.mark.slow
def test_diagonal_optimum_matches_cvxpy():
    exact = mmc_cvxpy(POS, NEG, None, diagonal=True, diagonal_c=1.0)
    assert exact.converged, exact.message
    L, res = mmc_diagonal(POS, NEG, tol=1e-10)
    w = np.diag(L.T @ L)
    assert res.converged
    assert res.fun <= exact.fun + 1e-9 * abs(exact.fun)
    np.testing.assert_allclose(res.fun, exact.fun, rtol=1e-8)
    np.testing.assert_allclose(w, exact.x, atol=1e-4 * w.max())
    # at the minimum sum_S ||v||_w^2 = C / 2
    np.testing.assert_allclose(np.sum(POS**2, axis=0) @ w, 0.5, rtol=1e-8)


def test_optimum_at_least_as_good_as_metric_learn():
    M = MMC().fit(PAIRS, Y).get_mahalanobis_matrix()
    M_ml = REF["mmc_ml_full_M"]
    assert _ratio(M) >= _ratio(M_ml)
    # metric-learn's own scale: the bound t is 1/100 of the identity's value
    np.testing.assert_allclose(np.sum((POS @ M) * POS), T_ML, rtol=1e-10)
    w = np.diag(MMC(diagonal=True).fit(PAIRS, Y).get_mahalanobis_matrix())
    w_ml = np.diag(REF["mmc_ml_diag_M"])
    assert mmc_diagonal_loss(w, POS, NEG)[0] <= _best_g(w_ml)
    assert mmc_diagonal_loss(w, POS, NEG)[0] < mmc_diagonal_loss(w_ml, POS, NEG)[0]


def test_stopping_rule_certifies_the_gap():
    # the Frank-Wolfe gap bounds the distance to the optimum: a loose tol stops early,
    # within that tol of the optimum
    best = mmc_full(POS, NEG, tol=1e-12)[1].fun
    L, res = mmc_full(POS, NEG, tol=1e-2)
    assert res.converged and res.history[-1] <= 1e-2
    assert best - 1e-2 <= res.fun <= best + 1e-12
    assert res.n_iter < mmc_full(POS, NEG, tol=1e-12)[1].n_iter


def test_spectraplex_projection_is_the_nearest_point():
    rng = np.random.RandomState(3)
    A = rng.standard_normal((5, 5))
    A = A + A.T
    B, lam, _ = project_spectraplex(A)
    np.testing.assert_allclose(np.trace(B), 1.0)
    assert lam.min() >= 0.0
    # reference: eigenvalues minus the theta with sum(max(w - theta, 0)) = 1, found by bisection
    w, V = np.linalg.eigh(A)
    lo, hi = w.min() - 1.0, w.max()
    for _ in range(200):
        theta = 0.5 * (lo + hi)
        lo, hi = (theta, hi) if np.maximum(w - theta, 0.0).sum() > 1.0 else (lo, theta)
    np.testing.assert_allclose(B, (V * np.maximum(w - theta, 0.0)) @ V.T, atol=1e-12)
    # optimality: <A - B, Z - B> <= 0 for feasible Z (here random points of the set)
    for _ in range(20):
        Z = rng.standard_normal((5, 3))
        Z = Z @ Z.T
        Z /= np.trace(Z)
        assert np.sum((A - B) * (Z - B)) <= 1e-10


# ---------------------------------------------------------------- estimators
def test_pairs_classifier_and_threshold():
    mmc = MMC().fit(PAIRS, Y)
    assert mmc.score(PAIRS, Y) > 0.95
    # threshold_ calibrated for accuracy on the training pairs: no threshold does better
    d = mmc.pair_distance(PAIRS)
    best = max(np.mean(np.where(d <= t, 1, -1) == Y) for t in d)
    assert np.mean(mmc.predict(PAIRS) == Y) == best
    assert set(np.unique(mmc.predict(PAIRS))) <= {-1, 1}
    np.testing.assert_allclose(mmc.decision_function(PAIRS), mmc.threshold_ - mmc.pair_distance(PAIRS))


def test_identity_init_metric_is_scale_invariant():
    M1 = MMC().fit(PAIRS, Y).get_mahalanobis_matrix()
    M2 = MMC().fit(PAIRS * 1e100, Y).get_mahalanobis_matrix()
    np.testing.assert_allclose(M2, M1, rtol=1e-8, atol=1e-10 * np.abs(M1).max())


def test_covariance_init_scales_with_the_data():
    M1 = MMC(init="covariance").fit(PAIRS, Y).get_mahalanobis_matrix()
    M2 = MMC(init="covariance").fit(PAIRS * 1e100, Y).get_mahalanobis_matrix()
    np.testing.assert_allclose(M2 * 1e200, M1, rtol=1e-6, atol=1e-10 * np.abs(M1).max())
    assert _ratio(M1) == pytest.approx(_ratio(MMC().fit(PAIRS, Y).get_mahalanobis_matrix()), rel=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=3
def test_random_init_is_seeded():
    a = MMC(init="random", random_state=0, max_iter=3).fit(PAIRS, Y)
    b = MMC(init="random", random_state=0, max_iter=3).fit(PAIRS, Y)
    np.testing.assert_array_equal(a.components_, b.components_)


def test_needs_both_kinds_of_pairs():
    msg = "MMC needs both similar and dissimilar pairs of distinct points"
    with pytest.raises(ValueError, match=re.escape(msg)):
        MMC().fit(PAIRS[Y > 0], Y[Y > 0])
    with pytest.raises(ValueError, match=re.escape("Every pair has two identical points")):
        MMC().fit(np.stack([PAIRS[:, 0], PAIRS[:, 0]], axis=1), Y)


@pytest.mark.parametrize("diagonal", [False, True])
def test_unbounded_direction_is_floored_with_a_warning(diagonal):
    # similar pairs never differ along the last feature, dissimilar ones do
    pairs = PAIRS.copy()
    pairs[Y > 0, 1, 3] = pairs[Y > 0, 0, 3]
    with pytest.warns(UserWarning, match="similar pairs do not vary along 1 direction"):
        est = MMC(diagonal=diagonal).fit(pairs, Y)
    M = est.get_mahalanobis_matrix()
    assert np.all(np.isfinite(M))
    # that direction dominates the learned metric
    assert M[3, 3] > 1e3 * np.abs(np.delete(np.delete(M, 3, 0), 3, 1)).max()


def test_diagonal_c_is_used_only_by_the_diagonal_version():
    with pytest.warns(UserWarning, match=re.escape("diagonal_c=2.0 has no effect with diagonal=False")):
        MMC(diagonal_c=2.0).fit(PAIRS, Y)
    w1 = np.diag(MMC(diagonal=True).fit(PAIRS, Y).get_mahalanobis_matrix())
    w2 = np.diag(MMC(diagonal=True, diagonal_c=2.0).fit(PAIRS, Y).get_mahalanobis_matrix())
    np.testing.assert_allclose(w2, 2.0 * w1, rtol=1e-6)  # the optimum scales with C


@pytest.mark.parametrize("diagonal", [False, True])
def test_max_iter_reached_warns(diagonal):
    with pytest.warns(ConvergenceWarning, match="MMC did not converge after 1 iterations"):
        est = MMC(diagonal=diagonal, max_iter=1, tol=0.0).fit(PAIRS, Y)
    assert est.n_iter_ == 1


@pytest.mark.parametrize("diagonal", [False, True])
def test_callback_contract(diagonal):
    seen = []

    def callback(components, n_iter):
        seen.append((n_iter, components))
        return n_iter == 2

    rng = np.random.RandomState(0)
    pairs = rng.standard_normal((60, 2, 5)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    labels = np.where(np.arange(60) % 2 == 0, 1, -1)
    pairs[labels > 0, 1] = pairs[labels > 0, 0] + 0.3 * rng.standard_normal((30, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MMC(diagonal=diagonal, tol=1e-14, callback=callback).fit(pairs, labels)
    assert [n for n, _ in seen] == [1, 2] and est.n_iter_ == 2
    np.testing.assert_allclose(seen[1][1].T @ seen[1][1], est.get_mahalanobis_matrix(), rtol=1e-10, atol=1e-14)
    assert not np.allclose(seen[0][1], seen[1][1])


@pytest.mark.parametrize("diagonal", [False, True])
def test_verbose_table(diagonal, capsys):
    MMC(diagonal=diagonal, verbose=1).fit(PAIRS, Y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[MMC]"
    assert re.fullmatch(r"\[MMC\] +Iteration +Objective +Gap +Step +Time\(s\)", lines[1])
    assert re.fullmatch(r"\[MMC\] -+", lines[2])
    assert all(re.fullmatch(r"\[MMC\] +\d+ +-?\d\.\d{8}e[+-]\d\d +\d\.\d{3}e[+-]\d\d +\S+ +\d+\.\d\d", r)
               for r in lines[3:-1])
    assert re.fullmatch(r"\[MMC\] Training took +\d+\.\d\ds\.", lines[-1])


def test_supervised_uses_the_same_problem_as_on_pairs():
    X, y = load_iris(return_X_y=True)
    from shallowml.constraints import positive_negative_pairs

    sup = MMC_Supervised(n_constraints=30, random_state=0).fit(X, y)
    pos, neg = positive_negative_pairs(y, 30, 30, random_state=np.random.RandomState(0))
    ind = np.concatenate((pos, neg))
    pairs = X[ind]
    labels = np.r_[np.ones(30), -np.ones(30)]
    np.testing.assert_allclose(sup.get_mahalanobis_matrix(), MMC().fit(pairs, labels).get_mahalanobis_matrix(),
                               rtol=1e-10, atol=1e-12)


def _digits_split():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def test_digits_error_within_metric_learn_band():
    # metric-learn 0.7's MMC_Supervised: 3-NN error 0.159 on this split (issue 15,
    # benchmarks/bench_family_pairs.py); the target is no worse than that + 0.01
    X_tr, X_te, y_tr, y_te = _digits_split()
    est = MMC_Supervised(random_state=0).fit(X_tr, y_tr)
    knn = KNeighborsClassifier(3).fit(est.transform(X_tr), y_tr)
    assert np.mean(knn.predict(est.transform(X_te)) != y_te) <= 0.159 + 0.01
