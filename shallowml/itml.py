"""Information-Theoretic Metric Learning (ITML).

Davis, Kulis, Jain, Sra & Dhillon, "Information-theoretic metric learning",
ICML 2007. ITML finds the Mahalanobis matrix ``M`` closest to a prior ``M0``
in LogDet divergence, ``tr(M M0^-1) - log det(M M0^-1) - d``, such that
similar pairs have squared distance ``(x - x')^T M (x - x') <= u`` and
dissimilar pairs ``>= l``, with slack traded off by ``gamma``. It is solved
by cyclic Bregman projections onto one constraint at a time (rank-one updates
of ``M``, ``O(d^2)`` each), run in the numba kernel
:func:`shallowml._kernels.itml.itml_sweep`.
"""

import numbers

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._kernels.itml import itml_sweep
from ._solvers.result import SolverResult
from .base import MahalanobisMixin
from .constraints import count_pairs, positive_negative_pairs
from .pairs import PairsClassifierMixin
from .utils._compat import Interval, StrOptions, _fit_context, validate_data
from .utils.linalg import components_from_metric
from .utils.validation import check_pair_labels, check_pairs, encode_class_labels

__all__ = ["ITML", "ITML_Supervised", "itml_solve"]


def _pow2_scale(V):
    """Power of two close to ``max|V|`` (exact rescaling), or 0 if V is all zero."""
    m = float(np.abs(V).max(initial=0.0))
    if m == 0.0:
        return 0.0
    return float(2.0 ** np.round(np.log2(m)))


def _prior_matrix(prior, points, s, d):
    """Prior ``M0`` for the problem rescaled by ``s``; returns ``(M0', f)``.

    The metric on the original data is ``M = M' / f``.
    """
    if isinstance(prior, str):
        if prior == "identity":
            return np.eye(d), 1.0
        # 'covariance': pseudo-inverse of the covariance of the scaled points;
        # directions without variance (constant features) get zero weight.
        Z = (points - points.mean(axis=0)) / s
        cov = Z.T @ Z / max(Z.shape[0], 1)
        w, U = linalg.eigh(0.5 * (cov + cov.T), check_finite=False)
        if w[-1] <= 0.0:
            raise ValueError("prior='covariance' needs points with non-zero variance.")
        keep = w > 1e-10 * w[-1]
        M0 = (U[:, keep] / w[keep]) @ U[:, keep].T
        return 0.5 * (M0 + M0.T), s * s
    M0 = np.asarray(prior, dtype=np.float64)
    if M0.shape != (d, d):
        raise ValueError(f"prior must be 'identity', 'covariance' or an array of shape ({d}, {d}), got shape {M0.shape}.")
    if not np.all(np.isfinite(M0)):
        raise ValueError("prior contains NaN or infinity.")
    scale = max(np.abs(M0).max(initial=0.0), np.finfo(np.float64).tiny)
    if np.abs(M0 - M0.T).max() > 1e-8 * scale:
        raise ValueError("prior must be a symmetric matrix.")
    M0 = 0.5 * (M0 + M0.T)
    w = linalg.eigvalsh(M0)
    if w[-1] <= 0.0 or w[0] < -1e-8 * w[-1]:
        raise ValueError(f"prior must be positive semi-definite and non-zero (eigenvalues in [{w[0]:.3g}, {w[-1]:.3g}]).")
    return M0, 1.0


def _screen(Vs, sign, xi, lam, A):
    """Constraints the next sweep must visit, in their cyclic order, and how many are new.

    A constraint with a zero dual that is satisfied would not be changed by
    its projection (``alpha = 0``), so the sweep skips it. Whether it is
    satisfied is checked for all such constraints at once with one matrix
    product, which is far cheaper than visiting them one by one; the
    constraints with a positive dual are always visited.
    """
    visit = lam > 0.0
    idle = np.flatnonzero(~visit)
    n_new = 0
    if idle.size:
        W = Vs[idle]
        p = np.einsum("ij,ij->i", W @ A, W)
        new = idle[(p > np.finfo(np.float64).tiny) & (sign[idle] * (p - xi[idle]) > 0.0)]
        visit[new] = True
        n_new = new.size
    return np.flatnonzero(visit).astype(np.int64), n_new


