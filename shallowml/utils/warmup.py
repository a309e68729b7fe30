"""Compile (or load from the disk cache) the numba kernels before timing or serving fits.

Every kernel is cached on disk, so a machine compiles each one once
(``python -m shallowml --compile``: 34 s on 2 cores, see
``docs/benchmark_results/cold_warm.json``); afterwards a process loads them
in a fraction of a second. :func:`kernel_cache_stats` tells
which kernels a process loaded and which it compiled.
"""

import contextlib
import importlib
import pkgutil
import time
import warnings

import numba
import numpy as np
from sklearn.base import clone

from .._kernels._options import SizeDispatched, parallel_variants_everywhere
from ..supervision import input_kind


def warm_up(estimator, n_samples=60, n_features=4, n_classes=3):
    """Fit clones of ``estimator`` on a tiny random problem; return the seconds taken.

    Two fits: one as usual, which runs the serial kernels a small problem
    uses, and one with every size-dispatched kernel forced to its parallel
    variant. Each kernel is loaded from the disk cache, or compiled (and
    cached) on the machine's first run; afterwards fits of any size run
    without compilation. Warnings of the warm-up fits (e.g.
    ``ConvergenceWarning``) are suppressed; errors are not.

    Parameters
    ----------
    estimator : estimator
        Unfitted estimator taking ``fit(X, y)`` with class labels, or real
        targets when its ``input_kind`` is 'regression'
        (:func:`shallowml.supervision.input_kind`).
    n_samples, n_features, n_classes : int
        Size of the random warm-up problem.

    Returns
    -------
    seconds : float
        Wall-clock time of both fits (compilation or cache loading, mostly).

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
    if input_kind(estimator) == "regression":
        y = X @ np.arange(1.0, n_features + 1.0) + 0.1 * rng.standard_normal(n_samples)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone(estimator).fit(X, y)
        with parallel_variants_everywhere():
            clone(estimator).fit(X, y)
    return time.perf_counter() - t0


def warm_up_metrics(n_samples=60, n_features=4, n_classes=3):
    """Run the kernels of :mod:`shallowml.metrics` on a tiny problem; return the seconds taken.

    Leave-one-out and with a reference set, with the full and the partial
    ranking, each once as usual and once with the parallel variants forced,
    so that every kernel the metrics run is loaded from the disk cache (or
    compiled and cached).

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        Size of the random warm-up problem.

    Returns
    -------
    seconds : float
        Wall-clock time (compilation or cache loading, mostly).

    Examples
    --------
    >>> from shallowml.utils.warmup import warm_up_metrics
    >>> warm_up_metrics() >= 0.0
    True
    """
    from ..metrics import retrieval_scores

    rng = np.random.RandomState(0)
    Z = rng.rand(n_samples, n_features)
    y = np.arange(n_samples) % n_classes
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for forced in (False, True):
            with parallel_variants_everywhere() if forced else contextlib.nullcontext():
                retrieval_scores(Z, y)
                retrieval_scores(Z[:10], y[:10], Z_ref=Z, y_ref=y, average_precision=False)
    return time.perf_counter() - t0


def compile_all(verbose=True):
    """Warm up every public estimator (their supervised form for pair learners) and the metrics.

    Returns ``{estimator name: seconds}`` and ``"metrics"``
    (:func:`warm_up_metrics`); the cache then holds every kernel the
    estimators and :mod:`shallowml.metrics` run on float64 data.
    """
    from .discovery import all_estimators, sample_form

    times = {}
    for _, cls in all_estimators():
        est = sample_form(cls)
        if type(est).__name__ in times:
            continue
        # estimators whose kernels depend on an option list the forms that run them all
        variants = getattr(est, "_warm_up_variants", lambda: [])()
        times[type(est).__name__] = seconds = warm_up(est) + sum(warm_up(v) for v in variants)
        if verbose:
            print(f"{type(est).__name__:<28} {seconds:7.2f} s", flush=True)
    times["metrics"] = seconds = warm_up_metrics()
    if verbose:
        print(f"{'metrics (retrieval)':<28} {seconds:7.2f} s", flush=True)
    return times


def _dispatchers():
    """``[(name, dispatcher, is_parallel)]`` for every kernel in :mod:`shallowml._kernels`."""
    import shallowml._kernels as kernels

    out = []
    for info in pkgutil.iter_modules(kernels.__path__):
        mod = importlib.import_module(f"shallowml._kernels.{info.name}")
        for name, obj in vars(mod).items():
            if getattr(obj, "__module__", None) != mod.__name__:
                continue
            if isinstance(obj, SizeDispatched):
                out += [(f"{info.name}.{name}", obj.serial, False), (f"{info.name}.{name}[parallel]", obj.parallel, True)]
            elif isinstance(obj, numba.core.registry.CPUDispatcher):
                out.append((f"{info.name}.{name}", obj, False))
    return out


def kernel_cache_stats():
    """What this process did with the on-disk kernel cache so far.

    Returns
    -------
    stats : dict
        ``hits`` (kernel signatures loaded from the cache), ``misses``
        (signatures compiled in this process), ``compiled`` (names of the
        kernels compiled) and ``parallel_used`` (parallel variants run).

    Examples
    --------
    >>> from shallowml.utils.warmup import kernel_cache_stats
    >>> sorted(kernel_cache_stats())
    ['compiled', 'hits', 'misses', 'parallel_used']
    """
    hits = misses = parallel_used = 0
    compiled = []
    for name, disp, is_parallel in _dispatchers():
        h = sum(disp.stats.cache_hits.values())
        m = sum(disp.stats.cache_misses.values())
        hits, misses = hits + h, misses + m
        if m:
            compiled.append(name)
        if is_parallel and disp.signatures:
            parallel_used += 1
    return {"hits": hits, "misses": misses, "compiled": compiled, "parallel_used": parallel_used}
