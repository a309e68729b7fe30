"""LMNN kernels: impostor search and the per-row loss / weighted-sum pass.

Notation: ``Z = X @ L.T`` are the samples in the learned space, ``targets``
(n, k) the fixed target neighbours (``-1`` pads rows with fewer), and an
impostor list in CSR form (``indptr``, ``indices``) holds, for each row ``i``,
the samples ``l`` of other classes to test in the hinge
``[1 + ||z_i - z_j||^2 - ||z_i - z_l||^2]_+``.

Every kernel loops over rows with ``prange`` and writes only row ``i`` of its
outputs, so results do not depend on the thread count. Each is declared with
:func:`~shallowml._kernels._options.size_dispatched`: a serial and a
parallel variant of one Python function, both cached on disk, picked per
call by the amount of work. Memory
is O(n * k + number of impostor pairs); no n x n matrix is ever formed.
"""

import numba
import numpy as np

from ._options import njit_inline, njit_serial, size_dispatched
from .distances import sq_dist
from .heap import heap_push


@size_dispatched(work=lambda Z, targets: targets.size * Z.shape[1])
def target_sq_dists(Z, targets):
    """``||z_i - z_{targets[i, j]}||^2`` (0 where the target is the ``-1`` pad)."""
    n, k = targets.shape
    out = np.zeros((n, k))
    for i in numba.prange(n):
        for j in range(k):
            t = targets[i, j]
            if t >= 0:
                out[i, j] = sq_dist(Z[i], Z[t])
    return out


@njit_inline
def _grown(a, m):
    """``a`` with room for at least ``m + 2`` entries (doubled when full)."""
    if m + 2 <= a.shape[0]:
        return a
    out = np.empty(2 * a.shape[0] + 2, dtype=a.dtype)
    out[:m] = a[:m]
    return out


@njit_serial
def impostor_tile(G, row0, col0, Z, sqn, y_codes, radius, rel_margin, abs_margin):
    """Impostor pairs of one tile ``G ~ Z[row0:...] @ Z[col0:...].T``, both directions.

    Each unordered pair ``{i, l}`` with ``l > i`` is tested once (tiles on
    and above the diagonal cover every pair); it yields ``(i, l)`` when
    ``||z_i - z_l||^2 < radius[i]`` and ``(l, i)`` when it is below
    ``radius[l]``, for samples of different classes.

    ``G`` (float32 or float64) only filters: a pair is skipped when
    ``|z_i|^2 + |z_l|^2 - 2 G`` minus the margin
    ``rel_margin * (|z_i|^2 + |z_l|^2) + abs_margin`` is at least both radii,
    so a margin above the rounding error of ``G`` never skips a pair the
    exact test keeps (NaN or inf in ``G`` send the pair to the exact test).
    The distance of a pair that passes is recomputed exactly in difference
    form. Serial and ``nogil``: tiles run on Python threads (see
    :mod:`._tiles`).

    Returns
    -------
    rows, cols : ndarray of int64
        The pairs found, ``(row, impostor)``.
    """
    nr, nc = G.shape
    keep = 1.0 - rel_margin
    q_col = np.empty(nc)
    r_col = np.empty(nc)
    for q in range(nc):
        q_col[q] = sqn[col0 + q] * keep
        r_col[q] = radius[col0 + q]
    tmp = np.empty(nc)
    a = np.empty(64, dtype=np.int64)
    b = np.empty(64, dtype=np.int64)
    m = 0
    for r in range(nr):
        i = row0 + r
        yi = y_codes[i]
        ri = radius[i]
        p_row = sqn[i] * keep - abs_margin
        q0 = i + 1 - col0
        if q0 < 0:
            q0 = 0
        # a branch-free (vectorisable) pass computes w - max(radii) and counts the
        # pairs that pass (a pair is kept unless w >= max radius; NaN keeps it);
        # the rare chunks of 16 columns holding one are then scanned again
        n_hit = 0
        for q in range(q0, nc):
            rq = r_col[q]
            t = p_row + q_col[q] - 2.0 * np.float64(G[r, q]) - (rq if rq > ri else ri)
            tmp[q] = t
            n_hit += not (t >= 0.0)
        if n_hit == 0:
            continue
        for c0 in range(q0, nc, 16):
            c1 = min(c0 + 16, nc)
            k = 0
            for q in range(c0, c1):
                k += not (tmp[q] >= 0.0)
            if k == 0:
                continue
            for q in range(c0, c1):
                if tmp[q] >= 0.0:
                    continue
                l = col0 + q
                if y_codes[l] == yi:
                    continue
                dist = sq_dist(Z[i], Z[l])
                if dist < ri:
                    a = _grown(a, m)
                    b = _grown(b, m)
                    a[m] = i
                    b[m] = l
                    m += 1
                if dist < r_col[q]:
                    a = _grown(a, m)
                    b = _grown(b, m)
                    a[m] = l
                    b[m] = i
                    m += 1
    return a[:m], b[:m]


