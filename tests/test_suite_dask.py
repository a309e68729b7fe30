"""The benchmark suite on Dask (issue 18): identical to serial, a killed worker loses nothing, resume."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a package at the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks import _cells, suite  # noqa: E402

DATASETS = ["iris", "wine"]


def _methods():
    return [suite.Method("Euclidean", "baseline")] + suite.shallowml_methods(["LDA", "NCA", "Covariance"])


def _errors(summary):
    return {(r["dataset"], r["method"]): (r["error_mean"], r["n_splits"], r["status"]) for r in summary}


def _run(**kw):
    return suite.run(DATASETS, _methods(), seeds=3, max_train=None, time_limit=600.0, **kw)


@pytest.fixture(scope="module")
def serial():
    return _run()


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="the 'distributed' extra is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.mark.slow
def test_dask_run_equals_serial_even_when_a_worker_is_killed(serial, client, tmp_path):
    dask = pytest.importorskip("dask")
    parse_timedelta = pytest.importorskip("dask.utils").parse_timedelta
    killed = []

    def kill_one_worker(n_done, client):
        if not killed:  # after the first finished cell: SIGKILL, mid-run, the worker holding a dataset's splits
            # past an interval of Dask's memory manager, which drops any extra replica of data the cluster holds
            time.sleep(1.5 * parse_timedelta(dask.config.get("distributed.scheduler.active-memory-manager.interval")))
            holders = [w for key, where in client.who_has().items() if "-data-" in str(key) for w in where]
            pid = client.run(os.getpid)[holders[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    runs, summary, _ = _run(client=client, cells_path=tmp_path / "cells.csv", on_cell=kill_one_worker)
    assert killed
    assert _errors(summary) == _errors(serial[1])
    assert sorted((r["dataset"], r["method"], r["split"], r["error"]) for r in runs) == sorted(
        (r["dataset"], r["method"], r["split"], r["error"]) for r in serial[0])
    with (tmp_path / "cells.csv").open() as fh:  # every cell logged once, as it finished
        assert len(list(csv.DictReader(fh))) == len(serial[0])


def test_resume_runs_only_the_missing_cells(serial, tmp_path):
    path = tmp_path / "cells.csv"
    _run(cells_path=path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    kept = rows[: len(rows) // 2]
    for row in kept:  # mark the kept cells: a resumed run must not recompute them
        row["error"] = "0.5"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, _cells.fields())
        writer.writeheader()
        writer.writerows(kept)
    runs, _, _ = _run(cells_path=path, resume=True)
    marked = {(r["dataset"], r["method"], r["split"]) for r in kept}
    for r in runs:
        if (r["dataset"], r["method"], r["split"]) in marked:
            assert r["error"] == 0.5
    fresh = {(r["dataset"], r["method"], r["split"]): r["error"] for r in serial[0]}
    recomputed = [r for r in runs if (r["dataset"], r["method"], r["split"]) not in marked]
    assert recomputed and all(r["error"] == fresh[(r["dataset"], r["method"], r["split"])] for r in recomputed)
    with path.open() as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r'"distributed" extra: pip install -e "\.\[distributed\]"'):
        _cells.dask_client(workers=2)


def test_stopping_rules_apply_to_cells_as_in_a_serial_run():
    ok = {"status": "ok", "fit_time": 1.0}
    cells = [dict(ok, split_index=i) for i in range(4)]
    assert _cells.kept_cells(cells, 4, 10.0) == (cells, "ok")
    slow = [dict(c, fit_time=20.0) if c["split_index"] == 1 else c for c in cells]
    assert _cells.kept_cells(slow[::-1], 4, 10.0) == (slow[:2], "time limit: 2/4 splits")
    failed = [dict(c, status="failed: X") if c["split_index"] == 2 else c for c in cells]
    assert _cells.kept_cells(failed, 4, 10.0) == (failed[:2], "failed: X")
    assert np.isnan(float("nan"))


def test_dask_computes_no_split_after_the_one_that_ends_a_column(client, tmp_path):
    """time_limit 0: every fit is over it, so each column runs split 0 only, as serially."""
    path = tmp_path / "cells.csv"
    methods = _methods()[1:3]
    suite.run(["iris"], methods, seeds=3, max_train=None, time_limit=0.0, few_shot=False,
              client=client, cells_path=path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["method"], r["split_index"]) for r in rows) == sorted((m.name, "0") for m in methods)


def test_few_shot_cells_on_dask_equal_serial(client, tmp_path):
    loaded = list(suite.load_datasets(["digits"], None))
    methods = _methods()[:3]
    kw = dict(seeds=2, max_train=300, n_episodes=20)
    serial_runs, serial_summary = suite.run_few_shot(loaded, methods, **kw)
    path = tmp_path / "few_shot_cells.csv"
    runs, summary = suite.run_few_shot(loaded, methods, client=client, cells_path=path, **kw)
    def scores(rows):  # everything but the fit times
        return sorted(str({k: v for k, v in r.items() if k != "fit_time"}) for r in rows)

    assert summary == serial_summary and scores(runs) == scores(serial_runs)
    with path.open(newline="") as fh:  # one task per (method, class split), logged as it finished
        assert len(list(csv.DictReader(fh))) == len(methods) * 2


def test_the_suite_run_as_a_script_runs_the_importable_module():
    """``python -m benchmarks.suite`` must call ``benchmarks.suite.main``, not its ``__main__`` copy's.

    Classes of ``__main__`` reach Dask workers pickled by value: every cell then
    carried a fresh ``ReferenceWorker`` and started its own metric-learn
    interpreter (serial_vs_dask.md: 162.6 s against 72.2 s on iris and wine).
    """
    code = (
        "import runpy, sys\n"
        "import benchmarks.suite as suite\n"
        "suite.main = lambda: print('importable main:', suite.Method.__module__)\n"
        "sys.argv = ['suite', '--help']\n"
        "runpy.run_module('benchmarks.suite', run_name='__main__', alter_sys=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "importable main: benchmarks.suite"


class _ThreadProbe(suite.Method):
    """A column that records the threads its fit sees, then learns the identity."""

    def fit_transformer(self, X, y, seed, time_limit, threads=None):
        import numba
        from threadpoolctl import threadpool_info

        # numba's threads, the largest BLAS / OpenMP pool, the metric-learn interpreter's threads
        self.record = (numba.get_num_threads(), max(p["num_threads"] for p in threadpool_info()), threads)
        return (lambda Z: Z), 0.0, 0


def test_every_cell_runs_with_the_runs_thread_count():
    """Reference implementations give different results with different thread counts
    (serial_vs_dask.md: scikit-learn's NCA, metric-learn's NCA and SCML), so a cell runs
    with the same BLAS, OpenMP and numba threads serially as on a Dask worker, its
    metric-learn interpreter too, and the process's limits are restored afterwards."""
    import numba
    from threadpoolctl import threadpool_info

    before = (numba.get_num_threads(), [p["num_threads"] for p in threadpool_info()])
    splits = [("split0", np.zeros((4, 2)), np.arange(4) % 2, np.zeros((2, 2)), np.arange(2))]
    probe = _ThreadProbe("probe", "shallowml")
    for threads in (1, 2):
        probe.record = None
        row = _cells.run_cell(splits, probe, 0, None, 60.0, lambda *a: dict.fromkeys(_cells.SCORES, 0.0),
                              threads=threads)
        assert row["status"] == "ok"
        assert probe.record == (min(threads, numba.config.NUMBA_NUM_THREADS), threads, threads)
    assert (numba.get_num_threads(), [p["num_threads"] for p in threadpool_info()]) == before


