"""ITML: one cyclic sweep of Bregman projections over all pair constraints.

Davis, Kulis, Jain, Sra & Dhillon, "Information-theoretic metric learning",
ICML 2007, Algorithm 1, with the slack update in the form of the authors'
reference implementation (projection step scaled by ``gamma / (gamma + 1)``).
The caller chooses which constraints a sweep visits (``order``): all of
them, or only the active ones (see :func:`shallowml._solvers.bregman.itml_solve`).

Each constraint costs ``O(d^2)``: ``A v`` (column axpys, so the loop
vectorises without reassociating sums) and, when the projection is active,
the symmetric rank-one update ``A <- A + beta (A v)(A v)^T``.
"""

import numpy as np

from ._options import njit_serial


@njit_serial
def itml_sweep(V, sign, xi, lam, A, gamma_proj, inv_gamma, order):
    """Project onto the constraints ``order[0], order[1], ...`` once each; update in place.

    Parameters
    ----------
    V : ndarray of shape (n_constraints, d)
        Pair differences ``x_i - x_j``.
    sign : ndarray of float64, shape (n_constraints,)
        +1 for similar (``v^T A v <= xi``), -1 for dissimilar (``>= xi``).
    xi : ndarray of shape (n_constraints,)
        Slack-relaxed targets (start at the bounds); updated.
    lam : ndarray of shape (n_constraints,)
        Dual variables (start at 0, stay >= 0); updated.
    A : ndarray of shape (d, d)
        Current Mahalanobis matrix (symmetric PSD); updated.
    gamma_proj : float
        ``gamma / (gamma + 1)`` (1 for ``gamma = inf``).
    inv_gamma : float
        ``1 / gamma`` (0 for ``gamma = inf``).
    order : ndarray of int64, shape (n_steps,)
        Constraints to visit, in this order (``arange(n_constraints)`` for a
        full sweep).

    Returns
    -------
    n_updates : int
        Number of constraints whose projection changed ``A``.
    """
    d = V.shape[1]
    Av = np.empty(d)
    tiny = np.finfo(np.float64).tiny
    n_updates = 0
    for t in range(order.shape[0]):
        k = order[t]
        for i in range(d):
            Av[i] = 0.0
        for j in range(d):
            vj = V[k, j]
            if vj != 0.0:  # sparse differences (e.g. equal pixels) are common
                for i in range(d):
                    Av[i] += A[j, i] * vj  # A symmetric: column j == row j
        p = 0.0
        for i in range(d):
            p += V[k, i] * Av[i]
        if not p > tiny:
            # zero difference (or in the prior's null space): nothing to project
            continue
        s = sign[k]
        alpha = min(lam[k], gamma_proj * s * (1.0 / p - 1.0 / xi[k]))
        if alpha == 0.0:
            continue
        beta = s * alpha / (1.0 - s * alpha * p)
        xi[k] = 1.0 / (1.0 / xi[k] + s * alpha * inv_gamma)
        lam[k] -= alpha
        for i in range(d):
            bi = beta * Av[i]
            for j in range(d):
                A[i, j] += bi * Av[j]
        n_updates += 1
    return n_updates

