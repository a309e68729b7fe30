"""Shared numba options: one place to change how kernels compile.

No ``fastmath`` anywhere: inputs may hold huge or tiny values and ``fastmath``
lets LLVM assume NaN/inf never occur.
"""

import numba

SERIAL = dict(nogil=True, cache=True, fastmath=False)
PARALLEL = dict(nogil=True, parallel=True, cache=False, fastmath=False)
INLINE = dict(nogil=True, cache=True, fastmath=False, inline="always")

njit_serial = numba.njit(**SERIAL)
njit_parallel = numba.njit(**PARALLEL)
njit_inline = numba.njit(**INLINE)
