"""MLKR objective and gradient as a pure function, in O(block_rows * n) memory.

Objective (Weinberger & Tesauro, "Metric Learning for Kernel Regression",
AISTATS 2007): the leave-one-out squared error of Gaussian-kernel (Nadaraya-
Watson) regression in the embedded space ``z = L x``, a plain sum as in
metric-learn's ``MLKR``::

    f(L) = sum_i (yhat_i - y_i)^2,      yhat_i = sum_{j != i} p_ij y_j,
    p_ij = exp(-||z_i - z_j||^2) / sum_{l != i} exp(-||z_i - z_l||^2).

Derivation of the gradient: ``d yhat_i / d d_il = -p_il (y_l - yhat_i)``, so
``d f / d d_il = -2 W_il`` with ``W_il = p_il e_i (y_l - yhat_i)`` and
``e_i = yhat_i - y_i``; ``W`` has zero row sums. With
``d d_il / d L = 2 L (x_i - x_l)(x_i - x_l)^T`` and ``c = W^T 1``::

    grad f = -4 L sum_il W_il (x_i - x_l)(x_i - x_l)^T
           =  4 (W Z + W^T Z - c * Z)^T X,

the same structure as the NCA gradient (:mod:`shallowml._losses.nca`): only
``Z``-sized accumulators and one ``(block_rows, n)`` block of ``W`` are held
in memory.
"""

import numpy as np

from .._kernels.mlkr import accumulate_transposed_sparse, mlkr_block_weights
from ._blocks import centred, distances_from_products, resolve_block_rows

# With at least this many embedded dimensions, squared distances come from BLAS
# inner products; with fewer, the kernel's exact, vectorised difference form is
# faster (measured: k=10 difference form faster, k=30 products faster).
_PRODUCTS_FROM = 33
# bytes of the block buffers per entry (float64 weights + int32 column indices)
_BYTES_PER_PAIR = 12


def mlkr_loss_grad(params, X, y, *, block_rows=None):
    """MLKR objective (leave-one-out squared error) and its gradient with respect to the flattened ``L``.

    Parameters
    ----------
    params : ndarray of shape (n_components * n_features,)
        The linear map ``L``, flattened in C order.
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,)
        Real targets. The objective does not change when a constant is added
        to ``y`` (each ``yhat_i`` is a weighted mean), so ``y`` is centred
        before use; it scales as ``y^2``.
    block_rows : int, default=None
        Rows per block; peak extra memory is ``block_rows * n_samples``
        float64 values and as many int32 column indices. Default
        :func:`shallowml._losses._blocks.default_block_rows` (about 32 MiB of block buffers).

    Returns
    -------
    loss : float
        ``sum_i (yhat_i - y_i)^2``, in the units of ``y`` squared.
    grad : ndarray of shape (n_components * n_features,)

    Notes
    -----
    A sample whose embedded distances to all others overflow has no finite
    kernel weight; it predicts the mean target and adds nothing to the
    gradient (see :func:`shallowml._kernels.mlkr.mlkr_block_weights`).

    Examples
    --------
    Two far-apart pairs: each sample's leave-one-out prediction is its
    partner's target.

    >>> import numpy as np
    >>> from shallowml._losses.mlkr import mlkr_loss_grad
    >>> X = np.array([[0.0], [0.1], [9.0], [9.1]])
    >>> loss, grad = mlkr_loss_grad(np.array([1.0]), X, np.array([1.0, 2.0, 5.0, 5.0]))
    >>> round(loss, 6)
    2.0
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y - y.mean())
    n, n_features = X.shape
    L = np.asarray(params, dtype=np.float64).reshape(-1, n_features)
    k = L.shape[0]
    # distances are translation invariant and A = W + W^T - diag(c) has zero row
    # sums, so centring Z changes neither loss nor gradient (it keeps Z small)
    (Z,) = centred(X @ L.T)
    ZT = np.ascontiguousarray(Z.T)
    sq_norms = np.einsum("ij,ij->i", Z, Z)
    from_products = distances_from_products(k, _PRODUCTS_FROM, sq_norms)
    block_rows = resolve_block_rows(block_rows, n, n, _BYTES_PER_PAIR)

    AZ = np.zeros((n, k))
    # columns 0..k-1: W^T Z, column k: c = W^T 1
    WtZ1 = np.zeros((n, k + 1))
    err = np.empty(n)
    buf = np.empty((block_rows, n))
    nz_index = np.empty((block_rows, n), dtype=np.int32)
    nz_count = np.empty(block_rows, dtype=np.int64)
    wz = np.empty((block_rows, k))
    all_rows = np.arange(n, dtype=np.int64)
    for start in range(0, n, block_rows):
        rows = all_rows[start : start + block_rows]
        b = rows.size
        block = buf[:b]
        Zb = Z[start : start + b]
        if from_products:
            np.dot(Zb, Z.T, out=block)
        mlkr_block_weights(block, Z, ZT, sq_norms, from_products, rows, y, err[start : start + b], wz[:b],
                           nz_index[:b], nz_count[:b])
        AZ[start : start + b] += wz[:b]
        accumulate_transposed_sparse(block, nz_index[:b], nz_count[:b], Zb, WtZ1, 64)
    AZ += WtZ1[:, :k]
    AZ -= WtZ1[:, k : k + 1] * Z
    loss = float(err @ err)
    grad = 4.0 * (AZ.T @ X)
    return loss, grad.ravel()
