"""The one place where shallowml imports private scikit-learn names.

Keeping them together means a scikit-learn upgrade breaks one module, not every
estimator. Everything re-exported here is used as if it were public.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import validate_data

__all__ = ["Hidden", "Interval", "StrOptions", "_fit_context", "validate_data"]
