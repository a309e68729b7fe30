"""Benchmark suite: 3-NN test error of every shallowml metric on many datasets.

Run from the repository root::

    python -m benchmarks.suite                      # everything (bundled + UCI)
    python -m benchmarks.suite --smoke              # a few small datasets, seconds
    python -m benchmarks.suite --datasets iris wine --estimators LDA LFDA --seeds 10

Protocol
--------
* Datasets: scikit-learn's bundled iris, wine, breast_cancer, digits and the
  UCI copies in ``--data`` (default ``$SHALLOWML_DATA`` or ``../shared/uci``;
  missing sets are skipped with a message, nothing is downloaded).
* Splits: the official train/test split where UCI defines one (vowel,
  segmentation, satimage, pendigits, optdigits; letter: the customary first
  16000 / last 4000 rows), otherwise ``--seeds`` repeated stratified 70/30
  splits (seeds ``0 .. seeds-1``).
* A StandardScaler is fitted on the training part. Each metric is learned on
  the training part, then a 3-NN classifier (the whole training part as
  reference set) is evaluated on the test part. Mean and standard deviation of
  the test error are taken over the splits (std 0 with one official split).
* Retrieval: the test part, embedded by each metric, is also scored by
  precision at 1, R-precision and MAP@R (:mod:`shallowml.metrics`),
  leave-one-out within the test part as in "A Metric Learning Reality
  Check" (each test sample queries all other test samples; a test sample
  alone in its class is skipped).
* Few-shot on unseen classes (datasets with at least ``FEW_SHOT_MIN_CLASSES``
  classes; ``--no-few-shot`` turns it off): train and test parts pooled,
  half of the classes (drawn among those with enough samples for the
  largest shot, ``--seeds`` draws) held out, the scaler and the metric
  fitted on the other classes only, then 5-way 1-shot and 5-shot accuracy
  (prototype classifier, 15 queries per class, ``--episodes`` episodes,
  :func:`shallowml.evaluation.few_shot_accuracy`) on the held-out classes.
* Columns: ``Euclidean`` (no metric learning), every public shallowml
  estimator (discovered from ``shallowml.__all__``; pair learners through
  their supervised counterpart ``_common_check_instance()``), scikit-learn's
  ``NeighborhoodComponentsAnalysis`` and, when the reference interpreter of
  :mod:`benchmarks._reference` is available, metric-learn's counterparts, all
  in the same run and on the same splits.
* Caps: iterative estimators (those with a ``max_iter`` parameter, and all
  reference implementations except LFDA) learn the metric on a stratified
  subsample of at most ``--max-train`` training points (the kNN reference set
  stays the whole training part). When one fit of a method takes longer than
  ``--time-limit`` seconds, its remaining splits on that dataset are skipped;
  a fit still running at that limit is stopped and reported as a timeout
  (metric-learn fits are killed; in-process estimators with a ``callback``
  parameter, scikit-learn's NCA included, are stopped by it after the
  iteration that crosses the limit). Both are written into the output so
  that no number is silently based on less data.
* Timings: every in-process estimator is first fitted on a tiny problem, so
  numba compilation is reported apart (``JIT warm-up``) and fit times are
  steady-state wall-clock times on a shared machine: compare columns of the
  same run as ratios, not across runs.

Outputs (in ``--out``, default ``benchmarks/results``): ``results.md`` (markdown
tables), ``results.csv`` (one row per dataset and method: error, P@1,
R-precision, MAP@R, fit time), ``runs.csv`` (one row per split),
``error_table.csv`` (the 3-NN error table) and ``retrieval_table.csv`` (per
dataset the 3-NN error, P@1, R-precision and MAP@R of every method), for the
docs, ``few_shot.csv`` (one row per dataset, method
and shot), ``few_shot_runs.csv`` (per class split) and ``few_shot_table.csv``
(for the docs), ``errors.png`` (error bars per dataset), ``map_at_r.png``
(MAP@R per dataset and method), ``few_shot.png`` and ``speedup.png`` (each
learner's speed-up over its reference per dataset, log axis), and ``cells.csv`` (every (dataset, method,
split) cell, appended as it finishes) with ``few_shot_cells.csv`` (every (dataset, method, class split)
few-shot cell).

Running on Dask
---------------
Every (dataset, method, split) cell is independent (:mod:`benchmarks._cells`),
and so is every few-shot (dataset, method, class split) cell.
``--workers N`` runs them on an embedded Dask ``LocalCluster`` of N
single-threaded worker processes, ``--scheduler tcp://host:8786`` on an
existing cluster (workers started from a checkout of this repository, with
the "distributed" extra; see the user guide page on Dask). Each dataset is
sent to the cluster once; a cell whose worker dies is run again on another;
``--resume`` keeps the cells already in ``OUT/cells.csv`` and
``OUT/few_shot_cells.csv`` after an interruption. The tables equal a serial run's with the same seeds, cell by
cell (fit times aside): every cell, serial or on a worker, runs with ``--cell-threads`` BLAS, OpenMP and
numba threads (default 1), and so does the metric-learn interpreter it uses, because the reference
implementations' results depend on the thread count (shallowml's do not).
"""

import argparse
import atexit
import csv
import datetime
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.preprocessing import StandardScaler

from shallowml.evaluation import class_disjoint_split, few_shot_accuracy
from shallowml.metrics import retrieval_scores
from shallowml.utils.warmup import warm_up as warm_up_estimator
from shallowml.utils.warmup import warm_up_metrics

from . import _cells, _measure
from . import datasets as ds

BUNDLED = ("iris", "wine", "breast_cancer", "digits")
UCI = (
    "balance-scale", "ionosphere", "sonar", "glass", "vowel", "segmentation", "vehicle", "ecoli",
    "yeast", "wdbc", "pendigits", "satimage", "letter", "optdigits", "waveform-21", "spambase",
)
ALL_DATASETS = BUNDLED + UCI
SMOKE_DATASETS = ("iris", "wine", "glass")
# two mean errors closer than this count as the same in the comparison with a reference (versus_table)
SAME_ERROR = 0.005
# datasets whose customary split is by row index (train = rows [:n], test = rows [n:])
ROW_SPLITS = {"letter": 16000}
N_NEIGHBORS = 3
# retrieval columns: key in the results -> heading
RETRIEVAL = {"p_at_1": "P@1", "r_precision": "R-precision", "map_at_r": "MAP@R"}
# few-shot protocol
FEW_SHOT_MIN_CLASSES = 10
FEW_SHOT_WAY, FEW_SHOT_SHOTS, FEW_SHOT_QUERIES = 5, (1, 5), 15

