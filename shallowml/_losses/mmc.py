"""MMC objectives (Xing, Ng, Jordan & Russell, NIPS 2002) as pure functions.

Xing et al. learn a Mahalanobis matrix ``M`` that spreads dissimilar pairs
``D`` apart while keeping similar pairs ``S`` together:

* full ``M`` (their eq. 4, in the form metric-learn 0.7 optimises)::

      maximise   h(M) = log sum_{(x, x') in D} ||x - x'||_M
      subject to c(M) = sum_{(x, x') in S} ||x - x'||_M^2 <= t,   M PSD,

  where ``||v||_M = sqrt(v^T M v)``. The log does not change the maximiser
  (it is the objective of metric-learn's gradient steps). Both ``h`` and
  the optimum are invariant, up to scale, to ``t``: metric-learn sets ``t``
  to 1/100 of ``c`` at its initial matrix, and so does :class:`shallowml.MMC`;

* diagonal ``M = diag(w)`` (their eq. 6, solved by Newton-Raphson)::

      minimise   g(w) = sum_S ||x - x'||_w^2 - C log sum_D ||x - x'||_w,   w >= 0.

  ``g`` is convex; at its minimum ``sum_S ||x - x'||_w^2 = C / 2`` (the
  derivative along ``w`` itself vanishes), so its minimiser is the diagonal
  restriction of the full problem at that scale.

metric-learn 0.7 adds ``1e-6`` to the sum inside its log (``log(sum + 1e-6)``,
a guard against ``log 0`` that changes ``h`` by less than 1e-8 relative
unless the distances are tiny), and it evaluates ``g`` with the sign of its
log term flipped in its line search and stopping rule (its gradient and
Hessian are those of ``g`` above); the functions here are the objectives as
the paper states them.
"""

import numpy as np

__all__ = ["mmc_constraint", "mmc_diagonal_loss", "mmc_loss"]


def mmc_loss(params, neg_diff):
    """Negative MMC objective ``-h(M)`` and its gradient in ``M`` (full MMC).

    Parameters
    ----------
    params : ndarray of shape (n_features * n_features,)
        ``M`` flattened (symmetric PSD).
    neg_diff : ndarray of shape (n_dissimilar, n_features)
        Differences ``x - x'`` of the dissimilar pairs.

    Returns
    -------
    loss : float
        ``-log sum_D sqrt(v^T M v)``.
    grad : ndarray of shape (n_features * n_features,)
        ``-sum_D v v^T / (2 ||v||_M) / sum_D ||v||_M``; pairs at distance 0
        contribute nothing (the derivative of the square root is infinite
        there; the solver never stands on such a point, see
        :func:`shallowml._solvers.mmc.mmc_full`).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.mmc import mmc_loss
    >>> V = np.array([[3.0, 4.0]])
    >>> loss, grad = mmc_loss(np.eye(2).ravel(), V)
    >>> bool(np.isclose(loss, -np.log(5.0)))
    True
    """
    V = np.asarray(neg_diff, dtype=np.float64)
    d = V.shape[1]
    M = np.asarray(params, dtype=np.float64).reshape(d, d)
    dist = np.sqrt(np.maximum(np.einsum("ij,ij->i", V @ M, V), 0.0))
    total = dist.sum()
    weight = np.divide(0.5, dist, out=np.zeros_like(dist), where=dist > 0)
    grad = (V * weight[:, None]).T @ V / total
    return -float(np.log(total)), -grad.ravel()


def mmc_constraint(params, pos_diff):
    """``c(M) = sum_S (x - x')^T M (x - x')`` (linear in ``M``) and its gradient ``sum_S v v^T``.

    Parameters
    ----------
    params : ndarray of shape (n_features * n_features,)
    pos_diff : ndarray of shape (n_similar, n_features)

    Returns
    -------
    value : float
    grad : ndarray of shape (n_features * n_features,)
    """
    V = np.asarray(pos_diff, dtype=np.float64)
    S = V.T @ V
    return float(np.dot(S.ravel(), np.asarray(params, dtype=np.float64))), S.ravel()


def mmc_diagonal_loss(w, pos_diff, neg_diff, C=1.0, *, hessian=False):
    """Diagonal MMC objective ``g(w)``, its gradient and (optionally) Hessian.

    Parameters
    ----------
    w : ndarray of shape (n_features,)
        Diagonal of ``M`` (non-negative).
    pos_diff : ndarray of shape (n_similar, n_features)
    neg_diff : ndarray of shape (n_dissimilar, n_features)
    C : float, default=1.0
        Weight of the dissimilarity term (``diagonal_c``).
    hessian : bool, default=False
        Also return the Hessian.

    Returns
    -------
    loss : float
        ``s . w - C log sum_D sqrt(q_D . w)``, ``s = sum_S v**2``, ``q_D = v**2``.
    grad : ndarray of shape (n_features,)
    hess : ndarray of shape (n_features, n_features)
        Only with ``hessian=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.mmc import mmc_diagonal_loss
    >>> loss, grad = mmc_diagonal_loss(np.ones(2), [[1.0, 0.0]], [[0.0, 2.0]])
    >>> round(float(loss), 6), grad.tolist()  # 1 - log(2)
    (0.306853, [1.0, -0.5])
    """
    P = np.asarray(pos_diff, dtype=np.float64)
    Q = np.asarray(neg_diff, dtype=np.float64) ** 2
    w = np.asarray(w, dtype=np.float64)
    s = np.einsum("ij,ij->j", P, P)
    return _diagonal_parts(w, s, Q, float(C), hessian)


def _diagonal_parts(w, s, Q, C, hessian):
    """``g``, gradient (and Hessian) from ``s = sum_S v**2`` and ``Q = v_D**2`` (one row per pair)."""
    dist = np.sqrt(np.maximum(Q @ w, 0.0))
    total = dist.sum()
    inv = np.divide(0.5, dist, out=np.zeros_like(dist), where=dist > 0)
    u = Q.T @ inv  # gradient of sum_D dist
    loss = float(s @ w - C * np.log(total))
    grad = s - C * u / total
    if not hessian:
        return loss, grad
    inv3 = np.divide(0.25, dist**3, out=np.zeros_like(dist), where=dist > 0)
    hess = C * ((Q * inv3[:, None]).T @ Q / total + np.outer(u, u) / total**2)
    return loss, grad, hess
