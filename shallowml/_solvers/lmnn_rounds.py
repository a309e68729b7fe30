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
all. Within a stage the true objective thus never increases from round to round.

The searches are exact and tiled (:func:`shallowml._losses.lmnn.find_impostors`).
A search is skipped when the last candidate list provably holds every
impostor at the new ``L`` (square, well-conditioned ``L0`` of the list,
``n_components == n_features``, searched with at least the current slack):
with ``e = ||(L - L0) L0^-1||_2 < 1`` every distance satisfies
``(1 - e) ||L0 v|| <= ||L v|| <= (1 + e) ||L0 v||``, so an impostor of ``i``
at ``L``, within the exact radius ``r_i`` there, lies within
``r_i / (1 - e)^2`` at ``L0``; when that is below the list's radius for every
row, filtering the list at ``L`` gives the exact impostor set (the check
stays exact, at the cost of one pass over the list). Late rounds, where
``L`` moves little, thus run without any search. The first
stages minimise a Huber smoothing of the hinge (widths 0.1, then 0.01), the
last the exact objective, each warm-started from the previous one; with
``n_components < n_classes - 1`` the smoothed stages run to a tighter
tolerance than the exact one, as they decide which local minimum the fit
reaches (``_LOW_RANK_SMOOTHED_TOL``). The
objective and its gradient are :func:`shallowml._losses.lmnn.lmnn_evaluate`;
the estimator is :class:`shallowml.LMNN`.

