"""scikit-learn's estimator checks over every public shallowml estimator.

Estimators are discovered from ``shallowml.__all__``, so a new estimator is
checked without editing this file. Pair learners (fitted on arrays of shape
(n_pairs, 2, n_features)) cannot take the 2-D inputs the checks generate; they
are checked through the ``_common_check_instance`` hook, which returns an
equivalent estimator on samples (e.g. ``ITML_Supervised`` for ``ITML``).

The only skips are scikit-learn's own array-API checks, which skip themselves
unless ``SCIPY_ARRAY_API=1`` is set and ``array-api-strict`` is installed:
shallowml computes with numpy/numba only and does not claim array-API support.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from shallowml.utils.discovery import all_estimators, sample_form

# check name -> reason, per estimator class name. Every skip needs a reason.
EXPECTED_FAILED_CHECKS = {}


def _instances():
    """One instance per checked class: a pair learner's supervised counterpart is
    checked once even though it is also public on its own."""
    seen = {}
    for _, cls in all_estimators():
        est = sample_form(cls)
        seen.setdefault(type(est).__name__, est)
    return list(seen.values())


def _expected_failed(est):
    return EXPECTED_FAILED_CHECKS.get(type(est).__name__, {})


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
