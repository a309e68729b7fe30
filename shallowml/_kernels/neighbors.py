"""Same-class and other-class k-nearest neighbours (LMNN target neighbours, LFDA local
scaling, k-NN triplets). One row at a time with a k-heap: memory O(n * k), never n x n."""

import numba
import numpy as np

from ._options import size_dispatched
from .distances import sq_dist
from .heap import heap_push, heap_sort


# work: about n * (class size) * d operations; n^2 d / n_classes is close enough to pick a variant
@size_dispatched(work=lambda X, order, starts, *_: X.shape[0] * X.shape[0] * X.shape[1] // max(1, starts.size - 1))
def _same_class_knn(X, order, starts, class_of, k_of_class, k_max):
    n = X.shape[0]
    ind = np.full((n, k_max), -1, dtype=np.int64)
    dist = np.full((n, k_max), np.finfo(np.float64).max)
    for i in numba.prange(n):
        c = class_of[i]
        k = k_of_class[c]
        if k == 0:
            continue
        hd = dist[i, :k]
        hi = ind[i, :k]
        for p in range(starts[c], starts[c + 1]):
            j = order[p]
            if j != i:
                heap_push(hd, hi, sq_dist(X[i], X[j]), j)
        heap_sort(hd, hi)
    return ind, dist


def same_class_neighbors(X, y_codes, k):
    """The ``k`` nearest neighbours of each sample among its own class.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y_codes : ndarray of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    k : int or ndarray of int of shape (n_classes,)
        Neighbours per sample, optionally per class. A class with ``n_c``
        samples gets at most ``n_c - 1`` neighbours; a sample never is its own
        neighbour.

    Returns
    -------
    indices : ndarray of shape (n_samples, k_max), int64
        Neighbour indices sorted by (distance, index); ``-1`` pads rows of
        classes with fewer neighbours.
    sq_distances : ndarray of shape (n_samples, k_max)
        Squared Euclidean distances; padding holds ``np.finfo(float64).max``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._kernels.neighbors import same_class_neighbors
    >>> X = np.array([[0.0], [1.0], [5.0], [2.0]])
    >>> ind, d = same_class_neighbors(X, np.array([0, 0, 1, 0]), 1)
    >>> ind.ravel().tolist()
    [1, 0, -1, 1]
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y_codes = np.asarray(y_codes, dtype=np.int64)
    counts = np.bincount(y_codes)
    k_of_class = np.minimum(np.broadcast_to(np.asarray(k, dtype=np.int64), counts.shape), counts - 1)
    k_of_class = np.maximum(k_of_class, 0)
    order = np.argsort(y_codes, kind="stable").astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    k_max = int(k_of_class.max(initial=0))
    return _same_class_knn(X, order, starts, y_codes, k_of_class, k_max)


@size_dispatched(work=lambda X, class_of, k: X.shape[0] * X.shape[0] * X.shape[1])
def _other_class_knn(X, class_of, k):
    n = X.shape[0]
    ind = np.full((n, k), -1, dtype=np.int64)
    dist = np.full((n, k), np.finfo(np.float64).max)
    for i in numba.prange(n):
        hd = dist[i]
        hi = ind[i]
        c = class_of[i]
        for j in range(n):
            if class_of[j] != c:
                heap_push(hd, hi, sq_dist(X[i], X[j]), j)
        heap_sort(hd, hi)
    return ind, dist


def other_class_neighbors(X, y_codes, k):
    """The ``k`` nearest neighbours of each sample among the other classes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y_codes : ndarray of int of shape (n_samples,)
    k : int

    Returns
    -------
    indices : ndarray of shape (n_samples, k), int64
        Sorted by (distance, index); ``-1`` pads rows with fewer than ``k``
        samples of other classes.
    sq_distances : ndarray of shape (n_samples, k)
        Squared Euclidean distances; padding holds ``np.finfo(float64).max``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._kernels.neighbors import other_class_neighbors
    >>> X = np.array([[0.0], [1.0], [5.0], [2.0]])
    >>> other_class_neighbors(X, np.array([0, 0, 1, 1]), 1)[0].ravel().tolist()
    [3, 3, 1, 1]
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y_codes = np.ascontiguousarray(y_codes, dtype=np.int64)
    return _other_class_knn(X, y_codes, int(k))
