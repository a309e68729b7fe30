"""MLKR (Weinberger & Tesauro, 2007): objective, gradient, kernel, stopping rule, estimator."""

import re
import tracemalloc
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from scipy.optimize import check_grad, minimize
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shallowml import MLKR
from shallowml._kernels._options import parallel_variants_everywhere
from shallowml._kernels.mlkr import mlkr_block_weights
from shallowml._losses.mlkr import mlkr_loss_grad
from shallowml.supervision import input_kind
from shallowml.utils.threads import numba_threads

MAX_THREADS = min(2, numba.config.NUMBA_NUM_THREADS)
# metric-learn 0.7's MLKR objective, gradient and default fit on two small problems,
# produced by ``python -m benchmarks.mlkr_reference`` (see its docstring)
REFERENCE = Path(__file__).resolve().parent / "data" / "mlkr_metric_learn.npz"
# scipy's L-BFGS-B default ftol (metric-learn's MLKR uses tol=None)
SCIPY_FTOL = 2.220446049250313e-09


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(REFERENCE))


def _reference_loss_grad(L, X, y):
    """Plain numpy MLKR objective and gradient from the definitions (n x n matrices, explicit sums)."""
    Z = X @ L.T
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    P = np.exp(-(D - D.min(axis=1, keepdims=True)))
    P /= P.sum(axis=1, keepdims=True)
    yhat = P @ y
    e = yhat - y
    W = P * e[:, None] * (y[None, :] - yhat[:, None])
    # grad = -4 L sum_ij W_ij (x_i - x_j)(x_i - x_j)^T, summed term by term
    diff = X[:, None, :] - X[None, :, :]
    S = np.einsum("ij,ijf,ijg->fg", W, diff, diff)
    return float(e @ e), -4.0 * L @ S, W, e


