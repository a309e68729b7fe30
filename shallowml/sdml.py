"""Sparse Distance Metric Learning (SDML).

Qi, Tang, Zha, Chua & Zhang, "An efficient sparse metric learning in
high-dimensional space via l1-penalized log-determinant regularization",
ICML 2009. SDML keeps the metric close to a prior in LogDet divergence,
shrinks similar and stretches dissimilar pairs, and makes the metric sparse
with an l1 penalty: a graphical lasso problem, solved by scikit-learn's
``graphical_lasso`` (objective in :mod:`shallowml._losses.sdml`, the solver
and its safeguards in :mod:`shallowml._solvers.sdml`).
"""

import math
import numbers

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._solvers.sdml import sdml_solve
from .base import MahalanobisMixin
from .constraints import supervised_pairs
from .itml import _resolve_prior
from .pairs import PairsClassifierMixin
from .supervision import ClassesMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.scaling import power_of_two_scale
from .utils.threads import single_threaded_blas
from .utils.validation import (
    PREPROCESSOR_CONSTRAINT,
    check_pair_labels,
    check_tuple_indices,
    data_spread,
    tuple_differences,
)

__all__ = ["SDML", "SDML_Supervised"]

_COMMON_CONSTRAINTS = {
    "balance_param": [Interval(numbers.Real, 0, None, closed="left")],
    "sparsity_param": [Interval(numbers.Real, 0, None, closed="left")],
    "prior": [StrOptions({"identity", "covariance", "random"}), "array-like"],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="neither")],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}

_PARAMS_DOC = """balance_param : float, default=0.5
        Weight ``beta`` of the pair term ``tr(K M)`` against the prior
        (metric-learn's default). The pair term is a sum over the pairs, not
        a mean: with many pairs it dominates, and above a certain value the
        problem has no solution (see the Notes).
    sparsity_param : float, default=0.01
        Weight ``alpha`` of the l1 penalty on the off-diagonal entries of
        ``M`` (scikit-learn's ``graphical_lasso(alpha=...)``), in the units
        of ``C`` (the data scale squared).
    prior : {'identity', 'covariance', 'random'} or array of shape (n_features, n_features), default='identity'
        Prior metric ``M0`` (only its inverse enters the objective).
        'covariance' makes ``M0^-1`` the sample covariance (``np.cov``) of the
        distinct points of the pairs, as metric-learn; 'random' is ``R^T R /
        n_features`` with ``R`` standard normal drawn with ``random_state``;
        an array must be symmetric positive definite.
    max_iter : int, default=100
        Maximum number of graphical lasso iterations (scikit-learn's default).
    tol : float, default=1e-4
        Graphical lasso tolerance on its dual gap (scikit-learn's default).
    verbose : int or bool, default=False
        Print the graphical lasso's objective and dual gap per iteration."""

_NOTES = """SDML minimises (Qi et al., 2009)::

        tr(M0^-1 M) - log det M + balance_param * sum_pairs y_p (x - x')^T M (x - x')
            + sparsity_param * sum_{i != j} |M_ij|

    (``y_p = +1`` for similar, ``-1`` for dissimilar pairs), the graphical
    lasso problem for ``C = M0^-1 + balance_param * sum_p y_p v_p v_p^T``
    that metric-learn 0.7 passes to scikit-learn's ``graphical_lasso``, as
    here. It has a minimiser only when ``C`` is positive definite. With
    many pairs the dissimilar ones make ``C`` indefinite (e.g. on
    standardised digits or wine with the supervised defaults), and
    metric-learn raises an error. Here ``C`` is then projected onto the
    matrices whose eigenvalues are at least 1% of its eigenvalue range (the
    nearest one in Frobenius norm), with a ``UserWarning`` saying so; a
    positive definite ``C`` that scikit-learn's solver cannot handle gets
    the same treatment. ``psd_floor_`` records what was done. To solve the
    problem as posed, lower ``balance_param`` until ``C`` is positive
    definite. Details: :mod:`shallowml._solvers.sdml`.

    metric-learn 0.7's SDML fails with every scikit-learn release that has
    no ``cov_init`` argument in ``graphical_lasso`` (1.5 and later).

    BLAS runs single-threaded during the fit (its products are small; see
    :mod:`shallowml.utils.threads`)."""


