"""``python -m shallowml``: fit every estimator on bundled data, print a table.

For each of scikit-learn's bundled datasets (iris, wine, breast_cancer,
digits): a stratified 70/30 split (seed 0), StandardScaler fitted on the train
part, then 3-NN test error with the Euclidean metric and with each shallowml
estimator's learned metric, plus the fit time. Learners on real targets
(input kind 'regression', e.g. MLKR) get their own table on diabetes: a 70/30
split (seed 0), 5-NN regression test MSE divided by the variance of the test
targets. Each estimator is first warmed
up on a tiny problem, which loads its numba kernels from the disk cache (or
compiles them, on a machine's first run); that time is reported separately.

``python -m shallowml --compile`` only compiles (or loads) every kernel and
prints the time per estimator.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from . import __version__
from .utils.discovery import all_estimators, input_kind, sample_form
from .utils.warmup import compile_all, kernel_cache_stats, warm_up

DATASETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
# data sets with real targets, for learners of input kind 'regression'
REGRESSION_DATASETS = {"diabetes": load_diabetes}


def _sample_estimators(names=None):
    """One instance per public estimator that can be fitted on (X, y) samples (``random_state=0``)."""
    out = []
    for name, cls in all_estimators():
        est = sample_form(cls)
        if names and type(est).__name__ not in names and name not in names:
            continue
        if "random_state" in est.get_params():
            est.set_params(random_state=0)  # the same table on every run
        out.append((type(est).__name__, est))
    return out


def estimator_names():
    """Names accepted by ``--estimators``: every public estimator and the supervised form of pair learners."""
    return sorted({n for name, cls in all_estimators() for n in (name, type(sample_form(cls)).__name__)})


def knn_error(Z_train, y_train, Z_test, y_test, k=3):
    """Test error of a k-NN classifier on already transformed data."""
    knn = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train)
    return float(np.mean(knn.predict(Z_test) != y_test))


def knn_regression_error(Z_train, y_train, Z_test, y_test, k=5):
    """Test MSE of a k-NN regressor on already transformed data, over the variance of ``y_test``."""
    pred = KNeighborsRegressor(n_neighbors=k).fit(Z_train, y_train).predict(Z_test)
    return float(np.mean((pred - y_test) ** 2) / np.var(y_test))


def run(datasets=None, estimators=None, seed=0):
    """Return rows ``(dataset, method, error, fit_seconds)`` and the JIT warm-up times.

    Classification data sets are scored with every estimator but the
    regression learners (3-NN error), regression data sets with the regression
    learners only (5-NN MSE over the target variance).
    """
    ests = _sample_estimators(estimators)
    warmup = {name: warm_up(est, n_samples=40, n_classes=2) for name, est in ests}
    rows = []
    for ds in datasets or [*DATASETS, *REGRESSION_DATASETS]:
        regression = ds in REGRESSION_DATASETS
        chosen = [(n, e) for n, e in ests if (input_kind(e) == "regression") == regression]
        if not chosen:
            continue
        X, y = (REGRESSION_DATASETS if regression else DATASETS)[ds](return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=None if regression else y,
                                              random_state=seed)
        scaler = StandardScaler().fit(Xtr)
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
        score = knn_regression_error if regression else knn_error
        rows.append((ds, "Euclidean", score(Xtr, ytr, Xte, yte), 0.0))
        for name, est in chosen:
            est = clone(est)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(Xtr, ytr)
            fit_time = time.perf_counter() - t0
            rows.append((ds, name, score(est.transform(Xtr), ytr, est.transform(Xte), yte), fit_time))
    return rows, warmup


def format_table(rows):
    """Markdown table: one row per dataset, 'error / seconds' per method."""
    datasets = list(dict.fromkeys(r[0] for r in rows))
    methods = list(dict.fromkeys(r[1] for r in rows))
    cell = {(r[0], r[1]): r for r in rows}
    head = "| dataset | " + " | ".join(methods) + " |"
    sep = "|---" * (len(methods) + 1) + "|"
    lines = [head, sep]
    for ds in datasets:
        vals = []
        for m in methods:
            r = cell.get((ds, m))
            vals.append("-" if r is None else (f"{r[2]:.3f}" if m == "Euclidean" else f"{r[2]:.3f} ({r[3]:.2f}s)"))
        lines.append(f"| {ds} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m shallowml", description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", choices=[*DATASETS, *REGRESSION_DATASETS], default=None)
    parser.add_argument("--estimators", nargs="*", default=None, help="estimator class names")
    parser.add_argument("--compile", action="store_true",
                        help="only compile (or load from the disk cache) every numba kernel, then exit")
    parser.add_argument("--version", action="version", version=f"shallowml {__version__}")
    args = parser.parse_args(argv)
    valid = estimator_names()
    unknown = sorted(set(args.estimators or ()) - set(valid))
    if unknown:
        parser.error(f"unknown estimators: {', '.join(unknown)} (names are case-sensitive); "
                     f"valid: {', '.join(valid)}")
    if args.compile:
        t0 = time.perf_counter()
        compile_all()
        stats = kernel_cache_stats()
        print(f"all kernels ready in {time.perf_counter() - t0:.1f} s: "
              f"{stats['misses']} compiled, {stats['hits']} loaded from the disk cache")
        return
    rows, warmup = run(args.datasets, args.estimators)
    classes = [r for r in rows if r[0] not in REGRESSION_DATASETS]
    regression = [r for r in rows if r[0] in REGRESSION_DATASETS]
    if classes:
        print("3-NN test error (fit time), stratified 70/30 split, StandardScaler\n")
        print(format_table(classes))
    if regression:
        print("\n5-NN regression test MSE / variance of the test targets (fit time), 70/30 split, "
              "StandardScaler\n")
        print(format_table(regression))
    stats = kernel_cache_stats()
    print(f"\nWarm-up (fits on a 40x4 problem, serial and parallel kernels: {stats['hits']} loaded from "
          f"the disk cache, {stats['misses']} compiled), seconds:")
    print(", ".join(f"{k} {v:.2f}" for k, v in warmup.items()))


if __name__ == "__main__":
    main()
