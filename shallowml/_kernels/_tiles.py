"""Run a blocked computation tile by tile on Python threads (BLAS product + serial kernel per tile).

Searches over all pairs of rows (impostors, same-class neighbours) are
blocked into tiles: each tile is one BLAS product ``Z[rows] @ Z[cols].T``
followed by a serial numba kernel that filters it. BLAS must not be called
inside ``prange``, so the tiles are spread over Python threads instead: both
numpy's BLAS and the kernels (``nogil=True``) release the GIL, so the
threads run in parallel. A tile's result depends only on the tile, and
results are returned in tile order, so the outcome never depends on the
number of threads or on which thread computed which tile.

The number of threads follows the kernels' policy
(:func:`._threads.kernel_threads`: numba's thread count of the calling
thread, shared with concurrent shallowml kernels). The calling thread
watches the workers and reports progress; it never computes, so a progress
callback costs the kernels nothing.

Standard library and numba only, like every module of :mod:`shallowml._kernels`.
"""

import threading
import time

from ._threads import kernel_threads

__all__ = ["run_tiles"]


def run_tiles(n_tiles, work, *, stop=None, progress=None, interval=2.0):
    """``[work(t) for t in range(n_tiles)]`` on the kernel threads.

    Parameters
    ----------
    n_tiles : int
    work : callable
        ``work(t) -> result``; must be thread-safe (write only its own outputs).
    stop : callable, default=None
        ``stop(results_so_far_count) -> bool``, checked by the workers after
        each tile; once true no further tile starts and the missing results
        stay None.
    progress : callable, default=None
        ``progress(tiles_done, n_tiles)``, called by the calling thread at
        most every ``interval`` seconds while tiles run.
    interval : float, default=2.0
        Seconds between progress calls.

    Returns
    -------
    results : list of length n_tiles
    stopped : bool
        True when ``stop`` ended the run early.
    """
    results = [None] * n_tiles
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "stopped": False, "error": None}

    def claim():
        with lock:
            if state["stopped"] or state["error"] is not None or state["next"] >= n_tiles:
                return -1
            t = state["next"]
            state["next"] += 1
            return t

    def worker():
        try:
            while True:
                t = claim()
                if t < 0:
                    return
                results[t] = work(t)
                with lock:
                    state["done"] += 1
                    if stop is not None and stop(state["done"]):
                        state["stopped"] = True
        except BaseException as exc:  # re-raised in the calling thread
            with lock:
                state["error"] = exc

    with kernel_threads() as n_threads:
        n_workers = max(1, min(n_threads, n_tiles))
        if n_workers == 1 and progress is None:
            worker()
        else:
            threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_workers)]
            for th in threads:
                th.start()
            try:
                last = time.perf_counter()
                for th in threads:
                    while th.is_alive():
                        th.join(timeout=min(interval, 0.5) if interval > 0 else 0.01)
                        now = time.perf_counter()
                        if progress is not None and now - last >= interval and th.is_alive():
                            last = now
                            progress(state["done"], n_tiles)
            except BaseException:
                with lock:
                    state["stopped"] = True
                for th in threads:
                    th.join()
                raise
    if state["error"] is not None:
        raise state["error"]
    return results, state["stopped"]
