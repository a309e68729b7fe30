"""Grid search on a Dask cluster (issue 18): same results as serial, kernels from the disk cache."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the 'distributed' extra is not installed")

import joblib  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from shallowml import LMNN  # noqa: E402
from shallowml.utils.warmup import kernel_cache_stats  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # two single-threaded worker processes, as on two machines
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _search(n_jobs):
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    pipe = Pipeline([("scale", StandardScaler()), ("lmnn", LMNN(max_iter=30, random_state=0)),
                     ("knn", KNeighborsClassifier(3))])
    grid = {"lmnn__n_neighbors": [2, 3], "lmnn__push_weight": [0.25, 0.5]}
    return GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs, error_score="raise").fit(X, y)


@pytest.mark.slow
def test_grid_search_on_dask_matches_serial_and_loads_kernels_from_the_cache(client):
    serial = _search(n_jobs=1)
    with joblib.parallel_backend("dask"):
        on_dask = _search(n_jobs=-1)
    assert on_dask.best_params_ == serial.best_params_
    for key in ("mean_test_score", "std_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(on_dask.cv_results_[key], serial.cv_results_[key])
    stats = client.run(kernel_cache_stats)  # per worker: what it loaded and compiled
    assert len(stats) == 2
    assert sum(s["hits"] for s in stats.values()) > 0  # the fits ran on the workers
    assert all(s["misses"] == 0 and not s["compiled"] for s in stats.values()), stats
