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
from .supervision import ClassesMixin
from .utils._compat import Interval, StrOptions, _fit_context
from .utils.init import INIT_OPTIONS, initial_components, resolve_n_components
from .utils.linalg import principal_subspace
from .utils.threads import single_threaded_blas
from .utils.scaling import rms_distance
from .utils.validation import data_spread

# pca_components='auto': data with more features than this are reduced to their
# leading principal components, at least this many, and at least enough for
# _AUTO_VARIANCE of the variance
_AUTO_MIN_COMPONENTS = 100
_AUTO_VARIANCE = 0.95


def _scaled(X):
    """``((X - mean) / s, s)`` with ``s`` the RMS of the feature standard deviations.

    ``s`` is the RMS distance between samples over ``sqrt(2 n_features)``
    (:mod:`shallowml.utils.scaling`). Raises ValueError when X has no usable
    spread (see :func:`shallowml.utils.validation.data_spread`).
    """
    mean, m = data_spread(X)
    s = rms_distance(X, spread=m) / np.sqrt(2.0 * X.shape[1])
    return (X - mean) / s, s


class LMNN(ClassesMixin, MahalanobisMixin, BaseEstimator):
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
        Output dimension; default the dimension of the space the fit works
        in: ``n_features``, or the number of principal components when
        ``pca_components`` reduces the data (then at most that many).
    pca_components : 'auto', int or None, default='auto'
        Learn ``L`` within the span of the leading principal components of
        the (centred) training data: target neighbours are found, and the
        objective minimised, in that ``r``-dimensional space, and
        ``components_ = A P`` with ``P`` the principal directions. Each
        iteration then costs ``O(n_samples * n_components * r)`` instead of
        ``O(n_samples * n_components * n_features)``, and on image-like data
        the directions of least variance (mostly noise) no longer choose the
        target neighbours. Directions outside the span get weight zero.
        None works on all features (the classic LMNN). An int ``r`` keeps
        that many components (at most ``min(n_samples, n_features)``, at
        least ``n_components``). 'auto' is None for at most 100 features or
        an array ``init``; otherwise ``r`` is the largest of 100, the number
        of components explaining 95 % of the variance and ``n_components``,
        and at most the rank of the centred data (unless ``n_components``
        asks for more); None when that leaves all ``n_features``. With more
        features than samples the span of the centred data holds every
        direction the objective can use, so reducing to it changes only the
        weight of directions absent from the training data. The resolved
        value is ``pca_components_``. See :ref:`high_dimensional`.
    init : {'auto', 'pca', 'lda', 'identity', 'random'} or ndarray of shape \
            (n_components, n_features), default='auto'
        Initial ``L`` (see :func:`shallowml.utils.init.initial_components`):
        'auto' is 'lda' when ``n_components <= n_classes - 1``, else 'pca'
        when ``n_components`` is below the working dimension, else
        'identity'. Named inits are computed on the centred data divided by
        the RMS feature standard deviation ``s`` (the fit runs there; ``L``
        is mapped back by ``1 / s``), so 'identity' starts at ``I / s``
        (``I`` for standardised data); with ``pca_components`` they are
        computed in the principal subspace ('identity' is then the
        projection on its first ``n_components`` directions). An array is
        used as given (with an int ``pca_components``: its projection on the
        subspace).
    push_weight : float, default=0.5
        ``mu`` in [0, 1], the weight of the impostor (push) term; the pull
        term gets ``1 - mu``.
    max_iter : int, default=200
        Maximum total number of L-BFGS iterations (over all rounds).
    tol : float, default=1e-3
        Stop when the objective decreases by less than ``tol`` (relative) per
        iteration, averaged over the last 5 iterations, and the impostor
        list used is complete. Also L-BFGS's gradient tolerance on the
        objective divided by ``n_samples``. This rule ends the exact stage;
        with ``n_components < n_classes - 1`` the smoothed stages before it
        run to ``min(tol, 1e-6)``, since they choose which local minimum the
        fit reaches (:ref:`high_dimensional`).
    max_impostors : int, default=10_000_000
        Budget on the number of stored impostor pairs (about 40 bytes each).
        When a search finds more, each row keeps its closest impostors (a
        quota proportional to its count), a ``UserWarning`` is issued, the
        fit stops after the first converged round, and ``approximate_`` is
        set: the objective is then an approximation that ignores the
        farthest impostors.
    warm_start : bool, default=False
        Start from the previous ``components_`` when its shape fits (with
        ``pca_components``, from its projection on the principal subspace).
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
    approximate_ : bool
        True when the final impostor list exceeded ``max_impostors`` and was
        cut to each sample's closest impostors: the fit then minimised an
        approximation of the objective that ignores the farthest impostors
        (a ``UserWarning`` says so). False for an exact fit, including one
        whose early lists (far from the solution) were cut but whose final
        search was complete.
    pca_components_ : int or None
        Dimension of the principal subspace ``L`` was learned in; None when
        the fit used every feature.
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
        "pca_components": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left"), None],
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
        pca_components="auto",
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
        self.pca_components = pca_components
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
        X, y_codes, counts = self._validate_classes(X, y, n_neighbors=self.n_neighbors)
        name = type(self).__name__
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
        resolve_n_components(self.n_components, n_features)  # the one check and message
        random_state = check_random_state(self.random_state)
        # Work on Xs = (X - mean) / s with s the RMS feature standard deviation: with
        # L' = s L the distances, hence the objective, are unchanged, and data at
        # 1e-100 or 1e100 scale neither under- nor overflows.
        Xs, scale = _scaled(X)
        # ... and, with pca_components, on its coordinates Xs @ P in the principal basis P
        P = self._principal_basis(Xs)
        self.pca_components_ = None if P is None else P.shape[1]
        dim = n_features if P is None else P.shape[1]
        n_components = resolve_n_components(self.n_components, dim)  # checked against n_features above
        prev = getattr(self, "components_", None)
        if self.warm_start and prev is not None and prev.shape == (n_components, n_features):
            L = prev * scale
        elif isinstance(self.init, str):
            L = None
        else:
            L = initial_components(self.init, X, y_codes, n_components, random_state=random_state)
            L = L * scale
        if P is not None:
            Xs = Xs @ P
            if L is not None:
                L = L @ P
        if L is None:
            L = initial_components(self.init, Xs, y_codes, n_components, random_state=random_state)
        X = Xs

        def to_features(A):
            """``A`` on the working coordinates -> components on the input features."""
            return (A if P is None else A @ P.T) / scale

        callback = user_callback(self.callback, lambda x: to_features(x.reshape(n_components, -1)))

        # the BLAS products here are small; one BLAS thread avoids oversubscription with
        # the numba kernels, which parallelise over rows, and with the searches' tiles,
        # which run on as many threads (see utils.threads)
        with single_threaded_blas():
            with ProgressTable(name, [], enabled=self.verbose).phase("Finding target neighbours") as progress:
                targets, _ = same_class_neighbors(X, y_codes, self.n_neighbors, progress=progress)
            result, self.n_active_triplets_ = lmnn_active_set(
                X, y_codes, targets, L, push_weight=self.push_weight, max_iter=self.max_iter,
                tol=self.tol, max_impostors=self.max_impostors, callback=callback,
                verbose=self.verbose, name=name,
            )
        self.components_ = to_features(result.x.reshape(n_components, -1))
        self.n_iter_ = result.n_iter
        self.objective_ = result.fun
        self.approximate_ = bool(result.info["approximate"])
        result.warn_if_not_converged(name)
        return self

    def _principal_basis(self, Xs):
        """Orthonormal basis ``P`` (n_features, r) of the subspace to work in, or None."""
        n_samples, n_features = Xs.shape
        r = self.pca_components
        if r is None:
            return None
        if r == "auto":
            if n_features <= _AUTO_MIN_COMPONENTS or not isinstance(self.init, str):
                return None
        else:
            upper = min(n_samples, n_features)
            if r > upper:
                raise ValueError(
                    f"pca_components={r} is larger than min(n_samples, n_features) = {upper}; "
                    f"use at most {upper}, or None."
                )
            if self.n_components is not None and r < self.n_components:
                raise ValueError(
                    f"pca_components={r} is smaller than n_components={self.n_components}; "
                    "the map cannot have more outputs than the subspace it acts on."
                )
        _, basis, variances = principal_subspace(Xs)
        if r == "auto":
            explained = np.cumsum(variances) / np.sum(variances)
            n_out = self.n_components or 0
            r = max(_AUTO_MIN_COMPONENTS, int(np.searchsorted(explained, _AUTO_VARIANCE)) + 1, n_out)
            # at most the rank of the centred data, unless more outputs were asked for
            r = min(r, max(basis.shape[1], n_out))
            if r >= n_features:
                return None
        if r > basis.shape[1]:
            # fewer directions with variance than requested (as PCA, r may reach
            # min(n_samples, n_features)): complete the basis with orthonormal directions
            # in which the training data does not vary, from the feature axes farthest
            # from its span
            extra = r - basis.shape[1]
            axes = np.argsort(np.sum(basis**2, axis=1), kind="stable")[:extra]
            E = np.zeros((n_features, extra))
            E[axes, np.arange(extra)] = 1.0
            E -= basis @ (basis.T @ E)
            Q, _ = np.linalg.qr(E)
            return np.hstack([basis, Q])
        return basis[:, :r]
