"""Linear-algebra helpers: PSD matrices to linear maps, principal subspaces."""

import numpy as np
from scipy import linalg

from .validation import column_means


def components_from_metric(M, *, tol=1e-8, atol=0.0):
    """Return ``L`` with ``L.T @ L == M`` for a symmetric PSD matrix ``M``.

    Cholesky is tried first (fast and exact for positive definite ``M``). For
    singular PSD matrices the eigendecomposition is used, with eigenvalues in
    ``[-max(tol * max|lambda|, atol), 0)`` clipped to zero (round-off).

    Parameters
    ----------
    M : array-like of shape (n_features, n_features)
        Symmetric positive semi-definite matrix.
    tol : float, default=1e-8
        Relative tolerance on negative eigenvalues.
    atol : float, default=0.0
        Absolute tolerance on negative eigenvalues, for callers that know the
        scale ``M`` came from (e.g. a solver that shrank a unit-scale prior
        to almost zero, where the relative tolerance alone cannot tell
        round-off from a wrong sign).

    Returns
    -------
    L : ndarray of shape (n_features, n_features)

    Raises
    ------
    ValueError
        If ``M`` is not square, not finite, not symmetric, or has an
        eigenvalue below ``-tol * max|lambda|``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.linalg import components_from_metric
    >>> M = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> L = components_from_metric(M)
    >>> np.allclose(L.T @ L, M)
    True
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"The metric matrix must be square, got shape {M.shape}.")
    if not np.all(np.isfinite(M)):
        raise ValueError("The metric matrix contains NaN or infinity.")
    scale = max(np.abs(M).max(initial=0.0), np.finfo(np.float64).tiny)
    if np.abs(M - M.T).max(initial=0.0) > 1e-6 * scale:
        raise ValueError("The metric matrix must be symmetric.")
    M = 0.5 * (M + M.T)
    try:
        C = linalg.cholesky(M, lower=True, check_finite=False)
        if np.all(np.isfinite(C)) and np.all(np.diag(C) > 0):
            return np.ascontiguousarray(C.T)
    except linalg.LinAlgError:
        pass
    w, V = linalg.eigh(M, check_finite=False)
    if w[0] < -max(tol * max(np.abs(w).max(), np.finfo(np.float64).tiny), atol):
        raise ValueError(
            "The metric matrix is not positive semi-definite "
            f"(smallest eigenvalue {w[0]:.3g}, largest {w[-1]:.3g})."
        )
    w = np.clip(w, 0.0, None)
    return np.ascontiguousarray((V * np.sqrt(w)).T[::-1])


def principal_subspace(X, *, rtol=1e-10):
    """Orthonormal basis of the directions in which ``X`` varies.

    Directions whose variance is below ``rtol`` times the largest variance
    (constant features, exact linear duplicates) are dropped, so scatter
    matrices restricted to the basis are well conditioned.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    rtol : float, default=1e-10
        Relative variance threshold.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    basis : ndarray of shape (n_features, rank)
        Columns sorted by decreasing variance. ``rank`` may be 0.
    variances : ndarray of shape (rank,)
    """
    mean = column_means(X)  # exact on constant columns
    Xc = X - mean
    scale = np.abs(Xc).max(initial=0.0)
    if scale == 0.0:
        return mean, np.zeros((X.shape[1], 0)), np.zeros(0)
    # scale before the SVD so that 1e150 or 1e-150 inputs neither overflow nor underflow
    _, s, Vt = linalg.svd(Xc / scale, full_matrices=False, check_finite=False)
    var = s**2
    keep = var > rtol * var[0]
    return mean, Vt[keep].T, var[keep] * scale**2 / max(X.shape[0], 1)


def symmetric_inverse_sqrt(S, *, reg=0.0, rtol=1e-12):
    """Return ``S^{-1/2}`` for a symmetric positive (semi-)definite ``S``.

    ``reg`` times the mean eigenvalue is added to the spectrum first;
    eigenvalues that remain below ``rtol`` times the largest one are treated
    as zero and map to zero (pseudo-inverse). ``rtol`` is well above the
    eigensolver's round-off (about ``n * eps``), which would otherwise be
    inverted into huge spurious weights for singular ``S``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.linalg import symmetric_inverse_sqrt
    >>> symmetric_inverse_sqrt(np.diag([4.0, 0.0])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    w, V = linalg.eigh(S, check_finite=False)
    w = np.clip(w, 0.0, None)
    w = w + reg * max(w.mean(), 0.0) if w.size else w
    inv = np.zeros_like(w)
    pos = w > rtol * max(w.max(initial=0.0), np.finfo(np.float64).tiny)
    inv[pos] = 1.0 / np.sqrt(w[pos])
    return (V * inv) @ V.T
