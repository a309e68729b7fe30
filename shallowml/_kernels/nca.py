"""NCA soft-neighbour weights for a block of anchor rows (Goldberger et al., 2004).

A block pairs ``b`` anchors (rows) with ``m`` candidate neighbours
(columns; all samples in the full objective). For an anchor ``i`` and every
candidate ``j`` the kernel turns squared embedded distances ``d_ij`` into
``p_ij = softmax_j(-d_ij)`` (``p_ii = 0`` when the anchor is among the
candidates) with a log-sum-exp shift by the row minimum, so coincident points
(``d = 0``) and huge distances (where ``exp(-d)`` underflows for every ``j``)
both give finite weights; terms below ``exp(-50)`` times the largest are
treated as zero. It then forms the gradient weights
``W_ij = p_ij * ([y_i == y_j] - p_i)`` where ``p_i = sum_{j: y_j = y_i} p_ij``.

The weights are stored compactly, row by row: once the softmax is sharp most
of them are zero (measured on make_classification, n=4000: 10 % non-zero at
the identity start, under 0.1 % after 40 L-BFGS iterations), so everything
after the distances costs ``O(non-zeros)``: the exponentials, ``W Z`` and
``W^T Z``. The distances themselves come from one BLAS product per block
(see :func:`shallowml._losses.nca.nca_loss_grad`) or, for tiny embeddings,
from the exact difference form here.

Rows (anchors) or column tiles are processed in parallel (serially for small
blocks); each writes only its own outputs and sums in a fixed order, so
results do not depend on the number of threads.
"""

import numba
import numpy as np

from ._math import exp_nonpositive
from ._options import size_dispatched

# Terms exp(dmin - d) below exp(-50) ~ 2e-22 are set to zero (the largest term is 1):
# even a million of them move the row sum by less than float64 round-off.
_LOG_NEGLIGIBLE = -50.0
# Blocks with fewer (anchor, candidate) pairs than this run the serial variants.
_PARALLEL_MIN_PAIRS = 2**17