def test_the_reference_interpreter_starts_with_the_cell_threads(monkeypatch):
    """The metric-learn interpreter is started with the cell's OpenMP / BLAS threads, kept
    for cells with the same count and restarted for another (a stand-in interpreter
    answers every job with its process id and thread variables)."""
    from benchmarks import _reference

    stand_in = ("import json, os, sys\n"
                "print(json.dumps({'ready': 'stand-in'}), flush=True)\n"
                "for line in sys.stdin:\n"
                "    env = [os.environ.get(k, '') for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS')]\n"
                "    print(json.dumps({'error': f'{os.getpid()} ' + '/'.join(env)}), flush=True)\n")
    monkeypatch.setattr(_reference, "reference_python", lambda: sys.executable)
    monkeypatch.setattr(suite, "_ML_WORKER", stand_in)
    worker = suite.ReferenceWorker()

    def answer(threads):
        with pytest.raises(RuntimeError) as err:
            worker.fit("NCA", {}, np.zeros((2, 2)), np.arange(2), timeout=60, threads=threads)
        pid, env = str(err.value).rsplit(": ", 1)[1].split()
        return pid, env

    try:
        first = answer(1)
        assert first[1] == "1/1" and answer(1) == first  # same interpreter for the same count
        second = answer(3)
        assert second[1] == "3/3" and second[0] != first[0]
    finally:
        worker.close()


def test_compare_cells_reports_every_differing_cell(tmp_path, capsys):
    from benchmarks import compare_cells

    row = {"method": "LMNN", "source": "shallowml", "split": "seed0", "split_index": 0, "n_fit": 10,
           **dict.fromkeys(_cells.SCORES, 0.5), "fit_time": 1.0, "convergence_warnings": 0, "status": "ok"}
    paths = []
    for name, error, status in (("a", 0.5, "timeout: FitTimeout: fit exceeded 120 s"),
                                ("b", 0.5, "timeout: TimeoutError: reference fit exceeded 120 s (killed)"),
                                ("c", 0.25, "timeout: FitTimeout: fit exceeded 120 s")):
        log = _cells.CellLog(tmp_path / f"{name}.csv")
        log.add("iris", dict(row, fit_time=float(len(paths))))  # fit times may differ
        log.add("iris", dict(row, method="NCA", error=error, status=status))
        paths.append(str(log.path))
    assert compare_cells.main(paths[:2]) == 0  # two time-outs are equal whatever their message
    assert "identical: 2; differing: 0" in capsys.readouterr().out
    assert compare_cells.main([paths[0], paths[2]]) == 1
    assert "differs: iris NCA 0 {'error': ('0.5', '0.25')}" in capsys.readouterr().out
