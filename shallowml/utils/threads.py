"""How many threads the numba kernels use, how they wait, and how users limit them.

Thread count. The parallel kernels run with ``numba.get_num_threads()``
threads of the calling thread (numba's setting is per thread), divided by the
number of shallowml parallel kernels running at that moment in other threads
of the process. So:

- ``numba.set_num_threads(n)`` (or :func:`numba_threads`) in the calling
  thread, or ``NUMBA_NUM_THREADS`` in the environment, limits the kernels,
  the same way ``OMP_NUM_THREADS`` / ``threadpoolctl`` limit BLAS;
- joblib's loky backend (``GridSearchCV(n_jobs=...)``) sets
  ``NUMBA_NUM_THREADS`` in its workers to their share of the cores, as it
  does for BLAS and OpenMP;
- ``OMP_NUM_THREADS`` in the environment a process starts with caps the
  kernels too unless ``NUMBA_NUM_THREADS`` is set (Dask's worker processes
  start with ``OMP_NUM_THREADS=1``; scikit-learn users limit its OpenMP code
  with it). Like OpenMP, shallowml reads it once, at import: distributed's
  ``LocalCluster`` writes ``OMP_NUM_THREADS=1`` into the environment of the
  process that creates it, and that process's own fits (a grid search's
  refit) keep their threads;
- fits running concurrently in threads of one process (joblib's threading
  backend, Dask's threaded workers) share the cores instead of each using
  all of them; a kernel whose share is one thread runs its serial variant.

Waiting. numba's OpenMP layer (the default where GNU OpenMP is installed)
lets idle worker threads spin; on a machine whose cores are all busy that
thrashes (a digits LMNN fit beside two CPU-bound processes: 3.5 s with
``OMP_WAIT_POLICY=ACTIVE``, 1.3 s with one thread, 1.0 s with passive
waiting; ``python -m benchmarks.bench_threads``, output in
``docs/benchmark_results/threads.md``). When shallowml is the first to start
numba's thread pool and ``OMP_WAIT_POLICY`` is not set, it starts the pool
with ``OMP_WAIT_POLICY=PASSIVE`` in the environment and removes it again at
once: only that OpenMP runtime (numba's, loaded at that moment) waits
passively; child processes and other libraries see the environment
unchanged. Set ``OMP_WAIT_POLICY`` yourself to choose otherwise. With
numba's ``workqueue`` layer (no OpenMP on the machine), which must not be
entered from two threads at once, concurrent kernels run serially.

BLAS. While LMNN runs its numba kernels it holds BLAS at one thread
(:func:`single_threaded_blas`): its BLAS products are small, and idle
OpenBLAS threads spinning beside the numba threads slow the numba kernels
down (oversubscription). MLKR does the same around its L-BFGS loop, whose
BLAS calls (its own small products and scipy's L-BFGS-B updates) are tiny.
BLAS limits are process-wide
by nature, so one fit at a time holds the limit and restores it itself;
concurrent fits in several threads never leave it behind. Other threads
doing BLAS work during such a fit run it single-threaded too. NCA holds the
limit too, and runs its large block products (``n^2 k`` flops per
evaluation) with :func:`split_dot`: column pieces of one product, each a
one-thread BLAS call, in as many threads as a parallel kernel would get
(:func:`kernel_threads`); the pool's idle threads wait on a queue instead of
spinning.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from .._kernels._threads import kernel_threads, openmp_cap, share, start_thread_pool

__all__ = ["kernel_threads", "numba_threads", "openmp_cap", "split_dot", "share", "single_threaded_blas",
           "start_thread_pool"]

_lock = threading.Lock()
_blas_holder = None
_pool = None
# column pieces of a split product (fixed: the pieces, hence the bits, never depend on the thread count)
_SPLIT_COLUMNS = 2048


def _dot_pool():
    """The process's pool of threads for :func:`split_dot` (created on first use)."""
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="shallowml-dot")
    return _pool


def split_dot(A, B, out):
    """``out[:] = A @ B`` in column pieces, several threads each making one-thread BLAS calls.

    Meant for large products run while BLAS is held at one thread
    (:func:`single_threaded_blas`): the columns of ``B`` and ``out`` are
    cut into pieces of a fixed width (2048), one BLAS call per piece (``B``
    is packed once in all, as in a single call), shared among as many
    threads as a parallel numba kernel started now would get
    (:func:`kernel_threads`: concurrent fits share the cores,
    ``numba.set_num_threads`` limits it). The calling thread takes part;
    the pool's idle threads sleep on a queue instead of spinning. The pieces
    do not depend on the number of threads, so neither does the result.

    Parameters
    ----------
    A : ndarray of shape (b, k), float64
    B : ndarray of shape (k, m), float64, C-contiguous
    out : ndarray of shape (b, m), float64, C-contiguous

    Returns
    -------
    out : ndarray of shape (b, m)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowml.utils.threads import split_dot
    >>> A, B = np.arange(6.0).reshape(3, 2), np.ones((2, 4))
    >>> split_dot(A, B, np.empty((3, 4)))[:, 0]
    array([1., 5., 9.])
    """
    m = B.shape[1]
    bounds = list(range(0, m, _SPLIT_COLUMNS)) + [m]
    pieces = list(zip(bounds[:-1], bounds[1:]))
    if len(pieces) <= 1:
        np.matmul(A, B, out=out)
        return out
    with kernel_threads() as n_threads:
        n_threads = min(n_threads, len(pieces))
        # thread t takes pieces t, t + n_threads, ... (the calling thread is t = 0)
        futures = [_dot_pool().submit(_dot_pieces, A, B, out, pieces[t::n_threads]) for t in range(1, n_threads)]
        _dot_pieces(A, B, out, pieces[::n_threads])
        for future in futures:
            future.result()
    return out


def _dot_pieces(A, B, out, pieces):
    for lo, hi in pieces:
        np.matmul(A, B[:, lo:hi], out=out[:, lo:hi])


@contextmanager
def numba_threads(n_threads):
    """Run the enclosed code with ``n_threads`` numba threads in this thread, then restore.

    Parallel kernels reduce in a fixed order, so results do not depend on the
    thread count; this context manager is how the tests check it.

    Examples
    --------
    >>> from shallowml.utils.threads import numba_threads
    >>> with numba_threads(1):
    ...     pass
    """
    start_thread_pool()
    old = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(old)


@contextmanager
def single_threaded_blas():
    """BLAS at one thread for the enclosed code, unless another thread already holds that limit.

    BLAS limits are process-wide, and restoring them from several threads in
    the wrong order leaves them set for good; so only one thread at a time
    holds the limit, with threadpoolctl's ordinary ``threadpool_limits``
    block (set and restored in that thread). A thread entering while another
    holds it runs without taking it (its BLAS calls are single-threaded
    until the holder leaves). ``threadpool_info()`` is as before once every
    caller has left.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> from shallowml.utils.threads import single_threaded_blas
    >>> before = [p["num_threads"] for p in threadpool_info()]
    >>> with single_threaded_blas():
    ...     pass
    >>> [p["num_threads"] for p in threadpool_info()] == before
    True
    """
    global _blas_holder
    with _lock:
        holder = _blas_holder is None
        if holder:
            _blas_holder = threading.get_ident()
    if not holder:
        yield
        return
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        with _lock:
            _blas_holder = None
