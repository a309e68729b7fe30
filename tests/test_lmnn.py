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
    indptr, indices, dists, truncated = find_impostors(Z, y, radius, tile_rows=16)  # several tiles, diagonal and off-diagonal
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
        "the classic objective's local minimum reached from LDA (metric-learn's too) has 3-NN error "
        "0.328 on this split (metric-learn's 0.326), LDA itself 0.296; LMNN beats LDA on 4 of 5 70/30 "
        "splits (lowrank_splits_seeds0-4.md)"))),
    "pca",
])
def test_low_rank_digits_not_worse_than_init(digits_70_30, low_rank_fits, init):
    X, y, X_te, y_te = digits_70_30
    est, _, L0 = low_rank_fits[init]
    assert _knn_error(est.components_, X, y, X_te, y_te) <= _knn_error(L0, X, y, X_te, y_te)


@pytest.mark.parametrize("init", [
    pytest.param("lda", marks=pytest.mark.xfail(strict=True, reason=(
        "0.328 against metric-learn's 0.326 (1 of 540 test points) at the same objective (121672.7 "
        "against 121672.6); from LDA shallowml is at least as good on 3 of 5 70/30 splits, on a 4th "
        "its objective is 5 % lower (lowrank_splits_seeds0-4.md)"))),
    pytest.param("pca", marks=pytest.mark.xfail(strict=True, reason=(
        "0.267 against 0.265, metric-learn's error here with multi-threaded BLAS (1 of 540 test points; "
        "with one BLAS thread it is 0.267 too), at a lower objective (119845 against 119853)"))),
])
def test_low_rank_digits_not_worse_than_metric_learn(digits_70_30, low_rank_fits, init):
    X, y, X_te, y_te = digits_70_30
    est, _, _ = low_rank_fits[init]
    assert _knn_error(est.components_, X, y, X_te, y_te) <= _METRIC_LEARN_LOW_RANK[init][1]


def test_low_rank_digits_homotopy_reaches_metric_learns_basin():
    # 70/30 split seed 2, 2-D map from LDA: with the smoothed stages stopped at tol=1e-3
    # the fit settled at objective 122633 (3-NN error 0.309); metric-learn 0.7's LMNN from
    # the same start reaches 111710.7 and 0.261 (141 / 540; bench_lowrank_splits, one BLAS
    # thread). With fewer components than classes - 1 the smoothed stages run to 1e-6.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, X_te, y, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=2)
    scaler = StandardScaler().fit(X)
    X, X_te = scaler.transform(X), scaler.transform(X_te)
    est = LMNN(n_components=2, init="lda", random_state=0).fit(X, y)
    assert est.objective_ <= 111710.7 * (1 + 1e-5)
    assert _knn_error(est.components_, X, y, X_te, y_te) <= 141 / 540