K. Q. Weinberger and L. K. Saul, "Distance Metric Learning for Large Margin
Nearest Neighbor Classification", JMLR 10:207-244, 2009.
"""

import warnings

import numpy as np

from .._kernels.lmnn import csr_sq_dists, rows_contained
from .._losses.lmnn import find_impostors, lmnn_evaluate, margin_radius
from .lbfgs import minimize_lbfgs
from .progress import ProgressTable
from .result import STOPPED_BY_CALLBACK, SolverResult

__all__ = ["lmnn_active_set"]

# Candidate impostors are searched within this factor times the squared margin
# radius, so that the list stays complete while L moves during one round. In d
# dimensions the list grows about like slack^(d/2): 1.2 keeps it within ~3x the
# exact set (each L-BFGS evaluation costs in proportion), and a list stays
# provably complete while L moves by up to e = (sqrt(1.2) - 1) / (sqrt(1.2) + 1),
# about 4.5% (relative, spectral norm).
_CANDIDATE_SLACK = 1.2
# reuse a list only when its L0 is this well conditioned (the bound needs L0^-1)
_REUSE_MAX_COND = 1e6
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
# With fewer components than the classes need apart (n_components < n_classes - 1,
# the rank of the between-class scatter) the map must choose which classes overlap,
# and the objective has local minima that differ in that choice. The smoothed stages
# are a homotopy that decides which one the exact stage reaches; there they are
# solved to this tolerance (or the user's, when tighter). Stopped on a plateau, as
# tol=1e-3 does, they left digits' 2-D map in a basin with a 9 % higher objective on
# one 70/30 split (metric-learn, whose gradient descent runs to an absolute
# tolerance, reached the lower one). With enough components every class can have its
# own direction; at full rank the objective is even convex in M = L^T L. There the
# smoothed stages only speed up the exact one and stop at ``tol``.
_LOW_RANK_SMOOTHED_TOL = 1e-6


def _exact_subset(radius, indptr, indices, dists):
    """The pairs of a candidate list that lie within ``radius`` (CSR)."""
    n = radius.shape[0]
    rows = np.repeat(np.arange(n), np.diff(indptr))
    keep = dists < radius[rows]
    sub_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=sub_ptr[1:])
    return sub_ptr, indices[keep]


def _reuse_state(L, Z, list_radius, truncated):
    """What :func:`_reusable` needs of a freshly searched list at ``L`` (None: not reusable)."""
    if truncated or L.shape[0] != L.shape[1] or not np.all(np.isfinite(L)):
        return {"L": None}
    sv = np.linalg.svd(L, compute_uv=False)
    if sv[-1] <= sv[0] / _REUSE_MAX_COND:
        return {"L": None}
    zz = float(np.max(np.einsum("ij,ij->i", Z, Z), initial=0.0))
    return {"L": L.copy(), "list_radius": list_radius, "zz": zz}


def _reusable(cand, L, Z, radius):
    """Whether the candidate list ``cand`` provably holds every impostor at ``L``.

    With ``e = ||(L - L0) L0^-1||_2 < 1`` every distance at ``L`` is at least
    ``(1 - e)`` times the one at ``L0``, so the impostors of row ``i`` (exact
    squared radius ``radius[i]`` at ``L``) lie within ``radius[i] / (1 - e)^2``
    at ``L0``: the list holds them all when that is below its radius. ``e`` is
    inflated by 1e-6 (relative; it is computed through ``L0``, whose condition
    number is at most 1e6) and the radii compared with a 1e-9 relative margin
    plus 1e-12 times the largest squared norm of a row of ``Z`` (rounding of
    ``Z = X L^T`` and of the distances), far above the rounding errors.
    """
    L0 = cand["L"]
    if L0 is None or L.shape != L0.shape:
        return False
    E = np.linalg.solve(L0.T, (L - L0).T).T
    eps = float(np.linalg.norm(E, 2)) * (1.0 + 1e-6)
    if not eps < 1.0:
        return False
    zz = max(cand["zz"], float(np.max(np.einsum("ij,ij->i", Z, Z), initial=0.0)))
    need = radius * (1.0 + 1e-9) / (1.0 - eps) ** 2 + 1e-12 * zz
    return bool(np.all((radius <= 0.0) | (need <= cand["list_radius"])))


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
        ``x`` the flat final ``L``, ``fun`` the classic objective at it;
        ``info["approximate"]`` whether the final list was cut to
        ``max_impostors`` (the objective minimised was then approximate),
        ``info["n_searches"]`` the number of full impostor searches and
        ``info["n_truncated_searches"]`` how many of them were cut.
    n_active : int
        Triplets with a positive hinge at ``x``.
    """
    n = X.shape[0]
    n_components = L.shape[0]
    overlap = n_components < min(X.shape[1], np.unique(y_codes).size - 1)
    stage_tol = [min(tol, _LOW_RANK_SMOOTHED_TOL) if overlap and width > 0 else tol for width in _SMOOTHING]
    mu = float(push_weight)
    budget = int(max_impostors)
    # number of ordered pairs of samples of different classes
    n_other = n * n - int(np.sum(np.bincount(y_codes).astype(np.int64) ** 2))
    state = {"x": None, "loss": None, "active": 0, "prev": L.ravel().copy(), "iter": 0,
             "trace": [], "stalled": False, "stopped": False, "searches": 0}
    history = []

    table = ProgressTable(name, [("Iteration", 10, "d"), ("Objective Value", 20, ".6e"),
                                 ("Active Triplets", 16, "d"), ("Step", 12, ".3e")], enabled=verbose)

    # the last searched list: its map, radii and slack, and what reuse needs
    cand = {"L": None}

    def prepare(L, slack):
        """``(L, Z, radius, slack, reuse)``: exact radii at ``L``; whether the last list still serves."""
        Z = X @ L.T
        radius = margin_radius(Z, targets)
        reuse = cand.get("slack", 0.0) >= slack and _reusable(cand, L, Z, radius)
        return L, Z, radius, slack, reuse

    def search(prepared, progress=None):
        """``(radius, indptr, indices, dists, truncated)``: exact radii and a candidate list at ``L``."""
        L, Z, radius, slack, reuse = prepared
        if reuse:
            indptr, indices = cand["indptr"], cand["indices"]
            return radius, indptr, indices, csr_sq_dists(Z, indptr, indices), False
        state["searches"] += 1
        list_radius = slack * radius
        indptr, indices, dists, truncated = find_impostors(
            Z, y_codes, list_radius, max_pairs=budget, progress=progress
        )
        if not truncated and indices.size >= _ALL_PAIRS_FRACTION * n_other and n_other <= budget:
            # every pair of different classes (rows without target neighbours have no
            # triplets and stay empty); finfo.max, not inf, as the kernels' sentinel
            list_radius = np.where(radius > 0, np.finfo(np.float64).max, 0.0)
            indptr, indices, dists, truncated = find_impostors(Z, y_codes, list_radius, max_pairs=budget,
                                                               progress=progress)
        cand.update(_reuse_state(L, Z, list_radius, truncated), indptr=indptr, indices=indices, slack=slack)
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
        # stop the round when the objective decreases by less than the stage's tol (relative)
        # per iteration, on average over the last _WINDOW iterations
        if len(trace) > _WINDOW:
            old, new = trace[-1 - _WINDOW], trace[-1]
            if np.isfinite(old) and np.isfinite(new) and old - new <= _WINDOW * stage_tol[stage] * abs(new):
                state["stalled"] = True
                raise StopIteration

    x = L.ravel().copy()
    slack = _CANDIDATE_SLACK
    with table.phase("Finding impostors") as progress:
        radius, indptr, indices, dists, truncated = search(prepare(L, slack), progress)
    table.start()
    converged = False
    message = "maximum number of rounds reached"
    stage = 0
    n_truncated = int(truncated)
    for rnd in range(_MAX_ROUNDS):
        # short rounds first (L moves most at the start), longer ones later
        round_iter = min(max_iter - state["iter"], _FIRST_ROUND_ITER * 2**rnd)
        state["trace"], state["stalled"] = [], False
        x_start = x
        res = minimize_lbfgs(
            make_fun(indptr, indices, _SMOOTHING[stage]), x, max_iter=round_iter, tol=stage_tol[stage],
            callback=on_iter,
        )
        history.extend(h * n for h in res.history)
        x = res.x
        if state["stopped"]:
            message = STOPPED_BY_CALLBACK
            break
        used_ptr, used_idx, used_truncated = indptr, indices, truncated
        prepared = prepare(x.reshape(n_components, -1), slack)
        what = "impostors from the candidate list" if prepared[4] else "finding impostors"
        with table.phase(f"Round {rnd + 1} done; {what}") as progress:
            radius, indptr, indices, dists, truncated = search(prepared, progress)
        n_truncated += int(truncated)
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
                                 f"finding impostors within {slack:g} x the margin radius") as progress:
                    radius, indptr, indices, dists, truncated = search(
                        prepare(x.reshape(n_components, -1), slack), progress)
                n_truncated += int(truncated)
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
    # a list cut to the budget early on (far from the solution, where impostors abound)
    # is harmless once a later search at L is complete: only a cut final list makes
    # the result approximate
    warned = bool(truncated)
    if warned:
        warnings.warn(
            f"{name}: the impostor search found more pairs than max_impostors={budget}; "
            "each sample keeps only its closest impostors, so this fit minimised an "
            "APPROXIMATE objective that ignores the farthest ones (approximate_ is True). "
            "Increase max_impostors (about 40 bytes per pair) for the exact objective.",
            UserWarning,
            stacklevel=4,
        )
    # the final objective with the exact impostor set at x (or the budgeted list)
    loss, _, active = lmnn_evaluate(x, X, targets, indptr, indices, mu, n_components)
    result = SolverResult(x=x, fun=loss, n_iter=state["iter"], converged=converged, message=message,
                          history=history, stopped=state["stopped"],
                          info={"approximate": warned, "n_searches": state["searches"],
                                "n_truncated_searches": n_truncated})
    table.finish()
    return result, active