def _prior_inverse(prior, points, e, rng):
    """``(P, a)`` with ``M0^-1 = P * 2**a``, for pair points divided by ``2**e``."""
    d = points.shape[1]
    prior = _resolve_prior(prior, d, rng)
    if isinstance(prior, str):
        if prior == "identity":
            return np.eye(d), 0
        # 'covariance': np.cov of the distinct points (metric-learn's), on the rescaled points
        Z = np.unique(np.ldexp(points, -e), axis=0)
        if Z.shape[0] < 2:
            raise ValueError("prior='covariance' needs at least 2 distinct points.")
        return np.atleast_2d(np.cov(Z, rowvar=False)), 2 * e
    M0 = np.asarray(prior, dtype=np.float64)
    if M0.shape != (d, d):
        raise ValueError(f"prior must be 'identity', 'covariance', 'random' or an array of shape ({d}, {d}), "
                         f"got shape {M0.shape}.")
    if not np.all(np.isfinite(M0)):
        raise ValueError("prior contains NaN or infinity.")
    scale = max(np.abs(M0).max(initial=0.0), np.finfo(np.float64).tiny)
    if np.abs(M0 - M0.T).max() > 1e-8 * scale:
        raise ValueError("prior must be a symmetric matrix.")
    w, V = linalg.eigh(0.5 * (M0 + M0.T), check_finite=False)
    if not w[0] > 1e-12 * max(w[-1], 0.0):
        raise ValueError(f"prior must be positive definite: SDML uses its inverse (eigenvalues in "
                         f"[{w[0]:.3g}, {w[-1]:.3g}]).")
    P = (V / w) @ V.T
    return 0.5 * (P + P.T), 0


def _fit_sdml(est, diff, y, points, rng):
    """Solve SDML for pair differences ``diff`` with labels ``y``; set the fitted attributes."""
    if not np.any(diff):
        raise ValueError("Every pair has two identical points (zero difference); nothing to learn.")
    s = power_of_two_scale(diff)
    e = int(round(math.log2(s)))
    prior_inv, a = _prior_inverse(est.prior, points, e, rng)
    with single_threaded_blas():  # small products: threads only add overhead (utils.threads)
        L, floor, result = sdml_solve(np.ldexp(diff, -e), y, prior_inv, (a, e), float(est.balance_param),
                                      float(est.sparsity_param), max_iter=est.max_iter, tol=est.tol,
                                      verbose=est.verbose, name=type(est).__name__)
    est.components_ = L
    est.psd_floor_ = floor
    est.n_iter_ = result.n_iter
    est.objective_ = result.fun
    result.warn_if_not_converged(type(est).__name__)


