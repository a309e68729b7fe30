"""Shared numba options and the one way to build and pick a kernel variant.

No ``fastmath`` anywhere: inputs may hold huge or tiny values and ``fastmath``
lets LLVM assume NaN/inf never occur.

Every kernel is cached on disk (``cache=True``), the parallel ones too
(numba >= 0.59 caches ``parallel=True`` functions): after the first compile
on a machine, no process, joblib/Dask worker or larger input compiles again.
When the package directory is not writable numba falls back to its
user-wide cache directory (``$NUMBA_CACHE_DIR`` if set, else
``~/.cache/numba``); ``tests/test_cache.py`` checks both.

A kernel with a serial and a parallel variant is declared once with
:func:`size_dispatched`: both variants are compiled from the same Python
function (under two names, so that their cache files differ) and each call
picks one by the amount of work. Inside :func:`parallel_variants_everywhere`
the parallel one is always taken, so that a tiny warm-up fit compiles (or
loads) both (see :func:`shallowml.utils.warmup.warm_up`). The parallel
variant runs with :func:`._threads.kernel_threads` threads (the policy:
:mod:`shallowml.utils.threads`).
"""

import contextlib
import functools
import threading
import types

import numba

from ._threads import kernel_threads

SERIAL = dict(nogil=True, cache=True, fastmath=False)
PARALLEL = dict(SERIAL, parallel=True)
INLINE = dict(SERIAL, inline="always")

njit_serial = numba.njit(**SERIAL)
njit_inline = numba.njit(**INLINE)

# below this many scalar operations a kernel runs serially: starting the thread
# pool and splitting the rows costs more than the work
PARALLEL_MIN_WORK = 2_000_000

# per thread, so that a warm-up in one thread does not force the variants of another
_forced = threading.local()


def _force_parallel():
    return getattr(_forced, "on", False)


def use_parallel(work, min_work=PARALLEL_MIN_WORK):
    """Whether a size-dispatched kernel should run its parallel variant."""
    return _force_parallel() or work >= min_work


@contextlib.contextmanager
def parallel_variants_everywhere():
    """Within the block (in this thread), size-dispatched kernels always run their parallel variant."""
    previous, _forced.on = _force_parallel(), True
    try:
        yield
    finally:
        _forced.on = previous


def _renamed(fn, suffix):
    """A copy of ``fn`` whose qualified name ends in ``suffix`` (its own numba cache file)."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


class SizeDispatched:
    """A kernel compiled twice from one Python function; each call picks a variant.

    Parameters
    ----------
    fn : function
        The kernel, written with ``numba.prange`` over disjoint output rows.
    work : callable
        ``work(*args) -> int``, the amount of work of a call (scalar operations).
    min_work : int
        Calls with less work run the serial variant.

    Attributes
    ----------
    serial, parallel : numba dispatchers
        The two variants (both ``cache=True``).
    """

    def __init__(self, fn, work, min_work=PARALLEL_MIN_WORK):
        self.serial = numba.njit(**SERIAL)(fn)
        self.parallel = numba.njit(**PARALLEL)(_renamed(fn, "__parallel"))
        self.work = work
        self.min_work = min_work
        functools.update_wrapper(self, fn)

    @property
    def variants(self):
        """``(serial, parallel)`` dispatchers."""
        return self.serial, self.parallel

    def pick(self, *args):
        """The variant a call with these arguments runs."""
        return self.parallel if use_parallel(self.work(*args), self.min_work) else self.serial

    def __call__(self, *args):
        kernel = self.pick(*args)
        if kernel is self.serial:
            return kernel(*args)
        with kernel_threads() as n_threads:
            # a one-thread share gains nothing from the thread pool
            return (kernel if n_threads > 1 or _force_parallel() else self.serial)(*args)


def size_dispatched(work, min_work=PARALLEL_MIN_WORK):
    """Decorator: build a :class:`SizeDispatched` kernel from a Python function.

    Examples
    --------
    How the LMNN kernels are declared (the lambda gets the kernel's arguments)::

        @size_dispatched(work=lambda Z, targets: targets.size * Z.shape[1])
        def target_sq_dists(Z, targets):
            ...  # numba code with numba.prange over rows

    >>> from shallowml._kernels.lmnn import target_sq_dists
    >>> serial, parallel = target_sq_dists.variants
    >>> serial.targetoptions.get("parallel", False), parallel.targetoptions["parallel"]
    (False, True)
    """
    return lambda fn: SizeDispatched(fn, work, min_work)
