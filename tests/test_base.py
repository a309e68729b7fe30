"""MahalanobisMixin API: matrix, metric callable, pair distances, feature names, cloning."""

import pickle
import re

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from shallowml import LDA, LFDA, RCA, Covariance
from shallowml.base import MahalanobisDistance, MahalanobisMixin
from shallowml.utils.validation import check_class_sizes, check_pair_labels, check_pairs


class FixedMap(MahalanobisMixin, BaseEstimator):
    """Test double: ``components_`` is the given matrix."""

    def __init__(self, components=None):
        self.components = components

    def fit(self, X, y=None):
        from shallowml.utils._compat import validate_data

        X = validate_data(self, X)
        self.components_ = np.asarray(self.components, dtype=np.float64)
        return self


@pytest.fixture
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture
def fitted(iris):
    X, y = iris
    return LFDA(n_components=3).fit(X, y)


# ---------------------------------------------------------- Mahalanobis matrix
@pytest.mark.parametrize("cls", [Covariance, LDA, LFDA, RCA])
def test_mahalanobis_matrix_symmetric_psd(iris, cls):
    X, y = iris
    est = cls().fit(X, y)
    M = est.get_mahalanobis_matrix()
    assert M.shape == (4, 4)
    np.testing.assert_array_equal(M, M.T)
    assert np.linalg.eigvalsh(M).min() >= -1e-12 * np.abs(M).max()
    np.testing.assert_allclose(M, est.components_.T @ est.components_, rtol=1e-12, atol=1e-14)


def test_mahalanobis_matrix_of_fixed_map():
    L = np.array([[1.0, 2.0, 0.0]])
    est = FixedMap(L).fit(np.zeros((2, 3)))
    np.testing.assert_array_equal(est.get_mahalanobis_matrix(), L.T @ L)
    assert est.transform(np.array([[1.0, 1.0, 5.0]])).tolist() == [[3.0]]


# --------------------------------------------------------------------- metric
def test_mahalanobis_matrix_overflow_is_an_error():
    est = Covariance().fit(np.random.RandomState(0).randn(30, 3) * 1e-160)
    assert np.abs(est.components_).max() > 1e155  # L itself is finite
    with pytest.raises(ValueError, match="overflows float64"):
        est.get_mahalanobis_matrix()
    assert np.all(np.isfinite(est.transform(np.ones((2, 3)) * 1e-160)))


def test_get_metric_in_knn_equals_transform(iris, fitted):
    X, y = iris
    knn_metric = KNeighborsClassifier(n_neighbors=5, metric=fitted.get_metric(), algorithm="brute").fit(X, y)
    knn_pipe = make_pipeline(fitted, KNeighborsClassifier(n_neighbors=5)).fit(X, y)
    np.testing.assert_array_equal(knn_metric.predict(X[::7]), knn_pipe.predict(X[::7]))
    d_metric, _ = knn_metric.kneighbors(X[::7])
    d_pipe, _ = knn_pipe[-1].kneighbors(fitted.transform(X[::7]))
    np.testing.assert_allclose(d_metric, d_pipe, rtol=1e-10, atol=1e-12)


def test_get_metric_matches_pair_distance_and_cdist(iris, fitted):
    X, _ = iris
    metric = fitted.get_metric()
    D = cdist(X[:5], X[5:9], metric=metric)
    T = fitted.transform(X)
    np.testing.assert_allclose(D, cdist(T[:5], T[5:9]), rtol=1e-10, atol=1e-12)
    pairs = np.stack([X[:5], X[5:10]], axis=1)
    np.testing.assert_allclose([metric(u, v) for u, v in pairs], fitted.pair_distance(pairs), rtol=1e-12)
    assert metric(X[0], X[0]) == 0.0


def test_get_metric_picklable_and_independent_of_refit(iris, fitted):
    X, y = iris
    metric = fitted.get_metric()
    before = metric(X[0], X[50])
    restored = pickle.loads(pickle.dumps(metric))
    assert restored(X[0], X[50]) == before
    fitted.fit(X[:, ::-1] * 3, y)  # refit on other data
    fitted.components_[:] = 0.0  # and even a mutation of the fitted array
    assert metric(X[0], X[50]) == before
    assert "MahalanobisDistance(n_components=3, n_features=4)" == repr(metric)