# shallowml estimator name -> (metric-learn class, parameters); random_state added per split
METRIC_LEARN = {
    "LMNN": ("LMNN", {"n_neighbors": 3}, True),
    "NCA": ("NCA", {}, True),
    "ITML_Supervised": ("ITML_Supervised", {}, True),
    "MMC_Supervised": ("MMC_Supervised", {}, True),
    "SDML_Supervised": ("SDML_Supervised", {}, True),
    "LFDA": ("LFDA", {"k": 7}, False),
    "LSML_Supervised": ("LSML_Supervised", {}, True),
    "SCML_Supervised": ("SCML_Supervised", {}, True),
}


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


class FitTimeout(TimeoutError):
    """An in-process fit ran past the suite's time limit (raised from its ``callback``)."""


def _deadline_callback(time_limit):
    """A ``callback(components, n_iter)`` that raises :class:`FitTimeout` after ``time_limit`` s."""
    start = time.perf_counter()

    def callback(*_):
        if time.perf_counter() - start > time_limit:
            raise FitTimeout(f"fit exceeded {time_limit:g} s (stopped after an iteration)")

    return callback


@dataclass
class Method:
    """One column of the table.

    ``estimator`` is an unfitted scikit-learn style transformer (``None`` for
    the Euclidean baseline and metric-learn, which runs out of process).
    """

    name: str
    source: str
    estimator: object = None
    capped: bool = False
    ml_name: str = None
    ml_params: dict = field(default_factory=dict)
    ml_random_state: bool = False

    def fit_transformer(self, X, y, seed, time_limit, threads=None):
        """Learn the metric on (X, y); return ``(transform, fit_seconds, n_convergence_warnings)``.

        ``threads``: the BLAS / OpenMP threads of the metric-learn interpreter
        (None: its defaults); in-process fits run with the caller's limits.
        """
        if self.source == "baseline":
            return (lambda Z: Z), 0.0, 0
        if self.source == "metric-learn":
            params = dict(self.ml_params, **({"random_state": seed} if self.ml_random_state else {}))
            L, fit_time = _WORKER.fit(self.ml_name, params, X, y, timeout=time_limit, threads=threads)
            return (lambda Z: Z @ L.T), fit_time, 0
        est = clone(self.estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=seed)
        if "callback" in est.get_params() and est.get_params()["callback"] is None:
            # iterative estimators stop at the time limit, as the reference fits are killed there
            est.set_params(callback=_deadline_callback(time_limit))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            est.fit(X, y)
            fit_time = time.perf_counter() - t0
        n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        return est.transform, fit_time, n_warn


