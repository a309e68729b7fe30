"""Tests for NCA: kernel and loss against dense numpy references, finite-difference
gradients, numerical stability, parity with scikit-learn, API and the stochastic mode."""

import re
import warnings

import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.special import softmax
from sklearn.datasets import load_iris, load_wine, make_classification
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis
from sklearn.preprocessing import StandardScaler

from shallowml import NCA
from shallowml._kernels import nca as kernels
from shallowml._losses.nca import nca_loss_grad


def dense_reference(L, X, y, anchors=None):
    """Textbook NCA on the full n x n matrices: loss, gradient, P, W."""
    Z = X @ L.T
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    P = softmax(-D, axis=1)
    same = y[:, None] == y[None, :]
    p = (P * same).sum(1)
    W = P * same - P * p[:, None]
    if anchors is not None:
        keep = np.zeros(len(X), dtype=bool)
        keep[anchors] = True
        W[~keep] = 0.0
        p = p[keep]
    # sum_ij W_ij (z_i - z_j)(x_i - x_j)^T, written out term by term
    G = np.zeros_like(L)
    for i in range(len(X)):
        dz = Z[i] - Z
        dx = X[i] - X
        G += (W[i][:, None] * dz).T @ dx
    return -p.sum(), 2.0 * G.ravel(), P, W


@pytest.fixture
def small_problem():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 5))
    X[5] = X[4]  # duplicate point
    y = rng.randint(0, 3, 40)
    y[7] = 3  # singleton class
    L = rng.standard_normal((3, 5)) * 0.5
    return X, y.astype(np.int64), L


def _run_kernels(variant, from_products, Z_rows, Z_cols, self_col, y_rows, y_cols, tile=8):
    """Both kernels on one block; returns the dense weights, p, W Z and the transposed sums."""
    nca_block_weights = getattr(kernels.nca_block_weights, variant)
    accumulate_transposed = getattr(kernels.accumulate_transposed, variant)
    b, m = Z_rows.shape[0], Z_cols.shape[0]
    block = Z_rows @ Z_cols.T if from_products else np.full((b, m), np.nan)
    cols = np.full((b, m), -7, dtype=np.int32)
    counts = np.full(b, -7, dtype=np.int64)
    p = np.empty(b)
    wz = np.full((b, Z_cols.shape[1]), np.nan)
    nca_block_weights(block, cols, counts, Z_rows, np.ascontiguousarray(Z_cols.T),
                      np.einsum("ij,ij->i", Z_rows, Z_rows), np.einsum("ij,ij->i", Z_cols, Z_cols),
                      from_products, self_col, y_rows, y_cols, Z_cols, p, wz)
    dense = np.zeros((b, m))
    for r in range(b):
        c = counts[r]
        assert np.all(np.diff(cols[r, :c]) > 0)  # increasing column indices
        dense[r, cols[r, :c]] = block[r, :c]
    out = np.ones((m, Z_cols.shape[1] + 1))
    accumulate_transposed(block, cols, counts, np.ascontiguousarray(Z_rows), out, tile)
    return dense, p, wz, out, counts


@pytest.mark.parametrize("variant", ["serial", "parallel"])
@pytest.mark.parametrize("from_products", [False, True])
def test_kernel_matches_numpy_reference(small_problem, from_products, variant):
    X, y, L = small_problem
    Z = X @ L.T
    Z -= Z.mean(0)
    _, _, P, W = dense_reference(L, X, y)
    rows = np.array([3, 4, 5, 7, 20], dtype=np.int64)
    dense, p, wz, out, counts = _run_kernels(variant, from_products, Z[rows], Z, rows, y[rows], y)
    np.testing.assert_allclose(dense, W[rows], atol=1e-12)
    np.testing.assert_allclose(wz, W[rows] @ Z, atol=1e-12)
    same = y[:, None] == y[None, :]
    np.testing.assert_allclose(p, (P * same).sum(1)[rows], atol=1e-12)
    assert p[3] == 0.0  # the singleton class never picks a same-class neighbour
    np.testing.assert_allclose(dense.sum(1), 0.0, atol=1e-12)  # rows of W sum to zero
    # only the non-zero weights are stored (the anchor itself never is)
    np.testing.assert_array_equal(counts, np.count_nonzero(P[rows] > 0, axis=1))
    expected = 1.0 + W[rows].T @ np.hstack([Z[rows], np.ones((rows.size, 1))])
    np.testing.assert_allclose(out, expected, atol=1e-12)


