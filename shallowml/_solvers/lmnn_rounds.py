"""LMNN solver: active-set rounds of L-BFGS over an impostor list.

Each round searches all pairs ``(i, l)`` of different classes within 1.5
times the squared margin radius ``max_j d_ij + 1`` (blocked numba search),
then L-BFGS minimises the objective with the push sum over that list. After
each round the exact impostor set at the new ``L`` is computed; the solver
stops when it is contained in the list used and L-BFGS converged. When it is
not, a trust-region test compares the decrease of the true objective with the
decrease the list showed: below half, later searches go 4 times wider; below a
quarter, the round is also undone (at low rank, turning the projection brings
far samples close, and L-BFGS would otherwise minimise an objective blind to
them). A list holding a quarter of all pairs of different classes takes them
all. Within a stage the true objective thus never increases from round to round. The first
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
# A trust-region test on each round whose list turns out incomplete: the list's
# objective fell by `predicted`, the true one (exact impostor set) by `actual`. When
# actual < _WIDEN_RATIO * predicted the list was too narrow for the step L-BFGS took
# (L moved so far that samples outside it became impostors, typical at low rank where
# turning the projection brings far samples close) and the slack is multiplied by
# _SLACK_GROWTH; below _UNDO_RATIO the round is also undone.
_WIDEN_RATIO = 0.5
_UNDO_RATIO = 0.25
_SLACK_GROWTH = 4.0
# When the candidates are this fraction of all pairs of different classes, the list
# takes them all: it costs at most 1 / fraction times more and is never stale.
_ALL_PAIRS_FRACTION = 0.25
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
    # number of ordered pairs of samples of different classes
    n_other = n * n - int(np.sum(np.bincount(y_codes).astype(np.int64) ** 2))
    state = {"x": None, "loss": None, "active": 0, "prev": L.ravel().copy(), "iter": 0,
             "trace": [], "stalled": False, "stopped": False}
    history = []

    table = ProgressTable(name, [("Iteration", 10, "d"), ("Objective Value", 20, ".6e"),
                                 ("Active Triplets", 16, "d"), ("Step", 12, ".3e")], enabled=verbose)

    def search(L, slack):
        Z = X @ L.T
        radius = margin_radius(Z, targets)
        indptr, indices, dists, truncated = find_impostors(
            Z, y_codes, slack * radius, max_pairs=budget
        )
        if not truncated and indices.size >= _ALL_PAIRS_FRACTION * n_other and n_other <= budget:
            # every pair of different classes (rows without target neighbours have no
            # triplets and stay empty); finfo.max, not inf, as the kernels' sentinel
            everything = np.where(radius > 0, np.finfo(np.float64).max, 0.0)
            indptr, indices, dists, truncated = find_impostors(Z, y_codes, everything, max_pairs=budget)
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
    slack = _CANDIDATE_SLACK
    with table.phase("Finding impostors"):
        radius, indptr, indices, dists, truncated = search(L, slack)
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
        x_start = x
        res = minimize_lbfgs(
            make_fun(indptr, indices, _SMOOTHING[stage]), x, max_iter=round_iter, tol=tol,
            callback=on_iter,
        )
        history.extend(h * n for h in res.history)
        x = res.x
        if state["stopped"]:
            message = STOPPED_BY_CALLBACK
            break
        used_ptr, used_idx, used_truncated = indptr, indices, truncated
        with table.phase(f"Round {rnd + 1} done; finding impostors"):
            radius, indptr, indices, dists, truncated = search(x.reshape(n_components, -1), slack)
        ex_ptr, ex_idx = _exact_subset(radius, indptr, indices, dists)
        complete = bool(np.all(rows_contained(ex_ptr, ex_idx, used_ptr, used_idx)))
        if not (complete or truncated or used_truncated) and res.history:
            # The list was searched at the round's start, so the first evaluation is the
            # true (stage) objective there; at the end the exact impostor set gives it.
            start = res.history[0] * n
            end = lmnn_evaluate(x, X, targets, ex_ptr, ex_idx, mu, n_components, _SMOOTHING[stage])[0]
            predicted, actual = start - res.fun * n, start - end
            if actual < _WIDEN_RATIO * predicted:
                slack *= _SLACK_GROWTH
            if actual < _UNDO_RATIO * predicted:
                x = x_start
                with table.phase(f"Round {rnd + 1} undone (objective {start:.6e} -> {end:.6e}, "
                                 f"the list predicted {start - predicted:.6e}); "
                                 f"finding impostors within {slack:g} x the margin radius"):
                    radius, indptr, indices, dists, truncated = search(x.reshape(n_components, -1), slack)
                if state["iter"] >= max_iter:
                    message = "maximum number of iterations reached"
                    break
                continue
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
