"""Sparse Compositional Metric Learning (SCML) on triplets.

Shi, Bellet & Sha, "Sparse compositional metric learning", AAAI 2014. The
metric is a sparse non-negative combination of rank-one bases
``M = sum_k w_k b_k b_k^T``; the weights minimise a hinge on triplets plus an
l1 penalty (:mod:`shallowml._losses.scml`), a convex problem in ``w``, with
the stochastic solver of the paper (AdaGrad regularised dual averaging,
:mod:`shallowml._solvers.rda`) in a numba kernel. The bases come from the
triplets or, with labels, from local Fisher discriminant analyses
(:mod:`shallowml._bases`).
"""

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._bases import lda_basis, lda_n_basis, triplet_diffs_basis
from ._losses.scml import components_from_weights, hinge_terms
from ._solvers.progress import user_callback
from ._solvers.rda import DELTA, minimize_scml_rda
from .base import MahalanobisMixin
from .constraints import knn_triplets
from .supervision import ClassesMixin
from .tuples import TripletsMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.threads import single_threaded_blas
from .utils.validation import (
    PREPROCESSOR_CONSTRAINT,
    check_tuple_indices,
    data_spread,
    tuple_differences,
)

__all__ = ["SCML", "SCML_Supervised"]


def _unique_rows(P):
    """``(unique, inverse)`` with ``P == unique[inverse]``: equal rows merged.

    Rows are hashed exactly (each float64 bit pattern, salted per column,
    mixed by splitmix64's finaliser; the sum with wrap-around), sorted by
    hash, and rows with equal hashes compared with their neighbour: much
    faster than
    ``np.unique(axis=0)`` on many rows. Rows differing only in the sign of a
    zero, or equal rows separated by a hash collision (probability about
    ``n^2 / 2^64``), stay apart: a duplicate point, harmless.
    """
    P = np.ascontiguousarray(P, dtype=np.float64)
    if P.shape[0] == 0:
        return P, np.zeros(0, dtype=np.int64)
    salt = np.random.RandomState(0).randint(0, 2**63, size=P.shape[1], dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = P.view(np.uint64) ^ salt  # a different hash per column
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's finaliser
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        key = (z ^ (z >> np.uint64(31))).sum(axis=1)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    new = np.ones(P.shape[0], dtype=bool)
    new[1:] = ks[1:] != ks[:-1]
    tied = np.flatnonzero(~new[1:])  # equal hashes: compare the rows themselves
    new[tied + 1] = np.any(P[order[tied + 1]] != P[order[tied]], axis=1)
    ids = np.cumsum(new) - 1
    inverse = np.empty(P.shape[0], dtype=np.int64)
    inverse[order] = ids
    return np.ascontiguousarray(P[order[new]]), inverse


def _check_scale(points, est, n_basis, n_triplets):
    """Data spread, refusing data whose weighted squared distances could overflow.

    The hinge has a unit margin on squared distances in the units of X, and
    the solver's weights are bounded by about ``max_iter / gamma``: the
    slack sums stay finite while ``4 m^2 * n_basis * max_iter / gamma *
    n_triplets`` does, ``m`` the spread of X.
    """
    _, m = data_spread(points)
    bound_w = est.max_iter * (1.0 + est.beta / DELTA) / est.gamma
    log_max = (math.log10(4.0) + 2.0 * math.log10(m) + math.log10(max(n_basis, 1))
               + math.log10(bound_w) + math.log10(max(n_triplets, 1)))
    if log_max > 300.0:
        raise ValueError(
            f"X is too large for {type(est).__name__}: its hinge has a unit margin on squared "
            f"distances in the units of X, and with values spread over {m:.3g} the weighted "
            "distances can overflow float64. Rescale X, e.g. with StandardScaler."
        )
    return m


def _check_basis_array(basis, n_features, n_basis):
    B = check_array(basis, dtype=np.float64, input_name="basis")
    if B.shape[1] != n_features:
        raise ValueError(
            f"The basis array has {B.shape[1]} features, but the data have {n_features}."
        )
    if n_basis is not None and n_basis != B.shape[0]:
        raise ValueError(
            f"n_basis={n_basis} differs from the number of rows of the basis array ({B.shape[0]}); "
            "leave n_basis=None with a basis array."
        )
    return np.ascontiguousarray(B)


def _fit_scml(est, points, triplets, basis, rng):
    """Run the solver on ``(points, triplets, basis)``; set the fitted attributes of ``est``."""
    name = type(est).__name__
    triplets = np.ascontiguousarray(triplets, dtype=np.int64)
    XB = np.ascontiguousarray(points @ basis.T)
    beta = float(est.beta)

    def slacks(w):
        return hinge_terms(components_from_weights(basis, w), points, triplets)

    callback = user_callback(est.callback, lambda w: components_from_weights(basis, w))
    result = minimize_scml_rda(
        XB, triplets, slacks, random_state=rng, beta=beta, gamma=float(est.gamma),
        max_iter=est.max_iter, output_iter=est.output_iter, batch_size=est.batch_size, tol=est.tol,
        verbose=est.verbose, name=name, callback=callback,
    )
    est.basis_ = basis
    est.weights_ = result.x
    est.objective_ = result.fun
    est.n_iter_ = result.n_iter
    est.components_ = components_from_weights(basis, result.x)
    if not np.any(result.x > 0):
        warnings.warn(
            f"{name}: no basis got a positive weight, so the learned metric is zero (all distances "
            "0). The hinge's margin is 1 in squared units of X: standardise X (e.g. StandardScaler), "
            "lower beta or raise max_iter.", UserWarning, stacklevel=3,
        )
    result.warn_if_not_converged(name)
    return est


_COMMON = {
    "beta": [Interval(numbers.Real, 0, None, closed="left")],
    "n_basis": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "gamma": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "output_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
    "callback": [callable, None],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
}

_PARAMS_DOC = """beta : float, default=1e-5
        Weight of the l1 penalty ``beta * sum_k w_k``.
    {basis_doc}
    n_basis : int, default=None
        Number of bases to build. Default {n_basis_default}. Must be None with
        a basis array.
    gamma : float, default=5e-3
        Learning-rate parameter of the solver: weights scale as ``1 / gamma``.
    max_iter : int, default=10000
        Number of stochastic iterations (each on ``batch_size`` triplets).
    output_iter : int, default=500
        Every ``output_iter`` iterations (and at the last one) the full
        objective is evaluated, printed when ``verbose``, passed to
        ``callback``; the weights of the best of these checkpoints are kept.
    batch_size : int, default=10
        Triplets per iteration, drawn uniformly with replacement.
    tol : float, default=None
        None (default, as metric-learn): run all ``max_iter`` iterations, a
        fixed budget without a convergence test and never a
        ``ConvergenceWarning``. A float: stop once the best checkpoint
        objective has improved by less than ``tol`` (relative) over the last
        5 checkpoints, and warn (``ConvergenceWarning``) when ``max_iter``
        comes first.
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` at every checkpoint with
        the current iterate's ``L`` (a copy) and the number of iterations so
        far. Returning True stops the fit and keeps the best checkpoint so
        far (no ``ConvergenceWarning``).
    verbose : int or bool, default=False
        Print a row per checkpoint (objective, triplets with a positive
        hinge, bases with a positive weight, time) and the training time."""

_BASIS_DOC = {
    "SCML": """basis : {'triplet_diffs'} or array of shape (n_basis, n_features), default='triplet_diffs'
        The rank-one bases ``b_k``. 'triplet_diffs': repeatedly draw
        ``n_features`` triplets and keep the eigenvectors with non-zero
        eigenvalue of ``sum (x_a - x_p)(x_a - x_p)^T - sum (x_a - x_n)(x_a - x_n)^T``
        over them (needs at least ``n_features`` triplets). An array is used
        as given.""",
    "SCML_Supervised": """basis : {'lda', 'triplet_diffs'} or array of shape (n_basis, n_features), default='lda'
        The rank-one bases ``b_k``. 'lda': local Fisher discriminant
        directions around k-means centres (``ceil(n_basis / (2 (n_classes -
        1)))`` centres; around each, the 10 and 20 nearest samples of every
        class, 20 and 50 above 50 features; ``n_classes - 1`` unit
        directions per local problem). 'triplet_diffs': as :class:`SCML`, on
        the sampled triplets. An array is used as given.""",
}

_N_BASIS_DEFAULT = {
    "SCML": "``80 * n_features`` for 'triplet_diffs'",
    "SCML_Supervised": ("``min(20 * n_features, 2 * n_samples * (n_classes - 1) - 1)`` for 'lda', "
                        "``80 * n_features`` for 'triplet_diffs'"),
}

_NOTES = """The objective (metric-learn 0.7's, the global metric of Shi et al.) is

    ``F(w) = (1 / N) sum_t [1 + d_M(a_t, p_t)^2 - d_M(a_t, n_t)^2]_+ + beta sum_k w_k``

    over ``w >= 0``, with ``M = sum_k w_k b_k b_k^T``: convex in ``w``. The
    margin is 1 in squared units of ``X``, so standardise ``X`` first;
    data whose weighted squared distances could overflow float64 raise
    ``ValueError``.

    The solver is the paper's and metric-learn's: AdaGrad regularised dual
    averaging on mini-batches (``delta = 1e-3``), whose iterations run in a
    numba kernel on the projections ``X B^T`` of the points (metric-learn
    stores every triplet's per-basis differences instead: ``n_triplets x
    n_basis`` values). The batches are drawn at once as
    ``rng.randint(0, n_triplets, size=(max_iter, batch_size))``, metric-learn's
    draw, so that for the same seed, triplets and bases both give the same
    weights up to round-off. ``components_`` has ``min(n_active,
    n_features)`` rows, ``n_active`` the bases with a positive weight."""


def _doc(cls):
    name = cls.__name__
    params = (_PARAMS_DOC.replace("{basis_doc}", _BASIS_DOC[name])
              .replace("{n_basis_default}", _N_BASIS_DEFAULT[name]))
    cls.__doc__ = cls.__doc__.replace("{params}", params).replace("{notes}", _NOTES)
    return cls


@_doc
class SCML(TripletsMixin, MahalanobisMixin, BaseEstimator):
    """Sparse Compositional Metric Learning on triplets (Shi, Bellet & Sha, AAAI 2014).

    Learns ``M = sum_k w_k b_k b_k^T``, a sparse non-negative combination of
    rank-one bases, from triplets ``(anchor, positive, negative)`` meaning
    "the anchor is closer to the positive than to the negative".

    ``predict`` returns +1 where ``d(a, p) < d(a, n)`` under the learned
    metric, ``decision_function`` the margin ``d(a, n) - d(a, p)`` and
    ``score`` the fraction of triplets in the right order.

    Parameters
    ----------
    {params}
    random_state : int, RandomState instance or None, default=None
        Draws the triplets of the 'triplet_diffs' bases, then the batches.
    {preprocessor}

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``L`` with ``L.T @ L = M``; ``n_components = min(n_active,
        n_features)`` (one row of zeros when no basis is active).
    weights_ : ndarray of shape (n_basis,)
        The basis weights ``w`` (non-negative, sparse).
    basis_ : ndarray of shape (n_basis, n_features)
        The bases ``b_k`` (rows).
    objective_ : float
        ``F(weights_)``.
    n_iter_ : int
        Iterations run.
    n_features_in_ : int

    See Also
    --------
    SCML_Supervised : SCML on triplets sampled from class labels.

    Notes
    -----
    {notes}

    References
    ----------
    Y. Shi, A. Bellet and F. Sha, "Sparse compositional metric learning",
    AAAI 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml import SCML
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((60, 2)) * [1.0, 5.0]
    >>> # the first feature decides: a positive shares its sign, a negative does not
    >>> a, p, n = rng.randint(0, 60, size=(3, 2000))
    >>> keep = (np.sign(X[a, 0]) == np.sign(X[p, 0])) & (np.sign(X[a, 0]) != np.sign(X[n, 0]))
    >>> triplets = np.stack([X[a[keep]], X[p[keep]], X[n[keep]]], axis=1)
    >>> scml = SCML(basis=np.eye(2), max_iter=2000, random_state=0).fit(triplets)
    >>> bool(scml.weights_[0] > scml.weights_[1])
    True
    >>> # the same triplets as integer indices into X
    >>> idx = np.stack([a[keep], p[keep], n[keep]], axis=1)
    >>> by_index = SCML(basis=np.eye(2), max_iter=2000, random_state=0, preprocessor=X).fit(idx)
    >>> bool(np.allclose(by_index.weights_, scml.weights_))
    True
    """

    _parameter_constraints = {
        **_COMMON,
        "basis": [StrOptions({"triplet_diffs"}), "array-like"],
        "preprocessor": PREPROCESSOR_CONSTRAINT,
    }

    def __init__(self, beta=1e-5, *, basis="triplet_diffs", n_basis=None, gamma=5e-3, max_iter=10000,
                 output_iter=500, batch_size=10, tol=None, callback=None, verbose=False, random_state=None, preprocessor=None):
        self.beta = beta
        self.basis = basis
        self.n_basis = n_basis
        self.gamma = gamma
        self.max_iter = max_iter
        self.output_iter = output_iter
        self.batch_size = batch_size
        self.tol = tol
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state
        self.preprocessor = preprocessor

    def _common_check_instance(self):
        return SCML_Supervised()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, triplets, y=None):
        with single_threaded_blas():  # small products: BLAS threads only add overhead
            return self._fit(triplets, y)

    def _fit(self, triplets, y):
        """Fit the metric on triplets.

        Parameters
        ----------
        triplets : array-like of shape (n_triplets, 3, n_features) or (n_triplets, 3)
            Each ``(a, p, n)`` states ``d(a, p) < d(a, n)``: formed, or
            integer indices into ``preprocessor``.
        y : None
            Unused (the order inside each triplet is the supervision);
            anything but None raises ``ValueError``.

        Returns
        -------
        self
        """
        if y is not None:
            raise ValueError("SCML is fitted on ordered triplets only, y must be None.")
        gathered, indices, _ = check_tuple_indices(triplets, 3, self.preprocessor, name="triplets")
        d = gathered.shape[1]
        self.n_features_in_ = d
        points, inverse = _unique_rows(gathered)
        idx = inverse[indices]
        if isinstance(self.basis, str):
            n_basis = 80 * d if self.n_basis is None else self.n_basis
        else:
            n_basis = np.shape(self.basis)[0]
        _check_scale(points, self, n_basis, idx.shape[0])
        rng = check_random_state(self.random_state)
        if isinstance(self.basis, str):
            basis = triplet_diffs_basis(tuple_differences(gathered, indices, 0, 1),
                                        tuple_differences(gathered, indices, 0, 2), n_basis, rng)
        else:
            basis = _check_basis_array(self.basis, d, self.n_basis)
        return _fit_scml(self, points, idx, basis, rng)


