"""Learners on relative comparisons, LSML (quadruplets) and SCML (triplets), against metric-learn 0.7.

Data: scikit-learn's digits, stratified 70/30 split (seed 0), StandardScaler
fitted on the training part; 3-NN test error beside every timing. Both
libraries run with their defaults (``random_state=0``); metric-learn runs in
its own interpreter (:mod:`benchmarks._reference`).

Section per learner:

1. **Digits, defaults** (``LSML_Supervised``, ``SCML_Supervised``): each fit in
   a fresh process (:func:`benchmarks._measure.fit_in_fresh_process`): import,
   first fit (cold) and the median of further fits (warm), wall and CPU
   seconds, and the 3-NN error; shallowml's kernels come from numba's disk
   cache (filled first by a warm-up). Ratios are metric-learn's time over
   shallowml's. The targets (issue 15): error at most metric-learn's + 0.01,
   at least 10x faster.
2. **Error over seeds**: the 3-NN error for ``random_state`` 0..4 (pair,
   basis and batch draws), both libraries (warm in-process fits for
   shallowml, one process per fit for metric-learn).
3. **Same objective, same inputs** (digits training split):

   * LSML on the same 2000 quadruplets (similar pair, dissimilar pair of
     :func:`shallowml.constraints.positive_negative_pairs`, seed 0): both
     objectives evaluated with :func:`shallowml._losses.lsml.lsml_objective`
     (equal to metric-learn's ``_total_loss`` within 1e-8, see
     ``tests/test_lsml.py``), at each library's solution.
   * SCML on the same triplets (:func:`shallowml.constraints.knn_triplets`,
     k = 3 genuine, 10 impostors) and the same bases (shallowml's 'lda'
     bases for seed 0), batches seed 0..2: metric-learn's ``_fit``; shallowml's
     solver with metric-learn's output rule (``ray_search=False``: the same
     weights up to round-off, compared as ``M``) and with its own (the
     exact minimum along the ray of each checkpoint).

Usage::

    python -m benchmarks.bench_tuples                    # writes docs/benchmark_results/tuples.{json,md}
    python -m benchmarks.bench_tuples --no-write --skip-reference
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from benchmarks._measure import (  # noqa: E402
    fit_in_fresh_process, knn_error, machine_state, publish,
)
from benchmarks._reference import fit_metric_learn, reference_python  # noqa: E402

LEARNERS = ("LSML_Supervised", "SCML_Supervised")
TARGET_SPEEDUP = 10.0
TARGET_ERROR_MARGIN = 0.01

# metric-learn's weakly supervised fits on given tuples, in the reference interpreter
_TUPLE_WORKER = r"""
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
args = json.loads(sys.argv[1])
d = np.load(args["data"])
import metric_learn
out = {}
if args["learner"] == "LSML":
    est = metric_learn.LSML()
    t0 = time.perf_counter()
    est.fit(d["X"][d["Q"]])
    out["fit_time"] = time.perf_counter() - t0
    out["n_iter"] = int(est.n_iter_)
    np.save(args["out"] + "_0.npy", est.components_)
else:
    times = []
    for seed in args["seeds"]:
        est = metric_learn.SCML(random_state=seed)
        t0 = time.perf_counter()
        est._fit(d["X"][d["T"]], basis=d["B"], n_basis=d["B"].shape[0])
        times.append(time.perf_counter() - t0)
        np.save(args["out"] + f"_{seed}.npy", est.components_)
    out["fit_times"] = times
