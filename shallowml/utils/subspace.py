"""Work in the scaled principal subspace of the data.

Whitening-type estimators compute scatter matrices on
``Z = ((X - mean) / scale) @ P`` where ``P`` spans the directions with
non-zero variance. This removes constant and duplicated features (so no
singular solves, NaN or complex eigenvectors) and makes 1e150 or 1e-150
scaled inputs as easy as unit-scaled ones. A map ``A`` learned on ``Z`` is
``A @ P.T / scale`` on ``X``.
"""

import warnings

import numpy as np

from .linalg import principal_subspace
from .scaling import power_of_two_scale
from .validation import data_spread


class ScaledSubspace:
    """Centring, scaling and principal basis of a training set.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    rtol : float, default=1e-10
        Relative variance below which a direction is dropped.

    Attributes
    ----------
    Z : ndarray of shape (n_samples, rank)
        Coordinates of the scaled, centred data in the basis.
    basis : ndarray of shape (n_features, rank)
    scale : float
    rank : int
    """

    def __init__(self, X, *, rtol=1e-10):
        X = np.asarray(X, dtype=np.float64)
        # data_spread's means are exact on constant features (e.g. a pixel constant in a
        # training split of data standardised as a whole), so those columns are exactly 0
        mean, m = data_spread(X)
        scale = power_of_two_scale(m)  # m = max |X - mean| (see utils.scaling)
        Xs = (X - mean) / scale
        col = np.abs(Xs).max(axis=0)
        col = col[col > 0] / col.max()
        if col.min(initial=1.0) < np.sqrt(rtol):
            # such a feature's variance is below rtol of the largest: it may be
            # dropped as if it were constant. Say so instead of failing silently.
            warnings.warn(
                f"The features of X differ in scale by a factor of {1.0 / col.min():.1e} "
                f"(more than {1.0 / np.sqrt(rtol):.0e}): directions with less than {rtol:.0e} "
                "of the largest variance are treated as constant and get no weight. "
                "Standardize X first (e.g. StandardScaler) to keep every feature.",
                UserWarning,
                stacklevel=4,
            )
        _, self.basis, _ = principal_subspace(Xs, rtol=rtol)
        self.scale = scale
        self.Z = Xs @ self.basis
        self.rank = self.basis.shape[1]

    def to_features(self, A, n_rows=None):
        """Map ``A`` (rows on the first ``A.shape[1]`` columns of ``Z``) to
        components on ``X``, zero-padded to ``n_rows`` rows."""
        L = (A @ self.basis[:, : A.shape[1]].T) / self.scale
        if n_rows is not None and L.shape[0] < n_rows:
            L = np.vstack([L, np.zeros((n_rows - L.shape[0], L.shape[1]))])
        return L
