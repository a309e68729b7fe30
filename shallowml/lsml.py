"""Least Squared-residual Metric Learning (LSML) on relative comparisons.

Liu, Guo, Zhang, Jojic & Wang, "Metric learning from relative comparisons
by minimizing squared residual", ICDM 2012. Each quadruplet ``(a, b, c, d)``
states ``d(a, b) < d(c, d)``; LSML minimises the weighted squared residuals
of the violated comparisons plus the LogDet divergence to a prior metric
(:mod:`shallowml._losses.lsml` states the objective and why it is convex),
with L-BFGS on a square factor of ``M``.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._losses.lsml import (
    lsml_coordinates,
    lsml_loss_grad,
    natural_gradient_norm,
    normalized_weights,
)
from ._solvers.lbfgs import minimize_lbfgs
from ._solvers.progress import ProgressTable, user_callback
from ._solvers.result import STOPPED_BY_CALLBACK, SolverResult
from .base import MahalanobisMixin
from .constraints import supervised_pairs
from .itml import _resolve_prior
from .supervision import ClassesMixin
from .tuples import QuadrupletsMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.threads import single_threaded_blas
from .utils.validation import (
    PREPROCESSOR_CONSTRAINT,
    check_tuple_indices,
    data_spread,
    tuple_differences,
)

__all__ = ["LSML", "LSML_Supervised"]


def _prior_matrix(prior, points, rng):
    """``(matrix, is_inverse)``: the prior ``P``, or for 'covariance' its inverse (the covariance)."""
    d = points.shape[1]
    if isinstance(prior, str):
        if prior == "identity":
            return np.eye(d), False
        if prior == "covariance":
            # as metric-learn: the covariance (n - 1 normalisation) of the distinct points
            unique = np.unique(points, axis=0)
            if unique.shape[0] < 2:
                raise ValueError("prior='covariance' needs at least 2 distinct points.")
            return np.atleast_2d(np.cov(unique, rowvar=False)), True
        return _resolve_prior(prior, d, rng), False
    P = np.asarray(prior, dtype=np.float64)
    if P.shape != (d, d):
        raise ValueError(f"The prior array has shape {P.shape}; expected (n_features, n_features) = ({d}, {d}).")
    if not np.all(np.isfinite(P)):
        raise ValueError("The prior array contains NaN or infinity.")
    if not np.allclose(P, P.T, rtol=1e-10, atol=1e-12 * np.abs(P).max(initial=0.0)):
        raise ValueError("The prior array must be symmetric.")
    return P, False


def _fit_lsml(est, Vab, Vcd, points, weights, rng):
    """Solve LSML on the differences ``Vab``/``Vcd``; set the fitted attributes of ``est``."""
    with single_threaded_blas():  # small products: BLAS threads only add overhead
        return _solve(est, Vab, Vcd, points, weights, rng)


def _solve(est, Vab, Vcd, points, weights, rng):
    name = type(est).__name__
    _, m = data_spread(points)
    w = normalized_weights(weights, Vab.shape[0])
    P, is_inverse = _prior_matrix(est.prior, points, rng)
    Ua, Uc, c, B, offset, _ = lsml_coordinates(Vab, Vcd, w, P, prior_is_inverse=is_inverse, scale=m)
    d = Vab.shape[1]
    last = {}

    def fun(x):
        loss, grad = lsml_loss_grad(x, Ua, Uc, w, c)
        last.update(x=x.copy(), loss=loss, grad=grad)
        return loss, grad

    def state(x):
        if "x" not in last or not np.array_equal(last["x"], x):
            fun(x)
        return last["loss"], natural_gradient_norm(x, last["grad"])

    table = ProgressTable(name, [("Iteration", 10, "d"), ("Objective Value", 20, ".6e"),
                                 ("Gradient Norm", 15, ".3e")], enabled=est.verbose)
    user = user_callback(est.callback, lambda x: x.reshape(d, d) @ B)

    # iteration 1 is the exact line search from the prior to its best multiple (J = I),
    # the next ones are L-BFGS iterations
    def callback(x, n_iter):
        loss, norm = state(x)
        table.row(n_iter + 1, loss + offset, norm)
        if user is not None and user(x, n_iter + 1):
            return True
        if norm <= est.tol:
            raise StopIteration  # LSML's own stopping rule: converged
        return False

    x0 = np.eye(d).ravel()
    table.start()
    loss0, norm0 = state(x0)
    table.row(1, loss0 + offset, norm0)
    stopped = user is not None and user(x0, 1)
    if stopped or norm0 <= est.tol or est.max_iter == 1:
        converged = norm0 <= est.tol and not stopped
        result = SolverResult(x=x0, fun=loss0, n_iter=0, converged=converged, stopped=stopped,
                              message="the best multiple of the prior is optimal" if converged
                              else STOPPED_BY_CALLBACK if stopped else f"reached max_iter={est.max_iter}")
    else:
        # scipy's own tolerances well below LSML's rule, which stops the run first
        result = minimize_lbfgs(fun, x0, max_iter=est.max_iter - 1, tol=1e-3 * est.tol, callback=callback)
    table.finish()
    J = result.x.reshape(d, d)
    est.components_ = J @ B
    est.n_iter_ = int(result.n_iter) + 1
    est.objective_ = float(state(result.x)[0] + offset)
    result.n_iter = est.n_iter_
    result.warn_if_not_converged(name)
    return est


_CONSTRAINTS = {
    "prior": [StrOptions({"identity", "covariance", "random"}), "array-like"],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "callback": [callable, None],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}

_PARAMS_DOC = """prior : {'identity', 'covariance', 'random'} or array of shape (n_features, n_features), default='identity'
        Prior metric ``P`` of the LogDet term, strictly positive definite.
        'covariance' is the inverse of the covariance (``n - 1``
        normalisation) of the distinct points of the quadruplets, as
        metric-learn's; it raises ``ValueError`` when that covariance is
        singular (constant or duplicated features). 'random' is
        ``R^T R / n_features`` with ``R`` a standard normal square matrix
        drawn with ``random_state`` (as :class:`ITML`'s; metric-learn draws
        another random positive definite matrix).
    tol : float, default=1e-3
        Stop when ``||L G L^T||_F <= tol``, with ``G`` the gradient of the
        objective with respect to ``M`` (in data units) and ``M = L^T L``:
        the gradient in the metric's own geometry, dimensionless and 0
        exactly at the optimum. (metric-learn stops at ``||G||_F < tol`` or
        when none of its trial steps decreases the objective.)
    max_iter : int, default=1000
        Maximum number of iterations: the first scales the prior to its best
        multiple (an exact line search), the others are L-BFGS iterations.
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every L-BFGS
        iteration, with ``components`` the current ``L`` (a copy) and
        ``n_iter`` counted from 1. Returning True stops the fit early and
        keeps the result so far (no ``ConvergenceWarning``).
    verbose : int or bool, default=False
        Print a row per iteration (objective in data units, the gradient
        norm of ``tol``, time) and the training time."""

_SOLVER_NOTE = """The objective (metric-learn 0.7's, weights normalised to sum to 1) is

    ``sum_i w_i [d_M(a_i, b_i) - d_M(c_i, d_i)]_+^2 + tr(M P^-1) - log det M``

    with ``d_M`` the (not squared) learned distance. It is convex in ``M``
    with a unique, positive definite minimiser. It is minimised with
    L-BFGS over a square factor ``J`` of ``M`` (``M = c R^T J^T J R`` with
    ``P = R^T R``), starting from the best multiple ``c P`` of the prior (a
    closed form); every stationary point with ``J`` invertible is the
    optimum, and the LogDet term keeps ``J`` invertible. BLAS runs on one
    thread during the fit (its products here are small). metric-learn
    instead takes projected gradient steps from ``P`` whose gradient omits
    the constraint weights, and stops when none of ten trial steps
    decreases the objective, usually well before the optimum (see
    ``benchmarks/bench_tuples.py``)."""


class LSML(QuadrupletsMixin, MahalanobisMixin, BaseEstimator):
    """Least Squared-residual Metric Learning on quadruplets (Liu et al., ICDM 2012).

    Learns a Mahalanobis metric from relative comparisons: each quadruplet
    ``(a, b, c, d)`` says that ``a`` and ``b`` are closer than ``c`` and
    ``d``. Violated comparisons cost their squared distance residual,
    weighted; a LogDet divergence keeps the metric close to a prior.

    ``predict`` returns +1 where ``d(a, b) < d(c, d)`` under the learned
    metric, ``decision_function`` the margin ``d(c, d) - d(a, b)`` and
    ``score`` the fraction of quadruplets in the right order.

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
    n_iter_ : int
        Iterations performed (the scaling of the prior, then L-BFGS).
    objective_ : float
        The objective at ``M`` (data units).
    n_features_in_ : int

    See Also
    --------
    LSML_Supervised : LSML on quadruplets sampled from class labels.

    Notes
    -----
    {notes}

    References
    ----------
    E. Y. Liu, Z. Guo, X. Zhang, V. Jojic and W. Wang, "Metric learning
    from relative comparisons by minimizing squared residual", IEEE ICDM
    2012.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import LSML
    >>> # two groups apart in the first feature; the second is noise
    >>> rng = np.random.RandomState(0)
    >>> group = np.repeat([0, 1], 20)
    >>> X = np.c_[group + 0.1 * rng.randn(40), rng.randn(40)]
    >>> a, b = rng.randint(20, size=(2, 50))  # (a, b) in one group ...
    >>> c, d = rng.randint(20, size=50), 20 + rng.randint(20, size=50)  # ... should be closer than (c, d)
    >>> quadruplets = np.stack([X[a], X[b], X[c], X[d]], axis=1)
    >>> lsml = LSML().fit(quadruplets)
    >>> euclidean = np.mean(np.linalg.norm(X[a] - X[b], axis=1) < np.linalg.norm(X[c] - X[d], axis=1))
    >>> print(f"{lsml.score(quadruplets):.2f} ordered (Euclidean: {euclidean:.2f})")
    0.68 ordered (Euclidean: 0.54)
    >>> # the same quadruplets as integer indices into X
    >>> by_index = LSML(preprocessor=X).fit(np.stack([a, b, c, d], axis=1))
    >>> bool(np.allclose(by_index.get_mahalanobis_matrix(), lsml.get_mahalanobis_matrix()))
    True
    """

    _parameter_constraints = {**_CONSTRAINTS, "preprocessor": PREPROCESSOR_CONSTRAINT}

    def __init__(self, prior="identity", *, tol=1e-3, max_iter=1000, callback=None, verbose=False,
                 random_state=None, preprocessor=None):
        self.prior = prior
        self.tol = tol
        self.max_iter = max_iter
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state
        self.preprocessor = preprocessor

    def _common_check_instance(self):
        return LSML_Supervised()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, quadruplets, y=None, weights=None):
        """Fit the metric on ordered quadruplets.

        Parameters
        ----------
        quadruplets : array-like of shape (n_quadruplets, 4, n_features) or (n_quadruplets, 4)
            Each ``(a, b, c, d)`` states ``d(a, b) < d(c, d)``: formed, or
            integer indices into ``preprocessor``.
        y : None
            Unused: the order inside each quadruplet is the supervision.
            Present for scikit-learn's API; anything but None raises
            ``ValueError`` (metric-learn's second positional argument is
            ``weights``: pass it by name).
        weights : array-like of shape (n_quadruplets,), default=None
            Non-negative weight of each quadruplet, normalised to sum to 1;
            None: uniform.

        Returns
        -------
        self
        """
        if y is not None:
            raise ValueError(
                "LSML is fitted on ordered quadruplets only, y must be None; pass per-quadruplet "
                "weights by name: fit(quadruplets, weights=...)."
            )
        points, indices, _ = check_tuple_indices(quadruplets, 4, self.preprocessor, name="quadruplets")
        self.n_features_in_ = points.shape[1]
        rng = check_random_state(self.random_state)
        Vab = tuple_differences(points, indices, 0, 1)
        Vcd = tuple_differences(points, indices, 2, 3)
        return _fit_lsml(self, Vab, Vcd, points, weights, rng)


class LSML_Supervised(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """LSML on quadruplets sampled from class labels.

    Draws ``n_constraints`` similar pairs (same class) and as many
    dissimilar pairs (different classes) with
    :func:`shallowml.constraints.positive_negative_pairs` and fits
    :class:`LSML` on the quadruplets ``(similar pair i, dissimilar pair
    i)``: the points of a similar pair should be closer than those of a
    dissimilar one (metric-learn's ``LSML_Supervised``).

    Parameters
    ----------
    {params}
    n_constraints : int, default=None
        Number of quadruplets. Default ``20 * n_classes ** 2``, capped at the
        number of distinct similar (and dissimilar) pairs available; an
        explicit value larger than that raises ``ValueError``.
    weights : array-like of shape (n_constraints,), default=None
        Weight of each sampled quadruplet (normalised to sum to 1); None:
        uniform.
    random_state : int, RandomState instance or None, default=None
        Seed of the pair sampling, and of the prior when ``prior='random'``.

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
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
    E. Y. Liu, Z. Guo, X. Zhang, V. Jojic and W. Wang, "Metric learning
    from relative comparisons by minimizing squared residual", IEEE ICDM
    2012.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import LSML_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> LSML_Supervised(random_state=0).fit(X, y).components_.shape
    (4, 4)
    """

    _parameter_constraints = {
        **_CONSTRAINTS,
        "n_constraints": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "weights": ["array-like", None],
    }

    def __init__(self, prior="identity", *, tol=1e-3, max_iter=1000, n_constraints=None, weights=None,
                 callback=None, verbose=False, random_state=None):
        self.prior = prior
        self.tol = tol
        self.max_iter = max_iter
        self.n_constraints = n_constraints
        self.weights = weights
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Sample quadruplets from the labels ``y`` and fit LSML on them.

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
        pos, neg = supervised_pairs(y_codes, self.n_constraints, random_state=rng, equal_counts=True)
        Vab = X[pos[:, 0]] - X[pos[:, 1]]
        Vcd = X[neg[:, 0]] - X[neg[:, 1]]
        points = X[np.unique(np.concatenate((pos.ravel(), neg.ravel())))]
        return _fit_lsml(self, Vab, Vcd, points, self.weights, rng)  # prior drawn after the pairs


for _cls in (LSML, LSML_Supervised):
    _cls.__doc__ = _cls.__doc__.replace("{params}", _PARAMS_DOC).replace("{notes}", _SOLVER_NOTE)