print(json.dumps(out))
"""


def digits_split():
    X, y = load_digits(return_X_y=True)
    X, X_te, y, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    return scaler.transform(X), y, scaler.transform(X_te), y_te


def _row(learner, library, res, split):
    X, y, X_te, y_te = split
    r = {"learner": learner, "library": library}
    if res is None:
        return {**r, "note": "unavailable"}
    if "timeout" in res:
        return {**r, "note": f"> {res['timeout']:.0f} s"}
    return {**r, "import_s": res["import_s"], "first_fit_wall": res["cold"]["wall"],
            "first_fit_cpu": res["cold"]["cpu"], "cold_wall": res["import_s"] + res["cold"]["wall"],
            "warm_wall": res["warm"]["wall"] if res["warm"] else None,
            "warm_cpu": res["warm"]["cpu"] if res["warm"] else None,
            "warm_walls": res["warm"]["walls"] if res["warm"] else None,
            "n_iter": res["n_iter"], "version": res["version"],
            "n_components": int(res["components"].shape[0]),
            "error": knn_error(res["components"], X, y, X_te, y_te)}


def bench_defaults(split, skip_reference, warm_repeats, reference_repeats, time_limit):
    """Section 1: fresh-process cold and warm fits with defaults."""
    X, y = split[0], split[1]
    rows = []
    for learner in LEARNERS:
        res = fit_in_fresh_process("shallowml", learner, {"random_state": 0}, X, y, warm_repeats=warm_repeats)
        rows.append(_row(learner, "shallowml", res, split))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "warm_walls"}), flush=True)
        if not skip_reference:
            res = fit_in_fresh_process("metric-learn", learner, {"random_state": 0}, X, y,
                                       warm_repeats=reference_repeats, timeout=time_limit)
            rows.append(_row(learner, "metric-learn", res, split))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "warm_walls"}), flush=True)
    return rows


def bench_seeds(split, seeds, skip_reference):
    """Section 2: 3-NN error over seeds (warm in-process shallowml fits, metric-learn per process)."""
    import shallowml

    X, y, X_te, y_te = split
    out = {}
    for learner in LEARNERS:
        cls = getattr(shallowml, learner)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls(random_state=0).fit(X[:200], y[:200])  # kernels loaded before timing
            ours = []
            for seed in seeds:
                t0 = time.perf_counter()
                L = cls(random_state=seed).fit(X, y).components_
                ours.append({"seed": seed, "fit_s": time.perf_counter() - t0,
                             "error": knn_error(L, X, y, X_te, y_te)})
        out[learner] = {"shallowml": ours}
        if not skip_reference:
            ref = []
            for seed in seeds:
                res = fit_metric_learn(learner, {"random_state": seed}, X=X, y=y)
                if res is None:
                    break
                ref.append({"seed": seed, "fit_s": res["fit_time"],
                            "error": knn_error(res["components"], X, y, X_te, y_te)})
            out[learner]["metric-learn"] = ref
        print(json.dumps({learner: {lib: [round(r["error"], 4) for r in v] for lib, v in out[learner].items()}}),
              flush=True)
    return out


def _run_tuple_worker(learner, arrays, seeds=()):
    python = reference_python()
    if python is None:
        return None, {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, **arrays)
        args = json.dumps({"data": str(data), "out": str(Path(tmp) / "L"), "learner": learner,
                           "seeds": list(seeds)})
        proc = subprocess.run([python, "-c", _TUPLE_WORKER, args], capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        comps = {s: np.load(Path(tmp) / f"L_{s}.npy") for s in (seeds or (0,))}
    return info, comps


def bench_same_objective(split, skip_reference):
    """Section 3: identical tuples, objective at each library's solution."""
    from shallowml import LSML, SCML_Supervised
    from shallowml._losses.lsml import lsml_objective
    from shallowml._losses.scml import components_from_weights, hinge_terms, scml_objective
    from shallowml._solvers.rda import minimize_scml_rda
    from shallowml.constraints import knn_triplets, positive_negative_pairs
    from shallowml.utils.threads import single_threaded_blas

    X, y = split[0], split[1]
    out = {}
    # LSML
    pos, neg = positive_negative_pairs(y, 2000, 2000, random_state=0)
    Q = np.concatenate([pos, neg], axis=1)
    quads = X[Q]
    vab, vcd = quads[:, 0] - quads[:, 1], quads[:, 2] - quads[:, 3]
    LSML(max_iter=2).fit(quads[:50])
    t0 = time.perf_counter()
    est = LSML().fit(quads)
    t_ours = time.perf_counter() - t0
    lsml = {"n_quadruplets": int(Q.shape[0]), "shallowml_fit_s": t_ours, "shallowml_n_iter": int(est.n_iter_),
            "shallowml_objective": lsml_objective(est.get_mahalanobis_matrix(), vab, vcd, None, np.eye(X.shape[1]))}
    if not skip_reference:
        info, comps = _run_tuple_worker("LSML", {"X": X, "Q": Q})
        if info is not None:
            L = comps[0]
            lsml.update(metric_learn_fit_s=info["fit_time"], metric_learn_n_iter=info["n_iter"],
                        metric_learn_objective=lsml_objective(L.T @ L, vab, vcd, None, np.eye(X.shape[1])))
    out["LSML"] = lsml
    print(json.dumps({"LSML": lsml}), flush=True)
    # SCML
    T = knn_triplets(X, y, 3, k_impostor=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        B = SCML_Supervised(random_state=0, max_iter=1).fit(X, y).basis_
    XB = np.ascontiguousarray(X @ B.T)

    def slacks(w):
        return hinge_terms(components_from_weights(B, w), X, T)

    seeds = (0, 1, 2)
    scml = {"n_triplets": int(T.shape[0]), "n_basis": int(B.shape[0]), "runs": []}
    info, comps = _run_tuple_worker("SCML", {"X": X, "T": T, "B": B}, seeds) if not skip_reference else (None, {})
    for i, seed in enumerate(seeds):
        run = {"seed": seed}
        for rule, ray in (("metric-learn rule", False), ("shallowml rule", True)):
            t0 = time.perf_counter()
            with single_threaded_blas():  # as SCML.fit runs it
                res = minimize_scml_rda(XB, T, slacks, random_state=np.random.RandomState(seed), beta=1e-5,
                                        gamma=5e-3, max_iter=10000, output_iter=500, batch_size=10,
                                        ray_search=ray)
            run[f"shallowml ({rule}) solver_s"] = time.perf_counter() - t0
            run[f"shallowml ({rule}) objective"] = scml_objective(res.x, X, T, B, 1e-5)[0]
            if not ray:
                L = components_from_weights(B, res.x)
                M_noray = L.T @ L
        if info is not None:
            L_ml = comps[seed]
            M_ml = L_ml.T @ L_ml
            run["metric-learn _fit_s"] = info["fit_times"][i]
            run["max |M - M_ml| / max |M_ml| (metric-learn rule)"] = float(np.abs(M_noray - M_ml).max()
                                                                            / np.abs(M_ml).max())
        scml["runs"].append(run)
        print(json.dumps({"SCML": run}), flush=True)
    out["SCML"] = scml
    return out


def _f(v, fmt):
    return "-" if v is None else format(v, fmt)


def to_markdown(result):
    m = result["machine"]
    rows = result["defaults"]
    lines = [
        f"LSML and SCML against metric-learn on standardised digits ({m['date']}, {m['cpu_count']} cores, "
        f"load {m['load_average_1min']:.2f} before / {m['load_average_1min_after']:.2f} after; numba "
        f"{m['numba']}, scikit-learn {m['scikit-learn']}). Produced by `python -m benchmarks.bench_tuples`; "
        "raw output in `tuples.json`.",
        "",
        f"Euclidean 3-NN error: {result['euclidean_error']:.4f}.",
        "",
        "| learner | library | import s | first fit, wall s (CPU s) | warm fit, wall s (CPU s) | cold total s "
        "| n_iter | 3-NN error | speed-up cold | speed-up warm |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ours = {r["learner"]: r for r in rows if r["library"] == "shallowml" and "warm_wall" in r}
    verdicts, speedups = [], []
    for r in rows:
        if "note" in r:
            lines.append(f"| {r['learner']} | {r['library']} | | {r['note']} | | | | | | |")
            continue
        up_c = up_w = ""
        o = ours.get(r["learner"])
        if r["library"] != "shallowml" and o is not None and r.get("warm_wall"):
            up_c = f"{r['cold_wall'] / o['cold_wall']:.1f}x"
            up_w = f"{r['warm_wall'] / o['warm_wall']:.1f}x"
            ok_err = o["error"] <= r["error"] + TARGET_ERROR_MARGIN
            ok_speed = r["warm_wall"] / o["warm_wall"] >= TARGET_SPEEDUP
            speedups.append((r["warm_wall"] / o["warm_wall"], r["cold_wall"] / o["cold_wall"]))
            verdicts.append(
                f"{r['learner']}: error {o['error']:.4f} vs {r['error']:.4f} "
                f"({'met' if ok_err else 'MISSED'}: <= metric-learn + {TARGET_ERROR_MARGIN}); warm speed-up "
                f"{r['warm_wall'] / o['warm_wall']:.1f}x ({'met' if ok_speed else 'MISSED'}: >= "
                f"{TARGET_SPEEDUP:.0f}x), cold (import + first fit) {r['cold_wall'] / o['cold_wall']:.1f}x")
        lines.append(
            f"| {r['learner']} | {r['library']} {r.get('version', '')} | {_f(r.get('import_s'), '.2f')} "
            f"| {_f(r.get('first_fit_wall'), '.2f')} ({_f(r.get('first_fit_cpu'), '.2f')}) "
            f"| {_f(r.get('warm_wall'), '.3f')} ({_f(r.get('warm_cpu'), '.3f')}) | {_f(r.get('cold_wall'), '.2f')} "
            f"| {r.get('n_iter', '')} | {r['error']:.4f} | {up_c} | {up_w} |")
    lines += ["", "Targets (issue 15, seed 0 split and seed): " + ("; ".join(verdicts) or "no reference run") + "."]
    if speedups:
        warm, cold = np.median(speedups, axis=0)
        lines.append(f"Median speed-up over the learners: warm {warm:.1f}x, cold {cold:.1f}x.")
    seeds = result.get("seeds")
    if seeds:
        lines += ["", "3-NN test error over seeds 0-4 (pair, basis and batch draws):", "",
                  "| learner | library | errors | mean | fit s (mean) |", "|---|---|---|---|---|"]
        for learner, libs in seeds.items():
            for lib, runs in libs.items():
                if runs:
                    errs = [r["error"] for r in runs]
                    lines.append(f"| {learner} | {lib} | {', '.join(f'{e:.4f}' for e in errs)} | "
                                 f"{np.mean(errs):.4f} | {np.mean([r['fit_s'] for r in runs]):.2f} |")
    same = result.get("same_objective")
    if same:
        ls = same["LSML"]
        lines += ["", f"Same objective on the same {ls['n_quadruplets']} quadruplets (LSML, identity prior): "
                  f"shallowml {ls['shallowml_objective']:.6f} in {ls['shallowml_fit_s']:.3f} s "
                  f"({ls['shallowml_n_iter']} iterations)"
                  + (f"; metric-learn {ls['metric_learn_objective']:.6f} in {ls['metric_learn_fit_s']:.2f} s "
                     f"({ls['metric_learn_n_iter']} iterations)." if "metric_learn_objective" in ls else ".")]
        sc = same["SCML"]
        lines += ["", f"Same triplets ({sc['n_triplets']}) and bases ({sc['n_basis']}), SCML defaults "
                  "(10000 iterations), batch seeds 0-2:", "",
                  "| seed | metric-learn `_fit` s | shallowml solver s | max rel. diff of M (metric-learn rule) "
                  "| objective, metric-learn rule | objective, shallowml rule |", "|---|---|---|---|---|---|"]
        for run in sc["runs"]:
            lines.append(
                f"| {run['seed']} | {_f(run.get('metric-learn _fit_s'), '.2f')} "
                f"| {run['shallowml (shallowml rule) solver_s']:.3f} "
                f"| {_f(run.get('max |M - M_ml| / max |M_ml| (metric-learn rule)'), '.1e')} "
                f"| {run['shallowml (metric-learn rule) objective']:.4f} "
                f"| {run['shallowml (shallowml rule) objective']:.4f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--warm-repeats", type=int, default=5)
    parser.add_argument("--reference-repeats", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the error-spread section (0: skip)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--render", action="store_true", help="re-render tuples.md from tuples.json")
    args = parser.parse_args(argv)
    from benchmarks._measure import RESULTS

    if args.render:
        result = json.loads((RESULTS / "tuples.json").read_text())
        return publish("tuples", result, to_markdown(result))
    split = digits_split()
    state = machine_state()
    # fill numba's disk cache, so that the fresh processes below load the kernels
    subprocess.run([sys.executable, "-c", "import warnings; warnings.simplefilter('ignore');"
                    "from shallowml import LSML_Supervised, SCML_Supervised;"
                    "from shallowml.utils.warmup import warm_up;"
                    "warm_up(LSML_Supervised()); warm_up(SCML_Supervised())"], check=True)
    result = {"machine": state, "data": "digits, stratified 70/30 (seed 0), StandardScaler; 3-NN test error",
              "euclidean_error": knn_error(None, *split)}
    result["defaults"] = bench_defaults(split, args.skip_reference, args.warm_repeats, args.reference_repeats,
                                        time_limit=1800)
    if args.seeds:
        result["seeds"] = bench_seeds(split, range(args.seeds), args.skip_reference)
    result["same_objective"] = bench_same_objective(split, args.skip_reference)
    result["machine"]["load_average_1min_after"] = os.getloadavg()[0]
    return publish("tuples", result, to_markdown(result), write=not args.no_write)


if __name__ == "__main__":
    main()
