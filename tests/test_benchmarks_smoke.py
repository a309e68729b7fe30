"""Smoke test of the benchmark suite (``python -m benchmarks.suite --smoke``)."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

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
    for name in ("results.md", "results.csv", "runs.csv", "error_table.csv", "retrieval_table.csv", "errors.png",
                 "map_at_r.png", "speedup.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "few_shot.csv").exists()  # no dataset with 10 classes
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
    for r in rows:  # the retrieval columns
        assert 0.0 < float(r["map_at_r_mean"]) <= float(r["r_precision_mean"]) + 0.1 <= 1.1, r
        assert float(r["map_at_r_mean"]) <= float(r["p_at_1_mean"]) <= 1.0, r
    # LDA ranks whole classes near each other much better than the Euclidean distance (MAP@R)
    assert float(cell[("wine", "LDA")]["map_at_r_mean"]) > float(cell[("wine", "Euclidean")]["map_at_r_mean"]) + 0.1
    md = (tmp_path / "results.md").read_text()
    assert "| iris | 105 | 4 | 70/30 |" in md
    assert "### MAP@R of the embedded test part, leave-one-out" in md and "| iris | 45 | 70/30 |" in md
    with open(tmp_path / "retrieval_table.csv") as fh:
        table = {(r["dataset"], r["score"]): r for r in csv.DictReader(fh)}
    assert [s for d, s in table if d == "iris"] == ["3-NN error", "P@1", "R-precision", "MAP@R"]
    assert table[("iris", "MAP@R")]["LDA"] == (f"{float(cell[('iris', 'LDA')]['map_at_r_mean']):.3f} ± "
                                               f"{float(cell[('iris', 'LDA')]['map_at_r_std']):.3f}")
    assert table[("wine", "P@1")]["n_test"] == "54" and table[("wine", "3-NN error")]["RCA"].startswith("0.")
    with open(tmp_path / "runs.csv") as fh:
        run_rows = list(csv.DictReader(fh))
    assert len(run_rows) == 2 * len(rows)
    # a run's MAP@R is the leave-one-out MAP@R of that split's standardised test part
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from shallowml.metrics import map_at_r, precision_at_1

    X, y = load_wine(return_X_y=True)
    Xtr, Xte, _, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=1)
    Zte = StandardScaler().fit(Xtr).transform(Xte)
    euclid = next(r for r in run_rows if (r["dataset"], r["method"], r["split"]) == ("wine", "Euclidean", "seed1"))
    assert float(euclid["map_at_r"]) == pytest.approx(map_at_r(Zte, yte), rel=1e-5)
    assert float(euclid["p_at_1"]) == pytest.approx(precision_at_1(Zte, yte), rel=1e-5)

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
        def fit_transformer(self, X, y, seed, time_limit, threads=None):
            raise RuntimeError("boom")

    runs, summary, _ = suite.run(["iris"], [suite.Method("Euclidean", "baseline"), Broken("broken", "shallowml")],
                                 seeds=1)
    assert summary[0]["status"] == "ok" and summary[1]["status"].startswith("failed: RuntimeError: boom")
    assert np.isnan(summary[1]["error_mean"])
    md = suite.format_markdown(summary, _)
    assert "| iris | 105 | 4 | 70/30 | 0.022 | fail |" in md.replace("**", "")


def test_in_process_fits_stop_at_the_time_limit():
    """Every iterative in-process column (shallowml's and scikit-learn's NCA) is stopped by its
    callback once a fit runs past the limit, and the cell says so, as a killed reference fit does."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:600])
    y = y[:600]
    methods = [m for m in suite.shallowml_methods() + suite.reference_methods([], "sklearn")
               if "callback" in (m.estimator.get_params() if m.estimator is not None else {})]
    assert {"LMNN", "NCA", "sklearn-NCA", "ITML_Supervised"} <= {m.name for m in methods}
    for m in methods:
        with pytest.raises(suite.FitTimeout, match="exceeded 0 s"):
            m.fit_transformer(X, y, 0, 0.0)
    splits = [("split0", X[:400], y[:400], X[400:], y[400:])]
    row = suite._cells.run_cell(splits, methods[0], 0, None, 0.0, suite._evaluate)
    assert row["status"].startswith("timeout: FitTimeout")


