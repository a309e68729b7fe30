"""
k-NN error against the number of components
===========================================

A learned metric of rank ``n_components`` maps the data to that many
dimensions. How many are needed? We fit each estimator for a range of
``n_components`` on the digits and plot the 3-NN test error in the learned
space, against PCA and the full-dimensional Euclidean distance.

:class:`~shallowml.LDA` is limited to ``n_classes - 1 = 9`` directions;
local methods such as :class:`~shallowml.LFDA` are not.
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


def knn_error(Z_train, Z_test):
    knn = KNeighborsClassifier(n_neighbors=3).fit(Z_train, y_train)
    return np.mean(knn.predict(Z_test) != y_test)


euclidean = knn_error(X_train, X_test)

# %%
# Sweep ``n_components``
# ----------------------

n_components = [1, 2, 4, 8, 16, 32]
makers = {"PCA": lambda r: PCA(n_components=r, random_state=0)}
for name in ["LDA", "LFDA", "NCA", "LMNN"]:
    if name in shallowml.__all__:
        makers[name] = lambda r, cls=getattr(shallowml, name): cls(n_components=r)

curves = {}
for name, make in makers.items():
    ranks, errors = [], []
    for r in n_components:
        if name == "LDA" and r > len(np.unique(y_train)) - 1:
            continue  # LDA has at most n_classes - 1 directions
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = make(r).fit(X_train, y_train)
        ranks.append(r)
        errors.append(knn_error(est.transform(X_train), est.transform(X_test)))
    curves[name] = (ranks, errors)
    print(name, " ".join(f"{r}:{e:.3f}" for r, e in zip(ranks, errors)))

# %%
# Plot
# ----

fig, ax = plt.subplots(figsize=(6, 4))
for name, (ranks, errors) in curves.items():
    ax.plot(ranks, errors, marker="o", label=name)
ax.axhline(euclidean, color="k", ls="--", lw=1, label="Euclidean, 64-D")
ax.set_xscale("log", base=2)
ax.set_xticks(n_components, [str(r) for r in n_components])
ax.set_xlabel("n_components")
ax.set_ylabel("3-NN test error")
ax.set_ylim(bottom=0)
ax.legend()
ax.set_title("digits: error in the learned space")
fig.tight_layout()
plt.show()