def _regression(n=60, d=4, seed=0, noise=0.1):
    """y depends on the first two features only; the others are noise."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, d))
    y = 3.0 * np.sin(X[:, 0]) + X[:, 1] ** 2 + noise * rng.standard_normal(n)
    return X, y


# ------------------------------------------------------------ objective and gradient
@pytest.mark.parametrize("problem", ["synthetic", "diabetes"])
@pytest.mark.parametrize("name", ["identity", "random", "low_rank"])
def test_objective_and_gradient_equal_metric_learn(ref, problem, name):
    X, y, L = ref[f"{problem}_X"], ref[f"{problem}_y"], ref[f"{problem}_L_{name}"]
    loss, grad = mlkr_loss_grad(L.ravel(), X, y)
    expected = float(ref[f"{problem}_loss_{name}"])
    assert abs(loss - expected) <= 1e-8 * expected
    g_ref = ref[f"{problem}_grad_{name}"].ravel()
    np.testing.assert_allclose(grad, g_ref, rtol=0, atol=1e-8 * np.abs(g_ref).max())


@pytest.mark.parametrize("problem", ["synthetic", "diabetes"])
def test_objective_at_metric_learn_optimum(ref, problem):
    X, y, L = ref[f"{problem}_X"], ref[f"{problem}_y"], ref[f"{problem}_fit_L"]
    expected = float(ref[f"{problem}_fit_objective"])
    assert abs(mlkr_loss_grad(L.ravel(), X, y)[0] - expected) <= 1e-8 * expected


def test_default_fit_reaches_metric_learn_optimum(ref):
    # metric-learn's default fit converges on this problem (scipy's tests, not the cap);
    # two runs stopped by the same relative-decrease test (ftol) may differ by that much
    X, y = ref["synthetic_X"], ref["synthetic_y"]
    assert bool(ref["synthetic_fit_converged"])
    ml = float(ref["synthetic_fit_objective"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLKR().fit(X, y)
    assert est.objective_ <= ml + SCIPY_FTOL * ml
    # the same local optimum, not merely the same value
    M, M_ml = est.get_mahalanobis_matrix(), ref["synthetic_fit_L"].T @ ref["synthetic_fit_L"]
    np.testing.assert_allclose(M, M_ml, atol=1e-3 * np.abs(M_ml).max())


def test_capped_fit_on_diabetes_makes_the_same_progress_as_metric_learn(ref):
    # neither library converges within max_iter=1000 on 120 diabetes samples. The two
    # L-BFGS paths agree to 1e-12 over the first iterations, then drift apart by round-off
    # (the objective is not convex), so which one ends lower is a matter of luck: seen
    # 0.99 to 1.02 times metric-learn's value here and on the diabetes benchmark splits
    X, y = ref["diabetes_X"], ref["diabetes_y"]
    assert not bool(ref["diabetes_fit_converged"])
    with pytest.warns(ConvergenceWarning, match="did not converge after 1000 iterations"):
        est = MLKR().fit(X, y)
    ml = float(ref["diabetes_fit_objective"])
    start = mlkr_loss_grad(np.eye(X.shape[1]).ravel(), X, y)[0]
    assert est.objective_ <= 1.05 * ml < start


@pytest.mark.parametrize("shape", [(4, 4), (2, 4), (1, 4), (40, 4)])
def test_gradient_matches_finite_differences(shape):
    X, y = _regression(n=30)
    rng = np.random.RandomState(1)
    L = rng.standard_normal(shape) * (0.6 if shape[0] < 40 else 0.15)  # 40 rows: the BLAS-products path

    def f(p):
        return mlkr_loss_grad(p, X, y)[0]

    def g(p):
        return mlkr_loss_grad(p, X, y)[1]

    err = check_grad(f, g, L.ravel(), epsilon=1e-6)
    assert err <= 1e-5 * max(1.0, np.linalg.norm(g(L.ravel())))


def test_loss_matches_numpy_reference_and_block_sizes():
    X, y = _regression(n=37, d=3)
    L = np.random.RandomState(2).standard_normal((2, 3))
    loss_ref, grad_ref, _, _ = _reference_loss_grad(L, X, y - y.mean())
    for block_rows in (None, 1, 5, 36, 37, 100):
        loss, grad = mlkr_loss_grad(L.ravel(), X, y, block_rows=block_rows)
        assert loss == pytest.approx(loss_ref, rel=1e-12)
        np.testing.assert_allclose(grad, grad_ref.ravel(), rtol=1e-10, atol=1e-12 * np.abs(grad_ref).max())
    # the blocks split the same sums: bit-identical results
    a = mlkr_loss_grad(L.ravel(), X, y, block_rows=5)
    b = mlkr_loss_grad(L.ravel(), X, y, block_rows=37)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_objective_is_shift_invariant_in_y_and_scales_as_y_squared():
    X, y = _regression()
    L = np.eye(4) * 0.8
    loss, grad = mlkr_loss_grad(L.ravel(), X, y)
    loss_s, grad_s = mlkr_loss_grad(L.ravel(), X, 3.0 * y + 1e4)
    assert loss_s == pytest.approx(9.0 * loss, rel=1e-9)
    np.testing.assert_allclose(grad_s, 9.0 * grad, rtol=1e-8, atol=1e-10 * np.abs(grad).max())


def test_loss_memory_is_blocked():
    # with 64-row blocks the n x n weight matrix (2000^2 doubles, 32 MB) is never built
    rng = np.random.RandomState(0)
    X = rng.standard_normal((2000, 3))
    y = X[:, 0] + 0.1 * rng.standard_normal(2000)
    L = np.eye(3).ravel()
    mlkr_loss_grad(L, X[:100], y[:100], block_rows=64)  # compile outside the measurement
    tracemalloc.start()
    mlkr_loss_grad(L, X, y, block_rows=64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"


# ------------------------------------------------------------------------ kernel
def _run_kernel(Z, y, rows, from_products):
    n, k = Z.shape
    block = np.dot(Z[rows], Z.T) if from_products else np.full((rows.size, n), np.nan)
    err = np.full(rows.size, np.nan)
    wz = np.full((rows.size, k), np.nan)
    nz_index = np.full((rows.size, n), -1, dtype=np.int32)
    nz_count = np.full(rows.size, -1, dtype=np.int64)
    mlkr_block_weights(block, Z, np.ascontiguousarray(Z.T), np.einsum("ij,ij->i", Z, Z), from_products,
                       rows, y, err, wz, nz_index, nz_count)
    # the listed columns are ascending and cover every non-zero weight
    for r in range(rows.size):
        listed = nz_index[r, : nz_count[r]]
        assert np.all(np.diff(listed) > 0) and set(np.flatnonzero(block[r])) <= set(listed.tolist())
    return block, err, wz


@pytest.mark.parametrize("from_products", [False, True])
def test_kernel_matches_numpy_with_duplicates_and_zero_rows(from_products):
    rng = np.random.RandomState(3)
    Z = rng.standard_normal((12, 3))
    Z[5] = Z[2]  # a duplicate: distance 0
    Z[7] = 0.0  # a zero row
    Z[8] = 0.0  # ... twice
    Z -= Z.mean(axis=0)
    y = rng.standard_normal(12)
    y[9] = y[10]
    rows = np.array([0, 2, 5, 7, 8, 11], dtype=np.int64)  # a block of non-contiguous anchors
    block, err, wz = _run_kernel(Z, y, rows, from_products)
    D = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    P = np.exp(-D) / np.exp(-D).sum(1, keepdims=True)
    yhat = P @ y
    W = P * (yhat - y)[:, None] * (y[None, :] - yhat[:, None])
    np.testing.assert_allclose(err, (yhat - y)[rows], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(block, W[rows], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(wz, (W @ Z)[rows], rtol=1e-10, atol=1e-14)
    assert np.all(block[np.arange(rows.size), rows] == 0.0)
    np.testing.assert_allclose(block.sum(axis=1), 0.0, atol=1e-14)  # zero row sums


def test_kernel_isolated_and_far_rows_are_finite():
    # row 0 is 1e160 away from everything (squared distances overflow): isolated, it
    # predicts 0 (the mean of centred targets); the others see it with weight 0
    Z = np.array([[1e160], [0.0], [0.5], [3.0]])
    y = np.array([2.0, -1.0, 0.5, 1.0])
    block, err, wz = _run_kernel(Z, y, np.arange(4, dtype=np.int64), False)
    assert np.all(np.isfinite(block)) and np.all(np.isfinite(err)) and np.all(np.isfinite(wz))
    assert err[0] == -y[0] and np.all(block[0] == 0.0) and np.all(block[:, 0] == 0.0)
    # far but finite: only the nearest neighbour counts (softmax saturates), still finite
    Z = np.array([[0.0], [1e100], [3e100], [6e100]])  # no ties
    block, err, wz = _run_kernel(Z, y, np.arange(4, dtype=np.int64), False)
    np.testing.assert_array_equal(err, [y[1] - y[0], y[0] - y[1], y[1] - y[2], y[2] - y[3]])
    assert np.all(block == 0.0)


def test_kernel_two_samples_and_coincident_points():
    Z = np.zeros((2, 2))
    y = np.array([1.0, -1.0])
    block, err, _ = _run_kernel(Z, y, np.arange(2, dtype=np.int64), False)
    np.testing.assert_array_equal(err, [-2.0, 2.0])  # each predicts the other
    np.testing.assert_array_equal(block, 0.0)  # one neighbour: yhat = y_j, W = 0


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
def test_kernel_parallel_variant_equals_serial_at_any_thread_count():
    rng = np.random.RandomState(4)
    X = rng.standard_normal((420, 5))  # 420^2 > 2^17: the size switch picks the parallel variants
    X[200:230] = X[:30]  # duplicates across the thread split
    y = X[:, 0] - X[:, 1] ** 2
    L = rng.standard_normal((3, 5))
    assert mlkr_block_weights.pick(np.empty((420, 420))) is mlkr_block_weights.parallel
    with numba_threads(1):
        a = mlkr_loss_grad(L.ravel(), X, y)
    with numba_threads(MAX_THREADS):
        b = mlkr_loss_grad(L.ravel(), X, y)
    with numba_threads(MAX_THREADS), parallel_variants_everywhere():
        c = mlkr_loss_grad(L.ravel(), X[:50], y[:50])
    d = mlkr_loss_grad(L.ravel(), X[:50], y[:50])
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert c[0] == d[0] and np.array_equal(c[1], d[1])


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
def test_fit_is_identical_at_one_and_two_threads():
    X, y = _regression(n=400, d=5, seed=5)
    est = MLKR(max_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with numba_threads(1):
            L1 = clone(est).fit(X, y).components_
        with numba_threads(MAX_THREADS):
            L2 = clone(est).fit(X, y).components_
    np.testing.assert_array_equal(L1, L2)


# ---------------------------------------------------------------- stopping rule
def _scipy_in_y_units(X, y, L0, tol, max_iter=1000):
    """metric-learn's solver call: scipy L-BFGS-B on the objective in the units of y."""
    res = minimize(lambda p: mlkr_loss_grad(p, X, y), L0.ravel(), method="L-BFGS-B", jac=True, tol=tol,
                   options={"maxiter": max_iter})
    return res


