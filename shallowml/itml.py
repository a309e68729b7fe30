"""Information-Theoretic Metric Learning (ITML).

Davis, Kulis, Jain, Sra & Dhillon, "Information-theoretic metric learning",
ICML 2007. ITML finds the Mahalanobis matrix ``M`` closest to a prior ``M0``
in LogDet divergence, ``tr(M M0^-1) - log det(M M0^-1) - d``, such that
similar pairs have squared distance ``(x - x')^T M (x - x') <= u`` and
dissimilar pairs ``>= l``, with slack traded off by ``gamma``. It is solved
by cyclic Bregman projections onto one constraint at a time (rank-one updates
of ``M``, ``O(d^2)`` each): :func:`shallowml._solvers.bregman.itml_solve`
over the numba kernel :func:`shallowml._kernels.itml.itml_sweep`.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._solvers.bregman import _itml_solve, itml_solve
from ._solvers.progress import user_callback
from .base import MahalanobisMixin
from .constraints import supervised_pairs
from .pairs import PairsClassifierMixin
from .supervision import ClassesMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.linalg import components_from_metric
from .utils.validation import (
    PREPROCESSOR_CONSTRAINT,
    check_pair_labels,
    check_tuple_indices,
    tuple_differences,
)

__all__ = ["ITML", "ITML_Supervised", "itml_solve"]


def _check_bounds_order(bounds):
    """The estimators' bounds must have ``u < l`` (the solver itself accepts any positive pair)."""
    if bounds is None:
        return
    b = np.asarray(bounds, dtype=np.float64).ravel()
    if b.size == 2 and np.all(np.isfinite(b)) and np.all(b > 0) and not b[0] < b[1]:
        raise ValueError(
            f"bounds={tuple(b.tolist())!r}: u (the largest squared distance of similar "
            "pairs) must be below l (the smallest of dissimilar pairs), e.g. "
            f"bounds={(float(b.min()), float(b.max()))!r}."
        )


def _resolve_prior(prior, n_features, rng):
    """'random' becomes ``R^T R / n_features`` (``R`` standard normal); other priors pass through."""
    if isinstance(prior, str) and prior == "random":
        R = rng.standard_normal((n_features, n_features))
        return R.T @ R / n_features
    return prior


def _components(A, f):
    """``L`` with ``L^T L = A / f``: factor the well-scaled ``A``, then rescale (no overflow).

    ``A`` comes from a prior of order one; when the constraints shrink it to
    almost zero its eigenvalues are round-off around 0, hence an absolute
    tolerance too.
    """
    return components_from_metric(A, atol=1e-12) / np.sqrt(f)


def _callback(est):
    """The solver's form of ``est.callback`` (the solver passes ``(A, f)``)."""
    return user_callback(est.callback, lambda Af: _components(*Af))


def _finish(est, A, f, bounds_used, result):
    est.bounds_ = bounds_used
    est.n_iter_ = result.n_iter
    est.components_ = _components(A, f)
    result.warn_if_not_converged(type(est).__name__)


_COMMON_CONSTRAINTS = {
    "gamma": [Interval(numbers.Real, 0, np.inf, closed="right")],
    "prior": [StrOptions({"identity", "covariance", "random"}), "array-like"],
    "bounds": ["array-like", None],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "callback": [callable, None],
    "verbose": ["verbose"],
}

_SWEEP_NOTE = """Each sweep visits the constraints in their order but skips those whose
    projection would change nothing (zero dual and satisfied, checked for
    all of them at once with one matrix product), so a sweep costs
    ``O(d^2)`` per active constraint; the optimum is the same as with plain
    cyclic sweeps."""

_GAMMA_NOTE = {
    "ITML": """The default ``gamma=1`` is the authors' and metric-learn's. Scored as
    a pair classifier (``python -m benchmarks.itml_defaults --part pairs``:
    19 datasets, 50 or 500 training pairs of each kind, test ROC AUC), it
    was the best of 0.01, 0.1, 1 and 10 (AUC 0.061 and 0.104 above the
    Euclidean distance on average, against 0.038 and 0.088 for 0.1). With
    many pairs it needs many sweeps: at 500 + 500 pairs it reached ``tol``
    within 1000 sweeps in 1 fit of 38 (``ConvergenceWarning``), although
    the AUC had levelled off after a few hundred; ``gamma=0.1`` converged
    in all of them.""",
    "ITML_Supervised": """The default ``gamma=0.01`` differs from the authors' code and from
    metric-learn (1.0). The objective weighs one LogDet divergence of ``M``
    against the slack divergences *summed* over all constraints, so with
    the default of ``20 * n_classes**2`` sampled pairs of each kind,
    ``gamma=1`` lets the constraints dominate. On the 19 datasets of the
    benchmark suite (``python -m benchmarks.itml_defaults --part knn``,
    standardised features, 3-NN test error), ``gamma=1`` was worse than the
    Euclidean metric on 12 and reached ``tol`` within 1000 sweeps in 14 of
    33 fits; ``gamma=0.01`` was better on 12 and worse on 5 (mean error
    0.012 lower) and converged in all 33, in tens of sweeps.""",
}

