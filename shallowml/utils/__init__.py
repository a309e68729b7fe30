"""Utilities shared by the estimators (no numba kernels here)."""
