"""
Grid search over LMNN hyperparameters
=====================================

:class:`~shallowml.LMNN` is an ordinary scikit-learn estimator, so its
hyperparameters are tuned with :class:`~sklearn.model_selection.GridSearchCV`
inside a :class:`~sklearn.pipeline.Pipeline` (scaling, metric learning, k-NN),
and the metric is re-learned on the training folds of every split: no leakage.

We tune the number of target neighbours ``n_neighbors`` and the weight of the
impostor term ``push_weight`` on the wine data and show the cross-validated
accuracy of every combination.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from shallowml import LMNN

X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

pipe = Pipeline([
    ("scale", StandardScaler()),
    ("lmnn", LMNN(random_state=0)),
    ("knn", KNeighborsClassifier(n_neighbors=3)),
])
grid = {"lmnn__n_neighbors": [1, 3, 5], "lmnn__push_weight": [0.1, 0.5, 0.9]}
search = GridSearchCV(pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"cross-validated accuracy {search.best_score_:.3f}, test accuracy {search.score(X_test, y_test):.3f}")

euclid = Pipeline([("scale", StandardScaler()), ("knn", KNeighborsClassifier(n_neighbors=3))])
print(f"Euclidean 3-NN test accuracy {euclid.fit(X_train, y_train).score(X_test, y_test):.3f}")

# %%
# Cross-validated accuracy of every combination
# ---------------------------------------------

scores = search.cv_results_["mean_test_score"].reshape(
    len(grid["lmnn__n_neighbors"]), len(grid["lmnn__push_weight"])
)
fig, ax = plt.subplots(figsize=(5, 4))
im = ax.imshow(scores, cmap="viridis", origin="lower")
ax.set_xticks(range(len(grid["lmnn__push_weight"])), grid["lmnn__push_weight"])
ax.set_yticks(range(len(grid["lmnn__n_neighbors"])), grid["lmnn__n_neighbors"])
ax.set_xlabel("push_weight")
ax.set_ylabel("n_neighbors (target neighbours)")
for (i, j), s in np.ndenumerate(scores):
    ax.text(j, i, f"{s:.3f}", ha="center", va="center", color="w" if s < scores.max() else "k")
fig.colorbar(im, ax=ax, label="mean CV accuracy")
ax.set_title("LMNN on wine: 3-fold CV accuracy")
fig.tight_layout()
plt.show()