def _itml_solve(V, sign, gamma, prior, bounds, max_iter, tol, points, verbose):
    """ITML in the rescaled problem; the metric is ``A / f``."""
    V = np.asarray(V, dtype=np.float64)
    sign = np.asarray(sign, dtype=np.float64)
    d = V.shape[1]
    s = _pow2_scale(V)
    if s == 0.0:
        raise ValueError("Every pair has two identical points (zero difference); nothing to learn.")
    Vs = np.ascontiguousarray(V / s)
    M0, f = _prior_matrix(prior, points if points is not None else V, s, d)
    if bounds is None:
        sq = np.sum((Vs @ M0) * Vs, axis=1)
        sq = sq[sq > 0]
        if sq.size == 0:
            raise ValueError("Every pair has zero distance under the prior; nothing to learn.")
        b = np.percentile(sq, [5.0, 95.0])
        bounds_used = b * (s * s / f)
    else:
        bounds_used = np.asarray(bounds, dtype=np.float64).ravel()
        if bounds_used.size != 2 or not np.all(np.isfinite(bounds_used)) or np.any(bounds_used <= 0):
            raise ValueError(f"bounds must be two positive finite numbers (u, l), got {bounds!r}.")
        b = bounds_used * (f / (s * s))
        if not np.all(np.isfinite(b)) or np.any(b <= 0):
            raise ValueError("bounds are out of range for the scale of the data.")
    xi = np.where(sign > 0, b[0], b[1]).astype(np.float64)
    lam = np.zeros(V.shape[0])
    A = np.array(M0, dtype=np.float64, order="C", copy=True)
    gamma = float(gamma)
    gamma_proj = 1.0 if np.isinf(gamma) else gamma / (gamma + 1.0)
    inv_gamma = 0.0 if np.isinf(gamma) else 1.0 / gamma
    # Screened sweeps: every sweep visits, in the cyclic order, only the
    # constraints whose projection can change something (see _screen). The
    # solver stops when a sweep changed the duals by less than tol and no
    # skipped constraint is violated, i.e. when a full sweep would stop too.
    order, _ = _screen(Vs, sign, xi, lam, A)
    lam_old = np.empty_like(lam)
    history = []
    converged = False
    conv = np.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        lam_old[:] = lam
        n_updates = itml_sweep(Vs, sign, xi, lam, A, gamma_proj, inv_gamma, order)
        A[:] = 0.5 * (A + A.T)  # remove round-off asymmetry of the rank-one updates
        normsum = np.linalg.norm(lam) + np.linalg.norm(lam_old)
        conv = 0.0 if normsum == 0.0 else float(np.abs(lam_old - lam).sum() / normsum)
        history.append(conv)
        n_visited = order.size
        order, n_new = _screen(Vs, sign, xi, lam, A)
        if verbose:
            print(f"[ITML] sweep {n_iter}: relative dual change {conv:.3e}, {n_updates} projections "
                  f"({n_visited} of {lam.size} constraints visited)")
        if (conv < tol or n_updates == 0) and n_new == 0:
            converged = True
            break
    if not np.all(np.isfinite(A)):
        raise ValueError("ITML diverged (non-finite metric); check the bounds and the data scale.")
    message = "converged" if converged else f"relative dual change {conv:.3g} > tol={tol}"
    return A, f, bounds_used, SolverResult(A, conv, n_iter, converged, message, history)


def itml_solve(V, sign, *, gamma=1.0, prior="identity", bounds=None, max_iter=1000, tol=1e-3,
               points=None, verbose=False):
    """Solve ITML for pair differences ``V`` with labels ``sign``.

    Parameters
    ----------
    V : ndarray of shape (n_constraints, n_features)
        Differences ``x - x'`` of the pairs, processed in this order.
    sign : ndarray of shape (n_constraints,)
        +1 for similar, -1 for dissimilar pairs.
    gamma, prior, bounds, max_iter, tol, verbose
        As in :class:`ITML`.
    points : ndarray of shape (n_points, n_features), default=None
        Points whose covariance defines ``prior='covariance'``.

    Returns
    -------
    M : ndarray of shape (n_features, n_features)
        Learned symmetric PSD matrix.
    bounds : ndarray of shape (2,)
        ``(u, l)`` used, on squared distances.
    result : :class:`~shallowml._solvers.result.SolverResult`
        ``fun`` is the final relative change of the duals and ``history``
        the relative change per sweep.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.itml import itml_solve
    >>> V = np.array([[0.0, 2.0], [1.0, 0.0]])
    >>> M, bounds, res = itml_solve(V, [1, -1], gamma=np.inf, bounds=(1.0, 4.0))
    >>> np.round(np.sum((V @ M) * V, axis=1), 6).tolist()
    [1.0, 4.0]
    """
    A, f, bounds_used, result = _itml_solve(V, sign, gamma, prior, bounds, max_iter, tol, points, verbose)
    return A / f, bounds_used, result


