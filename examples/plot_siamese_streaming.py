"""
Fitting a Siamese metric on data streamed from disk
===================================================

:class:`~shallowml.LinearSiamese_Supervised` has ``partial_fit``: one epoch
of Adam over the batch it is given. Data that do not fit in memory can then
be read from disk in chunks, here from a memory-mapped ``.npy`` file (only
the rows of the current chunk are read into memory).

Two passes over the file: the first fits a
:class:`~sklearn.preprocessing.StandardScaler` chunk by chunk
(``partial_fit``), the following ones train the metric on the scaled chunks.
The rows are stored in random order, so that every chunk holds every class:
the default Proxy-NCA loss makes one proxy per class of the *first* chunk
(a later unseen label raises an error), and the triplet-type losses need
positives and negatives in a chunk. The
3-NN test error of the streamed metric is compared with ``fit`` on the whole
array in memory.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from shallowml import LinearSiamese_Supervised

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

# write the training set to disk, rows shuffled, labels in the last column
folder = Path(tempfile.mkdtemp())
order = np.random.RandomState(0).permutation(len(y_train))
np.save(folder / "train.npy", np.column_stack((X_train[order], y_train[order])))

data = np.load(folder / "train.npy", mmap_mode="r")  # nothing is read yet
chunk = 250


def chunks():
    """Yield ``(X, y)`` chunks read from the memory-mapped file."""
    for start in range(0, data.shape[0], chunk):
        block = np.asarray(data[start : start + chunk])  # reads these rows only
        yield block[:, :-1], block[:, -1].astype(int)


def knn_error(transform, scaler):
    """3-NN test error in the learned space (the reference set: the training part)."""
    knn = KNeighborsClassifier(3).fit(transform(scaler.transform(X_train)), y_train)
    return 1 - knn.score(transform(scaler.transform(X_test)), y_test)


# %%
# Pass 1: the scaler; later passes: the metric
# --------------------------------------------
scaler = StandardScaler()
for Xc, _ in chunks():
    scaler.partial_fit(Xc)

streamed = LinearSiamese_Supervised(random_state=0)
errors = []
for _ in range(8):
    for Xc, yc in chunks():
        streamed.partial_fit(scaler.transform(Xc), yc)
    errors.append(knn_error(streamed.transform, scaler))

# %%
# The same metric fitted in memory
# --------------------------------
in_memory = LinearSiamese_Supervised(random_state=0).fit(scaler.transform(X_train), y_train)
euclid = knn_error(lambda Z: Z, scaler)
fitted = knn_error(in_memory.transform, scaler)
print(f"3-NN test error: Euclidean {euclid:.4f}, fit {fitted:.4f}, streamed {errors[-1]:.4f} "
      f"(after {len(errors)} passes of {streamed.n_iter_} chunk epochs)")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, len(errors) + 1), errors, "o-", label="partial_fit, chunks from disk")
ax.axhline(fitted, color="C1", ls="--", label="fit in memory")
ax.axhline(euclid, color="grey", ls=":", label="Euclidean")
ax.set_xlabel("passes over the file")
ax.set_ylabel("3-NN test error")
ax.set_title("digits: streamed vs in-memory Siamese metric")
ax.legend()
fig.tight_layout()
plt.show()
