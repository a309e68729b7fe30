"""Every kernel, parallel ones too, loads from numba's on-disk cache in a new process.

The processes here are fresh interpreters: a kernel compiled by another test
in this session cannot hide a compile. The first one fills the cache (or
finds it filled, e.g. by ``python -m shallowml --compile``); the others must
load every kernel they run, at 1 and at 2 numba threads, with inputs smaller
and larger than the switch to the parallel variants, and get the same
results.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

_FIT = r"""
import json, sys, warnings
import numpy as np
from shallowml import (LMNN, MLKR, NCA, ITML_Supervised, LinearSiamese_Supervised, LSML_Supervised,
                       SCML_Supervised)
from shallowml.metrics import retrieval_scores
from shallowml.supervision import input_kind
from shallowml.utils.warmup import kernel_cache_stats
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
out = {}
for n in (90, 1500):  # 1500 rows: LMNN, NCA, MLKR and the retrieval metrics switch to their parallel variants
    X = rng.randn(n, 6)
    y = np.arange(n) % 3
    X[:, :3] += 2.0 * np.eye(3)[y]
    # the NCA stochastic mode with sampled candidates (1500 rows: 256 x 600 pairs per block, parallel)
    for i, est in enumerate((LMNN(max_iter=8, random_state=0), NCA(max_iter=8, random_state=0),
                             NCA(max_iter=2, batch_size=256, n_candidates=600, random_state=0),
                             ITML_Supervised(max_iter=20, random_state=0),
                             LinearSiamese_Supervised(max_iter=2, random_state=0), MLKR(max_iter=8, random_state=0),
                             LSML_Supervised(max_iter=5, random_state=0), SCML_Supervised(max_iter=600, random_state=0),
                             *LinearSiamese_Supervised(max_iter=2, random_state=0)._warm_up_variants())):
        target = X[:, 0] - X[:, 1] ** 2 if input_kind(est) == "regression" else y
        form = f"-{est.loss}-{est.mining}" if hasattr(est, "mining") else ""
        out[f"{i}-{type(est).__name__}{form}-{n}"] = est.fit(X, target).components_.tolist()
    # the retrieval metrics' kernels: leave-one-out (full sort) and a reference set (partial ranking)
    out[f"metrics-{n}"] = [retrieval_scores(X, y), retrieval_scores(X[:50], y[:50], Z_ref=X, y_ref=y,
                                                                     average_precision=False)]
# LMNN's tiled searches: the parallel variants of their helpers, and the budgeted search
from shallowml._kernels._options import parallel_variants_everywhere
from shallowml.utils.warmup import _dispatchers
with parallel_variants_everywhere():
    out["LMNN-forced-parallel"] = LMNN(max_iter=8, random_state=0).fit(X[:300], y[:300]).components_.tolist()
out["LMNN-budget"] = LMNN(max_iter=8, max_impostors=50, random_state=0).fit(X[:300], y[:300]).components_.tolist()
out["loaded"] = sorted(name for name, disp, _ in _dispatchers() if sum(disp.stats.cache_hits.values()))
out["stats"] = kernel_cache_stats()
print(json.dumps(out))
"""

# kernels of the tiled LMNN searches (issue 14) that every later process must load from the cache
_TILED_LMNN = {
    "lmnn.impostor_tile", "lmnn.pairs_to_csr", "lmnn.pairs_to_csr[parallel]", "lmnn.csr_sq_dists",
    "lmnn.csr_sq_dists[parallel]", "lmnn.impostor_heap_tile", "lmnn.sort_rows_by_index",
    "neighbors.same_class_tile", "neighbors.sort_heaps", "neighbors.sort_heaps[parallel]",
}


def _run(code, env_extra=None, timeout=900):
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_fresh_processes_load_every_kernel_from_the_cache():
    first = _run(_FIT)  # compiles what is not cached yet
    assert first["stats"]["parallel_used"] > 0, "the larger inputs must run parallel variants"
    assert first["metrics-1500"][0]["n_queries"] == 1500
    results = {}
    for threads in ("1", "2"):
        res = _run(_FIT, {"NUMBA_NUM_THREADS": threads})
        stats = res.pop("stats")
        assert stats["misses"] == 0, f"{threads} thread(s): compiled {stats['compiled']}"
        assert stats["hits"] > 0
        missing = _TILED_LMNN - set(res.pop("loaded"))
        assert not missing, f"{threads} thread(s): not loaded from the cache: {sorted(missing)}"
        results[threads] = res
    for key in results["1"]:
        np.testing.assert_array_equal(results["1"][key], results["2"][key], err_msg=key)


_USER_WIDE = r"""
import json, os
import numba.core.caching as caching
# a package directory numba cannot write to: what the in-tree locator meets in a
# read-only site-packages (as root, chmod cannot make one here)
def _read_only(self):
    raise PermissionError("read-only package directory")
caching.InTreeCacheLocator.ensure_cache_path = _read_only
import numpy as np
from shallowml._kernels._options import parallel_variants_everywhere
from shallowml._kernels.distances import pairwise_sq_distances
from shallowml.utils.warmup import kernel_cache_stats
X = np.random.RandomState(0).rand(40, 3)
a = pairwise_sq_distances(X)
with parallel_variants_everywhere():
    b = pairwise_sq_distances(X)
assert np.array_equal(a, b)
print(json.dumps(kernel_cache_stats()))
"""


@pytest.mark.slow
def test_user_wide_cache_when_the_package_directory_is_read_only(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "NUMBA_CACHE_DIR": ""}
    first = _run(_USER_WIDE, env)
    assert first["misses"] == 2  # both variants compiled into the user-wide cache
    assert list((tmp_path / "numba").rglob("*.nbi")), "nothing written to the user-wide cache"
    second = _run(_USER_WIDE, env)
    assert second["misses"] == 0 and second["hits"] == 2
