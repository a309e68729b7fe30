"""Cost of the learned metric inside ``KNeighborsClassifier``: callable vs the fast paths.

3-NN prediction on standardised digits (1257 training, 540 test points,
NCA metric) five ways, in one process, each timed as the median of
``--repeats`` ``predict`` calls after one untimed call:

- transform, then Euclidean 3-NN (what ``make_pipeline(nca,
  KNeighborsClassifier(3))`` does; the recommended path);
- ``metric="mahalanobis", metric_params={"VI": M}``: scikit-learn's compiled
  metric on ``M = L^T L``;
- ``metric=nca.get_metric()``: shallowml's Python callable, brute force;
- ``metric=<callable returning 0.0>``: the floor of any Python callable
  (scikit-learn's per-pair call overhead alone);
- ``metric=<numpy one-liner sqrt(((L @ (u - v)) ** 2).sum())>``: the obvious
  hand-written callable.

All predictions must agree with the pipeline's. Reports seconds per test
point and the ratio to the pipeline.

Usage::

    python -m benchmarks.bench_get_metric   # writes docs/benchmark_results/get_metric.{json,md}
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import machine_state, script_main  # noqa: E402


def _timed(fit_predict, repeats):
    fit_predict()  # untimed: first call (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pred = fit_predict()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), pred


def run(repeats=3):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    from shallowml import NCA

    state = machine_state()
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    nca = NCA(max_iter=20, random_state=0).fit(Xtr, ytr)
    L, M = nca.components_, nca.get_mahalanobis_matrix()

    def knn(**kw):
        return lambda: KNeighborsClassifier(3, **kw).fit(Xtr, ytr).predict(Xte)

    ways = {
        "pipeline (transform + Euclidean)": lambda: KNeighborsClassifier(3)
        .fit(nca.transform(Xtr), ytr).predict(nca.transform(Xte)),
        'metric="mahalanobis", VI=M': knn(metric="mahalanobis", metric_params={"VI": M},
                                         algorithm="brute"),
        "metric=get_metric()": knn(metric=nca.get_metric(), algorithm="brute"),
        "metric=<callable returning 0.0> (floor)": knn(metric=lambda u, v: 0.0, algorithm="brute"),
        "metric=<numpy one-liner>": knn(metric=lambda u, v: np.sqrt(((L @ (u - v)) ** 2).sum()),
                                        algorithm="brute"),
    }
    rows = {}
    reference = None
    for name, way in ways.items():
        seconds, pred = _timed(way, repeats)
        if reference is None:
            reference = pred
        rows[name] = {"seconds": seconds, "per_point_us": 1e6 * seconds / len(Xte),
                      "same_predictions": bool(np.array_equal(pred, reference)) if "floor" not in name
                      else None}
    base = rows["pipeline (transform + Euclidean)"]["seconds"]
    for r in rows.values():
        r["ratio_to_pipeline"] = r["seconds"] / base
    state["load_average_1min_after"] = __import__("os").getloadavg()[0]
    return {"machine": state, "n_train": len(Xtr), "n_test": len(Xte), "repeats": repeats, "rows": rows}


def to_markdown(result):
    m = result["machine"]
    lines = [
        f"3-NN predict on standardised digits ({result['n_train']} training, {result['n_test']} test "
        f"points, NCA metric), median of {result['repeats']} calls ({m['date']}, {m['cpu_count']} cores, "
        f"load {m['load_average_1min']:.2f} before / {m['load_average_1min_after']:.2f} after). Produced by "
        "`python -m benchmarks.bench_get_metric`; raw output in `get_metric.json`.",
        "",
        "| way | seconds | µs per test point | x pipeline | same predictions |",
        "|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        same = "n/a" if r["same_predictions"] is None else str(r["same_predictions"])
        lines.append(f"| {name} | {r['seconds']:.3f} | {r['per_point_us']:.0f} | "
                     f"{r['ratio_to_pipeline']:.1f} | {same} |")
    return "\n".join(lines)


def main(argv=None):
    return script_main("get_metric", __doc__, run, to_markdown, argv, repeats=3)


if __name__ == "__main__":
    main()