@pytest.mark.parametrize("tol", [None, 1e-3])
@pytest.mark.parametrize("y_scale", [1e-3, 1.0, 1e3])
def test_stopping_rule_is_scipy_in_the_units_of_y(tol, y_scale):
    # the estimator optimises in rescaled units; its stopping rule must still be
    # scipy's gtol / ftol (with scipy's floor of 1) on the objective in y units
    X, y = _regression(n=40, d=3, seed=6)
    y = y * y_scale
    res = _scipy_in_y_units(X, y, np.eye(3), tol)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLKR(tol=tol).fit(X, y)
    assert est.n_iter_ == res.nit
    np.testing.assert_allclose(est.components_.ravel(), res.x, rtol=1e-6, atol=1e-8)
    assert est.objective_ == pytest.approx(res.fun, rel=1e-9)


def test_targets_scaled_by_a_power_of_two_give_identical_components():
    X, y = _regression(seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLKR(max_iter=30, tol=0.0).fit(X, y).components_
        b = MLKR(max_iter=30, tol=0.0).fit(X, y * 2.0**40).components_
        c = MLKR(max_iter=30, tol=0.0).fit(X, y * 2.0**-40).components_
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_huge_targets_fit_finitely():
    X, y = _regression(seed=8)
    est = MLKR(max_iter=20).fit(X, y * 1e200)
    assert np.all(np.isfinite(est.components_)) and est.objective_ == np.inf  # (1e200)^2 overflows
    ref = MLKR(max_iter=20).fit(X, y)
    np.testing.assert_allclose(est.components_, ref.components_, rtol=1e-6, atol=1e-9)


def test_huge_scale_data_with_ties_stays_finite():
    # found by the property tests: coincident points 1e100 apart from another give
    # gradients near 1e200, whose squares overflow inside L-BFGS-B unless the objective
    # handed to it is scaled down
    X = np.array([[1e100, 1e100], [0.0, 1e100], [1e100, 1e100], [1e100, 1e100]])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLKR(max_iter=10).fit(X, y)
    assert np.all(np.isfinite(est.components_)) and np.isfinite(est.objective_)
    assert est.objective_ <= mlkr_loss_grad(np.eye(2).ravel(), X, y)[0]


def test_warm_up_fits_regression_learners_on_real_targets():
    from sklearn.base import BaseEstimator

    from shallowml.supervision import RegressionMixin
    from shallowml.utils.warmup import warm_up

    seen = []

    class Spy(RegressionMixin, BaseEstimator):
        def fit(self, X, y):
            seen.append(np.asarray(y))
            return self

    warm_up(Spy(), n_samples=30)
    assert len(seen) == 2
    for y in seen:
        assert y.dtype.kind == "f" and np.unique(y).size == 30  # real targets, not class codes


def test_warm_up_loads_both_kernel_variants_in_a_fresh_process():
    import subprocess
    import sys

    code = (
        "from shallowml import MLKR\n"
        "from shallowml._kernels import mlkr\n"
        "from shallowml.utils.warmup import warm_up\n"
        "assert not mlkr.mlkr_block_weights.parallel.signatures\n"
        "assert warm_up(MLKR(max_iter=5)) > 0\n"
        "assert mlkr.mlkr_block_weights.parallel.signatures and mlkr.mlkr_block_weights.serial.signatures\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


# --------------------------------------------------------------------- estimator
def test_is_a_regression_learner():
    assert input_kind(MLKR) == "regression"


def test_defaults_match_metric_learn():
    params = MLKR().get_params()
    assert params == {"n_components": None, "init": "auto", "tol": None, "max_iter": 1000,
                      "callback": None, "verbose": 0, "random_state": None}


def test_init_auto_is_pca_below_full_rank_else_identity(monkeypatch):
    # metric-learn's rule for regression: 'pca' when n_components < min(n_features, n_samples)
    import shallowml.mlkr as module
    from sklearn.decomposition import PCA

    X, y = _regression(n=30, d=4)
    starts = []

    def record(params, X_, y_, **kw):
        starts.append(params.copy())
        return mlkr_loss_grad(params, X_, y_, **kw)

    monkeypatch.setattr(module, "mlkr_loss_grad", record)
    cases = [
        (dict(n_components=2, random_state=0), PCA(n_components=2, random_state=0).fit(X).components_),
        (dict(), np.eye(4)),
        (dict(n_components=3, init="identity"), np.eye(3, 4)),
        (dict(init="random", random_state=3), np.random.RandomState(3).standard_normal((4, 4))),
    ]
    for params, expected in cases:
        starts.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            MLKR(max_iter=1, **params).fit(X, y)
        np.testing.assert_array_equal(starts[0].reshape(expected.shape), expected)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_init_array_checks():
    X, y = _regression(n=20, d=3)
    L0 = np.array([[1.0, 0.5, 0.0]])
    est = MLKR(init=L0, max_iter=5).fit(X, y)
    assert est.components_.shape == (1, 3)
    with pytest.raises(ValueError, match=re.escape("n_components=2 does not match the 1 rows of the init array")):
        MLKR(init=L0, n_components=2).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("n_components=4 is larger than the number of features (3)")):
        MLKR(init=np.ones((4, 3))).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("The init array is all zeros")):
        MLKR(init=np.zeros((2, 3))).fit(X, y)
    with pytest.raises(ValueError, match=re.escape("n_components=4 is larger than the number of features (3)")):
        MLKR(n_components=4).fit(X, y)


