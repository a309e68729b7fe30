"""k-means whose result does not depend on the number of threads.

Lloyd's iterations (S. P. Lloyd, "Least squares quantization in PCM", IEEE
Trans. Inf. Theory 28(2), 1982) from k-means++ seeds (D. Arthur and
S. Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007).
Squared distances are exact (the difference form, written by rows in
parallel, each row by one thread), assignments break ties by the lowest
centre index, and the centres' sums are taken in row order: the same
centres for any number of numba, OpenMP or BLAS threads.

scikit-learn's ``KMeans`` reduces partial sums per OpenMP thread, so its
centres move in the last bits with ``OMP_NUM_THREADS``; on data with many
equal distances (balance-scale is a full 5^4 grid) that changes the
clusters, and with them SCML_Supervised's 'lda' bases: a serial run and a
Dask worker (which starts with ``OMP_NUM_THREADS=1``) learned different
metrics from the same seed.
"""

import numpy as np

from .._kernels.distances import pairwise_sq_distances
from .result import SolverResult

__all__ = ["kmeans"]


def _seeds(X, n_clusters, rng):
    """k-means++: each further centre is a sample drawn with probability proportional to
    its squared distance to the nearest centre so far."""
    n = X.shape[0]
    centres = np.empty((n_clusters, X.shape[1]))
    centres[0] = X[rng.randint(n)]
    nearest = pairwise_sq_distances(X, centres[:1])[:, 0]
    for j in range(1, n_clusters):
        cumulative = np.cumsum(nearest)
        if cumulative[-1] > 0:
            i = min(int(np.searchsorted(cumulative, rng.random_sample() * cumulative[-1], side="right")), n - 1)
        else:  # every sample sits on a centre already
            i = rng.randint(n)
        centres[j] = X[i]
        np.minimum(nearest, pairwise_sq_distances(X, centres[j : j + 1])[:, 0], out=nearest)
    return centres


def _lloyd(X, centres, max_iter, tol):
    """Lloyd's iterations from ``centres``; ``(centres, inertia, n_iter, converged)``."""
    n, d = X.shape
    k = centres.shape[0]
    labels = None
    converged = False
    for it in range(1, max_iter + 1):
        D = pairwise_sq_distances(X, centres)
        new = np.argmin(D, axis=1)  # ties: the lowest centre index
        if labels is not None and np.array_equal(new, labels):  # D is that of these centres
            return centres, float(np.sum(np.min(D, axis=1))), it, True
        labels = new
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros((k, d))
        np.add.at(sums, labels, X)  # unbuffered, in row order
        moved = sums / np.maximum(counts, 1)[:, None]
        empty = np.flatnonzero(counts == 0)
        if empty.size:  # an empty cluster takes the samples farthest from their centres
            far = np.argsort(-D[np.arange(n), labels], kind="stable")[: empty.size]
            moved[empty] = X[far]
        shift = float(np.sum((moved - centres) ** 2))
        centres = moved
        if shift <= tol:
            converged = True
            break
    return centres, float(np.sum(np.min(pairwise_sq_distances(X, centres), axis=1))), it, converged


def kmeans(X, n_clusters, rng, *, n_init=1, max_iter=300, tol=1e-4):
    """k-means centres of ``X``: the best of ``n_init`` k-means++ starts.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_clusters : int
        At most ``n_samples``.
    rng : numpy.random.RandomState
        Draws the seeds.
    n_init : int, default=1
        Starts; the one with the lowest inertia is kept.
    max_iter : int, default=300
        Lloyd iterations per start.
    tol : float, default=1e-4
        A start stops when its assignments repeat or its centres move by less
        than ``tol`` times the mean variance of the features (squared,
        summed over the centres), as in scikit-learn's ``KMeans``.

    Returns
    -------
    result : SolverResult
        ``x`` the centres, shape (n_clusters, n_features); ``fun`` their
        inertia (sum of squared distances of the samples to their nearest
        centre); ``n_iter`` and ``converged`` of the start kept.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._solvers.kmeans import kmeans
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
    >>> np.sort(kmeans(X, 2, np.random.RandomState(0)).x, axis=0).ravel().round(2).tolist()
    [0.05, 5.05]
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if not 1 <= n_clusters <= X.shape[0]:
        raise ValueError(f"n_clusters must be between 1 and n_samples={X.shape[0]}, got {n_clusters}.")
    tol_abs = tol * float(np.mean(np.var(X, axis=0)))
    best = None
    for _ in range(n_init):
        centres, inertia, n_iter, converged = _lloyd(X, _seeds(X, n_clusters, rng), max_iter, tol_abs)
        if best is None or inertia < best.fun:
            best = SolverResult(x=centres, fun=inertia, n_iter=n_iter, converged=converged,
                                message="assignments repeat or centres moved less than tol" if converged
                                else "maximum number of iterations reached")
    return best
