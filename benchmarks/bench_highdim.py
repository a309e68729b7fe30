"""High-dimensional and low-rank benchmark: LMNN on 3500 x 784 images, and 2-D LMNN on digits.

Two parts, each its own run and raw output (``--part``).

Part ``images`` (``docs/benchmark_results/highdim.{json,md}``).

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
- scikit-learn's ``NeighborhoodComponentsAnalysis()``, cold only, limited to
  ``--time-limit`` seconds ("did not finish in T s");
- metric-learn's ``LMNN()`` in its own interpreter, cold only, limited the
  same way.

3-NN test error in the learned space beside every timing, and the Euclidean
error. The machine is shared: the load average at the start and the end is
recorded; compare rows of one run. Usage::

    python -m benchmarks.bench_highdim [--time-limit 300] [--classic] [--warm-repeats 1]

writes ``docs/benchmark_results/highdim.json`` and ``highdim.md``.

Part ``lowrank`` (``docs/benchmark_results/highdim_lowrank.{json,md}``):
``n_components=2`` maps of standardised scikit-learn digits, scored by the
3-NN test error in the plane, on two splits:

- ``70/30``: stratified 70/30, seed 0 (the split of ``bench_lmnn``);
- ``gallery``: 600 training / 600 test images, stratified, seed 0, the
  split of ``examples/plot_digits_embedding.py``.

Rows: PCA; the LDA and PCA initial maps of LMNN themselves
(:func:`shallowml.utils.init.initial_components`, no learning; "LDA alone");
shallowml ``LMNN(n_components=2, init=...)`` for ``'lda'`` and ``'pca'``
(``'auto'`` is ``'lda'`` with class labels), also with ``tol=1e-5``;
metric-learn's ``LMNN(n_components=2, init=..., n_neighbors=3)`` with the same
init, cold only (``--time-limit``); shallowml ``NCA(n_components=2)``.
Fits run in fresh processes like part ``images``. Beside each LMNN-family
map: the classic LMNN objective (``push_weight=0.5``, target neighbours from
the input space, exact impostor set) of the map, evaluated by one function,
so solutions of both libraries are compared on the same objective::

    python -m benchmarks.bench_highdim --part lowrank [--time-limit 600]
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
             ("scikit-learn", "NeighborhoodComponentsAnalysis", {"random_state": 0}, 0, time_limit),
             ("metric-learn", "LMNN", {"random_state": 0}, 0, time_limit)]
    rows = [{"library": "-", "estimator": "Euclidean (no learning)", "params": {}, "error": knn_error(None, X, y, X_te, y_te)}]
    for library, name, params, repeats, limit in runs:
        row = _fresh_row(library, name, params, repeats, limit, X, y, X_te, y_te)
        row.pop("components", None)
        rows.append(row)
        print(_line(row), flush=True)
    return {"data": {"n_train": int(X.shape[0]), "n_test": int(X_te.shape[0]), "n_features": int(X.shape[1])},
            "rows": rows}


def _lowrank_splits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    for name, sizes in [("70/30", {"test_size": 0.3}), ("gallery", {"train_size": 600, "test_size": 600})]:
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0, **sizes)
        scaler = StandardScaler().fit(X_tr)
        yield name, scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


def _classic_objective(X, y):
    """``f(L)``: the classic LMNN objective of a map ``L`` on the input features."""
    from shallowml._kernels.neighbors import same_class_neighbors
    from shallowml._losses.lmnn import find_impostors, lmnn_evaluate, margin_radius
    from shallowml.lmnn import _scaled

    Xs, s = _scaled(X)
    y = np.asarray(y, dtype=np.int64)
    targets, _ = same_class_neighbors(Xs, y, 3)

    def objective(L):
        Ls = np.ascontiguousarray(L * s)
        Z = Xs @ Ls.T
        indptr, indices, _, _ = find_impostors(Z, y, margin_radius(Z, targets))
        return float(lmnn_evaluate(Ls.ravel(), Xs, targets, indptr, indices, 0.5, Ls.shape[0])[0])

    return objective, Xs, s


def run_lowrank(time_limit=600.0, warm_repeats=1):
    from sklearn.decomposition import PCA

    from shallowml.utils.init import initial_components

    splits = []
    for split_name, X, y, X_te, y_te in _lowrank_splits():
        objective, Xs, s = _classic_objective(X, y)
        rows = [{"library": "scikit-learn", "estimator": "PCA", "params": {"n_components": 2},
                 "error": knn_error(PCA(2).fit(X).components_, X, y, X_te, y_te)}]
        for init in ("lda", "pca"):
            L0 = initial_components(init, Xs, y, 2, random_state=np.random.RandomState(0)) / s
            rows.append({"library": "-", "estimator": f"initial map init='{init}' alone (no learning)", "params": {},
                         "error": knn_error(L0, X, y, X_te, y_te), "objective": objective(L0)})
        runs = []
        for init in ("lda", "pca"):
            runs += [("shallowml", "LMNN", {"n_components": 2, "init": init, "random_state": 0}, warm_repeats, None),
                     ("shallowml", "LMNN", {"n_components": 2, "init": init, "tol": 1e-5, "random_state": 0},
                      0, None),
                     ("metric-learn", "LMNN", {"n_components": 2, "init": init, "n_neighbors": 3,
                                               "random_state": 0}, 0, time_limit)]
        runs.append(("shallowml", "NCA", {"n_components": 2, "random_state": 0}, warm_repeats, None))
        for library, name, params, repeats, limit in runs:
            row = _fresh_row(library, name, params, repeats, limit, X, y, X_te, y_te)
            if name == "LMNN" and "components" in row:
                row["objective"] = objective(row["components"])
            row.pop("components", None)
            rows.append(row)
            print(split_name, _line(row, objective=True), flush=True)
        splits.append({"split": split_name, "n_train": int(X.shape[0]), "n_test": int(X_te.shape[0]),
                       "rows": rows})
    return {"splits": splits}


def _fresh_row(library, name, params, repeats, limit, X, y, X_te, y_te):
    load_before = load_average()
    t0 = time.perf_counter()
    res = fit_in_fresh_process(library, name, params, X, y, warm_repeats=repeats,
                               timeout=limit if limit is not None else 3600)
    row = {"library": library, "estimator": name, "params": params, "load_before": load_before,
           "load_after": load_average()}
    if res is None:
        row["note"] = f"{library} unavailable"
    elif "timeout" in res:
        row["note"] = f"did not finish in {res['timeout']:.0f} s"
    else:
        L = res.pop("components")
        row.update(res, error=knn_error(L, X, y, X_te, y_te), n_components=int(L.shape[0]), components=L)
    row["process_s"] = time.perf_counter() - t0
    return row


def _line(r, objective=False):
    params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items() if k != "random_state")
    label = f"{r['library']} {r['estimator']}({params})" if r["library"] != "-" else r["estimator"]
    cold = r.get("cold") or {}
    warm = r.get("warm") or {}

    def f(v, fmt="8.1f"):
        return format(v, fmt) if v is not None else "-"

    line = (f"| {label} | {f(cold.get('wall'))} | {f(cold.get('cpu'))} | {f(warm.get('wall'))} | "
            f"{r.get('n_components', '-')} | {r.get('n_iter', '-') if r.get('n_iter', -1) != -1 else '-'} | "
            f"{f(r.get('error'), '.4f')} |")
    if objective:
        line += f" {f(r.get('objective'), '.1f')} |"
    return line + f" {r.get('note', '')} |"


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


def markdown_lowrank(result, machine, command):
    lines = [f"`{command}` ({machine['date']}, load {machine['load_average_1min']:.2f} at the start, "
             f"{machine['load_average_1min_end']:.2f} at the end, {machine['cpu_count']} cores, "
             f"shallowml {machine['shallowml']})", "",
             "2-D maps of standardised scikit-learn digits; 3-NN test error in the plane. Objective: the "
             "classic LMNN objective of the map (push_weight=0.5, 3 target neighbours from the input space, "
             "exact impostor set), one function for both libraries' solutions."]
    for part in result["splits"]:
        lines += ["", f"Split {part['split']}: {part['n_train']} training, {part['n_test']} test images.", "",
                  "| map | cold fit s (wall) | cold CPU s | warm fit s (wall) | n_components | iterations "
                  "| 3-NN test error | LMNN objective | note |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [_line(r, objective=True) for r in part["rows"]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["images", "lowrank"], default="images")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds allowed to each reference fit (and --classic); "
                             "default 300 (images), 600 (lowrank)")
    parser.add_argument("--classic", action="store_true", help="also fit LMNN(pca_components=None)")
    parser.add_argument("--warm-repeats", type=int, default=1)
    parser.add_argument("--data", default=None, help="UCI folder (default $SHALLOWML_DATA or ../shared/uci)")
    parser.add_argument("--note", default="", help="a remark on the run, saved with it (e.g. the lock held)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    machine = machine_state()
    root = Path(__file__).resolve().parent.parent
    machine["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                       text=True).stdout.strip()
    machine["dirty"] = bool(subprocess.run(["git", "status", "--porcelain", "shallowml"], cwd=root,
                                           capture_output=True, text=True).stdout.strip())
    command = "python -m benchmarks.bench_highdim " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.part == "images":
        result = run(args.time_limit or 300.0, args.classic, args.warm_repeats, args.data)
    else:
        result = run_lowrank(args.time_limit or 600.0, args.warm_repeats)
    machine["load_average_1min_end"] = load_average()
    payload = {"machine": machine, "command": command.strip(), "note": args.note, **result}
    stem, to_markdown = ("highdim", markdown) if args.part == "images" else ("highdim_lowrank", markdown_lowrank)
    text = to_markdown(result, machine, command.strip())
    if args.note:
        text = text.replace("\n", f"\n\nNote: {args.note}\n", 1)
    publish(stem, payload, text, write=not args.no_write)
    return payload


if __name__ == "__main__":
    main()