@njit_serial
def impostor_heap_tile(G, row0, col0, Z, sqn, y_codes, radius, ptr, hd, hx, rel_margin, abs_margin):
    """Push the impostors of rows ``row0 ..`` found in one tile ``G ~ Z[rows] @ Z[cols].T`` into their heaps.

    Row ``i`` keeps its ``ptr[i + 1] - ptr[i]`` closest impostors in the
    max-heap ``hd/hx[ptr[i]:ptr[i + 1]]`` (:mod:`.heap`, ties by the smaller
    index). ``G`` only filters, with the margin of :func:`impostor_tile`:
    a pair is skipped when its lower bound reaches the radius or exceeds a
    full heap's root, so the heaps end as with every exact distance pushed.
    Each row is in one tile row block, so the caller gives every row to one
    thread. Serial and ``nogil`` (see :mod:`._tiles`).
    """
    nr, nc = G.shape
    keep = 1.0 - rel_margin
    for r in range(nr):
        i = row0 + r
        s = ptr[i]
        e = ptr[i + 1]
        if e == s:
            continue
        yi = y_codes[i]
        ri = radius[i]
        hdi = hd[s:e]
        hxi = hx[s:e]
        p_row = sqn[i] * keep - abs_margin
        for q in range(nc):
            l = col0 + q
            if y_codes[l] == yi:
                continue
            lower = p_row + sqn[l] * keep - 2.0 * np.float64(G[r, q])
            # NaN bounds fall through to the exact test
            if lower >= ri or (hxi[0] >= 0 and lower > hdi[0]):
                continue
            d = sq_dist(Z[i], Z[l])
            if d < ri:
                heap_push(hdi, hxi, d, l)


@size_dispatched(work=lambda indptr, indices, dists: indices.shape[0] * 16)
def sort_rows_by_index(indptr, indices, dists):
    """Sort each CSR row's ``(indices, dists)`` in place by index."""
    for i in numba.prange(indptr.shape[0] - 1):
        s = indptr[i]
        e = indptr[i + 1]
        if e - s > 1:
            order = np.argsort(indices[s:e])
            idx = indices[s:e][order]
            dd = dists[s:e][order]
            indices[s:e] = idx
            dists[s:e] = dd


