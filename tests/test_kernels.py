"""numba kernels against plain numpy references (zero rows, duplicates, ties, threads)."""

import numba
import numpy as np
import pytest

from shallowml._kernels.distances import iter_sq_distance_blocks, pairwise_sq_distances, sq_dist
from shallowml._kernels.heap import empty_heap, heap_push, heap_sort
from shallowml._kernels.neighbors import same_class_neighbors
from shallowml.utils.threads import numba_threads

MAX_THREADS = min(2, numba.config.NUMBA_NUM_THREADS)


def _ref_sq(X, Y):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def _ref_same_class(X, y, k):
    """Stable-sort reference: neighbours ordered by (distance, index), self excluded."""
    D = _ref_sq(X, X)
    n = X.shape[0]
    counts = np.bincount(y)
    k_max = int(max(min(k, c - 1) for c in counts)) if n else 0
    k_max = max(k_max, 0)
    ind = np.full((n, k_max), -1)
    dist = np.full((n, k_max), np.finfo(np.float64).max)
    for i in range(n):
        cand = np.flatnonzero((y == y[i]) & (np.arange(n) != i))
        order = np.lexsort((cand, D[i, cand]))[: min(k, cand.size)]
        ind[i, : order.size] = cand[order]
        dist[i, : order.size] = D[i, cand[order]]
    return ind, dist


@pytest.fixture
def rng():
    return np.random.RandomState(0)


# ------------------------------------------------------------------ distances
def test_sq_dist_scalar():
    assert sq_dist(np.array([1.0, 2.0]), np.array([4.0, 6.0])) == 25.0
    assert sq_dist(np.array([1.0], dtype=np.float32), np.array([1.0], dtype=np.float32)) == 0.0


@pytest.mark.parametrize("shape", [(7, 3), (1, 1), (5, 1), (0, 3)])
def test_pairwise_matches_numpy(rng, shape):
    X = rng.standard_normal(shape)
    Y = rng.standard_normal((4, shape[1]))
    np.testing.assert_allclose(pairwise_sq_distances(X, Y), _ref_sq(X, Y), rtol=1e-13, atol=1e-14)
    D = pairwise_sq_distances(X)
    assert D.shape == (shape[0], shape[0])
    np.testing.assert_allclose(D, _ref_sq(X, X), rtol=1e-13, atol=1e-14)


def test_pairwise_exact_zero_for_duplicates_and_no_negatives(rng):
    X = rng.standard_normal((6, 4)) * 1e8 + 1e9
    X = np.vstack([X, X[:2], np.zeros((2, 4))])
    D = pairwise_sq_distances(X)
    assert np.all(D >= 0)
    np.testing.assert_array_equal(np.diag(D), 0.0)
    assert D[0, 6] == 0.0 and D[1, 7] == 0.0 and D[8, 9] == 0.0
    np.testing.assert_array_equal(D, D.T)


def test_pairwise_float32_accumulates_in_float64():
    X = np.array([[1e-3, 16777217.0], [0.0, 16777216.0]], dtype=np.float32)
    D = pairwise_sq_distances(X)
    ref = _ref_sq(X.astype(np.float64), X.astype(np.float64))
    assert D.dtype == np.float64
    np.testing.assert_allclose(D, ref, rtol=1e-12)


@pytest.mark.parametrize("block_rows", [1, 2, 3, 5, 6, 7, 100])
def test_blocks_cover_all_rows(rng, block_rows):
    X = rng.standard_normal((6, 2))
    Y = rng.standard_normal((5, 2))
    ref = _ref_sq(X, Y)
    starts = []
    for start, D in iter_sq_distance_blocks(X, Y, block_rows=block_rows):
        starts.append(start)
        assert D.shape == (min(block_rows, 6 - start), 5)
        np.testing.assert_allclose(D, ref[start : start + D.shape[0]], rtol=1e-13)
    assert starts == list(range(0, 6, block_rows))
    np.testing.assert_allclose(pairwise_sq_distances(X, Y, block_rows=block_rows), ref, rtol=1e-13)


def test_blocks_reuse_one_buffer(rng):
    """Documented: a block is a view that the next block overwrites."""
    X = rng.standard_normal((4, 2))
    blocks = [D for _, D in iter_sq_distance_blocks(X, block_rows=2)]
    assert np.shares_memory(blocks[0], blocks[1])


