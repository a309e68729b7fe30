"""Fixed-size max-heaps of (distance, index) for top-k search.

The root holds the current worst of the k best; a candidate is rejected with a
single comparison against it. Ties are broken by the smaller index so results
match a stable argsort. Empty slots (index ``-1``, distance at the float64 max
sentinel) rank after every real entry, so a candidate is kept even when its
distance overflowed to ``inf`` (coordinates beyond ~1e154).
"""

import numpy as np

from ._options import njit_inline, njit_serial


@njit_inline
def _worse(d1, i1, d2, i2):
    """True when (d1, i1) ranks after (d2, i2); an empty slot (i1 < 0) ranks last."""
    if i1 < 0:
        return i2 >= 0
    if i2 < 0:
        return False
    return d1 > d2 or (d1 == d2 and i1 > i2)


@njit_inline
def heap_push(dist, idx, d, i):
    """Push (d, i) into the max-heap (dist, idx) if it beats the root.

    ``i`` must be a non-negative index (``-1`` marks empty slots).

    Returns 1 when the candidate was inserted, 0 otherwise.
    """
    # reject against the root: one comparison unless the root is an empty slot
    if idx[0] >= 0 and not (dist[0] > d or (dist[0] == d and idx[0] > i)):
        return 0
    size = dist.shape[0]
    pos = 0
    while True:
        left = 2 * pos + 1
        right = left + 1
        if left >= size:
            break
        child = left
        if right < size and _worse(dist[right], idx[right], dist[left], idx[left]):
            child = right
        if _worse(dist[child], idx[child], d, i):
            dist[pos] = dist[child]
            idx[pos] = idx[child]
            pos = child
        else:
            break
    dist[pos] = d
    idx[pos] = i
    return 1


@njit_inline
def heap_sort(dist, idx):
    """Sort a max-heap in place into ascending (distance, index) order."""
    n = dist.shape[0]
    for end in range(n - 1, 0, -1):
        d_last = dist[end]
        i_last = idx[end]
        dist[end] = dist[0]
        idx[end] = idx[0]
        pos = 0
        while True:
            left = 2 * pos + 1
            right = left + 1
            if left >= end:
                break
            child = left
            if right < end and _worse(dist[right], idx[right], dist[left], idx[left]):
                child = right
            if _worse(dist[child], idx[child], d_last, i_last):
                dist[pos] = dist[child]
                idx[pos] = idx[child]
                pos = child
            else:
                break
        dist[pos] = d_last
        idx[pos] = i_last


@njit_serial
def empty_heap(k):
    """Arrays for one heap: distances at the float64 max sentinel, index -1."""
    dist = np.full(k, np.finfo(np.float64).max)
    idx = np.full(k, -1, dtype=np.int64)
    return dist, idx
