"""Serial kernels for in-batch triplet mining (batches are small: no threads).

A parallel launch costs more than the whole computation on a mini-batch of
64 samples, so these kernels are serial and cached.
"""

import numpy as np

from ._options import njit_serial
from .distances import sq_dist


@njit_serial
def batch_sq_distances(Z):
    """Exact ``(n, n)`` squared distances of the rows of ``Z`` (symmetric, zero diagonal)."""
    n = Z.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            v = sq_dist(Z[i], Z[j])
            out[i, j] = v
            out[j, i] = v
    return out


@njit_serial
def all_triplets_coefficients(sq, labels, margin):
    """Hinge sum and gradient coefficients over every valid triplet of a batch.

    For every anchor ``a``, positive ``p`` (same label, ``p != a``) and
    negative ``q`` (other label) with ``h = margin + sq[a, p] - sq[a, q] > 0``,
    adds ``h`` to the total, ``+1`` to ``C[a, p]`` and ``-1`` to ``C[a, q]``.

    Returns
    -------
    C : ndarray of shape (n, n)
    total : float
        Sum of the active hinges.
    count : int
        Number of valid triplets (active or not).
    """
    n = sq.shape[0]
    C = np.zeros((n, n))
    total = 0.0
    count = 0
    for a in range(n):
        n_pos = 0
        n_neg = 0
        for j in range(n):
            if j != a and labels[j] == labels[a]:
                n_pos += 1
            elif labels[j] != labels[a]:
                n_neg += 1
        if n_pos == 0 or n_neg == 0:
            continue
        count += n_pos * n_neg
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            for q in range(n):
                if labels[q] == labels[a]:
                    continue
                h = margin + sq[a, p] - sq[a, q]
                if h > 0.0:
                    total += h
                    C[a, p] += 1.0
                    C[a, q] -= 1.0
    return C, total, count


@njit_serial
def semi_hard_negatives(sq, labels):
    """FaceNet semi-hard negative of every positive pair ``(a, p)``, ``p != a``.

    The negative ``q`` (other label) with the smallest ``sq[a, q] > sq[a, p]``;
    when there is none, the one with the largest ``sq[a, q]``. Ties go to the
    lowest index. Anchors without a negative are skipped.

    Returns
    -------
    triplets : ndarray of int64, shape (n_triplets, 3)
    """
    n = sq.shape[0]
    out = np.empty((n * n, 3), dtype=np.int64)
    m = 0
    for a in range(n):
        has_neg = False
        for q in range(n):
            if labels[q] != labels[a]:
                has_neg = True
                break
        if not has_neg:
            continue
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            d_ap = sq[a, p]
            best_out = -1
            best_in = -1
            for q in range(n):
                if labels[q] == labels[a]:
                    continue
                d = sq[a, q]
                if d > d_ap:
                    if best_out < 0 or d < sq[a, best_out]:
                        best_out = q
                elif best_in < 0 or d > sq[a, best_in]:
                    best_in = q
            out[m, 0] = a
            out[m, 1] = p
            out[m, 2] = best_out if best_out >= 0 else best_in
            m += 1
    return out[:m].copy()
