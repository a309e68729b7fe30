"""Weak supervision from labels: similar/dissimilar pairs, chunklets, triplets.

Every sampler takes an explicit ``random_state`` and is deterministic given
it. Memory is ``O(n_samples + n_requested)``, never ``O(n_samples^2)``: pairs
are drawn as distinct integers in ``[0, n_available_pairs)`` and decoded into
sample indices through per-sample cumulative counts.

Pairs are unordered and returned with the smaller index first
(``pairs[:, 0] < pairs[:, 1]``).
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "chunks_from_labels",
    "count_pairs",
    "knn_triplets",
    "pairs_from_indices",
    "positive_negative_pairs",
    "supervised_pairs",
]


def _labelled(y, unlabeled):
    """Indices of labelled samples sorted by class, class starts, class sizes."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    if unlabeled is None:
        mask = np.ones(y.shape[0], dtype=bool)
    else:
        mask = y != unlabeled
        if y.dtype.kind == "f" and isinstance(unlabeled, numbers.Real) and np.isnan(unlabeled):
            mask = ~np.isnan(y)
    idx = np.flatnonzero(mask)
    if idx.size and y.dtype.kind == "f" and np.isnan(y[idx]).any():
        raise ValueError("y contains NaN; pass unlabeled=np.nan to treat NaN as 'no label'.")
    _, codes = np.unique(y[idx], return_inverse=True)
    codes = codes.astype(np.int64).ravel()
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return idx[order], codes[order], starts, counts.astype(np.int64)


def _partners(codes_sorted, starts, positive):
    """Number of partners ``j > p`` (sorted positions) of each sorted position ``p``."""
    p = np.arange(codes_sorted.size, dtype=np.int64)
    end = starts[codes_sorted + 1]
    if positive:
        return end - p - 1, p + 1
    return codes_sorted.size - end, end


