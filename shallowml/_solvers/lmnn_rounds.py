"""LMNN solver: active-set rounds of L-BFGS over an impostor list.

Each round searches all pairs ``(i, l)`` of different classes within 1.5
times the squared margin radius ``max_j d_ij + 1`` (blocked numba search),
then L-BFGS minimises the objective with the push sum over that list. After
each round the exact impostor set at the new ``L`` is computed; the solver
stops when it is contained in the list used and L-BFGS converged. The first
stages minimise a Huber smoothing of the hinge (widths 0.1, then 0.01), the
last the exact objective, each warm-started from the previous one. The
objective and its gradient are :func:`shallowml._losses.lmnn.lmnn_evaluate`;
the estimator is :class:`shallowml.LMNN`.

K. Q. Weinberger and L. K. Saul, "Distance Metric Learning for Large Margin
Nearest Neighbor Classification", JMLR 10:207-244, 2009.
"""

import warnings

import numpy as np

from .._kernels.lmnn import rows_contained
from .._losses.lmnn import find_impostors, lmnn_evaluate, margin_radius
from .lbfgs import minimize_lbfgs
from .progress import ProgressTable
from .result import STOPPED_BY_CALLBACK, SolverResult

__all__ = ["lmnn_active_set"]

# Candidate impostors are searched within this factor times the squared margin
# radius, so that the list stays complete while L moves during one round.
_CANDIDATE_SLACK = 1.5
_MAX_ROUNDS = 50
# L-BFGS iterations of the first round; each further round may take twice as many
_FIRST_ROUND_ITER = 10
# Huber smoothing widths of the hinge, one stage each; the last stage (0) is the
# exact LMNN objective. Smoothed stages avoid L-BFGS stalling at the kinks.
_SMOOTHING = (0.1, 0.01, 0.0)
# the stopping rule averages the relative objective decrease over this many iterations
_WINDOW = 5


def _exact_subset(radius, indptr, indices, dists):
    """The pairs of a candidate list that lie within ``radius`` (CSR)."""
    n = radius.shape[0]
    rows = np.repeat(np.arange(n), np.diff(indptr))
    keep = dists < radius[rows]
    sub_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=sub_ptr[1:])
    return sub_ptr, indices[keep]


