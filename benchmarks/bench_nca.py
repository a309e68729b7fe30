"""NCA benchmark: shallowml's NCA side by side with scikit-learn's, in one run.

Every fit runs in a fresh subprocess (``python -m benchmarks.bench_nca --worker``)
so both implementations are measured the same way:

* compile / warm-up time: a fit on a tiny problem first (numba JIT for
  shallowml, imports and first calls for scikit-learn), reported apart;
* fit time of the real fit (steady state);
* peak memory of the fit: the kernel's high-water mark of the resident set
  (``VmHWM``, reset through ``/proc/self/clear_refs`` just before the fit)
  minus the resident set before the fit. Unlike ``tracemalloc`` this also
  sees numba's and BLAS's allocations; unlike ``ru_maxrss`` it is not hidden
  by an earlier, larger peak such as JIT compilation;
* correctness beside every timing: the final NCA objective ``sum_i p_i`` on
  the training set (both evaluated with the same function) and the 3-NN
  test error in the learned space.

Both estimators start from their default ``init='auto'``, which is the
identity for these data sets (``n_components = n_features``), so they
optimise the same objective from the same point with the same L-BFGS
stopping rule.

Usage::

    python -m benchmarks.bench_nca                  # digits and synthetic (n=8000)
    python -m benchmarks.bench_nca --datasets digits digits_scaled --repeats 3
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from benchmarks._measure import knn_error, machine_state  # noqa: E402


def _memory_status():
    """Current and peak resident set of this process in MiB (Linux)."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) / 1024.0
    return out


def _reset_peak():
    """Reset VmHWM to the current RSS; False when the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _estimator(impl, **params):
    if impl == "shallowml":
        from shallowml import NCA

        return NCA(**params)
    from sklearn.neighbors import NeighborhoodComponentsAnalysis

    return NeighborhoodComponentsAnalysis(**params)


def worker(args):
    """Fit one implementation once (in this fresh process) and report as JSON."""
    import warnings

    warnings.simplefilter("ignore")
    data = np.load(args["data"], allow_pickle=False)
    X, y = data["X"], data["y"]
    # warm-up large enough (600 x 600 pairs) to compile shallowml's parallel kernels,
    # not only the serial ones used for tiny problems
    rng = np.random.RandomState(0)
    Xw = rng.standard_normal((600, X.shape[1]))
    yw = np.arange(600) % 3
    t0 = time.perf_counter()
    _estimator(args["impl"], max_iter=2).fit(Xw, yw)
    warmup = time.perf_counter() - t0
    est = _estimator(args["impl"], **args["params"])
    before = _memory_status()["VmRSS"]
    exact_peak = _reset_peak()
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_time = time.perf_counter() - t0
    peak = _memory_status()["VmHWM"] - before
    np.save(args["out"], np.asarray(est.components_, dtype=np.float64))
    n_iter = int(est.n_iter_) - (1 if args["impl"] == "sklearn" else 0)  # sklearn counts the start
    return {"warmup_time": warmup, "fit_time": fit_time, "peak_mb": peak,
            "peak_exact": exact_peak, "n_iter": n_iter}


def run_fit(impl, X, y, params, timeout=7200):
    """Fit ``impl`` ('shallowml' or 'sklearn') in a fresh interpreter; return its report."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, X=np.asarray(X, dtype=np.float64), y=np.asarray(y))
        out = Path(tmp) / "components.npy"
        args = json.dumps({"impl": impl, "data": str(data), "params": params, "out": str(out)})
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_nca", "--worker", args],
            capture_output=True, text=True, timeout=timeout, cwd=_ROOT,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise RuntimeError(f"{impl} NCA fit failed")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        report["components"] = np.load(out)
    return report


def load_dataset(name, n_samples=8000):
    """``(X_train, y_train, X_test, y_test)`` for 'digits', 'digits_scaled' or 'synthetic'."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split

    if name in ("digits", "digits_scaled"):
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X.astype(np.float64), y, test_size=0.25, stratify=y, random_state=0
        )
        if name == "digits_scaled":
            # raw pixels (0..16) make the identity start's softmax saturated, so NCA
            # stops after one iteration; standardised pixels give a real optimisation
            from sklearn.preprocessing import StandardScaler

            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        return X_train, y_train, X_test, y_test
    if name == "synthetic":
        # n_samples points to fit on, plus a quarter as many test points from the same distribution
        n_test = n_samples // 4
        X, y = make_classification(
            n_samples=n_samples + n_test, n_features=20, n_classes=5, n_informative=10,
            random_state=0,
        )
        return X[:n_samples], y[:n_samples], X[n_samples:], y[n_samples:]
    raise ValueError(f"unknown dataset {name!r}")


def bench_dataset(name, *, max_iter=50, repeats=1, n_samples=8000):
    """Rows of results (one per implementation) for one data set."""
    from shallowml._losses.nca import nca_loss_grad

    X_train, y_train, X_test, y_test = load_dataset(name, n_samples)
    params = {"max_iter": max_iter}
    rows = []
    for impl in ("sklearn", "shallowml"):
        reports = [run_fit(impl, X_train, y_train, params) for _ in range(repeats)]
        best = min(reports, key=lambda r: r["fit_time"])
        L = best["components"]
        objective = -nca_loss_grad(L.ravel(), X_train, y_train)[0]
        rows.append({
            "dataset": name, "impl": impl, "n": X_train.shape[0], "d": X_train.shape[1],
            "fit_time": best["fit_time"], "warmup_time": best["warmup_time"],
            "peak_mb": max(r["peak_mb"] for r in reports), "peak_exact": best["peak_exact"],
            "n_iter": best["n_iter"], "objective": objective,
            "knn3_error": knn_error(L, X_train, y_train, X_test, y_test),
        })
    ref, ours = rows
    ours["speedup"] = ref["fit_time"] / ours["fit_time"]
    ours["memory_ratio"] = ref["peak_mb"] / max(ours["peak_mb"], 1e-3)
    return rows


def format_table(rows):
    head = (f"{'dataset':<10} {'impl':<10} {'n':>5} {'d':>3} {'warmup s':>9} {'fit s':>8} "
            f"{'iters':>5} {'objective':>11} {'3NN err':>8} {'peak MiB':>9} {'speedup':>8} {'mem ratio':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['dataset']:<10} {r['impl']:<10} {r['n']:>5} {r['d']:>3} {r['warmup_time']:>9.2f} "
            f"{r['fit_time']:>8.2f} {r['n_iter']:>5} {r['objective']:>11.3f} {r['knn3_error']:>8.4f} "
            f"{r['peak_mb']:>9.1f} {r.get('speedup', float('nan')):>8.2f} "
            f"{r.get('memory_ratio', float('nan')):>9.1f}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "synthetic"])
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-samples", type=int, default=8000, help="synthetic training size")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return None
    rows = []
    for name in args.datasets:
        rows.extend(bench_dataset(name, max_iter=args.max_iter, repeats=args.repeats,
                                  n_samples=args.n_samples))
        print(format_table(rows), flush=True)
        print()
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_state(), "command": " ".join(sys.argv),
                                               "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