# A persistent reference interpreter: importing scikit-learn and metric-learn takes
# seconds on a loaded machine, so it is paid once per run, not once per fit. Jobs
# and results are JSON lines on stdin / stdout; fit times are measured around
# ``fit`` only.
_ML_WORKER = r"""
import json, sys, time, warnings
import numpy as np
import metric_learn
warnings.simplefilter("ignore")
print(json.dumps({"ready": metric_learn.__version__}), flush=True)
for line in sys.stdin:
    job = json.loads(line)
    try:
        data = np.load(job["data"], allow_pickle=False)
        est = getattr(metric_learn, job["name"])(**job["params"])
        t0 = time.perf_counter()
        est.fit(data["X"], data["y"])
        fit_time = time.perf_counter() - t0
        np.save(job["out"], np.asarray(est.components_, dtype=np.float64))
        print(json.dumps({"fit_time": fit_time}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""


class ReferenceWorker:
    """metric-learn in the reference interpreter of :mod:`benchmarks._reference`, kept running.

    ``fit(name, params, X, y, timeout, threads)`` returns ``(components,
    fit_seconds)``; on timeout the interpreter is killed (and restarted by the
    next call) and ``TimeoutError`` is raised. ``threads`` sets the
    interpreter's BLAS / OpenMP threads (it is restarted when they change).
    """

    def __init__(self):
        self.proc = None
        self.version = None
        self.tmp = None
        self.threads = None

    def _start(self, threads=None):
        import json
        import subprocess
        import tempfile

        from ._reference import reference_env, reference_python

        python = reference_python()
        if python is None:
            raise RuntimeError("metric-learn reference interpreter not available")
        self.tmp = tempfile.TemporaryDirectory()
        self.proc = subprocess.Popen([python, "-c", _ML_WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1, env=reference_env(threads))
        self.threads = threads
        self.version = json.loads(self._readline(300))["ready"]

    def _readline(self, timeout):
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout)
        sel.close()
        if not ready:
            self.close()
            raise TimeoutError(f"reference fit exceeded {timeout:g} s (killed)")
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("reference interpreter exited")
        return line

    def fit(self, name, params, X, y, timeout=None, threads=None):
        import json

        if self.proc is not None and self.threads != threads:
            self.close()
        if self.proc is None or self.proc.poll() is not None:
            self._start(threads)
        data, out = Path(self.tmp.name) / "data.npz", Path(self.tmp.name) / "L.npy"
        np.savez(data, X=np.asarray(X, dtype=np.float64), y=np.unique(np.asarray(y), return_inverse=True)[1])
        job = {"data": str(data), "name": name, "params": params, "out": str(out)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        res = json.loads(self._readline(timeout))
        if "error" in res:
            raise RuntimeError(f"metric-learn {name}: {res['error']}")
        return np.load(out), res["fit_time"]

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


_WORKER = ReferenceWorker()
atexit.register(_WORKER.close)  # also on Ctrl-C; an orphaned worker exits after its current fit


def shallowml_methods(names=None):
    """One :class:`Method` per public shallowml estimator fitted on labelled samples.

    Learners on real targets (input kind 'regression', e.g. MLKR) have no
    place in a classification protocol: they are left out, with a message
    when asked for by name (``benchmarks/bench_mlkr.py`` measures MLKR).
    """
    from shallowml.utils.discovery import all_estimators, input_kind, sample_form

    out, seen = [], set()
    for name, cls in all_estimators():
        est = sample_form(cls)
        col = type(est).__name__
        if col in seen or (names and col not in names and name not in names):
            continue
        if input_kind(est) == "regression":
            if names:
                _log(f"{col} learns from real targets, not classes: not in this classification suite")
            continue
        seen.add(col)
        out.append(Method(col, "shallowml", est, capped="max_iter" in est.get_params()))
    return out


def reference_methods(shallow, which="auto", names=None):
    """scikit-learn NCA and the metric-learn counterparts of the shallowml columns."""
    out = []
    if which in ("auto", "sklearn") and (not names or "sklearn-NCA" in names or "NCA" in names):
        out.append(
            Method("sklearn-NCA", "scikit-learn", NeighborhoodComponentsAnalysis(), capped=True)
        )
    if which == "auto":
        from ._reference import reference_python

        if reference_python() is None:
            _log("metric-learn reference interpreter not found: no metric-learn columns")
        else:
            for m in shallow:
                if m.name in METRIC_LEARN:
                    ml_name, params, rs = METRIC_LEARN[m.name]
                    out.append(
                        Method(
                            f"ml-{ml_name}", "metric-learn", capped=m.capped or ml_name != "LFDA",
                            ml_name=ml_name, ml_params=params, ml_random_state=rs,
                        )
                    )
    return out


def iter_splits(name, X, y, X_test, y_test, seeds):
    """Yield ``(split_label, X_train, y_train, X_test, y_test)``."""
    if X_test is not None:
        yield "official", X, y, X_test, y_test
    elif name in ROW_SPLITS:
        n = ROW_SPLITS[name]
        yield "official", X[:n], y[:n], X[n:], y[n:]
    else:
        for seed in range(seeds):
            Xtr, Xte, ytr, yte = train_test_split(
                X, y, test_size=0.3, stratify=y, random_state=seed
            )
            yield f"seed{seed}", Xtr, ytr, Xte, yte


def _standardised(label, X_train, y_train, X_test, y_test):
    """A split with both parts standardised on its training part."""
    sc = StandardScaler().fit(X_train)
    return label, sc.transform(X_train), y_train, sc.transform(X_test), y_test


def scaled_splits(name, X, y, X_test, y_test, seeds):
    """The splits of :func:`iter_splits`, each standardised on its training part."""
    return [_standardised(*split) for split in iter_splits(name, X, y, X_test, y_test, seeds)]


def subsample(X, y, cap, seed):
    """At most ``cap`` rows of (X, y), stratified when every class allows it."""
    if cap is None or X.shape[0] <= cap:
        return X, y
    try:
        X, _, y, _ = train_test_split(X, y, train_size=cap, stratify=y, random_state=seed)
    except ValueError:
        X, _, y, _ = train_test_split(X, y, train_size=cap, random_state=seed)
    return X, y


def knn_error(Z_train, y_train, Z_test, y_test, k=N_NEIGHBORS):
    """Test error of a k-NN classifier on already transformed data."""
    return _measure.knn_error(None, Z_train, y_train, Z_test, y_test, k=k)


def retrieval_on_test(Z_test, y_test):
    """P@1, R-precision and MAP@R of the embedded test part, leave-one-out (and the queries skipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # test samples alone in their class are skipped (counted)
        s = retrieval_scores(Z_test, y_test, k=(), average_precision=False)
    return {"p_at_1": s["precision_at_1"], "r_precision": s["r_precision"], "map_at_r": s["map_at_r"],
            "n_skipped": s["n_skipped"]}


def few_shot_split(y, seed, *, n_needed):
    """Train / test indices with half of the classes (rounded up) held out.

    The held-out classes are drawn among those with at least ``n_needed``
    samples; None when fewer than ``FEW_SHOT_WAY`` such classes can be held
    out while at least one class stays for training.
    """
    classes, counts = np.unique(y, return_counts=True)
    n_test = -(-classes.size // 2)
    eligible = classes[counts >= n_needed]
    n_test = min(n_test, eligible.size, classes.size - 1)
    if n_test < FEW_SHOT_WAY:
        return None
    chosen = eligible[np.random.RandomState(seed).permutation(eligible.size)[:n_test]]
    return class_disjoint_split(y, test_classes=chosen)


FEW_SHOT_SCORES = tuple(f"{stat}_{k}" for k in FEW_SHOT_SHOTS for stat in ("accuracy", "ci95"))


def _evaluate_few_shot(transform, X_train, y_train, X_test, y_test, index, *, n_episodes):
    """A few-shot cell's scores: accuracy and 95 % interval per shot on the held-out classes,
    the same episodes for every method (seeded by the class split ``index``)."""
    Z_test = transform(X_test)
    out = {}
    for k in FEW_SHOT_SHOTS:
        out[f"accuracy_{k}"], out[f"ci95_{k}"] = few_shot_accuracy(
            None, Z_test, y_test, n_way=FEW_SHOT_WAY, k_shot=k, n_query=FEW_SHOT_QUERIES,
            n_episodes=n_episodes, random_state=index)
    return out


def few_shot_splits(name, X, y, X_test, y_test, seeds):
    """The few-shot cells' ``seeds`` class splits of one dataset (:func:`few_shot_split`,
    the official test part joined to the training part), each standardised on its
    training classes; None when the dataset has too few classes or samples."""
    n_needed = max(FEW_SHOT_SHOTS) + FEW_SHOT_QUERIES
    if X_test is not None:
        X, y = np.vstack([X, X_test]), np.concatenate([y, y_test])
    if np.unique(y).size < FEW_SHOT_MIN_CLASSES:
        return None
    index = [few_shot_split(y, seed, n_needed=n_needed) for seed in range(seeds)]
    if index[0] is None:
        _log(f"few-shot {name}: fewer than {FEW_SHOT_WAY} classes with {n_needed} samples to hold out; skipped")
        return None
    return [_standardised(f"classes{seed}", X[train], y[train], X[test], y[test])
            for seed, (train, test) in enumerate(index)]


def few_shot_datasets(loaded, seeds):
    """The few-shot cells' data (:class:`._cells.Dataset`): :func:`few_shot_splits` of every
    dataset with at least ``FEW_SHOT_MIN_CLASSES`` classes."""
    out = []
    for name, *arrays in loaded:
        make = partial(few_shot_splits, name, *arrays, seeds)
        if (splits := make()) is not None:
            out.append(_cells.Dataset(name, splits, make))
    return out


def run_few_shot(loaded, methods, *, seeds=5, max_train=2000, time_limit=120.0, n_episodes=600,
                 cells_path=None, resume=False, client=None, threads=1):
    """Few-shot accuracy on held-out classes; return ``(runs, summary)``.

    ``loaded`` holds ``(name, X, y, X_test, y_test)`` as :func:`load_datasets`
    yields; datasets with fewer than ``FEW_SHOT_MIN_CLASSES`` classes are
    left out. For each of ``seeds`` class splits (:func:`few_shot_datasets`),
    every method learns its metric on the training classes and is scored by
    :func:`shallowml.evaluation.few_shot_accuracy` on the held-out ones. Each
    (dataset, method, class split) is a cell of :mod:`._cells`, run in this
    process or on the Dask ``client``'s cluster, logged to ``cells_path`` and
    resumable like the classification cells, with the same stopping rules.
    """
    import tempfile

    datasets = few_shot_datasets(loaded, seeds)
    evaluate = partial(_evaluate_few_shot, n_episodes=n_episodes)
    with tempfile.TemporaryDirectory() as tmp:
        log = _cells.CellLog(cells_path or Path(tmp) / "few_shot_cells.csv", resume=resume, scores=FEW_SHOT_SCORES)
        options = dict(max_train=max_train, time_limit=time_limit, evaluate=evaluate, threads=threads)
        if client is None:
            _cells.run_serial(datasets, methods, log, **options)
        else:
            _cells.run_on_dask(datasets, methods, log, client, **options)
        done = log.done
    runs, summary = [], []
    for name, splits, _ in datasets:
        classes = {"train_classes": int(np.unique(splits[0][2]).size),
                   "test_classes": int(np.unique(splits[0][4]).size)}
        for m in methods:
            cells = [done[key] for i in range(len(splits)) if (key := (name, m.name, i)) in done]
            kept, status = _cells.kept_cells(cells, len(splits), time_limit)
            for c in kept:
                runs += [{"dataset": name, "method": m.name, "source": m.source, "split": c["split"],
                          "train_classes": int(np.unique(splits[c["split_index"]][2]).size),
                          "test_classes": int(np.unique(splits[c["split_index"]][4]).size), "n_fit": c["n_fit"],
                          "k_shot": k, "accuracy": c[f"accuracy_{k}"], "ci95": c[f"ci95_{k}"],
                          "fit_time": c["fit_time"]} for k in FEW_SHOT_SHOTS]
            for k in FEW_SHOT_SHOTS:
                a = [c[f"accuracy_{k}"] for c in kept]
                summary.append({
                    "dataset": name, "method": m.name, "source": m.source, "n_way": FEW_SHOT_WAY, "k_shot": k,
                    "n_query": FEW_SHOT_QUERIES, "n_episodes": n_episodes, "n_splits": len(a), **classes,
                    "n_fit": cells[-1]["n_fit"] if cells else None,
                    "accuracy_mean": float(np.mean(a)) if a else np.nan,
                    "accuracy_std": float(np.std(a)) if a else np.nan,
                    "ci95_mean": float(np.mean([c[f"ci95_{k}"] for c in kept])) if a else np.nan,
                    "status": status,
                })
            shots = "  ".join(f"{k}-shot {np.mean([c[f'accuracy_{k}'] for c in kept]):.3f}"
                              for k in FEW_SHOT_SHOTS if kept)
            _log(f"few-shot {name:<12s} {m.name:<24s} {shots or 'no result'}"
                 + ("" if status == "ok" else f"  [{status}]"))
    return runs, summary


def warm_up(methods):
    """Fit each in-process estimator once on a tiny problem; return compile times."""
    times = {}
    for m in methods:
        if m.estimator is None:
            continue
        t0 = time.perf_counter()
        try:
            warm_up_estimator(m.estimator, n_samples=60, n_features=4, n_classes=3)
        except Exception as exc:  # reported in the run itself
            _log(f"warm-up of {m.name} failed: {exc!r}")
        times[m.name] = time.perf_counter() - t0
        _log(f"warm-up {m.name:<24s} {times[m.name]:6.2f} s (JIT compilation: fits on 60x4, serial and parallel kernels)")
    times["metrics"] = warm_up_metrics()
    _log(f"warm-up {'retrieval metrics':<24s} {times['metrics']:6.2f} s")
    return times


def load_datasets(names, folder):
    """Yield ``(name, X, y, X_test, y_test)``; print why a dataset is skipped."""
    root = ds.data_folder(folder)
    uci_missing_reported = False
    for name in names:
        if name not in ds.BUNDLED and root is None:
            if not uci_missing_reported:
                _log(f"UCI data folder not found (--data {folder!r}, $SHALLOWML_DATA): skipping UCI datasets")
                uci_missing_reported = True
            continue
        try:
            X, y, Xte, yte = ds.load(name, root)
        except FileNotFoundError as exc:
            _log(f"skipping {name}: {exc}")
            continue
        yield name, X, y, Xte, yte


def _evaluate(transform, X_train, y_train, X_test, y_test, index=None):
    """A cell's scores: the k-NN test error and the retrieval scores of the test part."""
    Z_test = transform(X_test)
    scores = retrieval_on_test(Z_test, y_test)
    return {"error": knn_error(transform(X_train), y_train, Z_test, y_test),
            **{k: scores[k] for k in RETRIEVAL}}


def run(dataset_names, methods, *, folder=None, seeds=5, max_train=2000, time_limit=120.0, few_shot=True,
        n_episodes=600, cells_path=None, resume=False, client=None, on_cell=None, threads=1):
    """Run the protocol; return ``(runs, summary, info)``.

    ``runs`` has one dict per (dataset, method, split), ``summary`` one per
    (dataset, method), ``info`` per-dataset facts and notes, and with
    ``few_shot`` the few-shot results of :func:`run_few_shot` under
    ``info["few_shot_runs"]`` and ``info["few_shot"]``. The (dataset,
    method, split) cells are run in this process, or on the Dask ``client``'s
    cluster; each finished cell is appended to ``cells_path`` (a temporary
    file when None), and with ``resume`` the cells already there are not run
    again (:mod:`._cells`); the few-shot cells likewise, in ``few_shot_cells.csv``
    beside it. Every cell runs with ``threads`` BLAS, OpenMP and numba threads
    (and its metric-learn interpreter with as many), in this process as on a
    worker: the reference implementations' results depend on the thread
    count, and so the tables do not depend on where the cells ran.
    """
    import tempfile

    runs, summary, info = [], [], {"datasets": {}, "notes": []}
    start = time.perf_counter()
    datasets = []
    loaded = list(load_datasets(dataset_names, folder))
    for name, X, y, Xte, yte in loaded:
        make = partial(scaled_splits, name, X, y, Xte, yte, seeds)
        splits = make()
        info["datasets"][name] = {
            "n_train": splits[0][1].shape[0], "n_test": splits[0][3].shape[0], "n_features": X.shape[1],
            "n_classes": int(np.unique(y).size),
            "split": "official" if splits[0][0] == "official" else f"{len(splits)} x stratified 70/30",
        }
        datasets.append(_cells.Dataset(name, splits, make))
    with tempfile.TemporaryDirectory() as tmp:
        log = _cells.CellLog(cells_path or Path(tmp) / "cells.csv", resume=resume)
        options = dict(max_train=max_train, time_limit=time_limit, evaluate=_evaluate, threads=threads)
        if client is None:
            _cells.run_serial(datasets, methods, log, **options)
        else:
            _cells.run_on_dask(datasets, methods, log, client, on_cell=on_cell, **options)
        done = log.done
    for name, splits, _ in datasets:
        n_train = info["datasets"][name]["n_train"]
        for m in methods:
            cells = [done[key] for i in range(len(splits)) if (key := (name, m.name, i)) in done]
            kept, status = _cells.kept_cells(cells, len(splits), time_limit)
            runs += [{k: c[k] for k in ("dataset", "method", "source", "split", "n_fit", "error", *RETRIEVAL,
                                        "fit_time")} for c in kept]
            errs = [c["error"] for c in kept]
            fits = [c["fit_time"] for c in kept]
            rets = kept
            summary.append({
                "dataset": name, "method": m.name, "source": m.source,
                "n_train": n_train, "n_fit": cells[0]["n_fit"] if cells else None, "n_splits": len(kept),
                "error_mean": float(np.mean(errs)) if errs else np.nan,
                "error_std": float(np.std(errs)) if errs else np.nan,
                **{f"{k}_{stat}": (float(fn([r[k] for r in rets])) if rets else np.nan)
                   for k in RETRIEVAL for stat, fn in (("mean", np.mean), ("std", np.std))},
                "fit_time_mean": float(np.mean(fits)) if fits else np.nan,
                "fit_time_std": float(np.std(fits)) if fits else np.nan,
                "convergence_warnings": sum(c["convergence_warnings"] for c in kept), "status": status,
            })
    if few_shot:
        info["few_shot_runs"], info["few_shot"] = run_few_shot(
            loaded, methods, seeds=seeds, max_train=max_train, time_limit=time_limit, n_episodes=n_episodes,
            cells_path=Path(cells_path).with_name("few_shot_cells.csv") if cells_path else None,
            resume=resume, client=client, threads=threads)
    info["elapsed"] = time.perf_counter() - start
    _WORKER.close()
    return runs, summary, info


def _fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def format_markdown(summary, info, *, warmup=None, settings=None):
    """Markdown report: error table, fit-time table, time ratios, notes."""
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    methods = list(dict.fromkeys(r["method"] for r in summary))
    cell = {(r["dataset"], r["method"]): r for r in summary}
    lines = []
    if settings:
        lines += [f"Settings: {settings}", ""]
    lines += [
        f"### {N_NEIGHBORS}-NN test error (mean +- std over splits; best per row in bold)", "",
        "| dataset | n_train | d | split | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 4) + "|",
    ]
    for d in datasets:
        fi = info["datasets"][d]
        means = [cell[(d, m)]["error_mean"] for m in methods if (d, m) in cell]
        best = np.nanmin(means) if np.isfinite(means).any() else None
        vals = []
        for m in methods:
            r = cell.get((d, m))
            if r is None or not np.isfinite(r["error_mean"]):
                vals.append("fail" if r is not None else "-")
                continue
            s = f"{r['error_mean']:.3f}"
            if r["n_splits"] > 1:
                s += f" +- {r['error_std']:.3f}"
            if best is not None and r["error_mean"] <= best + 1e-12:
                s = f"**{s}**"
            if r["status"] != "ok" or r["n_fit"] < fi["n_train"]:
                s += " †"
            vals.append(s)
        split = "official" if fi["split"] == "official" else "70/30"
        lines.append(f"| {d} | {fi['n_train']} | {fi['n_features']} | {split} | " + " | ".join(vals) + " |")
    lines += ["", "†: metric learned on a subsample (n_fit < n_train) or on fewer splits (time limit); see notes."]
    if "map_at_r_mean" in summary[0]:
        for key, title in RETRIEVAL.items():
            lines += ["", f"### {title} of the embedded test part, leave-one-out (mean +- std over splits; "
                          "best per row in bold)", ""]
            lines += _markdown_table(retrieval_table(summary, info, key, bold=True))
    lines += [
        "",
        "### Fit time, seconds (mean over splits; n_fit = samples used to learn the metric)", "",
        "| dataset | " + " | ".join(m for m in methods if m != "Euclidean") + " |",
        "|---" * len(methods) + "|",
    ]
    for d in datasets:
        vals = []
        for m in methods:
            if m == "Euclidean":
                continue
            r = cell.get((d, m))
            if r is None or not np.isfinite(r["fit_time_mean"]):
                vals.append("-")
            else:
                vals.append(f"{r['fit_time_mean']:.3g}" + (f" (n={r['n_fit']})" if r["n_fit"] < info["datasets"][d]["n_train"] else ""))
        lines.append(f"| {d} | " + " | ".join(vals) + " |")
    pairs = _reference_pairs(methods)
    if pairs:
        lines += ["", "### Fit-time ratio reference / shallowml (same run, same data; > 1 means shallowml is faster)", ""]
        lines += ["| dataset | " + " | ".join(f"{ref}/{ours}" for ref, ours in pairs) + " |", "|---" * (len(pairs) + 1) + "|"]
        for d in datasets:
            vals = []
            for ref, ours in pairs:
                ratio = speedup(cell.get((d, ref)), cell.get((d, ours)))
                vals.append(f"{ratio:.1f}x" if np.isfinite(ratio) else "-")
            lines.append(f"| {d} | " + " | ".join(vals) + " |")
    lines += _versus_markdown(summary)
    notes = [
        f"{r['dataset']} / {r['method']}: {r['status']}" for r in summary if r["status"] != "ok"
    ] + [
        f"{r['dataset']} / {r['method']}: {r['convergence_warnings']} ConvergenceWarning(s)"
        for r in summary if r["convergence_warnings"]
    ]
    few = info.get("few_shot")
    if few:
        first = few[0]
        lines += ["", f"### Few-shot accuracy on held-out classes: {first['n_way']}-way, prototype classifier, "
                      f"{first['n_query']} queries per class, {first['n_episodes']} episodes (mean +- std over "
                      "class splits; best per row in bold)", ""]
        lines += _markdown_table(few_shot_table(few, bold=True))
        notes += [f"few-shot {r['dataset']} / {r['method']} / {r['k_shot']}-shot: {r['status']}"
                  for r in few if r["status"] != "ok"]
    lines += ["", "### Notes", ""]
    lines += [f"- {n}" for n in notes] or ["- all methods ran on all splits without warnings"]
    if warmup:
        lines += ["", "JIT warm-up (first fit on a 60x4 problem, s): " + ", ".join(f"{k} {v:.2f}" for k, v in warmup.items())]
    return "\n".join(lines) + "\n"


def _methods_of(summary):
    return list(dict.fromkeys(r["method"] for r in summary))


def _reference_pairs(methods):
    pairs = []
    for ours in methods:
        for ref in methods:
            if ref == f"ml-{METRIC_LEARN.get(ours, ('?',))[0]}" or (ref == "sklearn-NCA" and ours == "NCA"):
                pairs.append((ref, ours))
    return pairs


def speedup(ref_row, ours_row):
    """Fit-time ratio reference / shallowml of two summary rows of a dataset, or NaN where it is
    not a like-for-like figure: a row missing, a fit time not finite or shallowml's zero, or the two
    learning on different numbers of samples."""
    if ref_row is None or ours_row is None or ref_row["n_fit"] != ours_row["n_fit"]:
        return np.nan
    ta, tb = ref_row["fit_time_mean"], ours_row["fit_time_mean"]
    return ta / tb if np.isfinite(ta) and np.isfinite(tb) and tb > 0 else np.nan


def versus_table(summary, same=SAME_ERROR):
    """Rows comparing each shallowml learner with its reference implementation over the datasets.

    A column "finished" a dataset when it ran every split (status 'ok'). On the
    datasets both finished: how often shallowml's mean error is lower, the
    same (within ``same``) or higher, and the median and range of the
    fit-time ratio reference / shallowml (:func:`speedup`: same cells, same run). Then the
    datasets only shallowml finished, and only the reference.
    """
    cell = {(r["dataset"], r["method"]): r for r in summary}
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    rows = []
    for ref, ours in _reference_pairs(_methods_of(summary)):
        done = {m: {d for d in datasets if (d, m) in cell and cell[(d, m)]["status"] == "ok"} for m in (ours, ref)}
        both = [d for d in datasets if d in done[ours] and d in done[ref]]
        diff = np.array([cell[(d, ours)]["error_mean"] - cell[(d, ref)]["error_mean"] for d in both])
        ratio = [r for d in both if np.isfinite(r := speedup(cell[(d, ref)], cell[(d, ours)]))]
        rows.append({
            "shallowml": ours, "reference": ref, "both_finished": len(both),
            "lower_error": int((diff < -same).sum()), "same_error": int((np.abs(diff) <= same).sum()),
            "higher_error": int((diff > same).sum()),
            "only_shallowml_finished": len(done[ours] - done[ref]),
            "only_reference_finished": len(done[ref] - done[ours]),
            "median_speedup": float(np.median(ratio)) if ratio else np.nan,
            "min_speedup": float(np.min(ratio)) if ratio else np.nan,
            "max_speedup": float(np.max(ratio)) if ratio else np.nan,
        })
    return rows


def beats_euclidean(summary):
    """``(n_better, n_datasets)``: on how many datasets with a Euclidean result the best
    shallowml column has a lower mean 3-NN error than the Euclidean distance."""
    by_dataset = {}
    for r in summary:
        by_dataset.setdefault(r["dataset"], {})[r["method"], r["source"]] = r["error_mean"]
    better = total = 0
    for errors in by_dataset.values():
        euclidean = errors.get(("Euclidean", "baseline"), np.nan)
        ours = [e for (m, source), e in errors.items() if source == "shallowml" and np.isfinite(e)]
        if np.isfinite(euclidean) and ours:
            total += 1
            better += min(ours) < euclidean
    return better, total


def _ratio(x):
    """A speed-up for a table: two significant digits below 10, whole numbers above."""
    return f"{x:.2g}" if x < 10 else f"{x:.0f}"


def _versus_markdown(summary):
    rows = versus_table(summary)
    if not rows:
        return []
    better, total = beats_euclidean(summary)
    lines = ["", f"The best shallowml column has a lower 3-NN error than the Euclidean distance on {better} of "
                 f"{total} datasets."] if total else []
    lines += ["", f"### shallowml against its reference (datasets where both ran every split; same error = within "
                 f"{SAME_ERROR}; speed-up = reference fit time / shallowml's, same cells)", "",
             "| shallowml | reference | both finished | lower error | same | higher | only shallowml finished | "
             "only the reference finished | median speed-up (range) |", "|---" * 9 + "|"]
    for r in rows:
        speed = (f"{_ratio(r['median_speedup'])}x ({_ratio(r['min_speedup'])}-{_ratio(r['max_speedup'])})"
                 if np.isfinite(r["median_speedup"]) else "-")
        lines.append(f"| {r['shallowml']} | {r['reference']} | {r['both_finished']} | {r['lower_error']} | "
                     f"{r['same_error']} | {r['higher_error']} | {r['only_shallowml_finished']} | "
                     f"{r['only_reference_finished']} | {speed} |")
    return lines


def error_table(summary, info):
    """Rows of the error table (dataset x method, 'mean +- std' strings) for CSV / reST."""
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    methods = list(dict.fromkeys(r["method"] for r in summary))
    cell = {(r["dataset"], r["method"]): r for r in summary}
    rows = []
    for d in datasets:
        fi = info["datasets"][d]
        row = {"dataset": d, "n_train": fi["n_train"], "d": fi["n_features"],
               "split": "official" if fi["split"] == "official" else "70/30"}
        for m in methods:
            r = cell.get((d, m))
            if r is None or not np.isfinite(r["error_mean"]):
                row[m] = "-" if r is None else "fail"
            else:
                row[m] = f"{r['error_mean']:.3f}" + (f" ± {r['error_std']:.3f}" if r["n_splits"] > 1 else "")
                if r["status"] != "ok" or r["n_fit"] < fi["n_train"]:
                    row[m] += " †"
        rows.append(row)
    return rows


def _markdown_table(rows):
    head = list(rows[0]) if rows else []
    out = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    return out + ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]


def retrieval_table(summary, info, key="map_at_r", *, bold=False):
    """Rows of a retrieval table (dataset x method, 'mean ± std' of ``key``) for CSV / reST / markdown."""
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    methods = list(dict.fromkeys(r["method"] for r in summary))
    cell = {(r["dataset"], r["method"]): r for r in summary}
    rows = []
    for d in datasets:
        fi = info["datasets"][d]
        row = {"dataset": d, "n_test": fi.get("n_test", "-"),
               "split": "official" if fi["split"] == "official" else "70/30"}
        vals = [cell[(d, m)].get(f"{key}_mean", np.nan) for m in methods if (d, m) in cell]
        best = np.nanmax(vals) if np.isfinite(vals).any() else None
        for m in methods:
            r = cell.get((d, m))
            v = np.nan if r is None else r.get(f"{key}_mean", np.nan)
            if r is None or not np.isfinite(v):
                row[m] = "-" if r is None or r["status"] == "ok" else "fail"
                continue
            text = f"{v:.3f}" + (f" ± {r[f'{key}_std']:.3f}" if r["n_splits"] > 1 else "")
            if bold and best is not None and v >= best - 1e-12:
                text = f"**{text}**"
            row[m] = text + (" †" if r["status"] != "ok" or r["n_fit"] < fi["n_train"] else "")
        rows.append(row)
    return rows


def scores_table(summary, info):
    """Rows of the docs' score table: per dataset, the 3-NN error, P@1, R-precision and MAP@R of every method."""
    rows = []
    error_rows = {r["dataset"]: r for r in error_table(summary, info)}
    per_key = {key: {r["dataset"]: r for r in retrieval_table(summary, info, key)} for key in RETRIEVAL}
    for d, err in error_rows.items():
        first = per_key["map_at_r"][d]
        rows.append({"dataset": d, "n_test": first["n_test"], "score": f"{N_NEIGHBORS}-NN error",
                     **{m: v for m, v in err.items() if m not in ("dataset", "n_train", "d", "split")}})
        for key, title in RETRIEVAL.items():
            r = per_key[key][d]
            rows.append({"dataset": d, "n_test": r["n_test"], "score": title,
                         **{m: v for m, v in r.items() if m not in ("dataset", "n_test", "split")}})
    return rows


def few_shot_table(few, *, bold=False):
    """Rows of the few-shot table (dataset and shot x method, 'mean ± std' accuracy)."""
    keys = list(dict.fromkeys((r["dataset"], r["k_shot"]) for r in few))
    methods = list(dict.fromkeys(r["method"] for r in few))
    cell = {(r["dataset"], r["k_shot"], r["method"]): r for r in few}
    rows = []
    for d, k in keys:
        some = next(r for r in few if r["dataset"] == d and r["k_shot"] == k)
        row = {"dataset": d, "classes (train / test)": f"{some['train_classes']} / {some['test_classes']}",
               "task": f"{some['n_way']}-way {k}-shot"}
        vals = [cell[(d, k, m)]["accuracy_mean"] for m in methods if (d, k, m) in cell]
        best = np.nanmax(vals) if np.isfinite(vals).any() else None
        for m in methods:
            r = cell.get((d, k, m))
            if r is None or not np.isfinite(r["accuracy_mean"]):
                row[m] = "-" if r is None else "fail"
                continue
            text = f"{r['accuracy_mean']:.3f}" + (f" ± {r['accuracy_std']:.3f}" if r["n_splits"] > 1 else "")
            if bold and best is not None and r["accuracy_mean"] >= best - 1e-12:
                text = f"**{text}**"
            row[m] = text + (" †" if r["status"] != "ok" else "")
        rows.append(row)
    return rows


def read_results(folder):
    """``(summary, dataset_facts)`` of an earlier run written to ``folder``."""
    with open(Path(folder) / "results.csv", newline="", encoding="utf-8") as fh:
        summary = list(csv.DictReader(fh))
    retrieval_keys = [f"{k}_{stat}" for k in RETRIEVAL for stat in ("mean", "std")]
    for r in summary:
        for k in ("n_train", "n_fit", "n_splits", "convergence_warnings"):
            r[k] = int(r[k])
        for k in ("error_mean", "error_std", *retrieval_keys, "fit_time_mean", "fit_time_std"):
            # results written before the retrieval columns existed: NaN, shown as '-'
            r[k] = float(r[k]) if r.get(k) not in (None, "", "nan") else np.nan
    with open(Path(folder) / "error_table.csv", newline="", encoding="utf-8") as fh:
        facts = {
            r["dataset"]: {"n_train": int(r["n_train"]), "n_features": int(r["d"]),
                           "split": "official" if r["split"] == "official" else "70/30"}
            for r in csv.DictReader(fh)
        }
    return summary, facts


def read_few_shot(folder):
    """The few-shot summary rows of an earlier run in ``folder`` (``[]`` when it has none)."""
    path = Path(folder) / "few_shot.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("n_way", "k_shot", "n_query", "n_episodes", "n_splits", "train_classes", "test_classes"):
            r[k] = int(r[k])
        r["n_fit"] = int(r["n_fit"]) if r["n_fit"] not in ("", "None") else None
        for k in ("accuracy_mean", "accuracy_std", "ci95_mean"):
            r[k] = float(r[k]) if r[k] not in ("", "nan") else np.nan
    return rows


def merge_results(old, new, key=("dataset", "method")):
    """``old`` summary rows with every ``key`` (default (dataset, method)) that ``new`` has replaced by
    ``new``'s row; every row gets the columns of ``new`` (missing ones NaN)."""
    fresh = {tuple(r[k] for k in key): r for r in new}
    merged = [fresh.pop(tuple(r[k] for k in key), r) for r in old]
    merged += list(fresh.values())
    fields = list(new[0]) if new else list(old[0]) if old else []
    return [{f: r.get(f, np.nan) for f in fields} for r in merged]


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suite", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", default=None, help="UCI folder (default $SHALLOWML_DATA or ../shared/uci)")
    parser.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                        help=f"subset of: {' '.join(ALL_DATASETS)}")
    parser.add_argument("--estimators", nargs="+", default=None, metavar="NAME",
                        help="shallowml estimator names (default: all public ones)")
    parser.add_argument("--seeds", type=int, default=None, help="stratified 70/30 splits (default 5; smoke 2)")
    parser.add_argument("--reference", choices=["auto", "sklearn", "none"], default=None,
                        help="auto: scikit-learn NCA + metric-learn when available (default; smoke: sklearn)")
    parser.add_argument("--max-train", type=int, default=2000,
                        help="subsample cap for iterative estimators (default 2000; 0 = no cap)")
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="seconds per fit: a longer fit skips the remaining splits, a fit still running "
                             "at the limit is stopped as a timeout (default 120)")
    parser.add_argument("--smoke", action="store_true", help=f"only {', '.join(SMOKE_DATASETS)}; 2 seeds")
    parser.add_argument("--no-few-shot", action="store_true",
                        help=f"skip the few-shot table (datasets with >= {FEW_SHOT_MIN_CLASSES} classes)")
    parser.add_argument("--episodes", type=int, default=600, help="few-shot episodes per class split (default 600)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the cells on an existing dask.distributed scheduler (e.g. tcp://host:8786)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="run the cells on an embedded Dask LocalCluster of N worker processes")
    parser.add_argument("--cell-threads", type=int, default=1, metavar="N",
                        help="BLAS, OpenMP and numba threads of every cell, serial or on Dask, and of the "
                             "metric-learn interpreter (default 1: the references' results depend on it)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the cells already in OUT/cells.csv and OUT/few_shot_cells.csv and run "
                             "only the missing ones")
    parser.add_argument("--merge-into", default=None, metavar="DIR",
                        help="also update the results.csv, error_table.csv and plots of an earlier run in DIR, "
                             "replacing the (dataset, method) cells this run measured")
    args = parser.parse_args(argv)

    names = args.datasets or (SMOKE_DATASETS if args.smoke else ALL_DATASETS)
    unknown = sorted(set(names) - set(ALL_DATASETS) - set(ds.UCI))
    if unknown:
        parser.error(f"unknown datasets: {unknown}")
    if args.cell_threads < 1:
        parser.error(f"--cell-threads must be at least 1, got {args.cell_threads}")
    seeds = args.seeds or (2 if args.smoke else 5)
    reference = args.reference or ("sklearn" if args.smoke else "auto")
    max_train = args.max_train or None

    shallow = shallowml_methods(args.estimators)
    methods = [Method("Euclidean", "baseline")] + shallow + reference_methods(shallow, reference, args.estimators)
    _log(f"methods: {', '.join(m.name for m in methods)}")
    load_before = _measure.load_average()
    if args.scheduler and args.workers:
        parser.error("give --scheduler or --workers, not both")
    warmup = warm_up(methods)  # also fills the kernel cache that local Dask workers load from
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    client = _cells.dask_client(args.scheduler, args.workers) if args.scheduler or args.workers else None
    try:
        runs, summary, info = run(names, methods, folder=args.data, seeds=seeds, max_train=max_train,
                                  time_limit=args.time_limit, few_shot=not args.no_few_shot,
                                  n_episodes=args.episodes, cells_path=out / "cells.csv",
                                  resume=args.resume, client=client, threads=args.cell_threads)
    finally:
        if client is not None:
            cluster = client.cluster if args.workers else None
            client.close()
            if cluster is not None:
                cluster.close()

    import shallowml
    import sklearn

    settings = (
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, shallowml {shallowml.__version__}, "
        f"scikit-learn {sklearn.__version__}, python {platform.python_version()}; seeds={seeds}, "
        f"max_train={max_train}, time_limit={args.time_limit:g} s, k={N_NEIGHBORS}, "
        f"{args.cell_threads} thread(s) per cell; "
        f"total {info['elapsed']:.0f} s; load average {load_before:.2f} at the start, "
        f"{_measure.load_average():.2f} at the end"
    )
    md = format_markdown(summary, info, warmup=warmup, settings=settings)
    (out / "results.md").write_text(md, encoding="utf-8")
    write_csv(out / "results.csv", summary)
    write_csv(out / "runs.csv", runs)
    write_csv(out / "error_table.csv", error_table(summary, info))
    write_csv(out / "retrieval_table.csv", scores_table(summary, info))
    write_csv(out / "versus_table.csv", versus_table(summary))
    few = info.get("few_shot")
    if few:
        write_csv(out / "few_shot.csv", few)
        write_csv(out / "few_shot_runs.csv", info["few_shot_runs"])
        write_csv(out / "few_shot_table.csv", few_shot_table(few))
    if not args.no_plots and summary:
        from .plots import plot_errors, plot_few_shot, plot_map_at_r, plot_speedups

        plot_errors(summary, out / "errors.png")
        plot_map_at_r(summary, out / "map_at_r.png")
        plot_speedups(summary, _reference_pairs(_methods_of(summary)), out / "speedup.png")
        if few:
            plot_few_shot(few, out / "few_shot.png")
    if args.merge_into:
        old_summary, facts = read_results(args.merge_into)
        merged = merge_results(old_summary, summary)
        merged_info = {"datasets": {**facts, **info["datasets"]}}
        dest = Path(args.merge_into)
        write_csv(dest / "results.csv", merged)
        write_csv(dest / "error_table.csv", error_table(merged, merged_info))
        write_csv(dest / "retrieval_table.csv", scores_table(merged, merged_info))
        write_csv(dest / "versus_table.csv", versus_table(merged))
        if few:
            old_few = read_few_shot(dest)
            merged_few = merge_results(old_few, few, key=("dataset", "method", "k_shot"))
            write_csv(dest / "few_shot.csv", merged_few)
            write_csv(dest / "few_shot_table.csv", few_shot_table(merged_few))
        if not args.no_plots:
            from .plots import plot_errors, plot_few_shot, plot_map_at_r, plot_speedups

            plot_errors(merged, dest / "errors.png")
            plot_map_at_r(merged, dest / "map_at_r.png")
            plot_speedups(merged, _reference_pairs(_methods_of(merged)), dest / "speedup.png")
            if few:
                plot_few_shot(merged_few, dest / "few_shot.png")
        _log(f"merged {len(summary)} cells into {dest}/results.csv, error_table.csv, retrieval_table.csv, "
             "versus_table.csv"
             + (", few_shot.csv" if few else ""))
    print(md)
    _log(f"wrote {out}/results.md, results.csv, runs.csv, error_table.csv, retrieval_table.csv, versus_table.csv"
         + (", few_shot.csv, few_shot_runs.csv, few_shot_table.csv" if few else "")
         + ("" if args.no_plots else ", errors.png, map_at_r.png, speedup.png" + (", few_shot.png" if few else "")))
    return summary


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: the cells sent to Dask
    # workers then pickle Method by reference (benchmarks.suite.Method) instead of by
    # value, so each worker keeps one metric-learn interpreter (_WORKER) for all its
    # cells; by value every cell carried a fresh ReferenceWorker and started its own.
    from benchmarks.suite import main as _main

    _main()
