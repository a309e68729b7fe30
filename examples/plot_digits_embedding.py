"""
2-D embeddings of handwritten digits, before and after metric learning
======================================================================

A Mahalanobis metric with ``n_components=2`` is also a supervised linear
projection to the plane. We compare the unsupervised PCA projection of
scikit-learn's digits with the projections learned by shallowml estimators,
and report the 3-NN test error *in the 2-D space* for each.

PCA keeps the directions of largest variance, which mix the classes; the
supervised projections pull each class together and the classes apart, which
shows directly in the nearest-neighbour error.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

import shallowml

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=600, test_size=600, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Projections to two dimensions
# -----------------------------
# PCA is the unsupervised baseline. Every shallowml estimator that accepts
# ``n_components`` and class labels is used when it is available, with its
# defaults: LMNN and NCA start from the LDA projection (``init='auto'``), so
# LDA's error is also theirs before they learn. The iterative learners may
# stop at ``max_iter`` (a ``ConvergenceWarning``), which is fine for a
# picture.

projections = {"PCA (unsupervised)": PCA(n_components=2, random_state=0)}
for name in ["LDA", "LFDA", "NCA", "LMNN"]:
    if name in shallowml.__all__:
        projections[name] = getattr(shallowml, name)(n_components=2)

embeddings = {}
for name, est in projections.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train)
    Z_train, Z_test = est.transform(X_train), est.transform(X_test)
    knn = KNeighborsClassifier(n_neighbors=3).fit(Z_train, y_train)
    error = np.mean(knn.predict(Z_test) != y_test)
    embeddings[name] = (Z_test, error)
    print(f"{name:>20s}: 3-NN test error in 2-D = {error:.3f}")

# %%
# Plot the test points in each learned plane
# ------------------------------------------
# The axes show the central 98 % of the points in each direction, so that a
# few far-away test points do not squash the picture.

fig, axes = plt.subplots(1, len(embeddings), figsize=(3.6 * len(embeddings), 4), layout="constrained")
for ax, (name, (Z, error)) in zip(np.atleast_1d(axes), embeddings.items()):
    sc = ax.scatter(Z[:, 0], Z[:, 1], c=y_test, cmap="tab10", s=8, vmin=-0.5, vmax=9.5)
    lo, hi = np.percentile(Z, [1, 99], axis=0)
    pad = 0.05 * (hi - lo)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_title(f"{name}\n3-NN error {error:.2f}", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(sc, ax=axes, ticks=range(10), label="digit", shrink=0.9)
plt.show()

# %%
# LMNN at rank 2
# --------------
# A 2-D LMNN map is a non-convex problem with several local minima whose
# test errors differ by a few points, and the one reached depends on the
# initialisation. Its active-set solver keeps the true objective decreasing
# from round to round, which matters most at low rank (the impostors of a
# 2-D projection change quickly as it turns). The user guide's page on
# :ref:`high-dimensional and low-rank problems <high_dimensional>` has the
# measurements.
