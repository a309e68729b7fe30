"""Reference values from metric-learn 0.7 for tests/test_mmc.py and tests/test_sdml.py.

Produced with the reference interpreter (metric-learn 0.7.0, scikit-learn
1.7.2, numpy 2.4), from the repository root::

    /work/main/.venv-ref/bin/python tests/data/make_pairs_reference.py

It writes ``tests/data/pairs_reference.npz``; the tests only read that file
(shallowml and its tests never import metric_learn). The problem is iris,
standardised (population standard deviation), with 30 similar and 30
dissimilar pairs drawn here with ``numpy.random.RandomState(0)``; the pairs
themselves are stored, so the tests do not depend on this sampling.

Stored, for MMC: metric-learn's private objective functions at given
matrices (``_fD`` and the similarity-constraint value ``w . vec(A)`` for the
full problem, ``_D_constraint`` for the diagonal one: value, gradient and
Hessian of ``log sum_D ||v||_w``) and the metrics metric-learn's ``MMC``
learns with its defaults. For SDML: the graphical lasso input
``emp_cov`` that metric-learn builds (captured by wrapping the
``graphical_lasso`` it calls), scikit-learn's ``_objective`` at given
matrices, and metric-learn's learned metric. metric-learn 0.7 passes
``cov_init`` to ``graphical_lasso``, an argument scikit-learn removed in
1.5; the wrapper drops it (it only sets the starting point), otherwise
metric-learn's SDML fails on every input.
"""

from pathlib import Path

import numpy as np
from sklearn.covariance import _graph_lasso, graphical_lasso
from sklearn.datasets import load_iris

import metric_learn
import metric_learn.sdml as ml_sdml

X, y = load_iris(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
rng = np.random.RandomState(0)
pos, neg = [], []
while len(pos) < 30 or len(neg) < 30:
    i, j = rng.randint(0, len(y), size=2)
    if i == j:
        continue
    kind = pos if y[i] == y[j] else neg
    if len(kind) < 30:
        kind.append((i, j))
ind = np.array(pos + neg)
pairs = X[ind]
labels = np.r_[np.ones(30), -np.ones(30)]
pos_pairs, neg_pairs = pairs[labels > 0], pairs[labels < 0]

out = {"pairs": pairs, "y": labels}

# --- MMC: objective values at given matrices
d = X.shape[1]
R = np.random.RandomState(1).standard_normal((3, d, d))
mats = np.stack([np.eye(d)] + [r @ r.T / d for r in R])
mmc = metric_learn.MMC()
pos_diff = pos_pairs[:, 0] - pos_pairs[:, 1]
w_sim = np.einsum("ij,ik->jk", pos_diff, pos_diff).ravel()  # metric-learn's similarity weights
out["mmc_mats"] = mats
out["mmc_fD"] = np.array([mmc._fD(neg_pairs, A) for A in mats])
out["mmc_fS"] = np.array([w_sim.dot(A.ravel()) for A in mats])
wdiag = np.abs(np.random.RandomState(2).standard_normal((3, d))) + 0.1
out["mmc_diag_w"] = wdiag
vals, d1, d2 = zip(*[mmc._D_constraint(neg_pairs, w) for w in wdiag])
out["mmc_diag_fD"], out["mmc_diag_fD1"], out["mmc_diag_fD2"] = np.array(vals), np.array(d1), np.array(d2)
out["mmc_diag_s"] = np.sum(pos_diff**2, axis=0)

# --- MMC: metric-learn's learned metrics, defaults
full = metric_learn.MMC().fit(pairs, labels)
out["mmc_ml_full_M"] = full.components_.T @ full.components_
out["mmc_ml_full_t"] = np.array(w_sim.dot(np.eye(d).ravel()) / 100.0)
diag = metric_learn.MMC(diagonal=True).fit(pairs, labels)
out["mmc_ml_diag_M"] = diag.components_.T @ diag.components_

# --- SDML: the graphical lasso input metric-learn builds, and its result
captured = {}


def _graphical_lasso(emp_cov, alpha, cov_init=None, **kwargs):
    captured["emp_cov"], captured["alpha"] = np.array(emp_cov), alpha
    return graphical_lasso(emp_cov, alpha, **kwargs)


ml_sdml.graphical_lasso = _graphical_lasso
balance = 2e-3  # small enough for a positive definite emp_cov on these pairs
sdml = metric_learn.SDML(balance_param=balance, sparsity_param=0.01).fit(pairs, labels)
assert np.linalg.eigvalsh(captured["emp_cov"])[0] > 0
out["sdml_balance"] = np.array(balance)
out["sdml_alpha"] = np.array(captured["alpha"])
out["sdml_emp_cov"] = captured["emp_cov"]
out["sdml_ml_M"] = sdml.components_.T @ sdml.components_
sdml_mats = np.stack([np.eye(d), out["sdml_ml_M"]] + [r @ r.T / d + 0.1 * np.eye(d) for r in R[:2]])
out["sdml_mats"] = sdml_mats
out["sdml_objective"] = np.array([_graph_lasso._objective(captured["emp_cov"], M, captured["alpha"])
                                  for M in sdml_mats])
# metric-learn with its defaults (balance_param=0.5) on the same pairs: emp_cov is indefinite
try:
    metric_learn.SDML().fit(pairs, labels)
    out["sdml_default_fails"] = np.array(False)
except RuntimeError:
    out["sdml_default_fails"] = np.array(True)
out["versions"] = np.array([metric_learn.__version__, __import__("sklearn").__version__, np.__version__])

np.savez(Path(__file__).resolve().parent / "pairs_reference.npz", **out)
print({k: np.shape(v) for k, v in out.items()})
