"""Pair learners MMC and SDML against metric-learn 0.7: speed, accuracy, objective.

One section per learner, each on standardised digits (scikit-learn's
``load_digits``, stratified 70/30 split with seed 0, StandardScaler fitted on
the training part), default parameters and ``random_state=0`` on both sides,
3-NN test error beside every timing. Every fit runs in a fresh process
through :func:`benchmarks._measure.fit_in_fresh_process`: *cold* is the
import plus the first fit of that process, *warm* the median of further fits
(steady state), each as wall and CPU seconds.

* **MMC** (``MMC_Supervised``, full metric; and ``diagonal=True``). Besides
  the error, the objective: metric-learn's own constraints (the pairs its
  ``MMC_Supervised(random_state=0)`` samples, recovered in the reference
  interpreter) are given to shallowml's ``MMC``, and both metrics are scored
  by the scale-free form of Xing et al.'s objective, ``sum_D ||v||_M /
  sqrt(sum_S ||v||_M^2)`` (higher is better; the diagonal objective ``g`` at
  its best scale, lower is better).
* **SDML** (``SDML_Supervised``). metric-learn 0.7 passes ``cov_init`` to
  scikit-learn's ``graphical_lasso``, which scikit-learn 1.5 removed, so it
  fails on every input with the reference interpreter's scikit-learn; the
  section also runs it with that argument dropped (a probe in the reference
  interpreter) to show that it then still fails on digits and wine, with
  scikit-learn's "ill-conditioned" error: its graphical lasso input is not
  positive definite. shallowml's error is compared with the Euclidean one
  instead.

Targets (issue 15), for the default parameters: 3-NN error no worse than
metric-learn's + 0.01 and at least 10x faster, cold (import + first fit)
and warm. The diagonal MMC rows are reported with the same figures, not as
targets.

Run from the repository root (exclusive use of the machine for timings)::

    flock /tmp/shallowml-bench.lock python -m benchmarks.bench_family_pairs
    python -m benchmarks.bench_family_pairs --section sdml --no-write   # one section, print only
    python -m benchmarks.bench_family_pairs --render     # the table again from the committed JSON

Writes ``docs/benchmark_results/family_pairs.{json,md}``.
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits, load_wine  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from benchmarks._measure import RESULTS, fit_in_fresh_process, knn_error, machine_state, publish  # noqa: E402
from benchmarks._reference import reference_python  # noqa: E402

SECTIONS = ("mmc", "sdml")

# Run in the reference interpreter: metric-learn's sampled pairs (MMC) and its SDML
# outcome with and without the cov_init argument that current scikit-learn lacks.
_PROBE = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import metric_learn, metric_learn.sdml as ml_sdml
from metric_learn.constraints import Constraints
from sklearn.covariance import graphical_lasso
args = json.loads(sys.argv[1])
out = {}
for name, path in args["data"].items():
    data = np.load(path)
    X, y = data["X"], data["y"]
    n = 20 * np.unique(y).size ** 2
    a, b, c, d = Constraints(y).positive_negative_pairs(n, random_state=0)
    res = {"pos": np.c_[a, b].tolist(), "neg": np.c_[c, d].tolist()}
    for shim in (False, True):
        ml_sdml.graphical_lasso = (
            (lambda emp_cov, alpha, cov_init=None, **kw: graphical_lasso(emp_cov, alpha, **kw))
            if shim else graphical_lasso)
        try:
            metric_learn.SDML_Supervised(random_state=0).fit(X, y)
            res["sdml_shim" if shim else "sdml"] = "ok"
        except Exception as exc:
            res["sdml_shim" if shim else "sdml"] = f"{type(exc).__name__}: {exc}"
    out[name] = res
print(json.dumps(out))
"""


def split(load):
    X, y = load(return_X_y=True)
    X, X_te, y, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    return scaler.transform(X), y, scaler.transform(X_te), y_te


