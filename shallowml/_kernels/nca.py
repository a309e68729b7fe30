"""NCA soft-neighbour weights for a block of anchor rows (Goldberger et al., 2004).

For an anchor ``i`` and every other sample ``j`` the kernel turns squared
embedded distances ``d_ij`` into ``p_ij = softmax_j(-d_ij)`` (``p_ii = 0``)
with a log-sum-exp shift by the row minimum, so coincident points (``d = 0``)
and huge distances (where ``exp(-d)`` underflows for every ``j``) both give
finite weights; terms below ``exp(-50)`` times the largest are treated as zero. It then overwrites the block with the gradient weights
``W_ij = p_ij * ([y_i == y_j] - p_i)`` where ``p_i = sum_{j: y_j = y_i} p_ij``.

Rows are processed in parallel (serially for small blocks); each row only writes its own row of the block
and its own ``p`` entry, so results do not depend on the number of threads.
"""

import numba
import numpy as np

from ._options import size_dispatched

# Terms exp(dmin - d) below exp(-50) ~ 2e-22 are set to zero (the largest term is 1):
# even a million of them move the row sum by less than float64 round-off, and
# skipping them saves most calls to exp (and libm's slow subnormal path).
_LOG_NEGLIGIBLE = -50.0
# Blocks with fewer (anchor, sample) pairs than this run the serial variants.
_PARALLEL_MIN_PAIRS = 2**17


@size_dispatched(work=lambda block, *_: block.size, min_work=_PARALLEL_MIN_PAIRS)
def nca_block_weights(block, Z, ZT, sq_norms, from_products, rows, y, p_out, wz_out):
    """NCA gradient weights of a block of anchor rows.

    Parameters
    ----------
    block : ndarray of shape (b, n), float64
        Output: the weights ``W[rows[r], j]`` (zero on the diagonal
        ``j == rows[r]``). On entry, the inner products ``<z_rows[r], z_j>``
        when ``from_products``, else ignored.
    Z : ndarray of shape (n, k)
        Embedded samples.
    ZT : ndarray of shape (k, n)
        ``Z.T`` in C order, so squared distances ``sum_f (z_if - z_jf)^2`` are
        accumulated feature by feature over contiguous ``j`` (exact difference
        form, vectorised, no cancellation). Unused when ``from_products``.
    sq_norms : ndarray of shape (n,)
        ``||z_j||^2``; with ``from_products`` the squared distances are
        ``max(|z_i|^2 + |z_j|^2 - 2 <z_i, z_j>, 0)`` (faster through BLAS
        when ``k`` is large; ``Z`` should be centred).
    from_products : bool
    rows : ndarray of int64 of shape (b,)
        Global index of each anchor row.
    y : ndarray of int64 of shape (n,)
        Class codes.
    p_out : ndarray of shape (b,)
        Receives ``p_i``, the probability that anchor ``i`` picks a
        same-class neighbour.
    wz_out : ndarray of shape (b, k)
        Receives ``(W Z)[rows]``, summed over the non-zero weights only
        (``W`` is sparse once the softmax is sharp).

    Notes
    -----
    A row whose distances to all other samples overflow to infinity (or are
    NaN) gets zero weights and ``p_i = 0``: it is isolated, and contributes
    nothing rather than NaN.
    """
    b, n = block.shape
    k = Z.shape[1]
    big = np.finfo(np.float64).max
    for r in numba.prange(b):
        i = rows[r]
        yi = y[i]
        row = block[r]
        if from_products:
            ni = sq_norms[i]
            for j in range(n):
                d = ni + sq_norms[j] - 2.0 * row[j]
                row[j] = d if d > 0.0 else 0.0
        else:
            row[:] = 0.0
            for f in range(k):
                a = Z[i, f]
                zf = ZT[f]
                for j in range(n):
                    diff = a - zf[j]
                    row[j] += diff * diff
        dmin = big
        for j in range(n):
            if j != i and row[j] < dmin:
                dmin = row[j]
        if not dmin < big:
            for j in range(n):
                block[r, j] = 0.0
            p_out[r] = 0.0
            wz_out[r, :] = 0.0
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
        w_same = (1.0 - pi) / s
        w_other = -pi / s
        acc = wz_out[r]
        acc[:] = 0.0
        for j in range(n):
            e = block[r, j]
            if e == 0.0:
                continue
            w = e * w_same if y[j] == yi else e * w_other
            block[r, j] = w
            for f in range(k):
                acc[f] += w * Z[j, f]
        p_out[r] = pi


@size_dispatched(work=lambda block, *_: block.size, min_work=_PARALLEL_MIN_PAIRS)
def accumulate_transposed(block, Zb, out, tile=64):
    """``out[:, :k] += W_B^T Z_B`` and ``out[:, k] += W_B^T 1``, skipping zero weights.

    ``block`` holds ``W_B`` (b x n), ``Zb`` the embedded anchors (b x k) and
    ``out`` is (n x (k + 1)). Columns are split into tiles of ``tile``; each
    tile owns its output rows and sums over the anchors in order, so writes
    are disjoint and the result does not depend on the number of threads.
    """
    b, n = block.shape
    k = Zb.shape[1]
    n_tiles = (n + tile - 1) // tile
    for t in numba.prange(n_tiles):
        j0 = t * tile
        j1 = min(j0 + tile, n)
        for r in range(b):
            for j in range(j0, j1):
                w = block[r, j]
                if w == 0.0:
                    continue
                for f in range(k):
                    out[j, f] += w * Zb[r, f]
                out[j, k] += w
