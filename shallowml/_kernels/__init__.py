"""numba kernels (numpy, numba and math only; no scikit-learn).

Kernels compile lazily on first call and are cached on disk, the parallel
variants too, so a process loads them instead of compiling. Kernels with a
serial and a parallel variant are declared once with
:func:`._options.size_dispatched`. Parallel kernels write disjoint outputs
per row so that results do not depend on the number of threads.
"""
