"""Generalised symmetric eigenproblems for Fisher-type criteria."""

import numpy as np
from scipy import linalg


def fisher_directions(S_between, S_within, n_components, *, reg=1e-6):
    """Top generalised eigenvectors of ``S_between v = lambda S_within v``.

    ``S_within`` is regularised as ``S_w + reg * (S_w + S_b)`` (a fraction of
    the total scatter, plus a floor of ``eps`` times its mean eigenvalue) so it
    is positive definite even for directions with no within-class spread.
    Unlike a ridge ``reg * I``, this keeps the directions invariant to affine
    changes of the features (features on very different scales), and when
    ``S_w`` is non-singular the eigenvectors are exactly those of the
    unregularised problem (eigenvalues ``lambda / (1 + reg + reg * lambda)``).
    Eigenvectors are normalised so that ``V.T @ S_within_reg @ V = I``.

    Returns
    -------
    eigenvalues : ndarray of shape (n_components,), descending
    V : ndarray of shape (r, n_components)
    """
    r = S_within.shape[0]
    S_w = 0.5 * (S_within + S_within.T)
    S_b = 0.5 * (S_between + S_between.T)
    S_t = S_w + S_b
    floor = np.finfo(np.float64).eps * max(np.trace(S_t) / max(r, 1), np.finfo(np.float64).tiny)
    S_w = S_w + reg * S_t + floor * np.eye(r)
    w, V = linalg.eigh(S_b, S_w, check_finite=False)
    top = np.argsort(w, kind="stable")[::-1][:n_components]
    return np.clip(w[top], 0.0, None), V[:, top]
