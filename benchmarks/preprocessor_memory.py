"""Peak memory of fitting tuple learners on indices + preprocessor vs on formed tuples.

For each learner on pairs (ITML, LinearSiamese, MMC, SDML) and one problem
(``--n-pairs`` pairs drawn among ``--n-samples`` points of ``--n-features``
standard normal features), ``tracemalloc``'s peak during ``fit``:

- on integer indices with ``preprocessor=X``;
- on the formed pairs ``X[idx]`` (the pairs array itself, ``n_pairs * 2 *
  n_features * 8`` bytes, is allocated before the measure and not counted).

Few iterations (``max_iter`` 1 or 2): memory, not the fitted metric, is
measured; the kernels are compiled before measuring. Not a timing benchmark.

Usage::

    python -m benchmarks.preprocessor_memory   # writes docs/benchmark_results/preprocessor_memory.{json,md}
"""

import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import machine_state, script_main  # noqa: E402

LEARNERS = {
    "ITML": {"max_iter": 2},
    "LinearSiamese": {"max_iter": 1, "batch_size": 256, "random_state": 0},
    "MMC": {"max_iter": 2},
    "SDML": {"max_iter": 2, "balance_param": 1e-4},
}


def _peak(est, tuples, y):
    tracemalloc.start()
    try:
        est.fit(tuples, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(n_pairs=20000, n_samples=200, n_features=100, seed=0):
    import shallowml

    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features))
    idx = rng.randint(0, n_samples, size=(n_pairs, 2))
    y = np.where(rng.rand(n_pairs) < 0.5, 1, -1)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, params in LEARNERS.items():
            est = getattr(shallowml, name)(**params, preprocessor=X)
            est.fit(idx[:200], y[:200])  # compile outside the measure
            indexed = _peak(est, idx, y)
            formed = X[idx]
            gathered = _peak(est.set_params(preprocessor=None), formed, y)
            del formed
            rows.append({"learner": name, "indices_peak_bytes": indexed, "formed_peak_bytes": gathered})
    return {"machine": machine_state(), "n_pairs": n_pairs, "n_samples": n_samples, "n_features": n_features,
            "tuple_array_bytes": n_pairs * 2 * n_features * 8, "rows": rows}


def to_markdown(result):
    mb = 1e6
    lines = [f"{result['n_pairs']} pairs, {result['n_features']} features; the pairs array "
             f"(n * 2 * d * 8 bytes) is {result['tuple_array_bytes'] / mb:.1f} MB", "",
             "| learner | peak, indices + preprocessor (MB) | peak, formed pairs, excluding them (MB) |",
             "|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['learner']} | {r['indices_peak_bytes'] / mb:.1f} | {r['formed_peak_bytes'] / mb:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    return script_main("preprocessor_memory", __doc__, run, to_markdown, argv,
                       n_pairs=20000, n_samples=200, n_features=100, seed=0)


if __name__ == "__main__":
    main()
