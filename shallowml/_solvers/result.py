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
    """

    x: np.ndarray
    fun: float
    n_iter: int
    converged: bool
    message: str = ""
    history: list = field(default_factory=list)

    def warn_if_not_converged(self, estimator_name):
        """Raise a ``ConvergenceWarning`` when the solver did not converge."""
        if not self.converged:
            warnings.warn(
                f"{estimator_name} did not converge after {self.n_iter} iterations: "
                f"{self.message}. Increase max_iter or loosen tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
