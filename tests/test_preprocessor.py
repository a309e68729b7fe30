"""Tuples given as integer indices into a ``preprocessor`` (issue 15).

Every learner fitted on tuples (discovered from the tags, see
:mod:`shallowml.supervision`) must give the same metric and predictions from
indices plus a preprocessor as from the gathered tuples, and must never build
the ``(n, k, d)`` tuple array when given indices.
"""

import pickle
import re
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from shallowml import ITML, MMC, LinearSiamese
from shallowml.supervision import TUPLE_LENGTHS, input_kind
from shallowml.utils.discovery import all_estimators
from shallowml.utils.validation import check_tuple_indices

TUPLE_LEARNERS = sorted(
    (name, cls) for name, cls in all_estimators() if input_kind(cls) in TUPLE_LENGTHS
)
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:SDML. the graphical lasso input:UserWarning"),
]
# speed-ups only
FAST = {"SCML": {"max_iter": 500}, "LinearSiamese": {"max_iter": 20}}


def _learner(cls, **params):
    est = cls(**FAST.get(cls.__name__, {}), **params)
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    return est


def _problem(kind, seed=0, n_samples=40, n_tuples=120):
    """Points ``X``, index tuples into them and the labels ``fit`` takes (None for triplets/quadruplets)."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, 3)) * [3.0, 1.0, 0.5]
    label = X[:, 0] > 0
    k = TUPLE_LENGTHS[kind]
    idx = rng.randint(0, n_samples, size=(20 * n_tuples, k))
    if kind == "pairs":
        idx = idx[:n_tuples]
        return X, idx, np.where(label[idx[:, 0]] == label[idx[:, 1]], 1, -1)
    if kind == "triplets":
        keep = (label[idx[:, 0]] == label[idx[:, 1]]) & (label[idx[:, 0]] != label[idx[:, 2]])
    else:
        keep = (label[idx[:, 0]] == label[idx[:, 1]]) & (label[idx[:, 2]] != label[idx[:, 3]])
    return X, idx[keep][:n_tuples], None


def _fit(est, tuples, y):
    return est.fit(tuples, y) if y is not None else est.fit(tuples)


@pytest.fixture(params=[c for _, c in TUPLE_LEARNERS], ids=[n for n, _ in TUPLE_LEARNERS])
def learner_class(request):
    return request.param


def test_every_tuple_learner_has_the_parameter():
    assert len(TUPLE_LEARNERS) >= 6
    for name, cls in TUPLE_LEARNERS:
        assert cls().get_params()["preprocessor"] is None, name
        assert "preprocessor" in cls._parameter_constraints, name
        assert "preprocessor : " in cls.__doc__, name


def test_indices_give_the_metric_and_predictions_of_the_gathered_tuples(learner_class):
    kind = input_kind(learner_class)
    X, idx, y = _problem(kind)
    indexed = _fit(_learner(learner_class, preprocessor=X), idx, y)
    formed = _fit(_learner(learner_class), X[idx], y)
    assert indexed.n_features_in_ == formed.n_features_in_ == X.shape[1]
    # M, not components_: L is unique only up to a rotation where M is rank-deficient (MMC)
    M = formed.get_mahalanobis_matrix()
    assert_allclose(indexed.get_mahalanobis_matrix(), M, rtol=1e-9, atol=1e-12 * np.abs(M).max())
    X2, idx2, y2 = _problem(kind, seed=1)  # unseen tuples into other points
    test = clone(indexed).set_params(preprocessor=X2)
    test.__dict__.update({k: v for k, v in indexed.__dict__.items() if k.endswith("_")})
    assert_array_equal(test.predict(idx2), formed.predict(X2[idx2]))
    assert_allclose(test.decision_function(idx2), formed.decision_function(X2[idx2]), rtol=1e-9, atol=1e-12)
    assert test.score(idx2, y2) == formed.score(X2[idx2], y2)
    if kind == "pairs":
        assert indexed.threshold_ == pytest.approx(formed.threshold_, rel=1e-9)
        assert_allclose(test.pair_distance(idx2), formed.pair_distance(X2[idx2]), rtol=1e-9)
        assert_allclose(test.pair_score(idx2), formed.pair_score(X2[idx2]), rtol=1e-9)
        test.calibrate_threshold(idx2, y2, strategy="f_beta")
        formed.calibrate_threshold(X2[idx2], y2, strategy="f_beta")
        assert test.threshold_ == pytest.approx(formed.threshold_, rel=1e-9)


def test_indices_in_tuple_order_are_exact(learner_class):
    """Each point indexed once, in the order of the tuples: bit-for-bit the formed fit."""
    kind = input_kind(learner_class)
    X, idx, y = _problem(kind)
    T = X[idx]
    points = T.reshape(-1, X.shape[1])
    order = np.arange(points.shape[0]).reshape(idx.shape)
    indexed = _fit(_learner(learner_class, preprocessor=points), order, y)
    formed = _fit(_learner(learner_class), T, y)
    assert_array_equal(indexed.components_, formed.components_)
    assert_array_equal(indexed.decision_function(order), formed.decision_function(T))


def test_formed_tuples_with_a_preprocessor_are_used_as_given(learner_class):
    """As in metric-learn: 3-D tuples bypass the preprocessor (which may even be unrelated)."""
    kind = input_kind(learner_class)
    X, idx, y = _problem(kind)
    unrelated = np.zeros((2, 7))
    with_pre = _fit(_learner(learner_class, preprocessor=unrelated), X[idx], y)
    without = _fit(_learner(learner_class), X[idx], y)
    assert_array_equal(with_pre.components_, without.components_)
    assert_array_equal(with_pre.predict(X[idx]), without.predict(X[idx]))


class _Rows:
    """A picklable callable preprocessor that records the indices it is called with."""

    def __init__(self, X):
        self.X = X
        self.calls = []

    def __call__(self, indices):
        self.calls.append(np.array(indices))
        return self.X[indices]


def test_callable_preprocessor(learner_class):
    kind = input_kind(learner_class)
    X, idx, y = _problem(kind)
    rows = _Rows(X)
    by_callable = _fit(_learner(learner_class, preprocessor=rows), idx, y)
    by_array = _fit(_learner(learner_class, preprocessor=X), idx, y)
    assert_array_equal(by_callable.components_, by_array.components_)
    assert_array_equal(by_callable.predict(idx), by_array.predict(idx))
    # called with the distinct indices, sorted: each point is fetched once per call
    assert_array_equal(rows.calls[0], np.unique(idx))


@pytest.mark.parametrize("cls, params", [
    (ITML, {"prior": "covariance"}),
    (MMC, {"init": "covariance"}),
    (MMC, {"init": "covariance", "diagonal": True}),
])
def test_covariance_prior_counts_repeated_points(cls, params):
    """The covariance of the points of the pairs counts a point as often as it occurs."""
    X, idx, y = _problem("pairs")
    idx[:40] = idx[0]  # one pair repeated: its points weigh much more
    y[:40] = y[0]
    indexed = cls(preprocessor=X, **params).fit(idx, y)
    formed = cls(**params).fit(X[idx], y)
    M = formed.get_mahalanobis_matrix()
    assert_allclose(indexed.get_mahalanobis_matrix(), M, rtol=1e-7, atol=1e-10 * np.abs(M).max())


X0, IDX0, Y0 = _problem("pairs")


@pytest.mark.parametrize("tuples, preprocessor, msg", [
    (IDX0, None, "To give pairs as integer indices into an array of points, set the estimator's "
                 "preprocessor parameter"),
    (np.where(IDX0 == IDX0.max(), 40, IDX0), X0, "pairs contain index 40, out of range for the "
                                                 "preprocessor's 40 points; indices must be in [0, 39]."),
    (np.where(IDX0 == IDX0.max(), -1, IDX0), X0, "pairs contain the negative index -1; indices into "
                                                 "the preprocessor must be in [0, n_samples - 1]"),
    (IDX0.astype(np.float64), X0, "pairs given as a 2-D array are indices into the preprocessor and "
                                  "must be integers, got dtype float64"),
    (IDX0 > 3, X0, "must be integers, got dtype bool"),
    (np.hstack([IDX0, IDX0[:, :1]]), X0, "pairs given as indices must have shape (n_pairs, 2) with "
                                         "n_pairs >= 1, got shape (120, 3)."),
    (IDX0[:0], X0, "got shape (0, 2)."),
    (IDX0, X0[:, 0], "The preprocessor array must be a 2-D array of shape (n_samples, n_features), "
                     "got shape (40,)."),
    (IDX0, np.where(X0 > 2, np.nan, X0), "Input preprocessor contains NaN."),
    (IDX0, lambda i: X0[i][:-1], "preprocessor returned 39 rows for 40 indices; a callable "
                                 "preprocessor must map a 1-D array of n indices to an array of "
                                 "shape (n, n_features)."),
    (IDX0, lambda i: X0[i, 0], "The preprocessor's output for 40 indices must be a 2-D array"),
])
def test_errors_name_the_preprocessor_or_the_indices(tuples, preprocessor, msg):
    assert np.unique(IDX0).size == 40  # the messages above count the distinct indices
    with pytest.raises(ValueError, match=re.escape(msg)):
        ITML(preprocessor=preprocessor).fit(tuples, Y0)


def test_invalid_preprocessor_type():
    with pytest.raises(ValueError, match="The 'preprocessor' parameter of ITML must be"):
        ITML(preprocessor="X").fit(IDX0, Y0)


def test_feature_mismatch_at_predict_names_the_preprocessor(learner_class):
    X, idx, y = _problem(input_kind(learner_class))
    est = _fit(_learner(learner_class, preprocessor=X), idx, y)
    est.set_params(preprocessor=X[:, :2])
    msg = "preprocessor gives points with 2 features, but the estimator was fitted with 3 features."
    with pytest.raises(ValueError, match=re.escape(msg)):
        est.predict(idx)
    with pytest.raises(ValueError, match="index 40, out of range for the preprocessor's 40 points"):
        est.set_params(preprocessor=X).predict(np.full_like(idx, 40))


def test_check_tuple_indices_without_preprocessor_is_a_view():
    T = np.random.RandomState(0).standard_normal((5, 2, 3))
    points, indices, counts = check_tuple_indices(T, 2)
    assert np.shares_memory(points, T) and counts is None
    assert_array_equal(points[indices], T)


def test_clone_and_pickle_keep_the_preprocessor(learner_class):
    X, idx, y = _problem(input_kind(learner_class))
    est = _learner(learner_class, preprocessor=X)
    assert est.get_params()["preprocessor"] is X  # stored untouched
    cloned = clone(est)
    assert_array_equal(cloned.preprocessor, X)
    fitted = _fit(cloned, idx, y)
    restored = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(restored.preprocessor, X)
    assert_array_equal(restored.predict(idx), fitted.predict(idx))
    assert_array_equal(restored.decision_function(idx), fitted.decision_function(idx))


def test_grid_search_over_index_rows():
    X, idx, y = _problem("pairs", n_tuples=90)
    search = GridSearchCV(ITML(preprocessor=X), {"gamma": [0.1, 1.0]}, cv=KFold(3))
    search.fit(idx, y)
    assert search.best_estimator_.preprocessor is not None
    assert search.best_estimator_.predict(idx).shape == (90,)
    # the same search on the gathered pairs gives the same scores
    formed = GridSearchCV(ITML(), {"gamma": [0.1, 1.0]}, cv=KFold(3)).fit(X[idx], y)
    assert_allclose(search.cv_results_["mean_test_score"], formed.cv_results_["mean_test_score"])


def _peak_fit_bytes(est, idx, y):
    tracemalloc.start()
    try:
        est.fit(idx, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("est, bound", [
    # ITML's solver holds the pair differences, (n, d): half of (n, 2, d), plus row blocks
    (ITML(max_iter=1), 0.75),
    (LinearSiamese(max_iter=1, batch_size=256, random_state=0), 0.5),
], ids=["ITML", "LinearSiamese"])
def test_indices_never_build_the_tuple_array(est, bound):
    rng = np.random.RandomState(0)
    n_samples, d, n = 200, 100, 20000
    X = rng.standard_normal((n_samples, d))
    idx = rng.randint(0, n_samples, size=(n, 2))
    y = np.where(rng.rand(n) < 0.5, 1, -1)
    est.set_params(preprocessor=X).fit(idx[:50], y[:50])  # kernels compiled outside the measure
    tuple_bytes = n * 2 * d * 8  # 32 MB
    peak = _peak_fit_bytes(est, idx, y)
    print(f"{type(est).__name__}: tracemalloc peak {peak / 1e6:.1f} MB, n*k*d*8 = {tuple_bytes / 1e6:.1f} MB")
    assert peak < bound * tuple_bytes


def test_memory_benchmark_smoke():
    from benchmarks.preprocessor_memory import run, to_markdown

    result = run(n_pairs=300, n_samples=30, n_features=5)
    assert [r["learner"] for r in result["rows"]] == ["ITML", "LinearSiamese", "MMC", "SDML"]
    assert all(r["indices_peak_bytes"] > 0 for r in result["rows"])
    assert "| ITML |" in to_markdown(result)


def test_siamese_partial_fit_and_koch_proba_take_indices():
    X, idx, y = _problem("pairs")
    indexed = LinearSiamese(loss="koch", random_state=0, preprocessor=X)
    formed = LinearSiamese(loss="koch", random_state=0)
    for part in np.array_split(np.arange(idx.shape[0]), 3):
        indexed.partial_fit(idx[part], y[part])
        formed.partial_fit(X[idx[part]], y[part])
    assert_allclose(indexed.components_, formed.components_, rtol=1e-9, atol=1e-12)
    assert_allclose(indexed.pair_similarity_proba(idx), formed.pair_similarity_proba(X[idx]), rtol=1e-9)


def test_only_the_indexed_rows_are_read():
    """NaN in rows no tuple uses is harmless; a float32 memory map is never converted whole."""
    X, idx, y = _problem("pairs")
    big = np.vstack([X, np.full((5, 3), np.nan)]).astype(np.float32)
    indexed = ITML(preprocessor=big).fit(idx, y)
    assert_allclose(indexed.components_, ITML().fit(big[idx].astype(np.float64), y).components_)
