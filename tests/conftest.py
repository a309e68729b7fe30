"""Shared fixtures: data folder lookup, one JIT warm-up per session, iris pairs."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a package at the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks.datasets import data_folder  # noqa: E402  (the one folder lookup)


@pytest.fixture(scope="session")
def uci():
    """Path to the UCI folder, or skip with a message saying how to provide it."""
    path = data_folder()
    if path is None:
        pytest.skip("UCI data folder not found: set SHALLOWML_DATA to the folder with *.csv.gz files")
    return path


@pytest.fixture(scope="session", autouse=True)
def warm_jit():
    """Compile the shared kernels once so per-test timings and timeouts are steady."""
    from shallowml._kernels.distances import pairwise_sq_distances
    from shallowml._kernels.neighbors import same_class_neighbors

    X = np.random.RandomState(0).rand(6, 2)
    pairwise_sq_distances(X)
    same_class_neighbors(X, np.array([0, 0, 0, 1, 1, 1]), 1)


@pytest.fixture(scope="session")
def make_iris_pairs():
    """``make(n_per_kind)``: shuffled similar/dissimilar pairs of standardised iris."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from shallowml.constraints import pairs_from_indices, positive_negative_pairs

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)

    def make(n_per_kind):
        pos, neg = positive_negative_pairs(y, n_per_kind, random_state=0)
        pairs, py = pairs_from_indices(X, pos, neg)
        order = np.random.RandomState(1).permutation(py.size)
        return pairs[order], py[order]

    return make
