"""Tests for SCML (shallowml/scml.py): objective, stochastic solver and kernel, bases.

Reference values from metric-learn 0.7 come from ``tests/data/tuples_reference.npz``
(produced by ``benchmarks/make_tuples_fixtures.py`` in the reference interpreter).
"""

import re
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from shallowml import SCML, SCML_Supervised
from shallowml._bases import lda_basis, lda_n_basis, local_lda_directions, triplet_diffs_basis
from shallowml._kernels._options import parallel_variants_everywhere
from shallowml._kernels.scml import dist_diff_rows, scml_rda_steps, triplet_slacks
from shallowml._losses.scml import best_ray_scale, components_from_weights, hinge_terms, scml_objective
from shallowml._solvers.rda import minimize_scml_rda
from shallowml.scml import _unique_rows
from shallowml.utils.threads import numba_threads

REF = np.load(Path(__file__).parent / "data" / "tuples_reference.npz")
X_REF, T_REF, B_REF = REF["scml_X"], REF["scml_T"], REF["scml_B"]
MAX_ITER, OUTPUT_ITER, BATCH, GAMMA = REF["scml_params"]
PARAMS = dict(max_iter=int(MAX_ITER), output_iter=int(OUTPUT_ITER), batch_size=int(BATCH), gamma=float(GAMMA))
BETAS = list(enumerate(REF["scml_betas"]))