def test_objective_attribute_is_the_objective_at_components():
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLKR(max_iter=10).fit(X, y)
    assert est.objective_ == pytest.approx(mlkr_loss_grad(est.components_.ravel(), X, y)[0], rel=1e-10)
    assert est.n_iter_ == 10


def test_constant_targets_keep_the_initial_map_with_a_warning():
    X, y = _regression(n=20, d=3)
    with pytest.warns(UserWarning, match=re.escape("MLKR: y is constant")):
        est = MLKR().fit(X, np.full(20, 7.5))
    np.testing.assert_array_equal(est.components_, np.eye(3))
    assert est.n_iter_ == 0 and est.objective_ == 0.0


def test_string_targets_are_rejected():
    X, y = _regression(n=20, d=3)
    with pytest.raises(ValueError, match=re.escape("MLKR needs real-valued targets y; got an array of dtype <U")):
        MLKR().fit(X, y.astype(str))


def test_callback_gets_components_and_can_stop():
    X, y = _regression()
    seen = []

    def callback(L, n_iter):
        seen.append((L.copy(), n_iter))
        return n_iter == 3

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop by the callback is not a failure
        est = MLKR(n_components=2, callback=callback, random_state=0).fit(X, y)
    assert [n for _, n in seen] == [1, 2, 3] and est.n_iter_ == 3
    assert seen[0][0].shape == (2, 4)
    np.testing.assert_array_equal(seen[-1][0], est.components_)


