"""Tests for LSML (shallowml/lsml.py) and its objective (shallowml/_losses/lsml.py).

Reference values from metric-learn 0.7 come from ``tests/data/tuples_reference.npz``
(produced by ``benchmarks/make_tuples_fixtures.py`` in the reference interpreter).
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from shallowml import LSML, LSML_Supervised
from shallowml._losses.lsml import (
    lsml_coordinates,
    lsml_loss_grad,
    lsml_objective,
    natural_gradient_norm,
    normalized_weights,
)

REF = np.load(Path(__file__).parent / "data" / "tuples_reference.npz")


@pytest.fixture(scope="module")
def problem():
    X, Q = REF["lsml_X"], REF["lsml_Q"]
    quads = X[Q]
    return quads, quads[:, 0] - quads[:, 1], quads[:, 2] - quads[:, 3], REF["lsml_weights"]


PRIORS = {"identity": np.eye(4), "array": REF["lsml_prior"]}


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


@pytest.mark.parametrize("prior", list(PRIORS))
def test_objective_matches_metric_learn(problem, prior):
    _, vab, vcd, w = problem
    prior_inv = np.linalg.inv(PRIORS[prior])
    ours = [lsml_objective(M, vab, vcd, w, prior_inv) for M in REF["lsml_M_eval"]]
    np.testing.assert_allclose(ours, REF[f"lsml_{prior}_f_eval"], rtol=1e-8)
    # and at metric-learn's own solution
    np.testing.assert_allclose(lsml_objective(REF[f"lsml_{prior}_M_ml"], vab, vcd, w, prior_inv),
                               REF[f"lsml_{prior}_f_ml"], rtol=1e-8)


@pytest.mark.parametrize("prior", list(PRIORS))
def test_optimum_at_least_as_good_as_metric_learn(problem, prior):
    quads, vab, vcd, w = problem
    est = LSML(prior=PRIORS[prior] if prior == "array" else "identity").fit(quads, weights=w)
    f = lsml_objective(est.get_mahalanobis_matrix(), vab, vcd, w, np.linalg.inv(PRIORS[prior]))
    np.testing.assert_allclose(est.objective_, f, rtol=1e-10)
    assert f <= REF[f"lsml_{prior}_f_ml"]


def _cvxpy_optimum(vab, vcd, w, prior_inv):
    """LSML as a convex program. With p, q the squared distances (linear in M),
    [sqrt p - sqrt q]_+^2 <= t  iff  some 0 <= r <= min(p, q) has (sqrt p - sqrt r)^2 <= t
    (decreasing in r up to r = p), i.e. max(p + r - t, 0)^2 <= 4 p r: a second-order cone
    ||(v, p - r)|| <= p + r with v >= max(p + r - t, 0)."""
    cp = pytest.importorskip("cvxpy")
    d = vab.shape[1]
    M = cp.Variable((d, d), PSD=True)
    n = vab.shape[0]
    p = cp.sum(cp.multiply(vab @ M, vab), axis=1)
    q = cp.sum(cp.multiply(vcd @ M, vcd), axis=1)
    r, t, v = cp.Variable(n), cp.Variable(n), cp.Variable(n)
    cons = [r >= 0, r <= p, r <= q, v >= 0, v >= p + r - t,
            cp.SOC(p + r, cp.vstack([v, p - r]), axis=0)]
    wn = normalized_weights(w, n)
    problem = cp.Problem(cp.Minimize(wn @ t + cp.trace(M @ prior_inv) - cp.log_det(M)), cons)
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal"
    return problem.value, M.value


@pytest.mark.parametrize("prior", list(PRIORS))
def test_optimum_matches_cvxpy(problem, prior):
    quads, vab, vcd, w = problem
    prior_inv = np.linalg.inv(PRIORS[prior])
    f_star, M_star = _cvxpy_optimum(vab, vcd, w, prior_inv)
    # the objective is the one cvxpy minimises: same value at cvxpy's optimum
    np.testing.assert_allclose(lsml_objective(M_star, vab, vcd, w, prior_inv), f_star, rtol=1e-6)
    est = LSML(prior=PRIORS[prior] if prior == "array" else "identity", tol=1e-8).fit(quads, weights=w)
    assert est.objective_ <= f_star + 1e-6 * abs(f_star)
    M = est.get_mahalanobis_matrix()
    np.testing.assert_allclose(M, M_star, atol=1e-3 * np.abs(M_star).max())


def test_loss_gradient_finite_differences():
    rng = np.random.RandomState(0)
    Ua, Uc = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
    Uc[4] = 0.0  # c == d: its term is constant (|J uc| = 0 for every J)
    Ua[5] = 0.0  # a == b: never violated
    w = normalized_weights(rng.uniform(0.5, 2.0, 30), 30)
    for _ in range(3):
        J = np.eye(3) + 0.3 * rng.standard_normal((3, 3))
        err = check_grad(lambda x: lsml_loss_grad(x, Ua, Uc, w, 0.7)[0],
                         lambda x: lsml_loss_grad(x, Ua, Uc, w, 0.7)[1], J.ravel())
        assert err < 1e-5 * max(1.0, np.linalg.norm(lsml_loss_grad(J.ravel(), Ua, Uc, w, 0.7)[1]))


@pytest.mark.parametrize("scale", [1e-140, 1e-3, 1.0, 1e5, 1e140])
@pytest.mark.parametrize("prior", ["identity", "array", "covariance"])
def test_solver_coordinates_are_exact(problem, prior, scale):
    """f(M) in data units == F(J) + offset, with M = (J B)^T (J B), at any data scale."""
    _, vab, vcd, w = problem
    wn = normalized_weights(w, vab.shape[0])
    vab, vcd = vab * scale, vcd * scale
    if prior == "covariance":
        P, inverse = np.cov(np.vstack([vab, vcd]), rowvar=False), True
        P_inv = P
    else:
        P, inverse = PRIORS[prior] / scale**2, False
        P_inv = np.linalg.inv(P)
    Ua, Uc, c, B, offset, prior_inv = lsml_coordinates(vab, vcd, wn, P, prior_is_inverse=inverse,
                                                        scale=scale * 3.0)
    np.testing.assert_allclose(prior_inv, P_inv, rtol=1e-10)
    rng = np.random.RandomState(1)
    for J in (np.eye(4), np.eye(4) + 0.3 * rng.standard_normal((4, 4))):
        L = J @ B
        f = lsml_objective(L.T @ L, vab, vcd, wn, prior_inv)
        F, _ = lsml_loss_grad(J.ravel(), Ua, Uc, wn, c)
        np.testing.assert_allclose(F + offset, f, rtol=1e-9, atol=1e-9 * abs(offset))


def test_start_is_the_best_multiple_of_the_prior(problem):
    _, vab, vcd, w = problem
    wn = normalized_weights(w, vab.shape[0])
    P = PRIORS["array"]
    Ua, Uc, c, B, offset, prior_inv = lsml_coordinates(vab, vcd, wn, P)
    np.testing.assert_allclose(B.T @ B, c * P, rtol=1e-10)
    scales = np.linspace(0.5 * c, 1.5 * c, 41)
    f = [lsml_objective(s * P, vab, vcd, wn, prior_inv) for s in scales]
    assert lsml_objective(c * P, vab, vcd, wn, prior_inv) <= min(f) + 1e-12


def test_stops_at_tol_on_the_natural_gradient(problem):
    quads, _, _, w = problem
    seen = []
    est = LSML(tol=1e-6, callback=lambda L, n: seen.append(L)).fit(quads, weights=w)
    # the optimum's defining property: the gradient in the metric's geometry vanishes
    Ua, Uc, c, B, _, _ = lsml_coordinates(quads[:, 0] - quads[:, 1], quads[:, 2] - quads[:, 3],
                                          normalized_weights(w, len(w)), np.eye(4), scale=1.0)
    J = est.components_ @ np.linalg.inv(B)
    _, g = lsml_loss_grad(J.ravel(), Ua, Uc, normalized_weights(w, len(w)), c)
    assert natural_gradient_norm(J.ravel(), g) <= 1e-6
    assert len(seen) == est.n_iter_


def test_weights_are_normalised_and_checked(problem):
    quads, _, _, w = problem
    L = LSML().fit(quads, weights=w).components_
    np.testing.assert_allclose(LSML().fit(quads, weights=5.0 * w).components_, L, rtol=1e-8, atol=1e-10)
    w_in = w.copy()
    LSML().fit(quads, weights=w_in)
    np.testing.assert_array_equal(w_in, w)  # not normalised in place (metric-learn does)
    with pytest.raises(ValueError, match=re.escape("one weight per quadruplet (40)")):
        LSML().fit(quads, weights=w[:-1])
    with pytest.raises(ValueError, match="finite and non-negative"):
        LSML().fit(quads, weights=-w)
    with pytest.raises(ValueError, match="all zero"):
        LSML().fit(quads, weights=0 * w)
    with pytest.raises(ValueError, match=re.escape("pass per-quadruplet weights by name")):
        LSML().fit(quads, w)


def test_priors():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3))
    Q = X[rng.randint(0, 40, size=(50, 4))]
    # 'covariance': the inverse of np.cov of the distinct points, as an array prior gives
    P = np.linalg.inv(np.cov(np.unique(Q.reshape(-1, 3), axis=0), rowvar=False))
    np.testing.assert_allclose(LSML(prior="covariance").fit(Q).get_mahalanobis_matrix(),
                               LSML(prior=P).fit(Q).get_mahalanobis_matrix(), rtol=1e-7, atol=1e-9)
    Qc = Q.copy()
    Qc[:, :, 1] = 2.0
    with pytest.raises(ValueError, match=re.escape("LSML needs a strictly positive definite covariance")):
        LSML(prior="covariance").fit(Qc)
    with pytest.raises(ValueError, match="strictly positive definite prior"):
        LSML(prior=np.diag([1.0, 0.0, 1.0])).fit(Q)
    with pytest.raises(ValueError, match="must be symmetric"):
        LSML(prior=np.triu(np.ones((3, 3)))).fit(Q)
    with pytest.raises(ValueError, match=re.escape("expected (n_features, n_features) = (3, 3)")):
        LSML(prior=np.eye(2)).fit(Q)
    L1 = LSML(prior="random", random_state=1).fit(Q).components_
    np.testing.assert_array_equal(LSML(prior="random", random_state=1).fit(Q).components_, L1)
    assert not np.allclose(LSML(prior="random", random_state=2).fit(Q).components_, L1)


def test_learns_the_relevant_feature():
    """Pairs close in feature 0 are the similar ones: LSML must weigh feature 0 up (the
    LogDet prior, against an average of the residuals, keeps M near the identity)."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((80, 2))
    a, b, c, d = rng.randint(0, 80, size=(4, 3000))
    keep = np.abs(X[a, 0] - X[b, 0]) + 0.5 < np.abs(X[c, 0] - X[d, 0])
    Q = np.stack([X[a], X[b], X[c], X[d]], axis=1)[keep]
    est = LSML().fit(Q)
    M = est.get_mahalanobis_matrix()
    assert M[0, 0] > 1.1 * M[1, 1]
    euclid = np.mean(np.linalg.norm(Q[:, 0] - Q[:, 1], axis=1) < np.linalg.norm(Q[:, 2] - Q[:, 3], axis=1))
    assert est.score(Q) > euclid


