"""The classic LMNN objective (Weinberger & Saul, JMLR 2009) and its gradient.

For the map ``L`` (``n_components x n_features``), fixed target neighbours
``j ~> i`` (same class) and ``d_ab = ||L (x_a - x_b)||^2``::

    loss(L) = (1 - mu) * sum_{i, j ~> i} d_ij
              + mu * sum_{i, j ~> i, l : y_l != y_i} [1 + d_ij - d_il]_+

with ``mu = push_weight``. This weighting reproduces the textbook toy values:
``X = [0, 1, 2, 3]`` (1-D), ``k = 1``, ``mu = 0.5``, ``L = [[1]]`` gives 3.0
for ``y = [1, 1, 0, 0]`` (pull 4, push 2) and 26.0 for ``y = [1, 0, 0, 1]``
(pull 20, push 32).

Only impostors ``l`` with ``d_il < max_j d_ij + 1`` (the *margin radius* of
``i``) can make a hinge positive, so the push sum runs over an impostor
list. The gradient is ``2 L X^T C X`` with ``C = D - W - W^T`` the Laplacian-like
matrix of the pair weights ``W`` (``D`` the diagonal of row plus column sums),
accumulated by a numba kernel over pairs, never by per-triplet outer products:
``grad = 2 (Z^T (D X) - Z^T (W X) - (W Z)^T X)`` with ``Z = X L^T``.
"""

import threading

import numpy as np

from .._kernels._tiles import run_tiles
from .._kernels.lmnn import (
    column_sums,
    csr_sq_dists,
    impostor_heap_tile,
    impostor_tile,
    lmnn_rows,
    pairs_to_csr,
    sort_rows_by_index,
    target_sq_dists,
)
from .._kernels.neighbors import TILE_ROWS, filter_products


def margin_radius(Z, targets):
    """``max_j ||z_i - z_j||^2 + 1`` per row; 0 for rows without target neighbours."""
    dt = target_sq_dists(Z, targets)
    has = targets[:, 0] >= 0 if targets.shape[1] else np.zeros(Z.shape[0], dtype=bool)
    return np.where(has, dt.max(axis=1, initial=0.0) + 1.0, 0.0)


def find_impostors(Z, y_codes, radius, *, max_pairs=None, tile_rows=TILE_ROWS, progress=None):
    """All ``(i, l)`` with ``y_l != y_i`` and ``||z_i - z_l||^2 < radius[i]``, in CSR form.

    Exact search over all pairs, each unordered pair tested once: the rows
    are cut into blocks of ``tile_rows``, and each tile (a pair of blocks on
    or above the diagonal) is one BLAS product ``Z[rows] @ Z[cols].T`` that
    filters the candidates, whose distances a numba kernel then recomputes
    exactly (difference form) and tests against both rows' radii
    (:func:`shallowml._kernels.lmnn.impostor_tile`). Tiles run on the
    kernel threads (:mod:`shallowml._kernels._tiles`); the result is the
    same whatever the tiling or the number of threads. Time O(n^2 d / 2),
    memory one tile per thread plus the output.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_components)
    y_codes : ndarray of int64 of shape (n_samples,)
    radius : ndarray of shape (n_samples,)
        Squared search radius per row (0: no impostors).
    max_pairs : int, default=None
        Budget on the number of pairs. When the search finds more, every row
        keeps its closest impostors, with a quota proportional to its count,
        and ``truncated`` is True.
    tile_rows : int, default=TILE_ROWS
        Rows per tile.
    progress : callable, default=None
        ``progress(tiles_done, n_tiles)``, called about every 2 seconds
        while the search runs (see :func:`shallowml._kernels._tiles.run_tiles`).

    Returns
    -------
    indptr : ndarray of int64 of shape (n_samples + 1,)
    indices : ndarray of int64 of shape (n_pairs,)
        Rows sorted by index.
    sq_dists : ndarray of shape (n_pairs,)
    truncated : bool
    """
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    y_codes = np.ascontiguousarray(y_codes, dtype=np.int64)
    radius = np.ascontiguousarray(radius, dtype=np.float64)
    n = Z.shape[0]
    sqn = np.einsum("ij,ij->i", Z, Z)
    B = max(1, int(tile_rows))
    starts = list(range(0, n, B))
    tiles = [(r, c) for k, r in enumerate(starts) for c in starts[k:]]
    found = [0]
    lock = threading.Lock()
    P, rel, absolute = filter_products(Z)

    def work(t):
        r0, c0 = tiles[t]
        with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN products go to the exact test
            G = P[r0 : r0 + B] @ P[c0 : c0 + B].T
        out = impostor_tile(G, r0, c0, Z, sqn, y_codes, radius, rel, absolute)
        with lock:
            found[0] += out[0].shape[0]
        return out

    over = None if max_pairs is None else (lambda _: found[0] > max_pairs)
    parts, truncated = run_tiles(len(tiles), work, stop=over, progress=progress)
    if truncated:
        del parts
        return _find_impostors_budget(Z, sqn, y_codes, radius, max_pairs, B, progress)
    if parts:
        rows = np.concatenate([p[0] for p in parts])
        cols = np.concatenate([p[1] for p in parts])
    else:
        rows = cols = np.zeros(0, dtype=np.int64)
    del parts
    indptr, indices = pairs_to_csr(n, rows, cols)
    del rows, cols
    dists = csr_sq_dists(Z, indptr, indices)
    return indptr, indices, dists, False


