"""MMC_Supervised on digits: the rank and 3-NN error of the exact optimum against metric-learn's result.

shallowml's MMC solves Xing et al.'s problem to a certified optimality gap;
metric-learn 0.7 runs projected gradient ascent from the identity and stops
at its ``max_iter=100``, short of the optimum (``family_pairs.md`` compares
the objectives on the same pairs). This script fits both with their
defaults (``random_state`` = the split's seed, one BLAS thread each) on the
benchmark suite's five standardised 70/30 splits of scikit-learn's digits
(:func:`benchmarks.suite.scaled_splits`) and records, per split, the 3-NN
test error, the rank of the learned map (singular values above 1e-3 of the
largest) and the fit time, beside the Euclidean error. Usage::

    SHALLOWML_REFERENCE_PYTHON=... python -m benchmarks.bench_mmc_rank

writes ``docs/benchmark_results/mmc_rank.{json,md}``; without the
reference interpreter its columns are empty.
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import suite  # noqa: E402
from benchmarks._measure import knn_error, machine_state, script_main  # noqa: E402
from benchmarks._reference import fit_metric_learn  # noqa: E402
from shallowml import MMC_Supervised  # noqa: E402


def _rank(L):
    s = np.linalg.svd(L, compute_uv=False)
    return int((s > 1e-3 * s[0]).sum())


def run(seeds=5):
    X, y = load_digits(return_X_y=True)
    rows = []
    for i, (label, Xtr, ytr, Xte, yte) in enumerate(suite.scaled_splits("digits", X, y, None, None, seeds)):
        row = {"split": label, "euclidean_error": knn_error(None, Xtr, ytr, Xte, yte)}
        with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            ours = MMC_Supervised(random_state=i).fit(Xtr, ytr)
            row["shallowml"] = {"fit_time": time.perf_counter() - start, "n_iter": ours.n_iter_,
                                "objective": ours.objective_, "warnings": len(caught),
                                "rank": _rank(ours.components_),
                                "error": knn_error(ours.components_, Xtr, ytr, Xte, yte)}
        ref = fit_metric_learn("MMC_Supervised", {"random_state": i}, X=Xtr, y=ytr, threads=1)
        if ref is not None:
            row["metric_learn"] = {"fit_time": ref["fit_time"], "rank": _rank(ref["components"]),
                                   "error": knn_error(ref["components"], Xtr, ytr, Xte, yte)}
        rows.append(row)
    return {"machine": machine_state(), "rows": rows}


def markdown(result):
    lines = ["MMC_Supervised, defaults, standardised digits, the suite's 70/30 splits; rank = singular values "
             "of L above 1e-3 of the largest; one BLAS thread per fit",
             f"(load average {result['machine']['load_average_1min']:.2f} at the start)", "",
             "| split | Euclidean error | shallowml error | rank | fit s | metric-learn error | rank | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        o, m = r["shallowml"], r.get("metric_learn")
        ref = f"{m['error']:.3f} | {m['rank']} | {m['fit_time']:.1f}" if m else "- | - | -"
        lines.append(f"| {r['split']} | {r['euclidean_error']:.3f} | {o['error']:.3f} | {o['rank']} | "
                     f"{o['fit_time']:.2f} | {ref} |")
    mean = {k: (f"{np.mean(e):.3f}" if (e := [r[k]["error"] for r in result["rows"] if k in r]) else "-")
            for k in ("shallowml", "metric_learn")}
    lines.append(f"| mean | {np.mean([r['euclidean_error'] for r in result['rows']]):.3f} | "
                 f"{mean['shallowml']} | | | {mean['metric_learn']} | | |")
    return "\n".join(lines)


def main(argv=None):
    return script_main("mmc_rank", __doc__, run, markdown, argv, seeds=5)


if __name__ == "__main__":
    main()
