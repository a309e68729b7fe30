"""Triplet and quadruplet learners: prediction and scoring on relative comparisons.

A triplet ``(a, p, n)`` says "``a`` is closer to ``p`` than to ``n``"; a
quadruplet ``(a, b, c, d)`` says "``d(a, b) < d(c, d)``". As in metric-learn,
``decision_function`` is the learned margin of that statement (positive when
it holds), ``predict`` its sign (+1 / -1) and ``score`` the fraction of tuples
it holds for. With a ``preprocessor``, tuples may be given as integer indices
of shape ``(n, k)`` (see :ref:`tuples_as_indices`).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .supervision import _KindMixin
from .base import tuple_distances
from .utils.validation import check_tuple_indices

__all__ = ["QuadrupletsMixin", "TripletsMixin"]


class _TuplesMixin(_KindMixin):
    """Shared prediction for learners on ordered tuples (not public)."""

    _target_required = False
    _tuple_length = 3
    _tuple_name = "triplets"
    # the two pairs compared: (first pair, second pair), the first should be closer
    _compared = ((0, 1), (0, 2))

    def _pair_gap(self, tuples):
        check_is_fitted(self)
        points, indices, _ = check_tuple_indices(
            tuples, self._tuple_length, getattr(self, "preprocessor", None),
            n_features=self.components_.shape[1], name=self._tuple_name,
        )
        (i, j), (k, m) = self._compared
        near = tuple_distances(points, indices, i, j, self.components_)
        far = tuple_distances(points, indices, k, m, self.components_)
        return far - near

    def decision_function(self, tuples):
        """Learned distance of the second pair minus that of the first (positive: ordered)."""
        return self._pair_gap(tuples)

    def predict(self, tuples):
        """+1 where the first pair is closer than the second, else -1."""
        return np.where(self._pair_gap(tuples) > 0, 1, -1)

    def score(self, tuples, y=None):
        """Fraction of the tuples whose first pair is closer (accuracy); ``y`` is ignored."""
        return float(np.mean(self.predict(tuples) == 1))


class TripletsMixin(_TuplesMixin):
    """Learners fitted on triplets ``(anchor, positive, negative)``, shape ``(n, 3, d)``.

    Declares ``input_kind='triplets'`` (see :mod:`shallowml.supervision`).
    """

    _input_kind = "triplets"
    _tuple_length = 3
    _tuple_name = "triplets"
    _compared = ((0, 1), (0, 2))


class QuadrupletsMixin(_TuplesMixin):
    """Learners fitted on quadruplets ``(a, b, c, d)`` meaning ``d(a, b) < d(c, d)``,
    shape ``(n, 4, d)``.

    Declares ``input_kind='quadruplets'`` (see :mod:`shallowml.supervision`).
    """

    _input_kind = "quadruplets"
    _tuple_length = 4
    _tuple_name = "quadruplets"
    _compared = ((0, 1), (2, 3))
