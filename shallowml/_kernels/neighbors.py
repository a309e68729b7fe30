"""Same-class and other-class k-nearest neighbours (LMNN target neighbours, LFDA local
scaling, k-NN triplets). One row at a time with a k-heap: memory O(n * k), never n x n."""

import numba
import numpy as np

from ._options import njit_serial, size_dispatched
from ._tiles import run_tiles
from .distances import sq_dist
from .heap import heap_push, heap_sort


@njit_serial
def same_class_tile(G, rows, cols, X, sqn, class_of, k_of_class, ind, dist, rel_margin, abs_margin):
    """Push the same-class pairs of one tile ``G ~ X[rows] @ X[cols].T`` into the k-heaps of its rows.

    ``ind[i, :k]`` / ``dist[i, :k]`` are the max-heaps of row ``i``
    (:mod:`.heap`, ``k = k_of_class[class_of[i]]``). A pair is skipped
    without its exact distance when ``|x_i|^2 + |x_j|^2 - 2 G`` minus the
    margin ``rel_margin * (|x_i|^2 + |x_j|^2) + abs_margin`` (above the
    rounding error of ``G``) exceeds the heap's root, so the heaps end as
    with every exact distance pushed. Serial and ``nogil``: tiles run on
    Python threads, each heap row in one thread (see :mod:`._tiles`).
    """
    keep = 1.0 - rel_margin
    for r in range(rows.shape[0]):
        i = rows[r]
        c = class_of[i]
        k = k_of_class[c]
        if k == 0:
            continue
        hd = dist[i, :k]
        hx = ind[i, :k]
        p_row = sqn[i] * keep - abs_margin
        for q in range(cols.shape[0]):
            j = cols[q]
            if j == i or class_of[j] != c:
                continue
            # a full heap rejects a pair whose lower bound exceeds its root (NaN: no rejection)
            if hx[0] >= 0 and p_row + sqn[j] * keep - 2.0 * np.float64(G[r, q]) > hd[0]:
                continue
            heap_push(hd, hx, sq_dist(X[i], X[j]), j)


@size_dispatched(work=lambda ind, dist, k_of_row: ind.size * 8)
def sort_heaps(ind, dist, k_of_row):
    """Sort the heap ``[:k_of_row[i]]`` of every row ``i`` in place into ascending (distance, index) order."""
    for i in numba.prange(ind.shape[0]):
        k = k_of_row[i]
        heap_sort(dist[i, :k], ind[i, :k])


def filter_products(X):
    """``(P, rel_margin, abs_margin)``: rows whose products ``P @ P.T`` filter pairs of rows of ``X``.

    ``P`` is ``X`` in float32 (BLAS runs the product about three times as
    fast as in float64) unless ``X`` holds values beyond 1e15, where float32
    products could overflow; then ``X`` itself. The margins bound the error
    of ``|x_i|^2 + |x_j|^2 - 2 p_i . p_j`` with room to spare: a dot product
    of length ``d`` in precision ``u`` errs by at most ``(d + 3) u |x_i| |x_j|``
    (conversion to float32 included), and a value below the smallest normal
    float32 by at most ``2^-126`` times the other factor.
    """
    d = X.shape[1]
    top = float(np.max(np.abs(X), initial=0.0))
    if np.isfinite(top) and top < 1e15:
        P = X.astype(np.float32)
        u = float(np.finfo(np.float32).eps)
        absolute = 8.0 * d * 2.0**-126 * (1.0 + top)
    else:
        P = X
        u = float(np.finfo(np.float64).eps)
        absolute = 1e-300
    return P, max(1e-9, 8.0 * (d + 4) * u), absolute


# rows (and columns) per tile: a 1024 x 1024 tile is 4 MiB in float32, in the
# shared cache, and one BLAS product per tile is large enough to run at speed
TILE_ROWS = 1024


def _class_groups(starts, tile_rows):
    """Ranges of the class-sorted order: each large class alone, small ones packed together."""
    groups = []
    g0 = 0
    for c in range(starts.size - 1):
        a, b = int(starts[c]), int(starts[c + 1])
        if b - a >= tile_rows // 2:
            if a > g0:
                groups.append((g0, a))
            groups.append((a, b))
            g0 = b
        elif b - g0 > tile_rows:
            groups.append((g0, a))
            g0 = a
    if starts[-1] > g0:
        groups.append((g0, int(starts[-1])))
    return groups


def same_class_neighbors(X, y_codes, k, *, tile_rows=TILE_ROWS, progress=None):
    """The ``k`` nearest neighbours of each sample among its own class.

    Exact search over the pairs within each class, blocked into tiles of the
    class-sorted samples: one BLAS product per tile filters the pairs (float32
    with a safe margin), the distances of those that could enter a row's
    k-heap are computed exactly in difference form
    (:func:`same_class_tile`). Tiles run on the kernel threads, each row's
    heap in one thread; the result does not depend on the tiling or on the
    number of threads. Time O(sum_c n_c^2 d), memory O(n * k) plus one tile
    per thread.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y_codes : ndarray of int of shape (n_samples,)
        Class indices in ``0..n_classes-1``.
    k : int or ndarray of int of shape (n_classes,)
        Neighbours per sample, optionally per class. A class with ``n_c``
        samples gets at most ``n_c - 1`` neighbours; a sample never is its own
        neighbour.
    tile_rows : int, default=TILE_ROWS
        Rows per tile.
    progress : callable, default=None
        ``progress(blocks_done, n_blocks)``, called about every 2 seconds
        while the search runs.

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
    y_codes = np.ascontiguousarray(y_codes, dtype=np.int64)
    n = X.shape[0]
    counts = np.bincount(y_codes)
    k_of_class = np.minimum(np.broadcast_to(np.asarray(k, dtype=np.int64), counts.shape), counts - 1)
    k_of_class = np.ascontiguousarray(np.maximum(k_of_class, 0))
    k_max = int(k_of_class.max(initial=0))
    ind = np.full((n, k_max), -1, dtype=np.int64)
    dist = np.full((n, k_max), np.finfo(np.float64).max)
    if k_max == 0:
        return ind, dist
    order = np.argsort(y_codes, kind="stable").astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    sqn = np.einsum("ij,ij->i", X, X)
    P, rel, absolute = filter_products(X)
    P = P[order]
    B = max(1, int(tile_rows))
    # one work item: a block of rows against every column block of its group
    items = [(g0, g1, a) for g0, g1 in _class_groups(starts, B) for a in range(g0, g1, B)]

    def work(t):
        g0, g1, a = items[t]
        b = min(a + B, g1)
        rows = order[a:b]
        for c in range(g0, g1, B):
            e = min(c + B, g1)
            with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN products go to the exact test
                G = P[a:b] @ P[c:e].T
            same_class_tile(G, rows, order[c:e], X, sqn, y_codes, k_of_class, ind, dist, rel, absolute)

    run_tiles(len(items), work, progress=progress)
    sort_heaps(ind, dist, k_of_class[y_codes])
    return ind, dist


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