def probe_reference(datasets):
    """metric-learn's pairs and SDML outcomes per dataset (None without the reference interpreter)."""
    python = reference_python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, (X, y, _, _) in datasets.items():
            paths[name] = str(Path(tmp) / f"{name}.npz")
            np.savez(paths[name], X=X, y=y)
        proc = subprocess.run([python, "-c", _PROBE, json.dumps({"data": paths})], capture_output=True,
                              text=True, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _short(message):
    """The cause in metric-learn's SDML error message (it wraps scikit-learn's)."""
    if message is None or "There was a problem in SDML" not in message:
        return message
    cause = message.split("The following error message was thrown: ")
    if len(cause) > 1:
        return "graphical lasso error: " + cause[1].strip().rstrip(".")
    return "RuntimeError: its graphical lasso returned a metric that is not positive definite or not finite"


def measure(library, name, params, data, warm_repeats, timeout):
    """One fresh-process measurement as a row; a failed fit becomes a row with its error."""
    X, y, X_te, y_te = data
    row = {"library": library, "estimator": name, "params": params}
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):  # the worker's traceback, if it fails
            res = fit_in_fresh_process(library, name, params, X, y, warm_repeats=warm_repeats, timeout=timeout)
    except RuntimeError:
        lines = [line for line in stderr.getvalue().strip().splitlines() if line.strip()]
        return {**row, "failed": _short(lines[-1]) if lines else "failed"}
    if res is None:
        return {**row, "failed": "reference interpreter unavailable"}
    if "timeout" in res:
        return {**row, "failed": f"timeout after {res['timeout']} s"}
    row.update(version=res["version"], import_s=res["import_s"], first_fit_wall=res["cold"]["wall"],
               first_fit_cpu=res["cold"]["cpu"], cold_wall=res["import_s"] + res["cold"]["wall"],
               warm_wall=res["warm"]["wall"] if res["warm"] else None,
               warm_cpu=res["warm"]["cpu"] if res["warm"] else None, n_iter=res["n_iter"],
               error=knn_error(res["components"], X, y, X_te, y_te), components=res["components"])
    return row


