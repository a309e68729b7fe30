"""Ranking statistics of retrieval queries (P@1, R-precision, MAP@R, average precision).

One block of query rows at a time: the caller fills the squared distances of
the block to every reference (``distances.iter_sq_distance_blocks``), this
kernel ranks each row and reduces it to a few numbers, so memory stays
O(block_rows * n_ref), never n x n.

References are ranked by (squared distance, reference index): ties go to the
smaller index, as a stable argsort and the k-heaps of :mod:`.heap` order
them. Only the first ``depth`` ranks are ordered when a query needs no more:
a ``depth``-heap over the row rejects most references with one comparison
against its root, so P@1, Recall@k and MAP@R cost about O(n_ref) per query
instead of a full sort (which only the average precision over all ranks
needs).
"""

import numba
import numpy as np

from ._options import size_dispatched
from .heap import empty_heap, heap_push, heap_sort


# work: a k-heap pass (or a full sort) over every row, about 8 operations per distance
@size_dispatched(work=lambda D, *args: D.size * 8)
def rank_statistics(D, q_codes, r_codes, exclude, n_relevant, depth, first_hit, hits_at_r, sum_at_r, sum_all):
    """Reduce each row of ``D`` (query x reference squared distances) to ranking statistics.

    Parameters
    ----------
    D : ndarray of shape (n_queries, n_ref), float64
    q_codes, r_codes : ndarray of int64
        Class codes of the queries and of the references.
    exclude : ndarray of int64 of shape (n_queries,)
        Reference index left out of each query's ranking (the query itself
        in leave-one-out), ``-1`` for none.
    n_relevant : ndarray of int64 of shape (n_queries,)
        ``R``: references of the query's class (the excluded one not
        counted). Rows with ``R = 0`` are skipped (outputs left untouched).
    depth : ndarray of int64 of shape (n_queries,)
        Ranks to order, ``R <= depth <= n_ref - (exclude >= 0)``.

    Outputs (one entry per row, written by that row only)
    ------------------------------------------------------
    first_hit : rank (1-based) of the first relevant reference, ``depth + 1``
        when none is within ``depth``.
    hits_at_r : relevant references among the first ``R`` ranks.
    sum_at_r : sum of ``P(i)`` over relevant ranks ``i <= R`` (MAP@R * R).
    sum_all : sum of ``P(i)`` over relevant ranks ``i <= depth`` (average
        precision * R when ``depth`` covers every reference).
    """
    n_ref = D.shape[1]
    for row in numba.prange(D.shape[0]):
        R = n_relevant[row]
        if R <= 0:
            continue
        excl = exclude[row]
        want = depth[row]
        if want < n_ref - (1 if excl >= 0 else 0):
            # the want nearest by (distance, index): a k-heap, most references rejected against its root
            hd, hi = empty_heap(want)
            for j in range(n_ref):
                if j != excl:
                    heap_push(hd, hi, D[row, j], j)
            heap_sort(hd, hi)
            ranked = hi
        else:
            m = n_ref - 1 if excl >= 0 else n_ref
            dd = np.empty(m)
            ii = np.empty(m, dtype=np.int64)
            p = 0
            for j in range(n_ref):
                if j != excl:
                    dd[p] = D[row, j]
                    ii[p] = j
                    p += 1
            order = np.argsort(dd, kind="mergesort")  # stable: ties keep index order
            ranked = ii[order]
        c = q_codes[row]
        hits = 0
        first = 0
        at_r = 0.0
        total = 0.0
        hits_r = 0
        for pos in range(ranked.shape[0]):
            if r_codes[ranked[pos]] == c:
                hits += 1
                if first == 0:
                    first = pos + 1
                prec = hits / (pos + 1.0)
                total += prec
                if pos < R:
                    at_r += prec
            if pos == R - 1:
                hits_r = hits
        first_hit[row] = first if first > 0 else ranked.shape[0] + 1
        hits_at_r[row] = hits_r
        sum_at_r[row] = at_r
        sum_all[row] = total
