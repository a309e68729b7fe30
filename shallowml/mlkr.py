"""Metric Learning for Kernel Regression (Weinberger & Tesauro, AISTATS 2007)."""

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._losses.mlkr import mlkr_loss_grad
from ._solvers.lbfgs import minimize_lbfgs
from ._solvers.progress import ProgressTable, user_callback
from .base import MahalanobisMixin
from .supervision import RegressionMixin
from .utils._compat import Interval, StrOptions, _fit_context, validate_data
from .utils.init import initial_components, resolve_n_components
from .utils.scaling import downscale_exponent
from .utils.threads import single_threaded_blas
from .utils.validation import data_spread

# scipy's L-BFGS-B defaults, which metric-learn's MLKR uses with tol=None
_SCIPY_GTOL = 1e-5
_SCIPY_FTOL = 2.220446049250313e-09  # factr=1e7 times the float64 epsilon


def _power_of_two_scale(y):
    """``(y - mean(y)) / 2^e`` and ``e``, with ``2^e`` the power of two just above ``max |y - mean|``.

    Dividing by a power of two is exact; ``e`` is None for constant ``y``.
    """
    yc = y - y.mean()
    if not np.any(yc):
        return yc, None
    e = downscale_exponent(yc, above=0.0)
    return np.ldexp(yc, -e), e


def _times_power_of_two(x, e):
    """``x * 2^e`` (exact), ``inf`` / 0 where it over- or underflows, capped at the largest float."""
    with np.errstate(over="ignore", under="ignore"):
        return float(min(np.ldexp(x, e), np.finfo(np.float64).max))


