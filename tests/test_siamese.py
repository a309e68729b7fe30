"""Linear Siamese baseline: losses, mining kernels, Adam solver, estimators."""

import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from shallowml import LinearSiamese, LinearSiamese_Supervised
from shallowml._kernels.siamese import (
    all_triplets_coefficients,
    all_triplets_soft_coefficients,
    batch_sq_distances,
    multi_similarity_coefficients,
    npair_coefficients,
    semi_hard_negatives,
)
from shallowml._losses.siamese import (
    contrastive_loss_grad,
    koch_loss_grad,
    koch_similarity,
    mine_triplets,
    multi_similarity_loss_grad,
    npair_loss_grad,
    proxy_nca_loss_grad,
    triplet_loss_grad,
)
from shallowml._solvers.adam import AdamState, DivergenceError, minimize_adam
from shallowml.constraints import class_balanced_batches, pairs_from_indices, positive_negative_pairs

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fd_error(fun, x, eps=1e-6):
    """Relative error between the analytic gradient and central finite differences.

    ``eps`` is the step, a scalar or one per coordinate.
    """
    _, g = fun(x)
    num = np.empty_like(x)
    steps = np.broadcast_to(eps, x.shape)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = steps[i]
        num[i] = (fun(x + e)[0] - fun(x - e)[0]) / (2 * e[i])
    return np.linalg.norm(g - num) / max(np.linalg.norm(num), 1e-12)


@pytest.fixture(scope="module")
def pair_batch():
    rng = np.random.RandomState(0)
    X1, X2 = rng.randn(20, 4), rng.randn(20, 4)
    y = np.where(rng.rand(20) < 0.5, 1.0, -1.0)
    return X1, X2, y


@pytest.fixture(scope="module")
def triplet_batch():
    rng = np.random.RandomState(1)
    X = rng.randn(14, 4)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3])  # 3 is a singleton
    return X, labels


def _synthetic(n=300, noise=3.0):
    """3 informative of 30 features, 3 classes; the 27 noise features scaled up."""
    X, y = make_classification(
        n_samples=n, n_features=30, n_informative=3, n_redundant=0, n_repeated=0, n_classes=3,
        n_clusters_per_class=1, class_sep=1.5, shuffle=False, random_state=0,
    )
    X[:, 3:] *= noise
    p = np.random.RandomState(0).permutation(n)
    return X[p], y[p]


# ---------------------------------------------------------------------------- losses


