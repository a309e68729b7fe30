"""SCML's stochastic composite solver: AdaGrad regularised dual averaging with checkpoints.

The iterations run in the numba kernel :func:`shallowml._kernels.scml.scml_rda_steps`
(Xiao, "Dual averaging methods for regularized stochastic learning and
online optimization", JMLR 2010; Duchi, Hazan & Singer, "Adaptive
subgradient methods for online learning and stochastic optimization", JMLR
2011), ``output_iter`` at a time. At each checkpoint the full objective is
evaluated and the best weights so far are kept, as in Shi, Bellet & Sha
(AAAI 2014) and metric-learn 0.7.
"""

import numpy as np

from .._kernels.scml import scml_rda_steps
from .._losses.scml import best_ray_scale
from .progress import ProgressTable
from .result import STOPPED_BY_CALLBACK, SolverResult

# AdaGrad's offset in the denominator, as metric-learn 0.7
DELTA = 1e-3
# checkpoints over which ``tol`` is judged
PATIENCE = 5


def minimize_scml_rda(XB, triplets, slacks, *, random_state, beta, gamma, max_iter, output_iter,
                      batch_size, tol=None, ray_search=True, verbose=0, name="SCML", callback=None):
    """Minimise ``beta sum_k w_k + mean_t [1 + dd_t . w]_+`` over ``w >= 0`` stochastically.

    Parameters
    ----------
    XB : ndarray of shape (n_points, n_basis)
        Projections of the points on the bases (C-contiguous float64).
    triplets : ndarray of int64, shape (n_triplets, 3)
    slacks : callable
        ``slacks(w) -> ndarray`` of ``1 + dd_t . w`` for every triplet (exact).
    random_state : numpy.random.RandomState
        Draws the batches, all at once before the first iteration as
        ``random_state.randint(0, n_triplets, size=(max_iter, batch_size))``
        (metric-learn's draw: with the same seed and triplets, the same
        iterates up to round-off).
    beta, gamma : float
    max_iter, output_iter, batch_size : int
    tol : float or None, default=None
        None: run ``max_iter`` iterations (a fixed budget, no convergence
        test). A float: stop once the best checkpoint objective improved by
        less than ``tol * |best|`` over the last 5 checkpoints; reaching
        ``max_iter`` first is reported as not converged.
    ray_search : bool, default=True
        At each checkpoint also minimise the objective exactly along the ray
        of the iterate, ``min_c F(c w)`` (:func:`shallowml._losses.scml.best_ray_scale`),
        and compare checkpoints by that minimum. The iterates are unchanged;
        the result is never worse than without (``c = 1`` is a candidate),
        and scaling ``M`` changes no neighbour ranking. False: metric-learn's
        rule (the best iterate as it is).
    verbose : int
    name : str
    callback : callable, default=None
        ``callback(w, n_iter) -> bool`` at every checkpoint; True stops.

    Returns
    -------
    SolverResult
        ``x`` the best weights among the checkpoints (every ``output_iter``
        iterations and the last one; scaled along their ray with
        ``ray_search``), ``fun`` their objective, ``n_iter`` the iterations
        run, ``history`` the objective of each checkpoint's candidate (the
        iterate, or its ray minimum with ``ray_search``).
    """
    n_triplets = triplets.shape[0]
    K = XB.shape[1]
    batches = random_state.randint(0, n_triplets, size=(max_iter, batch_size))
    w = np.zeros(K)
    S = np.zeros(K)
    ada = np.zeros(K)
    active = np.empty(K, dtype=np.int64)
    g = np.empty(K)
    stops = list(range(output_iter, max_iter + 1, output_iter))
    if not stops or stops[-1] != max_iter:
        stops.append(max_iter)
    columns = [("Iteration", 10, "d"), ("Objective Value", 20, ".6e")]
    if ray_search:
        columns.append(("Ray Minimum", 16, ".6e"))
    columns += [("Active Triplets", 16, "d"), ("Active Bases", 13, "d")]
    table = ProgressTable(name, columns, enabled=verbose)
    table.start()
    best, best_w = np.inf, w.copy()
    history = []
    bests = []
    converged = tol is None
    stopped = False
    message = f"ran the fixed budget of max_iter={max_iter} iterations" if tol is None \
        else f"reached max_iter={max_iter}"
    start = 0
    for stop in stops:
        scml_rda_steps(XB, triplets, batches, start, stop, w, S, ada, beta, gamma, DELTA, active, g)
        start = stop
        slack = slacks(w)
        positive = slack > 0
        w_sum = float(w.sum())
        F = float(beta * w_sum + slack[positive].sum() / n_triplets)
        candidate = (F, 1.0)
        if ray_search:
            c, Fc = best_ray_scale(slack, w_sum, beta)
            candidate = (Fc, c) if Fc < F else candidate
        history.append(candidate[0])
        ray = (candidate[0],) if ray_search else ()
        table.row(stop, F, *ray, int(positive.sum()), int(np.count_nonzero(w > 0)))
        if candidate[0] < best:
            best, best_w = candidate[0], candidate[1] * w
        if callback is not None and callback(w, stop):
            stopped, message = True, STOPPED_BY_CALLBACK
            break
        bests.append(best)
        if tol is not None and len(bests) > PATIENCE:
            before = bests[-PATIENCE - 1]
            if before - best <= tol * abs(best):
                converged = True
                message = f"the objective improved by less than tol={tol:g} over {PATIENCE} checkpoints"
                break
    table.finish()
    return SolverResult(x=best_w, fun=float(best), n_iter=start, converged=converged, message=message,
                        history=history, stopped=stopped)
