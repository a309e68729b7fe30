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
  test error in the learned space;
* the GEMM floor: per objective evaluation, the products that any
  implementation of the exact objective has to make, at the machine's
  measured float64 GEMM rate (:func:`benchmarks._measure.gemm_rate`, all
  cores): ``Z = X L^T`` (``2ndk`` flops), the inner products of every pair
  for the softmax (``2n^2k``), the gradient product with the symmetrised
  weight matrix ``W_sym Z`` (``2n^2k``; scikit-learn forms it as ``Z^T
  W_sym``, shallowml as ``W Z`` plus ``W^T Z`` over its non-zeros only) and
  the final product with ``X`` (``2nkd``): ``4n^2k + 4ndk`` flops. The
  ``n^2`` exponentials are left out (not a GEMM). Multiplied by the
  evaluations per L-BFGS iteration it gives the floor per iteration; ``x
  floor`` is the measured seconds per iteration over it. Fits are timed
  wall-clock on a shared machine: the load average before and after every
  fit is stored with it;
* a time limit per fit (``--time-limit``): a fit that exceeds it is killed
  and reported as "did not finish in T s" with the iterations it completed
  (each fit logs its iterations through its ``callback``);
* optionally (``--sgd``) shallowml's stochastic mode as a further row.

Both estimators start from their default ``init='auto'``, which is the
identity for these data sets (``n_components = n_features``), so they
optimise the same objective from the same point with the same L-BFGS
stopping rule.

Usage::

    python -m benchmarks.bench_nca                  # digits and synthetic (n=8000)
    python -m benchmarks.bench_nca --datasets digits digits_scaled --repeats 3
    # the speed targets: n = 4000 and 8000 side by side, raw output in docs/benchmark_results/
    python -m benchmarks.bench_nca --datasets synthetic --n-samples 4000 8000 --out nca_scale
    # make_classification(30000, 50, 10 classes), 70 % train; scikit-learn limited to 900 s
    python -m benchmarks.bench_nca --datasets large --time-limit 900 \
        --sgd '{"batch_size": 512}' --out nca_large
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

from benchmarks._measure import gemm_rate, knn_error, load_average, machine_state, write_results  # noqa: E402


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


def _counting(fn, counter):
    """``fn`` that also counts its calls in ``counter[0]``."""

    def wrapped(*a, **kw):
        counter[0] += 1
        return fn(*a, **kw)

    return wrapped


def worker(args):
    """Fit one implementation once (in this fresh process) and report as JSON.

    ``args["progress"]`` (optional) is a file that receives one line
    ``n_iter seconds`` per iteration, so that a run killed at the time limit
    still tells how far it got.
    """
    import warnings

    warnings.simplefilter("ignore")
    data = np.load(args["data"], allow_pickle=False)
    X, y = data["X"], data["y"]
    # warm-up large enough (600 x 600 pairs) to compile shallowml's parallel kernels,
    # not only the serial ones used for tiny problems
    rng = np.random.RandomState(0)
    Xw = rng.standard_normal((600, X.shape[1]))
    yw = np.arange(600) % 3
    warm_params = {key: args["params"][key] for key in ("batch_size", "n_candidates") if key in args["params"]}
    t0 = time.perf_counter()
    _estimator(args["impl"], max_iter=2, **warm_params).fit(Xw, yw)
    warmup = time.perf_counter() - t0
    progress = open(args["progress"], "w") if args.get("progress") else None
    start = [None]

    def log(L, n_iter):
        if progress is not None:
            progress.write(f"{n_iter} {time.perf_counter() - start[0]:.3f}\n")
            progress.flush()

    est = _estimator(args["impl"], callback=log, **args["params"])
    n_evals = [0]
    import shallowml.nca

    loss_grad = shallowml.nca.nca_loss_grad
    if args["impl"] == "sklearn":
        est._loss_grad_lbfgs = _counting(est._loss_grad_lbfgs, n_evals)
    else:
        shallowml.nca.nca_loss_grad = _counting(loss_grad, n_evals)
    before = _memory_status()["VmRSS"]
    exact_peak = _reset_peak()
    load_before = load_average()
    try:
        t0 = start[0] = time.perf_counter()
        est.fit(X, y)
        fit_time = time.perf_counter() - t0
    finally:
        shallowml.nca.nca_loss_grad = loss_grad
        if progress is not None:
            progress.close()
    peak = _memory_status()["VmHWM"] - before
    np.save(args["out"], np.asarray(est.components_, dtype=np.float64))
    n_iter = int(est.n_iter_) - (1 if args["impl"] == "sklearn" else 0)  # sklearn counts the start
    return {"warmup_time": warmup, "fit_time": fit_time, "peak_mb": peak, "peak_exact": exact_peak,
            "n_iter": n_iter, "n_evals": n_evals[0], "load_before": load_before, "load_after": load_average()}


