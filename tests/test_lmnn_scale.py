"""LMNN at scale: the tiled searches and the candidate-list reuse return exactly the brute-force sets."""

import numpy as np
import pytest

from shallowml._kernels.lmnn import csr_sq_dists, impostor_tile, pairs_to_csr
from shallowml._kernels.neighbors import filter_products, same_class_neighbors
from shallowml._losses.lmnn import find_impostors, margin_radius
from shallowml._solvers.lmnn_rounds import _CANDIDATE_SLACK, _exact_subset, _reusable, _reuse_state


def brute_impostors(Z, y, radius):
    """Per row, sorted indices ``l`` with ``y_l != y_i`` and ``sum((z_i - z_l)^2) < radius[i]`` (loop order)."""
    n = Z.shape[0]
    out = []
    for i in range(n):
        row = []
        for l in range(n):
            if y[l] != y[i]:
                acc = 0.0
                for f in range(Z.shape[1]):
                    g = Z[i, f] - Z[l, f]
                    acc += g * g
                if acc < radius[i]:
                    row.append(l)
        out.append(np.array(row, dtype=np.int64))
    return out


def brute_knn(X, y, k):
    """(distance, index)-ordered same-class k nearest neighbours, the way the kernel breaks ties."""
    n = X.shape[0]
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    ind = np.full((n, k), -1)
    for i in range(n):
        cand = [j for j in range(n) if j != i and y[j] == y[i]]
        cand.sort(key=lambda j: (D[i, j], j))
        ind[i, : min(k, len(cand))] = cand[:k]
    return ind


def _check_csr(indptr, indices, dists, Z, ref):
    for i, want in enumerate(ref):
        got = indices[indptr[i] : indptr[i + 1]]
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(dists[indptr[i] : indptr[i + 1]], [np.sum((Z[i] - Z[l]) ** 2) for l in got])


@pytest.mark.parametrize("tile_rows", [1, 7, 16, 1024])
def test_tiled_impostor_search_is_the_brute_force_set(tile_rows):
    rng = np.random.RandomState(0)
    n = 70
    Z = rng.randn(n, 3)
    Z[5] = Z[6]  # duplicates
    Z[7] = 0.0  # zero row
    y = rng.randint(0, 4, n)
    y[-1] = 9  # singleton class
    radius = rng.uniform(0.0, 3.0, n)
    radius[3] = 0.0
    # radii exactly on a pair's distance: the strict test excludes that pair
    for i in range(0, n, 5):
        l = int(np.flatnonzero(y != y[i])[0])
        radius[i] = float(sum((Z[i, f] - Z[l, f]) ** 2 for f in range(3)))
    indptr, indices, dists, truncated = find_impostors(Z, y, radius, tile_rows=tile_rows)
    assert not truncated
    _check_csr(indptr, indices, dists, Z, brute_impostors(Z, y, radius))


def test_float32_filter_margin_keeps_every_pair_far_from_the_origin():
    # far from the origin float32 products lose everything below ~1e-7 |z|^2: the
    # margin must send those pairs to the exact test rather than drop them
    rng = np.random.RandomState(1)
    Z = 1e3 + rng.randn(200, 4) * 1e-2
    y = np.arange(200) % 3
    radius = np.full(200, 4e-4)
    indptr, indices, dists, _ = find_impostors(Z, y, radius, tile_rows=64)
    ref = brute_impostors(Z, y, radius)
    assert sum(r.size for r in ref) > 100
    _check_csr(indptr, indices, dists, Z, ref)


def test_impostor_tile_against_numpy():
    rng = np.random.RandomState(2)
    Z = rng.randn(50, 5)
    y = rng.randint(0, 3, 50)
    radius = rng.uniform(0, 8, 50)
    sqn = np.einsum("ij,ij->i", Z, Z)
    P, rel, absolute = filter_products(Z)
    # an off-diagonal tile (rows 0..19 vs 20..49) and a diagonal one
    for r0, r1, c0, c1 in [(0, 20, 20, 50), (10, 30, 10, 30)]:
        G = P[r0:r1] @ P[c0:c1].T
        a, b = impostor_tile(G, r0, c0, Z, sqn, y, radius, rel, absolute)
        got = set(zip(a.tolist(), b.tolist()))
        want = set()
        for i in range(r0, r1):
            for l in range(max(c0, i + 1), c1):
                if y[i] != y[l]:
                    d = np.sum((Z[i] - Z[l]) ** 2)
                    if d < radius[i]:
                        want.add((i, l))
                    if d < radius[l]:
                        want.add((l, i))
        assert got == want


def test_pairs_to_csr_and_csr_sq_dists():
    rng = np.random.RandomState(3)
    rows = rng.randint(0, 10, 60)
    cols = rng.permutation(1000)[:60]
    indptr, indices = pairs_to_csr(10, rows, cols)
    for i in range(10):
        np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], np.sort(cols[rows == i]))
    Z = rng.randn(1000, 3)
    d = csr_sq_dists(Z, indptr, indices)
    r = np.repeat(np.arange(10), np.diff(indptr))
    np.testing.assert_allclose(d, ((Z[r] - Z[indices]) ** 2).sum(1), rtol=1e-15)