def _softmax_reference(Z_rows, Z_cols, self_col, y_rows, y_cols):
    """Dense softmax of each anchor over the candidates (itself excluded): W, p."""
    D = ((Z_rows[:, None, :] - Z_cols[None, :, :]) ** 2).sum(-1)
    for r, c in enumerate(self_col):
        if c >= 0:
            D[r, c] = np.inf
    P = softmax(-D, axis=1)
    same = y_rows[:, None] == y_cols[None, :]
    p = (P * same).sum(1)
    return P * same - P * p[:, None], p


@pytest.mark.parametrize("variant", ["serial", "parallel"])
@pytest.mark.parametrize("from_products", [False, True])
def test_kernel_with_candidates_matches_numpy_reference(small_problem, from_products, variant):
    # anchors against a subset of candidate columns, some anchors among them
    X, y, L = small_problem
    Z = X @ L.T
    Z -= Z.mean(0)
    rows = np.array([0, 4, 5, 7, 11, 30], dtype=np.int64)
    cand = np.array([2, 4, 5, 9, 11, 12, 13, 25, 30, 39], dtype=np.int64)
    self_col = np.array([-1, 1, 2, -1, 4, 8], dtype=np.int64)
    assert np.all(cand[self_col[self_col >= 0]] == rows[self_col >= 0])
    W, p_ref = _softmax_reference(Z[rows], Z[cand], self_col, y[rows], y[cand])
    dense, p, wz, out, _ = _run_kernels(variant, from_products, Z[rows], Z[cand], self_col, y[rows], y[cand], tile=3)
    np.testing.assert_allclose(dense, W, atol=1e-12)
    np.testing.assert_allclose(p, p_ref, atol=1e-12)
    np.testing.assert_allclose(wz, W @ Z[cand], atol=1e-12)
    expected = 1.0 + W.T @ np.hstack([Z[rows], np.ones((rows.size, 1))])
    np.testing.assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("variant", ["serial", "parallel"])
def test_kernel_isolated_rows_and_lone_candidate(variant):
    # an anchor whose only candidate is itself, and one whose distances overflow to
    # infinity (difference form): no weights, p_i = 0, nothing non-finite
    Z_cols = np.array([[0.0, 0.0], [1e200, 0.0]])
    Z_rows = np.array([[0.0, 0.0], [-1e200, 0.0]])
    dense, p, wz, out, counts = _run_kernels(
        variant, False, Z_rows[:1], Z_cols[:1], np.array([0]), np.array([0]), np.array([0]))
    assert counts[0] == 0 and p[0] == 0.0 and not dense.any() and not wz.any()
    dense, p, wz, out, counts = _run_kernels(
        variant, False, Z_rows[1:], Z_cols[1:], np.array([-1]), np.array([0]), np.array([0]))
    assert counts[0] == 0 and p[0] == 0.0 and np.all(np.isfinite(out))


def test_kernel_zero_rows():
    Z = np.zeros((4, 2))
    kernels.nca_block_weights(np.empty((0, 4)), np.empty((0, 4), np.int32), np.empty(0, np.int64),
                              np.empty((0, 2)), np.zeros((2, 4)), np.empty(0), np.zeros(4), False,
                              np.empty(0, dtype=np.int64), np.empty(0, np.int64), np.zeros(4, np.int64),
                              Z, np.empty(0), np.empty((0, 2)))
    out = np.zeros((4, 3))
    kernels.accumulate_transposed(np.empty((0, 4)), np.empty((0, 4), np.int32), np.empty(0, np.int64),
                                  np.empty((0, 2)), out, 8)
    assert not out.any()


