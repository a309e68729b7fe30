"""The benchmark suite's unit of work: one (dataset, method, split) cell.

A cell fits one method on one training split and evaluates it; cells are
independent, so the suite runs them one after another in this process
(:func:`run_serial`) or as tasks on a Dask cluster (:func:`run_on_dask`,
``dask.distributed``: an existing scheduler or an embedded ``LocalCluster``).
Either way every finished cell is appended at once to ``cells.csv``
(:class:`CellLog`), so an interrupted run resumes with only the missing cells,
and :func:`summarize` applies the suite's stopping rules (a failed split ends
a method's dataset; so does a fit over the time limit, after that split) to
the cells afterwards. With the same seeds both runners therefore give the same
tables, cell by cell.
"""

import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

# a cell's scores (``evaluate`` returns them): the k-NN error and the retrieval scores
SCORES = ("error", "p_at_1", "r_precision", "map_at_r")
FIELDS = ("dataset", "method", "source", "split", "split_index", "n_fit", *SCORES, "fit_time",
          "convergence_warnings", "status")
DISTRIBUTED_EXTRA = 'the Dask runner needs the "distributed" extra: pip install -e ".[distributed]"'


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_cell(splits, method, index, max_train, time_limit, evaluate):
    """Fit ``method`` on split ``index`` of ``splits`` and evaluate it; never raises.

    ``splits`` is the dataset's list of scaled ``(label, X_train, y_train,
    X_test, y_test)``; ``evaluate(transform, X_train, y_train, X_test,
    y_test)`` returns the :data:`SCORES`. Returns one :data:`FIELDS` row (without
    ``dataset``); a failure is a row with ``status`` 'failed: ...' or 'timeout: ...'.
    """
    from .suite import subsample

    label, Xtr, ytr, Xts, yts = splits[index]
    seed = index if label != "official" else 0
    Xf, yf = subsample(Xtr, ytr, max_train if method.capped else None, seed)
    row = {"method": method.name, "source": method.source, "split": label, "split_index": index,
           "n_fit": Xf.shape[0], **dict.fromkeys(SCORES, np.nan), "fit_time": np.nan,
           "convergence_warnings": 0, "status": "ok"}
    try:
        transform, fit_time, n_warn = method.fit_transformer(Xf, yf, seed, time_limit)
        scores = evaluate(transform, Xtr, ytr, Xts, yts)
        row.update({k: float(scores[k]) for k in SCORES}, fit_time=float(fit_time),
                   convergence_warnings=int(n_warn))
    except Exception as exc:  # one failing method must not stop the suite
        kind = "timeout" if "Timeout" in type(exc).__name__ else "failed"
        text = str(exc).splitlines()[0][:120] if str(exc) else ""
        row["status"] = f"{kind}: {type(exc).__name__}: {text}"
    return row


def kept_cells(cells, n_splits, time_limit):
    """The cells a serial run keeps, in split order, and the status of the column.

    A failed split ends the method on that dataset (the cells before it are
    kept); a fit longer than ``time_limit`` is kept but ends it too.
    """
    kept, status = [], "ok"
    for i, cell in enumerate(sorted(cells, key=lambda c: c["split_index"])):
        if cell["status"] != "ok":
            return kept, cell["status"]
        kept.append(cell)
        if cell["fit_time"] > time_limit and i + 1 < n_splits:
            return kept, f"time limit: {i + 1}/{n_splits} splits"
    return kept, status


class CellLog:
    """``cells.csv``: one row per finished cell, appended (and flushed) as it finishes."""

    def __init__(self, path, resume=False):
        self.path = Path(path)
        self.done = {}
        if resume and self.path.exists():
            with self.path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    for key in ("split_index", "n_fit", "convergence_warnings"):
                        row[key] = int(row[key])
                    for key in (*SCORES, "fit_time"):
                        row[key] = float(row[key])
                    self.done[(row["dataset"], row["method"], row["split_index"])] = row
        elif self.path.exists():
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            with self.path.open("w", newline="") as fh:
                csv.DictWriter(fh, FIELDS).writeheader()

    def add(self, dataset, row):
        row = {"dataset": dataset, **row}
        self.done[(dataset, row["method"], row["split_index"])] = row
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, FIELDS).writerow({k: row[k] for k in FIELDS})
            fh.flush()
            os.fsync(fh.fileno())
        return row


def _report(done, total, dataset, row, start):
    what = (f"err {row['error']:.3f} fit {row['fit_time']:7.2f} s" if row["status"] == "ok"
            else row["status"])
    _log(f"[{done:4d}/{total}] {dataset:<14s} {row['method']:<24s} {row['split']:<8s} {what}  "
         f"(elapsed {time.perf_counter() - start:6.1f} s)")


def run_serial(datasets, methods, log, *, max_train, time_limit, evaluate):
    """Run every missing cell in this process, stopping a column early as :func:`kept_cells` would."""
    total = sum(len(splits) for _, splits in datasets) * len(methods)
    done, start = len(log.done), time.perf_counter()
    for name, splits in datasets:
        for m in methods:
            for i in range(len(splits)):
                row = log.done.get((name, m.name, i))
                if row is None:
                    row = log.add(name, run_cell(splits, m, i, max_train, time_limit, evaluate))
                    done += 1
                    _report(done, total, name, row, start)
                if row["status"] != "ok" or (row["fit_time"] > time_limit and i + 1 < len(splits)):
                    break


def dask_client(scheduler=None, workers=None):
    """A ``distributed.Client``: on ``scheduler`` (an address), or on an embedded
    ``LocalCluster`` of ``workers`` single-threaded processes, each with its
    share of the cores for OpenMP/BLAS (as joblib's loky workers get).
    The caller closes it (and ``client.cluster`` when embedded)."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(DISTRIBUTED_EXTRA) from exc
    if scheduler:
        return distributed.Client(scheduler)
    share = str(max(1, (os.cpu_count() or 1) // int(workers)))
    env = {k: share for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                       env=env, dashboard_address=":0")
    return distributed.Client(cluster)


def run_on_dask(datasets, methods, log, client, *, max_train, time_limit, evaluate, on_cell=None):
    """Run every missing cell as a task on ``client``'s cluster.

    Each dataset's splits are scattered to the cluster once; every cell is one
    task (retried once if it fails for a reason other than the method itself,
    e.g. its worker dying). Cells are logged as they finish. ``on_cell(n_done,
    client)`` is called after each one (tests use it to kill a worker).
    """
    import distributed

    jobs = {}
    for name, splits in datasets:
        # once per dataset, not per task; on every worker, so that losing one loses no data
        data = client.scatter([splits], broadcast=True, hash=False)[0]
        for m in methods:
            for i in range(len(splits)):
                if (name, m.name, i) not in log.done:
                    fut = client.submit(run_cell, data, m, i, max_train, time_limit, evaluate,
                                        pure=False, retries=1, key=f"cell-{name}-{m.name}-{i}")
                    jobs[fut] = name
    link = getattr(client, "dashboard_link", None)
    _log(f"{len(jobs)} cells on {len(client.scheduler_info()['workers'])} Dask workers"
         + (f"; dashboard: {link}" if link else ""))
    total, done, start = len(jobs) + len(log.done), len(log.done), time.perf_counter()
    for fut in distributed.as_completed(jobs):
        row = log.add(jobs[fut], fut.result())
        done += 1
        _report(done, total, jobs[fut], row, start)
        if on_cell is not None:
            on_cell(done, client)
