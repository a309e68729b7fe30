"""NCA objective and gradient as a pure function, in O(block_rows * n) memory.

Objective (Goldberger, Roweis, Hinton & Salakhutdinov, "Neighbourhood
Components Analysis", NIPS 2004), with the scaling of scikit-learn's
``NeighborhoodComponentsAnalysis`` (a plain sum, not divided by ``n``)::

    f(L) = - sum_{i in anchors} p_i,     p_i = sum_{j : y_j = y_i} p_ij,
    p_ij = exp(-||z_i - z_j||^2) / sum_{l != i} exp(-||z_i - z_l||^2),  p_ii = 0,

with ``z = L x``. Writing ``W_ij = p_ij ([y_i = y_j] - p_i)`` (rows restricted
to the anchors, zero row sums) and ``c = W^T 1``, the gradient is::

    grad f = -2 (W Z + W^T Z - c * Z)^T X,

an ``(n, n_components)`` matrix times ``X``: only ``Z``-sized accumulators and
one ``(block_rows, n)`` block of ``W`` are ever held in memory. ``W`` is sparse
once the softmax is sharp (weights below ``exp(-50)`` are zero): the kernels
keep only its non-zeros, so after the distances (one BLAS product per block)
the work is proportional to them.

Per evaluation the unavoidable, GEMM-sized work is ``Z = X L^T``
(``2 n d k`` flops), the inner products of the blocks (``2 n^2 k``), and the
gradient products ``W Z`` and ``W^T Z`` (``4 n^2 k`` if ``W`` were dense, as
in scikit-learn's ``Z^T W_sym X`` with a symmetrised ``n x n`` matrix:
``2 n^2 k``) and ``(.)^T X`` (``2 n k d``): see
``benchmarks/bench_nca.py --floor``.
"""

import numpy as np

from .._kernels.nca import accumulate_transposed, nca_block_weights
from ..utils.threads import split_dot
from ._blocks import centred, distances_from_products, resolve_block_rows

# With at least this many embedded dimensions, squared distances come from one
# BLAS product per block; with fewer, the kernel's exact difference form costs
# about as much (see _blocks.distances_from_products).
_PRODUCTS_FROM = 4
# bytes of the block buffers per entry (float64 weights + int32 column indices)
_BYTES_PER_PAIR = 12


