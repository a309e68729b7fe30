"""How the defaults of NCA's stochastic mode were chosen (reproducible study).

Question: which ``learning_rate``, ``n_candidates`` and step-size schedule
should ``NCA(batch_size=...)`` use when the user sets nothing else, so that
the stochastic mode reaches full NCA's 3-NN error (within one point) in a
fraction of its time (issue 14, item 1)?

Datasets: ``large`` exactly as in :mod:`benchmarks.bench_nca`
(``make_classification(30000, 50, n_informative=10, 10 classes)``, 70 %
stratified training part, raw features) and the UCI sets where a stochastic
mode is plausible (several thousand training samples): letter, pendigits,
satimage, optdigits (``$SHALLOWML_DATA``, official splits, letter's first
16000 rows as in :mod:`benchmarks.suite`; a ``StandardScaler`` fitted on the
training part).

For each dataset, full NCA (``NCA()``, L-BFGS with its defaults) is fitted
once; then every configuration of the grid (``learning_rate`` x
``n_candidates`` x ``batch_size`` x ``learning_rate_schedule``; ``max_iter``
and ``tol`` the estimator's defaults) with ``random_state`` = each of
``--seeds`` seeds. Every fit is timed in this process (wall clock, after a
warm-up fit that loads the numba kernels from the disk cache), one after the
other, so all time ratios are within one run on the same (shared, busy)
machine; the load average is recorded before and after each dataset. Reported
per configuration and dataset: the 3-NN test error minus full NCA's (in
points, i.e. percentage points), worst and mean over the seeds, and the fit
time as a fraction of full NCA's.

Selection rule (applied by :func:`select`): a configuration *meets* the
target on a dataset when its 3-NN error is within one point of full NCA's for
every seed (worst seed) in at most half of full NCA's time (mean over the
seeds). Only ``learning_rate``, ``n_candidates`` and the schedule are defaults
(``batch_size`` is the user's choice, the one value that turns the mode
on), so a default must hold whatever the batch size: each *family* (a
learning rate, a number of candidates, a schedule) is scored over all its
cells, the (dataset, batch size) pairs measured. Families measured on every
dataset are ranked by the number of cells met (their *wins*; *losses* the
rest), ties broken by the smallest mean time fraction over the cells; the
first is the default. Families not measured on every dataset (the grid was
narrowed on the smaller sets after ``large`` and letter, to keep the study
within an hour on the shared machine) are listed after the ranked ones.

Run: ``python -m benchmarks.nca_sgd_defaults [--datasets large letter ...]
[--seeds 2] [--learning-rates 0.001 0.003 0.01] [--candidates 1024 2048
4096] [--batch-sizes 256 512] [--schedules constant cosine] [--out
nca_sgd_defaults]``; the raw results go to
``docs/benchmark_results/<out>.json`` and the tables to ``<out>.md``.
``--summarize FILE.json [...] [--out NAME]`` recomputes the tables from saved
raw results (several files from separate invocations, one per dataset here,
are merged; each dataset keeps the full-NCA reference of its own run, so
every ratio stays within one run).
"""

import argparse
import itertools
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from benchmarks import datasets as ds
from benchmarks._measure import RESULTS, knn_error, load_average, machine_state, write_results
from benchmarks.bench_nca import load_dataset
from benchmarks.suite import ROW_SPLITS
from shallowml import NCA

DATASETS = ("large", "letter", "pendigits", "satimage", "optdigits")
TARGET_POINTS = 1.0
TIME_CAP = 0.5


def load(name, folder=None):
    """``(X_train, y_train, X_test, y_test)``: 'large' as in bench_nca, UCI sets standardised."""
    if name == "large":
        return load_dataset("large")
    X, y, X_test, y_test = ds.load(name, ds.data_folder(folder))
    if X_test is None:
        n = ROW_SPLITS[name]
        X, y, X_test, y_test = X[:n], y[:n], X[n:], y[n:]
    scaler = StandardScaler().fit(X)
    return scaler.transform(X), y, scaler.transform(X_test), y_test


def config_name(c):
    return f"lr={c['learning_rate']:g} cand={c['n_candidates']} bs={c['batch_size']} {c['learning_rate_schedule']}"


def fit_timed(params, X, y):
    est = NCA(**params)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est, time.perf_counter() - t0


