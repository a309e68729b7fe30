"""Squared Euclidean distances, computed exactly (no ||a||^2 + ||b||^2 - 2ab).

The difference form avoids catastrophic cancellation for close points and never
returns small negative values. Blocks keep memory at O(block_rows * n).
"""

import numba
import numpy as np

from ._options import njit_inline, size_dispatched


@njit_inline
def sq_dist(a, b):
    """Squared distance between two 1-D vectors, accumulated in float64."""
    acc = 0.0
    for f in range(a.shape[0]):
        diff = np.float64(a[f]) - np.float64(b[f])
        acc += diff * diff
    return acc


@size_dispatched(work=lambda A, B, out: out.size * A.shape[1])
def sq_dists_into(A, B, out):
    """Fill ``out[i, j] = ||A[i] - B[j]||^2`` (rows in parallel, disjoint writes)."""
    for i in numba.prange(A.shape[0]):
        for j in range(B.shape[0]):
            out[i, j] = sq_dist(A[i], B[j])


def iter_sq_distance_blocks(X, Y=None, *, block_rows=1024):
    """Yield ``(start, D)`` with ``D = ||X[start:stop] - Y||^2`` row blocks.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    Y : ndarray of shape (m, d), default=X
    block_rows : int, default=1024
        Peak memory is ``block_rows * m`` float64 values.

    Yields
    ------
    start : int
        First row of ``X`` in the block.
    D : ndarray of shape (stop - start, m)
        A view into one buffer that the next block overwrites: use it (or
        copy it) before advancing the iterator.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._kernels.distances import iter_sq_distance_blocks
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> [(s, D.tolist()) for s, D in iter_sq_distance_blocks(X, block_rows=2)]
    [(0, [[0.0, 1.0, 9.0], [1.0, 0.0, 4.0]]), (2, [[9.0, 4.0, 0.0]])]
    """
    if block_rows < 1:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}.")
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = X if Y is None else np.ascontiguousarray(Y, dtype=np.float64)
    buf = np.empty((min(block_rows, max(X.shape[0], 1)), Y.shape[0]))
    for start in range(0, X.shape[0], block_rows):
        stop = min(start + block_rows, X.shape[0])
        out = buf[: stop - start]
        sq_dists_into(X[start:stop], Y, out)
        yield start, out


def pairwise_sq_distances(X, Y=None, *, block_rows=1024):
    """Full ``(n, m)`` matrix of squared distances (for small problems and tests)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = X if Y is None else np.ascontiguousarray(Y, dtype=np.float64)
    out = np.empty((X.shape[0], Y.shape[0]))
    for start, block in iter_sq_distance_blocks(X, Y, block_rows=block_rows):
        out[start : start + block.shape[0]] = block
    return out
