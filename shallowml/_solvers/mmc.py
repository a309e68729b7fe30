"""MMC solvers (Xing, Ng, Jordan & Russell, NIPS 2002), each with a certified stopping rule.

Full ``M``. Maximise ``sum_D ||v||_M`` subject to ``sum_S ||v||_M^2 <= t``
and ``M`` PSD (the objectives are in :mod:`shallowml._losses.mmc`). With
``S = sum_S v v^T`` factored as ``S = Q Q^T`` on the span of the pair
differences, the substitution ``M = t T B T^T`` (``T = Q^{-T}``) turns the
constraint into ``trace(B) <= 1``, and since the objective grows with the
scale of ``M`` the optimum lies on the *spectraplex*
``{B PSD, trace(B) = 1}``. There the problem is::

    maximise  F(B) = sum_D sqrt(e^T B e),   e = T^T v,

a concave function over a compact convex set, solved by spectral projected
gradient ascent (Birgin, Martinez & Raydan, SIAM J. Optim. 2000: a
Barzilai-Borwein step, its projection, Armijo backtracking along the
segment): the projection onto the spectraplex is exact (an
eigendecomposition and the projection of the eigenvalues onto the simplex),
so every iterate is feasible. Because ``F`` is concave, the Frank-Wolfe gap
``lambda_max(G) - <G, B>`` (``G`` the gradient) bounds ``F* - F`` from
above; ``<G, B> = F / 2`` (``F`` is homogeneous of degree 1/2). So
``U = min_k (lambda_max(G_k) + F_k / 2)`` over the iterates so far bounds
``F*``, and as ``F`` never decreases along the iterates, the solver stops
when ``(U - F) / F`` is below ``tol``: the objective of
metric-learn's MMC, ``log F`` at ``M``, is then within ``tol`` of its
maximum. Per iteration the work is two BLAS products over the dissimilar
pairs (``O(n_D r^2)``, ``r <= n_features``) and an ``r x r``
eigendecomposition; metric-learn's alternating projections need many
eigendecompositions per step instead.

Diagonal ``M = diag(w)``. Newton-Raphson on the convex
``g(w) = s.w - C log sum_D sqrt(q_D.w)`` over ``w >= 0`` (projected Newton:
variables at zero with a positive gradient are held there, Armijo
backtracking along the projection arc), each iterate rescaled to the face
``s.w = C / 2`` where the minimum lies. On that face ``g = C/2 - C log F``
with ``F = sum_D sqrt(q_D.w)`` concave, and the same Frank-Wolfe bound (now
over a simplex) certifies ``g - g* <= C * gap``.

Unbounded problems. If similar pairs do not vary along a direction in which
dissimilar pairs do, both objectives are unbounded (weight that direction
without limit). The solvers then raise the eigenvalues of ``S`` (the
entries of ``s``) that are below ``1e-8`` times the largest to that floor,
with a ``UserWarning``; the solution then gives those directions a large
weight (up to about ``1e8`` times the others in ``M``), approaching the
limit of the unbounded problem: similar pairs at distance zero, as in
null-space discriminant analysis.

E. P. Xing, A. Y. Ng, M. I. Jordan and S. Russell, "Distance metric learning,
with application to clustering with side-information", NIPS 2002.
"""

import warnings

import numpy as np
from scipy import linalg

from .._losses.mmc import _diagonal_parts
from ..utils.scaling import power_of_two_scale
from .bregman import _prior_matrix
from .progress import ProgressTable
from .result import STOPPED_BY_CALLBACK, SolverResult

__all__ = ["mmc_cvxpy", "mmc_diagonal", "mmc_full", "project_spectraplex"]

# eigenvalues of S below this fraction of the largest make the problem unbounded: floored
UNBOUNDED_RTOL = 1e-8
# directions in which the pair differences vary less than this (relative) are dropped
SPAN_RTOL = 1e-10
# metric-learn sets the constraint level t to this fraction of the initial metric's value
T_FRACTION = 0.01

_COLUMNS = [("Iteration", 10, "d"), ("Objective", 16, ".8e"), ("Gap", 11, ".3e"), ("Step", 10, ".2e")]


