"""Rank-one basis sets for SCML (Shi, Bellet & Sha, AAAI 2014), as metric-learn 0.7 builds them.

* 'triplet_diffs' (from triplets): repeatedly draw ``n_features`` triplets,
  form ``S = sum (x_a - x_p)(x_a - x_p)^T - sum (x_a - x_n)(x_a - x_n)^T``
  over them and keep the eigenvectors of ``S`` with a non-zero eigenvalue,
  until ``n_basis`` are collected.
* 'lda' (from class labels): k-means centres mark local regions; around each
  centre the ``k`` nearest samples of every class (two scales of ``k``) give
  a local Fisher discriminant analysis whose ``n_classes - 1`` directions,
  normalised to unit length, are bases.
"""

import warnings

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

from ._kernels.distances import pairwise_sq_distances
from ._solvers.kmeans import kmeans


def _unit_rows(V):
    norms = np.linalg.norm(V, axis=1)
    return V / np.where(norms > 0, norms, 1.0)[:, None]


def triplet_diffs_basis(Dp, Dn, n_basis, rng):
    """'triplet_diffs' bases from the positive and negative differences of the triplets.

    Parameters
    ----------
    Dp, Dn : ndarray of shape (n_triplets, n_features)
        ``x_a - x_p`` and ``x_a - x_n``.
    n_basis : int
    rng : numpy.random.RandomState

    Returns
    -------
    basis : ndarray of shape (n_basis, n_features)
        Unit rows.

    Raises
    ------
    ValueError
        With fewer triplets than features (a draw needs ``n_features``
        distinct triplets), or when draws keep giving no direction (every
        difference zero).

    Notes
    -----
    metric-learn 0.7 keeps *rows* of the eigenvector matrix of ``S^T S``
    (``v[mask]`` with ``v`` holding eigenvectors in columns), an orthonormal
    set that is not the eigenvectors; this takes the eigenvectors (columns),
    as its documentation describes.
    """
    n_triplets, d = Dp.shape
    if n_triplets < d:
        raise ValueError(
            f"basis='triplet_diffs' needs at least as many triplets as features: got {n_triplets} "
            f"triplets and {d} features. Reduce the dimension (e.g. PCA) or pass a basis array."
        )
    out = []
    total = 0
    empty_draws = 0
    while total < n_basis:
        sel = rng.choice(n_triplets, size=d, replace=False)
        P, N = Dp[sel], Dn[sel]
        S = P.T @ P - N.T @ N
        lam, V = linalg.eigh(0.5 * (S + S.T), check_finite=False)
        keep = np.abs(lam) > d * np.finfo(np.float64).eps * max(np.abs(lam).max(initial=0.0), np.finfo(np.float64).tiny)
        if not keep.any():
            empty_draws += 1
            if empty_draws >= 100:
                raise ValueError(
                    "basis='triplet_diffs' found no direction in 100 draws of triplets: the "
                    "differences inside the triplets are zero or cancel out. Pass a basis array."
                )
            continue
        rows = V[:, keep].T
        out.append(rows[: n_basis - total])
        total += out[-1].shape[0]
    return np.ascontiguousarray(np.vstack(out))


def local_lda_directions(X, y_codes, n_directions, tol=1e-4):
    """Fisher discriminant directions of ``(X, y)``, unit length, by decreasing discriminance.

    Within-class whitening on the directions with within-class spread
    (features scaled by their within-class standard deviation, singular
    values below ``tol`` dropped), then the principal directions of the
    class means weighted by ``sqrt(class size)``, mapped back to the
    features: the classical Fisher directions (generalised eigenvectors of
    between- versus within-class scatter on the range of the latter).
    """
    classes, codes, counts = np.unique(y_codes, return_inverse=True, return_counts=True)
    n, d = X.shape
    onehot = np.zeros((n, classes.size))
    onehot[np.arange(n), codes] = 1.0
    means = (onehot.T @ X) / counts[:, None]
    Xc = X - means[codes]
    std = Xc.std(axis=0)
    std[std == 0] = 1.0
    Xs = Xc / std
    S = (Xs.T @ Xs) / max(n - classes.size, 1)
    lam, V = linalg.eigh(0.5 * (S + S.T), check_finite=False)
    keep = lam > tol * tol
    if not keep.any():
        return np.zeros((0, d))
    W = (V[:, keep] / np.sqrt(lam[keep])) / std[:, None]  # x -> whitened coordinates
    centre = counts @ means / n
    B = (np.sqrt(counts)[:, None] * (means - centre)) @ W
    _, s, Vt = linalg.svd(B, full_matrices=False, check_finite=False)
    rank = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
    return _unit_rows((W @ Vt[:rank].T).T[:n_directions])