def _ratio(M, P, N):
    """Xing et al.'s objective free of the scale of M: sum_D ||v||_M / sqrt(sum_S ||v||_M^2)."""
    return float(np.sum(np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", N, M, N), 0.0)))
                 / np.sqrt(np.sum((P @ M) * P)))


def _best_g(w, P, N, C=1.0):
    from shallowml._losses.mmc import mmc_diagonal_loss

    s = np.sum(P**2, axis=0)
    return float(mmc_diagonal_loss(w * (0.5 * C / (s @ w)), P, N, C)[0])


def section_mmc(data, probe, warm_repeats, ref_repeats, timeout):
    import warnings

    from shallowml import MMC

    X, y = data[0], data[1]
    rows = []
    for diagonal in (False, True):
        params = {"random_state": 0, **({"diagonal": True} if diagonal else {})}
        ours = measure("shallowml", "MMC_Supervised", params, data, warm_repeats, timeout)
        ref = measure("metric-learn", "MMC_Supervised", params, data, ref_repeats, timeout)
        objective = None
        if probe is not None and "components" in ref:
            pos, neg = np.array(probe["pos"]), np.array(probe["neg"])
            P, N = X[pos[:, 0]] - X[pos[:, 1]], X[neg[:, 0]] - X[neg[:, 1]]
            pairs = np.concatenate((X[pos], X[neg]))
            labels = np.r_[np.ones(len(pos)), -np.ones(len(neg))]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                M = MMC(diagonal=diagonal).fit(pairs, labels).get_mahalanobis_matrix()
            M_ref = ref["components"].T @ ref["components"]
            if diagonal:
                objective = {"measure": "g at its best scale (lower is better)",
                             "shallowml": _best_g(np.diag(M), P, N), "metric-learn": _best_g(np.diag(M_ref), P, N)}
            else:
                objective = {"measure": "sum_D ||v||_M / sqrt(sum_S ||v||_M^2) (higher is better)",
                             "shallowml": _ratio(M, P, N), "metric-learn": _ratio(M_ref, P, N)}
        rows.append({"learner": "MMC_Supervised" + (" (diagonal)" if diagonal else ""),
                     "rows": [ours, ref], "objective_on_metric_learn_pairs": objective})
    return rows


def section_sdml(datasets, probe, warm_repeats, ref_repeats, timeout):
    out = []
    for name, data in datasets.items():
        ours = measure("shallowml", "SDML_Supervised", {"random_state": 0}, data, warm_repeats, timeout)
        ref = measure("metric-learn", "SDML_Supervised", {"random_state": 0}, data, ref_repeats, timeout)
        out.append({"learner": f"SDML_Supervised ({name})", "rows": [ours, ref],
                    "euclidean_error": knn_error(None, *data),
                    "metric_learn_without_cov_init": None if probe is None else _short(probe[name]["sdml_shim"]),
                    "metric_learn_as_installed": None if probe is None else _short(probe[name]["sdml"])})
    return out


def run(sections=SECTIONS, warm_repeats=5, ref_repeats=1, timeout=3600):
    state = machine_state()
    datasets = {"digits": split(load_digits), "wine": split(load_wine)}
    probe = probe_reference(datasets)
    result = {"machine": state, "data": "stratified 70/30 split (seed 0), StandardScaler; 3-NN test error",
              "warm_repeats": warm_repeats, "reference_warm_repeats": ref_repeats,
              "euclidean_error_digits": knn_error(None, *datasets["digits"]), "sections": {}}
    if "mmc" in sections:
        result["sections"]["mmc"] = section_mmc(datasets["digits"], None if probe is None else probe["digits"],
                                                warm_repeats, ref_repeats, timeout)
    if "sdml" in sections:
        result["sections"]["sdml"] = section_sdml(datasets, probe, warm_repeats, ref_repeats, timeout)
    state["load_average_1min_after"] = os.getloadavg()[0]
    for entries in result["sections"].values():
        for entry in entries:
            for r in entry["rows"]:
                r.pop("components", None)
    return result


def _f(v, fmt):
    return "-" if v is None else format(v, fmt)


def _targets(entry):
    """The issue-15 targets for the default parameters; the same comparison, unlabelled, otherwise."""
    ours, ref = entry["rows"]
    if "failed" in ours or "failed" in ref:
        return "metric-learn fails" if "failed" in ref else "shallowml fails"
    d_err = ours["error"] - ref["error"]
    cold, first = ref["cold_wall"] / ours["cold_wall"], ref["first_fit_wall"] / ours["first_fit_wall"]
    warm = ref["warm_wall"] / ours["warm_wall"]
    figures = (f"error {d_err:+.4f} vs metric-learn; faster: cold {cold:.1f}x (first fit {first:.0f}x), "
               f"warm {warm:.0f}x")
    if "(diagonal)" in entry["learner"]:
        return f"not a target (diagonal=True is not the default): {figures}"
    met = [d_err <= 0.01, cold >= 10, warm >= 10]
    return (f"{figures}; error {'met' if met[0] else 'MISSED'}, 10x cold {'met' if met[1] else 'MISSED'}, "
            f"10x warm {'met' if met[2] else 'MISSED'}")


def to_markdown(result):
    m = result["machine"]
    lines = [
        f"MMC and SDML against metric-learn 0.7 on standardised digits ({m['date']}, {m['cpu_count']} cores, "
        f"load {m['load_average_1min']:.2f} before / {m['load_average_1min_after']:.2f} after; "
        f"scikit-learn {m['scikit-learn']}). Produced by `python -m benchmarks.bench_family_pairs`; "
        "raw output in `family_pairs.json`. Cold = import + first fit in a fresh process, warm = median "
        f"of {result['warm_repeats']} further fits (metric-learn: {result['reference_warm_repeats']}); "
        "wall seconds (CPU seconds). Euclidean 3-NN error on digits: "
        f"{result['euclidean_error_digits']:.4f}.",
        "",
        "| learner | library | cold wall s (first-fit CPU s) | warm wall s (CPU s) | iterations | 3-NN error "
        "| targets |",
        "|---|---|---|---|---|---|---|",
    ]
    for entries in result["sections"].values():
        for entry in entries:
            ours, ref = entry["rows"]
            for r in (ours, ref):
                lib = f"{r['library']} {r.get('version', '')}".strip()
                if "failed" in r:
                    lines.append(f"| {entry['learner']} | {lib} | fails ({r['failed']}) | | | | |")
                    continue
                lines.append(
                    f"| {entry['learner']} | {lib} | {r['cold_wall']:.2f} ({r['first_fit_cpu']:.2f}) "
                    f"| {_f(r['warm_wall'], '.3f')} ({_f(r['warm_cpu'], '.3f')}) | {r['n_iter']} "
                    f"| {r['error']:.4f} | {_targets(entry) if r is ours else ''} |")
    lines.append("")
    lines.append("- iterations: `n_iter_` of the last fit (-1: none; metric-learn's MMC reports 99 when it stops "
                 "at its cap, max_iter=100).")
    for entries in result["sections"].values():
        for entry in entries:
            obj = entry.get("objective_on_metric_learn_pairs")
            if obj:
                lines.append(f"- {entry['learner']}, on metric-learn's own pairs, {obj['measure']}: shallowml "
                             f"{obj['shallowml']:.6g}, metric-learn {obj['metric-learn']:.6g}.")
            if "euclidean_error" in entry:
                lines.append(f"- {entry['learner']}: Euclidean 3-NN error {entry['euclidean_error']:.4f}; "
                             f"metric-learn as installed: {entry['metric_learn_as_installed']}; without the "
                             f"`cov_init` argument: {entry['metric_learn_without_cov_init']}.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=SECTIONS, nargs="*", default=list(SECTIONS))
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--reference-repeats", type=int, default=1,
                        help="warm fits of metric-learn (its MMC_Supervised takes minutes per fit)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--render", action="store_true",
                        help="only re-render family_pairs.md from the committed family_pairs.json")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads((RESULTS / "family_pairs.json").read_text())
        return publish("family_pairs", result, to_markdown(result))
    result = run(args.section, args.warm_repeats, args.reference_repeats, args.timeout)
    return publish("family_pairs", result, to_markdown(result), write=not args.no_write)


if __name__ == "__main__":
    main()
