"""Generalised symmetric eigenproblems for Fisher-type criteria."""

import numpy as np
from scipy import linalg


def fisher_directions(S_between, S_within, n_components, *, reg=1e-6):
    """Top generalised eigenvectors of ``S_between v = lambda S_within v``.

    ``S_within`` is regularised by ``reg`` times its mean eigenvalue (plus a
    floor) so it is positive definite even for directions with no within-class
    spread. Eigenvectors are normalised so that ``V.T @ S_within_reg @ V = I``.

    Returns
    -------
    eigenvalues : ndarray of shape (n_components,), descending
    V : ndarray of shape (r, n_components)
    """
    r = S_within.shape[0]
    S_w = 0.5 * (S_within + S_within.T)
    S_b = 0.5 * (S_between + S_between.T)
    ridge = reg * max(np.trace(S_w) / max(r, 1), np.finfo(np.float64).tiny) + np.finfo(np.float64).eps
    S_w = S_w + ridge * np.eye(r)
    w, V = linalg.eigh(S_b, S_w, check_finite=False)
    top = np.argsort(w, kind="stable")[::-1][:n_components]
    return np.clip(w[top], 0.0, None), V[:, top]
