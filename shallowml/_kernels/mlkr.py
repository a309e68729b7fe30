"""MLKR leave-one-out kernel regression weights for a block of rows (Weinberger & Tesauro, 2007).

For an anchor ``i`` and every other sample ``j`` the kernel turns squared
embedded distances ``d_ij`` into the Gaussian-kernel weights
``p_ij = exp(-d_ij) / sum_{l != i} exp(-d_il)`` (``p_ii = 0``), forms the
leave-one-out prediction ``yhat_i = sum_j p_ij y_j`` and its error
``e_i = yhat_i - y_i``, then overwrites the block with the gradient weights
``W_ij = p_ij * e_i * (y_j - yhat_i)`` (their row sums are zero). The softmax
is shifted by the row minimum (log-sum-exp), so coincident points (``d = 0``)
and huge distances (where ``exp(-d)`` underflows for every ``j``) both give
finite weights; terms below ``exp(-50)`` times the largest are treated as
zero, as in :mod:`shallowml._kernels.nca`.

Rows are processed in parallel (serially for small blocks); each row only
writes its own row of the block and its own output entries, so results do not
depend on the number of threads. The kernel also lists each row's
non-negligible columns, so that once the softmax is sharp (most weights
zero) the later passes, and the accumulation of ``W^T Z`` by
:func:`accumulate_transposed_sparse`, visit only those.
"""

import numba
import numpy as np

from ._options import size_dispatched

# exp(dmin - d) below exp(-50) ~ 2e-22 is zero (the largest term is 1): see _kernels/nca.py
_LOG_NEGLIGIBLE = -50.0
# Blocks with fewer (anchor, sample) pairs than this run the serial variant.
_PARALLEL_MIN_PAIRS = 2**17


@size_dispatched(work=lambda block, *_: block.size, min_work=_PARALLEL_MIN_PAIRS)
def mlkr_block_weights(block, Z, ZT, sq_norms, from_products, rows, y, err_out, wz_out, nz_index, nz_count):
    """MLKR gradient weights of a block of anchor rows.

    Parameters
    ----------
    block : ndarray of shape (b, n), float64
        Output: the weights ``W[rows[r], j]`` (zero on the diagonal
        ``j == rows[r]`` and wherever the kernel weight is negligible). On
        entry, the inner products ``<z_rows[r], z_j>`` when
        ``from_products``, else ignored.
    Z : ndarray of shape (n, k)
        Embedded samples.
    ZT : ndarray of shape (k, n)
        ``Z.T`` in C order (exact difference form of the squared distances,
        accumulated feature by feature over contiguous ``j``). Unused when
        ``from_products``.
    sq_norms : ndarray of shape (n,)
        ``||z_j||^2``; with ``from_products`` the squared distances are
        ``max(|z_i|^2 + |z_j|^2 - 2 <z_i, z_j>, 0)`` (``Z`` should be centred).
    from_products : bool
    rows : ndarray of int64 of shape (b,)
        Global index of each anchor row.
    y : ndarray of float64 of shape (n,)
        Regression targets (best centred: a row predicts 0 when isolated).
    err_out : ndarray of shape (b,)
        Receives ``e_i = yhat_i - y_i``.
    wz_out : ndarray of shape (b, k)
        Receives ``(W Z)[rows]``.
    nz_index : ndarray of int32 of shape (b, n)
        Receives, in its first ``nz_count[r]`` entries of row ``r``, the
        columns ``j`` (ascending) whose kernel weight is not negligible: the
        only ones where ``block[r, j]`` may be non-zero. Once the softmax is
        sharp they are few, and the later passes (here and in
        :func:`accumulate_transposed_sparse`) visit only them.
    nz_count : ndarray of int64 of shape (b,)

    Notes
    -----
    A row whose distances to all other samples overflow to infinity (or are
    NaN) has no finite kernel weight: it gets zero weights and the prediction
    ``yhat_i = 0`` (the mean target once ``y`` is centred), so it adds
    ``y_i^2`` to the loss and nothing to the gradient, rather than NaN.
    """
    b, n = block.shape
    k = Z.shape[1]
    big = np.finfo(np.float64).max
    for r in numba.prange(b):
        i = rows[r]
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
        row[i] = big  # not its own neighbour
        dmin = big
        for j in range(n):
            if row[j] < dmin:
                dmin = row[j]
        acc = wz_out[r]
        acc[:] = 0.0
        if not dmin < big:
            row[:] = 0.0
            nz_count[r] = 0
            err_out[r] = -y[i]
            continue
        # keep the columns with exp(dmin - d) > exp(-50); zero the others
        index = nz_index[r]
        m = 0
        for j in range(n):
            if dmin - row[j] > _LOG_NEGLIGIBLE:
                index[m] = j
                m += 1
            else:
                row[j] = 0.0
        s = 0.0
        sy = 0.0
        for q in range(m):
            j = index[q]
            e = np.exp(dmin - row[j])
            row[j] = e
            s += e
            sy += e * y[j]
        # s >= 1: the nearest neighbour contributes exp(0)
        yhat = sy / s
        err = yhat - y[i]
        scale = err / s
        for q in range(m):
            j = index[q]
            w = row[j] * scale * (y[j] - yhat)
            row[j] = w
            if w == 0.0:
                continue
            for f in range(k):
                acc[f] += w * Z[j, f]
        nz_count[r] = m
        err_out[r] = err


@size_dispatched(work=lambda block, nz_index, nz_count, Zb, *_: int(nz_count.sum()) * (Zb.shape[1] + 1),
                 min_work=_PARALLEL_MIN_PAIRS * 8)
def accumulate_transposed_sparse(block, nz_index, nz_count, Zb, out, tile=64):
    """``out[:, :k] += W_B^T Z_B`` and ``out[:, k] += W_B^T 1``, visiting the listed columns only.

    ``block`` holds ``W_B`` (b x n), non-zero only at the first
    ``nz_count[r]`` columns listed (ascending) in ``nz_index[r]``; ``Zb`` the
    embedded anchors (b x k); ``out`` is (n x (k + 1)). Columns are split
    into tiles of ``tile``; each tile owns its output rows and sums over the
    anchors in order (the same order and terms as a dense pass skipping
    zeros), so writes are disjoint and the result does not depend on the
    number of threads.
    """
    b, n = block.shape
    k = Zb.shape[1]
    n_tiles = (n + tile - 1) // tile
    for t in numba.prange(n_tiles):
        j0 = t * tile
        j1 = min(j0 + tile, n)
        for r in range(b):
            index = nz_index[r]
            m = nz_count[r]
            # first listed column >= j0 (the list is sorted)
            lo, hi = 0, m
            while lo < hi:
                mid = (lo + hi) // 2
                if index[mid] < j0:
                    lo = mid + 1
                else:
                    hi = mid
            for q in range(lo, m):
                j = index[q]
                if j >= j1:
                    break
                w = block[r, j]
                if w == 0.0:
                    continue
                for f in range(k):
                    out[j, f] += w * Zb[r, f]
                out[j, k] += w