@size_dispatched(work=lambda block, *_: block.size, min_work=_PARALLEL_MIN_PAIRS)
def nca_block_weights(block, cols, counts, Zr, ZcT, sq_rows, sq_cols, from_products, self_col,
                      y_rows, y_cols, Zc, p_out, wz_out):
    """NCA gradient weights of a block of anchor rows, compacted row by row.

    Parameters
    ----------
    block : ndarray of shape (b, m), float64
        On entry, the inner products ``<z_r, z_c>`` of anchor ``r`` and
        candidate ``c`` when ``from_products`` (else ignored). On exit, row
        ``r`` starts with its ``counts[r]`` non-zero weights ``W[r, c]``;
        the rest of the row is scratch.
    cols : ndarray of int32 of shape (b, m)
        Output: row ``r`` starts with the candidate (column) index of each
        stored weight, in increasing order.
    counts : ndarray of int64 of shape (b,)
        Output: number of stored weights per row.
    Zr : ndarray of shape (b, k)
        Embedded anchors (used by the difference form only).
    ZcT : ndarray of shape (k, m)
        Embedded candidates, transposed (C order), so squared distances
        ``sum_f (z_rf - z_cf)^2`` are accumulated feature by feature over
        contiguous candidates (exact difference form, vectorised). Unused
        when ``from_products``.
    sq_rows : ndarray of shape (b,)
    sq_cols : ndarray of shape (m,)
        ``||z||^2`` of anchors and candidates; with ``from_products`` the
        squared distances are ``max(|z_r|^2 + |z_c|^2 - 2 <z_r, z_c>, 0)``
        (the caller centres ``Z`` and keeps the norms far from overflow).
    from_products : bool
    self_col : ndarray of int64 of shape (b,)
        Column of the anchor itself among the candidates (excluded from its
        softmax), or -1.
    y_rows : ndarray of int64 of shape (b,)
    y_cols : ndarray of int64 of shape (m,)
        Class codes of anchors and candidates.
    Zc : ndarray of shape (m, k)
        Embedded candidates.
    p_out : ndarray of shape (b,)
        Receives ``p_i``, the probability that anchor ``i`` picks a
        same-class candidate.
    wz_out : ndarray of shape (b, k)
        Receives ``(W Z_c)[r]``, summed over the stored weights.

    Notes
    -----
    A row whose distances to all candidates are infinite or NaN (or that
    has no candidate but itself) gets no weights and ``p_i = 0``: it is
    isolated, and contributes nothing rather than NaN.
    """
    b, m = block.shape
    k = Zc.shape[1]
    big = np.finfo(np.float64).max
    for r in numba.prange(b):
        row = block[r]
        if from_products:
            a = sq_rows[r]
            for j in range(m):
                d = a + sq_cols[j] - 2.0 * row[j]
                row[j] = d if d > 0.0 else 0.0
        else:
            row[:] = 0.0
            for f in range(k):
                a = Zr[r, f]
                zf = ZcT[f]
                for j in range(m):
                    diff = a - zf[j]
                    row[j] += diff * diff
        if self_col[r] >= 0:
            row[self_col[r]] = big
        # four running minima (independent chains), then theirs
        m0 = m1 = m2 = m3 = big
        m4 = m - m % 4
        for j in range(0, m4, 4):
            m0 = row[j] if row[j] < m0 else m0
            m1 = row[j + 1] if row[j + 1] < m1 else m1
            m2 = row[j + 2] if row[j + 2] < m2 else m2
            m3 = row[j + 3] if row[j + 3] < m3 else m3
        for j in range(m4, m):
            m0 = row[j] if row[j] < m0 else m0
        dmin = min(min(m0, m1), min(m2, m3))
        acc = wz_out[r]
        acc[:] = 0.0
        if not dmin < big:
            counts[r] = 0
            p_out[r] = 0.0
            continue
        # compact the terms that matter: t = dmin - d > -50 (in place, branch free:
        # always write, advance when kept; the write index never passes the read one)
        cr = cols[r]
        c = 0
        for j in range(m):
            t = dmin - row[j]
            row[c] = t
            cr[c] = j
            c += t > _LOG_NEGLIGIBLE
        for q in range(c):
            row[q] = exp_nonpositive(row[q])
        yi = y_rows[r]
        s = 0.0
        s_same = 0.0
        for q in range(c):
            e = row[q]
            s += e
            if y_cols[cr[q]] == yi:
                s_same += e
        # s >= 1: the nearest candidate contributes exp(0)
        pi = s_same / s
        w_same = (1.0 - pi) / s
        w_other = -pi / s
        for q in range(c):
            j = cr[q]
            w = row[q] * (w_same if y_cols[j] == yi else w_other)
            row[q] = w
            for f in range(k):
                acc[f] += w * Zc[j, f]
        counts[r] = c
        p_out[r] = pi


@size_dispatched(work=lambda block, cols, counts, Zr, out, tile=256: int(counts.sum()) * Zr.shape[1],
                 min_work=_PARALLEL_MIN_PAIRS)
def accumulate_transposed(block, cols, counts, Zr, out, tile=256):
    """``out[:, :k] += W^T Z_r`` and ``out[:, k] += W^T 1`` from compact rows.

    ``block``, ``cols`` and ``counts`` hold the weights as
    :func:`nca_block_weights` leaves them, ``Zr`` the embedded anchors
    (b x k) and ``out`` is (m x (k + 1)). Candidates are split into tiles
    of ``tile`` columns; each tile owns its output rows and adds the anchors'
    contributions in anchor order, so writes are disjoint and the result
    does not depend on the number of threads.
    """
    b = counts.shape[0]
    m = out.shape[0]
    k = Zr.shape[1]
    n_tiles = (m + tile - 1) // tile
    for t in numba.prange(n_tiles):
        j0 = t * tile
        j1 = min(j0 + tile, m)
        for r in range(b):
            c = counts[r]
            if c == 0:
                continue
            cr = cols[r]
            q = np.searchsorted(cr[:c], j0)
            while q < c and cr[q] < j1:
                j = cr[q]
                w = block[r, q]
                for f in range(k):
                    out[j, f] += w * Zr[r, f]
                out[j, k] += w
                q += 1