def _read_progress(path):
    """``(iterations, seconds)`` of the last line of a progress file, or ``(0, 0.0)``."""
    try:
        lines = Path(path).read_text().split()
    except OSError:
        return 0, 0.0
    return (int(lines[-2]), float(lines[-1])) if len(lines) >= 2 else (0, 0.0)


def run_fit(impl, X, y, params, timeout=7200, memory_cap_gb=None):
    """Fit ``impl`` ('shallowml' or 'sklearn') in a fresh interpreter; return its report.

    Past ``timeout`` seconds the process is killed and the report is
    ``{"timeout": timeout, "n_iter_done": ..., "seconds_done": ...}``. With
    ``memory_cap_gb``, the process's address space is capped (a run that
    needs more fails with ``MemoryError`` instead of pushing a shared machine
    into swap or the OOM killer); such a failure is reported as
    ``{"failed": message}``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, X=np.asarray(X, dtype=np.float64), y=np.asarray(y))
        out = Path(tmp) / "components.npy"
        progress = Path(tmp) / "progress.txt"
        args = json.dumps({"impl": impl, "data": str(data), "params": params, "out": str(out),
                           "progress": str(progress)})

        def cap():
            if memory_cap_gb is not None:
                import resource

                limit = int(memory_cap_gb * 2**30)
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        load_before = load_average()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_nca", "--worker", args],
                capture_output=True, text=True, timeout=timeout, cwd=_ROOT, preexec_fn=cap,
            )
        except subprocess.TimeoutExpired:
            done, seconds = _read_progress(progress)
            return {"timeout": timeout, "n_iter_done": done, "seconds_done": seconds,
                    "load_before": load_before, "load_after": load_average()}
        if proc.returncode != 0:
            if "MemoryError" in proc.stderr:
                done, seconds = _read_progress(progress)
                return {"failed": f"MemoryError under a {memory_cap_gb} GiB address-space cap",
                        "n_iter_done": done, "seconds_done": seconds}
            print(proc.stderr[-3000:], file=sys.stderr)
            raise RuntimeError(f"{impl} NCA fit failed")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        report["components"] = np.load(out)
    return report


def floor_flops(n, d, k):
    """GEMM flops per evaluation of the exact NCA objective and gradient (see the module docstring)."""
    return 4.0 * n * n * k + 4.0 * n * d * k


def load_dataset(name, n_samples=8000):
    """``(X_train, y_train, X_test, y_test)`` for 'digits', 'digits_scaled', 'synthetic' or 'large'.

    'large' is ``make_classification(30000, 50, n_informative=10, 10
    classes)``, split 70/30 (stratified): 21000 training samples.
    """
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
    if name == "large":
        X, y = make_classification(n_samples=30000, n_features=50, n_informative=10, n_classes=10,
                                   random_state=0)
        X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=0.7, stratify=y, random_state=0)
        return X_train, y_train, X_test, y_test
    raise ValueError(f"unknown dataset {name!r}")


def _row(name, impl, X_train, y_train, X_test, y_test, reports, rate):
    from shallowml._losses.nca import nca_loss_grad

    n, d = X_train.shape
    finished = [r for r in reports if "fit_time" in r]
    row = {"dataset": name, "impl": impl, "n": n, "d": d}
    if not finished:
        r = reports[0]
        row.update({key: r[key] for key in ("timeout", "failed", "n_iter_done", "seconds_done",
                                            "load_before", "load_after") if key in r})
        return row
    best = min(finished, key=lambda r: r["fit_time"])
    L = best["components"]
    k = L.shape[0]
    evals_per_iter = best["n_evals"] / max(best["n_iter"], 1)
    # the stochastic mode's epochs are not evaluations of the full objective: no floor
    floor_iter = floor_flops(n, d, k) / rate * evals_per_iter if impl != "shallowml-sgd" else float("nan")
    per_iter = best["fit_time"] / max(best["n_iter"], 1)
    row.update({
        "fit_time": best["fit_time"], "warmup_time": best["warmup_time"],
        "peak_mb": max(r["peak_mb"] for r in finished), "peak_exact": best["peak_exact"],
        "n_iter": best["n_iter"], "n_evals": best["n_evals"], "s_per_iter": per_iter,
        "floor_s_per_iter": floor_iter, "x_floor": per_iter / floor_iter,
        "objective": -nca_loss_grad(L.ravel(), X_train, y_train)[0],
        "knn3_error": knn_error(L, X_train, y_train, X_test, y_test),
        "load_before": best["load_before"], "load_after": best["load_after"],
    })
    return row


def bench_dataset(name, *, max_iter=50, repeats=1, n_samples=8000, rate=None, timeout=7200,
                  sgd=None, sklearn_memory_cap_gb=None):
    """Rows of results (scikit-learn, shallowml, optionally shallowml's stochastic mode) for one data set."""
    X_train, y_train, X_test, y_test = load_dataset(name, n_samples)
    rate = gemm_rate() if rate is None else rate
    params = {"max_iter": max_iter}
    runs = [("sklearn", "sklearn", params, sklearn_memory_cap_gb), ("shallowml", "shallowml", params, None)]
    if sgd is not None:
        runs.append(("shallowml-sgd", "shallowml", {"max_iter": max_iter, "random_state": 0, **sgd}, None))
    rows = []
    for label, impl, p, cap in runs:
        reports = [run_fit(impl, X_train, y_train, p, timeout=timeout, memory_cap_gb=cap) for _ in range(repeats)]
        rows.append(_row(name, label, X_train, y_train, X_test, y_test, reports, rate))
        if label == "shallowml-sgd":
            rows[-1]["params"] = p
    ref, ours = rows[0], rows[1]
    for row in rows[1:]:
        if "fit_time" in ref and "fit_time" in row:
            row["speedup"] = ref["fit_time"] / row["fit_time"]
            row["memory_ratio"] = ref["peak_mb"] / max(row["peak_mb"], 1e-3)
        elif "fit_time" in row:  # the reference did not finish: a lower bound
            row["speedup_at_least"] = (ref.get("timeout") or ref.get("seconds_done", 0.0)) / row["fit_time"]
    if "fit_time" in ours and len(rows) > 2 and "fit_time" in rows[2]:
        rows[2]["time_fraction_of_full"] = rows[2]["fit_time"] / ours["fit_time"]
        rows[2]["knn3_error_minus_full"] = rows[2]["knn3_error"] - ours["knn3_error"]
    return rows


def format_table(rows):
    head = (f"{'dataset':<10} {'impl':<13} {'n':>5} {'d':>3} {'warmup s':>8} {'fit s':>8} {'iters':>5} "
            f"{'evals':>5} {'s/iter':>7} {'floor s/iter':>12} {'x floor':>7} {'objective':>10} "
            f"{'3NN err':>7} {'peak MiB':>8} {'speedup':>7} {'mem ratio':>9} {'load':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        load = f"{r.get('load_before', float('nan')):.1f}-{r.get('load_after', float('nan')):.1f}"
        if "fit_time" not in r:
            why = (f"did not finish in {r['timeout']} s" if "timeout" in r else r.get("failed", "failed"))
            lines.append(f"{r['dataset']:<10} {r['impl']:<13} {r['n']:>5} {r['d']:>3} {why} "
                         f"({r.get('n_iter_done', 0)} iterations done in {r.get('seconds_done', 0.0):.0f} s) "
                         f"{'':>2} load {load}")
            continue
        speed = (f"{r['speedup']:>7.2f}" if "speedup" in r
                 else f"{'>' + format(r['speedup_at_least'], '.1f'):>7}" if "speedup_at_least" in r else f"{'':>7}")
        lines.append(
            f"{r['dataset']:<10} {r['impl']:<13} {r['n']:>5} {r['d']:>3} {r['warmup_time']:>8.2f} "
            f"{r['fit_time']:>8.2f} {r['n_iter']:>5} {r['n_evals']:>5} {r['s_per_iter']:>7.3f} "
            f"{r['floor_s_per_iter']:>12.4f} {r['x_floor']:>7.1f} {r['objective']:>10.3f} "
            f"{r['knn3_error']:>7.4f} {r['peak_mb']:>8.1f} {speed} "
            f"{r.get('memory_ratio', float('nan')):>9.1f} {load:>9}"
        )
    for r in rows:
        if "time_fraction_of_full" in r:
            lines.append(f"{r['dataset']}: the stochastic mode {r.get('params', {})} took "
                         f"{100 * r['time_fraction_of_full']:.1f} % of full NCA's time; its 3-NN error is "
                         f"{100 * r['knn3_error_minus_full']:+.2f} points from full NCA's")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "synthetic"])
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n-samples", type=int, nargs="+", default=[8000], help="synthetic training sizes")
    parser.add_argument("--time-limit", type=float, default=7200, help="seconds per fit")
    parser.add_argument("--sgd", help="JSON parameters of an extra shallowml row in the stochastic mode")
    parser.add_argument("--sklearn-memory-cap-gb", type=float, help="address-space cap of scikit-learn's process")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--out", help="write docs/benchmark_results/OUT.json and OUT.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return None
    state = machine_state()
    rate = gemm_rate()
    state["gemm_gflops_all_cores"] = rate / 1e9
    state["gemm_gflops_one_thread"] = gemm_rate(threads=1) / 1e9
    print(f"float64 GEMM (2000^3): {state['gemm_gflops_all_cores']:.1f} GFLOP/s on all cores, "
          f"{state['gemm_gflops_one_thread']:.1f} on one; load average {state['load_average_1min']:.2f}")
    sgd = json.loads(args.sgd) if args.sgd else None
    rows = []
    for name in args.datasets:
        for n_samples in (args.n_samples if name == "synthetic" else [None]):
            rows.extend(bench_dataset(name, max_iter=args.max_iter, repeats=args.repeats,
                                      n_samples=n_samples or 8000, rate=rate, timeout=args.time_limit,
                                      sgd=sgd, sklearn_memory_cap_gb=args.sklearn_memory_cap_gb))
            print(format_table(rows), flush=True)
            print()
    state["load_average_1min_after"] = load_average()
    command = "python -m benchmarks.bench_nca " + " ".join(sys.argv[1:] if argv is None else argv)
    payload = {"machine": state, "command": command, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=1, default=_plain))
    if args.out:
        md = (f"`{command}`\n\nRun {state['date']}; load average {state['load_average_1min']:.2f} before, "
              f"{state['load_average_1min_after']:.2f} after ({state['cpu_count']} cores, shared); "
              f"float64 GEMM {state['gemm_gflops_all_cores']:.1f} GFLOP/s on all cores "
              f"({state['gemm_gflops_one_thread']:.1f} on one).\n\n```\n{format_table(rows)}\n```")
        write_results(args.out, payload, md)
    return rows


def _plain(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(type(obj))


if __name__ == "__main__":
    main()
