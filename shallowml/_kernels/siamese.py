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


@njit_serial
def all_triplets_soft_coefficients(sq, labels):
    """Soft-margin version of :func:`all_triplets_coefficients`.

    Every valid triplet costs ``softplus(sq[a, p] - sq[a, q])`` (Hermans et
    al., 2017); ``C[a, p]`` gains ``sigmoid(sq[a, p] - sq[a, q])`` and
    ``C[a, q]`` loses it. Returns ``(C, total, count)``.
    """
    n = sq.shape[0]
    C = np.zeros((n, n))
    total = 0.0
    count = 0
    for a in range(n):
        for p in range(n):
            if p == a or labels[p] != labels[a]:
                continue
            for q in range(n):
                if labels[q] == labels[a]:
                    continue
                v = sq[a, p] - sq[a, q]
                if v > 0.0:
                    e = np.exp(-v)
                    total += v + np.log1p(e)
                    w = 1.0 / (1.0 + e)
                else:
                    e = np.exp(v)
                    total += np.log1p(e)
                    w = e / (1.0 + e)
                count += 1
                C[a, p] += w
                C[a, q] -= w
    return C, total, count


@njit_serial
def npair_coefficients(sq, labels):
    """Multi-class N-pair loss on squared distances (Sohn, 2016), every positive pair.

    For every anchor ``a`` with a positive ``p`` (same label, ``p != a``) and
    at least one negative, the term is ``log(1 + sum_q exp(sq[a, p] -
    sq[a, q]))`` over the negatives ``q`` of the batch (a softmax
    cross-entropy of ``p`` against them). ``C`` holds the derivatives of the
    sum of terms with respect to ``sq``. Returns ``(C, total, count)`` with
    ``count`` the number of terms.
    """
    n = sq.shape[0]
    C = np.zeros((n, n))
    total = 0.0
    count = 0
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
            # log(exp(0) + sum_q exp(v_q)) with v_q = sq[a, p] - sq[a, q], stably
            m = 0.0
            for q in range(n):
                if labels[q] != labels[a] and sq[a, p] - sq[a, q] > m:
                    m = sq[a, p] - sq[a, q]
            s = np.exp(-m)
            for q in range(n):
                if labels[q] != labels[a]:
                    s += np.exp(sq[a, p] - sq[a, q] - m)
            total += m + np.log(s)
            count += 1
            for q in range(n):
                if labels[q] != labels[a]:
                    w = np.exp(sq[a, p] - sq[a, q] - m) / s
                    C[a, p] += w
                    C[a, q] -= w
    return C, total, count


@njit_serial
def multi_similarity_coefficients(sq, labels, alpha, beta, lam, epsilon):
    """Multi-similarity loss (Wang et al., 2019) with similarity ``-sq``.

    For every anchor ``a`` with positives and negatives, pairs are mined
    first: a negative ``q`` is kept when ``sq[a, q] < max_p sq[a, p] +
    epsilon``, a positive ``p`` when ``sq[a, p] > min_q sq[a, q] - epsilon``.
    The anchor's term is ``log(1 + sum_p exp(alpha (sq[a, p] - lam))) / alpha
    + log(1 + sum_q exp(beta (lam - sq[a, q]))) / beta`` over the kept pairs.
    Returns ``(C, total, count)`` with ``count`` the number of anchors with
    both a positive and a negative.
    """
    n = sq.shape[0]
    C = np.zeros((n, n))
    total = 0.0
    count = 0
    big = np.finfo(np.float64).max
    for a in range(n):
        max_pos = -1.0
        min_neg = big
        n_pos = 0
        n_neg = 0
        for j in range(n):
            if j == a:
                continue
            if labels[j] == labels[a]:
                n_pos += 1
                if sq[a, j] > max_pos:
                    max_pos = sq[a, j]
            else:
                n_neg += 1
                if sq[a, j] < min_neg:
                    min_neg = sq[a, j]
        if n_pos == 0 or n_neg == 0:
            continue
        count += 1
        # positive term: (1 / alpha) log(1 + sum exp(alpha (sq - lam))), stably
        m = 0.0
        for j in range(n):
            if j != a and labels[j] == labels[a] and sq[a, j] > min_neg - epsilon:
                m = max(m, alpha * (sq[a, j] - lam))
        s = np.exp(-m)
        for j in range(n):
            if j != a and labels[j] == labels[a] and sq[a, j] > min_neg - epsilon:
                s += np.exp(alpha * (sq[a, j] - lam) - m)
        total += (m + np.log(s)) / alpha
        for j in range(n):
            if j != a and labels[j] == labels[a] and sq[a, j] > min_neg - epsilon:
                C[a, j] += np.exp(alpha * (sq[a, j] - lam) - m) / s
        # negative term: (1 / beta) log(1 + sum exp(beta (lam - sq)))
        m = 0.0
        for j in range(n):
            if labels[j] != labels[a] and sq[a, j] < max_pos + epsilon:
                m = max(m, beta * (lam - sq[a, j]))
        s = np.exp(-m)
        for j in range(n):
            if labels[j] != labels[a] and sq[a, j] < max_pos + epsilon:
                s += np.exp(beta * (lam - sq[a, j]) - m)
        total += (m + np.log(s)) / beta
        for j in range(n):
            if labels[j] != labels[a] and sq[a, j] < max_pos + epsilon:
                C[a, j] -= np.exp(beta * (lam - sq[a, j]) - m) / s
    return C, total, count
