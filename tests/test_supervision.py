"""The extension contract: supervision kinds declared through tags, tuple learners' scoring."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils import get_tags

from shallowml.base import MahalanobisMixin
from shallowml.supervision import INPUT_KINDS, MetricLearnerTags, input_kind
from shallowml.tuples import QuadrupletsMixin, TripletsMixin
from shallowml.utils.discovery import all_estimators

EXPECTED = {
    "Covariance": "unsupervised", "ITML": "pairs", "ITML_Supervised": "classes", "LDA": "classes",
    "LFDA": "classes", "LMNN": "classes", "LinearSiamese": "pairs", "MLKR": "regression",
    "LinearSiamese_Supervised": "classes", "NCA": "classes", "RCA": "chunks", "RCA_Supervised": "classes",
}


@pytest.mark.parametrize("name, cls", all_estimators(), ids=[n for n, _ in all_estimators()])
def test_every_estimator_declares_its_kind_through_tags(name, cls):
    tags = get_tags(cls())
    assert isinstance(tags, MetricLearnerTags) and tags.input_kind in INPUT_KINDS
    assert tags.input_kind == EXPECTED.get(name, tags.input_kind) == input_kind(cls)
    # y is required exactly by the supervised kinds
    assert tags.target_tags.required == (tags.input_kind not in ("unsupervised", "triplets", "quadruplets"))
    if tags.input_kind == "pairs":
        assert tags.estimator_type == "classifier" and hasattr(cls(), "_common_check_instance")


class _Fixed(MahalanobisMixin, BaseEstimator):
    """A learner with a fixed diagonal map (fit ignores the tuples)."""

    def fit(self, tuples, y=None):
        self.components_ = np.diag([2.0, 0.5])
        self.n_features_in_ = 2
        return self


class _Triplets(TripletsMixin, _Fixed):
    pass


class _Quadruplets(QuadrupletsMixin, _Fixed):
    pass


def _dist(u, v):
    return float(np.hypot(2.0 * (u[0] - v[0]), 0.5 * (u[1] - v[1])))


def test_triplets_and_quadruplets_predict_by_the_learned_distance():
    rng = np.random.RandomState(0)
    T = rng.standard_normal((30, 3, 2))
    Q = rng.standard_normal((30, 4, 2))
    est = _Triplets().fit(T)
    gap = np.array([_dist(a, n) - _dist(a, p) for a, p, n in T])
    np.testing.assert_allclose(est.decision_function(T), gap, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(T), np.where(gap > 0, 1, -1))
    assert est.score(T) == pytest.approx(np.mean(gap > 0))
    assert input_kind(est) == "triplets" and not get_tags(est).target_tags.required
    q = _Quadruplets().fit(Q)
    gap = np.array([_dist(c, d) - _dist(a, b) for a, b, c, d in Q])
    np.testing.assert_allclose(q.decision_function(Q), gap, rtol=1e-12)
    assert q.score(Q) == pytest.approx(np.mean(gap > 0)) and input_kind(q) == "quadruplets"
    with pytest.raises(ValueError, match=r"triplets must be a 3-D array of shape \(n_triplets, 3, n_features\)"):
        est.predict(Q)
    with pytest.raises(ValueError, match="quadruplets have 3 features, but the estimator was fitted with 2"):
        q.predict(np.zeros((2, 4, 3)))