@pytest.fixture(scope="module")
def digits_split():
    """Standardised digits, 70/30 stratified split (seed 0), as the benchmarks."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, Xt, y, yt = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    return scaler.transform(X), y, scaler.transform(Xt), yt


def _ref_rda(XB, T, batches, beta, gamma, delta=1e-3):
    """Plain numpy AdaGrad-RDA as documented (metric-learn 0.7's update)."""
    dd = dist_diff_rows(XB, T)
    K = XB.shape[1]
    w, avg, ada = np.zeros(K), np.zeros(K), np.zeros(K)
    for it, idx in enumerate(batches):
        slack = 1 + dd[idx] @ w
        g = dd[idx[slack > 0]].sum(axis=0) / batches.shape[1]
        avg = (it * avg + g) / (it + 1)
        ada = np.sqrt(ada**2 + g**2)
        w = (it + 1) / (gamma * (delta + ada)) * np.maximum(-(avg + beta), 0)
    return w


def _weights_from_metric(M, B):
    """The w >= 0 with sum_k w_k b_k b_k^T = M (unique here: 12 bases in 15 dimensions)."""
    A = np.stack([np.outer(b, b)[np.triu_indices(B.shape[1])] for b in B], axis=1)
    w, *_ = np.linalg.lstsq(A, M[np.triu_indices(B.shape[1])], rcond=None)
    np.testing.assert_allclose(A @ w, M[np.triu_indices(B.shape[1])], atol=1e-8 * np.abs(M).max())
    return np.maximum(w, 0.0)


# ---------------------------------------------------------------- objective
@pytest.mark.parametrize("bi, beta", BETAS)
def test_objective_matches_metric_learn(bi, beta):
    ours = [scml_objective(w, X_REF, T_REF, B_REF, beta)[0] for w in REF["scml_w_eval"]]
    np.testing.assert_allclose(ours, REF[f"scml_F_eval_{bi}"], rtol=1e-8)


@pytest.mark.parametrize("bi, beta", BETAS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_solver_iterates_are_metric_learns(bi, beta, seed):
    """Same seed, triplets and bases: metric-learn's weights, up to round-off (its rule of
    keeping the best iterate as it is, ``ray_search=False``)."""
    XB = np.ascontiguousarray(X_REF @ B_REF.T)
    res = minimize_scml_rda(XB, T_REF, lambda w: hinge_terms(components_from_weights(B_REF, w), X_REF, T_REF),
                            random_state=np.random.RandomState(seed), beta=beta, ray_search=False, **PARAMS)
    L = components_from_weights(B_REF, res.x)
    M_ml = REF[f"scml_M_ml_{bi}_{seed}"]
    np.testing.assert_allclose(L.T @ L, M_ml, rtol=1e-9, atol=1e-9 * np.abs(M_ml).max())


@pytest.mark.parametrize("bi, beta", BETAS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_result_at_least_as_good_as_metric_learn(bi, beta, seed):
    est = SCML(beta=beta, basis=B_REF, random_state=seed, **PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # metric-learn's choice may be the zero metric
        est.fit(X_REF[T_REF])
    F_ml = scml_objective(_weights_from_metric(REF[f"scml_M_ml_{bi}_{seed}"], B_REF), X_REF, T_REF, B_REF, beta)[0]
    np.testing.assert_allclose(est.objective_, scml_objective(est.weights_, X_REF, T_REF, B_REF, beta)[0],
                               rtol=1e-12)
    assert est.objective_ <= F_ml * (1 + 1e-12)


@pytest.mark.parametrize("bi, beta", BETAS)
def test_convex_optimum_cvxpy(bi, beta):
    cp = pytest.importorskip("cvxpy")
    dd = dist_diff_rows(np.ascontiguousarray(X_REF @ B_REF.T), T_REF)
    w = cp.Variable(B_REF.shape[0], nonneg=True)
    problem = cp.Problem(cp.Minimize(beta * cp.sum(w) + cp.sum(cp.pos(1 + dd @ w)) / T_REF.shape[0]))
    problem.solve(solver="CLARABEL")
    F_star = problem.value
    # our objective is the convex function cvxpy minimised
    np.testing.assert_allclose(scml_objective(np.maximum(w.value, 0), X_REF, T_REF, B_REF, beta)[0], F_star,
                               rtol=1e-6)
    est = SCML(beta=beta, basis=B_REF, random_state=0).fit(X_REF[T_REF])
    assert F_star - 1e-7 <= est.objective_ <= 1.1 * F_star  # measured: 5.7 % and 4.8 % above


@pytest.mark.parametrize("tol", [0.3, 0.05, 0.01])
def test_tol_rule(tol):
    """Stop at the first checkpoint whose best objective is within tol (relative) of the best
    5 checkpoints earlier."""
    XB = np.ascontiguousarray(X_REF @ B_REF.T)
    res = minimize_scml_rda(XB, T_REF, lambda w: hinge_terms(components_from_weights(B_REF, w), X_REF, T_REF),
                            random_state=np.random.RandomState(0), beta=1e-5, tol=tol, max_iter=6000,
                            output_iter=100, batch_size=10, gamma=5e-3)
    best = np.minimum.accumulate(res.history)
    done = [k for k in range(5, best.size) if best[k - 5] - best[k] <= tol * abs(best[k])]
    assert res.converged and res.n_iter == 100 * len(best) < 6000
    assert done == [best.size - 1]


def test_best_ray_scale_is_the_exact_minimum():
    rng = np.random.RandomState(0)
    for _ in range(20):
        slack = 1 + 3 * rng.standard_normal(40)
        w_sum, beta = rng.rand() * 5, rng.choice([0.0, 1e-3, 0.1, 10.0])
        c, F = best_ray_scale(slack, w_sum, beta)
        grid = np.linspace(0, 4 * max(c, 1.0), 4001)
        F_grid = beta * grid * w_sum + np.maximum(1 + grid[:, None] * (slack - 1), 0).mean(axis=1)
        assert F <= F_grid.min() + 1e-12
        np.testing.assert_allclose(F, beta * c * w_sum + np.maximum(1 + c * (slack - 1), 0).mean(), rtol=1e-12)
    assert best_ray_scale(np.array([0.0, 0.5]), 1.0, 0.0) == (2.0, 0.0)  # both hinges zeroed
    assert best_ray_scale(np.array([2.0, 0.5]), 1.0, 0.0) == (0.0, 1.0)  # the zero metric is best


def test_components_from_weights():
    rng = np.random.RandomState(0)
    B = rng.standard_normal((10, 4))
    for w in (np.r_[0.5, 2.0, np.zeros(8)], rng.rand(10)):
        L = components_from_weights(B, w)
        assert L.shape == (min(np.count_nonzero(w), 4), 4)
        np.testing.assert_allclose(L.T @ L, (B.T * w) @ B, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(components_from_weights(B, np.zeros(10)), np.zeros((1, 4)))


# ------------------------------------------------------------------- kernels
def _kernel_problem(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((30, 4))
    X[7] = X[3]  # duplicate points
    y = np.arange(30) % 3
    X[:, :3] += 2.0 * np.eye(3)[y]
    a = np.repeat(np.arange(30), 3)
    p = (a + 3 * rng.randint(1, 10, a.size)) % 30
    p[:4] = a[:4]  # a == p: zero positive difference
    n = (a + rng.randint(1, 3, a.size)) % 30
    T = np.stack([a, p, n], axis=1).astype(np.int64)
    B = rng.standard_normal((9, 4))
    return np.ascontiguousarray(X @ B.T), T, rng.randint(0, T.shape[0], size=(700, 5))


@pytest.mark.parametrize("beta", [0.0, 1e-5, 0.05, 1e4])
def test_rda_kernel_matches_numpy_reference(beta):
    XB, T, batches = _kernel_problem()
    K = XB.shape[1]
    w, S, ada = np.zeros(K), np.zeros(K), np.zeros(K)
    active, g = np.empty(K, dtype=np.int64), np.empty(K)
    for start in range(0, 700, 130):  # resumed in chunks, as between checkpoints
        scml_rda_steps(XB, T, batches, start, min(start + 130, 700), w, S, ada, beta, 5e-3, 1e-3, active, g)
    w_ref = _ref_rda(XB, T, batches, beta, 5e-3)
    np.testing.assert_allclose(w, w_ref, rtol=1e-10, atol=1e-10 * max(np.abs(w_ref).max(), 1.0))
    assert np.all(w >= 0)
    if beta == 1e4:
        assert not np.any(w)  # the penalty wins: no basis
    else:
        assert np.count_nonzero(w) >= 1


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="numba has a single thread here")
def test_triplet_slacks_matches_numpy_and_parallel_variant():
    XB, T, _ = _kernel_problem(1)
    Z = np.ascontiguousarray(XB[:, :3])
    ref = 1 + ((Z[T[:, 0]] - Z[T[:, 1]]) ** 2).sum(1) - ((Z[T[:, 0]] - Z[T[:, 2]]) ** 2).sum(1)
    out = np.empty(T.shape[0])
    triplet_slacks(Z, T, out)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    out2 = np.empty_like(out)
    with numba_threads(2), parallel_variants_everywhere():
        triplet_slacks(Z, T, out2)
    np.testing.assert_array_equal(out, out2)


# -------------------------------------------------------------------- bases
def test_local_lda_directions_match_scikit_learn():
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 6))
    y = np.repeat([3, 5, 9], [25, 20, 15])
    X[y == 5, 0] += 2.0
    X[y == 9, 1] -= 1.5
    X[:, 4] = 2.0  # constant: no within-class spread, no discriminant weight
    V = local_lda_directions(X, y, 2)
    S = LinearDiscriminantAnalysis().fit(X, y).scalings_.T
    S /= np.linalg.norm(S, axis=1)[:, None]
    assert V.shape == (2, 6)
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0)
    np.testing.assert_allclose(np.abs(np.sum(V * S, axis=1)), 1.0, atol=1e-8)  # same directions, same order
    np.testing.assert_allclose(V[:, 4], 0.0, atol=1e-12)


def test_lda_basis_structure():
    rng = np.random.RandomState(0)
    y = np.arange(90) % 3
    X = rng.standard_normal((90, 4)) + 2.0 * np.eye(3, 4)[y]
    assert lda_n_basis(90, 4, 3) == min(80, 90 * 2 * 2 - 1)
    B = lda_basis(X, y, 30, np.random.RandomState(0))
    assert B.shape == (30, 4)
    np.testing.assert_allclose(np.linalg.norm(B, axis=1), 1.0)
    np.testing.assert_array_equal(lda_basis(X, y, 30, np.random.RandomState(0)), B)
    with pytest.raises(ValueError, match=re.escape("n_basis must be below 2 * n_samples * min(n_classes - 1, "
                                                   "n_features) = 360")):
        lda_basis(X, y, 360, np.random.RandomState(0))
    with pytest.warns(UserWarning, match="smaller than the number of classes"):
        lda_basis(X, y, 2, np.random.RandomState(0))


def test_triplet_diffs_basis_is_eigenvectors_of_the_drawn_differences():
    rng = np.random.RandomState(0)
    Dp, Dn = rng.standard_normal((50, 4)), rng.standard_normal((50, 4))
    B = triplet_diffs_basis(Dp, Dn, 10, np.random.RandomState(3))
    assert B.shape == (10, 4)
    sel = np.random.RandomState(3).choice(50, size=4, replace=False)  # the first draw
    S = Dp[sel].T @ Dp[sel] - Dn[sel].T @ Dn[sel]
    for v in B[:4]:  # a generic S: all four eigenvectors
        Sv = S @ v
        np.testing.assert_allclose(Sv, (v @ Sv) * v, atol=1e-10 * np.abs(S).max())
    np.testing.assert_allclose(np.linalg.norm(B, axis=1), 1.0)
    with pytest.raises(ValueError, match="at least as many triplets as features: got 3 triplets and 4"):
        triplet_diffs_basis(Dp[:3], Dn[:3], 10, rng)
    with pytest.raises(ValueError, match="found no direction in 100 draws"):
        triplet_diffs_basis(np.zeros((6, 4)), np.zeros((6, 4)), 10, rng)


def test_unique_rows():
    rng = np.random.RandomState(0)
    P = rng.randint(0, 3, size=(200, 3)).astype(float)
    P[5] = -0.0 * P[5]
    U, inv = _unique_rows(P)
    np.testing.assert_array_equal(U[inv], P)
    assert U.shape[0] == np.unique(P, axis=0).shape[0] + 1  # -0.0 rows apart from 0.0 rows
    X = rng.standard_normal((50, 7))
    U, inv = _unique_rows(X[rng.randint(0, 50, 5000)])  # equal rows at any position merge
    assert U.shape[0] == np.unique(inv).size <= 50


# ---------------------------------------------------------------- estimators
def test_weak_scml_learns_the_relevant_feature():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 3)) * [1.0, 3.0, 3.0]
    a, p, n = rng.randint(0, 60, size=(3, 3000))
    keep = np.abs(X[a, 0] - X[p, 0]) + 0.5 < np.abs(X[a, 0] - X[n, 0])
    T = np.stack([X[a], X[p], X[n]], axis=1)[keep]
    est = SCML(random_state=0).fit(T)
    M = est.get_mahalanobis_matrix()
    assert M[0, 0] > 3.0 * max(M[1, 1], M[2, 2])
    euclid = np.mean(np.linalg.norm(T[:, 0] - T[:, 1], axis=1) < np.linalg.norm(T[:, 0] - T[:, 2], axis=1))
    assert est.score(T) > euclid + 0.1


