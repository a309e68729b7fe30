"""How LinearSiamese_Supervised's defaults were chosen (reproducible study).

Protocol of :mod:`benchmarks.suite` on its 20 datasets: the official split,
or ``--seeds`` stratified 70/30 splits; a StandardScaler fitted on the
training part; the metric learned on a stratified subsample of at most
``--max-train`` training points (1000, the cap of the published suite run, to
keep the whole study within about 20 minutes on 2 cores); the 3-NN test
error with the whole training part as reference set. Each configuration of
:data:`CONFIGS` is fitted with ``random_state=seed`` on the same splits.

For every configuration it prints the mean 3-NN error minus the Euclidean
one, on how many datasets the learned metric is better / worse than
Euclidean, on how many it is worse by more than one standard deviation of
the Euclidean error over the splits (0 for a single official split: any
loss counts), whether digits and pendigits are at or below Euclidean, and
the mean fit time. ``old-default`` is the former default (contrastive loss,
``init='auto'``, no early stopping, no weight decay); the others start from
the identity (the Euclidean metric of the standardised inputs) with early
stopping on 10 % held-out samples or pairs, which keeps the starting map
unless the validation loss improves. The grid was narrowed by earlier
screening runs of this script on subsets (learning rate 0.001 and weight
decay <= 0.01 hurt on most of the large official-split sets).

Run: ``python -m benchmarks.siamese_defaults [--seeds 3] [--max-train 1000]
[--configs NAME ...] [--datasets iris wine ...]``.
"""

import argparse
import datetime
import os
import platform
import time
import warnings
from collections import defaultdict

import numpy as np
import sklearn
from sklearn.preprocessing import StandardScaler

from benchmarks.suite import ALL_DATASETS, iter_splits, knn_error, load_datasets, subsample
from shallowml import LinearSiamese_Supervised, __version__

# name -> parameters of LinearSiamese_Supervised (everything else: the class defaults of
# this run, spelled out in FIXED so that the study does not change when the defaults do)
FIXED = dict(n_components=None, learning_rate=0.01, batch_size=64, max_iter=100, tol=1e-4,
             n_iter_no_change=10, validation_fraction=0.1)
OLD = dict(loss="contrastive", init="auto", early_stopping=False, weight_decay=0.0)
ES = dict(init="identity", early_stopping=True)
CONFIGS = {
    "old-default": OLD,
    "contrastive-wd0.3": dict(ES, loss="contrastive", weight_decay=0.3),
    "koch-wd0.3": dict(ES, loss="koch", weight_decay=0.3),
    "triplet-bh": dict(ES, loss="triplet", weight_decay=0.0),
    "triplet-bh-wd0.3": dict(ES, loss="triplet", weight_decay=0.3),
    "triplet-semihard-wd0.3": dict(ES, loss="triplet", mining="semi_hard", weight_decay=0.3),
    "softtriplet-bh-wd0.3": dict(ES, loss="soft_triplet", weight_decay=0.3),
    "npair-wd0.3": dict(ES, loss="npair", weight_decay=0.3),
    "multisim-wd0.3": dict(ES, loss="multi_similarity", weight_decay=0.3),
    "proxynca-wd0.1": dict(ES, loss="proxy_nca", weight_decay=0.1),
    "proxynca-wd0.3": dict(ES, loss="proxy_nca", weight_decay=0.3),
    "proxynca-wd1": dict(ES, loss="proxy_nca", weight_decay=1.0),
    "proxynca-wd0.3-noES": dict(ES, loss="proxy_nca", weight_decay=0.3, early_stopping=False),
    "proxynca-wd0.3-init-auto": dict(ES, loss="proxy_nca", weight_decay=0.3, init="auto"),
}


def study(names, configs, seeds=3, max_train=1000, folder=None):
    """Return ``{config: {dataset: [(err, euclid, seconds), ...]}}``, printing a row per split."""
    out = defaultdict(lambda: defaultdict(list))
    for name, X, y, X_test, y_test in load_datasets(names, folder):
        for label, Xtr, ytr, Xte, yte in iter_splits(name, X, y, X_test, y_test, seeds):
            seed = int(label[4:]) if label.startswith("seed") else 0
            scaler = StandardScaler().fit(Xtr)
            Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
            Xf, yf = subsample(Xtr, ytr, max_train, seed)
            euclid = knn_error(Xtr, ytr, Xte, yte)
            row = [f"{name:14s} {label:8s} n_fit {Xf.shape[0]:5d} Euclidean {euclid:.4f}"]
            for cname in configs:
                est = LinearSiamese_Supervised(random_state=seed, **dict(FIXED, **CONFIGS[cname]))
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(Xf, yf)
                elapsed = time.perf_counter() - t0
                err = knn_error(est.transform(Xtr), ytr, est.transform(Xte), yte)
                out[cname][name].append((err, euclid, elapsed))
                row.append(f"{cname} {err:.4f} ({est.n_iter_} ep)")
            print(" | ".join(row), flush=True)
    return out


def summarize(out):
    """One line per configuration; returns ``{config: (better, worse, worse_1sd)}``."""
    print(f"\n{'configuration':28s} {'mean err-Euclid':>15s} {'better':>7s} {'worse':>6s} {'worse>1sd':>9s} "
          f"{'digits':>7s} {'pendig':>7s} {'fit [s]':>8s}  worse>1sd on")
    res = {}
    for cname, per_ds in out.items():
        deltas, bad = {}, []
        for name, runs in per_ds.items():
            err = np.array([r[0] for r in runs])
            eu = np.array([r[1] for r in runs])
            deltas[name] = err.mean() - eu.mean()
            if deltas[name] > eu.std() + 1e-12:
                bad.append(name)
        n = len(deltas)
        better = sum(v < -1e-12 for v in deltas.values())
        worse = sum(v > 1e-12 for v in deltas.values())
        fit = np.mean([r[2] for runs in per_ds.values() for r in runs])
        flag = lambda k: "n/a" if k not in deltas else ("ok" if deltas[k] <= 1e-12 else "WORSE")  # noqa: E731
        print(f"{cname:28s} {np.mean(list(deltas.values())):+15.4f} {better:3d}/{n:<3d} {worse:2d}/{n:<3d} "
              f"{len(bad):5d}/{n:<3d} {flag('digits'):>7s} {flag('pendigits'):>7s} {fit:8.2f}  {' '.join(bad)}")
        res[cname] = (better, worse, len(bad))
    return res


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(ALL_DATASETS))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=1000)
    parser.add_argument("--data", default=None, help="UCI folder (default: $SHALLOWML_DATA or ../shared/uci)")
    args = parser.parse_args(argv)
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, shallowml {__version__}, "
          f"scikit-learn {sklearn.__version__}, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}; seeds={args.seeds}, max_train={args.max_train}, k=3")
    print(f"# fixed parameters: {FIXED}")
    for cname in args.configs:
        print(f"# {cname}: {CONFIGS[cname]}")
    t0 = time.perf_counter()
    summarize(study(args.datasets, args.configs, args.seeds, args.max_train, args.data))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