class MLKR(RegressionMixin, MahalanobisMixin, BaseEstimator):
    """Metric Learning for Kernel Regression.

    Learns a linear map ``L`` that minimises the leave-one-out squared error
    of Gaussian-kernel (Nadaraya-Watson) regression in the embedded space
    ``z = L x`` (Weinberger & Tesauro, 2007)::

        f(L) = sum_i (yhat_i - y_i)^2,    yhat_i = sum_{j != i} p_ij y_j,
        p_ij = exp(-||L x_i - L x_j||^2) / sum_{l != i} exp(-||L x_i - L x_l||^2).

    The kernel width is learned through the scale of ``L``, so MLKR also
    picks how local the regression is. The learned metric suits
    :class:`~sklearn.neighbors.KNeighborsRegressor` or kernel regression on
    ``transform(X)``.

    The objective (a plain sum, in the units of ``y`` squared), the
    initialisation, the defaults and the stopping rule are those of
    metric-learn 0.7's ``MLKR``: L-BFGS from ``init``, with scipy's
    L-BFGS-B tolerances. The loss and gradient are computed by a numba kernel
    in row blocks, so memory is ``O(block_rows * n_samples)`` instead of
    ``O(n_samples^2)``, and the softmax uses a log-sum-exp shift, so
    coincident points or huge distances never produce NaN.

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the embedding; default ``n_features`` (or the number of
        rows of an ``init`` array).
    init : {'auto', 'pca', 'identity', 'random'} or ndarray of shape \
            (n_components, n_features), default='auto'
        Initial ``L``. 'auto' picks 'pca' when ``n_components <
        min(n_features, n_samples)``, else 'identity' (metric-learn's rule for
        regression targets). 'pca' takes the principal axes of ``X``
        (unscaled, as metric-learn), 'identity' the first ``n_components``
        rows of the identity, 'random' a standard normal matrix drawn with
        ``random_state``.
    tol : float, default=None
        Stopping tolerance, in the units of the objective (``y`` squared),
        as in metric-learn (scipy's ``minimize(..., tol=tol)``): L-BFGS stops
        when the largest gradient entry is ``<= tol`` or the decrease of the
        objective in an iteration is ``<= tol * max(|f_old|, |f_new|, 1)``.
        None uses scipy's L-BFGS-B defaults, ``1e-5`` for the gradient and
        ``2.2e-9`` for the relative decrease. Because the tolerances are not
        scale-free, targets in tiny units (``y^2`` summed over the samples
        well below 1) stop after one iteration: standardise ``y`` or lower
        ``tol``.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations.
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every L-BFGS
        iteration, with ``components`` the current ``L`` of shape
        ``(n_components, n_features)`` (a copy) and ``n_iter`` counted from
        1. Returning True stops the fit early and keeps the result so far
        (no ``ConvergenceWarning``).
    verbose : int, default=0
        When > 0, print a table of objective value and time per function
        evaluation, and the training time.
    random_state : int, RandomState instance or None, default=None
        Seeds the 'random' and 'pca' initialisations.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned linear map ``L``.
    n_iter_ : int
        L-BFGS iterations run (metric-learn's ``n_iter_`` counts function
        evaluations instead, usually a few more).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.
    random_state_ : numpy.random.RandomState
        The generator used by the last ``fit``.
    objective_ : float
        Final value of the objective ``f(L)`` (leave-one-out squared error
        summed over the training samples, in the units of ``y`` squared;
        ``inf`` if that overflows for targets near 1e154 or larger).

    Notes
    -----
    Internally the targets are centred (the objective does not change) and
    divided by a power of two near their spread, and the objective handed to
    L-BFGS is divided by a further power of two when its gradient at the start
    is large (data of huge scale). Both rescalings are exact and change the
    L-BFGS iterates by round-off only; targets and data of any magnitude give
    finite values, and the tolerances are converted so that the stopping rule
    is the one stated for ``tol``. A sample whose embedded distances to all
    others overflow has no finite kernel weight: it predicts the mean target.

    With constant targets the objective is 0 for every ``L``: the fit keeps
    the initial map, with a ``UserWarning``.

    References
    ----------
    .. [1] K. Q. Weinberger, G. Tesauro, "Metric Learning for Kernel
       Regression", AISTATS 2007, PMLR 2:612-619.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from shallowml import MLKR
    >>> X, y = load_diabetes(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), MLKR(max_iter=20, random_state=0),
    ...                      KNeighborsRegressor(n_neighbors=5))
    >>> pipe.fit(X[:300], y[:300]).predict(X[300:302]).shape
    (2,)
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "init": [StrOptions({"auto", "pca", "identity", "random"}), np.ndarray],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "callback": [callable, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        init="auto",
        tol=None,
        max_iter=1000,
        callback=None,
        verbose=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.init = init
        self.tol = tol
        self.max_iter = max_iter
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit MLKR on ``X`` with real targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Real-valued targets.

        Returns
        -------
        self : object
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2)
        name = type(self).__name__
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{name} needs real-valued targets y; got an array of dtype {y.dtype}.")
        y = np.asarray(y, dtype=np.float64)
        data_spread(X)  # the one check of unusable X: identical samples, overflow, subnormal values
        n_features = X.shape[1]
        self.random_state_ = check_random_state(self.random_state)
        L0 = self._initial_components(X)
        y_scaled, y_exponent = _power_of_two_scale(y)
        if y_exponent is None:
            warnings.warn(
                f"{name}: y is constant; the MLKR objective is 0 for every metric, "
                "so components_ is the initial map.",
                UserWarning,
                stacklevel=2,
            )
            self.components_ = L0
            self.n_iter_ = 0
            self.objective_ = 0.0
            return self
        result, exponent = self._fit_lbfgs(X, y_scaled, y_exponent, L0)
        with np.errstate(over="ignore"):
            self.objective_ = float(np.ldexp(result.fun, exponent))
        self.components_ = result.x.reshape(-1, n_features)
        self.n_iter_ = result.n_iter
        result.warn_if_not_converged(name)
        return self

    def _initial_components(self, X):
        n_features = X.shape[1]
        if isinstance(self.init, np.ndarray):
            rows = self.init.shape[0] if self.init.ndim == 2 else -1
            if self.n_components is not None and self.n_components != rows:
                raise ValueError(
                    f"n_components={self.n_components} does not match the {rows} rows of the init array."
                )
            n_components = resolve_n_components(rows if rows > 0 else None, n_features)
        else:
            n_components = resolve_n_components(self.n_components, n_features)
        return initial_components(self.init, X, None, n_components, random_state=self.random_state_)

    def _fit_lbfgs(self, X, y_scaled, y_exponent, L0):
        """L-BFGS on the objective divided by a power of two, with the stopping rule in units of ``y^2``.

        The objective handed to scipy is ``f / 2^E``: the targets are divided
        by ``2^y_exponent`` (so ``f`` by ``2^(2 y_exponent)``), and the loss
        by a further power of two that brings the largest gradient entry at
        the start below 1 when it is larger, so that scipy's inner products
        of gradients cannot overflow (data near 1e100 make gradients near
        1e200). In exact arithmetic L-BFGS-B's iterates do not depend on such
        a factor (in floating point they agree to round-off); its tolerances
        are converted so that the rule is the one documented for ``tol``.

        Returns ``(result, E)``; ``result.fun`` is in units of ``2^E``.
        """
        x0 = np.ravel(L0)
        loss0, grad0 = mlkr_loss_grad(x0, X, y_scaled)
        g_max = float(np.max(np.abs(grad0), initial=0.0))
        # only ever divided: small gradients cannot overflow, and scaling them up could overflow the loss
        loss_exponent = max(math.frexp(g_max)[1], 0) if g_max < np.inf else 0
        exponent = 2 * y_exponent + loss_exponent
        gtol = _SCIPY_GTOL if self.tol is None else float(self.tol)
        ftol = _SCIPY_FTOL if self.tol is None else float(self.tol)
        gtol_scaled = _times_power_of_two(gtol, -exponent)
        floor_scaled = _times_power_of_two(1.0, -exponent)  # scipy's floor in max(|f_old|, |f_new|, 1)
        table = ProgressTable(type(self).__name__, [("Iteration", 10, "d"), ("Objective Value", 20, ".6e")],
                              enabled=self.verbose)
        table.start()
        last = {"x": None, "f": None, "prev": None, "n_iter": 0}

        def fun(x):
            if last["x"] is None and np.array_equal(x, x0):  # scipy starts where we did
                loss, grad = loss0, grad0
            else:
                loss, grad = mlkr_loss_grad(x, X, y_scaled)
            loss, grad = float(np.ldexp(loss, -loss_exponent)), np.ldexp(grad, -loss_exponent)
            last["x"], last["f"] = x.copy(), loss
            if last["prev"] is None:  # the first evaluation is at the starting point
                last["prev"] = loss
            if self.verbose:
                with np.errstate(over="ignore"):
                    table.row(last["n_iter"] + 1, float(np.ldexp(loss, exponent)))
            return loss, grad

        user = user_callback(self.callback, lambda x: x.reshape(L0.shape))

        def callback(x, n_iter):
            last["n_iter"] = n_iter
            if user is not None and user(x, n_iter):
                return True
            # scipy's relative-decrease test, with its floor of 1 in the units of y^2
            # (scipy's own runs with ftol=0: it would put the floor in scaled units)
            if last["x"] is None or not np.array_equal(last["x"], x):
                return False
            f_new, f_old = last["f"], last["prev"]
            last["prev"] = f_new
            if f_old - f_new <= ftol * max(abs(f_old), abs(f_new), floor_scaled):
                raise StopIteration
            return False

        # BLAS at one thread, as LMNN (shallowml.utils.threads): the products here are small,
        # and scipy's L-BFGS-B makes many tiny BLAS calls per iteration, which idle
        # OpenBLAS threads slow down on small problems
        with single_threaded_blas():
            result = minimize_lbfgs(fun, x0, max_iter=self.max_iter, tol=gtol_scaled,
                                    callback=callback, ftol=0.0)
        table.finish()
        return result, exponent
