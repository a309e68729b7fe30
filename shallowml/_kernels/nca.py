"""NCA soft-neighbour weights for a block of anchor rows (Goldberger et al., 2004).

For an anchor ``i`` and every other sample ``j`` the kernel turns squared
embedded distances ``d_ij`` into ``p_ij = softmax_j(-d_ij)`` (``p_ii = 0``)
with a log-sum-exp shift by the row minimum, so coincident points (``d = 0``)
and huge distances (where ``exp(-d)`` underflows for every ``j``) both give
finite weights; terms below ``exp(-50)`` times the largest are treated as zero. It then overwrites the block with the gradient weights
``W_ij = p_ij * ([y_i == y_j] - p_i)`` where ``p_i = sum_{j: y_j = y_i} p_ij``.

Rows are processed in parallel; each row only writes its own row of the block
and its own ``p`` entry, so results do not depend on the number of threads.
"""

import numba
import numpy as np

from ._options import njit_parallel

# Terms exp(dmin - d) below exp(-50) ~ 2e-22 are set to zero (the largest term is 1):
# even a million of them move the row sum by less than float64 round-off, and
# skipping them saves most calls to exp (and libm's slow subnormal path).
_LOG_NEGLIGIBLE = -50.0


@njit_parallel
def nca_block_weights(block, sq_norms, rows, y, p_out):
    """Turn a block of inner products into NCA gradient weights, in place.

    Parameters
    ----------
    block : ndarray of shape (b, n), float64
        On entry ``block[r, j] = <z_rows[r], z_j>``; on exit the weights
        ``W[rows[r], j]`` (zero on the diagonal ``j == rows[r]``).
    sq_norms : ndarray of shape (n,)
        ``||z_j||^2``. Squared distances are ``max(|z_i|^2 + |z_j|^2 - 2 <z_i, z_j>, 0)``.
    rows : ndarray of int64 of shape (b,)
        Global index of each anchor row.
    y : ndarray of int64 of shape (n,)
        Class codes.
    p_out : ndarray of shape (b,)
        Receives ``p_i``, the probability that anchor ``i`` picks a
        same-class neighbour.

    Notes
    -----
    A row whose distances to all other samples overflow to infinity (or are
    NaN) gets zero weights and ``p_i = 0``: it is isolated, and contributes
    nothing rather than NaN.
    """
    b, n = block.shape
    big = np.finfo(np.float64).max
    for r in numba.prange(b):
        i = rows[r]
        yi = y[i]
        ni = sq_norms[i]
        dmin = big
        for j in range(n):
            d = ni + sq_norms[j] - 2.0 * block[r, j]
            if d < 0.0:
                d = 0.0
            block[r, j] = d
            if j != i and d < dmin:
                dmin = d
        if not dmin < big:
            for j in range(n):
                block[r, j] = 0.0
            p_out[r] = 0.0
            continue
        s = 0.0
        s_same = 0.0
        for j in range(n):
            if j == i:
                block[r, j] = 0.0
                continue
            t = dmin - block[r, j]
            e = np.exp(t) if t > _LOG_NEGLIGIBLE else 0.0
            block[r, j] = e
            s += e
            if y[j] == yi:
                s_same += e
        # s >= 1: the nearest neighbour contributes exp(0)
        pi = s_same / s
        inv = 1.0 / s
        for j in range(n):
            if y[j] == yi:
                block[r, j] *= inv * (1.0 - pi)
            else:
                block[r, j] *= -inv * pi
        p_out[r] = pi


@njit_parallel
def symmetrize_add(W, tile=64):
    """Replace a square ``W`` by ``W + W^T`` in place.

    Work is split into tiles of ``tile`` rows; the pair ``(i, j)``, ``i <= j``,
    is only touched by the tile holding ``i``, so writes are disjoint.
    """
    n = W.shape[0]
    n_tiles = (n + tile - 1) // tile
    for t in numba.prange(n_tiles):
        i0 = t * tile
        i1 = min(i0 + tile, n)
        for j0 in range(i0, n, tile):
            j1 = min(j0 + tile, n)
            for i in range(i0, i1):
                for j in range(max(j0, i), j1):
                    s = W[i, j] + W[j, i]
                    W[i, j] = s
                    W[j, i] = s
