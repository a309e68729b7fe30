"""Thread policy: fair share between concurrent fits, no leaked BLAS limit, scoped OMP wait policy."""

import os
import subprocess
import sys
import threading
import warnings

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from shallowml import LMNN
from shallowml._kernels import _options, _threads
from shallowml.utils import threads


def _blas_threads():
    return [(p["filepath"], p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas"]


def test_share():
    assert threads.share(2, 1) == 2
    assert threads.share(2, 2) == 1
    assert threads.share(8, 3) == 2
    assert threads.share(1, 4) == 1


@pytest.mark.parametrize("env, cap", [
    ({}, None),
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"OMP_NUM_THREADS": "3,2"}, 3),
    ({"OMP_NUM_THREADS": "junk"}, None),
    ({"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}, None),  # numba's own variable wins
])
def test_openmp_cap(env, cap):
    assert threads.openmp_cap(env) == cap


def test_omp_num_threads_caps_the_kernels(monkeypatch):
    # as in a Dask worker process: started with OMP_NUM_THREADS=1, numba's variable unset
    monkeypatch.setattr(_threads, "_START_ENV", {"OMP_NUM_THREADS": "1"})
    with threads.kernel_threads() as k:
        assert k == 1 and numba.get_num_threads() == 1


def test_omp_num_threads_set_later_does_not_cap_the_kernels(monkeypatch):
    """distributed's LocalCluster sets OMP_NUM_THREADS=1 in its parent process (for its
    workers); the parent's own fits (e.g. GridSearchCV's refit) keep their threads."""
    monkeypatch.setattr(_threads, "_START_ENV", {})
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with threads.kernel_threads() as k:
        assert k == numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_concurrent_kernels_share_the_threads(monkeypatch):
    # a kernel started while another runs gets half of the numba threads
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n = numba.get_num_threads()
    first_inside, second_done, seen = threading.Event(), threading.Event(), {}

    def first():
        with threads.kernel_threads() as k:
            seen["first"] = k
            first_inside.set()
            second_done.wait(timeout=30)

    def second():
        first_inside.wait(timeout=30)
        with threads.kernel_threads() as k:
            seen["second"] = (k, numba.get_num_threads())
        second_done.set()

    ts = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == {"first": n, "second": (max(1, n // 2), max(1, n // 2))}
    assert numba.get_num_threads() == n  # the caller's setting is untouched
    with threads.kernel_threads() as k:
        assert k == n  # alone again: all threads


def test_single_threaded_blas_held_by_one_thread_and_restored_by_it():
    before = _blas_threads()
    if not before or all(k == 1 for _, k in before):
        pytest.skip("BLAS has a single thread here: nothing to limit")
    first_in, second_in, first_out, second_go = (threading.Event() for _ in range(4))
    seen = {}

    def first():
        with threads.single_threaded_blas():
            first_in.set()
            second_in.wait(timeout=30)
            seen["both inside"] = _blas_threads()
        first_out.set()

    def second():
        first_in.wait(timeout=30)
        with threads.single_threaded_blas():
            second_in.set()
            first_out.wait(timeout=30)
            seen["second alone"] = _blas_threads()

    ts = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(k == 1 for _, k in seen["both inside"])
    assert seen["second alone"] == before  # the holder restored it when it left
    assert _blas_threads() == before
    with threads.single_threaded_blas():  # and the limit can be taken again
        assert all(k == 1 for _, k in _blas_threads())
    assert _blas_threads() == before


def test_two_concurrent_lmnn_fits_leave_blas_as_it_was():
    before = _blas_threads()
    rng = np.random.RandomState(0)
    y = np.arange(300) % 3
    X = rng.standard_normal((300, 5)) + np.eye(3, 5)[y]
    errors = []

    def fit(seed):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                LMNN(max_iter=15, random_state=seed).fit(X, y)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for _ in range(3):
        ts = [threading.Thread(target=fit, args=(s,)) for s in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors
    assert _blas_threads() == before


def test_concurrent_fits_in_threads_give_the_serial_result():
    # forced parallel variants in two threads at once: same bits as a lone fit
    rng = np.random.RandomState(0)
    y = np.arange(200) % 3
    X = rng.standard_normal((200, 5)) + np.eye(3, 5)[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LMNN(max_iter=10, random_state=0).fit(X, y).components_
    out = [None, None]

    def fit(i):
        with warnings.catch_warnings(), _options.parallel_variants_everywhere():
            warnings.simplefilter("ignore")
            out[i] = LMNN(max_iter=10, random_state=0).fit(X, y).components_

    ts = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    np.testing.assert_array_equal(out[0], ref)
    np.testing.assert_array_equal(out[1], ref)


_WAIT_POLICY = r"""
import os, sys
import numpy as np
from shallowml._kernels.distances import pairwise_sq_distances
from shallowml._kernels._options import parallel_variants_everywhere
from shallowml.utils.threads import start_thread_pool
with parallel_variants_everywhere():
    pairwise_sq_distances(np.random.rand(30, 3))
layer = start_thread_pool()
# the process environment is as before: children and other libraries see no change
assert os.environ.get("OMP_WAIT_POLICY") == sys.argv[1] or (sys.argv[1] == "" and "OMP_WAIT_POLICY" not in os.environ)
print(layer)
"""


@pytest.mark.parametrize("user_value", ["", "ACTIVE"])
def test_passive_wait_policy_leaves_the_environment_unchanged(user_value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_value:
        env["OMP_WAIT_POLICY"] = user_value
    proc = subprocess.run([sys.executable, "-c", _WAIT_POLICY, user_value], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("shape", [(37, 20, 5003), (133, 50, 4100), (2, 3, 4), (5, 7, 2049)])
def test_split_dot_does_not_depend_on_the_thread_count(shape):
    # NCA's block products: the same bits at 1 and 2 threads, close to one BLAS call
    b, k, m = shape
    rng = np.random.RandomState(0)
    A, B = rng.randn(b, k), rng.randn(k, m)
    results = []
    with threads.single_threaded_blas():
        for n_threads in (1, 2):
            with threads.numba_threads(n_threads):
                out = np.full((b, m), np.nan)
                assert threads.split_dot(A, B, out) is out
                results.append(out)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], A @ B, rtol=1e-12, atol=1e-12)