@pytest.mark.parametrize("tile_rows", [3, 16, 1024])
def test_tiled_same_class_neighbors_is_the_brute_force_knn(tile_rows):
    rng = np.random.RandomState(4)
    X = np.round(rng.randn(90, 3), 1)  # rounded: many exact distance ties
    X[10:15] = X[0]  # duplicates
    y = rng.randint(0, 3, 90)
    y[-1] = 7  # singleton class: no neighbour
    ind, dist = same_class_neighbors(X, y, 4, tile_rows=tile_rows)
    np.testing.assert_array_equal(ind, brute_knn(X, y, 4))
    assert np.all(ind[-1] == -1)


def _reuse_case(seed, n=80, d=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = rng.randint(0, 3, n)
    targets, _ = same_class_neighbors(X, y, 2)
    L0 = np.eye(d) + 0.2 * rng.randn(d, d)
    return rng, X, y, targets, L0


def test_reused_candidate_list_is_exact_whenever_reuse_is_claimed():
    n_claimed = n_refused = 0
    for seed in range(6):
        rng, X, y, targets, L0 = _reuse_case(seed)
        Z0 = X @ L0.T
        r0 = margin_radius(Z0, targets)
        indptr, indices, _, truncated = find_impostors(Z0, y, _CANDIDATE_SLACK * r0)
        cand = dict(_reuse_state(L0, Z0, _CANDIDATE_SLACK * r0, truncated), indptr=indptr, indices=indices)
        for scale in np.geomspace(1e-4, 0.2, 12):
            L = L0 + scale * rng.randn(*L0.shape)
            Z = X @ L.T
            radius = margin_radius(Z, targets)
            if not _reusable(cand, L, Z, radius):
                n_refused += 1
                continue
            n_claimed += 1
            ex_ptr, ex_idx = _exact_subset(radius, indptr, indices, csr_sq_dists(Z, indptr, indices))
            ref = brute_impostors(Z, y, radius)
            for i in range(X.shape[0]):
                np.testing.assert_array_equal(ex_idx[ex_ptr[i] : ex_ptr[i + 1]], ref[i])
    # both branches occur: small moves reuse the list, large ones search again
    assert n_claimed > 10 and n_refused > 10


def test_reuse_refused_when_the_bound_does_not_hold():
    rng, X, y, targets, L0 = _reuse_case(7)
    Z0 = X @ L0.T
    r0 = margin_radius(Z0, targets)
    indptr, indices, _, _ = find_impostors(Z0, y, _CANDIDATE_SLACK * r0)
    cand = dict(_reuse_state(L0, Z0, _CANDIDATE_SLACK * r0, False), indptr=indptr, indices=indices)
    assert _reusable(cand, L0, Z0, r0)  # at L0 itself the list (radius 1.2 r0) holds everything
    # shrinking one direction by 10% moves distances by more than the slack allows
    L = L0 @ np.diag([0.9, 1.0, 1.0])
    Z = X @ L.T
    assert not _reusable(cand, L, Z, margin_radius(Z, targets))
    # a truncated (budgeted) or rank-deficient list is never reused
    assert not _reusable(dict(_reuse_state(L0, Z0, _CANDIDATE_SLACK * r0, True)), L0, Z0, r0)
    L_low = L0.copy()
    L_low[2] = L_low[1]
    assert not _reusable(dict(_reuse_state(L_low, X @ L_low.T, _CANDIDATE_SLACK * r0, False)), L_low, X @ L_low.T, r0)


def _budget_problem():
    rng = np.random.RandomState(0)
    y = np.arange(300) % 3
    X = np.hstack([3.0 * np.eye(3)[y] + 0.3 * rng.randn(300, 3), rng.randn(300, 5)])
    targets, _ = same_class_neighbors(X, y, 3)
    return X, y, targets


def test_only_a_cut_final_list_makes_the_fit_approximate():
    import warnings

    from shallowml._solvers.lmnn_rounds import lmnn_active_set

    X, y, targets = _budget_problem()
    kw = dict(push_weight=0.5, max_iter=500, tol=1e-5)
    # 3000 pairs: some searches on the way are cut, the final one is complete
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res, _ = lmnn_active_set(X, y, targets, np.eye(8), max_impostors=3000, **kw)
    assert res.info["n_truncated_searches"] > 0 and not res.info["approximate"]
    exact, _ = lmnn_active_set(X, y, targets, np.eye(8), max_impostors=10**9, **kw)
    assert exact.info["n_truncated_searches"] == 0 and not exact.info["approximate"]
    # 200 pairs: the final list is cut, so the result is approximate, loudly
    with pytest.warns(UserWarning, match="APPROXIMATE objective"):
        res, _ = lmnn_active_set(X, y, targets, np.eye(8), max_impostors=200, **kw)
    assert res.info["approximate"]


def test_estimator_records_approximate():
    import warnings

    from shallowml import LMNN

    X, y, _ = _budget_problem()
    with pytest.warns(UserWarning, match="approximate_ is True"):
        assert LMNN(max_impostors=20, init="identity", random_state=0).fit(X, y).approximate_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not LMNN(init="identity", random_state=0).fit(X, y).approximate_


def test_run_tiles_order_stop_errors_and_progress():
    import time

    from shallowml._kernels._tiles import run_tiles
    from shallowml.utils.threads import numba_threads

    calls = []

    def work(t):
        time.sleep(0.002 * (t % 3))  # uneven tiles: threads finish out of order
        return t * t

    for threads in (1, 2):
        with numba_threads(threads):
            res, stopped = run_tiles(40, work, progress=lambda d, n: calls.append((d, n)), interval=0.01)
        assert res == [t * t for t in range(40)] and not stopped
    assert calls and all(n == 40 and 0 <= d <= 40 for d, n in calls)
    res, stopped = run_tiles(40, work, stop=lambda done: done >= 5)
    assert stopped and res[:5] == [0, 1, 4, 9, 16] and res[-1] is None

    def boom(t):
        if t == 3:
            raise KeyError("tile 3")

    with pytest.raises(KeyError, match="tile 3"):
        run_tiles(10, boom)


def test_phase_progress_rows(capsys):
    from shallowml._solvers.progress import ProgressTable

    table = ProgressTable("LMNN", [], enabled=1)
    with table.phase("Finding impostors") as progress:
        progress(1, 4)
        progress(4, 4)
    out = capsys.readouterr().out
    assert "25% (1/4 blocks)" in out and "s elapsed, about" in out and "s left" in out
    assert out.rstrip().splitlines()[-1].startswith("[LMNN] Finding impostors... done in")
    with ProgressTable("LMNN", [], enabled=0).phase("quiet") as progress:
        progress(1, 4)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("tile_rows", [7, 32, 1024])
def test_budgeted_search_keeps_each_rows_closest_quota(tile_rows):
    rng = np.random.RandomState(5)
    n = 90
    Z = np.round(rng.randn(n, 3), 1)  # exact distance ties: the smaller index wins
    Z[20:24] = Z[0]
    y = rng.randint(0, 3, n)
    radius = rng.uniform(0.5, 6.0, n)
    radius[4] = 0.0
    ref = brute_impostors(Z, y, radius)
    counts = np.array([r.size for r in ref])
    budget = int(counts.sum() * 0.37)
    indptr, indices, dists, truncated = find_impostors(Z, y, radius, max_pairs=budget, tile_rows=tile_rows)
    assert truncated and indices.size <= budget
    caps = np.floor(counts * (budget / counts.sum())).astype(int)
    np.testing.assert_array_equal(np.diff(indptr), caps)
    for i in range(n):
        d = np.array([np.sum((Z[i] - Z[l]) ** 2) for l in ref[i]])
        keep = ref[i][np.lexsort((ref[i], d))[: caps[i]]]
        np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], np.sort(keep))
        np.testing.assert_array_equal(dists[indptr[i] : indptr[i + 1]], [np.sum((Z[i] - Z[l]) ** 2) for l in np.sort(keep)])


