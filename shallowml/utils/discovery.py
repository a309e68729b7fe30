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
    """'pairs' for estimators fitted on pairs, 'classes' for labelled samples,
    'unsupervised' for estimators that ignore ``y``."""
    return getattr(estimator_class, "_input_kind", None) or (
        "unsupervised" if estimator_class.__name__ == "Covariance" else "classes"
    )