@_doc
class SCML_Supervised(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """SCML on triplets from class labels: k nearest genuine neighbours and impostors.

    Every sample is the anchor of the triplets formed by each of its
    ``k_genuine`` nearest same-class neighbours and each of its
    ``k_impostor`` nearest samples of other classes
    (:func:`shallowml.constraints.knn_triplets`, metric-learn's
    ``generate_knntriplets``); SCML is fitted on them with bases from local
    Fisher discriminant analyses by default.

    Parameters
    ----------
    k_genuine : int, default=3
        Same-class neighbours per anchor (fewer in smaller classes).
    k_impostor : int, default=10
        Other-class neighbours per anchor.
    {params}
    random_state : int, RandomState instance or None, default=None
        Seeds k-means of the 'lda' bases (or the draws of 'triplet_diffs'),
        then the batches.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``L`` with ``L.T @ L = M``; ``n_components = min(n_active,
        n_features)`` (one row of zeros when no basis is active).
    weights_ : ndarray of shape (n_basis,)
    basis_ : ndarray of shape (n_basis, n_features)
    objective_ : float
    n_iter_ : int
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    Notes
    -----
    {notes}

    The 'lda' bases use one k-means++ start (metric-learn takes the best of
    ten: the same kind of bases at ten times the cost of the clustering).
    Unlike metric-learn 0.7's ``SCML_Supervised``, which ignores its
    ``gamma`` argument (always 5e-3), ``gamma`` is used.

    References
    ----------
    Y. Shi, A. Bellet and F. Sha, "Sparse compositional metric learning",
    AAAI 2014.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from shallowml import SCML_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> SCML_Supervised(random_state=0).fit(X, y).components_.shape[1]
    4
    """

    _parameter_constraints = {
        **_COMMON,
        "k_genuine": [Interval(numbers.Integral, 1, None, closed="left")],
        "k_impostor": [Interval(numbers.Integral, 1, None, closed="left")],
        "basis": [StrOptions({"lda", "triplet_diffs"}), "array-like"],
    }

    def __init__(self, k_genuine=3, k_impostor=10, *, beta=1e-5, basis="lda", n_basis=None, gamma=5e-3,
                 max_iter=10000, output_iter=500, batch_size=10, tol=None, callback=None, verbose=False,
                 random_state=None):
        self.k_genuine = k_genuine
        self.k_impostor = k_impostor
        self.beta = beta
        self.basis = basis
        self.n_basis = n_basis
        self.gamma = gamma
        self.max_iter = max_iter
        self.output_iter = output_iter
        self.batch_size = batch_size
        self.tol = tol
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        with single_threaded_blas():  # small products: BLAS threads only add overhead
            return self._fit(X, y)

    def _fit(self, X, y):
        """Build triplets and bases from ``(X, y)`` and fit SCML.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y_codes, _ = self._validate_classes(X, y)
        n, d = X.shape
        if isinstance(self.basis, str) and self.basis == "lda":
            n_basis = lda_n_basis(n, d, self.classes_.size) if self.n_basis is None else self.n_basis
        elif isinstance(self.basis, str):
            n_basis = 80 * d if self.n_basis is None else self.n_basis
        else:
            n_basis = np.shape(self.basis)[0]
        _check_scale(X, self, n_basis, n * self.k_genuine * self.k_impostor)  # before any distance
        triplets = knn_triplets(X, y_codes, self.k_genuine, k_impostor=self.k_impostor)
        rng = check_random_state(self.random_state)
        if isinstance(self.basis, str) and self.basis == "lda":
            basis = lda_basis(X, y_codes, n_basis, rng)
        elif isinstance(self.basis, str):
            a, p, m = triplets.T
            basis = triplet_diffs_basis(X[a] - X[p], X[a] - X[m], n_basis, rng)
        else:
            basis = _check_basis_array(self.basis, d, self.n_basis)
        return _fit_scml(self, X, triplets, basis, rng)
