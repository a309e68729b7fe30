"""Closed-form metrics: covariance, Fisher (LDA), within-class (RCA), local Fisher (LFDA).

All four work in the data's scaled principal subspace
(:class:`~shallowml.utils.subspace.ScaledSubspace`), so constant or
duplicated features (e.g. the empty pixels of scikit-learn's digits) give
finite, real components: directions without variance are mapped to zero.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ._kernels.distances import iter_sq_distance_blocks
from ._kernels.neighbors import same_class_neighbors
from ._solvers.eigen import fisher_directions
from .base import MahalanobisMixin
from .supervision import ChunksMixin, ClassesMixin, UnsupervisedMixin
from .constraints import chunks_from_labels
from .utils._compat import Interval, StrOptions, _fit_context, validate_data
from .utils.init import class_scatters, resolve_n_components
from .utils.linalg import symmetric_inverse_sqrt
from .utils.subspace import ScaledSubspace
from .utils.validation import encode_chunk_labels


class Covariance(UnsupervisedMixin, MahalanobisMixin, BaseEstimator):
    """Whitening by the inverse covariance (unsupervised baseline).

    The metric is ``M = Sigma^+`` (pseudo-inverse of the sample covariance),
    i.e. the classical Mahalanobis distance. ``Sigma`` is normalised by
    ``1 / n`` (``np.cov(X, rowvar=False, bias=True)``), like the scatter
    matrices of :class:`LDA` and :class:`RCA`, so duplicating every sample
    changes nothing; ``np.cov``'s default and metric-learn's ``Covariance``
    use ``1 / (n - 1)``, which scales ``M`` by ``(n - 1) / n`` and leaves
    every neighbour ranking unchanged. ``components_`` is the
    symmetric (ZCA) square root ``Sigma^{+1/2}``; directions without variance
    (constant or duplicated features) get zero weight.

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_features)
        The learned linear map ``L``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string feature names.

    See Also
    --------
    RCA : whitening by the within-class covariance.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import Covariance
    >>> X, _ = load_iris(return_X_y=True)
    >>> Covariance().fit(X).transform(X).shape
    (150, 4)
    """

    _parameter_constraints = {}

    def __init__(self):
        pass

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the covariance metric. ``y`` is ignored."""
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        sub = ScaledSubspace(X)
        cov = sub.Z.T @ sub.Z / X.shape[0]
        A = symmetric_inverse_sqrt(cov)
        self.components_ = sub.basis @ A @ sub.basis.T / sub.scale
        return self


