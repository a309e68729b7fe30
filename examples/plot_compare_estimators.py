"""
Comparing all estimators on one dataset
=======================================

Every public shallowml estimator is discovered with
:func:`shallowml.utils.discovery.all_estimators` (pair learners through their
supervised counterpart) and evaluated the same way: a pipeline of
``StandardScaler``, the metric learner and a 3-NN classifier, scored by
repeated stratified cross-validation. The Euclidean 3-NN classifier is the
baseline. This is a miniature of the benchmark suite
(``python -m benchmarks.suite``).
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RepeatedStratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from shallowml.utils.discovery import all_estimators

X, y = load_wine(return_X_y=True)
cv = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)

models = {"Euclidean": make_pipeline(StandardScaler(), KNeighborsClassifier(3))}
for name, cls in all_estimators():
    est = cls()
    hook = getattr(est, "_common_check_instance", None)
    est = hook() if hook is not None else est  # e.g. ITML -> ITML_Supervised
    if "random_state" in est.get_params():
        est.set_params(random_state=0)
    models.setdefault(type(est).__name__, make_pipeline(StandardScaler(), est, KNeighborsClassifier(3)))

results = {}
for name, model in models.items():
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cvres = cross_validate(model, X, y, cv=cv)
    results[name] = 1 - cvres["test_score"]
    print(f"{name:>26s}: error {results[name].mean():.3f} +- {results[name].std():.3f}"
          f"  ({time.perf_counter() - t0:.1f} s)")

# %%
# Test error over the 6 cross-validation splits
# ---------------------------------------------
# Grey ticks: single splits; dots and bars: mean +- std.

fig, ax = plt.subplots(figsize=(7, 0.45 * len(results) + 1))
names = list(results)
for i, n in enumerate(names):
    ax.plot(results[n], np.full(results[n].size, i), "|", color="0.5", ms=10)
    ax.errorbar(results[n].mean(), i, xerr=results[n].std(), fmt="o", color="tab:blue", capsize=3)
ax.set_yticks(range(len(names)), names)
ax.set_xlabel("3-NN test error (wine, 2 x 3-fold CV)")
ax.invert_yaxis()
fig.tight_layout()
plt.show()
