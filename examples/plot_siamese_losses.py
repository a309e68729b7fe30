"""
Comparing the Siamese losses
============================

:class:`~shallowml.LinearSiamese_Supervised` trains one linear map with any
of the losses of deep metric learning. This example fits each of them on the
same split of the digits (500 training images, standardised) and compares

* the 3-NN test error of the learned metric (the Euclidean error as a
  reference), and
* its training curve: the 3-NN test error after every epoch, recorded by a
  ``callback`` (with the default early stopping the fit keeps the epoch with
  the best validation loss, or the initial map).

Every loss here keeps the other defaults: the identity as the starting map,
weight decay 0.3 towards it, early stopping on 10 % held-out samples, P x K
batches for the batch losses. Those were chosen, with ``loss='proxy_nca'``,
so that the default metric does not make k-NN worse than Euclidean (the
study ``benchmarks/siamese_defaults.py``); the user guide explains when to
prefer which loss. One split of a small set is an illustration, not a
ranking: the differences between losses here are a few test images.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from shallowml import LinearSiamese_Supervised

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=500, test_size=500, stratify=y,
                                                    random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


def knn_error(Z_train, Z_test, k=3):
    """3-NN test error (plain numpy: it runs after every epoch of every fit)."""
    sq = (Z_test**2).sum(1)[:, None] - 2 * Z_test @ Z_train.T + (Z_train**2).sum(1)[None, :]
    votes = y_train[np.argpartition(sq, k, axis=1)[:, :k]]
    pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])  # ties: smallest label
    return np.mean(pred != y_test)


LOSSES = {
    "Proxy-NCA (default)": dict(loss="proxy_nca"),
    "triplet (batch-hard)": dict(loss="triplet"),
    "triplet (semi-hard)": dict(loss="triplet", mining="semi_hard"),
    "triplet (all)": dict(loss="triplet", mining="all"),
    "soft-margin triplet": dict(loss="soft_triplet"),
    "N-pair": dict(loss="npair"),
    "multi-similarity": dict(loss="multi_similarity"),
    "contrastive": dict(loss="contrastive", n_pairs=1000),
    "Koch (L1 + sigmoid)": dict(loss="koch", n_pairs=1000),
}

# %%
# Fit every loss, recording the test error after each epoch
# ---------------------------------------------------------
euclid = knn_error(X_train, X_test)
final, curves = {}, {}
for name, params in LOSSES.items():
    curve = []

    def record(components, n_iter, curve=curve):
        curve.append(knn_error(X_train @ components.T, X_test @ components.T))

    est = LinearSiamese_Supervised(max_iter=20, callback=record, random_state=0, **params)
    with warnings.catch_warnings():  # a fit cut at max_iter=20 epochs warns; here that is intended
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train)
    final[name], curves[name] = knn_error(est.transform(X_train), est.transform(X_test)), curve
    print(f"{name:22s} 3-NN test error {final[name]:.4f} ({est.n_iter_} epochs)")
print(f"{'Euclidean':22s} 3-NN test error {euclid:.4f}")

# %%
# Final error and training curves
# -------------------------------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
names = list(final)
ax1.barh(names, [final[n] for n in names], color="C0")
ax1.axvline(euclid, color="grey", ls=":", label="Euclidean")
ax1.invert_yaxis()
ax1.set_xlabel("3-NN test error")
ax1.legend()
for i, name in enumerate(names):
    ax2.plot(np.arange(1, len(curves[name]) + 1), curves[name], color=plt.cm.tab10(i), label=name)
ax2.axhline(euclid, color="grey", ls=":")
ax2.set_xlabel("epoch")
ax2.set_ylabel("3-NN test error")
ax2.legend(fontsize=7)
fig.suptitle("digits: one linear map, nine losses")
fig.tight_layout()
plt.show()