def test_blocks_empty_and_invalid(rng):
    assert list(iter_sq_distance_blocks(np.zeros((0, 3)))) == []
    with pytest.raises(ValueError, match="block_rows must be a positive integer"):
        next(iter_sq_distance_blocks(np.zeros((2, 3)), block_rows=0))


def test_distances_overflow_to_inf_not_nan():
    X = np.array([[0.0], [1e200]])
    D = pairwise_sq_distances(X)
    assert D[0, 1] == np.inf and D[0, 0] == 0.0 and not np.isnan(D).any()


# ----------------------------------------------------------------------- heap
@numba.njit
def _push_all(d, i, k):
    hd, hi = empty_heap(k)
    inserted = 0
    for t in range(d.shape[0]):
        inserted += heap_push(hd, hi, d[t], i[t])
    heap_sort(hd, hi)
    return hd, hi, inserted


@pytest.mark.parametrize("k", [1, 2, 5, 12, 20])
def test_heap_top_k_matches_lexsort(rng, k):
    d = rng.randint(0, 5, size=15).astype(np.float64)  # many ties
    i = rng.permutation(15).astype(np.int64)
    hd, hi, _ = _push_all(d, i, k)
    order = np.lexsort((i, d))[:k]
    m = order.size
    np.testing.assert_array_equal(hd[:m], d[order])
    np.testing.assert_array_equal(hi[:m], i[order])
    # unfilled slots keep the sentinel
    assert np.all(hi[m:] == -1) and np.all(hd[m:] == np.finfo(np.float64).max)


def test_heap_rejects_worse_and_tie_with_larger_index():
    hd, hi, ins = _push_all(np.array([1.0, 2.0, 3.0, 2.0]), np.array([0, 5, 1, 7]), 2)
    np.testing.assert_array_equal(hi, [0, 5])
    assert ins == 2  # 3.0 rejected against the root, (2.0, 7) loses the tie to (2.0, 5)
    hd, hi, _ = _push_all(np.array([2.0, 2.0]), np.array([7, 5]), 1)
    assert hi[0] == 5  # the smaller index wins a tie whatever the order


def test_heap_push_python_level():
    dist, idx = empty_heap(2)
    assert heap_push(dist, idx, 3.0, 4) == 1
    assert heap_push(dist, idx, 1.0, 2) == 1
    assert heap_push(dist, idx, 5.0, 1) == 0
    heap_sort(dist, idx)
    np.testing.assert_array_equal(idx, [2, 4])


def test_heap_keeps_infinite_distances():
    """Overflowed distances still beat empty slots (coordinates around 1e160)."""
    hd, hi, ins = _push_all(np.array([np.inf, 1.0]), np.array([3, 4]), 3)
    assert ins == 2
    np.testing.assert_array_equal(hi, [4, 3, -1])
    assert hd[1] == np.inf


# ------------------------------------------------------------------ neighbours
@pytest.mark.parametrize("k", [1, 3, 10])
def test_same_class_neighbors_reference(rng, k):
    X = rng.randint(0, 3, size=(25, 2)).astype(np.float64)  # duplicates and ties
    y = rng.randint(0, 3, size=25)
    y[0] = 3  # singleton class
    ind, dist = same_class_neighbors(X, y, k)
    ref_ind, ref_dist = _ref_same_class(X, y, k)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_array_equal(dist, ref_dist)
    assert np.all(ind[0] == -1)


def test_same_class_neighbors_k_per_class_and_gaps(rng):
    X = rng.standard_normal((9, 3))
    y = np.array([0, 0, 0, 0, 2, 2, 2, 2, 2])  # class 1 empty
    ind, _ = same_class_neighbors(X, y, np.array([1, 5, 2]))
    assert ind.shape == (9, 2)
    assert np.all(ind[:4, 1] == -1) and np.all(ind[:4, 0] >= 0)
    np.testing.assert_array_equal(ind[4:], _ref_same_class(X, y, 2)[0][4:])


def test_same_class_neighbors_all_singletons_and_one_feature():
    ind, dist = same_class_neighbors(np.arange(4.0)[:, None], np.arange(4), 3)
    assert ind.shape == (4, 0) and dist.shape == (4, 0)
    ind, dist = same_class_neighbors(np.array([[0.0], [0.0], [0.0]]), np.zeros(3, int), 5)
    np.testing.assert_array_equal(ind, [[1, 2], [0, 2], [0, 1]])
    np.testing.assert_array_equal(dist, 0.0)


