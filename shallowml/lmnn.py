"""Large Margin Nearest Neighbour (LMNN) metric learning.

Weinberger, K. Q. and Saul, L. K. (2009). Distance Metric Learning for Large
Margin Nearest Neighbor Classification. JMLR 10, 207-244.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._kernels.neighbors import same_class_neighbors
from ._solvers.lmnn_rounds import lmnn_active_set
from ._solvers.progress import ProgressTable, user_callback
from .base import MahalanobisMixin
from .utils._compat import Interval, StrOptions, _fit_context, validate_data
from .utils.init import INIT_OPTIONS, initial_components, resolve_n_components
from .utils.threads import single_threaded_blas
from .utils.validation import data_spread, encode_class_labels


def _scaled(X):
    """``((X - mean) / s, s)`` with ``s`` the RMS of the feature standard deviations.

    Raises ValueError when X has no usable spread (see
    :func:`shallowml.utils.validation.data_spread`).
    """
    mean, m = data_spread(X)
    Xc = (X - mean) / m
    s = m * float(np.sqrt(np.mean(np.var(Xc, axis=0))))
    return Xc * (m / s), s


class LMNN(MahalanobisMixin, BaseEstimator):
    """Large Margin Nearest Neighbour metric learning (Weinberger & Saul, 2009).

    Learns ``L`` so that each sample's ``n_neighbors`` *target neighbours*
    (nearest same-class samples in the input space, fixed) are close, and
    samples of other classes (*impostors*) stay at least a unit margin
    farther away. The objective, minimised over ``L`` with L-BFGS, is the
    classic one with ``mu = push_weight`` and ``d_ab = ||L (x_a - x_b)||^2``::

        (1 - mu) sum_{i, j ~> i} d_ij + mu sum_{i, j ~> i, l: y_l != y_i} [1 + d_ij - d_il]_+

    It is convex in ``M = L^T L`` (an SDP); for ``n_components = n_features``
    the L-BFGS solution reaches the SDP optimum on small problems (see the
    tests). Impostors are handled with an *active set*: each round searches
    all pairs ``(i, l)`` of different classes within 1.5 times the squared
    margin radius ``max_j d_ij + 1`` (blocked numba search, memory
    O(n * k + number of pairs)), then L-BFGS minimises the objective with
    the push sum over that list, hinges evaluated exactly. After each round
    the exact impostor set at the new ``L`` is computed; fitting stops when
    it is contained in the list used (then the objective optimised equals
    the true objective near the solution) and L-BFGS converged. A round
    whose list proves incomplete passes a trust-region test: when the true
    objective fell by less than half of what the list predicted, later
    searches use a 4 times wider radius, and below a quarter the round is
    undone, so the true objective never increases from round to round (this
    matters at low rank, where a turn of the projection brings far samples
    close); a list holding a quarter of all pairs of different classes takes
    them all. L-BFGS
    stalls at the kinks of the hinge, so the first stages minimise a Huber
    smoothing of the hinge (widths 0.1, then 0.01) and the last stage the
    exact objective, each warm-started from the previous one.

    Parameters
    ----------
    n_neighbors : int, default=3
        Target neighbours per sample. A class with ``n_c <= n_neighbors``
        samples uses ``n_c - 1`` target neighbours (with a warning); a
        single-sample class has none but still acts as impostor. A sample is
        never its own target neighbour.
    n_components : int, default=None
        Output dimension; default ``n_features``.
    init : {'auto', 'pca', 'lda', 'identity', 'random'} or ndarray of shape \
            (n_components, n_features), default='auto'
        Initial ``L`` (see :func:`shallowml.utils.init.initial_components`):
        'auto' is 'lda' when ``n_components <= n_classes - 1``, else 'pca'
        when ``n_components < n_features``, else 'identity'. Named inits are
        computed on the centred data divided by the RMS feature standard
        deviation ``s`` (the fit runs there; ``L`` is mapped back by ``1 / s``),
        so 'identity' starts at ``I / s`` (``I`` for standardised data). An
        array is used as given.
    push_weight : float, default=0.5
        ``mu`` in [0, 1], the weight of the impostor (push) term; the pull
        term gets ``1 - mu``.
    max_iter : int, default=200
        Maximum total number of L-BFGS iterations (over all rounds).
    tol : float, default=1e-3
        Stop when the objective decreases by less than ``tol`` (relative) per
        iteration, averaged over the last 5 iterations, and the impostor
        list used is complete. Also L-BFGS's gradient tolerance on the
        objective divided by ``n_samples``.
    max_impostors : int, default=10_000_000
        Budget on the number of stored impostor pairs (about 40 bytes each).
        When a search finds more, each row keeps its closest impostors (a
        quota proportional to its count), a warning is issued, and the fit
        stops after the first converged round (the objective is then an
        approximation that ignores the farthest impostors).
    warm_start : bool, default=False
        Start from the previous ``components_`` when its shape fits.
    callback : callable, default=None
        Called as ``callback(components, n_iter)`` after every L-BFGS
        iteration, with ``components`` the current ``L`` in the units of
        ``components_`` (a copy) and ``n_iter`` counted from 1. Returning True
        stops the fit early and keeps the result so far (no
        ``ConvergenceWarning``).
    verbose : int, default=0
        When positive, print a table per iteration: iteration, objective
        (smoothed during the first stages), active triplets, step length
        ``||L_t - L_{t-1}||_F`` and elapsed time.
    random_state : int, RandomState instance or None, default=None
        Used by ``init='random'`` and ``init='pca'``. Results are
        deterministic for a fixed value, whatever the number of threads.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The learned map ``L``.
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
        Total L-BFGS iterations.
    objective_ : float
        Final objective (classic, unnormalised).
    n_active_triplets_ : int
        Triplets with a positive hinge at the solution.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    See Also
    --------
    LFDA : closed-form local Fisher discriminant analysis.

    Notes
    -----
    The gradient ``2 L X^T C X`` is accumulated from pair weights (a sparse
    Laplacian ``C``), not from per-triplet outer products.

    References
    ----------
    .. [1] K. Q. Weinberger and L. K. Saul. Distance Metric Learning for Large
       Margin Nearest Neighbor Classification. JMLR 10:207-244, 2009.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from shallowml import LMNN
    >>> X, y = load_iris(return_X_y=True)
    >>> pipe = make_pipeline(LMNN(n_neighbors=3, random_state=0), KNeighborsClassifier(3))
    >>> pipe.fit(X, y).score(X, y) > 0.95
    True
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "init": [StrOptions(set(INIT_OPTIONS)), np.ndarray],
        "push_weight": [Interval(numbers.Real, 0, 1, closed="both")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "max_impostors": [Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "callback": [callable, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_neighbors=3,
        *,
        n_components=None,
        init="auto",
        push_weight=0.5,
        max_iter=200,
        tol=1e-3,
        max_impostors=10_000_000,
        warm_start=False,
        callback=None,
        verbose=0,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.init = init
        self.push_weight = push_weight
        self.max_iter = max_iter
        self.tol = tol
        self.max_impostors = max_impostors
        self.warm_start = warm_start
        self.callback = callback
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Learn ``L`` from samples ``X`` and class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : LMNN
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        name = type(self).__name__
        self.classes_, y_codes, counts = encode_class_labels(
            y, estimator_name=name, n_neighbors=self.n_neighbors
        )
        small = self.classes_[counts <= self.n_neighbors]
        if small.size:
            example = small[0].item() if isinstance(small[0], np.generic) else small[0]  # 0, not np.int64(0)
            warnings.warn(
                f"{name}: {small.size} class(es) have at most n_neighbors={self.n_neighbors} "
                f"samples (e.g. {example!r}); their samples use n_c - 1 target neighbours "
                "(none for single-sample classes).",
                UserWarning,
                stacklevel=2,
            )
        n_features = X.shape[1]
        n_components = resolve_n_components(self.n_components, n_features)
        random_state = check_random_state(self.random_state)
        # Work on Xs = (X - mean) / s with s the RMS feature standard deviation: with
        # L' = s L the distances, hence the objective, are unchanged, and data at
        # 1e-100 or 1e100 scale neither under- nor overflows.
        Xs, scale = _scaled(X)
        prev = getattr(self, "components_", None)
        if self.warm_start and prev is not None and prev.shape == (n_components, n_features):
            L = prev * scale
        elif isinstance(self.init, str):
            L = initial_components(self.init, Xs, y_codes, n_components, random_state=random_state)
        else:
            L = initial_components(self.init, X, y_codes, n_components, random_state=random_state)
            L = L * scale
        X = Xs
        with ProgressTable(name, [], enabled=self.verbose).phase("Finding target neighbours"):
            targets, _ = same_class_neighbors(X, y_codes, self.n_neighbors)

        callback = user_callback(self.callback, lambda x: x.reshape(n_components, n_features) / scale)

        # the BLAS products here are small; one BLAS thread avoids oversubscription with
        # the numba kernels, which parallelise over rows (see utils.threads)
        with single_threaded_blas():
            result, self.n_active_triplets_ = lmnn_active_set(
                X, y_codes, targets, L, push_weight=self.push_weight, max_iter=self.max_iter,
                tol=self.tol, max_impostors=self.max_impostors, callback=callback,
                verbose=self.verbose, name=name,
            )
        self.components_ = result.x.reshape(n_components, n_features) / scale
        self.n_iter_ = result.n_iter
        self.objective_ = result.fun
        result.warn_if_not_converged(name)
        return self


    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
