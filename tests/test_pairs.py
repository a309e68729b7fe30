"""Tests for the pairs-classifier mixin (shallowml/pairs.py)."""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, f1_score, get_scorer, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from shallowml import ITML, LinearSiamese
from shallowml.base import MahalanobisMixin
from shallowml.pairs import PairsClassifierMixin, _cut_statistics


class _Fixed(PairsClassifierMixin, MahalanobisMixin, BaseEstimator):
    """Euclidean pair learner: lets the tests control distances exactly."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, pairs, y):
        self.components_ = self.scale * np.eye(np.shape(pairs)[2])
        self.n_features_in_ = np.shape(pairs)[2]
        return self.calibrate_threshold(pairs, y)


def _pairs_1d(distances):
    """1-D pairs ``([0], [d])`` whose Euclidean distance is exactly ``d``."""
    d = np.asarray(distances, dtype=np.float64)
    return np.stack([np.zeros_like(d), d], axis=1)[:, :, None]


# distances 1..6, labels  +  +  -  +  -  -
D6 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
Y6 = np.array([1, 1, -1, 1, -1, -1])


@pytest.mark.parametrize(
    "strategy, kwargs, expected",
    [
        ("accuracy", {}, 2.5),  # 5/6 at 2.5 and 4.5: first (smallest) wins
        ("f_beta", {}, 4.5),  # F1: 0.8 at 2.5, 6/7 at 4.5
        ("f_beta", {"beta": 2.0}, 4.5),  # F2 = 15/16
        ("f_beta", {"beta": 0.5}, 2.5),  # F0.5 = 10/11
        ("max_tpr", {"min_rate": 2 / 3}, 4.5),  # tnr >= 2/3 allows tpr = 1
        ("max_tpr", {"min_rate": 1.0}, 2.5),  # tnr = 1 caps tpr at 2/3
        ("max_tnr", {"min_rate": 1.0}, 4.5),  # tpr = 1 first reached at 4.5
        ("max_tnr", {"min_rate": 0.5}, 2.5),  # tpr 2/3 with tnr 1
    ],
)
def test_calibrate_threshold_exact(strategy, kwargs, expected):
    est = _Fixed().fit(_pairs_1d(D6), Y6)
    est.calibrate_threshold(_pairs_1d(D6), Y6, strategy=strategy, **kwargs)
    assert est.threshold_ == pytest.approx(expected)
    pred = est.predict(_pairs_1d(D6))
    np.testing.assert_array_equal(pred, np.where(np.array(D6) <= expected, 1, -1))


def test_calibrate_accuracy_matches_brute_force():
    rng = np.random.RandomState(0)
    d = rng.rand(40)
    y = np.where(rng.rand(40) < 0.5, 1, -1)
    est = _Fixed().fit(_pairs_1d(d), y)
    best = max(accuracy_score(y, np.where(d <= t, 1, -1)) for t in np.r_[-1.0, d])
    assert accuracy_score(y, est.predict(_pairs_1d(d))) == pytest.approx(best)


def test_calibrate_ties_and_extremes():
    # equal distances with opposite labels can only be split together
    est = _Fixed().fit(_pairs_1d([1.0, 1.0, 2.0]), np.array([1, -1, 1]))
    np.testing.assert_array_equal(est.predict(_pairs_1d([1.0, 1.0, 2.0])), [1, 1, 1])
    # all dissimilar: nothing is predicted similar, even at distance 0
    est = _Fixed().fit(_pairs_1d([0.0, 1.0]), np.array([-1, -1]))
    assert est.threshold_ < 0
    np.testing.assert_array_equal(est.predict(_pairs_1d([0.0, 1.0])), [-1, -1])
    # all similar: everything is
    est = _Fixed().fit(_pairs_1d([0.0, 1.0]), np.array([1, 1]))
    np.testing.assert_array_equal(est.predict(_pairs_1d([0.0, 1.0])), [1, 1])


def test_threshold_between_adjacent_floats():
    a = 1.0
    b = np.nextafter(a, 2.0)
    pairs = _pairs_1d([a, b])
    est = _Fixed().fit(pairs, np.array([1, -1]))
    np.testing.assert_array_equal(est.predict(pairs), [1, -1])
    t, tp, tn, n_pos, n_neg = _cut_statistics(np.array([a, b]), np.array([1.0, -1.0]))
    assert np.all(np.diff(t) > 0) and (n_pos, n_neg) == (1, 1)
    # huge distances: midpoints do not overflow
    est = _Fixed().fit(_pairs_1d([1e150, 1.5e150]), np.array([1, -1]))
    assert np.isfinite(est.threshold_)
    np.testing.assert_array_equal(est.predict(_pairs_1d([1e150, 1.5e150])), [1, -1])


def test_decision_function_predict_score():
    est = _Fixed(scale=2.0).fit(_pairs_1d(D6), Y6)
    pairs = _pairs_1d(D6)
    dist = 2.0 * np.array(D6)
    np.testing.assert_allclose(est.decision_function(pairs), est.threshold_ - dist)
    np.testing.assert_array_equal(est.predict(pairs), np.where(dist <= est.threshold_, 1, -1))
    assert est.score(pairs, Y6) == pytest.approx(roc_auc_score(Y6, -dist))
    assert is_classifier(est)
    np.testing.assert_array_equal(est.classes_, [-1, 1])


def test_set_threshold():
    est = _Fixed().fit(_pairs_1d(D6), Y6)
    assert est.set_threshold(3) is est
    assert est.threshold_ == 3.0
    np.testing.assert_array_equal(est.predict(_pairs_1d(D6)), [1, 1, 1, -1, -1, -1])
    with pytest.raises(ValueError, match=re.escape("threshold must be finite, got nan.")):
        est.set_threshold(np.nan)
    with pytest.raises(NotFittedError):
        _Fixed().set_threshold(1.0)
    with pytest.raises(NotFittedError):
        _Fixed().predict(_pairs_1d(D6))


def test_calibrate_errors():
    est = _Fixed().fit(_pairs_1d(D6), Y6)
    with pytest.raises(ValueError, match=re.escape("strategy must be one of")):
        est.calibrate_threshold(_pairs_1d(D6), Y6, strategy="precision")
    with pytest.raises(ValueError, match=re.escape("strategy='max_tpr' needs min_rate in [0, 1], got None.")):
        est.calibrate_threshold(_pairs_1d(D6), Y6, strategy="max_tpr")
    with pytest.raises(ValueError, match=re.escape("strategy='max_tnr' needs min_rate in [0, 1], got 1.5.")):
        est.calibrate_threshold(_pairs_1d(D6), Y6, strategy="max_tnr", min_rate=1.5)
    with pytest.raises(ValueError, match=re.escape("beta must be positive, got 0.")):
        est.calibrate_threshold(_pairs_1d(D6), Y6, strategy="f_beta", beta=0)
    with pytest.raises(ValueError, match=re.escape("Pair labels must be -1 (dissimilar) or +1 (similar), got [0, 1].")):
        est.calibrate_threshold(_pairs_1d(D6), np.array([0, 1, 0, 1, 0, 1]))
    with pytest.raises(ValueError, match=re.escape("y must be a 1-D array with one label per pair (6)")):
        est.calibrate_threshold(_pairs_1d(D6), Y6[:3])
    with pytest.raises(ValueError, match=re.escape("pairs have 2 features, but the estimator was fitted with 1 features.")):
        est.calibrate_threshold(np.zeros((6, 2, 2)), Y6)
    with pytest.raises(ValueError, match=re.escape("pairs must be a 3-D array of shape (n_pairs, 2, n_features)")):
        est.predict(np.zeros((6, 3, 1)))
    bad = _pairs_1d(D6)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.predict(bad)


@pytest.fixture(scope="module")
def iris_pairs(make_iris_pairs):
    return make_iris_pairs(60)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_model_selection_on_pairs(iris_pairs):
    pairs, y = iris_pairs
    itml = ITML(max_iter=30)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    auc = cross_val_score(itml, pairs, y, cv=cv)
    assert auc.shape == (3,) and np.all(auc > 0.8)
    np.testing.assert_allclose(cross_val_score(itml, pairs, y, cv=cv, scoring="roc_auc"), auc)
    for scoring in ("accuracy", "f1"):
        s = cross_val_score(itml, pairs, y, cv=cv, scoring=scoring)
        assert np.all((s > 0.6) & (s <= 1.0)), (scoring, s)
    # scorers agree with the metrics on predict / decision_function
    est = clone(itml).fit(pairs, y)
    assert get_scorer("accuracy")(est, pairs, y) == pytest.approx(accuracy_score(y, est.predict(pairs)))
    assert get_scorer("f1")(est, pairs, y) == pytest.approx(f1_score(y, est.predict(pairs)))
    assert get_scorer("roc_auc")(est, pairs, y) == pytest.approx(est.score(pairs, y))
    # default cross-validation for a classifier is stratified on the pair labels
    assert cross_val_score(itml, pairs, y, cv=3).shape == (3,)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(pairs), est.predict(pairs))


@pytest.mark.parametrize("cls", [ITML, LinearSiamese], ids=lambda c: c.__name__)
def test_pairs_are_data_not_routed_metadata(cls):
    # scikit-learn's metadata routing must not take `pairs` (the X of pair learners) for metadata
    est = cls()
    for method in ("fit", "partial_fit", "predict", "decision_function", "score"):
        assert not hasattr(est, f"set_{method}_request"), method
