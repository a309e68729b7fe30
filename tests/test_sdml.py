"""Tests for SDML (shallowml/sdml.py), its objective (_losses/sdml.py) and solver (_solvers/sdml.py).

Reference values of metric-learn 0.7 come from ``tests/data/pairs_reference.npz``
(produced by ``tests/data/make_pairs_reference.py`` in the reference
interpreter; metric-learn is never imported here).
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.covariance import graphical_lasso
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import shallowml._solvers.sdml as solver_module
from shallowml import SDML, SDML_Supervised
from shallowml._losses.sdml import sdml_input, sdml_loss
from shallowml._solvers.sdml import sdml_cvxpy

REF = np.load(Path(__file__).resolve().parent / "data" / "pairs_reference.npz")
PAIRS, Y = REF["pairs"], REF["y"]
DIFF = PAIRS[:, 0] - PAIRS[:, 1]
BETA = float(REF["sdml_balance"])  # small enough for a positive definite input
ALPHA = float(REF["sdml_alpha"])
# scikit-learn's _objective adds the constant 2 d log(2 pi) to tr(CM) - log det M + alpha |M|_off
SKLEARN_CONSTANT = 2 * 4 * math.log(2 * math.pi)

pytestmark = pytest.mark.filterwarnings("ignore:SDML.*graphical lasso input:UserWarning")


def _objective(M, C=None):
    return sdml_loss(M.ravel(), REF["sdml_emp_cov"] if C is None else C, ALPHA)[0]


# ------------------------------------------------------- objective vs metric-learn
def test_input_matches_metric_learn():
    C = sdml_input(DIFF, Y, np.eye(4), BETA)
    np.testing.assert_allclose(C, REF["sdml_emp_cov"], rtol=1e-13, atol=1e-14)


def test_objective_matches_the_one_metric_learn_minimises():
    for M, value in zip(REF["sdml_mats"], REF["sdml_objective"]):
        np.testing.assert_allclose(_objective(M), value - SKLEARN_CONSTANT, rtol=1e-12)


def test_gradient_matches_finite_differences():
    rng = np.random.RandomState(0)
    A = rng.standard_normal((4, 4))
    M = A @ A.T + np.eye(4)  # no zero entries: the l1 term is differentiable there
    C = REF["sdml_emp_cov"]

    def f(m):
        m = m.reshape(4, 4)
        return sdml_loss((0.5 * (m + m.T)).ravel(), C, ALPHA)[0]

    g = sdml_loss(M.ravel(), C, ALPHA)[1]
    assert check_grad(f, lambda m: sdml_loss(m, C, ALPHA)[1], M.ravel()) < 1e-5 * np.linalg.norm(g)
    assert sdml_loss(-np.eye(4).ravel(), C, ALPHA)[0] == np.inf


# ---------------------------------------------------------------- optimum
@pytest.mark.slow
def test_optimum_matches_cvxpy_and_metric_learn():
    est = SDML(balance_param=BETA).fit(PAIRS, Y)
    assert est.psd_floor_ == 0.0  # solved as posed
    M = est.get_mahalanobis_matrix()
    exact = sdml_cvxpy(REF["sdml_emp_cov"], ALPHA)
    assert exact.converged, exact.message
    ours, ml = _objective(M), _objective(REF["sdml_ml_M"])
    np.testing.assert_allclose(est.objective_, ours, rtol=1e-12)
    # metric-learn calls the same scikit-learn solver (an older release): equal to 1e-8
    assert ours <= ml + 1e-8 * abs(ml)
    assert ours <= exact.fun + 1e-8 * abs(exact.fun)
    np.testing.assert_allclose(M, exact.x, atol=1e-4 * np.abs(M).max())
    np.testing.assert_allclose(M, REF["sdml_ml_M"], atol=1e-4 * np.abs(M).max())


# ------------------------------------------------------- indefinite input
def test_default_parameters_project_the_indefinite_input():
    assert bool(REF["sdml_default_fails"])  # metric-learn raises on these pairs
    msg = ("SDML: the graphical lasso input prior^-1 + balance_param * sum_pairs y v v^T is not positive "
           "definite")
    with pytest.warns(UserWarning, match=re.escape(msg)):
        est = SDML().fit(PAIRS, Y)
    assert est.psd_floor_ == 0.01
    # the metric is scikit-learn's graphical lasso of the projected input
    C = sdml_input(DIFF, Y, np.eye(4), 0.5)
    lam, U = np.linalg.eigh(C)
    floor = 0.01 * (lam[-1] - lam[0])
    C_plus = (U * np.maximum(lam, floor)) @ U.T
    c = 2.0 ** (2 * round(math.log2(np.abs(C).max()) / 2))
    _, P = graphical_lasso(C_plus / c, alpha=0.01 / c)
    np.testing.assert_allclose(est.get_mahalanobis_matrix(), P / c, rtol=1e-6, atol=1e-9 * np.abs(P / c).max())
    np.testing.assert_allclose(est.objective_, _objective(P / c, C_plus), rtol=1e-8)


def test_solver_failure_falls_back_to_a_floor_then_to_the_identity(monkeypatch):
    calls = []

    def failing(C, alpha, **kwargs):
        calls.append(np.linalg.eigvalsh(C))
        raise FloatingPointError("The system is too ill-conditioned for this solver")

    monkeypatch.setattr(solver_module, "graphical_lasso", failing)
    with pytest.warns(UserWarning, match="replaced by a multiple of the identity"):
        est = SDML(balance_param=BETA).fit(PAIRS, Y)
    assert len(calls) == 3  # as posed (positive definite), then the floors 1e-2 and 1e-1
    assert est.psd_floor_ == np.inf
    M = est.get_mahalanobis_matrix()
    np.testing.assert_allclose(M, np.eye(4) * M[0, 0], atol=1e-12 * M[0, 0])

    def fails_once(C, alpha, **kwargs):
        if not calls or len(calls) == 3:
            calls.append(0)
            raise FloatingPointError("ill-conditioned")
        return graphical_lasso(C, alpha, **kwargs)

    calls.clear()
    monkeypatch.setattr(solver_module, "graphical_lasso", fails_once)
    with pytest.warns(UserWarning, match=re.escape("is too ill-conditioned for scikit-learn's graphical lasso")):
        est = SDML(balance_param=BETA).fit(PAIRS, Y)
    assert est.psd_floor_ == 0.01


def _split(X, y):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.mark.parametrize("load", [load_digits, load_wine], ids=["digits", "wine"])
def test_supervised_defaults_never_fail_where_metric_learn_does(load):
    # metric-learn 0.7 raises (graphical lasso error) on both with its defaults
    X_tr, X_te, y_tr, y_te = _split(*load(return_X_y=True))
    with pytest.warns(UserWarning, match="is not positive definite"):
        est = SDML_Supervised(random_state=0).fit(X_tr, y_tr)
    assert est.psd_floor_ == 0.01 and np.all(np.isfinite(est.components_))

    def err(Z_tr, Z_te):
        return np.mean(KNeighborsClassifier(3).fit(Z_tr, y_tr).predict(Z_te) != y_te)

    assert err(est.transform(X_tr), est.transform(X_te)) <= err(X_tr, X_te) + 0.01


# ---------------------------------------------------------------- details
def test_scale_is_handled_exactly():
    # data times 2**510 with the prior inverse times 2**1020 is the same problem (alpha = 0): the
    # map is exactly 2**-510 times the original one, though the squared differences overflow float64
    small = SDML(sparsity_param=0.0, prior=np.eye(4)).fit(PAIRS, Y)
    big = SDML(sparsity_param=0.0, prior=np.eye(4) * 2.0**-1020).fit(PAIRS * 2.0**510, Y)
    np.testing.assert_array_equal(big.components_, np.ldexp(small.components_, -510))
    assert big.psd_floor_ == small.psd_floor_ == 0.01
    est = SDML().fit(PAIRS * 1e150, Y)
    assert np.all(np.isfinite(est.pair_distance(PAIRS * 1e150)))
    tiny = SDML().fit(PAIRS * 1e-150, Y).get_mahalanobis_matrix()  # prior dominates: about I
    np.testing.assert_allclose(tiny, np.eye(4), atol=1e-6)


def test_one_feature_has_a_closed_form():
    X = np.r_[np.zeros(5), np.ones(5) * 3.0, np.arange(5) * 0.1][:, None]
    y = np.r_[np.zeros(5), np.ones(5), np.zeros(5)].astype(int)
    est = SDML_Supervised(balance_param=1e-3, n_constraints=10, random_state=0).fit(X, y)
    assert est.psd_floor_ == 0.0
    from shallowml.constraints import positive_negative_pairs

    pos, neg = positive_negative_pairs(y, 10, 10, random_state=np.random.RandomState(0))
    d = np.r_[X[pos[:, 0]] - X[pos[:, 1]], X[neg[:, 0]] - X[neg[:, 1]]].ravel()
    C = 1.0 + 1e-3 * (np.sum(d[:10] ** 2) - np.sum(d[10:] ** 2))
    np.testing.assert_allclose(est.get_mahalanobis_matrix(), [[1.0 / C]], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # ill-conditioned prior
def test_covariance_prior_is_metric_learns():
    est = SDML(prior="covariance", balance_param=1e-4).fit(PAIRS, Y)
    points = np.unique(PAIRS.reshape(-1, 4), axis=0)
    C = sdml_input(DIFF, Y, np.cov(points, rowvar=False), 1e-4)
    assert est.psd_floor_ == 0.0
    M = est.get_mahalanobis_matrix()
    np.testing.assert_allclose(est.objective_, _objective(M, C), rtol=1e-10)
    # as good as scikit-learn's solver on metric-learn's input
    _, P = graphical_lasso(C, alpha=0.01)
    assert _objective(M, C) <= _objective(P, C) + 1e-8 * abs(_objective(P, C))


def test_prior_array_must_be_positive_definite():
    with pytest.raises(ValueError, match=re.escape("prior must be positive definite: SDML uses its inverse")):
        SDML(prior=np.diag([1.0, 1.0, 1.0, 0.0])).fit(PAIRS, Y)
    M0 = np.diag([1.0, 2.0, 0.5, 1.0])
    est = SDML(prior=M0, balance_param=1e-4).fit(PAIRS, Y)
    C = sdml_input(DIFF, Y, np.linalg.inv(M0), 1e-4)
    np.testing.assert_allclose(est.objective_, _objective(est.get_mahalanobis_matrix(), C), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_random_prior_is_seeded():
    a = SDML(prior="random", random_state=0, balance_param=1e-4).fit(PAIRS, Y).components_
    b = SDML(prior="random", random_state=0, balance_param=1e-4).fit(PAIRS, Y).components_
    np.testing.assert_array_equal(a, b)


def test_identical_points_are_rejected():
    with pytest.raises(ValueError, match=re.escape("Every pair has two identical points")):
        SDML().fit(np.stack([PAIRS[:, 0], PAIRS[:, 0]], axis=1), Y)


def test_non_convergence_warns():
    with pytest.warns(ConvergenceWarning, match="SDML did not converge after 1 iterations"):
        est = SDML(balance_param=BETA, max_iter=1, tol=1e-12).fit(PAIRS, Y)
    assert est.n_iter_ == 1


def test_verbose_table(capsys):
    SDML(balance_param=BETA).fit(PAIRS, Y)
    assert capsys.readouterr().out == ""
    SDML(balance_param=BETA, verbose=1).fit(PAIRS, Y)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[SDML\] Solving the graphical lasso \(scikit-learn\)\.\.\. done in +\d+\.\d\ds",
                        lines[0])
    assert lines[1] == "[SDML]"
    assert re.fullmatch(r"\[SDML\] +Iteration +Objective +Dual Gap +Time\(s\)", lines[2])
    assert all(re.fullmatch(r"\[SDML\] +\d+ +-?\d\.\d{8}e[+-]\d\d +-?\d\.\d{3}e[+-]\d\d +\d+\.\d\d", r)
               for r in lines[4:-1])
    assert re.fullmatch(r"\[SDML\] Training took +\d+\.\d\ds\.", lines[-1])
