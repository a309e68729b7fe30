"""Thread count and waiting of the parallel kernels (the policy is documented in
:mod:`shallowml.utils.threads`).

Standard library and numba only, like every module of :mod:`shallowml._kernels`.
"""

import os
import threading
from contextlib import contextmanager

import numba

_lock = threading.Lock()
_running = 0
_pool_started = False


def start_thread_pool():
    """Start numba's thread pool (once), with passive OpenMP waiting unless the user chose.

    Returns numba's threading layer name. See :mod:`shallowml.utils.threads`.
    """
    global _pool_started
    if not _pool_started:
        with _lock:
            if not _pool_started:
                from numba.np.ufunc import parallel

                if "OMP_WAIT_POLICY" in os.environ or parallel._is_initialized:
                    parallel._launch_threads()
                else:
                    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
                    try:
                        parallel._launch_threads()
                    finally:
                        del os.environ["OMP_WAIT_POLICY"]
                _pool_started = True
    return numba.threading_layer()


# The variables as this process started (read at import, as an OpenMP runtime reads
# them once): distributed's LocalCluster writes OMP_NUM_THREADS=1 into its *parent's*
# environment before spawning workers, which must not cap the parent's kernels.
_START_ENV = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS") if k in os.environ}


def openmp_cap(environ=None):
    """``OMP_NUM_THREADS`` as a cap on the kernels' threads, when ``NUMBA_NUM_THREADS`` is not set.

    Dask's worker processes start with ``OMP_NUM_THREADS=1`` (not numba's
    variable), and users of scikit-learn limit its OpenMP code with it; the
    kernels follow it unless numba's own variable says otherwise. ``environ``
    defaults to the variables as they were when shallowml was imported; a
    later change (``os.environ``) is ignored, as OpenMP ignores it. None when
    there is no cap.
    """
    env = _START_ENV if environ is None else environ
    if "NUMBA_NUM_THREADS" in env:
        return None
    value = env.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def share(n_threads, n_running):
    """Threads one of ``n_running`` concurrent kernels gets out of ``n_threads``."""
    return max(1, n_threads // max(1, n_running))


@contextmanager
def kernel_threads():
    """Context of one parallel kernel call; yields the number of threads it may use.

    Counts the shallowml parallel kernels running in this process; a call
    made while ``m - 1`` others run gets ``get_num_threads() // m`` threads
    (at least one; exactly one under numba's workqueue layer when others
    run), at most :func:`openmp_cap`. The calling thread's numba setting is
    restored afterwards.

    Examples
    --------
    >>> from shallowml.utils.threads import kernel_threads
    >>> with kernel_threads() as n_threads:
    ...     n_threads >= 1
    True
    """
    global _running
    layer = start_thread_pool()
    with _lock:
        _running += 1
        running = _running
    old = numba.get_num_threads()
    n_threads = 1 if (layer == "workqueue" and running > 1) else share(old, running)
    cap = openmp_cap()
    if cap is not None:
        n_threads = min(n_threads, cap)
    try:
        numba.set_num_threads(n_threads)
        yield n_threads
    finally:
        numba.set_num_threads(old)
        with _lock:
            _running -= 1