def test_metric_errors_on_feature_mismatch():
    d = MahalanobisDistance(np.eye(2))
    with pytest.raises(ValueError, match=re.escape("Expected vectors with 2 features, got 3 and 3.")):
        d([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=re.escape("Expected vectors with 2 features, got 2 and 3.")):
        d([1.0, 2.0], [0.0, 0.0, 0.0])


@pytest.mark.parametrize("u, v", [
    (np.zeros((4, 2)), np.ones((4, 2))),  # 2-D blocks: scipy refuses them too
    (np.zeros((1, 2)), np.ones(2)),
    (np.float64(1.0), np.float64(2.0)),  # scalars
])
def test_metric_refuses_anything_but_two_vectors(u, v):
    d = MahalanobisDistance(np.eye(2))
    with pytest.raises(ValueError, match=re.escape("MahalanobisDistance takes two 1-D vectors")):
        d(u, v)


def test_metric_squared_and_sklearn_mahalanobis(iris, fitted):
    X, y = iris
    metric = fitted.get_metric()
    assert metric(X[0], X[60], squared=True) == pytest.approx(metric(X[0], X[60]) ** 2, rel=1e-12)
    # scikit-learn's compiled Mahalanobis metric with VI = M gives the same distances
    M = fitted.get_mahalanobis_matrix()
    ours = KNeighborsClassifier(5, metric=metric, algorithm="brute").fit(X, y).kneighbors(X[:20])
    theirs = KNeighborsClassifier(5, metric="mahalanobis", metric_params={"VI": M},
                                  algorithm="brute").fit(X, y).kneighbors(X[:20])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(ours[1], theirs[1])


# ---------------------------------------------------------------- pair methods
def test_pair_distance_and_score_shapes(iris, fitted):
    X, _ = iris
    pairs = np.stack([X[:7], X[7:14]], axis=1)
    d = fitted.pair_distance(pairs)
    assert d.shape == (7,) and np.all(d >= 0)
    np.testing.assert_array_equal(fitted.pair_score(pairs), -d)
    T = fitted.transform(X)
    np.testing.assert_allclose(d, np.linalg.norm(T[:7] - T[7:14], axis=1), rtol=1e-12)
    # lists and float32 are accepted
    np.testing.assert_allclose(fitted.pair_distance(pairs.tolist()), d)
    np.testing.assert_allclose(fitted.pair_distance(pairs.astype(np.float32)), d, rtol=1e-5)
    assert fitted.pair_distance(pairs[:1]).shape == (1,)


SHAPE_MSG = "pairs must be a 3-D array of shape (n_pairs, 2, n_features), got shape {}."


@pytest.mark.parametrize(
    "pairs, msg",
    [
        (np.zeros((4, 4)), SHAPE_MSG.format((4, 4))),
        (np.zeros((4, 3, 4)), SHAPE_MSG.format((4, 3, 4))),
        (np.zeros((4, 1, 4)), SHAPE_MSG.format((4, 1, 4))),
        (np.zeros(4), SHAPE_MSG.format((4,))),
        (np.zeros((4, 2, 4, 1)), SHAPE_MSG.format((4, 2, 4, 1))),
        (np.zeros((4, 2, 3)), "pairs have 3 features, but the estimator was fitted with 4 features."),
        (np.zeros((0, 2, 4)), "Found array with 0 sample(s)"),
        (np.full((2, 2, 4), np.nan), "Input pairs contains NaN."),
        (np.full((2, 2, 4), np.inf), "Input pairs contains infinity"),
    ],
)
def test_pair_distance_errors(fitted, pairs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        fitted.pair_distance(pairs)
    with pytest.raises(ValueError, match=re.escape(msg)):
        fitted.pair_score(pairs)


def test_unfitted_raises():
    from sklearn.exceptions import NotFittedError

    est = LDA()
    for method, arg in [("transform", np.zeros((2, 2))), ("pair_distance", np.zeros((1, 2, 2)))]:
        with pytest.raises(NotFittedError):
            getattr(est, method)(arg)
    with pytest.raises(NotFittedError):
        est.get_metric()
    with pytest.raises(NotFittedError):
        est.get_mahalanobis_matrix()


def test_transform_validation(iris, fitted):
    X, _ = iris
    with pytest.raises(ValueError, match=re.escape("X has 3 features, but LFDA is expecting 4 features as input.")):
        fitted.transform(X[:, :3])
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.transform(Xn)
    assert fitted.transform(X.astype(np.float32)).dtype == np.float32
    assert fitted.transform(X).dtype == np.float64
    assert fitted.transform(X.astype(int)).dtype == np.float64


# ------------------------------------------------ feature names, output, clone
def test_get_feature_names_out(iris):
    X, y = iris
    assert LDA().fit(X, y).get_feature_names_out().tolist() == ["lda0", "lda1"]
    assert LFDA(n_components=3).fit(X, y).get_feature_names_out().tolist() == ["lfda0", "lfda1", "lfda2"]
    assert Covariance().fit(X).get_feature_names_out().tolist() == [f"covariance{i}" for i in range(4)]


def test_set_output_pandas(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    est = LDA().set_output(transform="pandas").fit(df, y)
    out = est.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == ["lda0", "lda1"]
    np.testing.assert_allclose(out.to_numpy(), LDA().fit(X, y).transform(X))
    np.testing.assert_array_equal(est.feature_names_in_, ["sl", "sw", "pl", "pw"])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.transform(X)


def test_clone_and_pickle(iris, fitted):
    X, y = iris
    c = clone(fitted)
    assert not hasattr(c, "components_") and c.get_params() == fitted.get_params()
    c.fit(X, y)
    np.testing.assert_array_equal(c.components_, fitted.components_)
    p = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(p.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(p.get_mahalanobis_matrix(), fitted.get_mahalanobis_matrix())


def test_n_features_out_tracks_components(iris):
    X, y = iris
    est = RCA(n_components=2).fit(X, y)
    assert est._n_features_out == 2 == est.transform(X).shape[1]


# ------------------------------------------------------------- shared checks
def test_check_pairs_ok_and_contiguous():
    P = np.asfortranarray(np.arange(24, dtype=float).reshape(3, 2, 4))
    out = check_pairs(P, n_features=4)
    assert out.flags.c_contiguous and out.dtype == np.float64
    np.testing.assert_array_equal(out, P)
    with pytest.raises(ValueError, match=re.escape("pairs have 0 features; at least 1 is required.")):
        check_pairs(np.zeros((3, 2, 0)))


@pytest.mark.parametrize(
    "y, n, msg",
    [
        ([1, -1, 0], 3, "Pair labels must be -1 (dissimilar) or +1 (similar), got [-1, 0, 1]."),
        ([1, -1], 3, "y must be a 1-D array with one label per pair (3), got shape (2,)."),
        ([[1], [-1]], 2, "y must be a 1-D array with one label per pair (2), got shape (2, 1)."),
    ],
)
def test_check_pair_labels_errors(y, n, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_pair_labels(y, n)


def test_check_pair_labels_ok():
    out = check_pair_labels(np.array([1, -1, 1]), 3)
    assert out.dtype == np.float64 and out.tolist() == [1.0, -1.0, 1.0]


def test_check_class_sizes():
    np.testing.assert_array_equal(check_class_sizes(np.array([0, 0, 1]), 3), [2, 1])
    with pytest.raises(ValueError, match=re.escape("X needs samples of at least 2 classes; got 1 class.")):
        check_class_sizes(np.zeros(4, dtype=int), 1, estimator_name="X")
    msg = "X needs at least one class with 2 or more samples; every class has a single sample."
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_class_sizes(np.arange(3), 1, estimator_name="X")
