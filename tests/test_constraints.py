"""Tests for shallowml/constraints.py: pairs, chunks and triplets from labels."""

import re
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shallowml.constraints import (
    chunks_from_labels,
    count_pairs,
    knn_triplets,
    pairs_from_indices,
    positive_negative_pairs,
)


def _all_pairs(y, unlabeled=None):
    y = np.asarray(y)
    pos, neg = set(), set()
    for i, j in combinations(range(y.size), 2):
        if unlabeled is not None and (y[i] == unlabeled or y[j] == unlabeled):
            continue
        (pos if y[i] == y[j] else neg).add((i, j))
    return pos, neg


@settings(max_examples=40, deadline=None)
@given(
    y=st.lists(st.integers(-1, 3), min_size=2, max_size=25),
    frac=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
    use_unlabeled=st.booleans(),
)
def test_pairs_are_valid_distinct_and_exhaustive(y, frac, seed, use_unlabeled):
    unlabeled = -1 if use_unlabeled else None
    all_pos, all_neg = _all_pairs(y, unlabeled)
    assert count_pairs(y, unlabeled=unlabeled) == (len(all_pos), len(all_neg))
    n_pos, n_neg = int(frac * len(all_pos)), int((1 - frac) * len(all_neg))
    pos, neg = positive_negative_pairs(y, n_pos, n_neg, random_state=seed, unlabeled=unlabeled)
    assert pos.shape == (n_pos, 2) and neg.shape == (n_neg, 2)
    assert pos.dtype == np.int64 and neg.dtype == np.int64
    got_pos, got_neg = set(map(tuple, pos.tolist())), set(map(tuple, neg.tolist()))
    assert len(got_pos) == n_pos and len(got_neg) == n_neg  # no duplicates
    assert got_pos <= all_pos and got_neg <= all_neg  # right labels, i < j, labelled only
    # asking for everything returns everything
    pos, neg = positive_negative_pairs(
        y, len(all_pos), len(all_neg), random_state=seed, unlabeled=unlabeled
    )
    assert set(map(tuple, pos.tolist())) == all_pos and set(map(tuple, neg.tolist())) == all_neg


