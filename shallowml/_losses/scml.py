"""SCML objective as a pure function of the basis weights.

Shi, Bellet & Sha, "Sparse compositional metric learning", AAAI 2014. The
metric is a sparse non-negative combination of rank-one bases,
``M(w) = sum_k w_k b_k b_k^T``, and the objective (metric-learn 0.7's form,
the global-metric case of the paper) is::

    F(w) = (1 / N) sum_t [1 + d_M(a_t, p_t)^2 - d_M(a_t, n_t)^2]_+ + beta sum_k w_k,   w >= 0,

a hinge with unit margin on *squared* distances over the triplets
``(anchor, positive, negative)``, plus an l1 penalty (on ``w >= 0``, simply
``beta sum_k w_k``). Each hinge is a convex function of an affine function
of ``w``: ``F`` is convex (``tests/test_scml.py`` checks a small instance
against cvxpy).
"""

import numpy as np

from .._kernels.scml import triplet_slacks
from ..utils.linalg import components_from_metric


def components_from_weights(basis, w):
    """``L`` with ``L^T L = sum_k w_k b_k b_k^T``, over the bases with ``w_k > 0``.

    ``sqrt(w_k) b_k`` as rows when fewer bases are active than there are
    features (a low-rank map, as metric-learn), else the Cholesky factor of
    ``M`` (:func:`shallowml.utils.linalg.components_from_metric`). With no
    active basis ``M = 0``: one row of zeros.

    Parameters
    ----------
    basis : ndarray of shape (n_basis, n_features)
    w : ndarray of shape (n_basis,)

    Returns
    -------
    L : ndarray of shape (min(n_active, n_features) or 1, n_features)
    """
    active = np.flatnonzero(w > 0)
    d = basis.shape[1]
    if active.size == 0:
        return np.zeros((1, d))
    Ba = basis[active]
    wa = w[active]
    if active.size < d:
        return np.sqrt(wa)[:, None] * Ba
    M = (Ba.T * wa) @ Ba
    return components_from_metric(0.5 * (M + M.T), atol=1e-12 * np.abs(M).max(initial=0.0))


def hinge_terms(L, X, triplets):
    """``1 + ||L(x_a - x_p)||^2 - ||L(x_a - x_n)||^2`` for every triplet (not clipped)."""
    Z = np.ascontiguousarray(X @ L.T)
    out = np.empty(triplets.shape[0])
    triplet_slacks(Z, np.ascontiguousarray(triplets, dtype=np.int64), out)
    return out


def scml_objective(w, X, triplets, basis, beta):
    """The SCML objective ``F(w)`` and the number of triplets with a positive hinge.

    Parameters
    ----------
    w : ndarray of shape (n_basis,)
        Non-negative basis weights.
    X : ndarray of shape (n_points, n_features)
    triplets : ndarray of int, shape (n_triplets, 3)
        Rows of ``X``: ``(anchor, positive, negative)``.
    basis : ndarray of shape (n_basis, n_features)
    beta : float

    Returns
    -------
    F : float
    n_active : int

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.scml import scml_objective
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> # basis e_1 only: d(a, p)^2 = 1, d(a, n)^2 = 0 -> hinge 2; penalty 0.5 * 1
    >>> scml_objective(np.array([1.0, 0.0]), X, np.array([[0, 1, 2]]), np.eye(2), 0.5)
    (2.5, 1)
    """
    w = np.asarray(w, dtype=np.float64)
    slack = hinge_terms(components_from_weights(basis, w), X, triplets)
    positive = slack > 0
    return float(beta * w.sum() + slack[positive].sum() / triplets.shape[0]), int(positive.sum())


def best_ray_scale(slack, w_sum, beta):
    """Exact minimiser ``c >= 0`` of ``F(c w)`` along the ray of ``w``, and ``F`` there.

    With ``m_t = slack_t - 1 = dd_t . w``,
    ``F(c w) = beta c sum_k w_k + (1 / N) sum_t [1 + c m_t]_+`` is convex and
    piecewise linear in ``c``, with breakpoints ``-1 / m_t`` for ``m_t < 0``:
    the minimum is where the slope turns non-negative, found by sorting the
    breakpoints (``O(N log N)``). ``c = 1`` (the point itself) and ``c = 0``
    (the zero metric, ``F = 1``) are candidates, so the result is never worse
    than either.

    Parameters
    ----------
    slack : ndarray of shape (n_triplets,)
        ``1 + dd_t . w`` (:func:`hinge_terms`).
    w_sum : float
        ``sum_k w_k``.
    beta : float

    Returns
    -------
    c : float
    F : float
        ``F(c w)``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.scml import best_ray_scale
    >>> # margins -1 and -0.5 (w satisfies both): c = 2 zeroes both hinges
    >>> best_ray_scale(np.array([0.0, 0.5]), 1.0, 0.0)
    (2.0, 0.0)
    """
    n = slack.shape[0]
    m = slack - 1.0
    slope = beta * w_sum + m.sum() / n  # right derivative at c = 0
    if not slope < 0.0:
        return 0.0, 1.0
    # breakpoints -1 / m_t grow with m_t (< 0): sorting the margins sorts them
    m_neg = np.sort(m[m < 0.0])
    # slope just beyond each breakpoint: the term leaves the hinge there
    after = slope - np.cumsum(m_neg) / n
    turn = np.flatnonzero(after >= 0.0)
    c = -1.0 / m_neg[turn[0] if turn.size else -1] if m_neg.size else 0.0
    F = beta * c * w_sum + np.maximum(1.0 + c * m, 0.0).sum() / n
    return float(c), float(F)
