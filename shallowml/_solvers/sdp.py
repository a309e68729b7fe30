"""Exact convex solvers (cvxpy) used to verify the fast iterative learners on small problems."""

import numpy as np

from .result import SolverResult


def _pick_solver(cp, solver):
    if solver is not None:
        return solver
    installed = cp.installed_solvers()
    for name in ("CLARABEL", "SCS"):
        if name in installed:
            return name
    raise RuntimeError(f"No SDP-capable cvxpy solver installed (found {installed}).")


def lmnn_sdp(X, y_codes, targets, push_weight=0.5, *, solver=None, eps=1e-9):
    """Solve the convex LMNN problem in ``M`` exactly (all triplets, fixed targets).

    Minimises over symmetric PSD ``M``::

        (1 - mu) sum_{i, j ~> i} d_M(x_i, x_j)
        + mu sum_{i, j ~> i, l : y_l != y_i} [1 + d_M(x_i, x_j) - d_M(x_i, x_l)]_+

    with ``d_M(a, b) = (a - b)^T M (a - b)`` (Weinberger & Saul, JMLR 2009,
    Section 3.3). Every triplet is included, so this is only for small
    problems (tens of samples, a few features).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y_codes : ndarray of int of shape (n_samples,)
    targets : ndarray of int of shape (n_samples, k)
        Target neighbours, ``-1`` padded.
    push_weight : float, default=0.5
    solver : str, default=None
        cvxpy solver name; default CLARABEL, else SCS.
    eps : float, default=1e-9
        Solver tolerance (absolute and relative gap, feasibility).

    Returns
    -------
    SolverResult
        ``x`` is the optimal ``M``, ``fun`` the optimal objective.
    """
    import cvxpy as cp

    X = np.asarray(X, dtype=np.float64)
    y_codes = np.asarray(y_codes)
    n, d = X.shape
    mu = float(push_weight)
    pull_rows, trip_j, trip_l = [], [], []
    pair_index = {}

    def pair(a, b):
        key = (a, b)
        if key not in pair_index:
            pair_index[key] = len(pair_index)
        return pair_index[key]

    for i in range(n):
        for t in targets[i]:
            if t < 0:
                continue
            pj = pair(i, int(t))
            pull_rows.append(pj)
            for l in np.flatnonzero(y_codes != y_codes[i]):
                trip_j.append(pj)
                trip_l.append(pair(i, int(l)))
    keys = sorted(pair_index, key=pair_index.get)
    V = np.array([X[a] - X[b] for a, b in keys]).reshape(len(keys), d)
    # d_M of every pair is linear in M: row p of A is vec(v_p v_p^T)
    A = np.einsum("pi,pj->pij", V, V).reshape(len(keys), d * d)
    M = cp.Variable((d, d), PSD=True)
    dist = A @ cp.vec(M, order="C")
    objective = (1.0 - mu) * cp.sum(dist[np.array(pull_rows)])
    if trip_j and mu > 0:
        objective = objective + mu * cp.sum(
            cp.pos(1.0 + dist[np.array(trip_j)] - dist[np.array(trip_l)])
        )
    problem = cp.Problem(cp.Minimize(objective))
    name = _pick_solver(cp, solver)
    opts = {}
    if name == "CLARABEL":
        opts = dict(tol_gap_abs=eps, tol_gap_rel=eps, tol_feas=eps)
    elif name == "SCS":
        opts = dict(eps_abs=eps, eps_rel=eps, max_iters=200_000)
    problem.solve(solver=name, **opts)
    ok = problem.status in ("optimal", "optimal_inaccurate")
    Mv = np.asarray(M.value) if M.value is not None else np.full((d, d), np.nan)
    return SolverResult(
        x=0.5 * (Mv + Mv.T), fun=float(problem.value) if ok else float("nan"), n_iter=0,
        converged=problem.status == "optimal", message=f"cvxpy {name}: {problem.status}",
    )
