"""Low-rank LMNN on digits: objective, rounds, margin scale and metric-learn, in one run.

``LMNN(n_components=2)`` on standardised digits (70/30 stratified split, seed 0,
the split of ``bench_lmnn``) for ``init='lda'`` and ``init='pca'``. For each
init the script records:

- the initial map's 3-NN test error and objective;
- shallowml's fit: error, objective, iterations, whether it converged, and per
  L-BFGS round the objective over the impostor list it minimised against the
  true objective (exact impostor set) at the round's start and end, and how
  far ``L`` moved (``|dL|`` against ``|L|``, in the scaled units of the fit);
- the same objective minimised by plain L-BFGS with the *complete* list of
  pairs of different classes (never stale; Huber widths 0.1, 0.01, then the
  exact hinge, up to 500 iterations each), from the init and, for the margin
  scale, from the init times 0.5 and 2;
- metric-learn's LMNN with the same ``n_components``, ``init``,
  ``n_neighbors=3`` and ``random_state=0`` (in its own interpreter, see
  ``_reference.py``, with ``--time-limit``): error, fit time and the objective
  of its solution evaluated by shallowml's objective function.

The objective is the classic one (``push_weight=0.5``, target neighbours
found once in the input space), as both libraries define it. Usage::

    python -m benchmarks.diagnose_lowrank [--skip-reference] [--stem lowrank_digits]

writes ``docs/benchmark_results/<stem>.json`` and ``.md``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _reference  # noqa: E402
from benchmarks._measure import knn_error, machine_state, publish  # noqa: E402
from benchmarks.bench_lmnn import split  # noqa: E402


def _objective_tools(X, y):
    from shallowml._kernels.neighbors import same_class_neighbors
    from shallowml._losses.lmnn import find_impostors, lmnn_evaluate, margin_radius
    from shallowml.lmnn import _scaled

    Xs, s = _scaled(X)
    y = np.asarray(y, dtype=np.int64)
    targets, _ = same_class_neighbors(Xs, y, 3)

    def true_objective(Ls):
        """Classic objective (exact impostor set) of ``Ls``, a map on the scaled data."""
        Z = Xs @ Ls.T
        indptr, indices, _, _ = find_impostors(Z, y, margin_radius(Z, targets))
        loss, _, active = lmnn_evaluate(Ls.ravel(), Xs, targets, indptr, indices, 0.5, Ls.shape[0])
        return float(loss), int(active)

    n = len(y)
    rows = [np.flatnonzero(y != y[i]) for i in range(n)]
    all_ptr = np.zeros(n + 1, dtype=np.int64)
    all_ptr[1:] = np.cumsum([r.size for r in rows])
    all_idx = np.concatenate(rows).astype(np.int64)

    def complete_list_lbfgs(Ls0):
        """Plain L-BFGS on the objective with every pair of different classes listed."""
        x, c, n_iter = Ls0.ravel().copy(), Ls0.shape[0], 0
        for smoothing in (0.1, 0.01, 0.0):
            def fun(v, smoothing=smoothing):
                loss, grad, _ = lmnn_evaluate(v, Xs, targets, all_ptr, all_idx, 0.5, c, smoothing)
                return loss / n, grad / n

            res = minimize(fun, x, jac=True, method="L-BFGS-B",
                           options={"maxiter": 500, "gtol": 1e-5, "ftol": 1e-10})
            x, n_iter = res.x, n_iter + int(res.nit)
        return x.reshape(c, -1), n_iter

    return Xs, s, y, true_objective, complete_list_lbfgs


def _instrumented_fit(init, X, y, true_objective, s):
    """Fit shallowml's LMNN, recording each L-BFGS round of the solver."""
    import shallowml._solvers.lmnn_rounds as rounds_module
    from shallowml import LMNN

    original = rounds_module.minimize_lbfgs
    trace = []

    def spy(fun, x0, **kwargs):
        res = original(fun, x0, **kwargs)
        n = X.shape[0]
        c = 2
        trace.append({
            "iterations": int(res.n_iter),
            "norm_L": float(np.linalg.norm(x0)), "norm_dL": float(np.linalg.norm(res.x - x0)),
            # smoothed in the first stages, exact in the last (the solver's own objective)
            "list_objective_start": float(fun(x0)[0] * n), "list_objective_end": float(fun(res.x)[0] * n),
            "true_objective_start": true_objective(x0.reshape(c, -1))[0],
            "true_objective_end": true_objective(res.x.reshape(c, -1))[0],
        })
        return res

    rounds_module.minimize_lbfgs = spy
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            est = LMNN(n_components=2, init=init, random_state=0).fit(X, y)
            fit_s = time.perf_counter() - t0
    finally:
        rounds_module.minimize_lbfgs = original
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return est, fit_s, converged, trace