def test_low_rank_gallery_embedding_split():
    # the split of examples/plot_digits_embedding.py (600 / 600, standardised), defaults:
    # LMNN's 2-D map (init 'auto' = 'lda') was worse than PCA's (0.53 against 0.48)
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, X_te, y, y_te = train_test_split(X, y, train_size=600, test_size=600, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    X, X_te = scaler.transform(X), scaler.transform(X_te)
    est = LMNN(n_components=2).fit(X, y)
    L0 = initial_components("lda", _scaled(X)[0], y, 2, random_state=np.random.RandomState(0))
    error = _knn_error(est.components_, X, y, X_te, y_te)  # 0.290 (174 / 600)
    assert error <= _knn_error(PCA(2).fit(X).components_, X, y, X_te, y_te)  # 0.483
    assert error <= _knn_error(L0, X, y, X_te, y_te)  # 0.320
    # metric-learn 0.7.0's LMNN(n_components=2, init='lda', n_neighbors=3, random_state=0)
    # on this split: 175 / 600 (benchmarks/bench_lowrank_splits.py, lowrank_splits_seeds0-4.json)
    assert error <= 175 / 600


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


# ------------------------------------------------------- principal-subspace fits
def _spectrum_data(n, d, decay, seed=0):
    """Gaussian data with feature variances decay**j in a random rotation, 3 classes."""
    rng = np.random.RandomState(seed)
    Q, _ = np.linalg.qr(rng.randn(d, d))
    X = (rng.randn(n, d) * decay ** (np.arange(d) / 2.0)) @ Q.T
    y = np.arange(n) % 3
    X[:, :3] += 2.0 * np.eye(3)[y] * 0.3  # some class structure
    return X, y


def _explained_count(X, fraction):
    var = np.linalg.svd(X - X.mean(0), compute_uv=False) ** 2
    return int(np.searchsorted(np.cumsum(var) / var.sum(), fraction)) + 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pca_components_auto_keeps_up_to_100_features():
    X, y, _ = _problem(0, n=60, d=100)
    a = LMNN(max_iter=20).fit(X, y)
    b = LMNN(max_iter=20, pca_components=None).fit(X, y)
    assert a.pca_components_ is None and a.components_.shape == (100, 100)
    np.testing.assert_array_equal(a.components_, b.components_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("decay, n_components, expected", [
    (0.9, None, 100),    # 95 % of the variance in fewer than 100 components: 100
    (0.995, None, "r95"),  # a flat spectrum: the components for 95 %
    (0.9, 120, 120),     # never fewer than n_components
])
def test_pca_components_auto_rule(decay, n_components, expected):
    X, y = _spectrum_data(400, 150, decay)
    r95 = _explained_count(X, 0.95)
    assert r95 < 100 if decay == 0.9 else 100 < r95 < 150
    expected = r95 if expected == "r95" else expected
    est = LMNN(n_components=n_components, max_iter=5).fit(X, y)
    assert est.pca_components_ == expected
    assert est.components_.shape == (n_components or expected, 150)
    # components_ act on the leading principal directions only
    _, _, Vt = np.linalg.svd(X - X.mean(0))
    np.testing.assert_allclose(est.components_ @ Vt[expected:].T, 0.0, atol=1e-10 * np.abs(est.components_).max())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pca_components_explicit_and_array_init():
    X, y = _spectrum_data(200, 150, 0.9)
    est = LMNN(pca_components=20, n_components=5, max_iter=5).fit(X, y)
    assert est.pca_components_ == 20 and est.components_.shape == (5, 150)
    # an array init switches 'auto' off: the array acts on every feature
    L0 = np.eye(150)[:4]
    est = LMNN(n_components=4, init=L0, max_iter=5).fit(X, y)
    assert est.pca_components_ is None and est.components_.shape == (4, 150)
    # with an explicit pca_components the array is projected on the subspace
    est = LMNN(n_components=4, init=L0, pca_components=30, max_iter=1).fit(X, y)
    assert est.pca_components_ == 30
    P = np.linalg.svd(X - X.mean(0))[2][:30]
    projected = LMNN(n_components=4, init=L0 @ P.T @ P, pca_components=30, max_iter=3).fit(X, y)
    np.testing.assert_allclose(est.set_params(max_iter=3).fit(X, y).components_, projected.components_,
                               rtol=1e-6, atol=1e-9)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pca_components_targets_found_in_the_subspace():
    # 100 directions of variance 1 and 50 of variance 0.09 (4.3 % of the total): the
    # 50 are dropped but still change some nearest neighbours
    rng = np.random.RandomState(1)
    X = rng.randn(150, 150) * np.r_[np.ones(100), np.full(50, 0.3)]
    y = np.arange(150) % 3
    X[:, 0] += y
    est = LMNN(max_iter=10).fit(X, y)
    assert est.pca_components_ == 100
    P = np.linalg.svd(X - X.mean(0))[2][:100]
    in_subspace, _ = same_class_neighbors((X - X.mean(0)) @ P.T, y, 3)
    in_features, _ = same_class_neighbors(X, y, 3)
    assert not np.array_equal(np.sort(in_subspace, 1), np.sort(in_features, 1))
    assert est.objective_ == pytest.approx(reference_loss(est.components_, X, y, in_subspace, 0.5), rel=1e-8)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pca_components_more_features_than_samples_is_exact():
    # With d > n the span of the centred data holds every direction the objective
    # can use: the fit there reports the true objective of components_ on X, with the
    # same target neighbours.
    X, y = _spectrum_data(40, 150, 0.99, seed=3)
    est = LMNN(n_neighbors=2, max_iter=30).fit(X, y)
    assert est.pca_components_ == 39 and est.components_.shape == (39, 150)
    targets, _ = same_class_neighbors(X, y, 2)
    assert est.objective_ == pytest.approx(reference_loss(est.components_, X, y, targets, 0.5), rel=1e-8)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pca_components_beyond_rank_and_errors():
    X, y = _spectrum_data(30, 150, 0.99)
    est = LMNN(pca_components=30, max_iter=5).fit(X, y)  # rank 29: one direction without variance
    assert est.pca_components_ == 30 and np.all(np.isfinite(est.components_))
    with pytest.raises(ValueError, match=re.escape(
            "pca_components=31 is larger than min(n_samples, n_features) = 30; use at most 30, or None.")):
        LMNN(pca_components=31).fit(X, y)
    with pytest.raises(ValueError, match=re.escape(
            "pca_components=5 is smaller than n_components=10; the map cannot have more outputs "
            "than the subspace it acts on.")):
        LMNN(pca_components=5, n_components=10).fit(X, y)
    # 'auto' never caps the outputs asked for: 35 outputs of 30 samples in 150 features
    est = LMNN(n_components=35, max_iter=5).fit(X, y)
    assert est.pca_components_ == 35 and est.components_.shape == (35, 150)


@pytest.mark.parametrize("value", ["all", 0, 2.5, -3])
def test_pca_components_validated(value):
    X, y = _spectrum_data(30, 150, 0.99)
    with pytest.raises(ValueError, match=re.escape("The 'pca_components' parameter of LMNN must be")):
        LMNN(pca_components=value).fit(X, y)


def test_image_like_digits_default_beats_euclidean():
    # 8x8 digits rendered at 28 x 28 (784 pixels, benchmarks/images.py): the default
    # fit works on the leading 100 principal components, in seconds
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from benchmarks.images import render_28x28

    digits = load_digits()
    tr, te = train_test_split(np.arange(digits.target.size), test_size=0.3, stratify=digits.target,
                              random_state=0)
    rng = np.random.RandomState(0)
    X, X_te = render_28x28(digits.images[tr], rng), render_28x28(digits.images[te], rng)
    y, y_te = digits.target[tr], digits.target[te]
    est = LMNN().fit(X, y)
    assert est.pca_components_ == 100 and est.n_iter_ < est.max_iter
    euclidean = _knn_error(np.eye(784), X, y, X_te, y_te)  # 0.050
    assert _knn_error(est.components_, X, y, X_te, y_te) <= 0.7 * euclidean  # 0.030
