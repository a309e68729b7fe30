"""Image-like data built offline: 8x8 handwritten digits rendered at 28 x 28 pixels (784 features).

No image set with hundreds of pixels is available offline (scikit-learn bundles
8x8 digits; the local UCI folder holds optdigits, 8x8 = 64 features, and
pendigits, 16), and nothing is downloaded. The 28 x 28 images are therefore
built from 8x8 ones, deterministically (:func:`render_28x28`): each image is

1. upsampled 8x8 -> 28x28 by ``scipy.ndimage.zoom(image, 3.5, order=1)``
   (bilinear);
2. shifted by a random whole number of pixels in ``[-max_shift, max_shift]``
   along each axis (``scipy.ndimage.shift(..., order=0, mode="constant")``,
   zeros shifted in), default 2;
3. given Gaussian noise of standard deviation ``noise`` grey levels (the
   digits use 0..16), default 1, clipped to ``[0, 16]`` and divided by 16
   (pixels in ``[0, 1]``, no per-pixel standardisation).

The noise makes every one of the 784 pixels vary, the empty border included.

:func:`optdigits_28x28` renders UCI optdigits with its official
writer-disjoint split (3823 training images by 30 writers, 1797 test images by
13 others): the first ``n_train`` training images of a stratified shuffle
(seed ``random_state``), every test image. Each source image is used once.
"""

import numpy as np
from scipy import ndimage


def render_28x28(images, random_state, *, max_shift=2, noise=1.0):
    """Render 8x8 grey-level images (0..16) as 28 x 28 images, one row of 784 pixels each.

    Parameters
    ----------
    images : ndarray of shape (n, 8, 8) or (n, 64)
    random_state : numpy.random.RandomState
        Draws the shifts and the noise, image after image.
    max_shift : int, default=2
    noise : float, default=1.0
        Standard deviation in grey levels (of 16).

    Returns
    -------
    ndarray of shape (n, 784), values in [0, 1]
    """
    images = np.asarray(images, dtype=np.float64).reshape(-1, 8, 8)
    out = np.empty((images.shape[0], 28 * 28))
    for row, image in enumerate(images):
        big = ndimage.zoom(image, 3.5, order=1)
        dy, dx = random_state.randint(-max_shift, max_shift + 1, size=2)
        big = ndimage.shift(big, (dy, dx), order=0, mode="constant", cval=0.0)
        big = big + noise * random_state.standard_normal(big.shape)
        out[row] = np.clip(big, 0.0, 16.0).ravel() / 16.0
    return out


def optdigits_28x28(n_train=3500, *, folder=None, random_state=0, max_shift=2, noise=1.0):
    """``(X_train, y_train, X_test, y_test)`` from UCI optdigits rendered at 28 x 28.

    Parameters
    ----------
    n_train : int, default=3500
        Training images kept (at most 3823), a stratified random subset.
    folder : str, default=None
        UCI folder (default ``$SHALLOWML_DATA`` or ``../shared/uci``).
    random_state : int, default=0

    Returns
    -------
    X_train : ndarray of shape (n_train, 784)
    y_train : ndarray of shape (n_train,) of int
    X_test : ndarray of shape (1797, 784)
    y_test : ndarray of shape (1797,) of int
    """
    from sklearn.model_selection import train_test_split

    from benchmarks.datasets import load

    X, y, X_te, y_te = load("optdigits", folder)
    y, y_te = y.astype(int), y_te.astype(int)
    if n_train < X.shape[0]:
        X, _, y, _ = train_test_split(X, y, train_size=n_train, stratify=y, random_state=random_state)
    rng = np.random.RandomState(random_state)
    X = render_28x28(X, rng, max_shift=max_shift, noise=noise)
    X_te = render_28x28(X_te, rng, max_shift=max_shift, noise=noise)
    return X, y, X_te, y_te