def lda_n_basis(n_samples, n_features, n_classes):
    """Default number of 'lda' bases: ``min(20 n_features, 2 n_samples (n_classes - 1) - 1)``."""
    n_eig = min(n_classes - 1, n_features)
    return min(20 * n_features, n_samples * 2 * n_eig - 1)


def lda_basis(X, y_codes, n_basis, rng, n_init=1):
    """'lda' bases: local Fisher directions around k-means centres, at two scales.

    ``n_clusters = ceil(n_basis / (2 (n_classes - 1)))`` k-means centres
    (:func:`shallowml._solvers.kmeans.kmeans` with ``n_init`` k-means++
    starts, the same for any number of threads; metric-learn takes the best
    of 10 starts of scikit-learn's ``KMeans``, which costs ten times as much
    for bases of the same kind); around each, the ``k`` nearest samples of
    every class with ``k`` in (10, 20), or (20, 50) above 50 features (fewer for smaller
    classes), give ``n_classes - 1`` local Fisher directions each. Bases are
    ordered scale by scale, centre by centre, and cut at ``n_basis``.

    Returns
    -------
    basis : ndarray of shape (n_basis_found, n_features)
        Unit rows; fewer than ``n_basis`` only when local problems have fewer
        discriminant directions than ``n_classes - 1``.
    """
    n, d = X.shape
    counts = np.bincount(y_codes)
    n_classes = counts.size
    n_eig = min(n_classes - 1, d)
    if n_basis >= n * 2 * n_eig:
        raise ValueError(
            f"Not enough samples for {n_basis} 'lda' bases: n_basis must be below "
            f"2 * n_samples * min(n_classes - 1, n_features) = {n * 2 * n_eig}."
        )
    if n_basis < n_classes:
        warnings.warn(
            f"n_basis={n_basis} is smaller than the number of classes ({n_classes}), which may "
            "lead to poor discriminative performance.", UserWarning, stacklevel=3,
        )
    n_clusters = int(np.ceil(n_basis / (2 * n_eig)))
    clusters = kmeans(X, n_clusters, rng, n_init=n_init)
    if not clusters.converged:
        warnings.warn(f"The k-means of the 'lda' bases stopped after {clusters.n_iter} Lloyd iterations "
                      "before converging; the bases are built around its last centres.",
                      ConvergenceWarning, stacklevel=3)
    centres = clusters.x
    scales = (20, 50) if d > 50 else (10, 20)
    # the k_max nearest members of every class to every centre, sorted by (distance, index)
    nearest = []
    for c in range(n_classes):
        members = np.flatnonzero(y_codes == c)
        k = min(counts[c], scales[1])
        D = pairwise_sq_distances(centres, X[members])
        order = np.argsort(D, axis=1, kind="stable")[:, :k]
        nearest.append(members[order])
    rows = []
    total = 0
    for scale in scales:
        for j in range(n_clusters):
            idx = np.concatenate([nearest[c][j, : min(counts[c], scale)] for c in range(n_classes)])
            V = local_lda_directions(X[idx], y_codes[idx], n_eig)
            V = V[: n_basis - total]
            rows.append(V)
            total += V.shape[0]
            if total >= n_basis:
                return np.ascontiguousarray(np.vstack(rows))
    return np.ascontiguousarray(np.vstack(rows))