def count_pairs(y, *, unlabeled=None):
    """Number of distinct unordered similar and dissimilar pairs in ``y``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.
    unlabeled : scalar, default=None
        Label value meaning "no label"; such samples are ignored.

    Returns
    -------
    n_positive, n_negative : int

    Examples
    --------
    >>> from shallowml.constraints import count_pairs
    >>> count_pairs([0, 0, 0, 1, 1])
    (4, 6)
    """
    _, _, _, counts = _labelled(y, unlabeled)
    n = int(counts.sum())
    same = int(np.sum(counts * (counts - 1) // 2))
    return same, n * (n - 1) // 2 - same


def _sample_distinct(total, m, rng):
    """``m`` distinct integers drawn uniformly from ``[0, total)`` in random order."""
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if 2 * m >= total:
        return rng.permutation(total)[:m].astype(np.int64)
    out = np.zeros(0, dtype=np.int64)
    while out.size < m:
        draw = rng.randint(0, total, size=m - out.size + 16, dtype=np.int64)
        out = np.concatenate((out, draw))
        _, first = np.unique(out, return_index=True)
        out = out[np.sort(first)]
    return out[:m]


def _decode(flat, codes_sorted, starts, positive):
    """Map flat pair numbers to (sorted position p, sorted position q), p < q."""
    n_part, first = _partners(codes_sorted, starts, positive)
    cum = np.concatenate(([0], np.cumsum(n_part)))
    p = np.searchsorted(cum, flat, side="right") - 1
    q = first[p] + (flat - cum[p])
    return p, q


def _sample_pairs(total, m, codes_sorted, starts, idx_sorted, positive, rng):
    flat = _sample_distinct(total, m, rng)
    p, q = _decode(flat, codes_sorted, starts, positive)
    a, b = idx_sorted[p], idx_sorted[q]
    return np.stack((np.minimum(a, b), np.maximum(a, b)), axis=1).astype(np.int64)


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def positive_negative_pairs(y, n_pos, n_neg=None, *, random_state, unlabeled=None):
    """Sample similar (same label) and dissimilar (different label) pairs.

    Pairs are drawn uniformly without replacement from all distinct unordered
    pairs of labelled samples, so no pair appears twice and ``i != j``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels (any hashable, sortable values).
    n_pos : int
        Number of similar pairs.
    n_neg : int, default=None
        Number of dissimilar pairs; default ``n_pos``.
    random_state : int, RandomState instance or None
        Keyword-only and required, so that sampling is always explicit.
    unlabeled : scalar, default=None
        Label value meaning "no label" (partial labels, e.g. ``-1``); those
        samples are never sampled. ``np.nan`` is accepted for float labels.

    Returns
    -------
    pos_pairs : ndarray of int64, shape (n_pos, 2)
        Sample indices of similar pairs, smaller index first.
    neg_pairs : ndarray of int64, shape (n_neg, 2)
        Sample indices of dissimilar pairs, smaller index first.

    Raises
    ------
    ValueError
        If fewer distinct similar (dissimilar) pairs exist than requested, e.g.
        when no class has 2 samples or only one class is labelled.

    See Also
    --------
    count_pairs : how many distinct pairs are available.
    pairs_from_indices : turn the indices into an ``(m, 2, n_features)`` array.

    Examples
    --------
    >>> from shallowml.constraints import positive_negative_pairs
    >>> pos, neg = positive_negative_pairs([0, 0, 1, 1, -1], 2, 3, random_state=0, unlabeled=-1)
    >>> pos.shape, neg.shape
    ((2, 2), (3, 2))
    >>> sorted(map(tuple, pos.tolist()))
    [(0, 1), (2, 3)]
    """
    n_pos = _check_count(n_pos, "n_pos")
    n_neg = n_pos if n_neg is None else _check_count(n_neg, "n_neg")
    rng = check_random_state(random_state)
    idx_sorted, codes_sorted, starts, counts = _labelled(y, unlabeled)
    n = int(counts.sum())
    avail_pos = int(np.sum(counts * (counts - 1) // 2))
    avail_neg = n * (n - 1) // 2 - avail_pos
    if n_pos > avail_pos:
        raise ValueError(
            f"Cannot sample {n_pos} distinct similar pairs: only {avail_pos} exist "
            f"({n} labelled samples in {counts.size} classes, largest class has "
            f"{int(counts.max(initial=0))} samples). Request fewer pairs or add labelled samples."
        )
    if n_neg > avail_neg:
        raise ValueError(
            f"Cannot sample {n_neg} distinct dissimilar pairs: only {avail_neg} exist "
            f"({n} labelled samples in {counts.size} classes). Request fewer pairs or label "
            "samples of at least 2 classes."
        )
    pos = _sample_pairs(avail_pos, n_pos, codes_sorted, starts, idx_sorted, True, rng)
    neg = _sample_pairs(avail_neg, n_neg, codes_sorted, starts, idx_sorted, False, rng)
    return pos, neg


def supervised_pairs(y_codes, n_constraints, *, random_state, equal_counts=False):
    """The similar and dissimilar pairs a ``*_Supervised`` learner samples from class labels.

    ``n_constraints`` pairs of each kind; ``None`` means metric-learn's default,
    ``20 * n_classes**2``, capped at the number of distinct pairs available
    (of each kind separately, or of the scarcer kind with ``equal_counts``).

    Parameters
    ----------
    y_codes : ndarray of int, shape (n_samples,)
        Class codes ``0 .. n_classes - 1``.
    n_constraints : int or None
    random_state : int, RandomState instance or None
    equal_counts : bool, default=False
        Draw as many similar as dissimilar pairs (LSML compares them one to one).

    Returns
    -------
    pos_pairs, neg_pairs : ndarray of int64, shape (n, 2)
        As :func:`positive_negative_pairs`.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.constraints import supervised_pairs
    >>> pos, neg = supervised_pairs(np.array([0, 0, 0, 1, 1]), None, random_state=0)
    >>> len(pos), len(neg)  # all 4 similar and all 6 dissimilar pairs (default 80, capped)
    (4, 6)
    """
    if n_constraints is not None:
        return positive_negative_pairs(y_codes, n_constraints, n_constraints, random_state=random_state)
    n = 20 * int(np.unique(y_codes).size) ** 2
    avail_pos, avail_neg = count_pairs(y_codes)
    if equal_counts:
        avail_pos = avail_neg = min(avail_pos, avail_neg)
    return positive_negative_pairs(y_codes, min(n, avail_pos), min(n, avail_neg), random_state=random_state)


def pairs_from_indices(X, pos, neg):
    """Build a pairs array and its labels from index pairs.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    pos : array-like of int, shape (n_pos, 2)
        Indices of similar pairs.
    neg : array-like of int, shape (n_neg, 2)
        Indices of dissimilar pairs.

    Returns
    -------
    pairs : ndarray of shape (n_pos + n_neg, 2, n_features)
        Similar pairs first, then dissimilar ones.
    y : ndarray of int64, shape (n_pos + n_neg,)
        +1 for similar, -1 for dissimilar pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.constraints import pairs_from_indices
    >>> pairs, y = pairs_from_indices(np.eye(3), [[0, 1]], [[1, 2]])
    >>> pairs.shape, y.tolist()
    ((2, 2, 3), [1, -1])
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}.")
    parts = []
    for name, ind in (("pos", pos), ("neg", neg)):
        ind = np.asarray(ind, dtype=np.int64).reshape(-1, 2) if np.size(ind) else np.zeros((0, 2), np.int64)
        if ind.size and (ind.min() < -X.shape[0] or ind.max() >= X.shape[0]):
            raise ValueError(f"{name} holds indices outside [0, {X.shape[0]}).")
        parts.append(ind)
    ind = np.concatenate(parts)
    y = np.concatenate((np.ones(parts[0].shape[0], np.int64), -np.ones(parts[1].shape[0], np.int64)))
    return X[ind], y


def chunks_from_labels(y, n_chunks, chunk_size, *, random_state, unlabeled=None):
    """Sample disjoint chunklets (groups of same-label samples) for RCA.

    Each chunk holds ``chunk_size`` distinct samples of one class; chunks never
    share samples. Classes host chunks in proportion to their size (each of the
    ``n_c // chunk_size`` possible chunk slots of every class is equally likely).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    n_chunks : int
    chunk_size : int, >= 1
    random_state : int, RandomState instance or None
    unlabeled : scalar, default=None
        Label value meaning "no label"; such samples are never in a chunk.

    Returns
    -------
    chunks : ndarray of int64, shape (n_samples,)
        Chunk id in ``0..n_chunks-1`` for chunked samples, ``-1`` otherwise.
        Usable directly as ``y`` of :class:`~shallowml.RCA`.

    Raises
    ------
    ValueError
        If the classes cannot host ``n_chunks`` disjoint chunks.

    Examples
    --------
    >>> from shallowml.constraints import chunks_from_labels
    >>> chunks_from_labels([0, 0, 1, 1, 1], 2, 2, random_state=0).tolist().count(-1)
    1
    """
    n_chunks = _check_count(n_chunks, "n_chunks")
    chunk_size = _check_count(chunk_size, "chunk_size")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1.")
    rng = check_random_state(random_state)
    n_samples = np.shape(y)[0]
    idx_sorted, _, starts, counts = _labelled(y, unlabeled)
    slots = counts // chunk_size
    if n_chunks > slots.sum():
        raise ValueError(
            f"Cannot form {n_chunks} disjoint chunks of {chunk_size} samples: the labelled "
            f"classes can host only {int(slots.sum())}. Use fewer or smaller chunks."
        )
    slot_class = np.repeat(np.arange(counts.size), slots)
    chosen = slot_class[_sample_distinct(slot_class.size, n_chunks, rng)]
    per_class = np.bincount(chosen, minlength=counts.size)
    chunks = np.full(n_samples, -1, dtype=np.int64)
    next_id = 0
    for c in np.flatnonzero(per_class):
        members = idx_sorted[starts[c]:starts[c + 1]]
        picked = members[rng.permutation(members.size)[: per_class[c] * chunk_size]]
        ids = next_id + np.repeat(np.arange(per_class[c]), chunk_size)
        chunks[picked] = ids
        next_id += per_class[c]
    return chunks


def knn_triplets(X, y, k, *, k_impostor=None, random_state=None):
    """Triplets ``(anchor, neighbour, impostor)`` from nearest neighbours.

    Every sample is an anchor for each of its ``k`` nearest same-class
    neighbours (Euclidean). The impostor is, with ``k_impostor=None``, one
    sample of another class drawn uniformly at random per (anchor,
    neighbour); with ``k_impostor`` an int, each of the anchor's
    ``k_impostor`` nearest samples of other classes, giving ``k *
    k_impostor`` triplets per anchor (metric-learn's
    ``generate_knntriplets(X, y, k_genuine, k_impostor)``). Classes with
    fewer than ``k + 1`` samples contribute fewer triplets; singleton
    classes none. Neighbours are found row by row with a k-heap (numba):
    memory O(n * k), no n x n matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    k : int, >= 1
        Same-class (genuine) neighbours per anchor.
    k_impostor : int >= 1 or None, default=None
        Nearest other-class samples per anchor; None draws one at random.
    random_state : int, RandomState instance or None, default=None
        Draws the random impostors (unused with ``k_impostor``).

    Returns
    -------
    triplets : ndarray of int64, shape (n_triplets, 3)
        Rows ordered by anchor, then by neighbour distance (then by impostor
        distance).

    Raises
    ------
    ValueError
        If there is a single class or no class has 2 samples.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.constraints import knn_triplets
    >>> X = np.array([[0.0], [1.0], [5.0], [6.0]])
    >>> knn_triplets(X, [0, 0, 1, 1], 1, random_state=0)[:, :2].tolist()
    [[0, 1], [1, 0], [2, 3], [3, 2]]
    >>> knn_triplets(X, [0, 0, 1, 1], 1, k_impostor=2)[:2].tolist()
    [[0, 1, 2], [0, 1, 3]]
    """
    from ._kernels.neighbors import other_class_neighbors, same_class_neighbors

    k = _check_count(k, "k")
    if k < 1:
        raise ValueError("k must be at least 1.")
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"Expected X of shape (n, d) and y of shape (n,), got {X.shape} and {y.shape}.")
    rng = check_random_state(random_state)
    _, codes = np.unique(y, return_inverse=True)
    codes = codes.astype(np.int64).ravel()
    counts = np.bincount(codes)
    if counts.size < 2:
        raise ValueError("knn_triplets needs samples of at least 2 classes; got 1 class.")
    if counts.max() < 2:
        raise ValueError("knn_triplets needs a class with at least 2 samples; every class is a singleton.")
    ind, _ = same_class_neighbors(X, codes, k)
    anchor, col = np.nonzero(ind >= 0)
    neighbour = ind[anchor, col]
    if k_impostor is not None:
        k_impostor = _check_count(k_impostor, "k_impostor")
        if k_impostor < 1:
            raise ValueError("k_impostor must be at least 1 (or None for one random impostor).")
        imp, _ = other_class_neighbors(X, codes, k_impostor)
        imp = imp[anchor]  # (n_pairs, k_impostor), -1 padded
        rows, cols = np.nonzero(imp >= 0)
        return np.stack((anchor[rows], neighbour[rows], imp[rows, cols]), axis=1).astype(np.int64)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    c = codes[anchor]
    n_other = X.shape[0] - counts[c]
    r = np.floor(rng.random_sample(anchor.size) * n_other).astype(np.int64)
    r = np.minimum(r, n_other - 1)
    pos = np.where(r < starts[c], r, r + counts[c])
    return np.stack((anchor, neighbour, order[pos]), axis=1).astype(np.int64)


def class_balanced_batches(y, batch_size, samples_per_class, *, random_state):
    """One epoch of P x K class-balanced mini-batches (Hermans et al., 2017).

    Each batch holds ``P = max(2, batch_size // samples_per_class)`` classes
    (all of them when there are fewer), drawn uniformly without replacement,
    and up to ``K = samples_per_class`` samples of each. Every class is
    visited in a fresh random order and its samples are taken in turn, so
    within an epoch a sample reappears only after the rest of its class. The
    epoch has ``ceil(n_samples / (P * K))`` batches.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    batch_size : int
        Target batch size ``P * K``.
    samples_per_class : int
        ``K`` (>= 1).
    random_state : int, RandomState instance or None

    Returns
    -------
    batches : list of ndarray of int64
        Indices into ``y``.

    References
    ----------
    A. Hermans, L. Beyer, B. Leibe. In defense of the triplet loss for person
    re-identification. arXiv:1703.07737, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.constraints import class_balanced_batches
    >>> y = np.repeat([0, 1, 2, 3], 10)
    >>> batches = class_balanced_batches(y, 8, 4, random_state=0)
    >>> len(batches), [len(np.unique(y[b])) for b in batches]
    (5, [2, 2, 2, 2, 2])
    """
    rng = check_random_state(random_state)
    y = np.asarray(y)
    if _check_count(samples_per_class, "samples_per_class") < 1 or _check_count(batch_size, "batch_size") < 1:
        raise ValueError(
            f"batch_size and samples_per_class must be >= 1, got {batch_size!r} and {samples_per_class!r}."
        )
    if y.size == 0:
        return []
    codes = np.unique(y, return_inverse=True)[1].ravel()
    n_classes = int(codes.max()) + 1
    members = [np.flatnonzero(codes == c) for c in range(n_classes)]
    k = int(samples_per_class)
    p = min(n_classes, max(2, int(batch_size) // k))
    queues = [rng.permutation(m) for m in members]
    heads = np.zeros(n_classes, dtype=np.int64)
    n_batches = -(-y.size // (p * k))
    out = []
    for _ in range(n_batches):
        chosen = rng.choice(n_classes, p, replace=False)
        parts = []
        for c in chosen:
            size = members[c].size
            take = min(k, size)
            if heads[c] + take > size:
                queues[c] = rng.permutation(members[c])
                heads[c] = 0
            parts.append(queues[c][heads[c] : heads[c] + take])
            heads[c] += take
        out.append(np.concatenate(parts).astype(np.int64))
    return out
