"""SDML solver: scikit-learn's graphical lasso on ``C = M0^-1 + beta K``, made safe.

The objective is in :mod:`shallowml._losses.sdml`. Three things stand
between it and ``sklearn.covariance.graphical_lasso(C, alpha)``:

1. Scale. ``C`` grows with the square of the data scale. The problem is
   solved for ``C / c`` and ``alpha / c`` with ``c`` a power of two near the
   largest entry (then ``M = M' / c`` exactly: the objective changes by the
   constant ``d log c`` and the solver's dual gap not at all), so data at
   1e-150 or 1e150 neither underflow nor overflow.
2. Non-positive-definite ``C``. With many pairs (metric-learn's default
   ``20 n_classes^2`` of each kind, ``beta = 0.5``) the dissimilar pairs
   outweigh the prior and ``C`` has negative eigenvalues: the objective is
   unbounded below (``tr(C M)`` decreases without limit along them) and
   metric-learn's SDML fails. Here ``C`` is then *projected*: replaced by the
   nearest matrix (in Frobenius norm) whose eigenvalues are at least
   ``1e-2`` times the range of the eigenvalues of ``C`` (same eigenvectors,
   eigenvalues below the floor raised to it), with a ``UserWarning`` that
   says so. Directions in which dissimilar pairs outweigh similar ones thus
   get the largest weight (``1 / floor``), the others keep their ordering;
   a condition number of at most about 100 is also what scikit-learn's
   coordinate descent handles reliably.
3. Solver failures. scikit-learn's graphical lasso raises
   ``FloatingPointError`` on ill-conditioned inputs (also on some positive
   definite ones). The input as posed is tried first when it is positive
   definite; on failure the floor above is applied (then ``1e-1``), and as
   a last resort ``C`` is replaced by ``lambda_max(C) I``, whose solution
   ``I / lambda_max`` (the Euclidean metric, scaled) is exact. Every step
   is reported in the warning and in the estimator's ``psd_floor_``.

G. Qi, J. Tang, Z. Zha, T. Chua and H. Zhang, "An efficient sparse metric
learning in high-dimensional space via l1-penalized log-determinant
regularization", ICML 2009. J. Friedman, T. Hastie and R. Tibshirani,
"Sparse inverse covariance estimation with the graphical lasso",
Biostatistics 2008.
"""

import math
import warnings

import numpy as np
from scipy import linalg
from sklearn.covariance import graphical_lasso
from sklearn.exceptions import ConvergenceWarning

from ..utils.linalg import components_from_metric
from .progress import ProgressTable
from .result import SolverResult

__all__ = ["FLOORS", "sdml_cvxpy", "sdml_solve"]

# eigenvalue floors tried, relative to the range of the eigenvalues of C
FLOORS = (1e-2, 1e-1)


def _log2_max(A):
    m = float(np.abs(A).max(initial=0.0))
    return -np.inf if m == 0.0 else math.log2(m)


def _graphical_lasso(C, alpha, max_iter, tol):
    """scikit-learn's solver; returns ``(precision, n_iter, costs)`` or None when it fails."""
    d = C.shape[0]
    if d == 1 or alpha == 0.0:
        # closed form: no off-diagonal entries to penalise (d == 1), or no penalty at all
        P = linalg.inv(C, check_finite=False)
        P = 0.5 * (P + P.T)
        return P, 0, [(float(np.sum(C * P) - np.linalg.slogdet(P)[1]), 0.0)]
    try:
        with warnings.catch_warnings():
            # its inner lasso solver warns about its own tolerance; the outer
            # dual gap decides convergence (reported by the caller)
            warnings.simplefilter("ignore", ConvergenceWarning)
            with np.errstate(all="ignore"):
                _, P, costs, n_iter = graphical_lasso(C, alpha=alpha, max_iter=max_iter, tol=tol,
                                                      return_costs=True, return_n_iter=True)
    except (FloatingPointError, linalg.LinAlgError, np.linalg.LinAlgError):
        return None
    if not np.all(np.isfinite(P)):
        return None
    P = 0.5 * (P + P.T)
    w = linalg.eigvalsh(P, check_finite=False)
    if not w[0] > 0.0:
        return None
    return P, n_iter, [(float(c) - 2 * d * math.log(2 * math.pi), float(g)) for c, g in costs]


