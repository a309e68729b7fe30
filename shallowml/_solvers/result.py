"""The result object every solver returns."""

import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning


@dataclass
class SolverResult:
    """Outcome of an optimisation.

    Attributes
    ----------
    x : ndarray
        Final parameters.
    fun : float
        Objective at ``x``.
    n_iter : int
        Iterations performed.
    converged : bool
        Whether the stopping criterion (not the iteration cap) ended the run.
    message : str
        Human-readable reason for stopping.
    history : list of float
        Objective per iteration (may be empty).
    stopped : bool
        Whether the user's callback stopped the run (returned True); such a
        run keeps its parameters so far and is not reported as unconverged.
    info : dict
        Solver-specific diagnostics (e.g. LMNN's ``approximate`` flag).
    """

    x: np.ndarray
    fun: float
    n_iter: int
    converged: bool
    message: str = ""
    history: list = field(default_factory=list)
    stopped: bool = False
    info: dict = field(default_factory=dict)

    def warn_if_not_converged(self, estimator_name):
        """Raise a ``ConvergenceWarning`` when the solver did not converge (nor was stopped)."""
        if not self.converged and not self.stopped:
            warnings.warn(
                f"{estimator_name} did not converge after {self.n_iter} iterations: "
                f"{self.message}. Increase max_iter or loosen tol.",
                ConvergenceWarning,
                stacklevel=3,
            )


# the message of a run that the user's callback stopped
STOPPED_BY_CALLBACK = "stopped by the callback"