class SDML(PairsClassifierMixin, MahalanobisMixin, BaseEstimator):
    """Sparse Distance Metric Learning on labelled pairs.

    Minimises the LogDet divergence to a prior plus a pair term (similar
    pairs shrunk, dissimilar ones stretched) and an l1 penalty on the
    off-diagonal entries of ``M`` (Qi et al., ICML 2009), with
    scikit-learn's graphical lasso; never fails on an indefinite problem
    (see the Notes).

    After fitting, ``threshold_`` is set by
    ``calibrate_threshold(pairs, y, strategy='accuracy')`` on the training
    pairs.

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
    threshold_ : float
        Distance threshold of ``predict``.
    psd_floor_ : float
        0.0 when the problem was solved as posed; otherwise the floor, as a
        fraction of the eigenvalue range of ``C``, to which its eigenvalues
        were raised (``inf``: ``C`` was replaced by a multiple of the
        identity).
    n_iter_ : int
        Graphical lasso iterations.
    objective_ : float
        The objective at ``M`` (of the projected problem when
        ``psd_floor_ > 0``), in the units of the data.
    n_features_in_ : int

    See Also
    --------
    SDML_Supervised : SDML from class labels.

    Notes
    -----
    {notes}

    References
    ----------
    G.-J. Qi, J. Tang, Z.-J. Zha, T.-S. Chua and H.-J. Zhang, "An efficient
    sparse metric learning in high-dimensional space via l1-penalized
    log-determinant regularization", ICML 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import SDML
    >>> # similar pairs differ mostly along y, dissimilar ones along x
    >>> pairs = np.array([[[0.0, 0.0], [0.1, 1.0]], [[0.0, 0.0], [1.2, 0.1]],
    ...                   [[1.0, 1.0], [1.1, 2.0]], [[1.0, 1.0], [2.2, 1.2]]])
    >>> y = np.array([1, -1, 1, -1])
    >>> sdml = SDML(balance_param=0.1).fit(pairs, y)
    >>> sdml.predict(pairs).tolist()
    [1, -1, 1, -1]
    >>> M = sdml.get_mahalanobis_matrix()  # x weighted up, y down
    >>> bool(M[0, 0] > 1.0 > M[1, 1])
    True
    >>> sdml.psd_floor_
    0.0
    >>> # the same pairs as integer indices into an array of their points
    >>> X, inverse = np.unique(pairs.reshape(-1, 2), axis=0, return_inverse=True)
    >>> idx = inverse.reshape(-1, 2)
    >>> by_index = SDML(balance_param=0.1, preprocessor=X).fit(idx, y)
    >>> bool(np.allclose(by_index.pair_distance(idx), sdml.pair_distance(pairs)))
    True
    """

    _parameter_constraints = {**_COMMON_CONSTRAINTS, "preprocessor": PREPROCESSOR_CONSTRAINT}

    def __init__(self, balance_param=0.5, *, sparsity_param=0.01, prior="identity", max_iter=100, tol=1e-4,
                 verbose=False, random_state=None, preprocessor=None):
        self.balance_param = balance_param
        self.sparsity_param = sparsity_param
        self.prior = prior
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.preprocessor = preprocessor

    def _common_check_instance(self):
        return SDML_Supervised()

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
        points, indices, _ = check_tuple_indices(pairs, 2, self.preprocessor)
        y = check_pair_labels(y, indices.shape[0])
        self.n_features_in_ = points.shape[1]
        # the prior uses the distinct points only, so their multiplicity does not matter
        _fit_sdml(self, tuple_differences(points, indices, 0, 1), y, points,
                  check_random_state(self.random_state))
        self.calibrate_threshold(pairs, y, strategy="accuracy")
        return self


class SDML_Supervised(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """Sparse Distance Metric Learning from class labels.

    Samples ``n_constraints`` similar (same class) and ``n_constraints``
    dissimilar pairs with :func:`shallowml.constraints.positive_negative_pairs`
    and fits SDML on them.

    Parameters
    ----------
    {params}
    n_constraints : int, default=None
        Number of similar pairs and of dissimilar pairs. Default
        ``20 * n_classes ** 2`` (metric-learn's), capped at the number of
        distinct pairs available; an explicit value larger than that raises
        ``ValueError``.
    random_state : int, RandomState instance or None, default=None
        Seed of the pair sampling, and of the prior when ``prior='random'``
        (drawn after the pairs).

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
    psd_floor_ : float
        As in :class:`SDML`.
    n_iter_ : int
    objective_ : float
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    Notes
    -----
    {notes}

    References
    ----------
    G.-J. Qi, J. Tang, Z.-J. Zha, T.-S. Chua and H.-J. Zhang, "An efficient
    sparse metric learning in high-dimensional space via l1-penalized
    log-determinant regularization", ICML 2009.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import SDML_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> SDML_Supervised(balance_param=1e-3, random_state=0).fit(X, y).components_.shape
    (4, 4)
    """

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "n_constraints": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(self, balance_param=0.5, *, sparsity_param=0.01, prior="identity", max_iter=100, tol=1e-4,
                 n_constraints=None, verbose=False, random_state=None):
        self.balance_param = balance_param
        self.sparsity_param = sparsity_param
        self.prior = prior
        self.max_iter = max_iter
        self.tol = tol
        self.n_constraints = n_constraints
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Sample pairs from the labels ``y`` and fit SDML on them.

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
        ind = np.concatenate((pos, neg))
        sign = np.concatenate((np.ones(len(pos)), -np.ones(len(neg))))
        _fit_sdml(self, X[ind[:, 0]] - X[ind[:, 1]], sign, X[ind.ravel()], rng)
        return self


for _cls in (SDML, SDML_Supervised):
    _cls.__doc__ = _cls.__doc__.replace("{params}", _PARAMS_DOC).replace("{notes}", _NOTES)
