"""Smoke test of the benchmark suite (``python -m benchmarks.suite --smoke``)."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is a package at the repository root
    sys.path.insert(0, str(ROOT))

from benchmarks import suite  # noqa: E402


@pytest.mark.slow
def test_smoke_suite_writes_sane_results(tmp_path):
    # bundled data only, so the test does not depend on the UCI folder; a few
    # closed-form estimators, so it costs seconds (the iterative ones have their own tests)
    summary = suite.main(["--smoke", "--datasets", "iris", "wine", "--seeds", "2",
                          "--estimators", "LDA", "LFDA", "RCA", "sklearn-NCA",
                          "--reference", "sklearn", "--out", str(tmp_path)])
    for name in ("results.md", "results.csv", "runs.csv", "error_table.csv", "errors.png", "speedup.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    with open(tmp_path / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{k: (f"{v:.6g}" if isinstance(v, float) else str(v)) for k, v in r.items()}
                    for r in summary]
    cell = {(r["dataset"], r["method"]): r for r in rows}
    methods = {r["method"] for r in rows}
    assert methods == {"Euclidean", "LDA", "LFDA", "RCA", "sklearn-NCA"}
    for r in rows:
        assert r["status"] == "ok", r
        assert int(r["n_splits"]) == 2
        assert 0.0 <= float(r["error_mean"]) <= 0.5, r
    assert float(cell[("iris", "LDA")]["error_mean"]) < 0.1
    assert float(cell[("wine", "Euclidean")]["error_mean"]) < 0.15
    md = (tmp_path / "results.md").read_text()
    assert "| iris | 105 | 4 | 70/30 |" in md
    with open(tmp_path / "runs.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2 * len(rows)

    # re-run one column on one dataset and merge it into the first run's folder
    again = tmp_path / "again"
    suite.main(["--datasets", "iris", "--seeds", "2", "--estimators", "LDA", "--reference", "none",
                "--no-plots", "--out", str(again), "--merge-into", str(tmp_path)])
    with open(tmp_path / "results.csv") as fh:
        merged = list(csv.DictReader(fh))
    assert [(r["dataset"], r["method"]) for r in merged] == [(r["dataset"], r["method"]) for r in rows]
    with open(again / "results.csv") as fh:
        fresh = {(r["dataset"], r["method"]): r for r in csv.DictReader(fh)}
    for r in merged:  # measured again: the new row; otherwise the old one
        assert r == fresh.get((r["dataset"], r["method"]), cell[(r["dataset"], r["method"])])
    summary_again, facts = suite.read_results(tmp_path)
    assert facts["wine"] == {"n_train": 124, "n_features": 13, "split": "70/30"}
    assert isinstance(summary_again[0]["error_mean"], float) and summary_again[0]["n_splits"] == 2


def test_splits_and_subsample():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.repeat([0, 1], 50)
    splits = list(suite.iter_splits("toy", X, y, None, None, seeds=3))
    assert [s[0] for s in splits] == ["seed0", "seed1", "seed2"]
    assert all(s[1].shape == (70, 2) and s[3].shape == (30, 2) for s in splits)
    assert np.bincount(splits[0][2]).tolist() == [35, 35]
    # official split: one split, test part untouched
    (label, Xtr, _, Xte, _), = suite.iter_splits("toy", X[:60], y[:60], X[60:], y[60:], seeds=3)
    assert label == "official" and Xtr.shape[0] == 60 and Xte.shape[0] == 40
    # letter-style row split
    big = np.zeros((20000, 1))
    (_, Xtr, _, Xte, _), = suite.iter_splits("letter", big, np.zeros(20000), None, None, seeds=5)
    assert (Xtr.shape[0], Xte.shape[0]) == (16000, 4000)
    Xs, ys = suite.subsample(X, y, 20, seed=0)
    assert Xs.shape == (20, 2) and np.bincount(ys).tolist() == [10, 10]
    assert suite.subsample(X, y, None, seed=0)[0] is X


def test_missing_uci_folder_is_skipped(tmp_path, capsys, monkeypatch):
    # no folder anywhere: not the argument, not $SHALLOWML_DATA, not ../shared/uci beside the repo
    from benchmarks import datasets

    monkeypatch.setenv("SHALLOWML_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(datasets, "__file__", str(tmp_path / "repo" / "benchmarks" / "datasets.py"))
    assert datasets.data_folder(str(tmp_path / "nowhere")) is None
    loaded = list(suite.load_datasets(["iris", "glass"], folder=str(tmp_path / "nowhere")))
    assert [d[0] for d in loaded] == ["iris"]  # bundled data still load
    assert "UCI data folder not found" in capsys.readouterr().err


def test_uci_folder_is_found_and_read(uci):
    loaded = list(suite.load_datasets(["glass"], folder=str(uci)))
    assert [d[0] for d in loaded] == ["glass"] and loaded[0][1].shape[1] == 9


def test_failing_method_is_reported_not_raised():
    class Broken(suite.Method):
        def fit_transformer(self, X, y, seed, time_limit):
            raise RuntimeError("boom")

    runs, summary, _ = suite.run(["iris"], [suite.Method("Euclidean", "baseline"), Broken("broken", "shallowml")],
                                 seeds=1)
    assert summary[0]["status"] == "ok" and summary[1]["status"].startswith("failed: RuntimeError: boom")
    assert np.isnan(summary[1]["error_mean"])
    md = suite.format_markdown(summary, _)
    assert "| iris | 105 | 4 | 70/30 | 0.022 | fail |" in md.replace("**", "")