def _with_k(small_problem, k):
    """The small problem with a ``k x 5`` map: k=3 takes the difference form, k=5 the BLAS products."""
    X, y, L = small_problem
    L = np.random.RandomState(k).standard_normal((k, X.shape[1])) * 0.5 if k != L.shape[0] else L
    return X, y, L


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("use_anchors", [False, True])
def test_loss_matches_dense_reference(small_problem, use_anchors, k):
    X, y, L = _with_k(small_problem, k)
    anchors = np.array([0, 4, 5, 7, 11, 30], dtype=np.int64) if use_anchors else None
    loss, grad = nca_loss_grad(L.ravel(), X, y, anchors=anchors, block_rows=4)
    ref_loss, ref_grad, _, _ = dense_reference(L, X, y, anchors)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)
    loss2, grad2 = nca_loss_grad(L.ravel(), X, y, anchors=anchors, scale=0.5)
    assert loss2 == pytest.approx(0.5 * ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad2, 0.5 * ref_grad, rtol=1e-9, atol=1e-12)


def sampled_reference(L, X, y, anchors, candidates):
    """The sampled objective written out: each anchor's softmax over the candidates but itself."""
    total = 0.0
    G = np.zeros_like(L)
    for i in anchors:
        cs = np.array([j for j in candidates if j != i])
        dz = (X[i] - X[cs]) @ L.T
        P = softmax(-(dz**2).sum(1))
        same = y[cs] == y[i]
        p = P[same].sum()
        total += p
        # d p_i / d L = 2 L sum_j p_ij (p_i - [same]) (x_i - x_j)(x_i - x_j)^T
        dx = X[i] - X[cs]
        G += 2.0 * ((P * (p - same))[:, None] * dz).T @ dx
    return -total, -G.ravel()


@pytest.mark.parametrize("k", [3, 5])
def test_sampled_loss_matches_its_definition(small_problem, k):
    X, y, L = _with_k(small_problem, k)
    anchors = np.array([0, 4, 5, 7, 11, 30], dtype=np.int64)
    # unsorted, with some anchors among the candidates
    candidates = np.array([39, 4, 2, 30, 12, 5, 13, 25, 11, 9], dtype=np.int64)
    loss, grad = nca_loss_grad(L.ravel(), X, y, anchors=anchors, candidates=candidates, block_rows=4,
                               scale=0.25)
    ref_loss, ref_grad = sampled_reference(L, X, y, anchors, candidates)
    assert loss == pytest.approx(0.25 * ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, 0.25 * ref_grad, rtol=1e-9, atol=1e-12)


def test_all_candidates_give_the_exact_minibatch_objective(small_problem):
    # n_candidates >= n_samples: the unbiased mode (softmax over all samples)
    X, y, L = _with_k(small_problem, 5)
    anchors = np.array([1, 8, 9, 33], dtype=np.int64)
    exact = nca_loss_grad(L.ravel(), X, y, anchors=anchors)
    sampled = nca_loss_grad(L.ravel(), X, y, anchors=anchors, candidates=np.arange(len(X))[::-1])
    assert sampled[0] == pytest.approx(exact[0], rel=1e-13)
    np.testing.assert_allclose(sampled[1], exact[1], rtol=1e-11, atol=1e-13)


