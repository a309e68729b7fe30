"""Compile an estimator's numba kernels before timing it."""

import time
import warnings

import numpy as np
from sklearn.base import clone

from .._kernels._options import parallel_variants_everywhere


def warm_up(estimator, n_samples=60, n_features=4, n_classes=3):
    """Fit clones of ``estimator`` on a tiny random problem; return the seconds taken.

    Two fits: one as usual, which compiles (or loads from the disk cache)
    the serial kernels a small problem uses, and one with every
    size-dispatched kernel forced to its parallel variant, which compiles
    those (they are not cached on disk). Afterwards fits of any size run
    without compilation, so their timings are steady-state. Warnings of the
    warm-up fits (e.g. ``ConvergenceWarning``) are suppressed; errors are not.

    Parameters
    ----------
    estimator : estimator
        Unfitted estimator taking ``fit(X, y)`` with class labels.
    n_samples, n_features, n_classes : int
        Size of the random warm-up problem.

    Returns
    -------
    seconds : float
        Wall-clock time of both fits (mostly numba compilation).

    Examples
    --------
    >>> from shallowml import LDA
    >>> from shallowml.utils.warmup import warm_up
    >>> warm_up(LDA()) >= 0.0
    True
    """
    rng = np.random.RandomState(0)
    X = rng.rand(n_samples, n_features)
    y = np.arange(n_samples) % n_classes
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone(estimator).fit(X, y)
        with parallel_variants_everywhere():
            clone(estimator).fit(X, y)
    return time.perf_counter() - t0
