"""Retrieval (P@1, R-precision, MAP@R) and few-shot tables on a few datasets, plus the metrics' speed.

A small, committed measurement of the suite's new columns (the full suite
takes about an hour on the 2-core machine):

1. ``python -m benchmarks.suite`` on digits and three UCI sets with at least
   10 classes (vowel, yeast, pendigits), every shallowml estimator and the
   Euclidean baseline, the full run's caps (``--max-train 1000
   --time-limit 30``), 5 splits / class splits, 600 few-shot episodes; its
   files (``results.md`` with date and load average, ``results.csv``,
   ``runs.csv``, ``retrieval_table.csv``, ``few_shot*.csv``,
   ``map_at_r.png``, ``few_shot.png``, ``errors.png``) go to
   ``docs/benchmark_results/retrieval/``;
2. the wall time of the metrics themselves (median of 5, kernels loaded
   first): :func:`shallowml.metrics.retrieval_scores` leave-one-out on
   digits and pendigits, and 600 episodes of
   :func:`shallowml.evaluation.few_shot_accuracy` on digits, written to
   ``timings.json`` / ``timings.md`` in the same folder with the machine
   state (date, load average, versions).

Usage (from the repository root, UCI data in ``$SHALLOWML_DATA``)::

    python -m benchmarks.bench_retrieval
"""

import json
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks import datasets as ds  # noqa: E402
from benchmarks import suite  # noqa: E402
from benchmarks._measure import RESULTS, _jsonable, machine_state  # noqa: E402

OUT = RESULTS / "retrieval"
DATASETS = ("digits", "vowel", "yeast", "pendigits")
SUITE_ARGS = ["--datasets", *DATASETS, "--reference", "none", "--max-train", "1000", "--time-limit", "30",
              "--seeds", "5", "--episodes", "600"]


def _median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_metrics():
    """Median wall seconds of the retrieval metrics and of 600 few-shot episodes."""
    from sklearn.datasets import load_digits

    from shallowml.evaluation import few_shot_accuracy
    from shallowml.metrics import map_at_r, retrieval_scores
    from shallowml.utils.warmup import warm_up_metrics

    warm_up_metrics()
    rows = []
    X, y = load_digits(return_X_y=True)
    Xp, yp, Xpt, ypt = ds.load("pendigits")
    Xp, yp = np.vstack([Xp, Xpt]), np.concatenate([yp, ypt])
    for name, Z, labels in (("digits", X, y), ("pendigits", Xp, yp)):
        for what, fn in (("map_at_r", lambda: map_at_r(Z, labels)),
                         ("retrieval_scores (all, incl. MAP)", lambda: retrieval_scores(Z, labels))):
            rows.append({"what": f"{what}, leave-one-out", "data": f"{name} {Z.shape[0]}x{Z.shape[1]}",
                         "seconds": _median_time(fn)})
    seen = y < 5
    Zu, yu = X[~seen], y[~seen]
    for k_shot in (1, 5):
        for clf in ("prototype", "1nn"):
            fn = lambda: few_shot_accuracy(None, Zu, yu, n_way=5, k_shot=k_shot, n_query=15,  # noqa: E731
                                           n_episodes=600, classifier=clf, random_state=0)
            rows.append({"what": f"few_shot_accuracy 5-way {k_shot}-shot {clf}, 600 episodes",
                         "data": f"digits 5-9 {Zu.shape[0]}x{Zu.shape[1]}", "seconds": _median_time(fn)})
    return rows


def main(argv=None):
    if ds.data_folder() is None:
        raise SystemExit("UCI data folder not found: set SHALLOWML_DATA")
    OUT.mkdir(parents=True, exist_ok=True)
    before = machine_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings = time_metrics()
    suite.main([*SUITE_ARGS, "--out", str(OUT)])
    (OUT / "speedup.png").unlink(missing_ok=True)  # no reference columns in this run
    after = machine_state()
    payload = {"command": "python -m benchmarks.bench_retrieval", "suite_args": SUITE_ARGS,
               "machine_before": before, "machine_after": after, "timings": timings}
    (OUT / "timings.json").write_text(json.dumps(payload, indent=1, default=_jsonable) + "\n")
    lines = [f"Metric timings (median of 5 calls, kernels loaded first), {before['date']}, "
             f"load average {before['load_average_1min']:.2f} (suite afterwards; "
             f"{after['load_average_1min']:.2f} at the end), {before['cpu_count']} cores, "
             f"shallowml {before['shallowml']}, numba {before['numba']}", "",
             "| what | data | seconds |", "|---|---|---|"]
    lines += [f"| {r['what']} | {r['data']} | {r['seconds']:.3f} |" for r in timings]
    (OUT / "timings.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
