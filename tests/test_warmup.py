"""The warm-up helper compiles the parallel kernels too (steady-state timings afterwards)."""

import subprocess
import sys

import numpy as np
import pytest

from shallowml import NCA
from shallowml._kernels import _options
from shallowml._kernels import lmnn as lmnn_kernels


def test_parallel_switch_is_scoped():
    assert not _options.use_parallel(10, 100) and _options.use_parallel(100, 100)
    with _options.parallel_variants_everywhere():
        assert _options.use_parallel(0, 100)
        with _options.parallel_variants_everywhere():
            assert _options.use_parallel(0, 100)
        assert _options.use_parallel(0, 100)  # nested exit keeps the outer setting
    assert not _options.use_parallel(10, 100)
    try:
        with _options.parallel_variants_everywhere():
            raise RuntimeError
    except RuntimeError:
        pass
    assert not _options.use_parallel(10, 100)  # restored after an error too


def test_lmnn_kernels_follow_the_switch():
    from shallowml._kernels._options import SizeDispatched

    kernels = [k for k in vars(lmnn_kernels).values() if isinstance(k, SizeDispatched)]
    assert len(kernels) == 5
    tiny = (np.zeros((1, 1)), np.zeros((1, 1), dtype=np.int64))
    assert lmnn_kernels.target_sq_dists.pick(*tiny) is lmnn_kernels.target_sq_dists.serial
    with _options.parallel_variants_everywhere():
        assert lmnn_kernels.target_sq_dists.pick(*tiny) is lmnn_kernels.target_sq_dists.parallel


def test_warm_up_runs_both_variants_in_a_fresh_process():
    # a fresh interpreter, so kernels run by other tests cannot hide a failure
    code = (
        "from shallowml import NCA\n"
        "from shallowml._kernels import nca\n"
        "from shallowml.utils.warmup import warm_up\n"
        "assert not nca.nca_block_weights.parallel.signatures\n"
        "assert warm_up(NCA(max_iter=5)) > 0\n"
        "assert nca.nca_block_weights.parallel.signatures and nca.accumulate_transposed.parallel.signatures\n"
        "assert nca.nca_block_weights.serial.signatures\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_forced_parallel_gives_the_same_fit():
    # the parallel variants reduce in a fixed order: forcing them must not change results
    rng = np.random.RandomState(0)
    X = rng.randn(80, 5)
    y = np.arange(80) % 3
    a = NCA(max_iter=20, random_state=0).fit(X, y).components_
    with _options.parallel_variants_everywhere():
        b = NCA(max_iter=20, random_state=0).fit(X, y).components_
    np.testing.assert_array_equal(a, b)


def test_warm_up_metrics_runs_both_variants_in_a_fresh_process():
    code = (
        "from shallowml._kernels import distances, retrieval\n"
        "from shallowml.utils.warmup import compile_all, warm_up_metrics\n"
        "assert not retrieval.rank_statistics.parallel.signatures\n"
        "assert warm_up_metrics() > 0\n"
        "assert retrieval.rank_statistics.serial.signatures and retrieval.rank_statistics.parallel.signatures\n"
        "assert distances.sq_dists_into.serial.signatures and distances.sq_dists_into.parallel.signatures\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_compile_all_includes_the_metrics(monkeypatch):
    from shallowml.utils import warmup

    monkeypatch.setattr(warmup, "warm_up", lambda est: 0.0)  # the estimators have their own tests
    calls = []
    monkeypatch.setattr(warmup, "warm_up_metrics", lambda: calls.append(1) or 0.5)
    times = warmup.compile_all(verbose=False)
    assert calls == [1] and times["metrics"] == 0.5 and "LMNN" in times
