"""Reference values from metric-learn 0.7 for LSML and SCML (the fixture of ``tests/test_lsml.py``
and ``tests/test_scml.py``).

Run with the reference interpreter (metric-learn needs scikit-learn<1.8, see
:mod:`benchmarks._reference`), from the repository root::

    $SHALLOWML_REFERENCE_PYTHON benchmarks/make_tuples_fixtures.py

It builds small problems with numpy only (seeded), runs metric-learn on them
and writes ``tests/data/tuples_reference.npz``: the inputs, metric-learn's
objective values at given matrices / weights (computed by metric-learn's own
code: ``LSML._total_loss`` with its normalised weights, and SCML's objective
as its ``_fit`` evaluates it, on ``_compute_dist_diff``) and metric-learn's
learned Mahalanobis matrices. shallowml and its tests never import
metric-learn; they read this file.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "tuples_reference.npz"


def _labelled_points(rng, n, d, n_classes=3):
    y = np.arange(n) % n_classes
    X = rng.standard_normal((n, d)) + 1.5 * np.eye(n_classes, d)[y]
    return X, y


def _spd(rng, d):
    A = rng.standard_normal((d, d))
    return A @ A.T / d + 0.5 * np.eye(d)


def lsml_reference(rng):
    from metric_learn import LSML

    X, y = _labelled_points(rng, 30, 4)
    n = X.shape[0]
    a = rng.randint(0, n, 40)
    b = np.array([rng.choice(np.flatnonzero((y == y[i]) & (np.arange(n) != i))) for i in a])
    c = rng.randint(0, n, 40)
    dd = np.array([rng.choice(np.flatnonzero(y != y[i])) for i in c])
    Q = np.stack([a, b, c, dd], axis=1)
    weights = rng.uniform(0.5, 2.0, Q.shape[0])
    prior = _spd(rng, 4)
    M_eval = np.stack([np.eye(4), prior, _spd(rng, 4), 3.0 * _spd(rng, 4)])
    quads = X[Q]
    vab, vcd = quads[:, 0] - quads[:, 1], quads[:, 2] - quads[:, 3]
    out = {"lsml_X": X, "lsml_Q": Q, "lsml_weights": weights, "lsml_prior": prior, "lsml_M_eval": M_eval}
    for name, P in (("identity", np.eye(4)), ("array", prior)):
        est = LSML(prior=P if name == "array" else "identity", tol=1e-8, max_iter=1000)
        est.fit(quads, weights=weights.copy())
        M_ml = est.get_mahalanobis_matrix()
        prior_inv = np.linalg.inv(P)
        # est.w_ holds the normalised weights after fit
        out[f"lsml_{name}_f_eval"] = np.array([est._total_loss(M, vab, vcd, prior_inv) for M in M_eval])
        out[f"lsml_{name}_M_ml"] = M_ml
        out[f"lsml_{name}_f_ml"] = est._total_loss(M_ml, vab, vcd, prior_inv)
        out[f"lsml_{name}_n_iter_ml"] = est.n_iter_
    return out


def scml_reference(rng, seeds=(0, 1, 2)):
    from metric_learn import SCML

    X, y = _labelled_points(rng, 40, 5)
    n = X.shape[0]
    a = np.repeat(np.arange(n), 4)
    p = np.array([rng.choice(np.flatnonzero((y == y[i]) & (np.arange(n) != i))) for i in a])
    m = np.array([rng.choice(np.flatnonzero(y != y[i])) for i in a])
    T = np.stack([a, p, m], axis=1)
    B = rng.standard_normal((12, 5))
    B /= np.linalg.norm(B, axis=1)[:, None]
    w_eval = rng.uniform(0.0, 3.0, (4, 12)) * (rng.rand(4, 12) < 0.6)
    w_eval[0] = 0.0  # the zero metric: every hinge is 1
    out = {"scml_X": X, "scml_T": T, "scml_B": B, "scml_w_eval": w_eval}
    betas = np.array([1e-5, 0.05])
    out["scml_betas"] = betas
    params = {"max_iter": 3000, "output_iter": 100, "batch_size": 10, "gamma": 5e-3}
    out["scml_params"] = np.array([params["max_iter"], params["output_iter"], params["batch_size"],
                                   params["gamma"]])
    for bi, beta in enumerate(betas):
        est = SCML(beta=beta, **params)
        triplets, Xu = est._to_index_points(X[T])
        dd = est._compute_dist_diff(triplets, Xu, B)
        # the objective exactly as metric-learn's _fit evaluates it at its checkpoints
        vals = []
        for w in w_eval:
            slack = 1 + np.matmul(dd, w[None, :].T)
            vals.append(np.sum(w) * beta + np.sum(slack[slack > 0]) / T.shape[0])
        out[f"scml_F_eval_{bi}"] = np.array(vals)
        for seed in seeds:
            est = SCML(beta=beta, random_state=seed, **params)
            est._fit(X[T], basis=B, n_basis=B.shape[0])
            out[f"scml_M_ml_{bi}_{seed}"] = est.components_.T @ est.components_
    out["scml_seeds"] = np.array(seeds)
    return out


def main():
    import metric_learn

    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    out = {**lsml_reference(rng), **scml_reference(rng)}
    out["metric_learn_version"] = np.array(metric_learn.__version__)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), metric-learn {metric_learn.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
