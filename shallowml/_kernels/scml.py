"""SCML: stochastic steps on the basis weights, and the triplet hinge of a metric.

Shi, Bellet & Sha, "Sparse compositional metric learning", AAAI 2014. The
metric is ``M = sum_k w_k b_k b_k^T`` over rank-one bases ``b_k``; for a
triplet ``t = (a, p, n)`` the per-basis distance differences are
``dd_tk = (b_k . (x_a - x_p))^2 - (b_k . (x_a - x_n))^2``, computed here from
the projections ``XB = X B^T`` of the points (never stored per triplet).
"""

import math

import numba

from ._options import njit_serial, size_dispatched


@njit_serial
def scml_rda_steps(XB, triplets, batches, start, stop, w, S, ada, beta, gamma, delta, active, g):
    """Iterations ``start .. stop-1`` of the stochastic composite solver; update in place.

    Regularised dual averaging (Xiao, JMLR 2010) with AdaGrad's per-weight
    scaling (Duchi, Hazan & Singer, JMLR 2011), on
    ``F(w) = beta sum_k w_k + mean_t [1 + dd_t . w]_+`` over ``w >= 0``:
    iteration ``s`` (from 0) takes the triplets ``batches[s]``, averages the
    sub-gradient ``g`` of their hinges (``dd_t`` where ``1 + dd_t . w > 0``),
    then, with ``S`` the sum of the gradients so far (``S / (s + 1)`` their
    average)::

        S    <- S + g
        ada  <- sqrt(ada^2 + g^2)
        w    <- (s + 1) / (gamma (delta + ada)) * max(0, -(S / (s + 1) + beta))
              = max(0, -beta (s + 1) - S) / (gamma (delta + ada))

    ``w`` is sparse, and the work follows: the hinge's argument is summed
    over the bases with ``w_k > 0`` only (the others add exact zeros), a
    triplet's full row ``dd_t`` is computed only when its hinge is
    positive, and an iteration without such a triplet (``g = 0``: ``S``
    and ``ada`` unchanged) only updates the positive weights (a zero weight
    stays zero as ``-beta (s + 1)`` decreases).

    Parameters
    ----------
    XB : ndarray of shape (n_points, n_basis)
        Projections of the points on the bases.
    triplets : ndarray of int64, shape (n_triplets, 3)
        ``(anchor, positive, negative)`` rows of ``XB``.
    batches : ndarray of int64, shape (n_iterations, batch_size)
        Triplet indices of each iteration.
    start, stop : int
    w, S, ada : ndarray of shape (n_basis,)
        Weights, summed gradients and root of the summed squared gradients.
    beta, gamma, delta : float
        l1 weight, learning-rate parameter and AdaGrad's offset.
    active : ndarray of int64, shape (n_basis,)
        Work buffer (indices of the positive weights).
    g : ndarray of shape (n_basis,)
        Work buffer.
    """
    K = XB.shape[1]
    b = batches.shape[1]
    n_active = 0
    for k in range(K):
        if w[k] > 0.0:
            active[n_active] = k
            n_active += 1
    for it in range(start, stop):
        hinge = False
        for j in range(b):
            t = batches[it, j]
            a = triplets[t, 0]
            p = triplets[t, 1]
            n = triplets[t, 2]
            s = 0.0
            for q in range(n_active):
                k = active[q]
                x = XB[a, k]
                u = x - XB[p, k]
                v = x - XB[n, k]
                s += w[k] * (u * u - v * v)
            if 1.0 + s > 0.0:
                if not hinge:
                    hinge = True
                    for k in range(K):
                        g[k] = 0.0
                for k in range(K):
                    x = XB[a, k]
                    u = x - XB[p, k]
                    v = x - XB[n, k]
                    g[k] += u * u - v * v
        threshold = -beta * (it + 1.0)
        if hinge:
            n_active = 0
            for k in range(K):
                gk = g[k] / b
                if gk != 0.0:
                    S[k] += gk
                    ada[k] = math.sqrt(ada[k] * ada[k] + gk * gk)
                if S[k] < threshold:
                    w[k] = (threshold - S[k]) / (gamma * (delta + ada[k]))
                    active[n_active] = k
                    n_active += 1
                else:
                    w[k] = 0.0
        else:
            kept = 0
            for q in range(n_active):
                k = active[q]
                if S[k] < threshold:
                    w[k] = (threshold - S[k]) / (gamma * (delta + ada[k]))
                    active[kept] = k
                    kept += 1
                else:
                    w[k] = 0.0
            n_active = kept


@size_dispatched(work=lambda Z, triplets, out: triplets.shape[0] * Z.shape[1] * 2)
def triplet_slacks(Z, triplets, out):
    """``out[t] = 1 + ||z_a - z_p||^2 - ||z_a - z_n||^2`` for each triplet (rows in parallel).

    With ``Z = X L^T`` and ``M = L^T L = sum_k w_k b_k b_k^T`` this is
    ``1 + dd_t . w``, the argument of SCML's hinge.
    """
    r = Z.shape[1]
    for t in numba.prange(triplets.shape[0]):
        a = triplets[t, 0]
        p = triplets[t, 1]
        n = triplets[t, 2]
        dp = 0.0
        dn = 0.0
        for k in range(r):
            u = Z[a, k] - Z[p, k]
            v = Z[a, k] - Z[n, k]
            dp += u * u
            dn += v * v
        out[t] = 1.0 + (dp - dn)


def dist_diff_rows(XB, triplets):
    """``dd`` for the given triplets, shape ``(n_triplets, n_basis)`` (tests and small problems)."""
    a, p, n = triplets[:, 0], triplets[:, 1], triplets[:, 2]
    return (XB[a] - XB[p]) ** 2 - (XB[a] - XB[n]) ** 2

