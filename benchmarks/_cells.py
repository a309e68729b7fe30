"""The benchmark suite's unit of work: one (dataset, method, split) cell.

A cell fits one method on one training split and evaluates it; cells are
independent, so the suite runs them one after another in this process
(:func:`run_serial`) or as tasks on a Dask cluster (:func:`run_on_dask`,
``dask.distributed``: an existing scheduler or an embedded ``LocalCluster``).
Either way every finished cell is appended at once to ``cells.csv``
(:class:`CellLog`), so an interrupted run resumes with only the missing cells,
and :func:`summarize` applies the suite's stopping rules (a failed split ends
a method's dataset; so does a fit over the time limit, after that split) to
the cells afterwards. Every cell runs with the same thread count
(:func:`cell_threads`) in either runner. With the same seeds both runners
therefore give the same tables, cell by cell.
"""

import csv
import os
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ._reference import thread_env

# a cell's scores (``evaluate`` returns them): the k-NN error and the retrieval scores
SCORES = ("error", "p_at_1", "r_precision", "map_at_r")
DISTRIBUTED_EXTRA = 'the Dask runner needs the "distributed" extra: pip install -e ".[distributed]"'


class Dataset(NamedTuple):
    """One dataset's cells' data: its ``splits`` and how to build them.

    ``splits`` is a list of standardised ``(label, X_train, y_train, X_test,
    y_test)``; ``make()`` returns the same list (deterministically) from the
    raw arrays it holds once. The Dask runner sends ``make`` as a task rather
    than scattering the splits: the scheduler keeps the task, so a worker lost
    with the splits costs a recomputation, not the run (scattered data is
    lost with its worker, and Dask's memory manager drops replicas).
    """

    name: str
    splits: list
    make: Callable[[], list]


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def fields(scores=SCORES):
    """The columns of a cell row (and of its CSV) whose scores are ``scores``."""
    return ("dataset", "method", "source", "split", "split_index", "n_fit", *scores, "fit_time",
            "convergence_warnings", "status")


@contextmanager
def cell_threads(n):
    """Run the enclosed cell with ``n`` threads for BLAS, OpenMP and numba in this process, then restore.

    Reference implementations give different results with different thread
    counts (their BLAS and OpenMP reductions), so every cell runs with the
    same count wherever it runs: in this process or on a Dask worker.
    """
    import numba
    from threadpoolctl import threadpool_limits

    from shallowml.utils.threads import numba_threads

    with threadpool_limits(limits=n), numba_threads(min(n, numba.config.NUMBA_NUM_THREADS)):
        yield


def run_cell(splits, method, index, max_train, time_limit, evaluate, scores=SCORES, threads=1):
    """Fit ``method`` on split ``index`` of ``splits`` and evaluate it; never raises.

    ``splits`` is the dataset's list of scaled ``(label, X_train, y_train,
    X_test, y_test)``; ``evaluate(transform, X_train, y_train, X_test,
    y_test, index)`` returns the ``scores`` (:data:`SCORES` for the
    classification cells, the few-shot accuracies for the few-shot ones).
    ``threads``: the cell's BLAS, OpenMP and numba threads (:func:`cell_threads`),
    also those of the metric-learn interpreter that fits a reference column.
    Returns one row of :func:`fields` (without ``dataset``); a failure is a
    row with ``status`` 'failed: ...' or 'timeout: ...'.
    """
    from .suite import subsample

    label, Xtr, ytr, Xts, yts = splits[index]
    seed = index if label != "official" else 0
    Xf, yf = subsample(Xtr, ytr, max_train if method.capped else None, seed)
    row = {"method": method.name, "source": method.source, "split": label, "split_index": index,
           "n_fit": Xf.shape[0], **dict.fromkeys(scores, np.nan), "fit_time": np.nan,
           "convergence_warnings": 0, "status": "ok"}
    try:
        with cell_threads(threads):
            transform, fit_time, n_warn = method.fit_transformer(Xf, yf, seed, time_limit, threads)
            values = evaluate(transform, Xtr, ytr, Xts, yts, index)
        row.update({k: float(values[k]) for k in scores}, fit_time=float(fit_time),
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

    def __init__(self, path, resume=False, scores=SCORES):
        self.path = Path(path)
        self.scores, self.fields = scores, fields(scores)
        self.done = {}
        if resume and self.path.exists():
            with self.path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    for key in ("split_index", "n_fit", "convergence_warnings"):
                        row[key] = int(row[key])
                    for key in (*scores, "fit_time"):
                        row[key] = float(row[key])
                    self.done[(row["dataset"], row["method"], row["split_index"])] = row
        elif self.path.exists():
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            with self.path.open("w", newline="") as fh:
                csv.DictWriter(fh, self.fields).writeheader()

    def add(self, dataset, row):
        row = {"dataset": dataset, **row}
        self.done[(dataset, row["method"], row["split_index"])] = row
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, self.fields).writerow({k: row[k] for k in self.fields})
            fh.flush()
            os.fsync(fh.fileno())
        return row