def test_same_class_neighbors_float32_input(rng):
    X = rng.standard_normal((12, 2)).astype(np.float32)
    y = np.arange(12) % 2
    ind, dist = same_class_neighbors(X, y, 2)
    ref_ind, ref_dist = _ref_same_class(X.astype(np.float64), y, 2)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)


def test_same_class_neighbors_huge_coordinates():
    ind, dist = same_class_neighbors(np.array([[0.0], [1e160], [3e160]]), np.zeros(3, int), 2)
    np.testing.assert_array_equal(ind, [[1, 2], [0, 2], [0, 1]])
    assert np.all(np.isinf(dist))


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
def test_parallel_equals_single_thread(rng):
    X = rng.standard_normal((300, 5))
    X[100:120] = X[:20]  # duplicates across the thread split
    y = rng.randint(0, 4, size=300)
    with numba_threads(1):
        D1 = pairwise_sq_distances(X, block_rows=64)
        n1 = same_class_neighbors(X, y, 6)
    with numba_threads(MAX_THREADS):
        D2 = pairwise_sq_distances(X, block_rows=64)
        n2 = same_class_neighbors(X, y, 6)
    np.testing.assert_array_equal(D1, D2)
    np.testing.assert_array_equal(n1[0], n2[0])
    np.testing.assert_array_equal(n1[1], n2[1])


# ---------------------------------------------------------- compile conventions
def _kernel_dispatchers():
    from shallowml.utils.warmup import _dispatchers

    for name, disp, is_parallel in _dispatchers():
        yield pytest.param(disp, is_parallel, id=name)


KERNELS = list(_kernel_dispatchers())


def test_every_parallel_kernel_is_size_dispatched():
    """Parallel kernels are declared only through size_dispatched (one way to pick a variant)."""
    assert any(p.values[1] for p in KERNELS)
    for p in KERNELS:
        kernel, is_parallel = p.values
        assert bool(kernel.targetoptions.get("parallel")) == is_parallel, p.id


@pytest.mark.parametrize("kernel, is_parallel", KERNELS)
def test_kernel_options_follow_conventions(kernel, is_parallel):
    """No fastmath (NaN/inf may occur); every kernel, parallel ones too, is disk-cached (STYLE 6, 7)."""
    opts = kernel.targetoptions
    assert not opts.get("fastmath"), "fastmath is not allowed in shallowml kernels"
    assert type(kernel._cache).__name__ == "FunctionCache", "kernels must use cache=True"


def test_variants_have_their_own_cache_files():
    """Serial and parallel variants of one function must not share a cache index (numba keys it by name)."""
    from shallowml._kernels.lmnn import lmnn_rows

    serial, parallel = lmnn_rows.variants
    assert serial._cache._cache_file._index_name != parallel._cache._cache_file._index_name


# ------------------------------------------------------------------ exp
def test_exp_nonpositive_within_one_ulp_of_numpy():
    """The vectorisable exp of the NCA softmax is as accurate as libm's, over its whole range."""
    from numba import njit

    from shallowml._kernels._math import EXP_MIN_ARG, exp_nonpositive

    @njit
    def apply(t):
        out = np.empty_like(t)
        for j in range(t.size):
            out[j] = exp_nonpositive(t[j])
        return out

    rng = np.random.RandomState(0)
    ln2 = np.log(2.0)
    t = np.concatenate([
        np.linspace(EXP_MIN_ARG, 0.0, 200_001), -rng.exponential(5.0, 100_000),
        -rng.rand(100_000) * 1e-3, [0.0, -0.0, -5e-324, -1e-300, EXP_MIN_ARG],
        # the edges of the range reduction, |r| = ln2 / 2, and multiples of ln2
        -(np.arange(1, 1000) + 0.5) * ln2, -np.arange(1, 1000) * ln2,
    ])
    t = t[t >= EXP_MIN_ARG]
    got, ref = apply(t), np.exp(t)
    ulps = np.abs(got - ref) / np.spacing(ref)
    assert ulps.max() <= 1.0, t[np.argmax(ulps)]
    assert got[t == 0.0].tolist() == [1.0] * int(np.sum(t == 0.0))
    assert np.isnan(apply(np.array([np.nan]))[0])
