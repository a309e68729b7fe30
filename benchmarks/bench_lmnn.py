"""LMNN benchmark: shallowml vs metric-learn, fit time, peak memory and 3-NN test error.

Each fit runs in a fresh subprocess that reports its wall-clock fit time, the
CPU time of the fit (all threads) and ``ru_maxrss`` with its pre-fit baseline,
so both implementations are measured the same way (the steady-state fit;
cold figures: ``bench_cold_warm``). shallowml's worker first warms up on tiny
problems, which loads its numba kernels from the disk cache (or compiles
them on a machine's first run), and reports that time separately ("jit s"). metric-learn runs in its own interpreter (see ``_reference.py``)
with a time limit; a run over the limit is reported as ``> limit``.

Splits: digits 70/30 stratified (seed 0); letter first 16000 rows train, last
4000 test; pendigits and satimage their official train/test files. Every
dataset is standardised with a StandardScaler fitted on the training part.

Usage::

    python -m benchmarks.bench_lmnn --datasets digits letter --time-limit 600
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _reference  # noqa: E402
from benchmarks._measure import knn_error, machine_state  # noqa: E402
from benchmarks.datasets import load  # noqa: E402

DATASETS = ("digits", "letter", "pendigits", "satimage")

_WORKER = r"""
import json, resource, sys, time, warnings
import numpy as np
args = json.loads(sys.argv[1])
data = np.load(args["data"], allow_pickle=False)
from shallowml import LMNN
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
t0 = time.perf_counter()
LMNN(max_iter=3).fit(rng.randn(60, 4), np.repeat([0, 1, 2], 20))
LMNN(max_iter=3).fit(rng.randn(3000, 4), np.repeat([0, 1, 2], 1000))  # parallel kernels
compile_time = time.perf_counter() - t0
X, y = data["X"], data["y"]
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
u0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
est = LMNN(**args["params"]).fit(X, y)
fit_time = time.perf_counter() - t0
u1 = resource.getrusage(resource.RUSAGE_SELF)
np.save(args["out"], est.components_)
print(json.dumps({"fit_time": fit_time, "compile_time": compile_time,
                  "cpu_time": (u1.ru_utime + u1.ru_stime) - (u0.ru_utime + u0.ru_stime),
                  "peak_rss_mb": u1.ru_maxrss / 1024.0, "rss_before_fit_mb": rss_before / 1024.0,
                  "n_iter": int(est.n_iter_), "objective": float(est.objective_)}))
"""


def split(name, folder=None):
    """Standardised ``(X_train, y_train, X_test, y_test)`` for one dataset."""
    X, y, X_te, y_te = load(name, folder)
    if name == "letter":
        X, y, X_te, y_te = X[:16000], y[:16000], X[16000:], y[16000:]
    elif X_te is None:
        X, X_te, y, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X)
    classes = np.unique(np.concatenate([y, y_te]))
    return (scaler.transform(X), np.searchsorted(classes, y), scaler.transform(X_te),
            np.searchsorted(classes, y_te))


def fit_shallowml(X, y, params, timeout):
    """Fit shallowml's LMNN in a fresh interpreter; returns the worker's report."""
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "L.npy"
        np.savez(data, X=X, y=y)
        args = json.dumps({"data": str(data), "out": str(out), "params": params})
        proc = subprocess.run([sys.executable, "-c", _WORKER, args], capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise RuntimeError("shallowml LMNN worker failed")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["components"] = np.load(out)
    return result


def fit_reference(X, y, params, timeout):
    """metric-learn's LMNN; None if unavailable, {'timeout': s} when over the limit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        result = _reference.fit_metric_learn("LMNN", params, X=X, y=y, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result is not None:
        # CPU of the whole worker process, including imports (~1 s)
        result["cpu_time"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def run(name, folder=None, skip_reference=False, time_limit=600.0):
    """Benchmark one dataset; returns a list of row dicts."""
    X, y, X_te, y_te = split(name, folder)
    rows = []
    ours = fit_shallowml(X, y, {"n_neighbors": 3, "random_state": 0}, timeout=max(time_limit, 600))
    rows.append({"dataset": name, "impl": "shallowml", "n": X.shape[0], "d": X.shape[1],
                 "fit_s": ours["fit_time"], "cpu_s": ours["cpu_time"],
                 "compile_s": ours["compile_time"],
                 "peak_mb": ours["peak_rss_mb"], "base_mb": ours["rss_before_fit_mb"],
                 "err": knn_error(ours["components"], X, y, X_te, y_te), "n_iter": ours["n_iter"]})
    rows.append({"dataset": name, "impl": "euclidean", "n": X.shape[0], "d": X.shape[1],
                 "err": knn_error(np.eye(X.shape[1]), X, y, X_te, y_te)})
    if not skip_reference:
        ref = fit_reference(X, y, {"n_neighbors": 3, "random_state": 0}, time_limit)
        row = {"dataset": name, "impl": "metric-learn", "n": X.shape[0], "d": X.shape[1]}
        if ref is None:
            row["note"] = "metric-learn unavailable"
        elif "timeout" in ref:
            row["note"] = f"> {ref['timeout']:.0f} s limit"
        else:
            row.update(fit_s=ref["fit_time"], cpu_s=ref["cpu_time"], peak_mb=ref["peak_rss_mb"],
                       base_mb=ref["rss_before_fit_mb"],
                       err=knn_error(ref["components"], X, y, X_te, y_te))
            row["speedup_wall"] = ref["fit_time"] / ours["fit_time"]
            row["speedup_cpu"] = ref["cpu_time"] / ours["cpu_time"]
        rows.append(row)
    return rows


def format_rows(rows):
    """Plain-text table."""
    head = f"{'dataset':<10} {'impl':<12} {'n x d':>11} {'fit s':>8} {'cpu s':>8} {'jit s':>6} " \
           f"{'peak MB':>8} {'base MB':>8} {'3NN err':>8}  note"
    lines = [head, "-" * len(head)]

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-".rjust(int(fmt.split(".")[0]))

    for r in rows:
        note = r.get("note", "")
        if "speedup_wall" in r:
            note = f"shallowml {r['speedup_wall']:.0f}x faster (wall), {r['speedup_cpu']:.0f}x (cpu)"
        lines.append(
            f"{r['dataset']:<10} {r['impl']:<12} {str(r['n']) + ' x ' + str(r['d']):>11} "
            f"{f(r.get('fit_s'), '8.2f')} {f(r.get('cpu_s'), '8.2f')} {f(r.get('compile_s'), '6.1f')} "
            f"{f(r.get('peak_mb'), '8.0f')} {f(r.get('base_mb'), '8.0f')} {f(r.get('err'), '8.4f')}  {note}"
        )
    return "\n".join(lines)


def main(argv=None):
    """CLI entry point: print the table (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--data", default=None, help="UCI folder (default $SHALLOWML_DATA or ../shared/uci)")
    parser.add_argument("--skip-reference", action="store_true", help="do not run metric-learn")
    parser.add_argument("--time-limit", type=float, default=600.0,
                        help="seconds allowed to each metric-learn fit")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    for name in args.datasets:
        t0 = time.perf_counter()
        rows += run(name, args.data, args.skip_reference, args.time_limit)
        print(format_rows([r for r in rows if r["dataset"] == name]).split("\n", 2)[-1],
              f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    print(format_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_state(), "command": " ".join(sys.argv),
                                               "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