def test_loss_matches_sklearn_private_loss():
    X, y = load_iris(return_X_y=True)
    L = np.random.RandomState(1).standard_normal((2, 4))
    sk = NeighborhoodComponentsAnalysis()
    sk.n_iter_, sk.verbose = 1, 0
    ref_loss, ref_grad = sk._loss_grad_lbfgs(L.ravel(), X, y[:, None] == y[None, :], -1.0)
    loss, grad = nca_loss_grad(L.ravel(), X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("block_rows", [1, 7, 40])
def test_block_size_does_not_change_result(small_problem, block_rows):
    X, y, L = small_problem
    loss, grad = nca_loss_grad(L.ravel(), X, y, block_rows=block_rows)
    ref_loss, ref_grad = nca_loss_grad(L.ravel(), X, y)  # one block (the default here)
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("sample", ["all", "anchors", "anchors+candidates"])
def test_finite_difference_gradient(small_problem, sample, k):
    X, y, L = _with_k(small_problem, k)
    anchors = np.arange(0, 40, 3, dtype=np.int64) if sample != "all" else None
    candidates = np.arange(1, 40, 2, dtype=np.int64) if sample == "anchors+candidates" else None

    def f(x):
        return nca_loss_grad(x, X, y, anchors=anchors, candidates=candidates)[0]

    def g(x):
        return nca_loss_grad(x, X, y, anchors=anchors, candidates=candidates)[1]

    x0 = L.ravel()
    err = check_grad(f, g, x0, epsilon=1e-6)
    assert err < 1e-5 * max(1.0, np.linalg.norm(g(x0)))


def test_no_nan_for_coincident_points_or_huge_distances():
    rng = np.random.RandomState(0)
    X = np.repeat(rng.standard_normal((5, 3)), 4, axis=0)  # every point four times
    y = np.repeat([0, 1, 0, 1, 2], 4)
    with np.errstate(all="raise"):
        loss, grad = nca_loss_grad(np.eye(3).ravel(), X, y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    # distances ~1e12: exp(-d) underflows for every pair, log-sum-exp must not
    with np.errstate(all="raise"):
        loss, grad = nca_loss_grad(np.eye(3).ravel() * 1e6, X + 0.1 * rng.rand(20, 3), y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    # each point's nearest neighbour is one of its (jittered) same-label copies
    assert -loss == pytest.approx(20.0)


def test_huge_distances_pick_the_nearest_neighbour():
    X = np.array([[0.0], [1.0], [3.0], [10.0]])
    y = np.array([0, 0, 1, 1])
    loss, grad = nca_loss_grad(np.array([1e4]), X, y)
    # 0 -> 1 (same), 1 -> 0 (same), 3 -> 1 (different), 10 -> 3 (same)
    assert loss == pytest.approx(-3.0)
    assert np.all(np.isfinite(grad))
    est = NCA(init=np.array([[1e4]])).fit(X, y)
    assert np.all(np.isfinite(est.components_))


@pytest.mark.parametrize("batch_size", [None, 2])
def test_huge_data_gives_a_finite_map_with_the_same_distances(batch_size):
    """|X| ~ 1e100: the gradient (~|X|**2) overflowed L-BFGS; NCA learns on X / 2**e instead."""
    X = np.array([[0.0, 1e100], [1e100, 1e100], [1e100, 1e100], [1e100, 1e100]])
    y = np.array([1, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = NCA(init="identity", max_iter=5, batch_size=batch_size, random_state=0).fit(X, y)
    assert np.all(np.isfinite(est.components_))
    if batch_size is None:  # the objective is that of the returned map on the raw data
        assert est.objective_ == pytest.approx(-nca_loss_grad(est.components_.ravel(), X, y)[0], rel=1e-9)
        assert est.objective_ >= 5.0 / 3.0 - 1e-12  # never worse than the identity start


def test_a_constant_feature_gets_no_weight():
    """A constant column (tiny values: round-off in its class means) must not be amplified.

    From a hypothesis example: the LDA start put 1e115 on the constant column
    (its second Fisher direction, normalised by the regularisation floor), so
    transform lost the digits that pair_distance kept.
    """
    X = np.array([[0.0, 5e-100]] + [[5e-100, 5e-100]] * 7)
    y = np.array([2, 0, 1, 1, 1, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = NCA(max_iter=10, random_state=0).fit(X, y)
    assert np.abs(est.components_[:, 1]).max() <= 1.0  # was 1e115
    a, b = np.arange(8), (np.arange(8) + 1) % 8
    T = est.transform(X)
    np.testing.assert_allclose(np.linalg.norm(T[a] - T[b], axis=1),
                               est.pair_distance(np.stack([X[a], X[b]], axis=1)), rtol=1e-12)


def _parity_cases():
    X, y = load_iris(return_X_y=True)
    yield "iris-identity", X, y, np.eye(4)
    Xw, yw = load_wine(return_X_y=True)
    Xw = StandardScaler().fit_transform(Xw)
    yield "wine-identity", Xw, yw, np.eye(13)
    yield "wine-pca2", Xw, yw, PCA(2).fit(Xw).components_


@pytest.mark.parametrize("case", list(_parity_cases()), ids=lambda c: c[0])
def test_parity_with_sklearn_from_same_init(case):
    _, X, y, L0 = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = NeighborhoodComponentsAnalysis(init=L0, max_iter=50).fit(X, y)
        ours = NCA(init=L0, max_iter=50).fit(X, y)
    sk_objective = -nca_loss_grad(sk.components_.ravel(), X, y)[0]
    assert ours.objective_ == pytest.approx(sk_objective, rel=1e-9)
    assert ours.n_iter_ == sk.n_iter_ - 1  # scikit-learn's n_iter_ also counts the start
    scale = np.abs(sk.components_).max()
    np.testing.assert_allclose(ours.components_, sk.components_, atol=1e-6 * scale)


def test_sklearn_doctest_setting_accuracy():
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, stratify=y, test_size=0.7, random_state=42
    )
    nca = NCA(random_state=42).fit(X_train, y_train)
    knn = KNeighborsClassifier(n_neighbors=3).fit(nca.transform(X_train), y_train)
    assert knn.score(nca.transform(X_test), y_test) >= 0.96


def test_init_auto_rule_and_n_components():
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert NCA(n_components=2, max_iter=5).fit(X, y).components_.shape == (2, 4)  # 'lda'
        assert NCA(n_components=3, max_iter=5).fit(X, y).components_.shape == (3, 4)  # 'pca'
        for init in ["pca", "lda", "identity", "random"]:
            est = NCA(n_components=2, init=init, max_iter=3, random_state=0)
            assert est.fit(X, y).transform(X).shape == (150, 2)


def _sklearn_auto_choice(X, y, n_components, capsys):
    """The init scikit-learn's NCA picks for 'auto', read from its verbose output."""
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning; LDA's collinearity warning
        NeighborhoodComponentsAnalysis(n_components=n_components, max_iter=1, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    if "Finding most discriminative components" in out:
        return "lda"
    return "pca" if "Finding principal components" in out else "identity"


@pytest.mark.parametrize(
    "n_samples, n_features, n_classes, n_components, expected",
    [
        (30, 4, 3, 2, "lda"),  # n_components == n_classes - 1 (the '<=' boundary)
        (30, 4, 3, 3, "pca"),  # one above it, still below n_features
        (30, 4, 3, 4, "identity"),  # n_components == n_features
        (30, 4, 3, None, "identity"),  # None means n_features
        (30, 4, 8, 4, "lda"),  # many classes: 'lda' up to n_features
        (6, 10, 3, 5, "pca"),  # wide data: n_components < n_samples < n_features
        (6, 10, 3, 6, "identity"),  # n_components == n_samples: the 'pca' bound is min(n_features, n_samples)
    ],
)
def test_init_auto_picks_the_rule_branch(n_samples, n_features, n_classes, n_components, expected, capsys):
    # scikit-learn's rule for 'auto': 'lda' if n_components <= min(n_features,
    # n_classes - 1), else 'pca' if n_components < min(n_features, n_samples),
    # else 'identity'. `expected` is that rule by hand; scikit-learn itself
    # confirms it. NCA(init='auto') must start where NCA(init=expected) does:
    # with max_iter=1 the fits are deterministic, so the same start gives
    # identical components_ and another start different ones.
    from shallowml.utils.init import resolve_init

    rng = np.random.RandomState(0)
    y = np.arange(n_samples) % n_classes
    X = rng.randn(n_samples, n_features) + 0.5 * rng.randn(n_classes, n_features)[y]
    assert _sklearn_auto_choice(X, y, n_components, capsys) == expected
    k = n_features if n_components is None else n_components
    assert resolve_init("auto", k, X, y) == expected

    def fit(init):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = NCA(n_components=n_components, init=init, max_iter=1, random_state=0)
            return est.fit(X, y).components_

    valid = {"identity": True, "pca": k <= min(n_samples, n_features), "lda": k <= min(n_features, n_classes - 1)}
    # the named starts are what their names say, so that fit(expected) identifies
    # the start of 'auto' even if the names were mixed up everywhere
    np.testing.assert_array_equal(fit("identity"), fit(np.eye(k, n_features)))
    if valid["pca"]:
        np.testing.assert_array_equal(fit("pca"), fit(PCA(k).fit(X).components_))
    auto = fit("auto")
    assert auto.shape == (k, n_features)
    np.testing.assert_array_equal(auto, fit(expected))
    others = [init for init, ok in valid.items() if ok and init != expected]
    assert others  # every case has an alternative start to tell apart
    for init in others:
        assert not np.allclose(auto, fit(init), atol=1e-3), init


def test_random_state_reproducible():
    X, y = load_iris(return_X_y=True)
    kw = dict(init="random", n_components=2, max_iter=5, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = NCA(**kw).fit(X, y).components_
        b = NCA(**kw).fit(X, y).components_
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, msg",
    [
        (dict(n_components=5), "n_components=5 is larger than the number of features (4); use at most 4, or None."),
        (dict(init=np.ones((2, 3))), "The init array has shape (2, 3); it needs 4 columns"),
        (dict(init=np.ones((5, 4))), "The init array has 5 rows; at most n_features (4)"),
        (dict(init=np.ones((2, 4)), n_components=3), "n_components=3 does not match the 2 rows"),
    ],
)
def test_invalid_parameters(params, msg):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=re.escape(msg)):
        NCA(**params).fit(X, y)


@pytest.mark.parametrize("case", ["one class", "all singletons"])
def test_degenerate_labels_keep_the_initial_map(case):
    # as scikit-learn's and metric-learn's NCA: the objective is constant (p_i = 1 with one
    # class, 0 with only single-sample classes), so the fit keeps the initial map
    from sklearn.neighbors import NeighborhoodComponentsAnalysis

    X, y = load_iris(return_X_y=True)
    if case == "one class":
        X, y = X[y == 0], y[y == 0]
    else:
        X, y = X[:20], np.arange(20)
    with pytest.warns(UserWarning, match="components_ is the initial map"):
        est = NCA(init="identity").fit(X, y)
    np.testing.assert_array_equal(est.transform(X), X)
    assert est.n_iter_ == 0
    assert est.objective_ == (len(X) if case == "one class" else 0.0)
    ref = NeighborhoodComponentsAnalysis(init="identity").fit(X, y)
    np.testing.assert_allclose(est.components_, ref.components_)


def test_warm_start_honours_a_new_n_components():
    X, y = load_iris(return_X_y=True)
    est = NCA(n_components=2, warm_start=True, max_iter=20).fit(X, y)
    assert est.set_params(n_components=3).fit(X, y).components_.shape == (3, 4)
    # a refit with the same n_components takes the warm-start path and keeps the shape
    est.set_params(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert est.components_.shape == (3, 4)


def test_warm_start_reuses_components():
    X, y = load_iris(return_X_y=True)
    est = NCA(n_components=2, warm_start=True, max_iter=100).fit(X, y)
    first = est.components_.copy()
    seen = []
    est.set_params(max_iter=1, callback=lambda L, n: seen.append(L.copy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    # restarting from the optimum moves it very little
    assert np.abs(est.components_ - first).max() < 1e-2 * np.abs(first).max()
    with pytest.raises(ValueError, match=re.escape("warm_start: X has 3 features")):
        est.fit(X[:, :3], y)
    cold = NCA(n_components=2, init="identity", max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X, y)
    assert np.abs(cold.components_ - first).max() > 1e-2 * np.abs(first).max()


def test_callback_verbose_and_convergence_warning(capsys):
    X, y = load_iris(return_X_y=True)
    calls = []
    est = NCA(max_iter=3, verbose=1, callback=lambda L, n: calls.append((L.shape, n)))
    with pytest.warns(ConvergenceWarning, match="NCA did not converge after 3 iterations"):
        est.fit(X, y)
    assert calls == [((4, 4), 1), ((4, 4), 2), ((4, 4), 3)]
    assert est.n_iter_ == 3
    out = capsys.readouterr().out
    assert "Iteration      Objective Value    Time(s)" in out
    assert "[NCA] Training took" in out


def test_float32_input_and_transform_dtype():
    X, y = load_iris(return_X_y=True)
    est = NCA(n_components=2).fit(X.astype(np.float32), y)
    assert est.components_.dtype == np.float64
    assert est.transform(X.astype(np.float32)).dtype == np.float32


def test_stochastic_mode_converges_on_synthetic_problem():
    X, y = make_classification(
        n_samples=300, n_features=10, n_informative=4, n_redundant=0, n_classes=3,
        n_clusters_per_class=1, class_sep=1.0, random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    start = -nca_loss_grad(np.eye(10).ravel(), X, y)[0] / len(X)
    full = NCA(init="identity", max_iter=100).fit(X, y)
    epochs = []
    sgd = NCA(
        init="identity", batch_size=50, learning_rate=0.05, max_iter=20, random_state=0,
        callback=lambda L, n: epochs.append(n),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sgd.fit(X, y)
    assert epochs[:3] == [1, 2, 3] and epochs[-1] == sgd.n_iter_
    mean_p = -nca_loss_grad(sgd.components_.ravel(), X, y)[0] / len(X)
    full_mean_p = full.objective_ / len(X)
    # the stochastic run closes at least 80% of the gap between the start and full L-BFGS
    assert mean_p - start >= 0.8 * (full_mean_p - start)
    again = NCA(init="identity", batch_size=50, learning_rate=0.05, max_iter=3, random_state=0)
    other = NCA(init="identity", batch_size=50, learning_rate=0.05, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(again.fit(X, y).components_, other.fit(X, y).components_)


def test_benchmark_worker_reports(tmp_path):
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import shallowml.nca
    from benchmarks import bench_nca

    X, y = load_iris(return_X_y=True)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    args = {"impl": "shallowml", "data": str(tmp_path / "data.npz"), "params": {"max_iter": 5},
            "out": str(tmp_path / "L.npy"), "progress": str(tmp_path / "progress.txt")}
    loss_grad = shallowml.nca.nca_loss_grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        report = bench_nca.worker(args)
    assert shallowml.nca.nca_loss_grad is loss_grad  # the counting wrapper is removed again
    assert report["n_iter"] <= 5 and report["fit_time"] > 0 and report["peak_mb"] >= 0
    # L-BFGS evaluates at least once per iteration, plus the start
    assert report["n_evals"] >= report["n_iter"] + 1
    # the progress file logs each iteration, so a killed run still tells how far it got
    assert bench_nca._read_progress(tmp_path / "progress.txt")[0] == report["n_iter"]
    assert bench_nca._read_progress(tmp_path / "missing.txt") == (0, 0.0)
    L = np.load(tmp_path / "L.npy")
    assert L.shape == (4, 4)
    assert 0.0 <= bench_nca.knn_error(L, X, y, X, y) < 0.1
    reports = [dict(report, components=L)]
    row = bench_nca._row("iris", "shallowml", X, y, X, y, reports, rate=1e9)
    # the floor: 4 n^2 k + 4 n d k flops per evaluation at 1 GFLOP/s
    per_eval = (4 * 150**2 * 4 + 4 * 150 * 4 * 4) / 1e9
    assert row["floor_s_per_iter"] == pytest.approx(per_eval * report["n_evals"] / report["n_iter"])
    assert row["x_floor"] == pytest.approx(row["s_per_iter"] / row["floor_s_per_iter"])
    timeout = bench_nca._row("iris", "sklearn", X, y, X, y, [{"timeout": 900, "n_iter_done": 7,
                                                              "seconds_done": 880.0}], rate=1e9)
    table = bench_nca.format_table([row, timeout])
    assert "iris" in table and "did not finish in 900 s (7 iterations done in 880 s)" in table


@pytest.mark.parametrize("init", ["pca", "lda"])
def test_verbose_output_has_scikit_learns_format(init, capsys):
    # the same lines as scikit-learn's NCA, up to the class name and the timings
    from sklearn.neighbors import NeighborhoodComponentsAnalysis

    X, y = load_iris(return_X_y=True)

    def lines(est):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        out = capsys.readouterr().out.replace(type(est).__name__, "EST")
        out = re.sub(r"\d+\.\d+s", "Ts", re.sub(r" +\d+\.\d\d$", " T", out, flags=re.M))
        return out.splitlines()

    ours = lines(NCA(n_components=2, init=init, verbose=1, max_iter=3))
    theirs = lines(NeighborhoodComponentsAnalysis(n_components=2, init=init, verbose=1, max_iter=3))
    text = "Finding principal components" if init == "pca" else "Finding most discriminative components"
    assert ours[0] == theirs[0] == f"{text}... done in  Ts"
    assert ours[1:4] == theirs[1:4]  # the table header
    assert ours[-1] == theirs[-1]  # "Training took ..."


def _stochastic_problem():
    X, y = make_classification(
        n_samples=600, n_features=10, n_informative=4, n_redundant=0, n_classes=3,
        n_clusters_per_class=1, class_sep=1.0, random_state=0,
    )
    return StandardScaler().fit_transform(X), y


def test_stochastic_mode_draws_fresh_candidates_each_step(monkeypatch):
    import shallowml.nca

    X, y = _stochastic_problem()
    calls = []
    loss_grad = shallowml.nca.nca_loss_grad

    def recording(x, X_, y_, **kw):
        calls.append({key: (None if v is None else np.array(v)) for key, v in kw.items()
                      if key in ("anchors", "candidates")})
        return loss_grad(x, X_, y_, **kw)

    monkeypatch.setattr(shallowml.nca, "nca_loss_grad", recording)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NCA(batch_size=64, n_candidates=100, max_iter=2, random_state=0).fit(X, y)
    assert len(calls) == 2 * 10  # 600 anchors per epoch, in batches of 64
    seen = np.concatenate([c["anchors"] for c in calls[:10]])
    np.testing.assert_array_equal(np.sort(seen), np.arange(600))  # every sample once per epoch
    for c in calls:
        assert c["candidates"].shape == (100,)
        assert np.unique(c["candidates"]).size == 100 and c["candidates"].max() < 600
    # drawn afresh at every step, not a fixed subset
    assert not np.array_equal(np.sort(calls[0]["candidates"]), np.sort(calls[1]["candidates"]))
    assert np.unique(np.concatenate([c["candidates"] for c in calls])).size > 500
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NCA(batch_size=64, n_candidates=600, max_iter=1, random_state=0).fit(X, y)
    # as many candidates as samples: the exact softmax over all of them
    assert calls and all(c.get("candidates") is None for c in calls)
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NCA(batch_size=64, max_iter=1, random_state=0).fit(X, y)
    # default: min(n_samples, 1024) candidates, here all 600
    assert calls and all(c.get("candidates") is None for c in calls)


def test_n_candidates_without_batch_size_warns():
    X, y = load_iris(return_X_y=True)
    with pytest.warns(UserWarning, match=re.escape("NCA: n_candidates=50 has no effect without batch_size")):
        NCA(n_candidates=50, max_iter=3).fit(X, y)
    with pytest.raises(ValueError, match="n_candidates"):
        NCA(batch_size=10, n_candidates=0).fit(X, y)


def test_stochastic_mode_with_candidates_learns():
    # batches of 64 anchors against 100 sampled candidates (of 600) per step: the sampled
    # objective is biased (a softmax over a subset), but it must still find a metric close
    # to full-batch NCA's, measured on the exact objective and by 3-NN on held-out data
    X, y = _stochastic_problem()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    n = len(X_train)

    def mean_p(L):
        return -nca_loss_grad(L.ravel(), X_train, y_train)[0] / n

    def knn(L):
        clf = KNeighborsClassifier(n_neighbors=3).fit(X_train @ L.T, y_train)
        return np.mean(clf.predict(X_test @ L.T) != y_test)

    full = NCA(init="identity", max_iter=100).fit(X_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sgd = NCA(init="identity", batch_size=32, n_candidates=60, learning_rate=0.05, max_iter=20,
                  random_state=0).fit(X_train, y_train)
    start = mean_p(np.eye(10))
    assert mean_p(sgd.components_) - start >= 0.7 * (mean_p(full.components_) - start)
    assert knn(sgd.components_) <= knn(full.components_) + 0.02
    assert knn(sgd.components_) < knn(np.eye(10)) - 0.02