def test_pairs_deterministic_and_default_n_neg():
    y = np.arange(300) % 4
    a = positive_negative_pairs(y, 50, random_state=3)
    b = positive_negative_pairs(y, 50, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[1].shape == (50, 2)
    c = positive_negative_pairs(y, 50, random_state=4)
    assert not np.array_equal(a[0], c[0])


def test_pairs_uniform():
    # 4 similar pairs: (0,1), (0,2), (1,2) in class 0 and (3,4) in class 1
    counts = Counter()
    for seed in range(400):
        pos, _ = positive_negative_pairs([0, 0, 0, 1, 1], 1, 0, random_state=seed)
        counts[tuple(pos[0].tolist())] += 1
    assert set(counts) == {(0, 1), (0, 2), (1, 2), (3, 4)}
    assert min(counts.values()) > 60  # expected 100 each
    counts = Counter()
    for seed in range(300):
        _, neg = positive_negative_pairs([0, 0, 1], 0, 1, random_state=seed)
        counts[tuple(neg[0].tolist())] += 1
    assert set(counts) == {(0, 2), (1, 2)} and min(counts.values()) > 110


def test_pairs_large_n_small_memory():
    # 10^6 samples: 5e11 candidate pairs, far too many to enumerate
    y = np.arange(10**6) % 7
    pos, neg = positive_negative_pairs(y, 1000, random_state=0)
    assert np.all(y[pos[:, 0]] == y[pos[:, 1]]) and np.all(y[neg[:, 0]] != y[neg[:, 1]])
    assert len(set(map(tuple, pos.tolist()))) == 1000
    assert np.all(pos[:, 0] < pos[:, 1])


def test_pairs_string_and_nan_labels():
    pos, neg = positive_negative_pairs(["a", "b", "a", "b"], 2, 4, random_state=0)
    assert set(map(tuple, pos.tolist())) == {(0, 2), (1, 3)}
    y = np.array([0.0, np.nan, 0.0, 1.0])
    pos, neg = positive_negative_pairs(y, 1, 2, random_state=0, unlabeled=np.nan)
    assert pos.tolist() == [[0, 2]] and set(map(tuple, neg.tolist())) == {(0, 3), (2, 3)}
    with pytest.raises(ValueError, match=re.escape("y contains NaN; pass unlabeled=np.nan")):
        positive_negative_pairs(y, 1, random_state=0)


def test_pairs_errors():
    with pytest.raises(ValueError, match=re.escape("Cannot sample 1 distinct similar pairs: only 0 exist")):
        positive_negative_pairs([0, 1, 2], 1, random_state=0)
    with pytest.raises(ValueError, match=re.escape("Cannot sample 4 distinct dissimilar pairs: only 3 exist")):
        positive_negative_pairs([0, 0, 0, 1], 1, 4, random_state=0)
    with pytest.raises(ValueError, match=re.escape("Cannot sample 1 distinct dissimilar pairs: only 0 exist")):
        positive_negative_pairs([0, 0, -1, -1], 1, random_state=0, unlabeled=-1)
    with pytest.raises(ValueError, match=re.escape("n_pos must be a non-negative integer, got -1.")):
        positive_negative_pairs([0, 0], -1, random_state=0)
    with pytest.raises(ValueError, match=re.escape("n_neg must be a non-negative integer, got 1.5.")):
        positive_negative_pairs([0, 0], 1, 1.5, random_state=0)
    with pytest.raises(ValueError, match=re.escape("y must be 1-D, got shape (2, 1).")):
        positive_negative_pairs([[0], [0]], 1, random_state=0)
    with pytest.raises(TypeError):
        positive_negative_pairs([0, 0], 1)  # random_state is required


def test_pairs_from_indices():
    X = np.arange(12.0).reshape(4, 3)
    pairs, y = pairs_from_indices(X, [[0, 1], [2, 3]], [[0, 3]])
    assert pairs.shape == (3, 2, 3)
    np.testing.assert_array_equal(pairs[2], X[[0, 3]])
    np.testing.assert_array_equal(y, [1, 1, -1])
    pairs, y = pairs_from_indices(X, np.zeros((0, 2), int), [[1, 2]])
    assert pairs.shape == (1, 2, 3) and y.tolist() == [-1]
    with pytest.raises(ValueError, match=re.escape("pos holds indices outside [0, 4).")):
        pairs_from_indices(X, [[0, 4]], [])


def test_chunks_from_labels():
    y = np.array([0] * 7 + [1] * 4 + [2] * 1 + [-1] * 5)
    for seed in range(20):
        chunks = chunks_from_labels(y, 4, 2, random_state=seed, unlabeled=-1)
        ids, sizes = np.unique(chunks[chunks >= 0], return_counts=True)
        np.testing.assert_array_equal(ids, np.arange(4))
        assert np.all(sizes == 2)
        for c in ids:  # each chunk is within one class, never an unlabeled sample
            members = y[chunks == c]
            assert members[0] != -1 and np.all(members == members[0])
    np.testing.assert_array_equal(
        chunks_from_labels(y, 3, 3, random_state=5), chunks_from_labels(y, 3, 3, random_state=5)
    )
    # class 0 hosts 3 chunks of 2, class 1 hosts 2: at most 5
    with pytest.raises(ValueError, match=re.escape("Cannot form 6 disjoint chunks of 2 samples: the labelled classes can host only 5.")):
        chunks_from_labels(y, 6, 2, random_state=0, unlabeled=-1)
    with pytest.raises(ValueError, match=re.escape("chunk_size must be at least 1.")):
        chunks_from_labels(y, 1, 0, random_state=0)
    assert np.all(chunks_from_labels(y, 0, 2, random_state=0) == -1)


def test_knn_triplets_against_brute_force():
    rng = np.random.RandomState(0)
    X = rng.rand(30, 3)
    y = rng.randint(0, 3, 30)
    y[0] = 7  # singleton class: no triplets with anchor 0
    k = 2
    T = knn_triplets(X, y, k, random_state=0)
    expected = []
    for i in range(30):
        same = [j for j in range(30) if j != i and y[j] == y[i]]
        same.sort(key=lambda j: (np.sum((X[i] - X[j]) ** 2), j))
        expected += [(i, j) for j in same[:k]]
    assert [tuple(r) for r in T[:, :2].tolist()] == expected
    assert np.all(y[T[:, 2]] != y[T[:, 0]])
    np.testing.assert_array_equal(T, knn_triplets(X, y, k, random_state=0))
    # the impostor is uniform over the other classes' samples
    T = knn_triplets(np.zeros((402, 1)), [0] * 400 + [1, 2], 1, random_state=0)
    assert T.shape == (400, 3)
    counts = Counter(T[:, 2].tolist())
    assert set(counts) == {400, 401} and min(counts.values()) > 150


def test_knn_triplets_with_nearest_impostors_against_brute_force():
    rng = np.random.RandomState(1)
    X = rng.rand(40, 3)
    X[5] = X[6]  # a duplicate point: ties broken by index
    y = rng.randint(0, 3, 40)
    y[0] = 7
    k, k_imp = 2, 3
    T = knn_triplets(X, y, k, k_impostor=k_imp)
    expected = []
    for i in range(40):
        d = np.sum((X - X[i]) ** 2, axis=1)
        same = sorted((j for j in range(40) if j != i and y[j] == y[i]), key=lambda j: (d[j], j))[:k]
        other = sorted((j for j in range(40) if y[j] != y[i]), key=lambda j: (d[j], j))[:k_imp]
        expected += [(i, j, l) for j in same for l in other]
    assert [tuple(r) for r in T.tolist()] == expected
    # random_state plays no part; fewer other-class samples than k_impostor: all of them
    np.testing.assert_array_equal(T, knn_triplets(X, y, k, k_impostor=k_imp, random_state=5))
    T = knn_triplets(np.arange(5.0)[:, None], [0, 0, 0, 0, 1], 1, k_impostor=3)
    assert np.all(T[:, 2] == 4) and T.shape == (4, 3)
    with pytest.raises(ValueError, match=re.escape("k_impostor must be at least 1")):
        knn_triplets(X, y, 1, k_impostor=0)


def test_other_class_neighbors_parallel_equals_serial():
    from shallowml._kernels import neighbors

    rng = np.random.RandomState(0)
    X = rng.rand(200, 4)
    y = rng.randint(0, 4, 200).astype(np.int64)
    a = neighbors._other_class_knn.serial(X, y, 5)
    b = neighbors._other_class_knn.parallel(X, y, 5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_knn_triplets_errors():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match=re.escape("knn_triplets needs samples of at least 2 classes; got 1 class.")):
        knn_triplets(X, [0, 0, 0], 1)
    with pytest.raises(ValueError, match=re.escape("knn_triplets needs a class with at least 2 samples")):
        knn_triplets(X, [0, 1, 2], 1)
    with pytest.raises(ValueError, match=re.escape("k must be at least 1.")):
        knn_triplets(X, [0, 0, 1], 0)