def test_verbose_prints_the_objective_in_units_of_y(capsys):
    X, y = _regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLKR(max_iter=2, verbose=1).fit(X, 100.0 * y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[MLKR]"
    assert re.match(r"\[MLKR\]\s+Iteration\s+Objective Value\s+Time\(s\)", lines[1])
    first = float(lines[3].split()[2])
    assert first == pytest.approx(mlkr_loss_grad(np.eye(4).ravel(), X, 100.0 * y)[0], rel=1e-6)
    assert lines[-1].startswith("[MLKR] Training took")


def test_learns_the_relevant_features():
    # y depends on features 0 and 1; features 2..5 are noise: MLKR must shrink them
    X, y = _regression(n=150, d=6, seed=9, noise=0.05)
    est = MLKR(random_state=0).fit(X, y)
    M = est.get_mahalanobis_matrix()
    assert np.diag(M)[:2].min() > 10 * np.diag(M)[2:].max()


def test_pipeline_and_grid_search_with_regression_scorers():
    X, y = _regression(n=120, d=6, seed=10, noise=0.05)
    pipe = make_pipeline(StandardScaler(), MLKR(max_iter=50, random_state=0), KNeighborsRegressor())
    cv = KFold(3, shuffle=True, random_state=0)
    grid = GridSearchCV(pipe, {"mlkr__n_components": [1, 2], "kneighborsregressor__n_neighbors": [3, 5]},
                        scoring="neg_mean_squared_error", cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
        learned = cross_val_score(pipe, X, y, scoring="r2", cv=cv).mean()
    euclidean = cross_val_score(make_pipeline(StandardScaler(), KNeighborsRegressor()), X, y, scoring="r2",
                                cv=cv).mean()
    assert grid.best_params_["mlkr__n_components"] == 2  # y depends on two directions
    assert grid.predict(X[:3]).shape == (3,)
    assert learned > euclidean + 0.1


# ------------------------------------------------- demo and suite read the kind from tags
def test_demo_scores_mlkr_on_regression_data_only(capsys):
    from shallowml import _demo

    assert _demo.run(["iris"], ["MLKR"])[0] == []  # no classification scores for MLKR
    _demo.main(["--datasets", "iris", "diabetes", "--estimators", "MLKR"])
    out = capsys.readouterr().out
    assert "5-NN regression test MSE / variance of the test targets" in out
    assert "3-NN test error" not in out
    row = next(line for line in out.splitlines() if line.startswith("| diabetes |"))
    euclidean, learned = (float(cell.split()[0]) for cell in row.strip("|").split("|")[1:3])
    assert 0.0 < euclidean < 2.0 and 0.0 < learned < 2.0  # MSE over the target variance


def test_classification_suite_leaves_regression_learners_out():
    from benchmarks.suite import shallowml_methods

    names = [m.name for m in shallowml_methods()]
    assert "MLKR" not in names and "NCA" in names
    assert shallowml_methods(["MLKR"]) == []
