"""How ITML's default ``gamma`` and bounds were chosen (reproducible study).

For every dataset of the suite except letter (26 classes: 20 * 26^2 pairs of
each kind) the protocol of :mod:`benchmarks.suite` is used (official split
or stratified 70/30 seeds, at most 2000 training rows, StandardScaler, 3-NN
test error). ``ITML_Supervised(random_state=seed)`` is fitted with
``gamma`` in {0.01, 0.1, 1} and two bound heuristics, both the 5th/95th
percentiles of *squared* prior distances:

* ``pairs``: over the sampled training pairs (shallowml's default);
* ``points``: over random pairs of training points (the authors' code).

It prints, per configuration, the mean 3-NN error minus the Euclidean one,
on how many datasets the learned metric is better / worse than Euclidean,
and how many fits reached ``tol`` within ``max_iter`` sweeps.

A second part (``--part pairs``) studies ``ITML`` on given pairs, scored as
a pair classifier: each dataset is split 50/50 (stratified, per seed),
``n`` similar and ``n`` dissimilar training pairs (``n`` in {50, 500},
capped at what exists) are drawn from the first half, 500 + 500 test pairs
from the second, and the test ROC AUC of ``ITML(gamma)`` (``score``) is
compared with that of the Euclidean distance.

Run: ``python -m benchmarks.itml_defaults [--part knn|pairs|both] [--seeds 2] [--datasets iris wine]``.
"""

import argparse
from collections import defaultdict

import numpy as np
from sklearn.metrics import pairwise_distances, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from benchmarks.bench_itml import fit_timed
from benchmarks.suite import ALL_DATASETS, iter_splits, knn_error, load_datasets, subsample
from shallowml import ITML, ITML_Supervised
from shallowml.constraints import count_pairs, pairs_from_indices, positive_negative_pairs

GAMMAS = (0.01, 0.1, 1.0)
PAIR_GAMMAS = (0.01, 0.1, 1.0, 10.0)
PAIR_COUNTS = (50, 500)
DEFAULT_DATASETS = tuple(n for n in ALL_DATASETS if n != "letter")


def points_bounds(X, seed, n_points=1000):
    """5th/95th percentiles of squared distances between random pairs of points."""
    rng = np.random.RandomState(seed)
    idx = rng.choice(X.shape[0], min(X.shape[0], n_points), replace=False)
    sq = pairwise_distances(X[idx], squared=True)[np.triu_indices(idx.size, 1)]
    return tuple(np.percentile(sq[sq > 0], [5.0, 95.0]))


def fit_one(X, y, seed, gamma, bounds):
    """Fit ``ITML_Supervised``; return ``(estimator, seconds, converged)``."""
    est = ITML_Supervised(gamma=gamma, bounds=bounds, random_state=seed)
    elapsed, converged = fit_timed(est, X, y)
    return est, elapsed, converged


def study(names, seeds=2, folder=None):
    """Return ``{config: {dataset: [(err - euclid, converged, seconds), ...]}}``."""
    out = defaultdict(lambda: defaultdict(list))
    for name, X, y, X_test, y_test in load_datasets(names, folder):
        for label, Xtr, ytr, Xte, yte in iter_splits(name, X, y, X_test, y_test, seeds):
            seed = int(label[4:]) if label.startswith("seed") else 0
            Xtr, ytr = subsample(Xtr, ytr, 2000, seed)
            scaler = StandardScaler().fit(Xtr)
            Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
            euclid = knn_error(Xtr, ytr, Xte, yte)
            for gamma in GAMMAS:
                for bname, bounds in (("pairs", None), ("points", points_bounds(Xtr, seed))):
                    est, t, conv = fit_one(Xtr, ytr, seed, gamma, bounds)
                    err = knn_error(est.transform(Xtr), ytr, est.transform(Xte), yte)
                    out[(gamma, bname)][name].append((err - euclid, conv, t))
                    print(f"{name:14s} {label:8s} gamma={gamma:<5g} {bname:6s} 3-NN error {err:.4f} "
                          f"(Euclidean {euclid:.4f}) sweeps {est.n_iter_:4d} {'' if conv else 'not converged'}",
                          flush=True)
    return out


