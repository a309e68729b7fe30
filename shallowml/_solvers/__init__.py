"""Optimisers, kept apart from the estimators that use them.

Every solver returns a :class:`~shallowml._solvers.result.SolverResult`; the
estimator sets ``n_iter_`` from it and warns on non-convergence.
"""