def _project_simplex(v):
    """Euclidean projection of ``v`` onto ``{x >= 0, sum x = 1}``."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.arange(1, v.size + 1)
    rho = np.flatnonzero(u - css / k > 0)[-1]
    return np.maximum(v - css[rho] / (rho + 1), 0.0)


def project_spectraplex(C):
    """Nearest (Frobenius) symmetric PSD matrix with unit trace.

    Returns
    -------
    B : ndarray of shape (r, r)
    eigvals, eigvecs : ndarrays
        ``B = eigvecs @ diag(eigvals) @ eigvecs.T``.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml._solvers.mmc import project_spectraplex
    >>> B, lam, _ = project_spectraplex(np.diag([1.0, 0.5, -1.0]))
    >>> np.round(lam, 6).tolist()
    [0.0, 0.25, 0.75]
    """
    w, V = linalg.eigh(0.5 * (C + C.T), check_finite=False)
    lam = _project_simplex(w)
    return (V * lam) @ V.T, lam, V


def _check_pairs_kinds(pos_diff, neg_diff, name):
    n_pos = int(np.count_nonzero(np.any(pos_diff != 0, axis=1)))
    n_neg = int(np.count_nonzero(np.any(neg_diff != 0, axis=1)))
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"{name} needs both similar and dissimilar pairs of distinct points (its objective spreads "
            f"dissimilar pairs under a bound on similar ones); got {n_pos} similar and {n_neg} dissimilar "
            "pairs with a non-zero difference."
        )


def _floor_unbounded(values, name):
    """Raise entries below ``UNBOUNDED_RTOL * max`` to that floor, warning once."""
    floor = UNBOUNDED_RTOL * values.max()
    low = values < floor
    if low.any():
        warnings.warn(
            f"{name}: similar pairs do not vary along {int(low.sum())} direction(s) in which dissimilar "
            "pairs do, so the MMC objective is unbounded there; the sum of similar outer products was "
            f"raised to {UNBOUNDED_RTOL:g} times its largest eigenvalue along them (those directions get "
            "a large weight).",
            UserWarning,
            stacklevel=4,
        )
        values = np.maximum(values, floor)
    return values


def _full_setup(pos_diff, neg_diff, prior, points, name, point_weights=None):
    """Scaled differences, the map ``T``, the start ``B0`` and the constants of the full problem."""
    _check_pairs_kinds(pos_diff, neg_diff, name)
    d = pos_diff.shape[1]
    s = power_of_two_scale(np.vstack((pos_diff, neg_diff)))
    P = pos_diff / s
    N = neg_diff[np.any(neg_diff != 0, axis=1)] / s
    M0, f = _prior_matrix(prior, points if points is not None else np.vstack((pos_diff, neg_diff)), s, d,
                          point_weights)
    S = P.T @ P
    t = T_FRACTION * float(np.sum(S * M0))
    if not t > 0.0:
        raise ValueError(
            f"{name}: the initial metric gives every similar pair distance zero, so the constraint level "
            "(1/100 of their sum of squared distances, as in metric-learn) is zero; use init='identity'."
        )
    w, U = linalg.eigh(S + N.T @ N, check_finite=False)
    U = U[:, w > SPAN_RTOL * w[-1]]
    ws, Us = linalg.eigh(U.T @ S @ U, check_finite=False)
    ws = _floor_unbounded(np.maximum(ws, 0.0), name)
    T = U @ (Us / np.sqrt(ws))
    Qm = U @ (Us * np.sqrt(ws))
    B0 = Qm.T @ M0 @ Qm
    if not np.any(np.abs(B0) > 0):
        B0 = np.eye(T.shape[1])
    return N @ T, T, B0, t, f, s


def _objective_parts(E, B):
    """``F(B) = sum sqrt(e^T B e)`` and its gradient ``G``."""
    q = np.einsum("ij,ij->i", E @ B, E)
    # no iterate stands where a dissimilar pair has distance 0 (the slope is
    # infinite there); the floor only keeps round-off from dividing by zero
    q = np.maximum(q, 1e-32 * np.einsum("ij,ij->i", E, E))
    dist = np.sqrt(q)
    G = (E * (0.5 / dist)[:, None]).T @ E
    return float(dist.sum()), 0.5 * (G + G.T)


def _full_components(B, T, scale2):
    """``L`` (``n_features`` rows) with ``L^T L = scale2 * T B T^T``."""
    lam, V = linalg.eigh(0.5 * (B + B.T), check_finite=False)
    lam = np.clip(lam, 0.0, None)[::-1]
    R = (T @ V[:, ::-1] * np.sqrt(lam * scale2)).T
    L = np.zeros((T.shape[0], T.shape[0]))
    L[: R.shape[0]] = R
    return L


def mmc_full(pos_diff, neg_diff, *, prior="identity", points=None, max_iter=100, tol=1e-6,
             verbose=False, name="MMC", callback=None, point_weights=None):
    """Solve full MMC for similar and dissimilar pair differences.

    Parameters
    ----------
    pos_diff : ndarray of shape (n_similar, n_features)
    neg_diff : ndarray of shape (n_dissimilar, n_features)
    prior : {'identity', 'covariance'} or ndarray of shape (n_features, n_features)
        The initial metric ``M0``: the start, and the constraint level
        ``t = sum_S ||v||_{M0}^2 / 100`` (metric-learn's).
    points : ndarray of shape (n_points, n_features), default=None
        Points whose covariance defines ``prior='covariance'``.
    max_iter : int, default=100
    tol : float, default=1e-6
        Stop when the certified bound on ``h(M*) - h(M)`` (``h`` the log
        objective) is below ``tol``.
    verbose : bool, default=False
    name : str, default='MMC'
        Prefix of the progress table and of messages.
    callback : callable, default=None
        ``callback(L, n_iter) -> bool``, ``L`` the current map; True stops.
    point_weights : ndarray of shape (n_points,), default=None
        How often each point occurs (indexed pairs): weighs the covariance
        of ``prior='covariance'`` as if the points were repeated.

    Returns
    -------
    L : ndarray of shape (n_features, n_features)
        ``L^T L = M``, the learned metric in the units of the data.
    result : SolverResult
        ``fun`` is ``h(M)`` (the log of the sum of dissimilar distances),
        ``history`` the relative gap per iteration.
    """
    pos_diff = np.asarray(pos_diff, dtype=np.float64)
    neg_diff = np.asarray(neg_diff, dtype=np.float64)
    E, T, B0, t, f, s = _full_setup(pos_diff, neg_diff, prior, points, name, point_weights)
    scale2 = t / f
    # h(M) = log F(B) + log(s) + log(t / f) / 2 for M = (t / f) T B T^T and the unscaled data
    offset = np.log(s) + 0.5 * np.log(scale2)
    B, _, _ = project_spectraplex(B0 / max(np.trace(B0), np.finfo(np.float64).tiny))
    F, G = _objective_parts(E, B)
    lmax = linalg.eigvalsh(G, check_finite=False)[-1]
    step = 1.0 / lmax
    table = ProgressTable(name, _COLUMNS, enabled=verbose)
    table.start()
    history = []
    converged = stopped = False
    # F* <= lambda_max(G) + F / 2 at every iterate: keep the smallest such bound
    upper = lmax + 0.5 * F
    gap = max(upper - F, 0.0) / F
    message = None
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        # spectral projected gradient (Birgin, Martinez & Raydan, 2000): the
        # direction to the projection of a Barzilai-Borwein step, then Armijo
        # backtracking along it (every point of the segment is feasible)
        target, _, _ = project_spectraplex(B + step * G)
        D = target - B
        slope = float(np.sum(G * D))
        lam = 1.0
        for _ in range(60):
            B_new = B + lam * D
            F_new, G_new = _objective_parts(E, B_new)
            if F_new >= F + 1e-4 * lam * slope:
                break
            lam *= 0.5
        else:
            message = "no ascent along the projected gradient (round-off level)"
            break
        dB, dG = B_new - B, G_new - G
        curvature = -float(np.sum(dB * dG))  # >= 0: F is concave
        step = float(np.sum(dB * dB)) / curvature if curvature > 0 else 1e3 * step
        step = min(max(step, 1e-10 / lmax), 1e10 / lmax)
        B, F, G = B_new, F_new, G_new
        lmax = linalg.eigvalsh(G, check_finite=False)[-1]
        upper = min(upper, lmax + 0.5 * F)
        gap = max(upper - F, 0.0) / F
        history.append(gap)
        table.row(n_iter, np.log(F) + offset, gap, lam)
        if gap <= tol:
            converged = True
            break
        if callback is not None and callback(_full_components(B, T, scale2), n_iter):
            stopped = True
            break
    table.finish()
    message = ("converged" if converged else STOPPED_BY_CALLBACK if stopped
               else message or f"relative optimality gap {gap:.3g} > tol={tol}")
    L = _full_components(B, T, scale2)
    return L, SolverResult(L, float(np.log(F) + offset), n_iter, converged, message, history, stopped)


def mmc_diagonal(pos_diff, neg_diff, *, diagonal_c=1.0, prior="identity", points=None, max_iter=100,
                 tol=1e-6, verbose=False, name="MMC", callback=None, point_weights=None):
    """Solve diagonal MMC (Newton-Raphson on ``g``, see the module docstring).

    Parameters are those of :func:`mmc_full`, plus ``diagonal_c`` (``C``);
    ``prior`` gives the start (its diagonal).

    Returns
    -------
    L : ndarray of shape (n_features, n_features)
        ``diag(sqrt(w))``.
    result : SolverResult
        ``fun`` is ``g(w)``, ``history`` the relative gap per iteration.
    """
    pos_diff = np.asarray(pos_diff, dtype=np.float64)
    neg_diff = np.asarray(neg_diff, dtype=np.float64)
    _check_pairs_kinds(pos_diff, neg_diff, name)
    d = pos_diff.shape[1]
    C = float(diagonal_c)
    s = power_of_two_scale(np.vstack((pos_diff, neg_diff)))
    P = pos_diff / s
    Q = (neg_diff[np.any(neg_diff != 0, axis=1)] / s) ** 2
    sv = np.einsum("ij,ij->j", P, P)
    qv = Q.sum(axis=0)
    # features in which no pair varies do not enter g: their weight is 0
    used = (sv + qv) > 0
    unbounded = used & (sv < UNBOUNDED_RTOL * sv.max()) & (qv > 0)
    if unbounded.any():
        sv = sv.copy()
        sv[used] = _floor_unbounded(sv[used], name)
    sv, Q = sv[used], Q[:, used]
    M0, _ = _prior_matrix(prior, points if points is not None else np.vstack((pos_diff, neg_diff)), s, d,
                          point_weights)
    w = np.clip(np.diag(M0)[used], 0.0, None)
    if not np.any(w > 0):
        w = np.ones(used.sum())
    sigma = 0.5 * C

    def to_face(w):
        return w * (sigma / (sv @ w))

    def certificate(w):
        # on the face s.w = C/2, F = sum sqrt(q.w) and F* <= sigma * max(u / s) + F / 2
        dist = np.sqrt(np.maximum(Q @ w, 0.0))
        u = Q.T @ np.divide(0.5, dist, out=np.zeros_like(dist), where=dist > 0)
        F = dist.sum()
        return F, sigma * np.max(u / sv) + 0.5 * F

    def full_L(w):
        full = np.zeros(d)
        full[used] = w
        return np.diag(np.sqrt(full / s**2))

    w = to_face(w)
    upper = certificate(w)[1]
    table = ProgressTable(name, _COLUMNS, enabled=verbose)
    table.start()
    history = []
    converged = stopped = False
    gap = np.inf
    n_iter = 0
    loss = np.inf
    for n_iter in range(1, max_iter + 1):
        loss, grad, H = _diagonal_parts(w, sv, Q, C, True)
        # projected Newton (Bertsekas, 1982): hold at zero the weights that the
        # gradient pushes below zero, Newton on the others
        eps = min(1e-12 * w.max(), float(np.abs(w - np.maximum(w - grad, 0.0)).max()))
        held = (w <= eps) & (grad > 0)
        free = ~held
        p = np.zeros_like(w)
        Hf = H[np.ix_(free, free)]
        Hf = Hf + (1e-12 * max(np.trace(Hf), np.finfo(np.float64).tiny) / max(free.sum(), 1)) * np.eye(free.sum())
        p[free] = -linalg.solve(Hf, grad[free], assume_a="pos", check_finite=False)
        p[held] = -grad[held] / np.maximum(np.diag(H)[held], np.finfo(np.float64).tiny)
        lam = 1.0
        for _ in range(60):
            w_new = np.maximum(w + lam * p, 0.0)
            if np.any(w_new > 0):
                loss_new = _diagonal_parts(w_new, sv, Q, C, False)[0]
                if loss_new <= loss + 1e-4 * grad @ (w_new - w):
                    break
            lam *= 0.5
        else:
            w_new = w  # no decrease along the arc: at the optimum up to round-off
        w = to_face(w_new)
        F, bound = certificate(w)
        upper = min(upper, bound)  # F increases along the iterates: the best bound holds
        gap = max(upper - F, 0.0) / F
        history.append(gap)
        loss = _diagonal_parts(w, sv, Q, C, False)[0]
        table.row(n_iter, loss, gap, lam)
        if gap <= tol:
            converged = True
            break
        if callback is not None and callback(full_L(w), n_iter):
            stopped = True
            break
    table.finish()
    message = ("converged" if converged else STOPPED_BY_CALLBACK if stopped
               else f"relative optimality gap {gap:.3g} > tol={tol}")
    L = full_L(w)
    return L, SolverResult(L, float(loss), n_iter, converged, message, history, stopped)


def mmc_cvxpy(pos_diff, neg_diff, t, *, diagonal=False, diagonal_c=1.0, solver=None, eps=1e-9):
    """Solve MMC exactly with cvxpy (small problems only; for tests).

    Full: maximise ``sum_D ||v||_M`` s.t. ``sum_S ||v||_M^2 <= t``, ``M`` PSD.
    Diagonal: minimise ``g(w)`` over ``w >= 0`` (``t`` unused).

    Returns
    -------
    SolverResult
        ``x`` the optimal ``M`` (full) or ``w`` (diagonal), ``fun`` the optimal
        value of the problem as stated.
    """
    import cvxpy as cp

    from .sdp import _pick_solver

    P = np.asarray(pos_diff, dtype=np.float64)
    N = np.asarray(neg_diff, dtype=np.float64)
    d = P.shape[1]
    if diagonal:
        w = cp.Variable(d, nonneg=True)
        s = np.einsum("ij,ij->j", P, P)
        objective = cp.Minimize(s @ w - diagonal_c * cp.log(cp.sum(cp.sqrt((N**2) @ w))))
        problem = cp.Problem(objective)
        var = w
    else:
        M = cp.Variable((d, d), PSD=True)
        rows_n = np.einsum("pi,pj->pij", N, N).reshape(len(N), d * d)
        S = (P.T @ P).ravel()
        dist2 = rows_n @ cp.vec(M, order="C")
        problem = cp.Problem(cp.Maximize(cp.sum(cp.sqrt(dist2))), [S @ cp.vec(M, order="C") <= t])
        var = M
    name = _pick_solver(cp, solver)
    opts = {}
    if name == "CLARABEL":
        opts = dict(tol_gap_abs=eps, tol_gap_rel=eps, tol_feas=eps)
    elif name == "SCS":
        opts = dict(eps_abs=eps, eps_rel=eps, max_iters=200_000)
    problem.solve(solver=name, **opts)
    x = np.asarray(var.value, dtype=np.float64)
    if not diagonal:
        x = 0.5 * (x + x.T)
    return SolverResult(x=x, fun=float(problem.value), n_iter=0, converged=problem.status == "optimal",
                        message=f"cvxpy {name}: {problem.status}")
