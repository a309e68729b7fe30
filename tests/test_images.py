"""The image-like benchmark data (benchmarks/images.py): 8x8 digits rendered at 28 x 28."""

import numpy as np
from sklearn.datasets import load_digits

from benchmarks.images import optdigits_28x28, render_28x28


def test_render_28x28_shape_range_and_determinism():
    images = load_digits().images[:20]
    a = render_28x28(images, np.random.RandomState(0))
    b = render_28x28(images.reshape(20, 64), np.random.RandomState(0))
    c = render_28x28(images, np.random.RandomState(1))
    assert a.shape == (20, 784) and a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # noise reaches every pixel, the strokes stay in the middle
    assert np.all(a.std(axis=0) > 0)
    mean = a.mean(axis=0).reshape(28, 28)
    assert mean[10:18, 10:18].mean() > 3 * mean[:3, :3].mean()
    # without shift and noise the image is the bilinear upsampling of the digit
    plain = render_28x28(images[:1], np.random.RandomState(0), max_shift=0, noise=0.0)
    assert plain.reshape(28, 28)[0, 0] == images[0, 0, 0] / 16.0


def test_optdigits_28x28_split(uci):
    X, y, X_te, y_te = optdigits_28x28(3500, folder=uci)
    assert X.shape == (3500, 784) and X_te.shape == (1797, 784)
    assert np.bincount(y).min() >= 340 and np.bincount(y_te).min() >= 174
    # the official test images are scikit-learn's digits, in the same order
    np.testing.assert_array_equal(y_te, load_digits().target)