def _finish(est, A, f, bounds_used, result):
    est.bounds_ = bounds_used
    est.n_iter_ = result.n_iter
    # M = A / f: factor the well-scaled A, then rescale L (no overflow of M)
    est.components_ = components_from_metric(A) / np.sqrt(f)
    result.warn_if_not_converged(type(est).__name__)


_COMMON_CONSTRAINTS = {
    "gamma": [Interval(numbers.Real, 0, np.inf, closed="right")],
    "prior": [StrOptions({"identity", "covariance"}), "array-like"],
    "bounds": ["array-like", None],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "verbose": ["boolean"],
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
    prior : {'identity', 'covariance'} or array of shape (n_features, n_features), default='identity'
        Prior metric ``M0``. 'covariance' is the (pseudo-)inverse covariance
        of the training points: directions without variance, such as
        constant pixels, get zero weight instead of a huge one.
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
    verbose : bool, default=False
        Print the convergence measure after every sweep."""


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
    """

    _input_kind = "pairs"
    _parameter_constraints = dict(_COMMON_CONSTRAINTS)

    def __init__(self, gamma=1.0, *, prior="identity", bounds=None, max_iter=1000, tol=1e-3, verbose=False):
        self.gamma = gamma
        self.prior = prior
        self.bounds = bounds
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose

    def _common_check_instance(self):
        return ITML_Supervised()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, pairs, y):
        """Fit the metric on labelled pairs.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features)
        y : array-like of shape (n_pairs,)
            +1 for similar, -1 for dissimilar pairs (either kind may be absent).

        Returns
        -------
        self
        """
        pairs = check_pairs(pairs)
        y = check_pair_labels(y, pairs.shape[0])
        self.n_features_in_ = pairs.shape[2]
        fitted = _itml_solve(
            pairs[:, 0, :] - pairs[:, 1, :], y, self.gamma, self.prior, self.bounds, self.max_iter,
            self.tol, pairs.reshape(-1, pairs.shape[2]), self.verbose,
        )
        _finish(self, *fitted)
        self.calibrate_threshold(pairs, y, strategy="accuracy")
        return self


class ITML_Supervised(MahalanobisMixin, BaseEstimator):
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
        Seed of the pair sampling.

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
                 n_constraints=None, random_state=None, verbose=False):
        self.gamma = gamma
        self.prior = prior
        self.bounds = bounds
        self.max_iter = max_iter
        self.tol = tol
        self.n_constraints = n_constraints
        self.random_state = random_state
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
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        self.classes_, y_codes, _ = encode_class_labels(y, estimator_name=type(self).__name__)
        rng = check_random_state(self.random_state)
        if self.n_constraints is None:
            n = 20 * self.classes_.size ** 2
            avail_pos, avail_neg = count_pairs(y_codes)
            n_pos, n_neg = min(n, avail_pos), min(n, avail_neg)
        else:
            n_pos = n_neg = self.n_constraints
        pos, neg = positive_negative_pairs(y_codes, n_pos, n_neg, random_state=rng)
        ind = np.concatenate((pos, neg))
        V = X[ind[:, 0]] - X[ind[:, 1]]
        sign = np.concatenate((np.ones(len(pos)), -np.ones(len(neg))))
        fitted = _itml_solve(
            V, sign, self.gamma, self.prior, self.bounds, self.max_iter, self.tol, X, self.verbose
        )
        _finish(self, *fitted)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


for _cls in (ITML, ITML_Supervised):
    _name = _cls.__name__
    _cls.__doc__ = (
        _cls.__doc__.replace("{params}", _PARAMS_DOC.replace("{gamma_doc}", _GAMMA_DOC[_name]))
        .replace("{notes}", _SWEEP_NOTE + "\n\n    " + _GAMMA_NOTE[_name])
    )
