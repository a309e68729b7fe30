"""Shared numba options: one place to change how kernels compile.

No ``fastmath`` anywhere: inputs may hold huge or tiny values and ``fastmath``
lets LLVM assume NaN/inf never occur.

Kernels that exist in a cached serial and an uncached parallel variant pick
one by problem size through :func:`use_parallel`; inside
:func:`parallel_variants_everywhere` they always take the parallel one, so
that a warm-up fit on a tiny problem compiles those too (see
:func:`shallowml.utils.warmup.warm_up`).
"""

import contextlib

import numba

SERIAL = dict(nogil=True, cache=True, fastmath=False)
PARALLEL = dict(nogil=True, parallel=True, cache=False, fastmath=False)
INLINE = dict(nogil=True, cache=True, fastmath=False, inline="always")

njit_serial = numba.njit(**SERIAL)
njit_parallel = numba.njit(**PARALLEL)
njit_inline = numba.njit(**INLINE)

_force_parallel = False


def use_parallel(work, min_work):
    """Whether a size-dispatched kernel should run its parallel variant."""
    return _force_parallel or work >= min_work


@contextlib.contextmanager
def parallel_variants_everywhere():
    """Within the block, size-dispatched kernels always run their parallel variant."""
    global _force_parallel
    previous, _force_parallel = _force_parallel, True
    try:
        yield
    finally:
        _force_parallel = previous
