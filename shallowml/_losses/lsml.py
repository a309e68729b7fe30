"""LSML objective and gradient as pure functions.

Liu, Guo, Zhang, Jojic & Wang, "Metric learning from relative comparisons
by minimizing squared residual", ICDM 2012. A quadruplet ``(a, b, c, d)`` says
``d_M(a, b) < d_M(c, d)``, with ``d_M(x, y) = sqrt((x - y)^T M (x - y))``. The
objective (in the form of metric-learn 0.7, weights ``w`` normalised to sum
to 1) is::

    f(M) = sum_i w_i [d_M(a_i, b_i) - d_M(c_i, d_i)]_+^2 + tr(M P^-1) - log det M,

a squared hinge on the *distance* (not squared distance) residual of each
comparison, plus the LogDet divergence to the prior ``P`` (up to constants).

It is convex in ``M``: with ``p = v^T M v`` and ``q = u^T M u`` linear in
``M``, ``(sqrt p - sqrt q)^2 = p + q - 2 sqrt(p q)`` is convex (the geometric
mean is concave), and its positive part ``[sqrt p - sqrt q]_+^2`` joins 0 with
zero slope along ``p = q``, so it is convex too; ``tr(M P^-1) - log det M`` is
strictly convex. The minimiser is unique and positive definite
(``tests/test_lsml.py`` checks it against cvxpy).

:func:`lsml_objective` is the objective in data units (used to compare with
metric-learn and to report ``objective_``). The solver minimises the same
function in the coordinates of :func:`lsml_loss_grad`: ``M = c R^T J^T J R``
with ``P = R^T R`` and a scalar ``c`` chosen in :func:`lsml_coordinates`, so
that the prior term is ``c ||J||_F^2 - 2 log|det J|`` (plus constants) and
the start ``J = I`` is the best multiple of the prior.
"""

import numpy as np
from scipy import linalg


def _hinge_residuals(Za, Zc):
    """``(|Za_i|, |Zc_i|, [|Za_i| - |Zc_i|]_+)`` row by row."""
    ra = np.sqrt(np.einsum("ij,ij->i", Za, Za))
    rc = np.sqrt(np.einsum("ij,ij->i", Zc, Zc))
    return ra, rc, np.maximum(ra - rc, 0.0)


def normalized_weights(weights, n_quadruplets):
    """Per-quadruplet weights divided by their sum (``None``: uniform), checked.

    Raises ``ValueError`` for a wrong length, negative, NaN or infinite
    weights, or weights that are all zero.
    """
    if weights is None:
        return np.full(n_quadruplets, 1.0 / n_quadruplets)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_quadruplets:
        raise ValueError(
            f"weights must be a 1-D array with one weight per quadruplet ({n_quadruplets}), "
            f"got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative.")
    total = w.sum()
    if not total > 0:
        raise ValueError("weights are all zero: at least one quadruplet needs a positive weight.")
    return w / total


def lsml_objective(M, Vab, Vcd, weights, prior_inv):
    """The LSML objective at ``M``, in data units.

    Parameters
    ----------
    M : ndarray of shape (n_features, n_features)
        Symmetric positive definite.
    Vab, Vcd : ndarray of shape (n_quadruplets, n_features)
        ``x_a - x_b`` and ``x_c - x_d``; each quadruplet asks ``d(a, b) < d(c, d)``.
    weights : ndarray of shape (n_quadruplets,) or None
        Normalised to sum to 1 (as metric-learn does); None: uniform.
    prior_inv : ndarray of shape (n_features, n_features)
        Inverse of the prior ``P``.

    Returns
    -------
    f : float
        ``sum_i w_i [d_M(a_i, b_i) - d_M(c_i, d_i)]_+^2 + tr(M P^-1) - log det M``
        (``inf`` when ``M`` is not positive definite).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._losses.lsml import lsml_objective
    >>> # d(a, b) = 2 > d(c, d) = 1 under the identity: residual 1, prior term d = 2
    >>> float(lsml_objective(np.eye(2), np.array([[2.0, 0.0]]), np.array([[0.0, 1.0]]), None, np.eye(2)))
    3.0
    """
    M = np.asarray(M, dtype=np.float64)
    w = normalized_weights(weights, Vab.shape[0])
    dab = np.maximum(np.einsum("ij,jk,ik->i", Vab, M, Vab), 0.0)
    dcd = np.maximum(np.einsum("ij,jk,ik->i", Vcd, M, Vcd), 0.0)
    r = np.maximum(np.sqrt(dab) - np.sqrt(dcd), 0.0)
    sign, logdet = np.linalg.slogdet(M)
    if sign <= 0:
        return np.inf
    return float(w @ (r * r) + np.sum(M * prior_inv) - logdet)


