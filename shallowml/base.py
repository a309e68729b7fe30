"""Shared Mahalanobis machinery: everything derived from the learned map ``L``.

An estimator stores one learned state, ``components_`` (``L``, shape
``(n_components, n_features)``). The metric is
``d(x, y) = ||L x - L y||_2`` and ``M = L^T L`` is its Mahalanobis matrix.
"""

import math

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .utils._compat import validate_data
from .utils.validation import check_tuple_indices, row_block, tuple_differences


_NDARRAY, _FLOAT64, _dot = np.ndarray, np.dtype(np.float64), np.dot


def tuple_distances(points, indices, first, second, components, *, block=None):
    """Learned distance ``||L (p_first - p_second)||`` inside every tuple of an indexed set.

    Computed a block of tuples at a time, so the temporaries stay at
    ``block`` rows whatever the number of tuples.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    indices : ndarray of int of shape (n_tuples, tuple_length)
        As returned by :func:`shallowml.utils.validation.check_tuple_indices`.
    first, second : int
        Positions inside the tuples.
    components : ndarray of shape (n_components, n_features)
    block : int, default=None
        Tuples per block; None: :func:`shallowml.utils.validation.row_block`.

    Returns
    -------
    distances : ndarray of shape (n_tuples,)
    """
    out = np.empty(indices.shape[0])
    block = row_block(points.shape[1]) if block is None else block
    for start in range(0, indices.shape[0], block):
        rows = indices[start:start + block]
        diff = tuple_differences(points, rows, first, second) @ components.T
        out[start:start + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


class MahalanobisDistance:
    """Picklable callable ``d(u, v) = ||L u - L v||`` for one fixed ``L``.

    Usable as ``KNeighborsClassifier(metric=MahalanobisDistance(L))`` or with
    ``scipy.spatial.distance.cdist(X, Y, metric=...)``.

    Parameters
    ----------
    components : ndarray of shape (n_components, n_features)
        Copied, so later changes to the source array do not affect it.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.base import MahalanobisDistance
    >>> d = MahalanobisDistance(np.diag([2.0, 1.0]))
    >>> d([1.0, 0.0], [0.0, 0.0])
    2.0
    >>> d([1.0, 0.0], [0.0, 0.0], squared=True)
    4.0
    """

    def __init__(self, components):
        self.components = np.array(components, dtype=np.float64, copy=True)

    def __call__(self, u, v, squared=False):
        """Distance between two 1-D vectors (squared with ``squared=True``).

        Raises ``ValueError`` for anything but two 1-D vectors with
        ``n_features`` entries, as :mod:`scipy.spatial.distance` does.
        """
        # fast path for what scikit-learn and scipy pass: 1-D float64 arrays of the
        # right length (identity tests only: ``dtype == np.float64`` alone costs
        # more than the distance), then one BLAS matrix-vector product; a
        # compiled loop is no faster at this size
        L = self.components
        n = L.shape[1]
        if not (type(u) is _NDARRAY and type(v) is _NDARRAY and u.dtype is _FLOAT64
                and v.dtype is _FLOAT64 and u.shape == v.shape == (n,)):
            u, v = self._checked(u, v, n)
        z = _dot(L, u - v)
        d2 = float(_dot(z, z))
        return d2 if squared else math.sqrt(d2)

    @staticmethod
    def _checked(u, v, n):
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        if u.ndim != 1 or v.ndim != 1:
            raise ValueError(
                f"MahalanobisDistance takes two 1-D vectors, got arrays of shape {u.shape} and {v.shape}; "
                "for many pairs use the estimator's pair_distance or transform."
            )
        if u.shape[0] != n or v.shape[0] != n:
            raise ValueError(f"Expected vectors with {n} features, got {u.shape[0]} and {v.shape[0]}.")
        return u, v

    def __repr__(self):
        return f"MahalanobisDistance(n_components={self.components.shape[0]}, n_features={self.components.shape[1]})"


class MahalanobisMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """Mixin for estimators that learn a linear map ``L`` (``components_``).

    Provides ``transform``, ``get_mahalanobis_matrix``, ``get_metric``,
    ``pair_distance``, ``pair_score``, ``get_feature_names_out`` and
    ``set_output`` support. Subclasses set ``components_`` (and the usual
    ``n_features_in_``) in ``fit``.
    """

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def transform(self, X):
        """Map ``X`` into the learned space, ``X @ L.T``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X @ self.components_.T.astype(X.dtype, copy=False)

    def get_mahalanobis_matrix(self):
        """Return ``M = L^T L``, shape ``(n_features, n_features)``, symmetric PSD.

        Raises ``ValueError`` when ``M`` is not representable in float64
        (entries of ``components_`` above about 1e154, e.g. after fitting on
        data scaled to 1e-160); ``components_`` and ``transform`` still work.
        """
        check_is_fitted(self)
        L = self.components_
        with np.errstate(over="ignore", invalid="ignore"):
            M = L.T @ L
        if not np.all(np.isfinite(M)):
            raise ValueError(
                f"M = L^T L overflows float64 (max |components_| = {np.abs(L).max():.3g}); "
                "use components_ or transform instead, or rescale the data."
            )
        return 0.5 * (M + M.T)

    def get_metric(self):
        """Return a picklable callable ``d(u, v)`` for the learned distance.

        The callable holds a copy of ``components_``: refitting the estimator
        later does not change it. It takes two 1-D vectors and
        ``squared=False`` (metric-learn's signature). Use it as
        ``KNeighborsClassifier(metric=est.get_metric())``; for speed prefer
        ``make_pipeline(est, KNeighborsClassifier())``, which is equivalent,
        or scikit-learn's compiled metric ``metric="mahalanobis",
        metric_params={"VI": est.get_mahalanobis_matrix()}`` (same distances).
        """
        check_is_fitted(self)
        return MahalanobisDistance(self.components_)

    def pair_distance(self, pairs):
        """Learned distance of each pair.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Formed pairs, or integer indices into the estimator's
            ``preprocessor`` when it has one (see :ref:`tuples_as_indices`).

        Returns
        -------
        distances : ndarray of shape (n_pairs,)
        """
        check_is_fitted(self)
        points, indices, _ = check_tuple_indices(
            pairs, 2, getattr(self, "preprocessor", None), n_features=self.components_.shape[1]
        )
        return tuple_distances(points, indices, 0, 1, self.components_)

    def pair_score(self, pairs):
        """Similarity score of each pair: the negative learned distance.

        Higher means more similar, so it can feed ROC AUC directly.
        """
        return -self.pair_distance(pairs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
