"""The kinds of supervision a metric learner takes, declared through tags.

Every shallowml estimator combines one *supervision mixin* with
:class:`~shallowml.base.MahalanobisMixin` and scikit-learn's
``BaseEstimator`` (mixins first)::

    class MyLearner(ClassesMixin, MahalanobisMixin, BaseEstimator): ...

The mixin declares what ``fit`` takes, as the ``input_kind`` field of the
estimator's tags (:class:`MetricLearnerTags`, read with
``sklearn.utils.get_tags``), and sets the matching scikit-learn tags. The
demo, the benchmark suite, the bad-input matrix and the common tests read the
kind from there (:func:`input_kind`), never from class names.

=================  ====================================  =========================
``input_kind``     ``fit`` takes                          mixin
=================  ====================================  =========================
``'classes'``      ``X``, class labels ``y``              :class:`ClassesMixin`
``'chunks'``       ``X``, chunk labels (< 0: no chunk)    :class:`ChunksMixin`
``'regression'``   ``X``, real targets ``y``              :class:`RegressionMixin`
``'unsupervised'`` ``X`` (``y`` ignored)                  :class:`UnsupervisedMixin`
``'pairs'``        ``(n, 2, d)`` tuples, ``y`` in ±1      :class:`~shallowml.pairs.PairsClassifierMixin`
``'triplets'``     ``(n, 3, d)`` tuples                   :class:`~shallowml.tuples.TripletsMixin`
``'quadruplets'``  ``(n, 4, d)`` tuples                   :class:`~shallowml.tuples.QuadrupletsMixin`
=================  ====================================  =========================

Learners on tuples also define ``_common_check_instance()``, returning their
counterpart fitted on ``(X, y)`` (e.g. ``ITML_Supervised`` for ``ITML``):
scikit-learn's common checks, the demo and the suite use it
(:func:`shallowml.utils.discovery.sample_form`). CONTRIBUTING.md lists the
four places a new learner touches.
"""

from dataclasses import dataclass, fields

import numpy as np
from sklearn.utils import Tags, get_tags

from .utils._compat import validate_data
from .utils.validation import encode_class_labels

__all__ = [
    "INPUT_KINDS",
    "ChunksMixin",
    "ClassesMixin",
    "MetricLearnerTags",
    "RegressionMixin",
    "UnsupervisedMixin",
    "input_kind",
]

INPUT_KINDS = ("classes", "chunks", "regression", "unsupervised", "pairs", "triplets", "quadruplets")
# the kinds whose fit input is a 3-D array of tuples, with the tuple length
TUPLE_LENGTHS = {"pairs": 2, "triplets": 3, "quadruplets": 4}


@dataclass
class MetricLearnerTags(Tags):
    """scikit-learn's ``Tags`` plus the supervision a metric learner takes.

    Attributes
    ----------
    input_kind : str
        One of :data:`INPUT_KINDS`.
    """

    input_kind: str = "classes"


def metric_learner_tags(tags, kind):
    """``tags`` (a scikit-learn ``Tags``) as :class:`MetricLearnerTags` of ``kind``."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"input_kind={kind!r} is not one of {INPUT_KINDS}.")
    values = {f.name: getattr(tags, f.name) for f in fields(Tags)}
    return MetricLearnerTags(**values, input_kind=kind)


def _preprocessor_doc(kind):
    """The numpydoc entry of the ``preprocessor`` parameter of a learner on ``kind`` tuples."""
    k = TUPLE_LENGTHS[kind]
    return f"""preprocessor : array-like of shape (n_samples, n_features), callable or None, default=None
        Points that {kind} may be given as indices into: with it set, every
        method taking {kind} also takes integer indices of shape
        ``(n_{kind}, {k})`` (row numbers of this array, or whatever a callable
        maps a 1-D array of indices to the 2-D array of those points; it is
        called once per call, with the distinct indices). Only the indexed
        points are gathered: no ``(n_{kind}, {k}, n_features)`` array is built.
        Formed {kind} of shape ``(n_{kind}, {k}, n_features)`` are still
        accepted and used as given. Stored as given (not copied by ``fit``).
        See :ref:`tuples_as_indices`."""


def input_kind(estimator):
    """The ``input_kind`` of an estimator instance or class.

    Examples
    --------
    >>> from shallowml import ITML, LMNN
    >>> from shallowml.supervision import input_kind
    >>> input_kind(LMNN), input_kind(ITML())
    ('classes', 'pairs')
    """
    est = estimator() if isinstance(estimator, type) else estimator
    return getattr(get_tags(est), "input_kind", "classes")


class _KindMixin:
    _input_kind = "classes"
    _target_required = True

    def __init_subclass__(cls, **kwargs):
        # learners on tuples write "{preprocessor}" in their Parameters section: the one text
        # of that parameter, for their kind of tuple
        super().__init_subclass__(**kwargs)
        if cls.__doc__ and "{preprocessor}" in cls.__doc__:
            cls.__doc__ = cls.__doc__.replace("{preprocessor}", _preprocessor_doc(cls._input_kind))

    def __sklearn_tags__(self):
        tags = metric_learner_tags(super().__sklearn_tags__(), self._input_kind)
        tags.target_tags.required = self._target_required
        return tags


class ClassesMixin(_KindMixin):
    """``fit(X, y)`` with class labels ``y`` (LMNN, NCA, LDA, LFDA, ...)."""

    _input_kind = "classes"

    def _validate_classes(self, X, y, **label_checks):
        """``fit``'s preamble: validated float64 ``X`` and class codes; sets ``classes_``.

        ``label_checks`` go to :func:`shallowml.utils.validation.encode_class_labels`
        (``n_neighbors``, ``allow_trivial``). Returns ``(X, y_codes, class_counts)``.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        self.classes_, y_codes, counts = encode_class_labels(
            y, estimator_name=type(self).__name__, **label_checks
        )
        return X, y_codes, counts


class ChunksMixin(_KindMixin):
    """``fit(X, y)`` with chunk labels: equal labels share a chunk, negative
    labels mean "in no chunk" (RCA; see
    :func:`shallowml.constraints.chunks_from_labels`)."""

    _input_kind = "chunks"


class RegressionMixin(_KindMixin):
    """``fit(X, y)`` with real-valued targets ``y`` (metric learning for
    regression, e.g. in front of ``KNeighborsRegressor``)."""

    _input_kind = "regression"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = True
        return tags


class UnsupervisedMixin(_KindMixin):
    """``fit(X, y=None)``; ``y`` is ignored (Covariance)."""

    _input_kind = "unsupervised"
    _target_required = False
