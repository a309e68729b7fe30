"""Determinism: seeds, numba thread counts, pickling and cloning reproduce results bit for bit."""

import contextlib
import pickle
import warnings

import numba
import numpy as np
import pytest
from sklearn.base import clone

from shallowml._kernels._options import parallel_variants_everywhere
from shallowml.utils import _robustness as rb
from shallowml.utils.discovery import all_estimators, input_kind
from shallowml.utils.threads import numba_threads

MAX_THREADS = min(2, numba.config.NUMBA_NUM_THREADS)


def _data(kind, n=120):
    rng = np.random.RandomState(0)
    y = np.arange(n) % 3
    X = rng.standard_normal((n, 5)) + 1.5 * np.eye(3, 5)[y]
    if kind in ("triplets", "quadruplets"):
        # a's class is a % 3 (n divisible by 3): a + 3j keeps it, a + 1 or a + 2 changes it
        a = rng.randint(0, n, size=2 * n)
        same = (a + 3 * rng.randint(1, n // 3, size=a.size)) % n
        other = (a + rng.randint(1, 3, size=a.size)) % n
        idx = np.stack([a, same, other] if kind == "triplets" else [a, same, other, a], axis=1)
        return (X[idx],)
    if kind != "pairs":
        return X, y
    a, b = rng.randint(0, n, size=(2, 2 * n))
    b = np.where(a == b, (b + 1) % n, b)
    return np.stack([X[a], X[b]], axis=1), np.where(y[a] == y[b], 1, -1)


def _make(cls, random_state=0):
    est = cls()
    params = est.get_params()
    if "random_state" in params:
        est.set_params(random_state=random_state)
    if isinstance(params.get("max_iter"), int):
        est.set_params(max_iter=min(params["max_iter"], 10))
    return est


def _fit(est, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning with the capped max_iter
        return est.fit(*_data(kind))


ESTIMATORS = [pytest.param(cls, id=name) for name, cls in all_estimators()]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_same_seed_same_components(cls):
    kind = input_kind(cls)
    L1 = _fit(_make(cls), kind).components_
    L2 = _fit(_make(cls), kind).components_
    np.testing.assert_array_equal(L1, L2)


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_parallel_variants_and_thread_count_do_not_change_components(cls):
    # 120 samples run the serial variants; forcing the parallel ones at 2 threads must
    # give the same bits (disjoint writes, fixed-order reductions)
    kind = input_kind(cls)
    with numba_threads(1):
        L1 = _fit(_make(cls), kind).components_
    with numba_threads(MAX_THREADS), parallel_variants_everywhere():
        L2 = _fit(_make(cls), kind).components_
    np.testing.assert_array_equal(L1, L2)


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
@pytest.mark.parametrize("name", ["LMNN", "NCA"])
def test_parallel_variants_run_above_the_size_switch(name, monkeypatch):
    # the same check where the size switch itself picks the parallel variants
    import shallowml
    from shallowml._kernels._options import SizeDispatched

    picked = []
    pick = SizeDispatched.pick

    def recording_pick(self, *args):
        kernel = pick(self, *args)
        picked.append(kernel is self.parallel)
        return kernel

    monkeypatch.setattr(SizeDispatched, "pick", recording_pick)
    # an OMP_NUM_THREADS=1 left by an earlier test (Dask workers set it) would cap the
    # kernels' threads at one (shallowml._kernels._threads.openmp_cap)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    # the tiled searches (impostors, target neighbours) run on Python threads instead
    from shallowml._kernels import _tiles

    threads = _tiles.kernel_threads

    @contextlib.contextmanager
    def recording_threads():
        with threads() as n:
            picked.append(n > 1)
            yield n

    monkeypatch.setattr(_tiles, "kernel_threads", recording_threads)
    rng = np.random.RandomState(1)
    y = np.arange(1500) % 3
    X = rng.standard_normal((1500, 6)) + 2.0 * np.eye(3, 6)[y]
    est = getattr(shallowml, name)(max_iter=6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning with the capped max_iter
        with numba_threads(1):  # one thread: the serial variants run
            L1 = clone(est).fit(X, y).components_
        picked.clear()
        with numba_threads(MAX_THREADS):
            L2 = clone(est).fit(X, y).components_
    assert any(picked), "no parallel variant (or tile thread pool) ran"
    np.testing.assert_array_equal(L1, L2)


@pytest.mark.skipif(MAX_THREADS < 2, reason="numba has a single thread here")
@pytest.mark.parametrize("params", [
    pytest.param({}, id="full-batch"),
    pytest.param({"batch_size": 200, "n_candidates": 700}, id="stochastic-candidates"),
    pytest.param({"batch_size": 200, "n_candidates": 5000}, id="stochastic-all"),
])
@pytest.mark.parametrize("n_components", [3, 8])  # the difference form and the BLAS products
def test_nca_same_bits_at_one_and_two_threads(params, n_components):
    # NCA's blocks above the size switch (full batch: 1500 x 1500 pairs; stochastic: 200
    # anchors x 700 candidates), at 1 and 2 numba threads and with the parallel variants
    # forced: the compact weights, W^T Z by column tiles and the sampled candidates must
    # give the same components bit for bit
    import shallowml

    rng = np.random.RandomState(1)
    y = np.arange(1500) % 3
    X = rng.standard_normal((1500, 8)) + 2.0 * np.eye(3, 8)[y]
    est = shallowml.NCA(n_components=n_components, max_iter=4, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning with the capped max_iter
        with numba_threads(1):
            L1 = clone(est).fit(X, y).components_
        with numba_threads(MAX_THREADS):
            L2 = clone(est).fit(X, y).components_
        with numba_threads(MAX_THREADS), parallel_variants_everywhere():
            L3 = clone(est).fit(X, y).components_
    np.testing.assert_array_equal(L1, L2)
    np.testing.assert_array_equal(L1, L3)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_round_trip(cls):
    kind = input_kind(cls)
    est = _fit(_make(cls), kind)
    X, *_ = _data(kind)
    est2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est2.components_, est.components_)
    if kind in ("triplets", "quadruplets"):
        np.testing.assert_array_equal(est2.predict(X), est.predict(X))
        np.testing.assert_array_equal(est2.decision_function(X), est.decision_function(X))
    elif kind == "pairs":
        np.testing.assert_array_equal(est2.pair_distance(X), est.pair_distance(X))
        np.testing.assert_array_equal(est2.predict(X), est.predict(X))
        np.testing.assert_array_equal(est2.decision_function(X), est.decision_function(X))
    else:
        np.testing.assert_array_equal(est2.transform(X), est.transform(X))
    metric = pickle.loads(pickle.dumps(est.get_metric()))
    Xs = X.reshape(-1, X.shape[-1])
    assert metric(Xs[0], Xs[1]) == est.get_metric()(Xs[0], Xs[1])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_refit_reproduces(cls):
    kind = input_kind(cls)
    est = _fit(_make(cls), kind)
    est2 = _fit(clone(est), kind)
    np.testing.assert_array_equal(est2.components_, est.components_)
    # refitting the same instance gives the same result too (no state carried over)
    L = est.components_.copy()
    np.testing.assert_array_equal(_fit(est, kind).components_, L)


def test_bad_input_matrix_is_deterministic():
    """The declared cases are fixed data: building them twice gives equal arrays."""
    a, b = rb._samples_cases(), rb._samples_cases()
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name][0]), np.asarray(b[name][0]))