@pytest.mark.slow
def test_few_shot_table_on_digits(tmp_path):
    summary = suite.main(["--datasets", "digits", "--seeds", "2", "--estimators", "LDA", "--reference", "none",
                          "--episodes", "50", "--out", str(tmp_path)])
    assert {r["method"] for r in summary} == {"Euclidean", "LDA"}
    for name in ("few_shot.csv", "few_shot_runs.csv", "few_shot_table.csv", "few_shot.png", "map_at_r.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    with open(tmp_path / "few_shot.csv") as fh:
        few = list(csv.DictReader(fh))
    assert [(r["method"], r["k_shot"]) for r in few] == [("Euclidean", "1"), ("Euclidean", "5"), ("LDA", "1"),
                                                         ("LDA", "5")]
    for r in few:
        assert r["status"] == "ok" and r["n_splits"] == "2" and r["train_classes"] == r["test_classes"] == "5"
        assert 0.3 < float(r["accuracy_mean"]) < 1.0
    cell = {(r["method"], r["k_shot"]): float(r["accuracy_mean"]) for r in few}
    assert cell[("Euclidean", "5")] > cell[("Euclidean", "1")]
    # the Euclidean cell by hand: held-out classes of the first split, scaler fitted on the others
    from shallowml.evaluation import few_shot_accuracy

    X, y = load_digits(return_X_y=True)
    train, test = suite.few_shot_split(y, 0, n_needed=20)
    Z = StandardScaler().fit(X[train]).transform(X[test])
    with open(tmp_path / "few_shot_runs.csv") as fh:
        first = next(r for r in csv.DictReader(fh) if (r["method"], r["split"], r["k_shot"]) == ("Euclidean",
                                                                                              "classes0", "1"))
    acc, ci = few_shot_accuracy(None, Z, y[test], n_way=5, k_shot=1, n_query=15, n_episodes=50, random_state=0)
    assert float(first["accuracy"]) == pytest.approx(acc, rel=1e-5)
    md = (tmp_path / "results.md").read_text()
    assert "### Few-shot accuracy on held-out classes: 5-way" in md and "| digits | 5 / 5 | 5-way 1-shot |" in md


def test_few_shot_split_holds_out_classes_with_enough_samples():
    y = np.repeat(np.arange(12), [50] * 10 + [5, 8])
    train, test = suite.few_shot_split(y, 3, n_needed=20)
    held = np.unique(y[test])
    assert held.size == 6 and held.max() < 10 and np.intersect1d(held, y[train]).size == 0
    assert np.array_equal(suite.few_shot_split(y, 3, n_needed=20)[1], test)
    assert suite.few_shot_split(np.repeat(np.arange(10), [30] * 4 + [5] * 6), 0, n_needed=20) is None


def test_versus_table_counts_datasets_and_speedups():
    def r(d, m, err, t, status="ok"):
        return {"dataset": d, "method": m, "source": "metric-learn" if m.startswith("ml-") else "shallowml",
                "error_mean": err, "fit_time_mean": t, "n_fit": 100, "status": status}

    summary = [r("a", "LMNN", 0.100, 1.0), r("a", "ml-LMNN", 0.120, 10.0),   # lower error, 10x
               r("b", "LMNN", 0.200, 2.0), r("b", "ml-LMNN", 0.203, 4.0),    # same (within 0.005), 2x
               r("c", "LMNN", 0.300, 1.0), r("c", "ml-LMNN", 0.250, 40.0),   # higher, 40x
               r("d", "LMNN", 0.300, 1.0), r("d", "ml-LMNN", float("nan"), float("nan"), "failed: X"),
               r("e", "LMNN", 0.3, 200.0, "time limit: 1/5 splits"), r("e", "ml-LMNN", 0.3, 1.0),
               r("a", "LDA", 0.1, 0.1)]  # no reference: no row
    (row,) = suite.versus_table(summary)
    assert (row["shallowml"], row["reference"], row["both_finished"]) == ("LMNN", "ml-LMNN", 3)
    assert (row["lower_error"], row["same_error"], row["higher_error"]) == (1, 1, 1)
    assert (row["only_shallowml_finished"], row["only_reference_finished"]) == (1, 1)
    assert (row["median_speedup"], row["min_speedup"], row["max_speedup"]) == (10.0, 2.0, 40.0)
    assert "| LMNN | ml-LMNN | 3 | 1 | 1 | 1 | 1 | 1 | 10x (2-40) |" in suite._versus_markdown(summary)


def test_speedup_is_only_a_like_for_like_ratio():
    def r(t, n_fit=100):
        return {"fit_time_mean": t, "n_fit": n_fit}

    assert suite.speedup(r(10.0), r(2.0)) == 5.0
    assert np.isnan(suite.speedup(r(10.0), r(2.0, n_fit=50)))  # learned on different samples
    assert np.isnan(suite.speedup(r(10.0), r(0.0)))
    assert np.isnan(suite.speedup(r(float("nan")), r(2.0)))
    assert np.isnan(suite.speedup(None, r(2.0)))


def test_beats_euclidean_counts_datasets_where_the_best_shallowml_column_wins():
    def r(d, m, source, err):
        return {"dataset": d, "method": m, "source": source, "error_mean": err}

    summary = [r("a", "Euclidean", "baseline", 0.2), r("a", "LDA", "shallowml", 0.3), r("a", "NCA", "shallowml", 0.1),
               r("b", "Euclidean", "baseline", 0.2), r("b", "LDA", "shallowml", 0.2),  # a tie is not lower
               r("b", "ml-LMNN", "metric-learn", 0.1),  # a reference's win does not count
               r("c", "Euclidean", "baseline", 0.2), r("c", "NCA", "shallowml", float("nan"))]  # no result
    assert suite.beats_euclidean(summary) == (1, 2)


def test_old_results_without_retrieval_columns_are_read_and_merged(tmp_path):
    # the committed full run predates the retrieval columns (only columns re-measured
    # since, merged into it, have them); an old-format file is read and merged too
    old_dir = ROOT / "docs" / "benchmark_results"
    for name in ("results.csv", "error_table.csv"):
        (tmp_path / name).write_bytes((old_dir / name).read_bytes())
    old, facts = suite.read_results(tmp_path)
    assert any(np.isnan(r["map_at_r_mean"]) for r in old)
    keep = [k for k in old[0] if not k.startswith(("p_at_1", "r_precision", "map_at_r"))]
    suite.write_csv(tmp_path / "results.csv", [{k: r[k] for k in keep} for r in old])  # the old format
    old, facts = suite.read_results(tmp_path)
    assert np.isnan(old[0]["map_at_r_mean"]) and np.isfinite(old[0]["error_mean"])
    fresh = dict(old[0], map_at_r_mean=0.5, map_at_r_std=0.01, p_at_1_mean=0.9, p_at_1_std=0.0,
                 r_precision_mean=0.6, r_precision_std=0.0)
    merged = suite.merge_results(old, [fresh])
    assert len(merged) == len(old) and merged[0]["map_at_r_mean"] == 0.5
    assert all(list(r) == list(fresh) for r in merged)  # one column order for the CSV
    table = suite.retrieval_table(merged, {"datasets": facts})
    assert table[0][fresh["method"]] == "0.500 ± 0.010" and table[0]["n_test"] == "-"
    assert table[0][old[1]["method"]] == "-"  # not measured yet


def test_fresh_process_children_import_the_parents_shallowml(monkeypatch, tmp_path):
    """The children run in a temporary directory: a relative PYTHONPATH (as from a git worktree)
    must not make them import another copy of shallowml than the one being measured."""
    import subprocess

    import shallowml
    from benchmarks import _measure

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", ".")
    env = _measure._env()
    assert all(Path(p).is_absolute() for p in env["PYTHONPATH"].split(":"))
    out = subprocess.run([sys.executable, "-c", "import shallowml; print(shallowml.__file__)"], env=env,
                         cwd="/", capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out).resolve() == Path(shallowml.__file__).resolve()
