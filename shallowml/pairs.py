"""Pairs classification on top of a learned metric (for pair learners like ITML).

A pair is *similar* (+1) when its learned distance is at most ``threshold_``.
"""

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.utils import ClassifierTags
from sklearn.utils.metadata_routing import UNUSED
from sklearn.utils.validation import check_is_fitted

from .supervision import _KindMixin
from .utils.validation import check_pair_labels

_STRATEGIES = ("accuracy", "f_beta", "max_tpr", "max_tnr")


def _cut_statistics(distances, y):
    """Confusion counts for every threshold between distinct sorted distances.

    Returns thresholds ``t`` (predict +1 where distance <= t) and the matching
    true-positive and true-negative counts, from "nothing similar" to "all".
    """
    order = np.argsort(distances, kind="stable")
    d = distances[order]
    pos = (y[order] > 0).astype(np.int64)
    tp = np.concatenate(([0], np.cumsum(pos)))
    fp = np.concatenate(([0], np.cumsum(1 - pos)))
    # only cut where the next distance is strictly larger (ties stay together)
    cuts = np.concatenate(([0], np.flatnonzero(np.diff(d) > 0) + 1, [d.size]))
    mids = np.empty(cuts.size)
    mids[0] = d[0] - max(abs(d[0]), 1.0) * 1e-9 - np.finfo(np.float64).tiny
    inner = cuts[1:-1]
    lo, hi = d[inner - 1], d[inner]
    mid = lo + 0.5 * (hi - lo)  # no overflow for huge distances
    # for adjacent floats the midpoint rounds to one end; it must stay below hi
    mids[1:-1] = np.where(mid < hi, mid, lo)
    mids[-1] = d[-1]
    n_neg = fp[-1]
    return mids, tp[cuts], n_neg - fp[cuts], tp[-1], n_neg


class PairsClassifierMixin(_KindMixin):
    """Mixin turning a metric learner fitted on pairs into a pairs classifier.

    Declares ``input_kind='pairs'`` (see :mod:`shallowml.supervision`).

    Requires ``pair_distance`` (from :class:`~shallowml.base.MahalanobisMixin`).
    ``predict`` returns +1 (similar) when the distance is at most
    ``threshold_`` and -1 otherwise; ``decision_function`` is
    ``threshold_ - distance`` so that positive values mean "similar";
    ``score`` is the ROC AUC.

    With the learner's ``preprocessor`` set, every method taking pairs also
    takes integer indices of shape ``(n_pairs, 2)`` into it (see
    :ref:`tuples_as_indices`).
    """

    classes_ = np.array([-1, 1])
    _input_kind = "pairs"

    def decision_function(self, pairs):
        """``threshold_ - distance`` for each pair (positive means similar)."""
        check_is_fitted(self, "threshold_")
        return self.threshold_ - self.pair_distance(pairs)

    def predict(self, pairs):
        """Predict +1 (similar) or -1 (dissimilar) for each pair."""
        return np.where(self.decision_function(pairs) >= 0, 1, -1)

    def score(self, pairs, y):
        """ROC AUC of the learned distance for the pair labels ``y``."""
        y = check_pair_labels(y, np.shape(pairs)[0] if np.ndim(pairs) else 0)
        return roc_auc_score(y, self.decision_function(pairs))

    def set_threshold(self, threshold):
        """Set the distance threshold below which pairs are similar.

        Parameters
        ----------
        threshold : float
            Finite threshold on the learned distance.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        threshold = float(threshold)
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {threshold}.")
        self.threshold_ = threshold
        return self

    def calibrate_threshold(self, pairs, y, *, strategy="accuracy", min_rate=None, beta=1.0):
        """Choose ``threshold_`` on labelled pairs.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Formed pairs, or indices into ``preprocessor`` when it is set.
        y : array-like of shape (n_pairs,), values in {-1, +1}
        strategy : {'accuracy', 'f_beta', 'max_tpr', 'max_tnr'}, default='accuracy'
            'accuracy' maximises accuracy; 'f_beta' maximises the F-beta score
            of the similar class; 'max_tpr' maximises the true-positive rate
            subject to a true-negative rate of at least ``min_rate``;
            'max_tnr' maximises the true-negative rate subject to a
            true-positive rate of at least ``min_rate``.
        min_rate : float in [0, 1], default=None
            Required for 'max_tpr' and 'max_tnr'.
        beta : float, default=1.0
            Weight of recall in 'f_beta'.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}.")
        if strategy in ("max_tpr", "max_tnr"):
            if min_rate is None or not 0.0 <= float(min_rate) <= 1.0:
                raise ValueError(f"strategy={strategy!r} needs min_rate in [0, 1], got {min_rate!r}.")
        if strategy == "f_beta" and not beta > 0:
            raise ValueError(f"beta must be positive, got {beta!r}.")
        distances = self.pair_distance(pairs)
        y = check_pair_labels(y, distances.shape[0])
        if not np.all(np.isfinite(distances)):
            raise ValueError("Learned distances of some pairs overflow; rescale the data.")
        t, tp, tn, n_pos, n_neg = _cut_statistics(distances, y)
        if strategy == "accuracy":
            value = (tp + tn) / (n_pos + n_neg)
        elif strategy == "f_beta":
            fp, fn = n_neg - tn, n_pos - tp
            b2 = beta**2
            denom = (1 + b2) * tp + b2 * fn + fp
            value = np.where(denom > 0, (1 + b2) * tp / np.maximum(denom, 1), 0.0)
        else:
            tpr = tp / max(n_pos, 1)
            tnr = tn / max(n_neg, 1)
            goal, constraint = (tpr, tnr) if strategy == "max_tpr" else (tnr, tpr)
            feasible = constraint >= float(min_rate) - 1e-12
            if not feasible.any():
                raise ValueError(f"No threshold reaches the required rate min_rate={min_rate}.")
            value = np.where(feasible, goal + 1e-9 * constraint, -np.inf)
        self.threshold_ = float(t[int(np.argmax(value))])
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags


# ``pairs`` is the data (scikit-learn's X), not metadata to route: without these,
# scikit-learn would offer set_fit_request(pairs=...) and friends. Set after the
# class body, where the names would be mangled (and confuse the API docs).
for _method in ("fit", "partial_fit", "predict", "decision_function", "score"):
    setattr(PairsClassifierMixin, f"__metadata_request__{_method}", {"pairs": UNUSED})
del _method
