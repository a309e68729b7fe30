"""L-BFGS-B wrapper returning a :class:`SolverResult`."""

import numpy as np
from scipy.optimize import minimize

from .adam import DivergenceError
from .result import STOPPED_BY_CALLBACK, SolverResult


def minimize_lbfgs(fun, x0, *, args=(), max_iter=100, tol=1e-5, callback=None, maxcor=10, ftol=None):
    """Minimise ``fun(x, *args) -> (loss, grad)`` with scipy's L-BFGS-B.

    Parameters
    ----------
    fun : callable
        Returns the loss and its gradient (same shape as ``x``).
    x0 : ndarray
        Starting point (flattened parameters).
    args : tuple
        Extra arguments for ``fun``.
    max_iter : int
        Iteration cap.
    tol : float
        Passed to scipy as ``gtol`` and ``ftol``-like tolerance.
    ftol : float, default=None
        scipy's ``ftol`` (relative decrease of the objective); None means
        ``tol * 1e-3``.
    callback : callable, default=None
        Called as ``callback(x, n_iter)`` after each iteration. Returning
        True stops the run (``stopped=True``: the user's request); raising
        ``StopIteration`` ends it as converged (the caller's own stopping
        rule).

    Returns
    -------
    SolverResult
        ``converged`` is False when the iteration cap ended the run or the
        line search failed (scipy status 1 or 2, e.g. ``ABNORMAL``).

    Raises
    ------
    DivergenceError
        (a ``ValueError`` and ``FloatingPointError``) when the objective or
        its gradient is NaN or infinite.
    """
    history = []
    state = {"n_iter": 0, "stopped": False}

    def _callback(xk):
        state["n_iter"] += 1
        if callback is not None and callback(xk, state["n_iter"]):
            state["stopped"] = True
            raise StopIteration

    def _fun(x, *a):
        loss, grad = fun(x, *a)
        if not np.isfinite(loss) or not np.all(np.isfinite(grad)):
            raise DivergenceError(
                "The objective or its gradient became NaN or infinite; "
                "rescale the data (e.g. StandardScaler) or change the initialisation."
            )
        history.append(float(loss))
        return loss, grad

    res = minimize(
        _fun, np.asarray(x0, dtype=np.float64), args=args, jac=True, method="L-BFGS-B",
        callback=_callback, options={"maxiter": max_iter, "gtol": tol, "ftol": tol * 1e-3 if ftol is None else ftol, "maxcor": maxcor},
    )
    # status 0: scipy's tolerances met; 99: the callback raised StopIteration (callers
    # stop that way on their own tolerance rule). 1 is the iteration or evaluation
    # cap and 2 a line search that found no decrease (ABNORMAL): neither is convergence.
    converged = res.status in (0, 99) and not state["stopped"]
    return SolverResult(
        x=res.x, fun=float(res.fun), n_iter=int(res.nit), converged=converged,
        message=STOPPED_BY_CALLBACK if state["stopped"] else str(res.message), history=history,
        stopped=state["stopped"],
    )