_GAMMA_DOC = {
    "ITML": """gamma : float, default=1.0
        Slack trade-off: larger values enforce the constraints more strictly
        (``np.inf`` for hard constraints on a feasible problem). See the
        Notes for the default.""",
    "ITML_Supervised": """gamma : float, default=0.01
        Slack trade-off: larger values enforce the constraints more strictly
        (``np.inf`` for hard constraints on a feasible problem). Smaller than
        the default of :class:`ITML` and of the authors' code (1.0): see the
        Notes.""",
}

_PARAMS_DOC = """{gamma_doc}
    prior : {'identity', 'covariance', 'random'} or array of shape (n_features, n_features), default='identity'
        Prior metric ``M0``. 'covariance' is the (pseudo-)inverse covariance
        of the training points: directions without variance, such as
        constant pixels, get zero weight instead of a huge one. 'random' is
        ``R^T R / n_features`` with ``R`` a standard normal square matrix
        drawn with ``random_state`` (symmetric positive definite, as
        metric-learn's 'random' prior).
    bounds : array-like of shape (2,), default=None
        ``(u, l)``: similar pairs are pushed to squared distance ``<= u``,
        dissimilar pairs to ``>= l``. Default: the 5th and 95th percentiles
        of the squared prior distances of the training pairs (pairs with
        zero difference left out).
    max_iter : int, default=1000
        Maximum number of sweeps over the constraints.
    tol : float, default=1e-3
        Stop when the relative change of the dual variables in one sweep,
        ``||lambda_old - lambda||_1 / (||lambda||_2 + ||lambda_old||_2)``, is
        below ``tol`` (the criterion of the authors' code) and no constraint
        skipped by the sweep is violated.
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every sweep, with
        ``components`` the current ``L`` in the units of ``components_`` (a
        copy) and ``n_iter`` counted from 1. Returning True stops the fit
        early and keeps the result so far (no ``ConvergenceWarning``).
    verbose : int or bool, default=False
        Print a row per sweep (relative dual change, projections, visited
        constraints, time) and the training time."""