def test_non_convergence_warns_and_callback_stops(problem):
    quads, _, _, w = problem
    with pytest.warns(ConvergenceWarning, match="LSML did not converge after 2 iterations"):
        est = LSML(max_iter=2, tol=1e-12).fit(quads, weights=w)
    assert est.n_iter_ == 2
    seen = []

    def stop(L, n_iter):
        seen.append((n_iter, L))
        return n_iter == 2

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = LSML(callback=stop, tol=1e-12).fit(quads, weights=w)
    assert [n for n, _ in seen] == [1, 2] and est.n_iter_ == 2
    np.testing.assert_allclose(seen[-1][1], est.components_)


def test_verbose_table(problem, capsys):
    quads, _, _, w = problem
    est = LSML(verbose=1).fit(quads, weights=w)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[LSML]"
    assert re.fullmatch(r"\[LSML\] +Iteration +Objective Value +Gradient Norm +Time\(s\)", out[1])
    rows = out[3:-1]
    assert len(rows) == est.n_iter_ and out[-1].startswith("[LSML] Training took")
    # the last row prints the final objective, in data units
    assert float(rows[-1].split()[2]) == pytest.approx(est.objective_, rel=1e-6)


def test_supervised_samples_quadruplets_and_is_deterministic():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    est = LSML_Supervised(random_state=0).fit(X, y)
    assert est.components_.shape == (4, 4)
    np.testing.assert_array_equal(clone(est).fit(X, y).components_, est.components_)
    # explicit counts: more than the distinct pairs available is an error
    with pytest.raises(ValueError, match="Cannot sample 20000 distinct similar pairs"):
        LSML_Supervised(n_constraints=20000, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("one weight per quadruplet (30)")):
        LSML_Supervised(n_constraints=30, weights=np.ones(31), random_state=0).fit(X, y)
    # weights line up with the sampled quadruplets: zero weight on all but the first
    w = np.zeros(30)
    w[0] = 1.0
    LSML_Supervised(n_constraints=30, weights=w, random_state=0).fit(X, y)


def test_supervised_weighs_the_discriminative_feature():
    """Classes differ in feature 0 only; feature 1 is wider noise: similar pairs must come out
    closer than dissimilar ones, by weighing feature 0 up."""
    rng = np.random.RandomState(0)
    y = np.arange(200) % 2
    X = np.c_[2.0 * y + 0.5 * rng.standard_normal(200), 2.0 * rng.standard_normal(200)]
    M = LSML_Supervised(random_state=0).fit(X, y).get_mahalanobis_matrix()
    assert M[0, 0] > 1.5 * M[1, 1]


def test_digits_error_within_reach_of_metric_learn(digits_split):
    """Standardised digits (70/30, seed 0): 3-NN error at most metric-learn's (0.020) + 0.01."""
    from sklearn.neighbors import KNeighborsClassifier

    X, y, Xt, yt = digits_split
    L = LSML_Supervised(random_state=0).fit(X, y).components_
    err = np.mean(KNeighborsClassifier(3).fit(X @ L.T, y).predict(Xt @ L.T) != yt)
    assert err <= 0.020 + 0.01