def nca_loss_grad(params, X, y_codes, *, anchors=None, candidates=None, block_rows=None, scale=1.0):
    """Negative NCA objective and its gradient with respect to the flattened ``L``.

    Parameters
    ----------
    params : ndarray of shape (n_components * n_features,)
        The linear map ``L``, flattened in C order.
    X : ndarray of shape (n_samples, n_features), float64
    y_codes : ndarray of int64 of shape (n_samples,)
        Class codes.
    anchors : ndarray of int64, default=None
        Distinct rows ``i`` whose ``p_i`` enter the objective (the stochastic,
        mini-batch objective). Default: all rows (the full objective).
    candidates : ndarray of int64, default=None
        Distinct rows ``j`` that the anchors may pick as neighbours: each
        anchor's softmax runs over these (minus the anchor itself) instead of
        all ``n`` samples, so the cost no longer grows with ``n`` (the
        sampled objective of :class:`shallowml.NCA`'s stochastic mode; see
        its ``n_candidates``). Default: all rows (exact softmax).
    block_rows : int, default=None
        Anchor rows per block; peak extra memory is ``block_rows`` times the
        number of candidates times 12 bytes. Default: about 32 MiB of buffers
        (:func:`shallowml._losses._blocks.default_block_rows`).
    scale : float, default=1.0
        Multiplies loss and gradient (e.g. ``1 / batch_size`` for the
        mini-batch mean).

    Returns
    -------
    loss : float
        ``-scale * sum_{i in anchors} p_i``.
    grad : ndarray of shape (n_components * n_features,)

    Notes
    -----
    Per block of anchors, one BLAS product gives the inner products with all
    candidates; a numba kernel turns them into distances, the softmax and the
    gradient weights, keeping only the non-zero ones, and forms ``W Z`` and
    ``W^T Z`` from those. The gradient is then

        -2 * scale * ((W Z_C)^T X_A + (W^T Z_A - c * Z_C)^T X_C),

    with ``A`` the anchors, ``C`` the candidates and ``c = W^T 1``
    (``sum_ij W_ij (z_i - z_j)(x_i - x_j)^T`` with the zero row sums of
    ``W`` used), two products of ``(n, k)`` by ``(n, d)`` matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.nca import nca_loss_grad
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> loss, grad = nca_loss_grad(np.array([1.0]), X, np.array([0, 0, 1, 1]))
    >>> round(loss, 6)
    -4.0
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y_codes = np.ascontiguousarray(y_codes, dtype=np.int64)
    n, n_features = X.shape
    L = np.asarray(params, dtype=np.float64).reshape(-1, n_features)
    k = L.shape[0]
    all_rows = anchors is None
    rows_all = np.arange(n, dtype=np.int64) if all_rows else np.asarray(anchors, dtype=np.int64)
    if candidates is None:
        Xc, yc = X, y_codes
        self_all = rows_all
        (Zc,) = centred(X @ L.T)
        Zr_all = Zc if all_rows else None
    else:
        cand = np.asarray(candidates, dtype=np.int64)
        order = np.argsort(cand, kind="stable")
        cand = cand[order]
        Xc, yc = X[cand], y_codes[cand]
        # the anchor's own column among the (sorted) candidates, or -1
        pos = np.minimum(np.searchsorted(cand, rows_all), max(cand.size - 1, 0))
        self_all = np.where((cand.size > 0) & (cand[pos] == rows_all), pos, -1).astype(np.int64)
        Zr_all, Zc = centred(X[rows_all] @ L.T, Xc @ L.T)
    m = Zc.shape[0]
    if Zr_all is None:
        Zr_all = np.ascontiguousarray(Zc[rows_all])
    sq_cols = np.einsum("ij,ij->i", Zc, Zc)
    sq_rows_all = sq_cols if (candidates is None and all_rows) else np.einsum("ij,ij->i", Zr_all, Zr_all)
    from_products = m > 0 and distances_from_products(k, _PRODUCTS_FROM, sq_cols, sq_rows_all)
    ZcT = np.ascontiguousarray(Zc.T)
    y_rows_all = y_codes[rows_all]
    n_rows = rows_all.size
    block_rows = resolve_block_rows(block_rows, n_rows, m, _BYTES_PER_PAIR)

    WZ = np.empty((n_rows, k))
    # columns 0..k-1: W^T Z_A, column k: c = W^T 1
    WtZ1 = np.zeros((m, k + 1))
    p = np.empty(n_rows)
    buf = np.empty((block_rows, m))
    cols = np.empty((block_rows, m), dtype=np.int32)
    counts = np.empty(block_rows, dtype=np.int64)
    for start in range(0, n_rows, block_rows):
        stop = min(start + block_rows, n_rows)
        b = stop - start
        block = buf[:b]
        Zr = Zr_all[start:stop]
        if from_products:
            split_dot(Zr, ZcT, block)
        nca_block_weights(block, cols[:b], counts[:b], Zr, ZcT, sq_rows_all[start:stop], sq_cols, from_products,
                          self_all[start:stop], y_rows_all[start:stop], yc, Zc, p[start:stop], WZ[start:stop])
        accumulate_transposed(block, cols[:b], counts[:b], Zr, WtZ1, 256)
    loss = -scale * float(np.sum(p))
    # (W^T Z_A - c * Z_C), then the two products with X
    WtZ1[:, :k] -= WtZ1[:, k : k + 1] * Zc
    if all_rows and candidates is None:
        WtZ1[:, :k] += WZ
        grad = WtZ1[:, :k].T @ X
    else:
        grad = WZ.T @ X[rows_all] + WtZ1[:, :k].T @ Xc
    grad *= -2.0 * scale
    return loss, grad.ravel()