class ITML(PairsClassifierMixin, MahalanobisMixin, BaseEstimator):
    """Information-Theoretic Metric Learning on labelled pairs.

    Learns the Mahalanobis matrix closest to a prior in LogDet divergence
    under similarity / dissimilarity constraints (Davis et al., ICML 2007),
    by cyclic Bregman projections in a numba kernel. ``M`` stays symmetric
    positive semi-definite throughout.

    After fitting, ``threshold_`` is set by
    ``calibrate_threshold(pairs, y, strategy='accuracy')`` on the training
    pairs, so ``predict`` works at once; recalibrate on held-out pairs with
    :meth:`calibrate_threshold` or set it with :meth:`set_threshold`.

    Parameters
    ----------
    {params}
    random_state : int, RandomState instance or None, default=None
        Draws the prior when ``prior='random'`` (unused otherwise).
    {preprocessor}

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
        ``L`` with ``L.T @ L = M``.
    bounds_ : ndarray of shape (2,)
        The ``(u, l)`` used, on squared distances.
    threshold_ : float
        Distance threshold of ``predict``.
    n_iter_ : int
        Number of sweeps performed.
    n_features_in_ : int

    See Also
    --------
    ITML_Supervised : ITML from class labels.

    Notes
    -----
    {notes}

    References
    ----------
    J. V. Davis, B. Kulis, P. Jain, S. Sra and I. S. Dhillon,
    "Information-theoretic metric learning", ICML 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import ITML
    >>> # similar pairs differ along y by 2, dissimilar ones along x by 1
    >>> pairs = np.array([[[0.0, 0.0], [0.0, 2.0]], [[0.0, 0.0], [1.0, 0.0]],
    ...                   [[1.0, 1.0], [1.0, 3.0]], [[1.0, 1.0], [2.0, 1.0]]])
    >>> y = np.array([1, -1, 1, -1])
    >>> itml = ITML().fit(pairs, y)
    >>> itml.predict(pairs).tolist()
    [1, -1, 1, -1]
    >>> bool(itml.score(pairs, y) == 1.0)
    True
    >>> # the same pairs as integer indices into an array of their points
    >>> X, inverse = np.unique(pairs.reshape(-1, 2), axis=0, return_inverse=True)
    >>> idx = inverse.reshape(-1, 2)
    >>> idx.tolist()
    [[0, 1], [0, 2], [3, 4], [3, 5]]
    >>> ITML(preprocessor=X).fit(idx, y).predict(idx).tolist()
    [1, -1, 1, -1]
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "random_state": ["random_state"],
        "preprocessor": PREPROCESSOR_CONSTRAINT,
    }

    def __init__(self, gamma=1.0, *, prior="identity", bounds=None, max_iter=1000, tol=1e-3,
                 callback=None, verbose=False, random_state=None, preprocessor=None):
        self.gamma = gamma
        self.prior = prior
        self.bounds = bounds
        self.max_iter = max_iter
        self.tol = tol
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state
        self.preprocessor = preprocessor

    def _common_check_instance(self):
        return ITML_Supervised()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, pairs, y):
        """Fit the metric on labelled pairs.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Formed pairs, or integer indices into ``preprocessor``.
        y : array-like of shape (n_pairs,)
            +1 for similar, -1 for dissimilar pairs (either kind may be absent).

        Returns
        -------
        self
        """
        points, indices, counts = check_tuple_indices(pairs, 2, self.preprocessor)
        y = check_pair_labels(y, indices.shape[0])
        self.n_features_in_ = points.shape[1]
        _check_bounds_order(self.bounds)
        prior = _resolve_prior(self.prior, points.shape[1], check_random_state(self.random_state))
        fitted = _itml_solve(
            tuple_differences(points, indices, 0, 1), y, self.gamma, prior, self.bounds, self.max_iter,
            self.tol, points, self.verbose, type(self).__name__, _callback(self), point_weights=counts,
            overwrite_V=True,
        )
        _finish(self, *fitted)
        self.calibrate_threshold(pairs, y, strategy="accuracy")
        return self


class ITML_Supervised(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """Information-Theoretic Metric Learning from class labels.

    Samples ``n_constraints`` similar (same class) and ``n_constraints``
    dissimilar pairs with :func:`shallowml.constraints.positive_negative_pairs`
    and fits ITML on them (similar pairs first, then dissimilar ones).

    Parameters
    ----------
    {params}
    n_constraints : int, default=None
        Number of similar pairs and of dissimilar pairs. Default
        ``20 * n_classes ** 2``, capped at the number of distinct pairs
        available; an explicit value larger than that raises ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seed of the pair sampling, and of the prior when ``prior='random'``.

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
    bounds_ : ndarray of shape (2,)
    n_iter_ : int
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    Notes
    -----
    {notes}

    References
    ----------
    J. V. Davis, B. Kulis, P. Jain, S. Sra and I. S. Dhillon,
    "Information-theoretic metric learning", ICML 2007.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import ITML_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> ITML_Supervised(random_state=0).fit(X, y).components_.shape
    (4, 4)
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "n_constraints": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, gamma=0.01, *, prior="identity", bounds=None, max_iter=1000, tol=1e-3,
                 n_constraints=None, random_state=None, callback=None, verbose=False):
        self.gamma = gamma
        self.prior = prior
        self.bounds = bounds
        self.max_iter = max_iter
        self.tol = tol
        self.n_constraints = n_constraints
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Sample pairs from the labels ``y`` and fit ITML on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y_codes, _ = self._validate_classes(X, y)
        rng = check_random_state(self.random_state)
        pos, neg = supervised_pairs(y_codes, self.n_constraints, random_state=rng)
        ind = np.concatenate((pos, neg))
        V = X[ind[:, 0]] - X[ind[:, 1]]
        sign = np.concatenate((np.ones(len(pos)), -np.ones(len(neg))))
        _check_bounds_order(self.bounds)
        prior = _resolve_prior(self.prior, X.shape[1], rng)  # drawn after the pairs
        fitted = _itml_solve(V, sign, self.gamma, prior, self.bounds, self.max_iter, self.tol, X,
                             self.verbose, type(self).__name__, _callback(self))
        _finish(self, *fitted)
        return self



for _cls in (ITML, ITML_Supervised):
    _name = _cls.__name__
    _cls.__doc__ = (
        _cls.__doc__.replace("{params}", _PARAMS_DOC.replace("{gamma_doc}", _GAMMA_DOC[_name]))
        .replace("{notes}", _SWEEP_NOTE + "\n\n    " + _GAMMA_NOTE[_name])
    )
