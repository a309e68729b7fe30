"""
Metric learning for regression with MLKR
========================================

:class:`~shallowml.MLKR` (Weinberger & Tesauro, 2007) learns a metric from
real-valued targets: it minimises the leave-one-out error of Gaussian-kernel
regression in the learned space. Directions that do not help to predict the
target shrink, which is what a nearest-neighbour regressor needs.

We use Friedman's first regression problem: ten uniform features, of which
only the first five enter the target
:math:`y = 10 \\sin(\\pi x_0 x_1) + 20 (x_2 - 0.5)^2 + 10 x_3 + 5 x_4 + \\varepsilon`.
The Euclidean distance weighs the five noise features as much as the others.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shallowml import MLKR

X, y = make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)


def relative_mse(model):
    """Test MSE divided by the variance of the test targets (1.0: predicting the mean)."""
    return np.mean((model.predict(X_test) - y_test) ** 2) / np.var(y_test)


# %%
# A pipeline: scale, learn the metric, regress
# --------------------------------------------
#
# ``MLKR`` is a transformer, so it goes between the scaler and the
# :class:`~sklearn.neighbors.KNeighborsRegressor`.

euclidean = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=5)).fit(X_train, y_train)
learned = make_pipeline(StandardScaler(), MLKR(random_state=0), KNeighborsRegressor(n_neighbors=5))
learned.fit(X_train, y_train)
mlkr = learned.named_steps["mlkr"]
print(f"5-NN test MSE / variance: Euclidean {relative_mse(euclidean):.3f}, "
      f"MLKR {relative_mse(learned):.3f} ({mlkr.n_iter_} L-BFGS iterations)")

# %%
# Which features does the metric use?
# -----------------------------------
#
# The length of each column of ``L = components_`` is how much the learned
# distance changes when that (standardised) feature changes by one unit.

weights = np.linalg.norm(mlkr.components_, axis=0)
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(range(10), weights, color=["tab:blue"] * 5 + ["tab:gray"] * 5)
ax.set_xticks(range(10))
ax.set_xlabel("feature (0-4 enter the target, 5-9 are noise)")
ax.set_ylabel("column norm of L")
ax.set_title("MLKR shrinks the noise features")
fig.tight_layout()

# %%
# Choosing ``n_components`` by cross-validation
# ---------------------------------------------
#
# Any regression scorer works; here the mean squared error.

grid = GridSearchCV(learned, {"mlkr__n_components": [2, 5]}, scoring="neg_mean_squared_error", cv=3)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    grid.fit(X_train, y_train)
print(f"best n_components: {grid.best_params_['mlkr__n_components']}, "
      f"test MSE / variance {relative_mse(grid):.3f}")

# %%
# A two-dimensional embedding
# ---------------------------
#
# With ``n_components=2`` MLKR is a supervised dimensionality reduction for
# regression: the target varies smoothly across the embedding.

Z = make_pipeline(StandardScaler(), MLKR(n_components=2, random_state=0)).fit(X_train, y_train).transform(X_test)
fig, ax = plt.subplots(figsize=(5, 4))
points = ax.scatter(Z[:, 0], Z[:, 1], c=y_test, s=12, cmap="viridis")
fig.colorbar(points, ax=ax, label="target y")
ax.set_title("Test points in MLKR's 2-D embedding")
fig.tight_layout()
plt.show()