def test_bench_lmnn_scale_problem_and_targets():
    from benchmarks.bench_lmnn_scale import N_TEST, check_targets, synthetic

    X, y, X_te, y_te = synthetic(300)
    assert X.shape == (300, 20) and X_te.shape == (N_TEST, 20)
    np.testing.assert_allclose(X.mean(0), 0.0, atol=1e-12)
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(y_te)) == set(range(10))
    rows = [
        {"dataset": "synth-100k", "impl": "shallowml", "n": 100000, "fit_s": 90.0, "peak_mb": 2100.0, "err": 0.2},
        {"dataset": "synth-100k", "impl": "euclidean", "n": 100000, "err": 0.25},
        {"dataset": "letter", "impl": "shallowml", "n": 16000, "fit_s": 12.0, "err": 0.04},
    ]
    lines = check_targets(rows)
    assert lines[0].startswith("MET") and "fit 90.0 s < 120 s" in lines[0]
    assert lines[1].startswith("MISSED") and "2100 MB" in lines[1]
    assert lines[2].startswith("MET") and "0.2000 (LMNN) < 0.2500" in lines[2]
    assert lines[3].startswith("MISSED") and "letter (16000 rows)" in lines[3]
    noisy = check_targets([{"dataset": "synth-100k-noisy", "impl": "shallowml", "err": 0.21},
                           {"dataset": "synth-100k-noisy", "impl": "euclidean", "err": 0.2}])
    assert noisy == ["(not a target) synth-100k-noisy 3-NN error 0.2100 (LMNN) vs 0.2000 (Euclidean)"]


def test_bench_lmnn_scale_noisy_variant_flips_labels():
    from benchmarks.bench_lmnn_scale import load_case, synthetic

    clean, noisy = synthetic(2000), load_case("synth-2k-noisy")
    np.testing.assert_array_equal(clean[0], noisy[0])  # same points ...
    flipped = np.mean(clean[1] != noisy[1])
    assert 0.0 < flipped < 0.02  # ... about 1 % of the labels redrawn (some land on their own class)
