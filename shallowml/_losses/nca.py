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
once the softmax is sharp (weights below ``exp(-50)`` are zero), and the
kernels skip its zeros when forming ``W Z`` and ``W^T Z``.
"""

import numpy as np

from .._kernels.nca import accumulate_transposed, nca_block_weights

# With more embedded dimensions than this, squared distances come from BLAS inner
# products (|a|^2 + |b|^2 - 2ab on centred Z); with fewer, the kernel's exact,
# vectorised difference form is faster (measured: k=20 faster, k=64 slower).
_PRODUCTS_ABOVE = 32


def default_block_rows(n_samples, *, target_bytes=32 * 2**20):
    """Rows per block so that one ``(block_rows, n_samples)`` float64 block is about 32 MiB."""
    return int(max(16, min(n_samples, target_bytes // (8 * max(n_samples, 1)))))


def nca_loss_grad(params, X, y_codes, *, anchors=None, block_rows=None, scale=1.0):
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
        mini-batch objective); the softmax of every anchor is still exact,
        over all ``n`` samples. Default: all rows (the full objective).
    block_rows : int, default=None
        Anchor rows per block; peak extra memory is ``block_rows * n_samples``
        float64 values. Default :func:`default_block_rows`.
    scale : float, default=1.0
        Multiplies loss and gradient (e.g. ``1 / batch_size`` for the
        mini-batch mean, an unbiased estimate of the full objective over ``n``).

    Returns
    -------
    loss : float
        ``-scale * sum_{i in anchors} p_i``.
    grad : ndarray of shape (n_components * n_features,)

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
    Z = X @ L.T
    # distances are translation invariant and A = W + W^T - diag(c) has zero
    # row sums, so centring Z changes neither loss nor gradient (it keeps the
    # embedded values small)
    Z -= Z.mean(axis=0)
    Z = np.ascontiguousarray(Z)
    from_products = k > _PRODUCTS_ABOVE
    ZT = np.ascontiguousarray(Z.T)
    sq_norms = np.einsum("ij,ij->i", Z, Z)
    rows_all = np.arange(n, dtype=np.int64) if anchors is None else np.asarray(anchors, dtype=np.int64)
    if block_rows is None:
        block_rows = default_block_rows(n)
    block_rows = int(max(1, min(block_rows, max(rows_all.size, 1))))

    AZ = np.zeros((n, k))
    # columns 0..k-1: W^T Z, column k: c = W^T 1
    WtZ1 = np.zeros((n, k + 1))
    p = np.empty(rows_all.size)
    buf = np.empty((block_rows, n))
    wz = np.empty((block_rows, k))
    for start in range(0, rows_all.size, block_rows):
        rows = rows_all[start : start + block_rows]
        b = rows.size
        block = buf[:b]
        # one block of all rows: Z @ Z.T lets BLAS use the symmetric product
        Zb = Z if (anchors is None and b == n) else np.ascontiguousarray(Z[rows])
        if from_products:
            np.dot(Zb, Z.T, out=block)
        nca_block_weights(block, Z, ZT, sq_norms, from_products, rows, y_codes, p[start : start + b], wz[:b])
        AZ[rows] += wz[:b]
        accumulate_transposed(block, Zb, WtZ1, 64)
    AZ += WtZ1[:, :k]
    AZ -= WtZ1[:, k : k + 1] * Z
    loss = -scale * float(np.sum(p))
    grad = (-2.0 * scale) * (AZ.T @ X)
    return loss, grad.ravel()
