"""
Learning a metric from triplets with SCML
=========================================

A triplet ``(a, p, n)`` says "``a`` is closer to ``p`` than to ``n``": weaker
supervision than labels, and natural when people compare items ("which of
these two is more like this one?"). :class:`~shallowml.SCML` (Shi, Bellet &
Sha, 2014) learns from such triplets a metric
:math:`M = \\sum_k w_k b_k b_k^\\top` that is a *sparse* combination of
rank-one bases :math:`b_k`.

Here the triplets come from the digits' labels: each training image is the
anchor of triplets with its 3 nearest images of the same digit and its 10
nearest images of other digits
(:func:`~shallowml.constraints.knn_triplets`). The test triplets are built
the same way from the test images, which the metric never saw.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from shallowml import SCML
from shallowml.constraints import knn_triplets

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)  # SCML's margin is 1 in squared units of X: standardise
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

triplets_train = X_train[knn_triplets(X_train, y_train, 3, k_impostor=10)]
triplets_test = X_test[knn_triplets(X_test, y_test, 3, k_impostor=10)]
print("triplets (train, test):", triplets_train.shape, triplets_test.shape)

# %%
# Fit SCML on the training triplets
# ---------------------------------
# The bases are built from the triplets themselves (``basis='triplet_diffs'``:
# eigenvectors of differences of positive and negative scatter over small
# draws of triplets, ``80 * n_features`` of them); the solver then learns one
# non-negative weight per basis.

scml = SCML(random_state=0).fit(triplets_train)
active = np.flatnonzero(scml.weights_ > 0)
print(f"{active.size} of {scml.weights_.size} bases have a positive weight; "
      f"components_ has shape {scml.components_.shape}")

# %%
# Triplets on unseen images
# -------------------------
# ``score`` is the fraction of triplets whose anchor is closer to the positive
# than to the negative under the learned metric; the Euclidean distance gives
# the baseline.


def euclidean_score(T):
    return np.mean(np.linalg.norm(T[:, 0] - T[:, 1], axis=1) < np.linalg.norm(T[:, 0] - T[:, 2], axis=1))


print(f"test triplets satisfied: Euclidean {euclidean_score(triplets_test):.3f}, "
      f"SCML {scml.score(triplets_test):.3f}")

knn = KNeighborsClassifier(n_neighbors=3)
err_euclid = 1 - knn.fit(X_train, y_train).score(X_test, y_test)
err_scml = 1 - knn.fit(scml.transform(X_train), y_train).score(scml.transform(X_test), y_test)
print(f"3-NN test error: Euclidean {err_euclid:.4f}, SCML {err_scml:.4f}")

# %%
# The sparse weights, and the margins of the test triplets
# --------------------------------------------------------
# ``decision_function`` is ``d(a, n) - d(a, p)``: positive for a satisfied
# triplet. The learned metric pushes most test triplets to the right.

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
ax1.plot(np.sort(scml.weights_[active])[::-1], ".-")
ax1.set_yscale("log")
ax1.set_xlabel("active bases, by weight")
ax1.set_ylabel("weight $w_k$")
ax1.set_title(f"{active.size} of {scml.weights_.size} bases used")

margin_scml = scml.decision_function(triplets_test)
margin_euclid = (np.linalg.norm(triplets_test[:, 0] - triplets_test[:, 2], axis=1)
                 - np.linalg.norm(triplets_test[:, 0] - triplets_test[:, 1], axis=1))
# compare shapes, not scales: each margin divided by its metric's median anchor-positive distance
for margin, T_dist, label in (
    (margin_euclid, np.linalg.norm(triplets_test[:, 0] - triplets_test[:, 1], axis=1), "Euclidean"),
    (margin_scml, np.linalg.norm(scml.transform(triplets_test[:, 0]) - scml.transform(triplets_test[:, 1]),
                                 axis=1), "SCML"),
):
    ax2.hist(margin / np.median(T_dist), bins=60, range=(-2, 4), alpha=0.6, label=label)
ax2.axvline(0.0, color="k", lw=0.8)
ax2.set_xlabel("d(a, n) - d(a, p), relative to the median d(a, p)")
ax2.set_ylabel("test triplets")
ax2.legend()
fig.tight_layout()
plt.show()
