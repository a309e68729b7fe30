"""SDML objective (Qi, Tang, Zha, Guo & Zhang, ICML 2009) as pure functions.

SDML learns a sparse Mahalanobis matrix ``M`` by minimising::

    f(M) = tr(M0^-1 M) - log det M + beta tr(K M) + alpha ||M||_{1, off},
    K = sum_pairs y_p v_p v_p^T   (y_p = +1 similar, -1 dissimilar; v_p = x - x'),

the LogDet divergence to the prior ``M0`` (up to constants), a term that
shrinks similar and stretches dissimilar pairs, and an l1 penalty on the
off-diagonal entries. With ``C = M0^-1 + beta K`` this is exactly the
graphical lasso problem ``tr(C M) - log det M + alpha ||M||_{1, off}``
(Friedman, Hastie & Tibshirani, 2008), which metric-learn 0.7 and
:class:`shallowml.SDML` hand to scikit-learn's ``graphical_lasso(C, alpha)``
(``beta`` is ``balance_param``, ``alpha`` is ``sparsity_param``). It has a
minimiser only when ``C`` is positive definite (or nearly so, relative to
``alpha``); see :mod:`shallowml._solvers.sdml` for what is done otherwise.
"""

import numpy as np

__all__ = ["sdml_input", "sdml_loss"]


def sdml_input(diff, y, prior_inv, balance_param):
    """The graphical lasso input ``C = M0^-1 + balance_param * sum_p y_p v_p v_p^T``.

    Parameters
    ----------
    diff : ndarray of shape (n_pairs, n_features)
        Pair differences ``x - x'``.
    y : ndarray of shape (n_pairs,)
        +1 for similar, -1 for dissimilar pairs.
    prior_inv : ndarray of shape (n_features, n_features)
        Inverse of the prior metric ``M0``.
    balance_param : float

    Returns
    -------
    C : ndarray of shape (n_features, n_features), symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.sdml import sdml_input
    >>> sdml_input([[1.0, 0.0], [0.0, 2.0]], [1, -1], np.eye(2), 0.5).tolist()
    [[1.5, 0.0], [0.0, -1.0]]
    """
    V = np.asarray(diff, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    K = (V.T * y) @ V
    return np.asarray(prior_inv, dtype=np.float64) + balance_param * 0.5 * (K + K.T)


def sdml_loss(params, emp_cov, alpha):
    """SDML objective ``tr(C M) - log det M + alpha ||M||_{1, off}`` and a subgradient.

    Parameters
    ----------
    params : ndarray of shape (n_features * n_features,)
        ``M`` flattened (symmetric positive definite).
    emp_cov : ndarray of shape (n_features, n_features)
        ``C`` from :func:`sdml_input`.
    alpha : float
        ``sparsity_param``.

    Returns
    -------
    loss : float
        ``inf`` when ``M`` is not positive definite.
    grad : ndarray of shape (n_features * n_features,)
        ``C - M^-1 + alpha sign(M)`` off the diagonal (a subgradient where an
        off-diagonal entry is zero).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.sdml import sdml_loss
    >>> loss, grad = sdml_loss(np.eye(2).ravel(), 2.0 * np.eye(2), 0.01)
    >>> float(loss), grad.tolist()
    (4.0, [1.0, 0.0, 0.0, 1.0])
    """
    C = np.asarray(emp_cov, dtype=np.float64)
    d = C.shape[0]
    M = np.asarray(params, dtype=np.float64).reshape(d, d)
    try:
        chol = np.linalg.cholesky(0.5 * (M + M.T))
    except np.linalg.LinAlgError:  # not positive definite: outside the domain
        return np.inf, np.full(d * d, np.nan)
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    off = M - np.diag(np.diag(M))
    loss = float(np.sum(C * M) - logdet + alpha * np.abs(off).sum())
    grad = C - np.linalg.inv(M) + alpha * np.sign(off)
    return loss, grad.ravel()