def summarize(out):
    """Print one line per configuration."""
    print(f"\n{'gamma':>6s} {'bounds':7s} {'mean err - Euclid':>18s} {'better':>7s} {'worse':>6s} "
          f"{'converged':>10s} {'mean fit [s]':>12s}")
    for (gamma, bname), per_ds in sorted(out.items()):
        deltas = [np.mean([r[0] for r in runs]) for runs in per_ds.values()]
        runs = [r for rs in per_ds.values() for r in rs]
        n_ds = len(deltas)
        print(f"{gamma:6g} {bname:7s} {np.mean(deltas):+18.4f} {sum(x < -1e-12 for x in deltas):3d}/{n_ds:<3d} "
              f"{sum(x > 1e-12 for x in deltas):2d}/{n_ds:<3d} {sum(r[1] for r in runs):5d}/{len(runs):<4d} "
              f"{np.mean([r[2] for r in runs]):12.2f}")


def _sample_pairs(X, y, n, seed):
    codes = np.unique(y, return_inverse=True)[1]
    n_pos, n_neg = (min(n, a) for a in count_pairs(codes))
    pos, neg = positive_negative_pairs(codes, n_pos, n_neg, random_state=seed)
    return pairs_from_indices(X, pos, neg)


def pairs_study(names, seeds=2, folder=None):
    """Return ``{(gamma, n): {dataset: [(auc - euclid_auc, converged), ...]}}``."""
    out = defaultdict(lambda: defaultdict(list))
    for name, X, y, X_test, y_test in load_datasets(names, folder):
        if X_test is not None:
            X, y = np.vstack([X, X_test]), np.concatenate([y, y_test])
        for seed in range(seeds):
            Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.5, stratify=y, random_state=seed)
            Xa, ya = subsample(Xa, ya, 2000, seed)
            scaler = StandardScaler().fit(Xa)
            Xa, Xb = scaler.transform(Xa), scaler.transform(Xb)
            test_pairs, test_y = _sample_pairs(Xb, yb, 500, seed + 100)
            euclid = roc_auc_score(test_y, -np.linalg.norm(test_pairs[:, 0] - test_pairs[:, 1], axis=1))
            for n in PAIR_COUNTS:
                pairs, py = _sample_pairs(Xa, ya, n, seed)
                for gamma in PAIR_GAMMAS:
                    est = ITML(gamma=gamma)
                    _, conv = fit_timed(est, pairs, py)
                    auc = est.score(test_pairs, test_y)
                    out[(gamma, n)][name].append((auc - euclid, conv))
                    print(f"{name:14s} seed{seed} n={n:<4d} gamma={gamma:<5g} test ROC AUC {auc:.4f} "
                          f"(Euclidean {euclid:.4f}) sweeps {est.n_iter_:4d} {'' if conv else 'not converged'}",
                          flush=True)
    return out


def summarize_pairs(out):
    """Print one line per (gamma, number of pairs)."""
    print(f"\n{'pairs':>6s} {'gamma':>6s} {'mean AUC - Euclid':>18s} {'better':>7s} {'worse':>6s} {'converged':>10s}")
    for (gamma, n), per_ds in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        deltas = [np.mean([r[0] for r in runs]) for runs in per_ds.values()]
        runs = [r for rs in per_ds.values() for r in rs]
        n_ds = len(deltas)
        print(f"{n:6d} {gamma:6g} {np.mean(deltas):+18.4f} {sum(x > 1e-12 for x in deltas):3d}/{n_ds:<3d} "
              f"{sum(x < -1e-12 for x in deltas):2d}/{n_ds:<3d} {sum(r[1] for r in runs):5d}/{len(runs):<4d}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--part", choices=["knn", "pairs", "both"], default="both")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--data", default=None, help="UCI folder (default: $SHALLOWML_DATA or ../shared/uci)")
    args = parser.parse_args(argv)
    if args.part in ("knn", "both"):
        summarize(study(args.datasets, args.seeds, args.data))
    if args.part in ("pairs", "both"):
        summarize_pairs(pairs_study(args.datasets, args.seeds, args.data))


if __name__ == "__main__":
    main()
