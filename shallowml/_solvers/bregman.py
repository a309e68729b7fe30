"""ITML solver: cyclic Bregman projections with slack (Davis et al., ICML 2007).

Minimises ``D_ld(M, M0) + gamma * D_ld(diag xi, diag xi0)`` subject to
``(x - x')^T M (x - x') <= xi`` for similar and ``>= xi`` for dissimilar
pairs, by projecting onto one constraint at a time (the numba kernel
:func:`shallowml._kernels.itml.itml_sweep`). The problem is first rescaled by
a power of two so that the kernel works on well-scaled numbers; the metric
of the original data is ``A / f``. The estimators are in
:mod:`shallowml.itml`.

J. V. Davis, B. Kulis, P. Jain, S. Sra and I. S. Dhillon,
"Information-theoretic metric learning", ICML 2007.
"""

import numpy as np
from scipy import linalg

from .._kernels.itml import itml_sweep
from ..utils.scaling import power_of_two_scale
from ..utils.validation import row_block
from .progress import ProgressTable
from .result import STOPPED_BY_CALLBACK, SolverResult

__all__ = ["itml_solve"]


def _prior_matrix(prior, points, s, d, point_weights=None):
    """Prior ``M0`` for the problem rescaled by ``s``; returns ``(M0', f)``.

    The metric on the original data is ``M = M' / f``. ``point_weights``
    (how often each point occurs, e.g. in indexed pairs) weighs the
    covariance as if the points were repeated.
    """
    if isinstance(prior, str):
        if prior == "identity":
            return np.eye(d), 1.0
        # 'covariance': pseudo-inverse of the covariance of the scaled points;
        # directions without variance (constant features) get zero weight.
        if point_weights is None:
            Z = (points - points.mean(axis=0)) / s
            cov = Z.T @ Z / max(Z.shape[0], 1)
        else:
            w = np.asarray(point_weights, dtype=np.float64) / np.sum(point_weights)
            Z = (points - w @ points) / s
            cov = (Z * w[:, None]).T @ Z
        w, U = linalg.eigh(0.5 * (cov + cov.T), check_finite=False)
        if w[-1] <= 0.0:
            raise ValueError("prior='covariance' needs points with non-zero variance.")
        keep = w > 1e-10 * w[-1]
        M0 = (U[:, keep] / w[keep]) @ U[:, keep].T
        return 0.5 * (M0 + M0.T), s * s
    M0 = np.asarray(prior, dtype=np.float64)
    if M0.shape != (d, d):
        raise ValueError(f"prior must be 'identity', 'covariance' or an array of shape ({d}, {d}), got shape {M0.shape}.")
    if not np.all(np.isfinite(M0)):
        raise ValueError("prior contains NaN or infinity.")
    scale = max(np.abs(M0).max(initial=0.0), np.finfo(np.float64).tiny)
    if np.abs(M0 - M0.T).max() > 1e-8 * scale:
        raise ValueError("prior must be a symmetric matrix.")
    M0 = 0.5 * (M0 + M0.T)
    w = linalg.eigvalsh(M0)
    if w[-1] <= 0.0 or w[0] < -1e-8 * w[-1]:
        raise ValueError(f"prior must be positive semi-definite and non-zero (eigenvalues in [{w[0]:.3g}, {w[-1]:.3g}]).")
    return M0, 1.0


def _quadratic_forms(Vs, A, rows=None):
    """``v^T A v`` for the rows ``Vs[rows]`` (None: every row), a block of rows at a time."""
    n = Vs.shape[0] if rows is None else rows.size
    out = np.empty(n)
    block = row_block(Vs.shape[1])
    for start in range(0, n, block):
        W = Vs[start:start + block] if rows is None else Vs[rows[start:start + block]]
        out[start:start + block] = np.einsum("ij,ij->i", W @ A, W)
    return out


def _screen(Vs, sign, xi, lam, A):
    """Constraints the next sweep must visit, in their cyclic order, and how many are new.

    A constraint with a zero dual that is satisfied would not be changed by
    its projection (``alpha = 0``), so the sweep skips it. Whether it is
    satisfied is checked for all such constraints at once with one matrix
    product, which is far cheaper than visiting them one by one; the
    constraints with a positive dual are always visited.
    """
    visit = lam > 0.0
    idle = np.flatnonzero(~visit)
    n_new = 0
    if idle.size:
        p = _quadratic_forms(Vs, A, idle)
        new = idle[(p > np.finfo(np.float64).tiny) & (sign[idle] * (p - xi[idle]) > 0.0)]
        visit[new] = True
        n_new = new.size
    return np.flatnonzero(visit).astype(np.int64), n_new