def warm_up():
    """Load every kernel both modes use (disk cache), so no fit below pays for it."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(300, 5), rng.randint(0, 3, 300)
    fit_timed({"max_iter": 3}, X, y)
    fit_timed({"max_iter": 2, "batch_size": 64, "n_candidates": 100}, X, y)
    fit_timed({"max_iter": 2, "batch_size": 64}, X, y)


def study(names, configs, seeds, folder=None, out=None):
    """Fit everything; return the raw record (and write it after every dataset when ``out``)."""
    record = {"machine": machine_state(), "seeds": list(seeds), "configs": configs, "datasets": {}}
    warm_up()
    for name in names:
        X, y, X_test, y_test = load(name, folder)
        load_before = load_average()
        full, full_time = fit_timed({}, X, y)
        full_err = knn_error(full.components_, X, y, X_test, y_test)
        entry = {"n_train": X.shape[0], "n_features": X.shape[1], "full": {
            "error": full_err, "fit_time": full_time, "n_iter": full.n_iter_}, "runs": []}
        print(f"{name}: n={X.shape[0]} d={X.shape[1]} full NCA 3-NN error {full_err:.4f} in {full_time:.1f} s "
              f"({full.n_iter_} iterations), load {load_before:.2f}", flush=True)
        for c in configs:
            for seed in seeds:
                est, t = fit_timed(dict(c, random_state=seed), X, y)
                err = knn_error(est.components_, X, y, X_test, y_test)
                entry["runs"].append(dict(c, seed=seed, error=err, fit_time=t, n_iter=est.n_iter_))
                print(f"  {config_name(c):40s} seed {seed}: error {err:.4f} ({100 * (err - full_err):+.2f} pts) "
                      f"time {t:6.1f} s = {t / full_time:5.1%} of full, {est.n_iter_} epochs", flush=True)
        entry["load_before"], entry["load_after"] = load_before, load_average()
        record["datasets"][name] = entry
        if out:
            write_results(out, record)
    return record


def per_config(record):
    """``{config name: {dataset: (worst pts, mean pts, mean time fraction, seeds)}}``."""
    table = {}
    for name, entry in record["datasets"].items():
        full = entry["full"]
        groups = {}
        for r in entry["runs"]:
            c = {k: r[k] for k in ("learning_rate", "n_candidates", "batch_size", "learning_rate_schedule")}
            groups.setdefault(config_name(c), []).append(r)
        for cname, runs in groups.items():
            pts = [100 * (r["error"] - full["error"]) for r in runs]
            frac = [r["fit_time"] / full["fit_time"] for r in runs]
            table.setdefault(cname, {})[name] = (max(pts), float(np.mean(pts)), float(np.mean(frac)), len(runs))
    return table


def met(cell):
    """``cell`` = (worst pts, mean pts, mean time fraction, seeds): within one point in at most TIME_CAP."""
    return cell[0] <= TARGET_POINTS and cell[2] <= TIME_CAP


def family(cname):
    """The defaults a configuration stands for: its name without the batch size."""
    return " ".join(w for w in cname.split() if not w.startswith("bs="))


def select(table, names):
    """The documented rule: ``(families ranked, families not measured on every dataset)``.

    A family (learning rate, candidates, schedule) is scored over its cells,
    the (dataset, batch size) pairs measured: cells met, then the mean time
    fraction over the cells.
    """
    cells = {}
    for cname, rows in table.items():
        for n, cell in rows.items():
            cells.setdefault(family(cname), {})[(n, cname)] = cell

    def key(fam):
        c = cells[fam].values()
        return (-sum(met(x) for x in c), float(np.mean([x[2] for x in c])), fam)
    complete = [f for f in cells if all(any(k[0] == n for k in cells[f]) for n in names)]
    ranked = sorted(complete, key=key)
    others = sorted((f for f in cells if f not in complete), key=key)
    return ranked, others


def to_markdown(record, command=""):
    names = list(record["datasets"])
    table = per_config(record)
    ranked, others = select(table, names)
    m = record["machine"]
    lines = [f"`{command}`" if command else "", "",
             f"Run {m['date']}; shallowml {m['shallowml']}, scikit-learn {m['scikit-learn']}, numba {m['numba']}, "
             f"{m['cpu_count']} cores (shared; load average {m['load_average_1min']:.2f} at the start). "
             f"Seeds {record['seeds']}. All fits timed in one process, one after the other: time ratios are "
             "within this run.", "",
             "Full NCA (defaults, L-BFGS):", "",
             "| dataset | n train | d | 3-NN error | fit s | iterations | load before-after |",
             "|---|---|---|---|---|---|---|"]
    for n in names:
        e = record["datasets"][n]
        lines.append(f"| {n} | {e['n_train']} | {e['n_features']} | {e['full']['error']:.4f} | "
                     f"{e['full']['fit_time']:.1f} | {e['full']['n_iter']} | "
                     f"{e['load_before']:.1f}-{e['load_after']:.1f} |")
    lines += ["", "Stochastic mode, per configuration, grouped by the defaults they stand for (learning rate, "
              "candidates, schedule) in the order of the rule of the script's docstring: 3-NN error minus full "
              "NCA's in points, worst seed / mean over seeds, and the fit time as a fraction of full NCA's (mean "
              "over seeds). A cell is *met* when it is within one point for every seed, in at most half of full "
              "NCA's time; *met* counts the family's cells (datasets x batch sizes). Rank '-': not measured on "
              "every dataset (not ranked).", "",
              "| rank | configuration | met (family) | " + " | ".join(names) + " | mean time fraction |",
              "|---|---|---|" + "---|" * len(names) + "---|"]
    for i, fam in enumerate(ranked + others, 1):
        members = sorted(c for c in table if family(c) == fam)
        fam_cells = [table[c][n] for c in members for n in names if n in table[c]]
        n_met = f"{sum(met(x) for x in fam_cells)}/{len(fam_cells)}"
        rank = str(i) if fam in ranked else "-"
        for cname in members:
            rows = table[cname]
            cells = [f"{rows[n][0]:+.2f} / {rows[n][1]:+.2f}, {rows[n][2]:.0%}" if n in rows else "-"
                     for n in names]
            frac = np.mean([rows[n][2] for n in names if n in rows])
            lines.append(f"| {rank} | {cname} | {n_met} | " + " | ".join(cells) + f" | {frac:.0%} |")
    if ranked:
        lines += ["", f"Chosen by the rule: **{ranked[0]}**."]
    return "\n".join(lines) + "\n"


def merge(records):
    """One record from several runs (datasets of later files added; runs of a dataset concatenated)."""
    out = json.loads(json.dumps(records[0]))
    for rec in records[1:]:
        for name, entry in rec["datasets"].items():
            if name not in out["datasets"]:
                out["datasets"][name] = entry
            else:  # the same dataset, more configurations: keep both runs' own full-NCA reference
                base = out["datasets"][name]
                scale = base["full"]["fit_time"] / entry["full"]["fit_time"]
                shift = base["full"]["error"] - entry["full"]["error"]
                for r in entry["runs"]:
                    base["runs"].append(dict(r, fit_time=r["fit_time"] * scale, error=r["error"] + shift))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.001, 0.003, 0.01])
    parser.add_argument("--candidates", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--schedules", nargs="+", default=["constant", "cosine"])
    parser.add_argument("--data", default=None, help="UCI folder (default: $SHALLOWML_DATA or ../shared/uci)")
    parser.add_argument("--out", default=None, help="write docs/benchmark_results/OUT.json and OUT.md")
    parser.add_argument("--summarize", nargs="+", help="tables from saved raw JSON files (no fitting)")
    args = parser.parse_args(argv)
    if args.summarize:
        record = merge([json.loads(Path(p).read_text()) for p in args.summarize])
        record["merged_from"] = [Path(p).name for p in args.summarize]
        command = "python -m benchmarks.nca_sgd_defaults " + " ".join(
            argv if argv is not None else __import__("sys").argv[1:])
        md = to_markdown(record, command)
        md += "".join(f"\nMerged from `{name}` (run {json.loads(Path(p).read_text())['machine']['date']}, "
                      f"load {json.loads(Path(p).read_text())['machine']['load_average_1min']:.2f} at its start)."
                      for p, name in zip(args.summarize, record["merged_from"]))
        print(md)
        if args.out:
            write_results(args.out, record, md + "\n")
        return record
    configs = [dict(learning_rate=lr, n_candidates=nc, batch_size=bs, learning_rate_schedule=s)
               for s, lr, nc, bs in itertools.product(args.schedules, args.learning_rates, args.candidates,
                                                      args.batch_sizes)]
    t0 = time.perf_counter()
    record = study(args.datasets, configs, list(range(args.seeds)), args.data, args.out)
    record["total_seconds"] = time.perf_counter() - t0
    record["load_at_end"] = load_average()
    command = "python -m benchmarks.nca_sgd_defaults " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    md = to_markdown(record, command)
    print(md)
    if args.out:
        write_results(args.out, record, md)
        print(f"wrote {RESULTS / args.out}.json and .md")
    return record


if __name__ == "__main__":
    main()
