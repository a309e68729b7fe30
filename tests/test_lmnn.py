"""Tests for LMNN: kernels vs numpy, toy losses, gradients, SDP optimum, estimator behaviour."""

import re
import warnings

import numpy as np
import pytest
from scipy.optimize import check_grad
from sklearn.exceptions import ConvergenceWarning

from shallowml import LMNN
from shallowml._kernels.lmnn import rows_contained
from shallowml._kernels.neighbors import same_class_neighbors
from shallowml._losses.lmnn import (
    find_impostors,
    lmnn_evaluate,
    lmnn_loss_grad,
    lmnn_loss_grad_exact,
    margin_radius,
)
from shallowml._solvers.sdp import lmnn_sdp
from shallowml.lmnn import _scaled
from shallowml.utils.init import initial_components
from shallowml.utils.linalg import components_from_metric


def reference_loss(L, X, y, targets, mu):
    """Plain numpy triple loop over all triplets (the classic objective)."""
    Z = X @ L.T
    pull = push = 0.0
    for i in range(X.shape[0]):
        for j in targets[i]:
            if j < 0:
                continue
            dij = np.sum((Z[i] - Z[j]) ** 2)
            pull += dij
            for l in np.flatnonzero(y != y[i]):
                push += max(0.0, 1.0 + dij - np.sum((Z[i] - Z[l]) ** 2))
    return (1 - mu) * pull + mu * push


def reference_impostors(Z, y, radius):
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    return [np.flatnonzero((y != y[i]) & (D[i] < radius[i])) for i in range(Z.shape[0])]


def _problem(seed, n=30, d=3, n_classes=3, k=2):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = rng.randint(0, n_classes, n)
    targets, _ = same_class_neighbors(X, y, k)
    return X, y, targets


@pytest.mark.parametrize(
    "y, expected", [([1, 1, 0, 0], 3.0), ([1, 0, 0, 1], 26.0)]
)
def test_toy_losses(y, expected):
    # classic hinge objective with (1 - mu) on pull and mu on push:
    # y=[1,1,0,0]: pull 4, push 2 -> 0.5*4 + 0.5*2 = 3; y=[1,0,0,1]: pull 20, push 32 -> 26
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array(y)
    targets, _ = same_class_neighbors(X, y, 1)
    loss, _ = lmnn_loss_grad_exact(np.ones(1), X, y, targets, 0.5, 1)
    assert loss == pytest.approx(expected, abs=1e-12)
    assert reference_loss(np.ones((1, 1)), X, y, targets, 0.5) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_components", [1, 3])
def test_loss_matches_reference_and_gradient(seed, n_components):
    X, y, targets = _problem(seed)
    rng = np.random.RandomState(seed + 10)
    p = rng.randn(n_components * 3)
    loss, _ = lmnn_loss_grad_exact(p, X, y, targets, 0.3, n_components)
    assert loss == pytest.approx(reference_loss(p.reshape(n_components, 3), X, y, targets, 0.3))

    def f(q):
        return lmnn_loss_grad_exact(q, X, y, targets, 0.3, n_components)[0]

    def g(q):
        return lmnn_loss_grad_exact(q, X, y, targets, 0.3, n_components)[1]

    err = check_grad(f, g, p, epsilon=1e-7)
    assert err < 1e-4 * max(1.0, np.linalg.norm(g(p)))


def test_smoothed_gradient_and_exact_limit():
    X, y, targets = _problem(4)
    n = X.shape[0]
    rows = [np.flatnonzero(y != y[i]) for i in range(n)]
    indptr = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
    indices = np.concatenate(rows).astype(np.int64)
    p = np.random.RandomState(0).randn(9)
    f = lambda q: lmnn_evaluate(q, X, targets, indptr, indices, 0.5, 3, 0.05)[0]  # noqa: E731
    g = lambda q: lmnn_evaluate(q, X, targets, indptr, indices, 0.5, 3, 0.05)[1]  # noqa: E731
    assert check_grad(f, g, p, epsilon=1e-7) < 1e-4 * np.linalg.norm(g(p))
    exact = lmnn_loss_grad(p, X, targets, indptr, indices, 0.5, 3)[0]
    assert exact == pytest.approx(reference_loss(p.reshape(3, 3), X, y, targets, 0.5))
    # Huber smoothing lowers each active hinge by at most s / 2
    smooth = lmnn_evaluate(p, X, targets, indptr, indices, 0.5, 3, 0.05)[0]
    assert exact - 0.5 * 0.05 / 2 * n * 2 * n <= smooth <= exact


