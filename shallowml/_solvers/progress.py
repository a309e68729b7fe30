"""One verbose format for every iterative estimator.

The format is scikit-learn's ``NeighborhoodComponentsAnalysis`` one: lines
prefixed with ``[EstimatorName]``, a header row and a dashed rule, one
right-aligned row per iteration (or epoch, or sweep) whose last column is the
time in seconds since the previous row, and a closing ``Training took``
line. Long phases outside the iterations (an initialisation, a search)
print ``[Name] <what>... done in 0.12s``.

Examples
--------
>>> from shallowml._solvers.progress import ProgressTable
>>> table = ProgressTable("NCA", [("Iteration", 10, "d"), ("Objective Value", 20, ".6e")])
>>> table.start()  # doctest: +ELLIPSIS
[NCA]
[NCA]  Iteration      Objective Value    Time(s)
[NCA] ------------------------------------------
>>> table.row(1, 12.5)  # doctest: +ELLIPSIS
[NCA]          1         1.250000e+01       ...
"""

import sys
import time
from contextlib import contextmanager

import numpy as np

__all__ = ["PhaseProgress", "ProgressTable", "user_callback"]


class ProgressTable:
    """Print a progress table when ``enabled`` (the estimator's ``verbose``).

    Parameters
    ----------
    name : str
        The prefix, usually ``type(estimator).__name__``.
    columns : list of (title, width, format_spec)
        The columns before the time column, e.g. ``("Iteration", 10, "d")``.
        A value of ``None`` prints as ``-``.
    enabled : bool, default=True
        When False every method does nothing (the table costs nothing).
    """

    def __init__(self, name, columns, *, enabled=True):
        self.name = name
        self.columns = list(columns) + [("Time(s)", 10, ".2f")]
        self.enabled = bool(enabled)
        self._t_start = self._t_last = time.perf_counter()

    def _print(self, text):
        print(f"[{self.name}] {text}")
        sys.stdout.flush()

    def start(self):
        """Print the header and start the row clock (the training clock runs from creation)."""
        self._t_last = time.perf_counter()
        if not self.enabled:
            return
        header = " ".join(f"{title:>{width}}" for title, width, _ in self.columns)
        print(f"[{self.name}]")
        self._print(header)
        self._print("-" * len(header))

    def row(self, *values):
        """Print one row; the time column is the time since the previous row."""
        now = time.perf_counter()
        elapsed, self._t_last = now - self._t_last, now
        if not self.enabled:
            return
        cells = []
        for value, (_, width, spec) in zip((*values, elapsed), self.columns):
            text = "-" if value is None else format(value, spec)
            cells.append(f"{text:>{width}}")
        self._print(" ".join(cells))

    @contextmanager
    def phase(self, what):
        """Context manager printing ``[Name] <what>... done in 0.12s`` around a long step.

        It yields a :class:`PhaseProgress`: a long step calls it as
        ``progress(done, total)`` to print a row with its progress, the
        elapsed time and an estimate of the time left; the closing line then
        repeats ``<what>`` (``[Name] <what>... done in 12.34s``).
        """
        t0 = time.perf_counter()
        if self.enabled:
            print(f"[{self.name}] {what}... ", end="")
            sys.stdout.flush()
        progress = PhaseProgress(self, t0)
        yield progress
        if self.enabled:
            prefix = f"[{self.name}] {what}... " if progress.rows else ""
            print(f"{prefix}done in {time.perf_counter() - t0:5.2f}s")
            sys.stdout.flush()
        self._t_last = time.perf_counter()

    def finish(self):
        """Print the closing ``Training took`` line (seconds since :meth:`start`)."""
        if self.enabled:
            self._print(f"Training took {time.perf_counter() - self._t_start:8.2f}s.")


class PhaseProgress:
    """Progress rows of a long phase (see :meth:`ProgressTable.phase`).

    ``progress(done, total)`` prints
    ``[Name]   25% (1213/4851 blocks), 2.0s elapsed, about 6.1s left``; the
    first row ends the open phase line. Nothing is printed when the table
    is disabled.
    """

    def __init__(self, table, t0, unit="blocks"):
        self.table = table
        self.t0 = t0
        self.unit = unit
        self.rows = 0

    def __call__(self, done, total):
        if not self.table.enabled:
            return
        elapsed = time.perf_counter() - self.t0
        left = f"about {elapsed * (total - done) / done:.0f}s left" if done else "time left unknown"
        if self.rows == 0:
            print()
        self.rows += 1
        pct = 100.0 * done / total if total else 100.0
        self.table._print(f"  {pct:3.0f}% ({done}/{total} {self.unit}), {elapsed:.1f}s elapsed, {left}")


def user_callback(callback, to_components):
    """The solver-side form of an estimator's ``callback`` parameter.

    Every iterative estimator calls ``callback(components, n_iter)`` with the
    current map in the units of ``components_`` (an array of shape
    ``(n_components, n_features)``, a copy) and the iteration, epoch or sweep
    number from 1. A true return value stops the fit early, keeping the result
    so far, without a ``ConvergenceWarning``.

    Parameters
    ----------
    callback : callable or None
        The estimator's ``callback``.
    to_components : callable
        Maps the solver's parameter vector to ``components_``.

    Returns
    -------
    fn : callable or None
        ``fn(x, n_iter) -> bool`` (True: stop) for the solvers; None when
        ``callback`` is None.
    """
    if callback is None:
        return None

    def call(x, n_iter):
        return bool(callback(np.array(to_components(x), dtype=np.float64), n_iter))

    return call