def lmnn_active_set(X, y_codes, targets, L, *, push_weight, max_iter, tol, max_impostors,
                    callback=None, verbose=0, name="LMNN"):
    """Minimise the classic LMNN objective from ``L`` by active-set L-BFGS rounds.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training data (the estimator passes it centred and scaled).
    y_codes : ndarray of int64 of shape (n_samples,)
    targets : ndarray of int64 of shape (n_samples, k)
        Target neighbours, ``-1`` padded.
    L : ndarray of shape (n_components, n_features)
        Starting map.
    push_weight : float
        ``mu`` in [0, 1].
    max_iter : int
        Total L-BFGS iterations over all rounds.
    tol : float
        Relative objective decrease per iteration (averaged over 5) below
        which a round stops; also L-BFGS's gradient tolerance.
    max_impostors : int
        Budget on stored impostor pairs; beyond it rows keep their closest
        impostors (a ``UserWarning``) and the solver stops after the first
        converged round.
    callback : callable, default=None
        ``callback(x, n_iter)`` after every L-BFGS iteration, ``x`` the flat
        ``L``; returning True stops the solver (``result.stopped``).
    verbose : int, default=0
        Print a row per iteration (objective, active triplets, step, time),
        a line per impostor search and the training time.
    name : str
        Estimator name for messages.

    Returns
    -------
    result : SolverResult
        ``x`` the flat final ``L``, ``fun`` the classic objective at it.
    n_active : int
        Triplets with a positive hinge at ``x``.
    """
    n = X.shape[0]
    n_components = L.shape[0]
    mu = float(push_weight)
    budget = int(max_impostors)
    state = {"x": None, "loss": None, "active": 0, "prev": L.ravel().copy(), "iter": 0,
             "trace": [], "stalled": False, "stopped": False}
    history = []

    table = ProgressTable(name, [("Iteration", 10, "d"), ("Objective Value", 20, ".6e"),
                                 ("Active Triplets", 16, "d"), ("Step", 12, ".3e")], enabled=verbose)

    def search(L):
        Z = X @ L.T
        radius = margin_radius(Z, targets)
        indptr, indices, dists, truncated = find_impostors(
            Z, y_codes, _CANDIDATE_SLACK * radius, max_pairs=budget
        )
        return radius, indptr, indices, dists, truncated

    def make_fun(indptr, indices, smoothing):
        def fun(x):
            loss, grad, active = lmnn_evaluate(x, X, targets, indptr, indices, mu, n_components, smoothing)
            state["x"], state["loss"], state["active"] = x.copy(), loss, active
            return loss / n, grad / n

        return fun

    def on_iter(x, it_round):
        state["iter"] += 1
        loss = state["loss"] if np.array_equal(x, state["x"]) else float("nan")
        table.row(state["iter"], loss, state["active"], float(np.linalg.norm(x - state["prev"])))
        state["prev"] = x.copy()
        if callback is not None and callback(x, state["iter"]):
            state["stopped"] = True
            raise StopIteration
        trace = state["trace"]
        trace.append(loss)
        # stop the round when the objective decreases by less than tol (relative)
        # per iteration, on average over the last _WINDOW iterations
        if len(trace) > _WINDOW:
            old, new = trace[-1 - _WINDOW], trace[-1]
            if np.isfinite(old) and np.isfinite(new) and old - new <= _WINDOW * tol * abs(new):
                state["stalled"] = True
                raise StopIteration

    x = L.ravel().copy()
    with table.phase("Finding impostors"):
        radius, indptr, indices, dists, truncated = search(L)
    table.start()
    warned = False
    converged = False
    message = "maximum number of rounds reached"
    stage = 0
    for rnd in range(_MAX_ROUNDS):
        if truncated and not warned:
            warnings.warn(
                f"{name}: more impostor pairs than max_impostors={budget}; "
                "keeping the closest ones per sample. The objective ignores the farthest "
                "impostors; increase max_impostors for the exact objective.",
                UserWarning,
                stacklevel=4,
            )
            warned = True
        # short rounds first (L moves most at the start), longer ones later
        round_iter = min(max_iter - state["iter"], _FIRST_ROUND_ITER * 2**rnd)
        state["trace"], state["stalled"] = [], False
        res = minimize_lbfgs(
            make_fun(indptr, indices, _SMOOTHING[stage]), x, max_iter=round_iter, tol=tol,
            callback=on_iter,
        )
        history.extend(h * n for h in res.history)
        x = res.x
        if state["stopped"]:
            message = STOPPED_BY_CALLBACK
            break
        used_ptr, used_idx = indptr, indices
        with table.phase(f"Round {rnd + 1} done; finding impostors"):
            radius, indptr, indices, dists, truncated = search(x.reshape(n_components, -1))
        ex_ptr, ex_idx = _exact_subset(radius, indptr, indices, dists)
        complete = bool(np.all(rows_contained(ex_ptr, ex_idx, used_ptr, used_idx)))
        # a round ends early on the tolerance rule, on L-BFGS's own tolerances, or on a
        # failed line search; the smoothed stages move on either way, the exact stage
        # converges only on a tolerance
        round_done = state["stalled"] or res.n_iter < round_iter
        if round_done and (complete or truncated):
            if stage + 1 < len(_SMOOTHING):
                stage += 1
                continue
            converged = state["stalled"] or res.converged
            message = "objective decrease below tol" if state["stalled"] else res.message
            break
        if state["iter"] >= max_iter:
            message = "maximum number of iterations reached"
            break
    # the final objective with the exact impostor set at x (or the budgeted list)
    loss, _, active = lmnn_evaluate(x, X, targets, indptr, indices, mu, n_components)
    result = SolverResult(x=x, fun=loss, n_iter=state["iter"], converged=converged, message=message,
                          history=history, stopped=state["stopped"])
    table.finish()
    return result, active
