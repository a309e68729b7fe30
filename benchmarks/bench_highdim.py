"""High-dimensional benchmark: LMNN and NCA with defaults on 3500 x 784 image-like digits.

Data: :func:`benchmarks.images.optdigits_28x28` -- UCI optdigits rendered at
28 x 28 pixels (bilinear zoom x3.5, random shift of up to 2 pixels, Gaussian
noise of 1 grey level in 16, pixels in [0, 1]); 3500 training images (a
stratified subset of the 3823 official training images, seed 0) and the 1797
official test images, written by other people. No per-pixel standardisation.

Each estimator runs with its default parameters (``random_state=0`` aside) in
a fresh process (:func:`benchmarks._measure.fit_in_fresh_process`): the cold
figure is the first fit in that process (for shallowml it includes loading
the numba kernels from the disk cache), the warm one the median of
``--warm-repeats`` further fits. Rows:

- shallowml ``LMNN()`` (with ``pca_components='auto'``: the leading 100
  principal components here);
- shallowml ``LMNN(pca_components=None)``, the classic full-rank fit on all
  784 pixels and the default before ``pca_components`` (only with
  ``--classic``; limited to ``--time-limit``);
- shallowml ``NCA()``;
- metric-learn's ``LMNN()`` in its own interpreter, cold only, limited to
  ``--time-limit`` seconds ("did not finish in T s").

3-NN test error in the learned space beside every timing, and the Euclidean
error. The machine is shared: the load average at the start and the end is
recorded; compare rows of one run. Usage::

    python -m benchmarks.bench_highdim [--time-limit 300] [--classic] [--warm-repeats 1]

writes ``docs/benchmark_results/highdim.json`` and ``highdim.md``.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import fit_in_fresh_process, knn_error, load_average, machine_state, publish  # noqa: E402
from benchmarks.images import optdigits_28x28  # noqa: E402


def run(time_limit=300.0, classic=False, warm_repeats=1, folder=None):
    X, y, X_te, y_te = optdigits_28x28(3500, folder=folder, random_state=0)
    runs = [("shallowml", "LMNN", {"random_state": 0}, warm_repeats, None)]
    if classic:
        runs.append(("shallowml", "LMNN", {"random_state": 0, "pca_components": None}, 0, time_limit))
    runs += [("shallowml", "NCA", {"random_state": 0}, warm_repeats, None),
             ("metric-learn", "LMNN", {"random_state": 0}, 0, time_limit)]
    rows = [{"library": "-", "estimator": "Euclidean", "params": {}, "error": knn_error(None, X, y, X_te, y_te)}]
    for library, name, params, repeats, limit in runs:
        t0 = time.perf_counter()
        res = fit_in_fresh_process(library, name, params, X, y, warm_repeats=repeats,
                                   timeout=limit if limit is not None else 3600)
        row = {"library": library, "estimator": name, "params": params, "load_before": load_average()}
        if res is None:
            row["note"] = f"{library} unavailable"
        elif "timeout" in res:
            row["note"] = f"did not finish in {res['timeout']:.0f} s"
        else:
            L = res.pop("components")
            row.update(res, error=knn_error(L, X, y, X_te, y_te), n_components=int(L.shape[0]))
        row["process_s"] = time.perf_counter() - t0
        rows.append(row)
        print(_line(row), flush=True)
    return {"data": {"n_train": int(X.shape[0]), "n_test": int(X_te.shape[0]), "n_features": int(X.shape[1])},
            "rows": rows}


def _line(r):
    params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items() if k != "random_state")
    label = f"{r['library']} {r['estimator']}({params})" if r["library"] != "-" else "Euclidean (no learning)"
    cold = r.get("cold") or {}
    warm = r.get("warm") or {}

    def f(v, fmt="8.1f"):
        return format(v, fmt) if v is not None else "-"

    return (f"| {label} | {f(cold.get('wall'))} | {f(cold.get('cpu'))} | {f(warm.get('wall'))} | "
            f"{r.get('n_components', '-')} | {r.get('n_iter', '-') if r.get('n_iter', -1) != -1 else '-'} | "
            f"{f(r.get('error'), '.4f')} | {r.get('note', '')} |")


def markdown(result, machine, command):
    d = result["data"]
    lines = [f"`{command}` ({machine['date']}, load {machine['load_average_1min']:.2f} at the start, "
             f"{machine['load_average_1min_end']:.2f} at the end, {machine['cpu_count']} cores, "
             f"shallowml {machine['shallowml']})", "",
             f"optdigits rendered at 28 x 28: {d['n_train']} training x {d['n_features']} pixels, "
             f"{d['n_test']} test images (other writers).", "",
             "| estimator | cold fit s (wall) | cold CPU s | warm fit s (wall) | n_components | iterations "
             "| 3-NN test error | note |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_line(r) for r in result["rows"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds allowed to metric-learn (and --classic)")
    parser.add_argument("--classic", action="store_true", help="also fit LMNN(pca_components=None)")
    parser.add_argument("--warm-repeats", type=int, default=1)
    parser.add_argument("--data", default=None, help="UCI folder (default $SHALLOWML_DATA or ../shared/uci)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    machine = machine_state()
    root = Path(__file__).resolve().parent.parent
    machine["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                       text=True).stdout.strip()
    machine["dirty"] = bool(subprocess.run(["git", "status", "--porcelain", "shallowml"], cwd=root,
                                           capture_output=True, text=True).stdout.strip())
    command = "python -m benchmarks.bench_highdim " + " ".join(argv if argv is not None else sys.argv[1:])
    result = run(args.time_limit, args.classic, args.warm_repeats, args.data)
    machine["load_average_1min_end"] = load_average()
    payload = {"machine": machine, "command": command.strip(), **result}
    publish("highdim", payload, markdown(result, machine, command.strip()), write=not args.no_write)
    return payload


if __name__ == "__main__":
    main()
