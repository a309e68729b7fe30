"""Low-rank LMNN: smoothed stages run to 1e-6 against stopped at ``tol``, on several datasets.

With ``n_components < n_classes - 1`` shallowml's LMNN solves its smoothed
stages to ``min(tol, 1e-6)`` (``_LOW_RANK_SMOOTHED_TOL`` in
``shallowml/_solvers/lmnn_rounds.py``); before, they stopped at ``tol``
(1e-3) like the exact stage. This script fits ``LMNN(n_components=k)``
both ways (the old rule by setting that constant to 1, so that
``min(tol, 1) = tol``) from ``init='lda'`` and ``'pca'`` on a stratified
70/30 split (seed 0) of each dataset, standardised (at most 4000 samples,
a stratified subsample), and records the classic objective of each
solution (shallowml's function on the fit's scaled data, lower is better),
the iterations, the fit time, whether ``max_iter`` was reached
(ConvergenceWarning) and the 3-NN test error. Usage::

    python -m benchmarks.bench_lowrank_homotopy

writes ``docs/benchmark_results/lowrank_homotopy.{json,md}``; UCI datasets
are read from ``$SHALLOWML_DATA`` and skipped where absent.
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import datasets as ds  # noqa: E402
from benchmarks._measure import knn_error, machine_state, script_main  # noqa: E402
from benchmarks.diagnose_lowrank import _objective_tools  # noqa: E402

# (dataset, n_components): every case has n_components < n_classes - 1
CASES = [("digits", 2), ("vehicle", 2), ("segmentation", 2), ("yeast", 2), ("yeast", 4), ("vowel", 2),
         ("letter", 2), ("satimage", 2)]
MAX_SAMPLES = 4000


def _data(name, root):
    X, y, X_te, y_te = ds.load(name, root)
    if X_te is not None:
        X, y = np.vstack([X, X_te]), np.concatenate([y, y_te])
    if len(y) > MAX_SAMPLES:
        X, _, y, _ = train_test_split(X, y, train_size=MAX_SAMPLES, stratify=y, random_state=0)
    X, X_te, y, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    return scaler.transform(X), np.unique(y, return_inverse=True)[1], scaler.transform(X_te), \
        np.searchsorted(np.unique(y), y_te)


def _fit(X, y, k, init, smoothed_tol):
    import shallowml._solvers.lmnn_rounds as rounds
    from shallowml import LMNN

    saved = rounds._LOW_RANK_SMOOTHED_TOL
    rounds._LOW_RANK_SMOOTHED_TOL = smoothed_tol
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            est = LMNN(n_components=k, init=init, random_state=0).fit(X, y)
            fit_s = time.perf_counter() - t0
    finally:
        rounds._LOW_RANK_SMOOTHED_TOL = saved
    return est, fit_s, any(issubclass(w.category, ConvergenceWarning) for w in caught)


def run():
    import shallowml._solvers.lmnn_rounds as rounds

    root = ds.data_folder(None)
    rows, skipped = [], []
    for name, k in CASES:
        if name not in ds.BUNDLED and root is None:
            skipped.append(name)
            continue
        X, y, X_te, y_te = _data(name, root)
        _, s, _, true_objective, _ = _objective_tools(X, y)
        for init in ("lda", "pca"):
            row = {"dataset": name, "n_train": int(X.shape[0]), "n_features": int(X.shape[1]),
                   "n_classes": int(np.unique(y).size), "n_components": k, "init": init}
            for label, smoothed_tol in (("stopped_at_tol", 1.0), ("to_1e-6", rounds._LOW_RANK_SMOOTHED_TOL)):
                est, fit_s, reached = _fit(X, y, k, init, smoothed_tol)
                row[label] = {"objective": true_objective(est.components_ * s)[0], "n_iter": int(est.n_iter_),
                              "fit_s": fit_s, "max_iter_reached": reached,
                              "error": knn_error(est.components_, X, y, X_te, y_te)}
            rows.append(row)
            print(f"{name} k={k} {init}: objective {row['stopped_at_tol']['objective']:.1f} -> "
                  f"{row['to_1e-6']['objective']:.1f}", flush=True)
    return {"machine": machine_state(), "rows": rows, "skipped": skipped}


def markdown(result):
    m = result["machine"]
    lines = [f"`python -m benchmarks.bench_lowrank_homotopy` ({m['date']}, load {m['load_average_1min']:.2f} "
             f"at start, {m['cpu_count']} cores, shallowml {m['shallowml']}). `LMNN(n_components=k)`, 70/30 split "
             "(seed 0, at most 4000 samples), standardised; smoothed stages stopped at tol=1e-3 (before) against "
             "run to 1e-6 (now); objective = classic LMNN objective of the solution (lower is better); "
             "'max_iter' marks a fit that reached max_iter=200. Fit times shared a busy machine.", "",
             "| dataset | n x d, classes | k | init | objective before | now | change | iterations before, now "
             "| fit s before, now | 3-NN error before, now |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        a, b = r["stopped_at_tol"], r["to_1e-6"]
        flag = lambda f: " (max_iter)" if f["max_iter_reached"] else ""  # noqa: E731
        change = 100.0 * (b["objective"] - a["objective"]) / a["objective"]
        lines.append(f"| {r['dataset']} | {r['n_train']} x {r['n_features']}, {r['n_classes']} | "
                     f"{r['n_components']} | {r['init']} | {a['objective']:.1f} | {b['objective']:.1f} | "
                     f"{change:+.2f} % | {a['n_iter']}{flag(a)}, {b['n_iter']}{flag(b)} | "
                     f"{a['fit_s']:.1f}, {b['fit_s']:.1f} | {a['error']:.3f}, {b['error']:.3f} |")
    if result["skipped"]:
        lines += ["", f"Skipped (UCI data not found): {', '.join(result['skipped'])}."]
    return "\n".join(lines)


def main(argv=None):
    return script_main("lowrank_homotopy", __doc__, run, markdown, argv)


if __name__ == "__main__":
    main()