def test_stopping_rules_callback_and_verbose(capsys):
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # tol=None: a fixed budget, never a warning
        est = SCML_Supervised(random_state=0, max_iter=1200).fit(X, y)
    assert est.n_iter_ == 1200
    with pytest.warns(ConvergenceWarning, match="SCML_Supervised did not converge after 700 iterations"):
        SCML_Supervised(random_state=0, max_iter=700, tol=1e-12).fit(X, y)
    est = SCML_Supervised(random_state=0, tol=0.5).fit(X, y)  # a loose tol stops early
    assert est.n_iter_ == 3000  # 6 checkpoints: 5 of patience after the first
    seen = []
    est = SCML_Supervised(random_state=0, callback=lambda L, n: seen.append(n) or n == 1000, verbose=1).fit(X, y)
    assert seen == [500, 1000] and est.n_iter_ == 1000
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[SCML_Supervised\] +Iteration +Objective Value +Ray Minimum +Active Triplets "
                        r"+Active Bases +Time\(s\)", out[1])
    assert len(out) == 3 + 2 + 1


def test_scale_limits():
    rng = np.random.RandomState(0)
    y = np.arange(60) % 3
    X = rng.standard_normal((60, 3)) + 2.0 * np.eye(3)[y]
    with pytest.raises(ValueError, match=re.escape("X is too large for SCML_Supervised: its hinge has a unit "
                                                   "margin on squared distances in the units of X")):
        SCML_Supervised().fit(X * 1e150, y)
    with pytest.warns(UserWarning, match="no basis got a positive weight, so the learned metric is zero"):
        est = SCML_Supervised(random_state=0).fit(X * 1e-150, y)
    np.testing.assert_array_equal(est.components_, np.zeros((1, 3)))