def _itml_solve(V, sign, gamma, prior, bounds, max_iter, tol, points, verbose, name="ITML",
                callback=None, point_weights=None, overwrite_V=False):
    """ITML in the rescaled problem; the metric is ``A / f``.

    ``callback((A, f), n_iter)`` is called after every sweep; returning True
    stops the solver (``result.stopped``). ``overwrite_V=True`` rescales a
    float64 C-contiguous ``V`` in place (no copy of the constraints).
    """
    V = np.asarray(V, dtype=np.float64)
    sign = np.asarray(sign, dtype=np.float64)
    d = V.shape[1]
    s = power_of_two_scale(V)
    if s == 0.0:
        raise ValueError("Every pair has two identical points (zero difference); nothing to learn.")
    if overwrite_V and points is not None and V.flags.c_contiguous:
        Vs = V
        Vs /= s  # a power of two: exact, as V / s
    else:
        Vs = np.ascontiguousarray(V / s)
    M0, f = _prior_matrix(prior, points if points is not None else V, s, d, point_weights)
    if bounds is None:
        sq = _quadratic_forms(Vs, M0)
        sq = sq[sq > 0]
        if sq.size == 0:
            raise ValueError("Every pair has zero distance under the prior; nothing to learn.")
        b = np.percentile(sq, [5.0, 95.0])
        bounds_used = b * (s * s / f)
    else:
        bounds_used = np.asarray(bounds, dtype=np.float64).ravel()
        if bounds_used.size != 2 or not np.all(np.isfinite(bounds_used)) or np.any(bounds_used <= 0):
            raise ValueError(f"bounds must be two positive finite numbers (u, l), got {bounds!r}.")

        b = bounds_used * (f / (s * s))
        if not np.all(np.isfinite(b)) or np.any(b <= 0):
            raise ValueError("bounds are out of range for the scale of the data.")
    xi = np.where(sign > 0, b[0], b[1]).astype(np.float64)
    lam = np.zeros(V.shape[0])
    A = np.array(M0, dtype=np.float64, order="C", copy=True)
    gamma = float(gamma)
    gamma_proj = 1.0 if np.isinf(gamma) else gamma / (gamma + 1.0)
    inv_gamma = 0.0 if np.isinf(gamma) else 1.0 / gamma
    # Screened sweeps: every sweep visits, in the cyclic order, only the
    # constraints whose projection can change something (see _screen). The
    # solver stops when a sweep changed the duals by less than tol and no
    # skipped constraint is violated, i.e. when a full sweep would stop too.
    order, _ = _screen(Vs, sign, xi, lam, A)
    table = ProgressTable(name, [("Sweep", 10, "d"), ("Dual Change", 14, ".3e"),
                                 ("Projections", 12, "d"), ("Visited", 10, "d")], enabled=verbose)
    table.start()
    lam_old = np.empty_like(lam)
    history = []
    converged = stopped = False
    conv = np.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        lam_old[:] = lam
        n_updates = itml_sweep(Vs, sign, xi, lam, A, gamma_proj, inv_gamma, order)
        A[:] = 0.5 * (A + A.T)  # remove round-off asymmetry of the rank-one updates
        normsum = np.linalg.norm(lam) + np.linalg.norm(lam_old)
        conv = 0.0 if normsum == 0.0 else float(np.abs(lam_old - lam).sum() / normsum)
        history.append(conv)
        n_visited = order.size
        order, n_new = _screen(Vs, sign, xi, lam, A)
        table.row(n_iter, conv, n_updates, n_visited)
        if (conv < tol or n_updates == 0) and n_new == 0:
            converged = True
            break
        if callback is not None and callback((A.copy(), f), n_iter):
            stopped = True
            break
    table.finish()
    if not np.all(np.isfinite(A)):
        raise ValueError("ITML diverged (non-finite metric); check the bounds and the data scale.")
    message = ("converged" if converged else STOPPED_BY_CALLBACK if stopped
               else f"relative dual change {conv:.3g} > tol={tol}")
    return A, f, bounds_used, SolverResult(A, conv, n_iter, converged, message, history, stopped)


def itml_solve(V, sign, *, gamma=1.0, prior="identity", bounds=None, max_iter=1000, tol=1e-3,
               points=None, verbose=False):
    """Solve ITML for pair differences ``V`` with labels ``sign``.

    Parameters
    ----------
    V : ndarray of shape (n_constraints, n_features)
        Differences ``x - x'`` of the pairs, processed in this order.
    sign : ndarray of shape (n_constraints,)
        +1 for similar, -1 for dissimilar pairs.
    gamma, prior, bounds, max_iter, tol, verbose
        As in :class:`~shallowml.ITML`.
    points : ndarray of shape (n_points, n_features), default=None
        Points whose covariance defines ``prior='covariance'``.

    Returns
    -------
    M : ndarray of shape (n_features, n_features)
        Learned symmetric PSD matrix.
    bounds : ndarray of shape (2,)
        ``(u, l)`` used, on squared distances.
    result : :class:`~shallowml._solvers.result.SolverResult`
        ``fun`` is the final relative change of the duals and ``history``
        the relative change per sweep.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._solvers.bregman import itml_solve
    >>> V = np.array([[0.0, 2.0], [1.0, 0.0]])
    >>> M, bounds, res = itml_solve(V, [1, -1], gamma=np.inf, bounds=(1.0, 4.0))
    >>> np.round(np.sum((V @ M) * V, axis=1), 6).tolist()
    [1.0, 4.0]
    """
    A, f, bounds_used, result = _itml_solve(V, sign, gamma, prior, bounds, max_iter, tol, points, verbose)
    return A / f, bounds_used, result