@size_dispatched(work=lambda n, rows, cols: rows.shape[0] * 16)
def pairs_to_csr(n, rows, cols):
    """CSR form ``(indptr, indices)`` of the pairs ``(rows[p], cols[p])``, each row sorted by column.

    Columns must be distinct within a row; the result then does not depend
    on the order of the pairs.
    """
    m = rows.shape[0]
    indptr = np.zeros(n + 1, dtype=np.int64)
    for p in range(m):
        indptr[rows[p] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    indices = np.empty(m, dtype=np.int64)
    for p in range(m):
        i = rows[p]
        indices[fill[i]] = cols[p]
        fill[i] += 1
    for i in numba.prange(n):
        s = indptr[i]
        e = indptr[i + 1]
        if e - s > 1:
            indices[s:e] = np.sort(indices[s:e])
    return indptr, indices


@size_dispatched(work=lambda Z, indptr, indices: indices.shape[0] * Z.shape[1])
def csr_sq_dists(Z, indptr, indices):
    """``||z_i - z_l||^2`` for every pair ``(i, l)`` of a CSR list (exact, difference form)."""
    n = indptr.shape[0] - 1
    out = np.empty(indices.shape[0])
    for i in numba.prange(n):
        for p in range(indptr[i], indptr[i + 1]):
            out[p] = sq_dist(Z[i], Z[indices[p]])
    return out


@size_dispatched(work=lambda indptr_a, indices_a, indptr_b, indices_b: indices_a.size + indices_b.size)
def rows_contained(indptr_a, indices_a, indptr_b, indices_b):
    """Per row, True when every index of list ``a`` also occurs in list ``b`` (both sorted)."""
    n = indptr_a.shape[0] - 1
    out = np.ones(n, dtype=np.bool_)
    for i in numba.prange(n):
        q = indptr_b[i]
        q_end = indptr_b[i + 1]
        for p in range(indptr_a[i], indptr_a[i + 1]):
            v = indices_a[p]
            while q < q_end and indices_b[q] < v:
                q += 1
            if q == q_end or indices_b[q] != v:
                out[i] = False
                break
    return out


@size_dispatched(work=lambda X, Z, targets, indptr, indices, *_: (indices.size + targets.size) * Z.shape[1])
def lmnn_rows(X, Z, targets, indptr, indices, push_weight, smoothing):
    """Loss terms and pair weights of the classic LMNN objective, row by row.

    For row ``i`` with targets ``j`` and candidate impostors ``l``::

        loss_i = (1 - mu) sum_j d_ij + mu sum_{j, l} [1 + d_ij - d_il]_+

    with ``d_ab = ||z_a - z_b||^2``. Locally the loss is
    ``sum_{(i, b)} w_ib ||L (x_i - x_b)||^2 + const`` with
    ``w_ij = (1 - mu) + mu * #{l active for j}`` and ``w_il = -mu * #{j active for l}``.

    With ``smoothing = s > 0`` the hinge ``[h]_+`` is replaced by its Huber
    smoothing (``h^2 / (2 s)`` on ``0 < h < s``, ``h - s / 2`` above), whose
    derivative ``min(h / s, 1)`` replaces the counts; ``s = 0`` is the exact hinge.

    Returns
    -------
    loss_rows : (n,) per-row loss
    active_rows : (n,) number of active triplets per row
    w_targets : (n, k) weights of the target pairs
    w_impostors : (nnz,) weights of the impostor pairs
    WX : (n, d) rows ``sum_b w_ib x_b``
    WZ : (n, c) rows ``sum_b w_ib z_b``
    deg_out : (n,) rows ``sum_b w_ib``
    """
    n, k = targets.shape
    d = X.shape[1]
    c = Z.shape[1]
    mu = push_weight
    loss_rows = np.zeros(n)
    active_rows = np.zeros(n, dtype=np.int64)
    w_targets = np.zeros((n, k))
    w_impostors = np.zeros(indices.shape[0])
    WX = np.zeros((n, d))
    WZ = np.zeros((n, c))
    deg_out = np.zeros(n)
    for i in numba.prange(n):
        dt = np.zeros(k)
        cnt = np.zeros(k)
        loss = 0.0
        n_active = 0
        for j in range(k):
            t = targets[i, j]
            if t >= 0:
                dt[j] = sq_dist(Z[i], Z[t])
                loss += (1.0 - mu) * dt[j]
        for p in range(indptr[i], indptr[i + 1]):
            l = indices[p]
            dl = sq_dist(Z[i], Z[l])
            m = 0.0
            for j in range(k):
                if targets[i, j] >= 0:
                    h = 1.0 + dt[j] - dl
                    if h > 0.0:
                        n_active += 1
                        if h >= smoothing:
                            loss += mu * (h - 0.5 * smoothing)
                            cnt[j] += 1.0
                            m += 1.0
                        else:
                            loss += mu * h * h / (2.0 * smoothing)
                            cnt[j] += h / smoothing
                            m += h / smoothing
            if m > 0.0:
                w = -mu * m
                w_impostors[p] = w
                deg_out[i] += w
                for f in range(d):
                    WX[i, f] += w * X[l, f]
                for f in range(c):
                    WZ[i, f] += w * Z[l, f]
        for j in range(k):
            t = targets[i, j]
            if t >= 0:
                w = (1.0 - mu) + mu * cnt[j]
                w_targets[i, j] = w
                deg_out[i] += w
                for f in range(d):
                    WX[i, f] += w * X[t, f]
                for f in range(c):
                    WZ[i, f] += w * Z[t, f]
        loss_rows[i] = loss
        active_rows[i] = n_active
    return loss_rows, active_rows, w_targets, w_impostors, WX, WZ, deg_out


@njit_serial
def column_sums(n, targets, w_targets, indices, w_impostors):
    """``deg_in[b] = sum_i w_ib`` in a fixed (serial) order."""
    deg_in = np.zeros(n)
    nr, k = targets.shape
    for i in range(nr):
        for j in range(k):
            t = targets[i, j]
            if t >= 0:
                deg_in[t] += w_targets[i, j]
    for p in range(indices.shape[0]):
        deg_in[indices[p]] += w_impostors[p]
    return deg_in
