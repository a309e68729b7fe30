"""Reference values of metric-learn 0.7's MLKR, for ``tests/test_mlkr.py``.

Writes ``tests/data/mlkr_metric_learn.npz``: for two small regression
problems (a synthetic one and the first 120 rows of scikit-learn's diabetes,
standardised), metric-learn's MLKR objective and gradient at a few fixed maps
``L`` (its ``_loss``, the function its ``fit`` minimises), and the result of
``metric_learn.MLKR().fit(X, y)`` with default parameters: the learned map,
its objective, the number of objective evaluations (metric-learn's
``n_iter_``) and whether scipy reported convergence (metric-learn warns with
``ConvergenceWarning`` when ``verbose=True`` and L-BFGS-B did not succeed).

metric-learn runs in the reference interpreter of :mod:`benchmarks._reference`
(scikit-learn < 1.8); shallowml and its tests never import it. Regenerate
with::

    SHALLOWML_REFERENCE_PYTHON=/path/to/.venv-ref/bin/python python -m benchmarks.mlkr_reference
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._reference import reference_python

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "mlkr_metric_learn.npz"

_WORKER = r"""
import io, json, sys, warnings, contextlib
import numpy as np
import metric_learn
from sklearn.exceptions import ConvergenceWarning
args = json.loads(sys.argv[1])
data = dict(np.load(args["inp"]))
out = {"metric_learn_version": np.array(metric_learn.__version__)}
for prob in args["problems"]:
    X, y = data[prob + "_X"], data[prob + "_y"]
    probe = metric_learn.MLKR()
    probe.n_iter_ = 0  # _loss counts its calls there (fit sets it)
    for name in args["maps"]:
        L = data[prob + "_L_" + name]
        loss, grad = probe._loss(L.ravel(), X, y)
        out[prob + "_loss_" + name] = np.array(loss)
        out[prob + "_grad_" + name] = grad.reshape(L.shape)
    est = metric_learn.MLKR(verbose=True)  # verbose: the only way it reports non-convergence
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        est.fit(X, y)
    L = est.components_
    out[prob + "_fit_L"] = L
    evaluations = est.n_iter_
    out[prob + "_fit_objective"] = np.array(probe._loss(L.ravel(), X, y)[0])
    out[prob + "_fit_n_evaluations"] = np.array(evaluations)
    out[prob + "_fit_converged"] = np.array(not any(issubclass(w.category, ConvergenceWarning) for w in caught))
np.savez(args["out"], **out)
"""

PROBLEMS = ("synthetic", "diabetes")
MAPS = ("identity", "random", "low_rank")


def problems():
    """The inputs: ``{name_X, name_y, name_L_<map>}`` arrays for each problem."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X = rng.standard_normal((60, 5))
    y = 3.0 * np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.standard_normal(60) + 10.0
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = StandardScaler().fit_transform(Xd[:120])
    arrays = {"synthetic_X": X, "synthetic_y": y, "diabetes_X": Xd, "diabetes_y": yd[:120]}
    for prob in PROBLEMS:
        d = arrays[prob + "_X"].shape[1]
        arrays[prob + "_L_identity"] = np.eye(d)
        arrays[prob + "_L_random"] = rng.standard_normal((d, d)) * 0.7
        arrays[prob + "_L_low_rank"] = rng.standard_normal((2, d)) * 1.5
    return arrays


def main():
    python = reference_python()
    if python is None:
        sys.exit("metric-learn reference interpreter not found (set SHALLOWML_REFERENCE_PYTHON)")
    arrays = problems()
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "inp.npz", Path(tmp) / "out.npz"
        np.savez(inp, **arrays)
        args = json.dumps({"inp": str(inp), "out": str(out), "problems": PROBLEMS, "maps": MAPS})
        subprocess.run([python, "-c", _WORKER, args], check=True)
        ref = dict(np.load(out))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays, **ref)
    for prob in PROBLEMS:
        print(f"{prob}: objective {float(ref[prob + '_fit_objective']):.10g} after "
              f"{int(ref[prob + '_fit_n_evaluations'])} evaluations, converged={bool(ref[prob + '_fit_converged'])}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