def test_contrastive_values():
    L = np.eye(2).ravel()
    X1 = np.array([[2.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
    X2 = np.zeros((3, 2))
    # similar at distance 2: 2; dissimilar at 0.5 < margin 1: 0.125; dissimilar beyond margin: 0
    loss, _ = contrastive_loss_grad(L, X1, X2, np.array([1, -1, -1]), n_components=2, margin=1.0)
    assert loss == pytest.approx((2.0 + 0.125 + 0.0) / 3)


def test_contrastive_zero_distance_dissimilar_is_finite():
    X = np.ones((2, 3))
    loss, grad = contrastive_loss_grad(np.eye(3).ravel(), X, X, np.array([-1, -1]), n_components=3)
    assert loss == pytest.approx(0.5) and np.all(grad == 0)


@pytest.mark.parametrize("k", [2, 4])
def test_contrastive_gradient(pair_batch, k):
    X1, X2, y = pair_batch
    x = np.random.RandomState(k).randn(k * 4) * 0.3  # distances straddle the margin
    fun = lambda v: contrastive_loss_grad(v, X1, X2, y, n_components=k, margin=1.5)  # noqa: E731
    assert _fd_error(fun, x) < 1e-6


def test_koch_gradient_and_probability(pair_batch):
    X1, X2, y = pair_batch
    rng = np.random.RandomState(3)
    k = 3
    x = np.concatenate((rng.randn(k * 4), rng.randn(k), [0.4]))
    fun = lambda v: koch_loss_grad(v, X1, X2, y, n_components=k)  # noqa: E731
    assert _fd_error(fun, x) < 1e-6
    p = koch_similarity(x, X1, X2, n_components=k)
    t = (y > 0).astype(float)
    bce = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert fun(x)[0] == pytest.approx(bce)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 12), d=st.integers(1, 5),
       k=st.integers(1, 4), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_pair_loss_gradients_property(seed, n, d, k, scale):
    """Gradients match finite differences for any shape and input scale (kinks avoided)."""
    rng = np.random.RandomState(seed)
    X1, X2 = scale * rng.randn(n, d), scale * rng.randn(n, d)
    y = np.where(rng.rand(n) < 0.5, 1.0, -1.0)
    L = rng.randn(k * d) / scale
    dist = np.linalg.norm((X1 - X2) @ L.reshape(k, d).T, axis=1)
    margin = float(np.median(dist)) + 0.1  # away from the hinge kink
    if np.any(np.abs(dist - margin) < 1e-3):
        return
    fun = lambda v: contrastive_loss_grad(v, X1, X2, y, n_components=k, margin=margin)  # noqa: E731
    assert _fd_error(fun, L, eps=1e-6 / scale) < 1e-5  # steps in the units of L
    if np.all(np.abs((X1 - X2) @ L.reshape(k, d).T) > 1e-3):  # |.| is smooth there
        x = np.concatenate((L, rng.randn(k), [rng.randn()]))
        fun = lambda v: koch_loss_grad(v, X1, X2, y, n_components=k)  # noqa: E731
        steps = np.concatenate((np.full(k * d, 1e-6 / scale), np.full(k + 1, 1e-6)))
        assert _fd_error(fun, x, eps=steps) < 1e-5


def test_koch_loss_is_stable_for_huge_scores():
    X1 = np.array([[1e6, 0.0]])
    X2 = np.zeros((1, 2))
    x = np.concatenate((np.eye(2).ravel(), [-1.0, -1.0], [0.0]))
    loss, grad = koch_loss_grad(x, X1, X2, np.array([1]), n_components=2)
    assert np.isfinite(loss) and loss == pytest.approx(1e6) and np.all(np.isfinite(grad))


def _brute_triplets(Z, labels, margin):
    sq = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    total, count = 0.0, 0
    for a in range(len(Z)):
        for p in range(len(Z)):
            if p == a or labels[p] != labels[a]:
                continue
            for q in range(len(Z)):
                if labels[q] != labels[a]:
                    total += max(0.0, margin + sq[a, p] - sq[a, q])
                    count += 1
    return total / count


@pytest.mark.parametrize("mining", ["batch_hard", "semi_hard"])
def test_triplet_gradient_fixed_selection(triplet_batch, mining):
    X, labels = triplet_batch
    rng = np.random.RandomState(4)
    k = 3
    x = rng.randn(k * 4)
    Z = X @ x.reshape(k, 4).T
    trip = mine_triplets(Z, labels, mining=mining)
    assert trip.shape[0] > 0
    fun = lambda v: triplet_loss_grad(v, X, labels, n_components=k, triplets=trip)  # noqa: E731
    assert _fd_error(fun, x) < 1e-6
    # the selection is stable around x, so the mined loss has the same gradient
    x_near = x + 1e-7 * rng.randn(x.size)
    assert np.array_equal(mine_triplets(X @ x_near.reshape(k, 4).T, labels, mining=mining), trip)
    mined = triplet_loss_grad(x, X, labels, n_components=k, mining=mining)
    fixed = fun(x)
    assert mined[0] == pytest.approx(fixed[0]) and np.allclose(mined[1], fixed[1])


def test_triplet_all_matches_brute_force_and_gradient(triplet_batch):
    X, labels = triplet_batch
    k = 2
    x = np.random.RandomState(5).randn(k * 4)
    fun = lambda v: triplet_loss_grad(v, X, labels, n_components=k, margin=1.0, mining="all")  # noqa: E731
    assert fun(x)[0] == pytest.approx(_brute_triplets(X @ x.reshape(k, 4).T, labels, 1.0))
    assert _fd_error(fun, x) < 1e-6


def test_triplet_no_valid_triplet_gives_zero():
    X = np.random.RandomState(0).randn(4, 3)
    for labels in (np.zeros(4, int), np.arange(4)):
        for mining in ("batch_hard", "semi_hard", "all"):
            loss, grad = triplet_loss_grad(np.eye(3).ravel(), X, labels, n_components=3, mining=mining)
            assert loss == 0.0 and np.all(grad == 0)


def _softplus(v):
    return np.logaddexp(0.0, v)


def _brute_batch_losses(Z, labels, margin=1.0, alpha=2.0, beta=50.0, eps=0.1):
    """Soft triplet (all), N-pair and multi-similarity by plain loops (numpy reference)."""
    sq = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    n = len(Z)
    soft, n_soft, npair, n_npair, ms, n_ms = 0.0, 0, 0.0, 0, 0.0, 0
    for a in range(n):
        pos = [p for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [q for q in range(n) if labels[q] != labels[a]]
        for p in pos:
            for q in neg:
                soft += _softplus(sq[a, p] - sq[a, q])
                n_soft += 1
            if neg:
                npair += np.log(1 + np.sum(np.exp(sq[a, p] - sq[a, neg])))
                n_npair += 1
        if pos and neg:
            kp = [p for p in pos if sq[a, p] > min(sq[a, neg]) - eps]
            kn = [q for q in neg if sq[a, q] < max(sq[a, pos]) + eps]
            ms += np.log(1 + np.sum(np.exp(alpha * (sq[a, kp] - margin)))) / alpha
            ms += np.log(1 + np.sum(np.exp(beta * (margin - sq[a, kn])))) / beta
            n_ms += 1
    return soft / n_soft, npair / n_npair, ms / n_ms


def test_batch_losses_match_brute_force(triplet_batch):
    X, labels = triplet_batch
    k = 3
    x = 0.5 * np.random.RandomState(6).randn(k * 4)
    Z = X @ x.reshape(k, 4).T
    soft, npair, ms = _brute_batch_losses(Z, labels)
    assert triplet_loss_grad(x, X, labels, n_components=k, margin=None, mining="all")[0] == pytest.approx(soft)
    assert npair_loss_grad(x, X, labels, n_components=k)[0] == pytest.approx(npair)
    assert multi_similarity_loss_grad(x, X, labels, n_components=k)[0] == pytest.approx(ms)
    sq = batch_sq_distances(Z)
    for C, _, _ in (all_triplets_soft_coefficients(sq, labels), npair_coefficients(sq, labels)):
        assert np.allclose(C.sum(axis=1), 0)  # every term pulls one pair and pushes another


@pytest.mark.parametrize("loss", ["soft_triplet-all", "soft_triplet-batch_hard", "soft_triplet-semi_hard",
                                  "npair", "multi_similarity", "proxy_nca"])
def test_batch_loss_gradients(triplet_batch, loss):
    """Finite differences (mined selections held fixed, as the returned gradient assumes)."""
    X, labels = triplet_batch
    k = 3
    rng = np.random.RandomState(7)
    x = 0.7 * rng.randn(k * 4)
    if loss.startswith("soft_triplet"):
        mining = loss.split("-")[1]
        trip = None if mining == "all" else mine_triplets(X @ x.reshape(k, 4).T, labels, mining=mining)
        fun = lambda v: triplet_loss_grad(v, X, labels, n_components=k, margin=None,  # noqa: E731
                                          mining=mining, triplets=trip)
    elif loss == "npair":
        fun = lambda v: npair_loss_grad(v, X, labels, n_components=k)  # noqa: E731
    elif loss == "multi_similarity":
        fun = lambda v: multi_similarity_loss_grad(v, X, labels, n_components=k, margin=0.8)  # noqa: E731
    else:
        x = np.concatenate((x, rng.randn(4 * k)))  # L and 4 proxies
        fun = lambda v: proxy_nca_loss_grad(v, X, labels, n_components=k, n_classes=4)  # noqa: E731
    assert np.all(np.isfinite(fun(x)[1]))
    assert _fd_error(fun, x) < 1e-6


@pytest.mark.parametrize("loss", [npair_loss_grad, multi_similarity_loss_grad])
def test_batch_losses_without_valid_terms_give_zero(loss):
    X = np.random.RandomState(0).randn(4, 3)
    for labels in (np.zeros(4, int), np.arange(4)):
        value, grad = loss(np.eye(3).ravel(), X, labels, n_components=3)
        assert value == 0.0 and np.all(grad == 0)


def test_batch_losses_are_stable_for_far_points():
    """Huge distances (exp overflow territory) give finite losses and gradients."""
    X, labels = np.random.RandomState(2).randn(10, 3) * 1e3, np.repeat([0, 1], 5)
    for fun in (npair_loss_grad, multi_similarity_loss_grad):
        value, grad = fun(np.eye(3).ravel(), X, labels, n_components=3)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
    params = np.concatenate((np.eye(3).ravel(), [0, 0, 0, 1e4, 0, 0]))
    value, grad = proxy_nca_loss_grad(params, X, labels, n_components=3, n_classes=2)
    assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_proxy_nca_values():
    """Two samples, two proxies: the softmax cross-entropy over the proxies."""
    X = np.array([[0.0, 0.0], [3.0, 0.0]])
    params = np.concatenate((np.eye(2).ravel(), [0.0, 0.0, 2.0, 0.0]))
    value, _ = proxy_nca_loss_grad(params, X, np.array([0, 1]), n_components=2, n_classes=2)
    ref = np.mean([np.log(1 + np.exp(-4.0)), np.log(1 + np.exp(1.0 - 9.0))])
    assert value == pytest.approx(ref)


def test_class_balanced_batches():
    y = np.array([0] * 10 + [1] * 3 + [2] * 7 + [3] * 1 + [4] * 9)
    batches = class_balanced_batches(y, 8, 4, random_state=0)
    assert len(batches) == -(-y.size // 8)
    for b in batches:
        classes, counts = np.unique(y[b], return_counts=True)
        assert classes.size == 2 and np.all(counts <= 4)
        assert np.unique(b).size == b.size  # no duplicate inside a batch
    # a class is cycled through before any of its samples repeats
    many = np.concatenate(class_balanced_batches(np.zeros(9, int), 4, 3, random_state=1))
    assert np.unique(many[:9]).size == 9
    again = class_balanced_batches(y, 8, 4, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="samples_per_class must be >= 1"):
        class_balanced_batches(y, 8, 0, random_state=0)


# ---------------------------------------------------------------------------- kernels


def test_batch_sq_distances_reference():
    Z = np.random.RandomState(0).randn(7, 3)
    Z[3] = Z[1]  # duplicate
    ref = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    assert np.allclose(batch_sq_distances(Z), ref, atol=0, rtol=1e-14)
    assert batch_sq_distances(np.zeros((0, 3))).shape == (0, 0)


def test_mining_kernels_reference(triplet_batch):
    X, labels = triplet_batch
    Z = X[:, :2]
    sq = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    # semi-hard, numpy reference
    ref = []
    for a in range(len(Z)):
        negs = np.flatnonzero(labels != labels[a])
        for p in np.flatnonzero((labels == labels[a]) & (np.arange(len(Z)) != a)):
            outside = negs[sq[a, negs] > sq[a, p]]
            q = outside[np.argmin(sq[a, outside])] if outside.size else negs[np.argmax(sq[a, negs])]
            ref.append((a, p, q))
    assert np.array_equal(semi_hard_negatives(sq, labels), np.array(ref))
    # batch-hard: farthest positive, closest negative; the singleton (13) is no anchor
    bh = mine_triplets(Z, labels, mining="batch_hard")
    assert 13 not in bh[:, 0] and bh.shape[0] == 13
    for a, p, q in bh:
        same = (labels == labels[a]) & (np.arange(len(Z)) != a)
        assert sq[a, p] == sq[a, same].max() and sq[a, q] == sq[a, labels != labels[a]].min()
    # all triplets: coefficients give the brute-force hinge sum
    C, total, count = all_triplets_coefficients(sq, labels, 1.0)
    assert total / count == pytest.approx(_brute_triplets(Z, labels, 1.0))
    assert np.allclose(C.sum(axis=1), 0)


# ---------------------------------------------------------------------------- Adam


def _quadratic(target):
    def fun(x, idx):
        r = x - target[idx].mean(axis=0)
        return float(r @ r), 2 * r
    return fun


def test_adam_converges_on_quadratic():
    target = np.tile([1.0, -2.0], (50, 1))
    res = minimize_adam(_quadratic(target), np.zeros(2), 50, random_state=np.random.RandomState(0),
                        learning_rate=0.05, max_iter=500, batch_size=10, tol=1e-8)
    assert res.converged and res.n_iter < 500
    assert np.allclose(res.x, [1.0, -2.0], atol=1e-2)
    assert len(res.history) == res.n_iter


def test_adam_reports_non_convergence():
    target = np.tile([1.0, -2.0], (50, 1))
    res = minimize_adam(_quadratic(target), np.zeros(2), 50, random_state=np.random.RandomState(0),
                        learning_rate=1e-4, max_iter=3)
    assert not res.converged and res.n_iter == 3
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res.warn_if_not_converged("X")


def test_adam_divergence_raises():
    def exploding(x, idx):
        value = np.exp(min(x[0], 700.0))
        return float(value), np.array([-value])

    with pytest.raises(DivergenceError, match=re.escape("lower learning_rate (currently 1000)")):
        minimize_adam(exploding, np.zeros(1), 4, random_state=np.random.RandomState(0),
                      learning_rate=1e3, max_iter=50)
    nan = lambda x, idx: (float("nan"), np.zeros(1))  # noqa: E731
    with pytest.raises(ValueError, match="NaN or infinite"):
        minimize_adam(nan, np.zeros(1), 4, random_state=np.random.RandomState(0))
    assert issubclass(DivergenceError, FloatingPointError)


def test_adam_early_stopping_keeps_best_and_state_continues():
    target = np.tile([1.0], (20, 1))
    calls = []

    def val(x):
        calls.append(x.copy())
        return float((x[0] - 0.5) ** 2)  # best near 0.5, training goes to 1

    state = AdamState.zeros_like(np.zeros(1))
    res = minimize_adam(_quadratic(target), np.zeros(1), 20, random_state=np.random.RandomState(0),
                        learning_rate=0.05, max_iter=200, val_fun=val, n_iter_no_change=5, state=state)
    assert res.converged
    assert res.fun == pytest.approx(min(res.history))
    assert abs(res.x[0] - 0.5) <= min(abs(c[0] - 0.5) for c in calls) + 1e-12
    assert state.t == res.n_iter  # one batch of 20 per epoch


# ---------------------------------------------------------------------------- estimators


LOSS_PARAMS = [
    dict(loss="contrastive"), dict(loss="koch"), dict(loss="triplet", mining="batch_hard"),
    dict(loss="triplet", mining="semi_hard"), dict(loss="triplet", mining="all"),
    dict(loss="soft_triplet", mining="batch_hard"), dict(loss="soft_triplet", mining="semi_hard"),
    dict(loss="soft_triplet", mining="all"), dict(loss="npair"), dict(loss="multi_similarity"),
    dict(loss="proxy_nca"),
]


@quiet
@pytest.mark.parametrize("params", LOSS_PARAMS, ids=lambda p: "-".join(p.values()))
def test_learned_metric_beats_euclidean_3nn(params):
    """Only 3 of 30 features carry the class: the 3-NN test error drops by >= 0.30."""
    X, y = _synthetic()
    Xtr, ytr, Xte, yte = X[:150], y[:150], X[150:], y[150:]
    knn = KNeighborsClassifier(3)
    base = 1 - knn.fit(Xtr, ytr).score(Xte, yte)
    est = LinearSiamese_Supervised(max_iter=40, early_stopping=False, weight_decay=0.0, random_state=0,
                                   **params).fit(Xtr, ytr)
    learned = 1 - knn.fit(est.transform(Xtr), ytr).score(est.transform(Xte), yte)
    assert base > 0.4
    assert learned <= base - 0.30, (base, learned)


@quiet
def test_defaults_beat_euclidean_on_the_synthetic_problem():
    """The regularised defaults (weight decay towards the identity) still learn: 0.50 -> <= 0.42."""
    X, y = _synthetic()
    Xtr, ytr, Xte, yte = X[:150], y[:150], X[150:], y[150:]
    knn = KNeighborsClassifier(3)
    base = 1 - knn.fit(Xtr, ytr).score(Xte, yte)
    est = LinearSiamese_Supervised(random_state=0).fit(Xtr, ytr)
    learned = 1 - knn.fit(est.transform(Xtr), ytr).score(est.transform(Xte), yte)
    assert learned <= base - 0.08, (base, learned)


def _pairs_data(n_pairs=200):
    X, y = _synthetic(200)
    pos, neg = positive_negative_pairs(y, n_pairs // 2, random_state=0)
    pairs, py = pairs_from_indices(X, pos, neg)
    p = np.random.RandomState(1).permutation(len(py))
    return pairs[p], py[p]


@quiet
@pytest.mark.parametrize("loss", ["contrastive", "koch"])
def test_pairs_estimator_api(loss):
    pairs, y = _pairs_data(600)
    est = LinearSiamese(n_components=5, loss=loss, max_iter=30, random_state=0)
    assert clone(est).get_params() == est.get_params()
    est.fit(pairs, y)
    assert est.components_.shape == (5, 30) and np.all(np.isfinite(est.components_))
    assert est.score(pairs, y) > 0.9  # ROC AUC
    # threshold calibrated on the training pairs; predict consistent with decision_function
    assert np.array_equal(est.predict(pairs), np.where(est.decision_function(pairs) >= 0, 1, -1))
    assert np.mean(est.predict(pairs) == y) > 0.85
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.predict(pairs), est.predict(pairs))
    refit = clone(est).fit(pairs, y)
    assert np.array_equal(refit.components_, est.components_)  # deterministic
    # held-out pairs involve unseen points: 400 training pairs for 150 parameters
    assert cross_val_score(clone(est), pairs, y, cv=3).mean() > 0.75
    if loss == "koch":
        proba = est.pair_similarity_proba(pairs)
        assert np.all((proba >= 0) & (proba <= 1))
        assert np.mean((proba > 0.5) == (y > 0)) > 0.85
    else:
        with pytest.raises(AttributeError, match="only available with loss='koch'"):
            est.pair_similarity_proba(pairs)


@quiet
def test_pairs_partial_fit_streaming_and_checks():
    pairs, y = _pairs_data(300)
    est = LinearSiamese(n_components=4, random_state=0)
    for start in range(0, 300, 100):
        est.partial_fit(pairs[start : start + 100], y[start : start + 100])
    assert est.n_iter_ == 3 and np.all(np.isfinite(est.components_))
    streamed = [clone(est).partial_fit(pairs, y) for _ in range(2)]
    assert np.array_equal(streamed[0].components_, streamed[1].components_)
    for _ in range(20):
        est.partial_fit(pairs, y)
    assert est.score(pairs, y) > 0.9
    with pytest.raises(ValueError, match=re.escape("pairs have 3 features, but the estimator was fitted with 30")):
        est.partial_fit(pairs[:, :, :3], y)
    with pytest.raises(ValueError, match=re.escape("needs both similar (+1) and dissimilar (-1) pairs")):
        LinearSiamese().fit(pairs[y > 0], y[y > 0])
    with pytest.raises(ValueError, match="identical"):
        LinearSiamese().fit(np.ones((4, 2, 3)), [1, -1, 1, -1])


@pytest.mark.parametrize(
    "est",
    [LinearSiamese_Supervised(loss="contrastive"), LinearSiamese_Supervised(loss="koch"),
     LinearSiamese_Supervised(loss="triplet", mining="all")],
)
def test_too_large_learning_rate_raises_clear_error(est):
    X, y = _synthetic(90)
    est.set_params(learning_rate=1e6, random_state=0)
    with pytest.raises(DivergenceError, match="lower learning_rate"):
        est.fit(X, y)
    assert not hasattr(est, "components_")  # never NaN components


@quiet
def test_divergence_in_partial_fit_keeps_previous_state():
    X, y = _synthetic(90)
    est = LinearSiamese_Supervised(random_state=0).partial_fit(X, y)
    before, steps = est.components_.copy(), est._adam_state.t
    est.set_params(learning_rate=1e7)
    with pytest.raises(DivergenceError):
        est.partial_fit(X, y)
    assert np.array_equal(est.components_, before) and est._adam_state.t == steps


@quiet
@pytest.mark.parametrize("cls", [LinearSiamese, LinearSiamese_Supervised])
def test_init_array_is_starting_components(cls):
    X, y = _synthetic(60)
    L0 = np.random.RandomState(0).randn(2, 30) * 1e-3
    est = cls(n_components=2, init=L0, learning_rate=1e-12, max_iter=1, random_state=0)
    if cls is LinearSiamese:
        est.fit(*_pairs_data(60))
    else:
        est.fit(X * 1e3, y)  # the internal rescaling must not change the starting map
    assert np.allclose(est.components_, L0, rtol=1e-6)
    with pytest.raises(ValueError, match=re.escape("expected (n_components, n_features) = (3, 30)")):
        est.set_params(n_components=3).fit(X, y) if cls is LinearSiamese_Supervised else est.set_params(
            n_components=3).fit(*_pairs_data(60))


@quiet
def test_supervised_options(capsys):
    X, y = _synthetic(120)
    est = LinearSiamese_Supervised(n_components=2, loss="contrastive", n_pairs=60, max_iter=3, verbose=1,
                                   early_stopping=False, random_state=0)
    est.fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"\[LinearSiamese_Supervised\] +3 +[0-9.e+-]+ +[0-9.]+$", out, flags=re.M)
    assert est.transform(X).shape == (120, 2) and est.n_iter_ == 3
    es = LinearSiamese_Supervised(loss="triplet", early_stopping=True, max_iter=200, random_state=0)
    es.fit(X, y)
    assert es.n_iter_ < 200 and len(es.loss_curve_) == es.n_iter_
    with pytest.raises(ValueError, match="Cannot sample 5000 distinct similar pairs"):
        LinearSiamese_Supervised(loss="contrastive", n_pairs=10000).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="did not converge after 1 iterations"):
        LinearSiamese_Supervised(max_iter=1).fit(X, y)
    # partial_fit on a batch with a single class: nothing to learn for the pair and triplet
    # losses, no error (Proxy-NCA still pulls the samples towards their proxy)
    p = LinearSiamese_Supervised(loss="triplet", random_state=0).partial_fit(X, y)
    before = p.components_.copy()
    p.partial_fit(X[y == 0], y[y == 0])
    assert np.array_equal(p.components_, before)


def test_common_check_instance_is_supervised_counterpart():
    est = LinearSiamese(loss="koch", margin=2.0)
    twin = est._common_check_instance()
    assert isinstance(twin, LinearSiamese_Supervised)
    assert twin.loss == "koch" and twin.margin == 2.0
    # parameters left at their defaults take the supervised estimator's own (studied) defaults
    assert LinearSiamese()._common_check_instance().get_params() == LinearSiamese_Supervised().get_params()
    L0 = np.eye(2, 3)
    assert LinearSiamese(init=L0, random_state=3)._common_check_instance().init is L0


def test_adam_early_stopping_keeps_the_start_when_validation_never_improves():
    x0 = np.array([0.3, -0.2])
    target = np.tile([1.0, 1.0], (20, 1))
    res = minimize_adam(_quadratic(target), x0, 20, random_state=np.random.RandomState(0),
                        learning_rate=0.05, max_iter=30, n_iter_no_change=5,
                        val_fun=lambda x: float(np.sum((x - x0) ** 2)))
    assert res.converged and np.array_equal(res.x, x0) and res.fun == 0.0


@quiet
def test_weight_decay_pulls_towards_the_initial_map():
    X, y = _synthetic(150)
    common = dict(loss="triplet", init="identity", early_stopping=False, max_iter=20, random_state=0)
    free = LinearSiamese_Supervised(weight_decay=0.0, **common).fit(X, y)
    held = LinearSiamese_Supervised(weight_decay=1e3, **common).fit(X, y)
    scale = free._input_scale
    eye = np.eye(30) / scale
    assert np.linalg.norm(held.components_ - eye) < 0.1 * np.linalg.norm(free.components_ - eye)
    assert np.linalg.norm(held.components_ - eye) < 0.05 * np.linalg.norm(eye)


@quiet
def test_proxy_nca_proxies_and_partial_fit_classes():
    X, y = _synthetic(150)
    est = LinearSiamese_Supervised(loss="proxy_nca", n_components=4, random_state=0).fit(X, y)
    assert est.proxies_.shape == (3, 4)
    # each class's samples are closest to their own proxy in the learned space
    Z = est.transform(X)
    nearest = np.argmin(((Z[:, None] - est.proxies_[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == y) > 0.8
    stream = LinearSiamese_Supervised(loss="proxy_nca", random_state=0)
    stream.partial_fit(X[:60], y[:60])
    stream.partial_fit(X[60:][y[60:] == 2], y[60:][y[60:] == 2])  # one known class: fine
    with pytest.raises(ValueError, match=re.escape("got labels not in its first batch ([7])")):
        stream.partial_fit(X[:10], np.r_[y[:9], 7])


@quiet
@pytest.mark.parametrize("loss", ["npair", "multi_similarity", "soft_triplet", "proxy_nca"])
def test_new_losses_fit_partial_fit_and_are_deterministic(loss):
    X, y = _synthetic(120)
    est = LinearSiamese_Supervised(loss=loss, max_iter=5, random_state=0)
    a = clone(est).fit(X, y).components_
    assert np.array_equal(a, clone(est).fit(X, y).components_)
    p = clone(est)
    for start in range(0, 120, 40):
        p.partial_fit(X[start : start + 40], y[start : start + 40])
    assert p.n_iter_ == 3 and np.all(np.isfinite(p.components_))


def test_compile_all_runs_every_siamese_kernel():
    """The default loss runs no kernel: the warm-up variants must reach all of them (fresh process)."""
    import subprocess
    import sys

    code = (
        "import numba\n"
        "from shallowml import LinearSiamese_Supervised\n"
        "from shallowml._kernels import siamese\n"
        "from shallowml.utils.warmup import warm_up\n"
        "est = LinearSiamese_Supervised()\n"
        "for v in [est, *est._warm_up_variants()]:\n"
        "    warm_up(v)\n"
        "missing = [name for name, k in vars(siamese).items()\n"
        "           if isinstance(k, numba.core.registry.CPUDispatcher) and k.__module__ == siamese.__name__\n"
        "           and not k.signatures]\n"
        "assert not missing, missing\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
