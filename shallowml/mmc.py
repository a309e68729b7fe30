"""Mahalanobis Metric for Clustering (MMC).

Xing, Ng, Jordan & Russell, "Distance metric learning, with application to
clustering with side-information", NIPS 2002. MMC spreads dissimilar pairs
apart while keeping similar pairs together: it maximises the sum of the
distances of dissimilar pairs subject to a bound on the sum of the squared
distances of similar pairs, over PSD matrices ``M`` (a convex problem), or
over diagonal ones. The objectives are in :mod:`shallowml._losses.mmc`, the
solvers (with a certified optimality gap) in :mod:`shallowml._solvers.mmc`.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._solvers.mmc import mmc_diagonal, mmc_full
from ._solvers.progress import user_callback
from .base import MahalanobisMixin
from .constraints import supervised_pairs
from .itml import _resolve_prior
from .pairs import PairsClassifierMixin
from .supervision import ClassesMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.threads import single_threaded_blas
from .utils.validation import (
    PREPROCESSOR_CONSTRAINT,
    check_pair_labels,
    check_tuple_indices,
    data_spread,
    tuple_differences,
    warn_unused_parameters,
)

__all__ = ["MMC", "MMC_Supervised"]

_COMMON_CONSTRAINTS = {
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "init": [StrOptions({"identity", "covariance", "random"}), "array-like"],
    "diagonal": ["boolean"],
    "diagonal_c": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "callback": [callable, None],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}

_PARAMS_DOC = """max_iter : int, default=1000
        Maximum number of iterations (spectral projected gradient steps for
        the full metric, Newton steps for the diagonal one).
    tol : float, default=1e-6
        Stop when the certified bound on the distance to the optimum is
        below ``tol``: for the full metric, ``h(M*) - h(M)`` with ``h`` the
        log of the sum of dissimilar distances (metric-learn's objective);
        for the diagonal one, ``(g(w) - g(w*)) / diagonal_c``. metric-learn's
        ``tol`` is a threshold on the step size instead (1e-3 for MMC, 1e-6
        for MMC_Supervised).
    init : {'identity', 'covariance', 'random'} or array of shape (n_features, n_features), default='identity'
        Initial metric ``M0``: the starting point, and it fixes the scale of
        the result, as in metric-learn: the bound on the similar pairs is
        ``t = sum_S ||x - x'||_{M0}^2 / 100``. 'covariance' is the
        (pseudo-)inverse covariance of the training points (of the points
        of the pairs for :class:`MMC`); 'random' is
        ``R^T R / n_features`` with ``R`` standard normal, drawn with
        ``random_state``. For ``diagonal=True`` only the diagonal of ``M0``
        is used (as the start; the scale of the diagonal optimum is fixed by
        ``diagonal_c``).
    diagonal : bool, default=False
        Learn a diagonal metric (a weight per feature) by Newton-Raphson.
    diagonal_c : float, default=None
        Weight ``C`` of the dissimilarity term of the diagonal objective;
        None means 1.0 (metric-learn's default). Only used with
        ``diagonal=True`` (a value given otherwise is ignored with a
        ``UserWarning``).
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every iteration,
        with ``components`` the current ``L`` in the units of
        ``components_`` (a copy) and ``n_iter`` counted from 1. Returning
        True stops the fit early and keeps the result so far (no
        ``ConvergenceWarning``).
    verbose : int or bool, default=False
        Print a row per iteration (objective, relative optimality gap, step)
        and the training time."""

_NOTES = """The full problem (Xing et al., eq. 4) is::

        maximise   sum_D ||x - x'||_M   subject to   sum_S ||x - x'||_M^2 <= t,  M PSD,

    the objective of metric-learn 0.7 (which maximises its log). It is
    solved on the spectraplex it reduces to (see
    :mod:`shallowml._solvers.mmc`) by spectral projected gradient, with an
    exact projection in place of metric-learn's alternating projections and
    the Frank-Wolfe duality gap as stopping rule. The optimum is often of
    low rank: MMC spreads the dissimilar pairs along few directions, which
    suits clustering more than nearest-neighbour classification.

    The diagonal problem (eq. 6) minimises ``g(w) = sum_S ||x - x'||_w^2 -
    C log sum_D ||x - x'||_w`` over ``w >= 0`` by projected Newton steps.
    metric-learn 0.7 uses the same gradient and Hessian but evaluates ``g``
    with the sign of its log term flipped in its line search and stopping
    rule, so it stops close to its starting point: its result scores a
    higher (worse) ``g`` than the one found here, though often a better
    k-NN error (``benchmarks/bench_family_pairs.py``).

    Directions in which similar pairs never differ but dissimilar pairs do
    make the problem unbounded (e.g. more features than samples): the
    similar-pair scatter is then floored along them, with a
    ``UserWarning``. Directions in which no pair differs get weight 0.

    BLAS runs single-threaded during the fit (its products are small; see
    :mod:`shallowml.utils.threads`)."""


def _solve(est, pos_diff, neg_diff, points, rng, point_weights=None):
    """Run the full or diagonal solver; set ``components_`` and ``n_iter_``."""
    name = type(est).__name__
    if not est.diagonal:
        warn_unused_parameters(est, {"diagonal_c": "with diagonal=False (only the diagonal objective has it)"})
    init = _resolve_prior(est.init, pos_diff.shape[1], rng)
    callback = user_callback(est.callback, lambda L: L)
    with single_threaded_blas():
        if est.diagonal:
            C = 1.0 if est.diagonal_c is None else est.diagonal_c
            L, result = mmc_diagonal(pos_diff, neg_diff, diagonal_c=C, prior=init, points=points,
                                     max_iter=est.max_iter, tol=est.tol, verbose=est.verbose, name=name,
                                     callback=callback, point_weights=point_weights)
        else:
            L, result = mmc_full(pos_diff, neg_diff, prior=init, points=points, max_iter=est.max_iter,
                                 tol=est.tol, verbose=est.verbose, name=name, callback=callback,
                                 point_weights=point_weights)
    est.components_ = L
    est.n_iter_ = result.n_iter
    est.objective_ = result.fun
    result.warn_if_not_converged(name)


class MMC(PairsClassifierMixin, MahalanobisMixin, BaseEstimator):
    """Mahalanobis Metric for Clustering on labelled pairs.

    Maximises the sum of the learned distances of dissimilar pairs subject
    to a bound on the sum of squared distances of similar pairs (Xing et
    al., NIPS 2002), a convex problem solved to a certified tolerance; or
    the diagonal variant (a weight per feature).

    After fitting, ``threshold_`` is set by
    ``calibrate_threshold(pairs, y, strategy='accuracy')`` on the training
    pairs, so ``predict`` works at once; recalibrate on held-out pairs with
    :meth:`calibrate_threshold` or set it with :meth:`set_threshold`.

    Parameters
    ----------
    {params}
    random_state : int, RandomState instance or None, default=None
        Draws the initial metric when ``init='random'`` (unused otherwise).
    {preprocessor}

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
        ``L`` with ``L.T @ L = M`` (rows of zeros beyond the rank of ``M``).
    threshold_ : float
        Distance threshold of ``predict``.
    n_iter_ : int
        Number of iterations performed.
    objective_ : float
        Full metric: ``log sum_D ||x - x'||_M`` at the result (the
        objective metric-learn maximises, without the ``1e-6`` it adds inside
        the log);
        diagonal: ``g(w)``.
    n_features_in_ : int

    See Also
    --------
    MMC_Supervised : MMC from class labels.

    Notes
    -----
    {notes}

    References
    ----------
    E. P. Xing, A. Y. Ng, M. I. Jordan and S. Russell, "Distance metric
    learning, with application to clustering with side-information",
    NIPS 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import MMC
    >>> # similar pairs differ mostly along y, dissimilar ones along x
    >>> pairs = np.array([[[0.0, 0.0], [0.2, 2.0]], [[0.0, 0.0], [1.0, 0.1]],
    ...                   [[1.0, 1.0], [1.1, 3.0]], [[1.0, 1.0], [2.0, 1.3]]])
    >>> y = np.array([1, -1, 1, -1])
    >>> mmc = MMC().fit(pairs, y)
    >>> mmc.predict(pairs).tolist()
    [1, -1, 1, -1]
    >>> bool(mmc.score(pairs, y) == 1.0)
    True
    >>> # the same pairs as integer indices into an array of their points
    >>> X, inverse = np.unique(pairs.reshape(-1, 2), axis=0, return_inverse=True)
    >>> idx = inverse.reshape(-1, 2)
    >>> idx.tolist()
    [[0, 1], [0, 2], [3, 4], [3, 5]]
    >>> MMC(preprocessor=X).fit(idx, y).predict(idx).tolist()
    [1, -1, 1, -1]
    """

    _parameter_constraints = {**_COMMON_CONSTRAINTS, "preprocessor": PREPROCESSOR_CONSTRAINT}

    def __init__(self, max_iter=1000, *, tol=1e-6, init="identity", diagonal=False, diagonal_c=None,
                 callback=None, verbose=False, random_state=None, preprocessor=None):
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.diagonal = diagonal
        self.diagonal_c = diagonal_c
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state
        self.preprocessor = preprocessor

    def _common_check_instance(self):
        return MMC_Supervised()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, pairs, y):
        """Fit the metric on labelled pairs.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Formed pairs, or integer indices into ``preprocessor``.
        y : array-like of shape (n_pairs,)
            +1 for similar, -1 for dissimilar pairs (both kinds are needed).

        Returns
        -------
        self
        """
        points, indices, counts = check_tuple_indices(pairs, 2, self.preprocessor)
        y = check_pair_labels(y, indices.shape[0])
        self.n_features_in_ = points.shape[1]
        pos_diff = tuple_differences(points, indices[y > 0], 0, 1)
        neg_diff = tuple_differences(points, indices[y < 0], 0, 1)
        if not (np.any(pos_diff) or np.any(neg_diff)):
            raise ValueError("Every pair has two identical points (zero difference); nothing to learn.")
        _solve(self, pos_diff, neg_diff, points, check_random_state(self.random_state), counts)
        self.calibrate_threshold(pairs, y, strategy="accuracy")
        return self


class MMC_Supervised(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """Mahalanobis Metric for Clustering from class labels.

    Samples ``n_constraints`` similar (same class) and ``n_constraints``
    dissimilar pairs with :func:`shallowml.constraints.positive_negative_pairs`
    and fits MMC on them.

    Parameters
    ----------
    {params}
    n_constraints : int, default=None
        Number of similar pairs and of dissimilar pairs. Default
        ``20 * n_classes ** 2`` (metric-learn's), capped at the number of
        distinct pairs available; an explicit value larger than that raises
        ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seed of the pair sampling, and of the initial metric when
        ``init='random'`` (drawn after the pairs).

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
    n_iter_ : int
    objective_ : float
        As in :class:`MMC`.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    Notes
    -----
    {notes}

    References
    ----------
    E. P. Xing, A. Y. Ng, M. I. Jordan and S. Russell, "Distance metric
    learning, with application to clustering with side-information",
    NIPS 2002.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import MMC_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> MMC_Supervised(random_state=0).fit(X, y).components_.shape
    (4, 4)
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "n_constraints": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, max_iter=1000, *, tol=1e-6, n_constraints=None, init="identity", diagonal=False,
                 diagonal_c=None, callback=None, verbose=False, random_state=None):
        self.max_iter = max_iter
        self.tol = tol
        self.n_constraints = n_constraints
        self.init = init
        self.diagonal = diagonal
        self.diagonal_c = diagonal_c
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Sample pairs from the labels ``y`` and fit MMC on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y_codes, _ = self._validate_classes(X, y)
        data_spread(X)
        rng = check_random_state(self.random_state)
        pos, neg = supervised_pairs(y_codes, self.n_constraints, random_state=rng)
        _solve(self, X[pos[:, 0]] - X[pos[:, 1]], X[neg[:, 0]] - X[neg[:, 1]], X, rng)
        return self


for _cls in (MMC, MMC_Supervised):
    _cls.__doc__ = _cls.__doc__.replace("{params}", _PARAMS_DOC).replace("{notes}", _NOTES)
