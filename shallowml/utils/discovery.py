"""Find every public shallowml estimator (used by the common tests and the demo)."""

import inspect

from sklearn.base import BaseEstimator


def all_estimators():
    """Return ``[(name, class)]`` for the public estimators in ``shallowml.__all__``.

    Examples
    --------
    >>> from shallowml.utils.discovery import all_estimators
    >>> "LDA" in dict(all_estimators())
    True
    """
    import shallowml

    found = []
    for name in sorted(shallowml.__all__):
        obj = getattr(shallowml, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            found.append((name, obj))
    return found


def input_kind(estimator_class):
    """The supervision ``fit`` takes, from the estimator's tags
    (:func:`shallowml.supervision.input_kind`): 'classes', 'chunks',
    'regression', 'unsupervised', 'pairs', 'triplets' or 'quadruplets'."""
    from ..supervision import input_kind as from_tags

    return from_tags(estimator_class)


def sample_form(estimator_class):
    """An instance fitted on samples ``(X, y)``: a pair learner's supervised counterpart
    (its ``_common_check_instance()``, e.g. ``ITML_Supervised`` for ``ITML``), else a
    default instance of the class itself.

    Examples
    --------
    >>> from shallowml import ITML
    >>> from shallowml.utils.discovery import sample_form
    >>> type(sample_form(ITML)).__name__
    'ITML_Supervised'
    """
    est = estimator_class()
    hook = getattr(est, "_common_check_instance", None)
    return hook() if hook is not None else est
