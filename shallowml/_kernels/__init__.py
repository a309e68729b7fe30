"""numba kernels (numpy, numba and math only; no scikit-learn).

Kernels compile lazily on first call. Serial kernels are cached on disk
(``cache=True``); parallel kernels never are. Parallel kernels write disjoint
outputs per row so that results do not depend on the number of threads.
"""