def run(skip_reference=False, time_limit=900.0):
    from shallowml.utils.init import initial_components

    X, y, X_te, y_te = split("digits")
    Xs, s, y_codes, true_objective, complete_list_lbfgs = _objective_tools(X, y)
    out = []
    for init in ("lda", "pca"):
        Ls0 = initial_components(init, Xs, y_codes, 2, random_state=np.random.RandomState(0))
        row = {"init": init, "init_error": knn_error(Ls0 / s, X, y, X_te, y_te),
               "init_objective": true_objective(Ls0)[0]}
        est, fit_s, converged, trace = _instrumented_fit(init, X, y, true_objective, s)
        row["shallowml"] = {"error": knn_error(est.components_, X, y, X_te, y_te),
                            "objective": float(est.objective_), "true_objective":
                            true_objective(est.components_ * s)[0], "n_iter": int(est.n_iter_),
                            "converged": converged, "fit_s": fit_s, "rounds": trace}
        row["complete_list"] = {}
        for factor in ((0.5, 1.0, 2.0) if init == "lda" else (1.0,)):
            t0 = time.perf_counter()
            Ls, n_iter = complete_list_lbfgs(factor * Ls0)
            obj, active = true_objective(Ls)
            row["complete_list"][str(factor)] = {
                "error": knn_error(Ls / s, X, y, X_te, y_te), "objective": obj, "active": active,
                "n_iter": n_iter, "fit_s": time.perf_counter() - t0,
                "output_variance": float(np.mean(np.var(Xs @ Ls.T, axis=0)))}
        if not skip_reference:
            try:
                ref = _reference.fit_metric_learn(
                    "LMNN", {"n_components": 2, "init": init, "n_neighbors": 3, "random_state": 0},
                    X=X, y=y, timeout=time_limit)
            except Exception as exc:  # noqa: BLE001 - a timeout is a result, reported as such
                ref = {"error_message": f"did not finish in {time_limit:.0f} s ({type(exc).__name__})"}
            if ref is not None and "components" in ref:
                L = ref.pop("components")
                ref.update(error=knn_error(L, X, y, X_te, y_te), objective=true_objective(L * s)[0],
                           output_variance=float(np.mean(np.var(Xs @ (L * s).T, axis=0))))
            row["metric_learn"] = ref
        out.append(row)
        print(f"{init}: done", flush=True)
    return out


def markdown(rows, machine, command):
    lines = [f"`{command}` ({machine['date']}, load {machine['load_average_1min']:.2f}, "
             f"{machine['cpu_count']} cores, shallowml {machine['shallowml']})", "",
             "| init | map | 3-NN error | objective | L-BFGS iterations | converged | fit s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['init']} | the init itself | {r['init_error']:.3f} | {r['init_objective']:.1f} | - | - | - |")
        sh = r["shallowml"]
        lines.append(f"| {r['init']} | shallowml LMNN | {sh['error']:.3f} | {sh['true_objective']:.1f} | "
                     f"{sh['n_iter']} | {'yes' if sh['converged'] else 'no'} | {sh['fit_s']:.1f} |")
        for factor, c in r["complete_list"].items():
            lines.append(f"| {r['init']} | complete-list L-BFGS from {factor} x init | {c['error']:.3f} | "
                         f"{c['objective']:.1f} | {c['n_iter']} | - | {c['fit_s']:.1f} |")
        ml = r.get("metric_learn")
        if ml:
            if "error" in ml:
                lines.append(f"| {r['init']} | metric-learn {ml.get('version', '')} LMNN | {ml['error']:.3f} | "
                             f"{ml['objective']:.1f} | - | - | {ml['fit_time']:.1f} |")
            else:
                lines.append(f"| {r['init']} | metric-learn LMNN | - | - | - | - | {ml['error_message']} |")
    lines += ["", "Rounds of shallowml's solver: the objective over the impostor list it minimised (with the "
              "Huber-smoothed hinge in the first stages) against the true objective (exact impostor set, exact "
              "hinge) at the round's start and end; |L| and |dL| in the scaled units of the fit.", ""]
    for r in rows:
        lines += [f"init={r['init']}:", "", "| round | iterations | |L| | |dL| | list objective | true objective |",
                  "|---|---|---|---|---|---|"]
        for i, t in enumerate(r["shallowml"]["rounds"], 1):
            lines.append(f"| {i} | {t['iterations']} | {t['norm_L']:.2f} | {t['norm_dL']:.2f} | "
                         f"{t['list_objective_start']:.0f} -> {t['list_objective_end']:.0f} | "
                         f"{t['true_objective_start']:.0f} -> {t['true_objective_end']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-reference", action="store_true", help="do not run metric-learn")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds per metric-learn fit")
    parser.add_argument("--stem", default="lowrank_digits", help="output name in docs/benchmark_results")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)
    machine = machine_state()
    command = "python -m benchmarks.diagnose_lowrank " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = run(args.skip_reference, args.time_limit)
    machine["load_average_1min_end"] = machine_state()["load_average_1min"]
    payload = {"machine": machine, "command": command.strip(), "rows": rows}
    publish(args.stem, payload, markdown(rows, machine, command.strip()), write=not args.no_write)
    return payload


if __name__ == "__main__":
    main()