def test_find_impostors_matches_numpy():
    rng = np.random.RandomState(1)
    Z = rng.randn(40, 2)
    Z[5] = Z[6]  # duplicate point
    Z[7] = 0.0  # zero row
    y = np.repeat([0, 1, 2, 3], 10)
    y[39] = 4  # singleton class
    radius = rng.uniform(0.0, 2.0, 40)
    radius[3] = 0.0
    indptr, indices, dists, truncated = find_impostors(Z, y, radius, block_bytes=8 * 40 * 16)
    assert not truncated
    ref = reference_impostors(Z, y, radius)
    for i in range(40):
        got = indices[indptr[i] : indptr[i + 1]]
        np.testing.assert_array_equal(got, ref[i])
        np.testing.assert_allclose(dists[indptr[i] : indptr[i + 1]], ((Z[got] - Z[i]) ** 2).sum(1))


def test_find_impostors_budget_keeps_closest():
    rng = np.random.RandomState(2)
    Z = rng.randn(30, 2)
    y = np.repeat([0, 1], 15)
    radius = np.full(30, 100.0)  # every other-class sample is an impostor: 450 pairs
    indptr, indices, dists, truncated = find_impostors(Z, y, radius, max_pairs=100)
    assert truncated and indices.size <= 100
    for i in range(30):
        got = indices[indptr[i] : indptr[i + 1]]
        assert np.all(np.diff(got) > 0)
        others = np.flatnonzero(y != y[i])
        d = ((Z[others] - Z[i]) ** 2).sum(1)
        closest = np.sort(others[np.argsort(d, kind="stable")[: got.size]])
        np.testing.assert_array_equal(got, closest)


def test_rows_contained():
    a_ptr = np.array([0, 2, 3, 3]); a_idx = np.array([1, 4, 2])  # noqa: E702
    b_ptr = np.array([0, 3, 4, 5]); b_idx = np.array([0, 1, 4, 3, 7])  # noqa: E702
    np.testing.assert_array_equal(rows_contained(a_ptr, a_idx, b_ptr, b_idx), [True, False, True])


def test_margin_radius_rows_without_targets():
    X = np.array([[0.0], [1.0], [5.0]])
    targets, _ = same_class_neighbors(X, np.array([0, 0, 1]), 1)
    np.testing.assert_allclose(margin_radius(X, targets), [2.0, 2.0, 0.0])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_matches_exact_sdp(seed):
    rng = np.random.RandomState(seed)
    d = 2 + seed % 2
    X = rng.randn(24, d) * np.array([1.0, 3.0, 0.5])[:d]
    y = rng.randint(0, 3, 24)
    targets, _ = same_class_neighbors(X, y, 2)
    sdp = lmnn_sdp(X, y, targets, 0.5)
    assert sdp.converged
    L_sdp = components_from_metric(sdp.x, tol=1e-6)
    assert lmnn_loss_grad_exact(L_sdp.ravel(), X, y, targets, 0.5, d)[0] == pytest.approx(sdp.fun, rel=1e-5)
    est = LMNN(n_neighbors=2, init="identity", tol=1e-9, max_iter=3000).fit(X, y)
    assert abs(est.objective_ - sdp.fun) <= 1e-3 * sdp.fun
    assert est.objective_ == pytest.approx(reference_loss(est.components_, X, y, targets, 0.5))


def test_fit_improves_knn_and_is_deterministic():
    from sklearn.datasets import load_iris
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    a = LMNN(random_state=0).fit(X, y)
    b = LMNN(random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.components_, b.components_)
    L0 = np.eye(4)
    targets, _ = same_class_neighbors(X, y, 3)
    assert a.objective_ < lmnn_loss_grad_exact(L0.ravel(), X, y, targets, 0.5, 4)[0]
    assert a.objective_ == pytest.approx(reference_loss(a.components_, X, y, targets, 0.5))
    assert KNeighborsClassifier(3).fit(a.transform(X), y).score(a.transform(X), y) >= 0.96
    assert a.n_iter_ > 0


@pytest.mark.parametrize("init", ["auto", "pca", "lda", "identity", "random"])
def test_inits_and_rectangular(init):
    X, y, _ = _problem(0, n=40, d=4)
    est = LMNN(n_components=2, init=init, random_state=0, max_iter=50).fit(X, y)
    assert est.components_.shape == (2, 4)
    assert est.transform(X).shape == (40, 2)


def test_small_classes_warn_and_singleton():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.1], [0.3, 0.0], [3.0, 3.0], [3.1, 3.0], [9.0, 9.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    with pytest.warns(UserWarning, match=re.escape("samples (e.g. 1); their samples use n_c - 1 target neighbours")):
        est = LMNN(n_neighbors=3).fit(X, y)  # plain 1, not np.int64(1)
    assert np.all(np.isfinite(est.components_))


def test_errors():
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=re.escape("LMNN needs samples of at least 2 classes; got 1 class.")):
        LMNN().fit(X, np.zeros(4))
    with pytest.raises(ValueError, match=re.escape("every class has a single sample")):
        LMNN().fit(X, np.arange(4))
    with pytest.raises(ValueError, match="n_components=5 is larger"):
        LMNN(n_components=5).fit(X, [0, 0, 1, 1])


