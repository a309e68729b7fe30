"""Initial linear maps for the iterative learners (LMNN, NCA, Siamese)."""

import numbers

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_array

from .._solvers.eigen import fisher_directions
from .linalg import principal_subspace
from .validation import column_means

INIT_OPTIONS = ("auto", "pca", "lda", "identity", "random")


def resolve_init(init, n_components, X, y_codes):
    """The named init that ``init`` stands for: 'auto' becomes 'lda', 'pca' or 'identity'.

    'auto' is 'lda' when class labels are given and ``n_components <=
    min(n_features, n_classes - 1)``, else 'pca' when ``n_components <
    min(n_features, n_samples)``, else 'identity'. Other names are returned
    unchanged.
    """
    if init != "auto":
        return init
    n_samples, n_features = X.shape
    n_classes = 0 if y_codes is None else int(np.max(y_codes)) + 1
    if y_codes is not None and n_components <= min(n_features, n_classes - 1):
        return "lda"
    if n_components < min(n_features, n_samples):
        return "pca"
    return "identity"


def initial_components(init, X, y_codes, n_components, *, random_state):
    """Return an initial ``L`` of shape ``(n_components, n_features)``.

    Parameters
    ----------
    init : {'auto', 'pca', 'lda', 'identity', 'random'} or ndarray
        'auto' picks 'lda' when ``n_components <= min(n_features, n_classes - 1)``,
        else 'pca' when ``n_components < min(n_features, n_samples)``, else
        'identity'.
        'identity' uses the first ``n_components`` rows of the identity.
        'random' draws a standard normal matrix. An array is checked and used.
    X : ndarray of shape (n_samples, n_features)
    y_codes : ndarray of shape (n_samples,) or None
        Class indices (used by 'lda'); None for pair learners.
    n_components : int
    random_state : numpy.random.RandomState
        Passed down explicitly (used by 'random' and randomized PCA).

    Returns
    -------
    L0 : ndarray of shape (n_components, n_features)
    """
    n_samples, n_features = X.shape
    if not isinstance(init, str):
        L0 = check_array(init, dtype=np.float64, input_name="init")
        if L0.shape != (n_components, n_features):
            raise ValueError(
                f"The init array has shape {L0.shape}; expected (n_components, n_features) = "
                f"({n_components}, {n_features})."
            )
        if not np.any(L0):
            # L = 0 maps every sample to one point: a stationary point of the LMNN, NCA and
            # Siamese objectives, so a fit from there would return it unchanged
            raise ValueError(
                "The init array is all zeros: the fit cannot move from L = 0 (every gradient "
                "vanishes there). Pass a non-zero array or a named init such as 'identity'."
            )
        return L0.copy()
    init = resolve_init(init, n_components, X, y_codes)
    if init == "identity":
        return np.eye(n_components, n_features)
    if init == "random":
        return random_state.standard_normal((n_components, n_features))
    if init == "pca":
        if n_components > min(n_samples, n_features):
            raise ValueError(
                f"init='pca' needs n_components <= min(n_samples, n_features) = "
                f"{min(n_samples, n_features)}, got {n_components}."
            )
        pca = PCA(n_components=n_components, random_state=random_state).fit(X)
        return pca.components_.copy()
    if init == "lda":
        if y_codes is None:
            raise ValueError("init='lda' needs class labels; use 'pca' or 'identity' for pairs.")
        n_classes = int(np.max(y_codes)) + 1
        if n_components > min(n_features, n_classes - 1):
            raise ValueError(
                f"init='lda' needs n_components <= min(n_features, n_classes - 1) = "
                f"{min(n_features, n_classes - 1)}, got {n_components}."
            )
        # Fisher directions within the principal subspace of X: a feature constant in
        # the training data (a border pixel) or an exact duplicate would make the
        # within-class scatter singular, and its weight arbitrary. Rows beyond the rank
        # of the centred data stay zero (no direction without variance gets a weight).
        mean, basis, _ = principal_subspace(X)
        r = min(n_components, basis.shape[1])
        L0 = np.zeros((n_components, n_features))
        if r:
            S_w, S_b = class_scatters((X - mean) @ basis, y_codes)
            _, V = fisher_directions(S_b, S_w, r)
            L0[:r] = (basis @ V).T
        # rescale to unit-variance output so the starting metric has a sensible scale
        Z = (X - column_means(X)) @ L0.T
        scale = np.sqrt(np.mean(Z * Z, axis=0))
        return L0 / np.where(scale > 0, scale, 1.0)[:, None]
    raise ValueError(f"init must be one of {INIT_OPTIONS} or an array, got {init!r}.")


def class_scatters(X, y_codes):
    """Within-class and between-class scatter matrices (divided by ``n``)."""
    n, d = X.shape
    # centred with exact means on constant features, so both scatters are exactly
    # zero there (class means of a constant column could otherwise differ by round-off)
    X = X - column_means(X)
    mean = X.mean(axis=0)
    S_w = np.zeros((d, d))
    S_b = np.zeros((d, d))
    for c in range(int(np.max(y_codes)) + 1):
        Xc = X[y_codes == c]
        if Xc.shape[0] == 0:
            continue
        mc = column_means(Xc)
        D = Xc - mc
        S_w += D.T @ D
        S_b += Xc.shape[0] * np.outer(mc - mean, mc - mean)
    return S_w / n, S_b / n


def resolve_n_components(n_components, n_features, *, what="the number of features"):
    """``n_components``, or ``n_features`` when None; the one check of every estimator.

    ``n_features`` is the upper bound and ``what`` names it in the message
    (e.g. ``"min(n_features, n_classes - 1)"`` for LDA).
    """
    if n_components is None:
        return int(n_features)
    if not isinstance(n_components, numbers.Integral) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}.")
    if n_components > n_features:
        raise ValueError(
            f"n_components={n_components} is larger than {what} ({n_features}); "
            f"use at most {n_features}, or None."
        )
    return int(n_components)