def sdml_solve(V, y, prior_inv, prior_log2, balance_param, sparsity_param, *, max_iter=100, tol=1e-4,
               verbose=False, name="SDML"):
    """SDML on pair differences, in a rescaled problem (see the module docstring).

    Parameters
    ----------
    V : ndarray of shape (n_pairs, n_features)
        Pair differences divided by ``2**e`` (any power of two; ``e`` is
        passed through ``prior_log2`` and the return value).
    y : ndarray of shape (n_pairs,)
        +1 / -1.
    prior_inv : ndarray of shape (n_features, n_features)
        ``M0^-1`` divided by ``2**prior_log2``.
    prior_log2 : tuple of (int, int)
        ``(a, e)``: the prior inverse is ``prior_inv * 2**a`` and the pair
        differences are ``V * 2**e``, in data units.
    balance_param, sparsity_param : float
    max_iter, tol : passed to scikit-learn's ``graphical_lasso``.
    verbose : bool
    name : str

    Returns
    -------
    L : ndarray of shape (n_features, n_features)
        ``L^T L = M`` in data units.
    floor : float
        The eigenvalue floor applied to ``C`` relative to its eigenvalue
        range (0.0: solved as posed; ``inf``: replaced by a multiple of the
        identity).
    result : SolverResult
        ``fun`` is the objective of the problem solved (with the projected
        ``C`` when ``floor > 0``), in data units; ``history`` the dual gaps.
    """
    a, e = prior_log2
    d = V.shape[1]
    K = (V.T * y) @ V
    K = 0.5 * (K + K.T)
    # C = 2**a prior_inv + beta 2**(2e) K, divided by c = 2**m (m even)
    lp = a + _log2_max(prior_inv)
    lk = math.log2(balance_param) + 2 * e + _log2_max(K) if balance_param > 0 else -np.inf
    top = max(lp, lk)
    m = 2 * int(round(top / 2))
    C = np.ldexp(prior_inv, a - m) + (np.ldexp(balance_param * K, 2 * e - m) if balance_param > 0 else 0.0)
    C = 0.5 * (C + C.T)
    alpha = float(np.ldexp(sparsity_param, -m))
    lam, U = linalg.eigh(C, check_finite=False)
    spread = max(lam[-1] - lam[0], abs(lam[-1]), abs(lam[0]))
    table = ProgressTable(name, [("Iteration", 10, "d"), ("Objective", 16, ".8e"), ("Dual Gap", 12, ".3e")],
                          enabled=verbose)
    attempts = ([0.0] if lam[0] > 0.0 else []) + list(FLOORS)
    solved = None
    floor = 0.0
    with table.phase("Solving the graphical lasso (scikit-learn)"):
        for floor in attempts:
            Cf = C if floor == 0.0 else (U * np.maximum(lam, floor * spread)) @ U.T
            solved = _graphical_lasso(0.5 * (Cf + Cf.T), alpha, max_iter, tol)
            if solved is not None:
                break
    if solved is None:
        # C -> lambda_max I: the minimiser is I / lambda_max (no off-diagonal entries), exactly
        floor = np.inf
        top_eig = max(lam[-1], spread * FLOORS[-1])
        P = np.eye(d) / top_eig
        solved = (P, 0, [(float(d * (1.0 + math.log(top_eig))), 0.0)])
    P, n_iter, costs = solved
    if floor > 0.0:
        with np.errstate(over="ignore"):  # eigenvalues in data units, inf beyond float64
            lo, hi = np.ldexp(lam[0], m), np.ldexp(lam[-1], m)
        what = (f"is not positive definite (eigenvalues from {lo:.3g} to {hi:.3g}), so "
                "the SDML objective is unbounded below" if lam[0] <= 0.0 else
                f"is too ill-conditioned for scikit-learn's graphical lasso (eigenvalues from "
                f"{lo:.3g} to {hi:.3g})")
        done = ("it was replaced by a multiple of the identity (the Euclidean metric)" if np.isinf(floor) else
                f"its eigenvalues below {floor:g} times their range were raised to that floor (the nearest "
                "such matrix in Frobenius norm)")
        warnings.warn(
            f"{name}: the graphical lasso input prior^-1 + balance_param * sum_pairs y v v^T {what}; {done}. "
            "Lower balance_param (or use fewer pairs) to solve the problem as posed.",
            UserWarning,
            stacklevel=3,
        )
    table.start()
    for i, (cost, gap) in enumerate(costs, start=1):
        table.row(i, cost + d * m * math.log(2.0), gap)
    table.finish()
    gap = costs[-1][1] if costs else 0.0
    converged = abs(gap) < tol or n_iter == 0
    L = np.ldexp(components_from_metric(P, atol=1e-12), -m // 2)
    fun = (costs[-1][0] + d * m * math.log(2.0)) if costs else float("nan")
    message = "converged" if converged else f"graphical lasso dual gap {gap:.3g} > tol={tol}"
    return L, floor, SolverResult(L, fun, int(n_iter), converged, message, [g for _, g in costs])


def sdml_cvxpy(emp_cov, alpha, *, solver=None, eps=1e-9):
    """Minimise ``tr(C M) - log det M + alpha ||M||_{1, off}`` exactly with cvxpy (tests).

    Returns
    -------
    SolverResult
        ``x`` the optimal ``M``, ``fun`` the optimal value.
    """
    import cvxpy as cp

    from .sdp import _pick_solver

    C = np.asarray(emp_cov, dtype=np.float64)
    d = C.shape[0]
    M = cp.Variable((d, d), PSD=True)
    off = 1.0 - np.eye(d)
    objective = cp.trace(C @ M) - cp.log_det(M) + alpha * cp.sum(cp.abs(cp.multiply(off, M)))
    problem = cp.Problem(cp.Minimize(objective))
    name = _pick_solver(cp, solver)
    opts = {}
    if name == "CLARABEL":
        opts = dict(tol_gap_abs=eps, tol_gap_rel=eps, tol_feas=eps)
    elif name == "SCS":
        opts = dict(eps_abs=eps, eps_rel=eps, max_iters=200_000)
    problem.solve(solver=name, **opts)
    Mv = np.asarray(M.value, dtype=np.float64)
    return SolverResult(x=0.5 * (Mv + Mv.T), fun=float(problem.value), n_iter=0,
                        converged=problem.status == "optimal", message=f"cvxpy {name}: {problem.status}")