def test_supervised_uses_gamma_and_checks_the_basis():
    rng = np.random.RandomState(0)
    y = np.arange(60) % 3
    X = rng.standard_normal((60, 3)) + 2.0 * np.eye(3)[y]
    w1 = SCML_Supervised(random_state=0, max_iter=1000).fit(X, y).weights_
    w2 = SCML_Supervised(random_state=0, max_iter=1000, gamma=0.5).fit(X, y).weights_
    assert not np.allclose(w1, w2)  # metric-learn 0.7's SCML_Supervised ignores gamma
    B = np.eye(3)
    est = SCML_Supervised(basis=B, random_state=0, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(est.basis_, B)
    with pytest.raises(ValueError, match=re.escape("n_basis=2 differs from the number of rows of the basis")):
        SCML_Supervised(basis=B, n_basis=2).fit(X, y)
    with pytest.raises(ValueError, match="The basis array has 2 features, but the data have 3"):
        SCML_Supervised(basis=np.eye(2)).fit(X, y)
    est = SCML_Supervised(basis="triplet_diffs", n_basis=20, random_state=0, max_iter=1000).fit(X, y)
    assert est.basis_.shape == (20, 3)


def test_weak_rejects_labels():
    T = np.random.RandomState(0).standard_normal((10, 3, 2))
    with pytest.raises(ValueError, match=re.escape("SCML is fitted on ordered triplets only, y must be None")):
        SCML().fit(T, np.ones(10))


def test_digits_error_within_reach_of_metric_learn(digits_split):
    """Standardised digits (70/30, seed 0), defaults: 3-NN error at most metric-learn's (0.011) + 0.01."""
    from sklearn.neighbors import KNeighborsClassifier

    X, y, Xt, yt = digits_split
    L = SCML_Supervised(random_state=0).fit(X, y).components_
    err = np.mean(KNeighborsClassifier(3).fit(X @ L.T, y).predict(Xt @ L.T) != yt)
    assert err <= 0.011 + 0.01