def _report(done, total, dataset, row, start, score):
    """One line per finished cell: a text progress bar over the cells, then the cell.

    ``total`` counts every split of every column, an upper bound: a column that
    fails or reaches the time limit skips its remaining splits.
    """
    what = (f"{score} {row[score]:.3f} fit {row['fit_time']:7.2f} s" if row["status"] == "ok"
            else row["status"])
    filled = int(20 * done / max(total, 1))
    _log(f"[{'#' * filled}{'.' * (20 - filled)}] {done:4d}/{total} {dataset:<14s} {row['method']:<24s} "
         f"{row['split']:<8s} {what}  (elapsed {time.perf_counter() - start:6.1f} s)")


def _next_split(log, name, method_name, n_splits, time_limit):
    """The first split of a column still to run, or None when the column is complete
    or ended (a failure, or a fit over ``time_limit``), exactly as in :func:`run_serial`."""
    for i in range(n_splits):
        row = log.done.get((name, method_name, i))
        if row is None:
            return i
        if row["status"] != "ok" or (row["fit_time"] > time_limit and i + 1 < n_splits):
            return None
    return None


def run_serial(datasets, methods, log, *, max_train, time_limit, evaluate, threads=1):
    """Run every missing cell in this process, stopping a column early as :func:`kept_cells` would."""
    total = sum(len(d.splits) for d in datasets) * len(methods)
    done, start = len(log.done), time.perf_counter()
    for name, splits, _ in datasets:
        for m in methods:
            while (i := _next_split(log, name, m.name, len(splits), time_limit)) is not None:
                row = log.add(name, run_cell(splits, m, i, max_train, time_limit, evaluate, log.scores, threads))
                done += 1
                _report(done, total, name, row, start, log.scores[0])


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
    env = thread_env(max(1, (os.cpu_count() or 1) // int(workers)))
    cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                       env=env, dashboard_address=":0")
    return distributed.Client(cluster)


def run_on_dask(datasets, methods, log, client, *, max_train, time_limit, evaluate, threads=1, on_cell=None):
    """Run every missing cell as a task on ``client``'s cluster.

    Each dataset's splits are built on the cluster once, by a task holding
    its raw arrays (:class:`Dataset`), and recomputed if the worker holding
    them dies; every cell is one task (retried once if it fails for a reason
    other than the method itself, e.g. its worker dying). The columns (dataset, method) run side by side, and
    within a column split ``i + 1`` is submitted when split ``i`` has finished
    within ``time_limit``: the cluster computes the same cells as
    :func:`run_serial`, no split after the one that ended a column. A dataset's
    cells go before those of the datasets after it (Dask task priority), so a
    run stopped part-way has finished whole datasets. Cells are
    logged as they finish. ``on_cell(n_done, client)`` is called after each one
    (tests use it to kill a worker).
    """
    import distributed

    # task keys name the cell and this run, so that successive runs on one client never share a key
    run_id = uuid.uuid4().hex[:8]
    data, n_splits, columns = {}, {}, []
    order = {d.name: k for k, d in enumerate(datasets)}
    for name, splits, make in datasets:
        # once per dataset, not per task; a task, not scattered data, so that it survives its worker
        data[name] = client.submit(make, pure=False, key=f"{log.path.stem}-data-{name}-{run_id}",
                                   priority=-order[name])
        n_splits[name] = len(splits)
        columns += [(name, m) for m in methods]
    pending = distributed.as_completed()

    def submit(name, m):
        i = _next_split(log, name, m.name, n_splits[name], time_limit)
        if i is not None:
            # earlier datasets first: a run stopped part-way leaves whole datasets done
            fut = client.submit(run_cell, data[name], m, i, max_train, time_limit, evaluate, log.scores,
                                threads, pure=False, retries=1,
                                key=f"{log.path.stem}-{name}-{m.name}-{i}-{run_id}",
                                priority=-order[name])
            jobs[fut] = (name, m)
            pending.add(fut)

    jobs = {}
    for name, m in columns:
        submit(name, m)
    link = getattr(client, "dashboard_link", None)
    n_at_most = sum(n_splits[name] for name, _ in columns)
    _log(f"{len(jobs)} columns to run on {len(client.scheduler_info()['workers'])} Dask workers"
         + (f"; dashboard: {link}" if link else ""))
    done, start = len(log.done), time.perf_counter()
    for fut in pending:
        name, m = jobs.pop(fut)
        row = log.add(name, fut.result())
        done += 1
        _report(done, n_at_most, name, row, start, log.scores[0])
        submit(name, m)
        if on_cell is not None:
            on_cell(done, client)
