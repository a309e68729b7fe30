"""Fit one estimator in a fresh interpreter: cold first fit, then warm fits.

Run by :func:`benchmarks._measure.fit_in_fresh_process` with any interpreter
(shallowml's, or the reference virtualenv with metric-learn), so it imports
only numpy and the standard library before the estimator's own library::

    python benchmarks/_fit_worker.py '{"data": "d.npz", "out": "L.npy", "library": "shallowml",
                                       "name": "LMNN", "params": {...}, "warm_repeats": 3}'

It prints one JSON line: ``import_s`` (importing the library), ``cold``
(wall and CPU seconds of the first fit in this process, peak RSS) and
``warm`` (median wall and CPU of ``warm_repeats`` further fits of fresh
instances on the same data), plus ``n_iter`` when the estimator has it. CPU
time is the process's (all threads). ``components_`` of the last fit go to
``out``.
"""

import importlib
import json
import resource
import sys
import time
import warnings

import numpy as np

_LIBRARIES = {
    "shallowml": "shallowml",
    "metric-learn": "metric_learn",
    "scikit-learn": "sklearn.neighbors",
}


def _cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _timed_fit(cls, params, X, y):
    t0, c0 = time.perf_counter(), _cpu()
    est = cls(**params).fit(X, y)
    return est, time.perf_counter() - t0, _cpu() - c0


def main(args):
    data = np.load(args["data"], allow_pickle=False)
    X, y = data["X"], data["y"]
    t0 = time.perf_counter()
    module = importlib.import_module(_LIBRARIES[args["library"]])
    import_s = time.perf_counter() - t0
    cls = getattr(module, args["name"])
    warnings.simplefilter("ignore")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    est, wall, cpu = _timed_fit(cls, args["params"], X, y)
    cold = {"wall": wall, "cpu": cpu, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss0 / 1024}
    walls, cpus = [], []
    for _ in range(int(args.get("warm_repeats", 3))):
        est, wall, cpu = _timed_fit(cls, args["params"], X, y)
        walls.append(wall)
        cpus.append(cpu)
    warm = {"wall": float(np.median(walls)), "cpu": float(np.median(cpus)), "walls": walls} if walls else None
    np.save(args["out"], np.asarray(est.components_, dtype=np.float64))
    out = {"import_s": import_s, "cold": cold, "warm": warm,
           "n_iter": int(getattr(est, "n_iter_", -1)),
           "version": getattr(sys.modules[_LIBRARIES[args["library"]].split(".")[0]], "__version__", "?")}
    if args["library"] == "shallowml":
        from shallowml.utils.warmup import kernel_cache_stats

        out["kernel_cache"] = kernel_cache_stats()
    print(json.dumps(out))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
