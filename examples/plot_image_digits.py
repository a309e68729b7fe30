"""
Metric learning on images: 784 pixels
=====================================

Image data has hundreds of features (pixels), most of them strongly
correlated, and a few thousand samples. We render scikit-learn's 8x8 digits
as 28 x 28 images (784 pixels, like MNIST), learn a metric with
:class:`~shallowml.LMNN` and :class:`~shallowml.NCA` with their default
parameters, and compare the 3-nearest-neighbour test error with the plain
Euclidean distance between images.

On data with more than 100 features, LMNN by default
(``pca_components='auto'``) learns its map within the leading principal
components of the training data: here 100 of them, which hold more than
95 % of the pixel variance. The fit is then as fast as on 100 features, and
the noisiest directions no longer decide which images count as neighbours.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from shallowml import LMNN, NCA

# %%
# Build 28 x 28 images
# --------------------
# Each 8x8 digit (grey levels 0..16) is upsampled 3.5 times with bilinear
# interpolation, shifted by up to 2 pixels in each direction, given Gaussian
# noise of one grey level, clipped and scaled to [0, 1]. The split is made on
# the source images first (70/30, stratified), so no digit has a version on
# both sides. (``benchmarks/images.py`` builds the same images, and the
# 3500-image benchmark, from UCI optdigits.)

rng = np.random.RandomState(0)


def render(images):
    out = np.empty((len(images), 28 * 28))
    for row, image in enumerate(images):
        big = ndimage.zoom(image, 3.5, order=1)
        dy, dx = rng.randint(-2, 3, size=2)
        big = ndimage.shift(big, (dy, dx), order=0, mode="constant", cval=0.0)
        big = big + rng.standard_normal(big.shape)
        out[row] = np.clip(big, 0.0, 16.0).ravel() / 16.0
    return out


digits = load_digits()
train, test = train_test_split(
    np.arange(digits.target.size), test_size=0.3, stratify=digits.target, random_state=0
)
X_train, X_test = render(digits.images[train]), render(digits.images[test])
y_train, y_test = digits.target[train], digits.target[test]
print(f"training images: {X_train.shape}, test images: {X_test.shape}")

fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, image, label in zip(axes, X_train, y_train):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.set_title(str(label), fontsize=9)
    ax.axis("off")
plt.show()

# %%
# Fit with the defaults
# ---------------------
# Pixels are already on one scale, so no per-pixel standardisation (which
# would blow the noise of the empty border up to the variance of the
# strokes).


def knn_error(Z_train, Z_test):
    knn = KNeighborsClassifier(n_neighbors=3).fit(Z_train, y_train)
    return np.mean(knn.predict(Z_test) != y_test)


results = {"Euclidean (784 pixels)": (knn_error(X_train, X_test), 0.0)}
fitted = {}
for name, est in [("LMNN()", LMNN(random_state=0)), ("NCA()", NCA(random_state=0))]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train)
    seconds = time.perf_counter() - t0
    results[name] = (knn_error(est.transform(X_train), est.transform(X_test)), seconds)
    fitted[name] = est

for name, (error, seconds) in results.items():
    print(f"{name:>24s}: 3-NN test error {error:.3f}" + (f"  (fit {seconds:.1f} s)" if seconds else ""))
lmnn = fitted["LMNN()"]
print(f"LMNN worked in {lmnn.pca_components_} principal components; components_ {lmnn.components_.shape}")

# %%
# What the learned metric looks at
# --------------------------------
# The distance is :math:`\lVert L(x - x')\rVert`. The right singular vectors
# of :math:`L` with the largest singular values are the pixel patterns whose
# differences count most; drawn as images, they are smooth stroke-shaped
# templates rather than single pixels.

_, s, Vt = np.linalg.svd(lmnn.components_, full_matrices=False)
fig, axes = plt.subplots(1, 6, figsize=(8, 1.6))
for ax, v, sv in zip(axes, Vt, s):
    lim = np.abs(v).max()
    ax.imshow(v.reshape(28, 28), cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(f"s = {sv:.2g}", fontsize=9)
    ax.axis("off")
fig.suptitle("LMNN: leading directions of L", fontsize=10)
plt.show()

# %%
# The same as an explicit pipeline
# --------------------------------
# ``LMNN()`` here learns the same kind of map as
# ``make_pipeline(PCA(100), LMNN(pca_components=None))`` (followed by a k-NN
# classifier), with the PCA step inside the estimator: ``components_`` act on
# the 784 pixels directly, and ``pca_components`` can be tuned like any other
# parameter. ``pca_components=None`` restores the classic fit on every pixel,
# which costs about 784 / 100 times more per iteration; the user guide
# (:ref:`high_dimensional`) quotes measured times on 3500 images.