def _find_impostors_budget(Z, sqn, y_codes, radius, max_pairs, tile_rows, progress=None):
    """:func:`find_impostors` when the pairs exceed ``max_pairs``: per-row quotas of the closest.

    Two tiled passes with the float32 filter of the exact search: the first
    counts every row's impostors (each unordered pair once, pairs never
    stored beyond one tile), the second keeps per row its
    ``floor(count * max_pairs / total)`` closest in a heap (ties by the
    smaller index), each row block on one thread against every column
    block. The result does not depend on the tiling or the thread count.
    """
    n = Z.shape[0]
    B = tile_rows
    P, rel, absolute = filter_products(Z)
    starts = list(range(0, n, B))
    tiles = [(r, c) for k, r in enumerate(starts) for c in starts[k:]]
    n_work = len(tiles) + len(starts) * len(starts)
    counts = np.zeros(n, dtype=np.int64)
    lock = threading.Lock()

    def count(t):
        r0, c0 = tiles[t]
        with np.errstate(over="ignore", invalid="ignore"):
            G = P[r0 : r0 + B] @ P[c0 : c0 + B].T
        a, _ = impostor_tile(G, r0, c0, Z, sqn, y_codes, radius, rel, absolute)
        rows, k = np.unique(a, return_counts=True)
        with lock:  # integer sums: the order of the tiles does not matter
            counts[rows] += k

    run_tiles(len(tiles), count,
              progress=None if progress is None else (lambda d, _: progress(d, n_work)))
    total = int(counts.sum())
    caps = np.floor(counts * (max_pairs / max(total, 1))).astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(caps, out=indptr[1:])
    hd = np.full(int(indptr[-1]), np.finfo(np.float64).max)
    hx = np.full(int(indptr[-1]), -1, dtype=np.int64)

    def fill(t):
        r0 = starts[t]
        for c0 in starts:
            with np.errstate(over="ignore", invalid="ignore"):
                G = P[r0 : r0 + B] @ P[c0 : c0 + B].T
            impostor_heap_tile(G, r0, c0, Z, sqn, y_codes, radius, indptr, hd, hx, rel, absolute)

    run_tiles(len(starts), fill,
              progress=None if progress is None else (lambda d, _: progress(len(tiles) + d * len(starts), n_work)))
    sort_rows_by_index(indptr, hx, hd)
    return indptr, hx, hd, True


def lmnn_evaluate(params, X, targets, indptr, indices, push_weight, n_components, smoothing=0.0):
    """Loss, gradient and diagnostics for the impostor list ``(indptr, indices)``.

    ``smoothing > 0`` replaces the hinge by its Huber smoothing of that width
    (see :func:`shallowml._kernels.lmnn.lmnn_rows`); 0 is the classic loss.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_components * n_features,)
    n_active : int
        Number of triplets with a positive hinge.
    """
    n, d = X.shape
    L = params.reshape(n_components, d)
    Z = X @ L.T
    loss_rows, active_rows, w_t, w_imp, WX, WZ, deg_out = lmnn_rows(
        X, Z, targets, indptr, indices, float(push_weight), float(smoothing)
    )
    deg = deg_out + column_sums(n, targets, w_t, indices, w_imp)
    WX -= deg[:, None] * X
    grad = -2.0 * (Z.T @ WX + WZ.T @ X)
    return float(np.sum(loss_rows)), grad.ravel(), int(active_rows.sum())


def lmnn_loss_grad(params, X, targets, indptr, indices, push_weight, n_components):
    """Classic LMNN loss and gradient with the push sum over a given impostor list.

    Equal to the full objective whenever the list contains every active
    impostor (e.g. from :func:`find_impostors` with :func:`margin_radius`).

    Parameters
    ----------
    params : ndarray of shape (n_components * n_features,)
        ``L`` flattened (C order).
    X : ndarray of shape (n_samples, n_features)
    targets : ndarray of int64 of shape (n_samples, k)
        Target neighbours, ``-1`` padded.
    indptr, indices : ndarray of int64
        Impostor candidates of each row (CSR).
    push_weight : float
        ``mu`` in [0, 1].
    n_components : int

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_components * n_features,)
    """
    loss, grad, _ = lmnn_evaluate(params, X, targets, indptr, indices, push_weight, n_components)
    return loss, grad


def lmnn_loss_grad_exact(params, X, y_codes, targets, push_weight, n_components):
    """Classic LMNN loss and gradient with the exact impostor set recomputed at ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.lmnn import lmnn_loss_grad_exact
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> targets = np.array([[1], [0], [3], [2]])
    >>> loss, grad = lmnn_loss_grad_exact(np.ones(1), X, np.array([1, 1, 0, 0]), targets, 0.5, 1)
    >>> loss
    3.0
    """
    n, d = X.shape
    L = params.reshape(n_components, d)
    Z = X @ L.T
    y_codes = np.asarray(y_codes, dtype=np.int64)
    indptr, indices, _, _ = find_impostors(Z, y_codes, margin_radius(Z, targets))
    return lmnn_loss_grad(params, X, targets, indptr, indices, push_weight, n_components)
