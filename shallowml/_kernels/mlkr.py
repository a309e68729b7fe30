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
depend on the number of threads. ``W^T Z`` is accumulated by
:func:`shallowml._kernels.nca.accumulate_transposed`.
"""

import numba
import numpy as np

from ._options import size_dispatched

# exp(dmin - d) below exp(-50) ~ 2e-22 is zero (the largest term is 1): see _kernels/nca.py
_LOG_NEGLIGIBLE = -50.0
# Blocks with fewer (anchor, sample) pairs than this run the serial variant.
_PARALLEL_MIN_PAIRS = 2**17


@size_dispatched(work=lambda block, *_: block.size, min_work=_PARALLEL_MIN_PAIRS)
def mlkr_block_weights(block, Z, ZT, sq_norms, from_products, rows, y, err_out, wz_out):
    """MLKR gradient weights of a block of anchor rows.

    Parameters
    ----------
    block : ndarray of shape (b, n), float64
        Output: the weights ``W[rows[r], j]`` (zero on the diagonal
        ``j == rows[r]``). On entry, the inner products ``<z_rows[r], z_j>``
        when ``from_products``, else ignored.
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
        Receives ``(W Z)[rows]``, summed over the non-zero weights only.

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
        dmin = big
        for j in range(n):
            if j != i and row[j] < dmin:
                dmin = row[j]
        acc = wz_out[r]
        acc[:] = 0.0
        if not dmin < big:
            for j in range(n):
                row[j] = 0.0
            err_out[r] = -y[i]
            continue
        s = 0.0
        sy = 0.0
        for j in range(n):
            if j == i:
                row[j] = 0.0
                continue
            t = dmin - row[j]
            e = np.exp(t) if t > _LOG_NEGLIGIBLE else 0.0
            row[j] = e
            s += e
            sy += e * y[j]
        # s >= 1: the nearest neighbour contributes exp(0)
        yhat = sy / s
        err = yhat - y[i]
        scale = err / s
        for j in range(n):
            e = row[j]
            if e == 0.0:
                continue
            w = e * scale * (y[j] - yhat)
            row[j] = w
            if w == 0.0:
                continue
            for f in range(k):
                acc[f] += w * Z[j, f]
        err_out[r] = err
