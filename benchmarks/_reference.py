"""Run reference implementations (metric-learn) in their own interpreter.

metric-learn needs scikit-learn<1.8, which cannot share an environment with
shallowml's scikit-learn. Benchmarks therefore call it in a subprocess with a
separate virtualenv, created once by::

    python3 -m venv .venv-ref && .venv-ref/bin/pip install "scikit-learn<1.8" metric-learn psutil

Point ``$SHALLOWML_REFERENCE_PYTHON`` at its interpreter (default
``.venv-ref/bin/python`` in the repository root). When it is missing, the
reference columns are reported as unavailable, never faked.

The worker receives the training data in an ``.npz`` file, fits
``metric_learn.<name>(**params)`` once, and reports fit time, peak RSS
(``ru_maxrss`` of the worker, with the RSS before the fit for comparison) and
the learned ``components_``.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_WORKER = r"""
import json, resource, sys, time, warnings
import numpy as np
args = json.loads(sys.argv[1])
data = np.load(args["data"], allow_pickle=False)
import metric_learn
cls = getattr(metric_learn, args["name"])
est = cls(**args["params"])
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
warnings.simplefilter("ignore")
t0 = time.perf_counter()
if "pairs" in data:
    est.fit(data["pairs"], data["y"])
else:
    est.fit(data["X"], data["y"])
fit_time = time.perf_counter() - t0
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
np.save(args["out"], np.asarray(est.components_, dtype=np.float64))
print(json.dumps({"fit_time": fit_time, "peak_rss_mb": rss_after / 1024.0,
                  "rss_before_fit_mb": rss_before / 1024.0,
                  "version": getattr(metric_learn, "__version__", "?")}))
"""


def reference_python():
    """Path of the reference interpreter if it can import metric_learn, else None."""
    default = Path(__file__).resolve().parent.parent / ".venv-ref" / "bin" / "python"
    path = os.environ.get("SHALLOWML_REFERENCE_PYTHON", str(default))
    if not Path(path).exists():
        return None
    ok = subprocess.run([path, "-c", "import metric_learn"], capture_output=True).returncode == 0
    return path if ok else None


def thread_env(n):
    """Environment variables that give OpenMP and BLAS ``n`` threads in a new process."""
    return {k: str(n) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def reference_env(threads):
    """The environment of a new reference interpreter: this one's, with ``threads``
    OpenMP / BLAS threads (:func:`thread_env`); None when ``threads`` is None (inherit it)."""
    return None if threads is None else dict(os.environ, **thread_env(threads))


def fit_metric_learn(name, params, X=None, y=None, pairs=None, timeout=3600, threads=None):
    """Fit ``metric_learn.<name>(**params)`` in the reference interpreter.

    ``threads``: the interpreter's BLAS / OpenMP threads (``OMP_NUM_THREADS``,
    ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``); None leaves them as they are.

    Returns a dict with ``fit_time``, ``peak_rss_mb``, ``rss_before_fit_mb``,
    ``version`` and ``components`` (ndarray), or None when metric-learn is
    unavailable.
    """
    python = reference_python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        arrays = {"y": np.asarray(y)}
        if pairs is not None:
            arrays["pairs"] = np.asarray(pairs, dtype=np.float64)
        else:
            arrays["X"] = np.asarray(X, dtype=np.float64)
        if arrays["y"].dtype.kind in "OU":
            arrays["y"] = np.unique(arrays["y"], return_inverse=True)[1]
        np.savez(data, **arrays)
        out = Path(tmp) / "components.npy"
        args = json.dumps({"data": str(data), "name": name, "params": params, "out": str(out)})
        proc = subprocess.run([python, "-c", _WORKER, args], capture_output=True, text=True, timeout=timeout,
                              env=reference_env(threads))
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise RuntimeError(f"metric-learn {name} failed in the reference interpreter")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["components"] = np.load(out)
    return result
