"""Bad input and degenerate data: every estimator fails loudly or gives a documented result.

The matrix (estimator x input -> expected outcome) is declared in
``shallowml.utils._robustness`` and shared with ``benchmarks/reliability_report.py``.
Estimators are discovered from ``shallowml.__all__``, so new ones join automatically.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from shallowml import LDA, LFDA, RCA, Covariance
from shallowml._solvers.lbfgs import minimize_lbfgs
from shallowml._solvers.result import SolverResult
from shallowml.utils import _robustness as rb
from shallowml.utils.discovery import all_estimators, input_kind

# (estimator, case) -> reason: cells known to fail, checked at the end of the
# sprint; each is an open bug for the estimator's owner (strict: a fix shows up).
KNOWN_FAILURES = {}

_CELLS = rb.matrix_cells()


def _cell_params():
    for name, cls, case in _CELLS:
        marks = []
        if (name, case) in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(name, case)]))
        yield pytest.param(name, cls, case, id=f"{name}-{case}", marks=marks)


@pytest.mark.parametrize("name, cls, case", list(_cell_params()))
def test_bad_input_matrix(name, cls, case):
    outcome = rb.run_case(name, cls, case)
    assert outcome.passed, f"{name} on {case}: expected {outcome.expected}, got {outcome.detail}"


def test_matrix_covers_every_estimator_and_kind():
    names = {name for name, _, _ in _CELLS}
    assert names == {name for name, _ in all_estimators()}
    for name, cls in all_estimators():
        n_cases = sum(1 for n, _, _ in _CELLS if n == name)
        assert n_cases >= 15, f"{name} ({input_kind(cls)}) only gets {n_cases} bad inputs"


# ------------------------------------------- documented results (whitening family)
def _data(n=60, d=4, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    X = rng.standard_normal((n, d)) + 2.0 * np.eye(3, d)[y]
    return X, y


WHITENING = [Covariance, LDA, LFDA, RCA]


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
@pytest.mark.parametrize("factor", [1e150, 1e-150, 1e-5, 1e7])
def test_whitening_scale_invariant(cls, factor):
    """Scaling X by c scales components_ by 1/c: the same metric in data units."""
    X, y = _data()
    L1 = cls().fit(X, y).components_
    Lc = cls().fit(X * factor, y).components_
    assert np.all(np.isfinite(Lc))
    np.testing.assert_allclose(Lc * factor, L1, rtol=1e-7, atol=1e-9 * np.abs(L1).max())


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
def test_whitening_label_encoding_does_not_matter(cls):
    X, y = _data()
    L = cls().fit(X, y).components_
    # RCA takes chunk ids, where a negative id means "in no chunk" (see test_whitening)
    ints = np.array([70, 5, 3]) if cls.__name__ == "RCA" else np.array([70, -5, 3])
    for y_other in (np.array(["b", "a", "c"])[y], ints[y], y.astype(float)):
        np.testing.assert_allclose(cls().fit(X, y_other).components_, L, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
def test_whitening_float32_and_int_match_float64(cls):
    X, y = _data()
    L = cls().fit(X, y).components_
    L32 = cls().fit(X.astype(np.float32), y).components_
    assert L32.dtype == np.float64
    np.testing.assert_allclose(L32, cls().fit(X.astype(np.float32).astype(np.float64), y).components_)
    np.testing.assert_allclose(L32, L, rtol=1e-4, atol=1e-5)
    Xi = np.round(3 * X).astype(np.int32)
    np.testing.assert_allclose(cls().fit(Xi, y).components_, cls().fit(Xi.astype(float), y).components_)


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
def test_whitening_constant_feature_gets_zero_weight(cls):
    X, y = _data()
    Xc = np.insert(X, 1, 7.0, axis=1)
    L = cls().fit(Xc, y).components_
    assert np.all(np.isfinite(L))
    np.testing.assert_allclose(L[:, 1], 0.0, atol=1e-12 * np.abs(L).max())
    # the metric on the other features is the one learned without the constant feature
    M = L.T @ L
    M_ref = cls().fit(X, y).get_mahalanobis_matrix()
    np.testing.assert_allclose(np.delete(np.delete(M, 1, 0), 1, 1), M_ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cls", [Covariance, LDA, RCA], ids=lambda c: c.__name__)
def test_whitening_duplicated_rows_same_metric(cls):
    """Covariance, LDA and RCA use scatter matrices divided by n: duplicating every row changes nothing."""
    X, y = _data()
    M = cls().fit(X, y).get_mahalanobis_matrix()
    M2 = cls().fit(np.vstack([X, X]), np.concatenate([y, y])).get_mahalanobis_matrix()
    np.testing.assert_allclose(M2, M, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
def test_whitening_duplicated_feature_finite(cls):
    X, y = _data()
    L = cls().fit(np.hstack([X, X[:, :1]]), y).components_
    assert np.all(np.isfinite(L)) and np.isrealobj(L)


@pytest.mark.parametrize(
    "cls, msg",
    [
        (LDA, "LDA needs samples of at least 2 classes; got 1 class."),
        (LFDA, "LFDA needs samples of at least 2 classes; got 1 class."),
    ],
)
def test_single_class_message(cls, msg):
    X, _ = _data()
    with pytest.raises(ValueError, match=re.escape(msg)):
        cls().fit(X, np.zeros(X.shape[0]))


@pytest.mark.parametrize("cls", [LDA, LFDA], ids=lambda c: c.__name__)
def test_all_singleton_classes_message(cls):
    X, _ = _data(n=10)
    msg = f"{cls.__name__} needs at least one class with 2 or more samples; every class has a single sample."
    with pytest.raises(ValueError, match=re.escape(msg)):
        cls().fit(X, np.arange(10))


def test_rca_needs_a_chunk():
    X, _ = _data(n=10)
    with pytest.raises(ValueError, match=re.escape("RCA needs at least one chunk (non-negative label) with 2 or more samples")):
        RCA().fit(X, np.arange(10))


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
def test_identical_rows_and_overflow_messages(cls):
    X, y = _data(n=12)
    msg = "X has zero variance in every feature (all samples identical); no metric can be learned."
    with pytest.raises(ValueError, match=re.escape(msg)):
        cls().fit(np.full_like(X, 3.0), y)
    big = np.where(X > 0, 1.7e308, -1.7e308)
    with pytest.raises(ValueError, match=re.escape("X is too large: centring it overflows float64")):
        cls().fit(big, y)


@pytest.mark.parametrize("cls", [LFDA, RCA], ids=lambda c: c.__name__)
def test_small_classes_are_documented_not_errors(cls):
    """Classes smaller than ``k`` (LFDA) and singleton chunks (RCA) are handled, not rejected."""
    X, y = _data(n=30)
    y = y.copy()
    y[:4] = [5, 6, 7, 7]  # two singletons and a pair
    L = cls(**({"k": 20} if cls is LFDA else {})).fit(X, y).components_
    assert np.all(np.isfinite(L))


# -------------------------------------------------------- convergence and n_iter_
def _iterative():
    for name, cls in all_estimators():
        if "max_iter" in cls().get_params():
            yield pytest.param(name, cls, id=name)


def _fit_args(cls):
    if input_kind(cls) == "pairs":
        return rb._base_pairs()
    if input_kind(cls) in ("triplets", "quadruplets"):
        return (rb._base_tuples(input_kind(cls)),)
    return rb._base_data()


# parameters that keep the base problem from being solved exactly in one iteration:
# with its defaults, SDML projects the indefinite input of the base pairs to a
# multiple of the identity, whose graphical lasso is exact at once (dual gap 0)
_NOT_EXACT_AT_ONCE = {"SDML": {"balance_param": 0.01}}


@pytest.mark.parametrize("name, cls", list(_iterative()))
@pytest.mark.parametrize("max_iter", [1, 2])
def test_non_convergence_warns_and_counts(name, cls, max_iter):
    est = cls()
    params = {"max_iter": max_iter, **_NOT_EXACT_AT_ONCE.get(name, {})}
    if "tol" in est.get_params():
        params["tol"] = 1e-12
    if "random_state" in est.get_params():
        params["random_state"] = 0
    est.set_params(**params)
    with pytest.warns(ConvergenceWarning):
        est.fit(*_fit_args(cls))
    assert est.n_iter_ == max_iter
    assert np.all(np.isfinite(est.components_))


@pytest.mark.parametrize("name, cls", list(_iterative()))
def test_n_iter_within_cap(name, cls):
    est = cls()
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(*_fit_args(cls))
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert isinstance(est.n_iter_, (int, np.integer))
    assert 0 <= est.n_iter_ <= est.max_iter
    if warned and not any("ABNORMAL" in str(w.message) for w in caught):
        assert est.n_iter_ == est.max_iter  # else a failed line search, reported as such


def _quadratic(x):
    return float(0.5 * x @ x), x.copy()


def _rosen(x):
    a, b = x
    loss = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    grad = np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
    return loss, grad


def test_lbfgs_reports_cap_and_warns():
    res = minimize_lbfgs(_rosen, np.array([-1.2, 1.0]), max_iter=3)
    assert not res.converged and res.n_iter == 3
    with pytest.warns(ConvergenceWarning, match=re.escape("Demo did not converge after 3 iterations")):
        res.warn_if_not_converged("Demo")
    res = minimize_lbfgs(_rosen, np.array([-1.2, 1.0]), max_iter=500, tol=1e-8)
    assert res.converged and 3 < res.n_iter < 500
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-4)
    assert res.history and res.history[-1] <= res.history[0]


def test_lbfgs_line_search_failure_is_not_convergence():
    # a gradient pointing the wrong way: no step decreases the objective, scipy
    # stops with status 2 (ABNORMAL); that is no convergence and must warn
    def wrong_gradient(x):
        return float(0.5 * x @ x), -x

    res = minimize_lbfgs(wrong_gradient, np.ones(3), max_iter=50)
    assert not res.converged and res.n_iter < 50
    assert "ABNORMAL" in res.message
    with pytest.warns(ConvergenceWarning, match="ABNORMAL"):
        res.warn_if_not_converged("Demo")


def test_lbfgs_callback_stop_is_convergence():
    def stop(x, n_iter):
        if n_iter == 2:
            raise StopIteration

    res = minimize_lbfgs(_rosen, np.array([-1.2, 1.0]), max_iter=50, callback=stop)
    assert res.converged and res.n_iter == 2


def test_nca_warns_when_its_line_search_fails(monkeypatch):
    import shallowml.nca as nca_module
    from shallowml import NCA

    def wrong_gradient(params, X, y_codes, **kw):
        loss, grad = nca_loss_grad(params, X, y_codes, **kw)
        return loss, -grad

    nca_loss_grad = nca_module.nca_loss_grad
    monkeypatch.setattr(nca_module, "nca_loss_grad", wrong_gradient)
    X, y = _fit_args(NCA)
    with pytest.warns(ConvergenceWarning, match="ABNORMAL"):
        est = NCA(max_iter=50).fit(X, y)
    assert est.n_iter_ < 50


def test_lbfgs_converged_no_warning():
    res = minimize_lbfgs(_quadratic, np.ones(3), max_iter=50)
    assert res.converged and res.n_iter >= 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res.warn_if_not_converged("Demo")


def test_lbfgs_nan_objective_raises():
    def bad(x):
        return float("nan"), x

    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        minimize_lbfgs(bad, np.ones(2))
    with pytest.raises(ValueError, match="rescale the data"):  # also a ValueError (user data)
        minimize_lbfgs(bad, np.ones(2))


def test_solver_result_defaults():
    res = SolverResult(x=np.zeros(1), fun=0.0, n_iter=0, converged=True)
    assert res.history == [] and res.message == ""


@pytest.mark.parametrize("cls", WHITENING, ids=lambda c: c.__name__)
def test_mixed_feature_scales(cls):
    """Up to 1e4 between feature scales every feature is kept; beyond 1e5 a warning says
    that the smaller ones may be treated as constant (never a silent drop)."""
    X, y = _data()
    d = np.array([1e4, 1.0, 1.0, 1e2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        M = cls().fit(X * d, y).get_mahalanobis_matrix()
    if cls is not LFDA:  # LFDA's local affinities are Euclidean, hence scale dependent
        # the same metric as on unit scales, in data units: affine invariance
        M1 = cls().fit(X, y).get_mahalanobis_matrix()
        np.testing.assert_allclose(d[:, None] * M * d[None, :], M1, rtol=1e-5, atol=1e-7 * np.abs(M1).max())
    with pytest.warns(UserWarning, match="The features of X differ in scale by a factor of 1.5e[+]06"):
        L = cls().fit(X * np.array([1e6, 1.0, 1.0, 1.0]), y).components_
    assert np.all(np.isfinite(L))


def test_reliability_report_formats_counts():
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:  # benchmarks/ is a package at the repository root
        sys.path.insert(0, root)
    from benchmarks import reliability_report

    cells = [c for c in _CELLS if c[0] in ("LDA", "Covariance")][:6]
    outcomes = [rb.run_case(*c) for c in cells]
    text = reliability_report.format_report(outcomes, 1.0)
    n_ok = sum(o.passed for o in outcomes)
    assert f"-> {len(outcomes)} applicable cells; {n_ok} as documented" in text
    assert "| LDA | classes |" in text


def _pair_learners():
    for name, cls in all_estimators():
        if input_kind(cls) == "pairs":
            yield pytest.param(cls, id=name)


@pytest.mark.parametrize("cls", list(_pair_learners()))
def test_pair_learner_methods_reject_bad_pairs(cls):
    P, yp = rb._base_pairs()
    est = cls()
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(P, yp)
    shape_msg = "pairs must be a 3-D array of shape (n_pairs, 2, n_features)"
    bad_shapes = [P[:, 0], P[:, :, :, None], np.concatenate([P, P[:, :1]], axis=1), P[:, 0, 0]]
    for method in ("predict", "decision_function", "pair_distance", "pair_score"):
        for bad in bad_shapes:
            with pytest.raises(ValueError, match=re.escape(shape_msg)):
                getattr(est, method)(bad)
        with pytest.raises(ValueError, match=re.escape("pairs have 3 features, but the estimator was fitted with 4")):
            getattr(est, method)(P[:, :, :3])
        Pn = P.copy()
        Pn[0, 0, 0] = np.nan
        with pytest.raises(ValueError, match="contains NaN"):
            getattr(est, method)(Pn)
    with pytest.raises(ValueError, match=re.escape("Pair labels must be -1 (dissimilar) or +1 (similar)")):
        est.score(P, (yp > 0).astype(int))
    with pytest.raises(ValueError, match=re.escape("one label per pair")):
        est.score(P, yp[:-1])
    assert set(np.unique(est.predict(P))) <= {-1, 1}


@pytest.mark.parametrize("name", ["LMNN", "NCA", "LinearSiamese_Supervised"])
def test_all_zero_init_array_is_refused(name):
    import shallowml

    X, y = rb._base_data()
    msg = "The init array is all zeros: the fit cannot move from L = 0"
    with pytest.raises(ValueError, match=re.escape(msg)):
        getattr(shallowml, name)(init=np.zeros((X.shape[1], X.shape[1]))).fit(X, y)


def test_split_of_standardised_digits_gives_no_scale_warning():
    """Issue 13 item 11: pixels constant in a training split of digits standardised as a
    whole were centred to round-off (1e-17) and reported as 'differ in scale by 6e16'."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    assert np.ptp(X_train, axis=0).min() == 0 and np.any(X_train[:, np.ptp(X_train, axis=0) == 0] != 0)
    for cls in WHITENING:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            L = cls().fit(X_train, y_train).components_
        assert np.all(np.isfinite(L))


def _classes_learners():
    for name, cls in all_estimators():
        if input_kind(cls) == "classes":
            yield pytest.param(cls, id=name)


@pytest.mark.parametrize("cls", list(_classes_learners()))
def test_constant_data_with_a_rounded_mean_is_identical_rows(cls):
    """0.001 repeated: its float mean is not 0.001, yet the rows are identical (not a tiny spread)."""
    X = np.full((10, 1), 0.001)
    assert X.mean() != 0.001  # the case: centring leaves a round-off offset
    y = np.array([0, 1] * 5)
    with pytest.raises(ValueError, match="zero variance|identical"):
        cls().fit(X, y)