class LDA(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """Fisher discriminant whitening (LDA as a metric).

    Finds ``n_components <= n_classes - 1`` directions maximising between-class
    over within-class scatter, scaled so the within-class scatter becomes the
    identity (Fisher, 1936; see Hastie, Tibshirani & Friedman, ESL 4.3.3).

    Parameters
    ----------
    n_components : int, default=None
        Output dimension, at most ``min(n_features, n_classes - 1)``; default
        that maximum.
    reg : float, default=1e-6
        Fraction of the total scatter added to the within-class scatter
        (``S_w + reg * S_t``), so directions without within-class spread stay
        finite; unlike a ridge on the identity it keeps LDA invariant to the
        scale of each feature.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import LDA
    >>> X, y = load_iris(return_X_y=True)
    >>> LDA().fit(X, y).components_.shape
    (2, 4)
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "reg": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=None, *, reg=1e-6):
        self.n_components = n_components
        self.reg = reg

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the Fisher directions on ``X`` with class labels ``y``."""
        # >= 2 classes, and some within-class scatter (not every class a singleton)
        X, y_codes, _ = self._validate_classes(X, y)
        upper = min(X.shape[1], self.classes_.size - 1)
        n_components = resolve_n_components(self.n_components, upper, what="min(n_features, n_classes - 1)")
        sub = ScaledSubspace(X)
        S_w, S_b = class_scatters(sub.Z, y_codes)
        _, V = fisher_directions(S_b, S_w, min(n_components, sub.rank), reg=self.reg)
        self.components_ = sub.to_features(V.T, n_components)
        return self



class RCA(ChunksMixin, MahalanobisMixin, BaseEstimator):
    """Relevant Components Analysis: whitening by the within-chunk covariance.

    Each distinct value of ``y`` is a chunklet (a group of samples known to
    be alike): class labels give the supervised version, chunk ids the weakly
    supervised one (for example from
    :func:`shallowml.constraints.chunks_from_labels`). A negative numeric
    label means "in no chunk". The metric is the inverse of the pooled
    within-chunk covariance (Bar-Hillel et al., JMLR 2005). Samples in no
    chunk or in single-sample chunks only contribute to the principal
    subspace.

    Parameters
    ----------
    n_components : int, default=None
        When given, RCA runs in the top ``n_components`` principal directions
        (as recommended by Bar-Hillel et al.); by default in all directions
        with non-zero variance, with output dimension ``n_features``.
    reg : float, default=1e-6
        Fraction of the total covariance added to the within-chunk covariance
        (``C + reg * S_t``), so directions constant inside every chunk get a
        large but finite weight; features on very different scales are
        treated alike.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import RCA
    >>> X, y = load_iris(return_X_y=True)
    >>> RCA().fit(X, y).transform(X).shape
    (150, 4)
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "reg": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=None, *, reg=1e-6):
        self.n_components = n_components
        self.reg = reg

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit on ``X`` with chunk (or class) labels ``y``."""
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        # a negative chunk id (e.g. -1 from constraints.chunks_from_labels) means "in no chunk"
        y_codes, in_chunk = encode_chunk_labels(y)
        counts = np.bincount(y_codes)
        if not in_chunk.any():
            raise ValueError(
                "RCA needs at least one chunk (non-negative label) with 2 or more samples; "
                "negative labels mark samples in no chunk."
            )
        n_components = resolve_n_components(self.n_components, X.shape[1])
        sub = ScaledSubspace(X)
        k = min(n_components, sub.rank)
        Z = sub.Z[:, :k]
        means = np.zeros((counts.size, k))
        np.add.at(means, y_codes, Z)
        means /= counts[:, None]
        D = (Z - means[y_codes])[in_chunk]
        C = D.T @ D / D.shape[0]
        T = Z.T @ Z / Z.shape[0]  # total covariance (Z is centred), positive definite
        A = symmetric_inverse_sqrt(C + self.reg * T)
        if self.n_components is None:
            self.components_ = sub.basis[:, :k] @ A @ sub.basis[:, :k].T / sub.scale
        else:
            self.components_ = sub.to_features(A, n_components)
        return self



class RCA_Supervised(ClassesMixin, RCA):
    """RCA on chunklets sampled from class labels (as metric-learn's ``RCA_Supervised``).

    Draws ``n_chunks`` disjoint chunklets of ``chunk_size`` same-class
    samples with :func:`shallowml.constraints.chunks_from_labels`, then fits
    :class:`RCA` on them; samples in no chunk only shape the principal
    subspace.

    Parameters
    ----------
    n_components : int, default=None
        See :class:`RCA`.
    reg : float, default=1e-6
        See :class:`RCA`.
    n_chunks : int or 'auto', default='auto'
        Number of chunklets. 'auto': 100, or as many as the classes can host
        when that is fewer (a class of ``n_c`` samples hosts
        ``n_c // chunk_size``). An int larger than the classes can host is
        an error.
    chunk_size : int, default=2
        Samples per chunklet (at least 2).
    random_state : int, RandomState instance or None, default=None
        Draws the chunklets.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    chunks_ : ndarray of int64 of shape (n_samples,)
        Chunk id of each training sample, ``-1`` for samples in no chunk.
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    n_features_in_ : int

    References
    ----------
    .. [1] A. Bar-Hillel, T. Hertz, N. Shental and D. Weinshall. Learning a
       Mahalanobis Metric from Equivalence Constraints. JMLR 6:937-965, 2005.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import RCA_Supervised
    >>> X, y = load_iris(return_X_y=True)
    >>> est = RCA_Supervised(n_chunks=30, random_state=0).fit(X, y)
    >>> int((est.chunks_ >= 0).sum())
    60
    """

    _parameter_constraints = {
        **RCA._parameter_constraints,
        "n_chunks": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "chunk_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=None, *, reg=1e-6, n_chunks="auto", chunk_size=2, random_state=None):
        super().__init__(n_components, reg=reg)
        self.n_chunks = n_chunks
        self.chunk_size = chunk_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Sample chunklets from the class labels ``y`` and fit RCA on them."""
        X, y_codes, counts = self._validate_classes(X, y, allow_trivial=True)
        n_chunks = self.n_chunks
        if n_chunks == "auto":
            n_chunks = int(min(100, np.sum(counts // self.chunk_size)))
        self.chunks_ = chunks_from_labels(y_codes, n_chunks, self.chunk_size,
                                          random_state=check_random_state(self.random_state))
        return super().fit(X, self.chunks_)


def _laplacian_block(W, Zr, Zc):
    """Rows ``Zr`` of ``Z^T (D - W) Z`` for symmetric ``W``, where ``W`` holds those rows.

    Summed over all row blocks this is ``1/2 sum_ij W_ij (z_i - z_j)(z_i - z_j)^T``.
    """
    deg = W.sum(axis=1)
    return (Zr * deg[:, None]).T @ Zr - Zr.T @ (W @ Zc)


def _local_scatters(Z, y_codes, k, block_rows=1024):
    """Local within- and between-class scatters of LFDA (Sugiyama, 2007).

    Affinities ``A_ij = exp(-||z_i - z_j||^2 / (sigma_i sigma_j))`` with
    ``sigma_i`` the distance to the k-th same-class neighbour (floored so
    duplicates do not divide by zero). Computed class by class in row blocks:
    memory O(block_rows * n_c).
    """
    n, r = Z.shape
    counts = np.bincount(y_codes)
    ind, sq = same_class_neighbors(Z, y_codes, k)
    sigma = np.zeros(n)
    if ind.shape[1] > 0:
        k_of_class = np.minimum(k, counts - 1)
        kk = k_of_class[y_codes]
        has = kk > 0
        sigma[has] = np.sqrt(sq[np.flatnonzero(has), kk[has] - 1])
    sigma = np.maximum(sigma, 1e-12)
    S_w = np.zeros((r, r))
    # weight 1/n on every pair gives 1/2 sum_ij (z_i - z_j)(z_i - z_j)^T / n = Z^T Z (Z centred)
    S_b = Z.T @ Z
    for c in range(counts.size):
        idx = np.flatnonzero(y_codes == c)
        n_c = idx.size
        if n_c < 2:
            continue
        Zc = Z[idx]
        sig = sigma[idx]
        for start, D2 in iter_sq_distance_blocks(Zc, block_rows=block_rows):
            Zr = Zc[start : start + D2.shape[0]]
            A = np.exp(-D2 / np.outer(sig[start : start + D2.shape[0]], sig))
            S_w += _laplacian_block(A / n_c, Zr, Zc)
            S_b += _laplacian_block(A * (1.0 / n - 1.0 / n_c) - 1.0 / n, Zr, Zc)
    return S_w, S_b


class LFDA(ClassesMixin, MahalanobisMixin, BaseEstimator):
    """Local Fisher Discriminant Analysis (Sugiyama, JMLR 2007).

    Fisher discriminant analysis where within-class pairs are weighted by a
    local affinity, so multimodal classes are not forced together.

    Parameters
    ----------
    n_components : int, default=None
        Output dimension; default ``n_features``.
    k : int, default=7
        Neighbour rank for the local scaling ``sigma_i`` (Zelnik-Manor & Perona);
        reduced to ``n_c - 1`` inside smaller classes.
    embedding_type : {'weighted', 'orthonormalized', 'plain'}, default='weighted'
        'weighted' scales each direction by the square root of its eigenvalue,
        'orthonormalized' returns orthonormal directions (the learned rows of
        ``components_`` are orthonormal in feature space, so the metric is a
        projection), 'plain' the raw generalised eigenvectors.
    reg : float, default=1e-6
        Fraction of the local mixture scatter added to the local within-class
        scatter (see ``LDA``).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from shallowml import LFDA
    >>> X, y = load_iris(return_X_y=True)
    >>> LFDA(n_components=2).fit(X, y).transform(X).shape
    (150, 2)
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "embedding_type": [StrOptions({"weighted", "orthonormalized", "plain"})],
        "reg": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=None, *, k=7, embedding_type="weighted", reg=1e-6):
        self.n_components = n_components
        self.k = k
        self.embedding_type = embedding_type
        self.reg = reg

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit LFDA on ``X`` with class labels ``y``."""
        # >= 2 classes, and some within-class scatter (not every class a singleton)
        X, y_codes, _ = self._validate_classes(X, y)
        n_components = resolve_n_components(self.n_components, X.shape[1])
        sub = ScaledSubspace(X)
        S_w, S_b = _local_scatters(sub.Z, y_codes, self.k)
        k = min(n_components, sub.rank)
        vals, V = fisher_directions(S_b, S_w, k, reg=self.reg)
        if self.embedding_type == "weighted":
            V = V * np.sqrt(vals)
        elif self.embedding_type == "orthonormalized":
            V, _ = np.linalg.qr(V)
            # undo the 1 / scale of to_features: orthonormal rows in feature space
            V = V * sub.scale
        self.components_ = sub.to_features(V.T, n_components)
        return self

