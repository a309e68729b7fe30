"""The one measuring module of the benchmarks: fresh-process fits, kNN error, machine state.

Every benchmark measures both libraries the same way through these helpers:

- :func:`fit_in_fresh_process` fits an estimator of shallowml, metric-learn
  (in its own interpreter, see :mod:`benchmarks._reference`) or
  scikit-learn in a new process and returns the cold figure (the first fit
  in that process, import timed apart) and the warm one (median of further
  fits), each as wall and CPU seconds;
- :func:`knn_error` scores a learned map by k-NN test error;
- :func:`machine_state` records date, load average, cores, versions and the
  numba threading setup, saved beside every result (the machine is shared:
  never compare figures from different runs);
- :func:`gemm_rate` measures the machine's float64 matrix-product rate, the
  yardstick of the "GEMM floor" columns;
- :func:`CpuHogs` starts CPU-bound processes to measure a busy machine;
- :func:`publish` / :func:`write_results` print the table and write the raw
  JSON next to the page that quotes it.
"""

import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from benchmarks._reference import reference_python

WORKER = Path(__file__).resolve().parent / "_fit_worker.py"
RESULTS = Path(__file__).resolve().parent.parent / "docs" / "benchmark_results"


def knn_error(L, X_train, y_train, X_test, y_test, k=3):
    """Test error of a k-NN classifier in the space ``x -> L x`` (``L=None``: Euclidean)."""
    if L is not None:
        X_train, X_test = X_train @ L.T, X_test @ L.T
    knn = KNeighborsClassifier(n_neighbors=k).fit(X_train, y_train)
    return float(np.mean(knn.predict(X_test) != y_test))


def _env(extra=None):
    """This process's environment with ``extra`` applied (a value of None removes the variable).

    The children run in a temporary directory, so ``PYTHONPATH`` is made
    absolute and starts with the folder of the ``shallowml`` this process
    imports: a child measures the same code as its parent (a relative
    ``PYTHONPATH=.`` from a git worktree would otherwise import another copy).
    """
    env = dict(os.environ)
    spec = importlib.util.find_spec("shallowml")
    paths = [str(Path(spec.origin).resolve().parent.parent)] if spec and spec.origin else []
    paths += [str(Path(p).resolve()) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def fit_in_fresh_process(library, name, params, X, y, *, warm_repeats=3, timeout=3600, env=None):
    """Fit ``library.name(**params)`` on ``(X, y)`` in a new interpreter.

    Parameters
    ----------
    library : {'shallowml', 'metric-learn', 'scikit-learn'}
        metric-learn runs in the reference interpreter.
    warm_repeats : int
        Fits after the first one; their median is the warm figure.
    env : dict, default=None
        Environment variables to set for the process (None: unset).

    Returns
    -------
    dict or None
        ``import_s``, ``cold`` and ``warm`` (``wall``, ``cpu`` seconds),
        ``process_wall`` (the whole process), ``components``; ``{"timeout":
        seconds}`` past ``timeout``; None when metric-learn is unavailable.
    """
    python = reference_python() if library == "metric-learn" else sys.executable
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data.npz", Path(tmp) / "L.npy"
        np.savez(data, X=np.asarray(X, dtype=np.float64), y=np.asarray(y))
        args = json.dumps({"data": str(data), "out": str(out), "library": library, "name": name,
                           "params": params, "warm_repeats": warm_repeats})
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([python, str(WORKER), args], capture_output=True, text=True,
                                  timeout=timeout, env=_env(env), cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"timeout": timeout}
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise RuntimeError(f"{library} {name} failed in its worker process")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["process_wall"] = time.perf_counter() - t0
        result["components"] = np.load(out)
    return result


def load_average():
    """The 1-minute load average (runnable processes, all cores)."""
    return os.getloadavg()[0]


def machine_state():
    """Date, load, cores and versions, to store with every result."""
    import numba
    import sklearn

    import shallowml

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_1min": load_average(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
        "shallowml": shallowml.__version__,
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("OMP_", "NUMBA_", "OPENBLAS_", "MKL_"))},
    }


def gemm_rate(size=2000, repeats=3, threads=None):
    """Best float64 GEMM rate (flop/s) of a ``size`` x ``size`` product, BLAS at ``threads`` (None: its default)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(0)
    A, B = rng.rand(size, size), rng.rand(size, size)
    C = np.empty((size, size))
    best = np.inf
    with threadpool_limits(limits=threads, user_api="blas"):
        np.dot(A, B, out=C)
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.dot(A, B, out=C)
            best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best


@contextmanager
def CpuHogs(n):
    """``n`` CPU-bound processes beside the measurement (a busy machine), stopped on exit."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def write_results(stem, payload, markdown=None):
    """Write ``docs/benchmark_results/<stem>.json`` (raw) and ``.md`` (the table)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=1, default=_jsonable) + "\n")
    if markdown is not None:
        (RESULTS / f"{stem}.md").write_text(markdown + "\n")
    return RESULTS / f"{stem}.json"


def publish(stem, result, markdown, write=True):
    """Print the table; with ``write``, also save raw JSON and table (:func:`write_results`)."""
    print(markdown)
    if write:
        write_results(stem, result, markdown)
    return result


def script_main(stem, doc, run, to_markdown, argv=None, **options):
    """The command line of a benchmark script: ``--<option> value`` for each keyword
    of ``run`` given in ``options`` (with its default), ``--no-write``; runs,
    prints the table and writes the raw output (:func:`publish`)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, list):
            parser.add_argument(flag, nargs="+", default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    parser.add_argument("--no-write", action="store_true", help="print only, write nothing")
    args = vars(parser.parse_args(argv))
    write = not args.pop("no_write")
    result = run(**args)
    return publish(stem, result, to_markdown(result), write=write)


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(type(obj))