def lsml_loss_grad(params, Ua, Uc, w, c):
    """LSML objective (up to a constant) and gradient in the solver's coordinates.

    ``F(J) = sum_i w_i [|J ua_i| - |J uc_i|]_+^2 + c ||J||_F^2 - 2 log|det J|``,
    where ``Ua``/``Uc`` are the scaled, prior-whitened differences of
    :func:`lsml_coordinates`. The gradient of the hinge is exact where
    ``J`` is invertible (``|J uc| = 0`` only for ``uc = 0``, whose term is
    constant).

    Parameters
    ----------
    params : ndarray of shape (n_features * n_features,)
        ``J``, flattened in C order.
    Ua, Uc : ndarray of shape (n_quadruplets, n_features)
    w : ndarray of shape (n_quadruplets,)
        Weights summing to 1.
    c : float
        Weight of the trace term.

    Returns
    -------
    loss : float
        ``inf`` when ``J`` is singular.
    grad : ndarray of shape (n_features * n_features,)
    """
    d = Ua.shape[1]
    J = params.reshape(d, d)
    Za = Ua @ J.T
    Zc = Uc @ J.T
    ra, rc, r = _hinge_residuals(Za, Zc)
    active = np.flatnonzero(r > 0)
    loss = float(w[active] @ (r[active] ** 2))
    grad = 2.0 * c * J
    if active.size:
        coef = 2.0 * w[active] * r[active]
        # ra > rc >= 0 on active rows; rc == 0 only for uc == 0 (J invertible)
        ca = coef / ra[active]
        rcs = rc[active]
        cc = np.divide(coef, rcs, out=np.zeros_like(coef), where=rcs > 0)
        grad += (Za[active] * ca[:, None]).T @ Ua[active]
        grad -= (Zc[active] * cc[:, None]).T @ Uc[active]
    try:
        lu, piv = linalg.lu_factor(J, check_finite=False)
    except (ValueError, linalg.LinAlgError):
        return np.inf, np.zeros_like(params)
    diag = np.abs(np.diag(lu))
    if not np.all(diag > 0) or not np.all(np.isfinite(diag)):
        return np.inf, np.zeros_like(params)
    logdet = float(np.sum(np.log(diag)))
    J_inv_T = linalg.lu_solve((lu, piv), np.eye(d), trans=1, check_finite=False)  # solves J^T X = I
    loss += c * float(np.sum(J * J)) - 2.0 * logdet
    grad -= 2.0 * J_inv_T
    return loss, grad.ravel()


def natural_gradient_norm(params, grad):
    """``||J G J^T||_F`` with ``G`` the gradient with respect to ``A = J^T J``.

    Equal to ``||L G_M L^T||_F`` for ``M = L^T L`` in any coordinates (data
    units or the solver's), dimensionless, and 0 exactly at the optimum: the
    stopping rule of LSML (``tol``). From ``dF/dJ = 2 J G``:
    ``J G J^T = (dF/dJ) J^T / 2``.
    """
    d = int(round(np.sqrt(params.size)))
    J = params.reshape(d, d)
    N = 0.5 * grad.reshape(d, d) @ J.T
    return float(np.linalg.norm(0.5 * (N + N.T)))


def lsml_coordinates(Vab, Vcd, w, prior, prior_is_inverse=False, scale=1.0):
    """Map the LSML problem in data units to the solver's coordinates.

    With the prior ``P = R^T R`` (``R = diag(sqrt(lambda)) V^T`` from its
    eigendecomposition) and the data spread ``m = scale``, the differences
    become ``u = R v / m``. The best multiple of the prior, ``c* P`` with
    ``c* = d / (d + g(P))`` (``g`` the hinge term, homogeneous of degree one
    in ``M``), becomes ``J = I`` when the differences are multiplied by
    ``sigma = sqrt(c*) m``; the trace term then has weight ``c = c*``.
    Everything is computed without forming ``m^2``, so data at any scale
    whose spread is a normal float64 stay finite.

    Parameters
    ----------
    Vab, Vcd : ndarray of shape (n_quadruplets, n_features)
    w : ndarray of shape (n_quadruplets,)
    prior : ndarray of shape (n_features, n_features)
        ``P``, or ``P^-1`` when ``prior_is_inverse``; symmetric positive definite.
    scale : float
        The data spread ``m``.

    Returns
    -------
    Ua, Uc : ndarray of shape (n_quadruplets, n_features)
    c : float
        Weight of ``||J||_F^2``.
    to_components : ndarray of shape (n_features, n_features)
        ``B`` with ``L = J B`` (``B = sqrt(c*) R``).
    offset : float
        ``f(M) = F(J) + offset``, ``offset = -log det P - d log c*``.
    prior_inv : ndarray of shape (n_features, n_features)
        ``P^-1`` in data units.

    Raises
    ------
    ValueError
        When the prior is not symmetric positive definite.
    """
    d = Vab.shape[1]
    P = np.asarray(prior, dtype=np.float64)
    lam, V = linalg.eigh(0.5 * (P + P.T), check_finite=False)
    if not (lam[0] > 1e-12 * max(lam[-1], np.finfo(np.float64).tiny) and np.all(np.isfinite(lam))):
        what = "covariance of the points" if prior_is_inverse else "prior"
        raise ValueError(
            f"LSML needs a strictly positive definite {what} (its LogDet term is infinite otherwise); "
            f"its eigenvalues range from {lam[0]:.3g} to {lam[-1]:.3g}. "
            + ("Use prior='identity', or remove constant and duplicated features (e.g. with PCA)."
               if prior_is_inverse else "Pass a positive definite matrix, 'identity' or 'random'.")
        )
    if prior_is_inverse:
        lam = 1.0 / lam
    logdet_P = float(np.sum(np.log(lam)))
    R = np.sqrt(lam)[:, None] * V.T
    prior_inv = (V / lam) @ V.T
    m = float(scale)
    Ua = (Vab / m) @ R.T
    Uc = (Vcd / m) @ R.T
    _, _, r = _hinge_residuals(Ua, Uc)
    g1 = float(w @ (r * r))  # g(P) / m^2
    # sigma = sqrt(c*) m = m / sqrt(1 + m^2 g1 / d), with hypot so that m^2 is never formed
    h = float(np.hypot(1.0, m * np.sqrt(g1 / d)))
    sigma = m / h
    log_c = -2.0 * np.log(h)
    c = float(np.exp(log_c))
    return Ua * sigma, Uc * sigma, c, np.exp(0.5 * log_c) * R, -logdet_P - d * log_c, prior_inv