def test_budget_warning_and_convergence_warning():
    X, y, _ = _problem(3, n=40, d=3)
    with pytest.warns(UserWarning, match="max_impostors=5"):
        LMNN(max_impostors=5, init="identity").fit(X, y)
    with pytest.warns(ConvergenceWarning):
        LMNN(max_iter=1, init="identity").fit(X, y)


def test_warm_start_callback_verbose(capsys):
    X, y, _ = _problem(5, n=40, d=3)
    calls = []
    est = LMNN(init="identity", callback=lambda L, it: calls.append((L.shape, it)), verbose=1)
    est.fit(X, y)
    assert calls and calls[0] == ((3, 3), 1) and len(calls) == est.n_iter_
    out = capsys.readouterr().out
    assert "Objective Value" in out and "Active Triplets" in out
    first = est.objective_
    est.set_params(warm_start=True, callback=None, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.objective_ <= first * (1 + 1e-6)


# ------------------------------------------------------------ low rank on digits
# metric-learn 0.7.0's LMNN(n_components=2, init=..., n_neighbors=3, random_state=0) on the
# split below: its solution's objective under shallowml's objective, and its 3-NN test
# error (176/540 and 143/540), measured by benchmarks/diagnose_lowrank.py
# (docs/benchmark_results/lowrank_digits.json); the issue quoted 0.35 from an older run.
_METRIC_LEARN_LOW_RANK = {"lda": (121672.5, 176 / 540), "pca": (119851.3, 143 / 540)}


@pytest.fixture(scope="module")
def digits_70_30():
    """Standardised digits, 70/30 stratified split with seed 0 (as benchmarks.bench_lmnn)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, X_te, y, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    return scaler.transform(X), y, scaler.transform(X_te), y_te


@pytest.fixture(scope="module")
def low_rank_fits(digits_70_30):
    """LMNN(n_components=2) from 'lda' and 'pca' with every warning recorded, and its init map."""
    X, y, _, _ = digits_70_30
    fits = {}
    for init in ("lda", "pca"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = LMNN(n_components=2, init=init, random_state=0).fit(X, y)
        # the initial map as the fit builds it (on the centred, scaled data)
        Xs, _ = _scaled(X)
        L0 = initial_components(init, Xs, np.unique(y, return_inverse=True)[1], 2,
                                random_state=np.random.RandomState(0))
        fits[init] = (est, [w.category for w in caught], L0)
    return fits


def _knn_error(L, X, y, X_te, y_te):
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(3).fit(X @ L.T, y)
    return float(np.mean(knn.predict(X_te @ L.T) != y_te))


@pytest.mark.parametrize("init", ["lda", "pca"])
def test_low_rank_digits_converges_to_metric_learn_objective(low_rank_fits, init):
    # Before the active-set rounds had their trust-region test, each round let L move
    # by more than its own norm over a stale impostor list: the true objective went up
    # and down between 1.9e5 and 2.7e5 and the fit stopped at max_iter=200.
    est, categories, _ = low_rank_fits[init]
    assert ConvergenceWarning not in categories
    assert est.n_iter_ < est.max_iter
    assert est.objective_ <= 1.005 * _METRIC_LEARN_LOW_RANK[init][0]


@pytest.mark.parametrize("init", [
    pytest.param("lda", marks=pytest.mark.xfail(strict=True, reason=(
        "the classic objective's local minimum reached from LDA (121671, also metric-learn's) has "
        "3-NN error 0.328 on this split, LDA itself 0.296; better than LDA on 3 of 4 other splits"))),
    "pca",
])
def test_low_rank_digits_not_worse_than_init(digits_70_30, low_rank_fits, init):
    X, y, X_te, y_te = digits_70_30
    est, _, L0 = low_rank_fits[init]
    assert _knn_error(est.components_, X, y, X_te, y_te) <= _knn_error(L0, X, y, X_te, y_te)


@pytest.mark.parametrize("init", [
    pytest.param("lda", marks=pytest.mark.xfail(strict=True, reason=(
        "0.335 against metric-learn's 0.326 (5 of 540 test points) at objectives 0.07% apart"))),
    pytest.param("pca", marks=pytest.mark.xfail(strict=True, reason=(
        "0.269 against metric-learn's 0.265 (2 of 540 test points) at objectives 0.07% apart"))),
])
def test_low_rank_digits_not_worse_than_metric_learn(digits_70_30, low_rank_fits, init):
    X, y, X_te, y_te = digits_70_30
    est, _, _ = low_rank_fits[init]
    assert _knn_error(est.components_, X, y, X_te, y_te) <= _METRIC_LEARN_LOW_RANK[init][1]


def test_lda_init_with_constant_features():
    # a split of standardised digits where pixels constant in the training part made
    # the within-class scatter singular: init='lda' raised LinAlgError
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, _, y, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=4)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = LMNN(n_components=2, init="lda", max_iter=2).fit(X, y)
    assert np.all(np.isfinite(est.components_))
    np.testing.assert_allclose(est.components_[:, np.ptp(X, axis=0) == 0], 0.0, atol=1e-12)
