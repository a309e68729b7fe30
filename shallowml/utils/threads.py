"""Thread-count control for the numba kernels."""

from contextlib import contextmanager

import numba


@contextmanager
def numba_threads(n_threads):
    """Run the enclosed code with ``n_threads`` numba threads, then restore.

    Parallel kernels reduce in a fixed order, so results do not depend on the
    thread count; this context manager is how the tests check it.

    Examples
    --------
    >>> from shallowml.utils.threads import numba_threads
    >>> with numba_threads(1):
    ...     pass
    """
    old = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(old)
