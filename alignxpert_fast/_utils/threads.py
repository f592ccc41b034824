"""Thread-count resolution with scikit-learn's ``n_threads`` semantics.

``None`` -> the configured default, else OpenMP's current ``omp_get_max_threads()`` of
the calling thread (capped by the cores the process may use), so ``OMP_NUM_THREADS``,
``threadpoolctl.threadpool_limits`` and joblib / Dask workers that set thread limits are
obeyed by the native and the Numba kernels alike; a negative value counts back from that
maximum (-1 = all, -2 = all but one); ``0`` is an error.
"""
from __future__ import annotations

import contextlib
import os
import threading

from .._config import get_config
from .validation import check_n_threads


def _openmp_max_threads():
    """``omp_get_max_threads()`` of the calling thread (what threadpoolctl limits), or None
    when the native extension (and so OpenMP) is not available."""
    try:
        from .. import _native
    except ImportError:  # pragma: no cover - depends on the build
        return None
    return int(_native.omp_max_threads()) if _native.openmp_enabled() else None


def max_threads():
    """Threads a kernel may use by default: the cores available to this process, capped by
    OpenMP's current limit (``omp_get_max_threads()``: OMP_NUM_THREADS, threadpoolctl) or,
    without OpenMP, by OMP_NUM_THREADS."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    omp = _openmp_max_threads()
    if omp is not None:
        n = min(n, omp)
    else:
        env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        if env.isdigit() and int(env) > 0:
            n = min(n, int(env))
    return max(1, n)


def effective_n_threads(n_threads=None):
    """Resolve ``n_threads`` to a positive int (see module docstring)."""
    if n_threads is None:
        n_threads = get_config()["n_threads"]
        if n_threads is None:
            return max_threads()
    check_n_threads(n_threads)
    mx = max_threads()
    if n_threads < 0:
        return max(1, mx + 1 + n_threads)
    return int(n_threads)


_controller_cache = []


def _controller():
    """One threadpoolctl controller per process: scanning the loaded libraries costs
    about 5 ms, too much per kernel call.  The BLAS libraries it must limit (NumPy's and
    SciPy's, whose gemm the native and Numba tiles call) are loaded before the snapshot."""
    if not _controller_cache:
        # load SciPy's BLAS first: its gemm is what the native and Numba tiles call, and a
        # snapshot taken before it is loaded would never limit it
        import scipy.linalg.cython_blas  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller_cache.append(ThreadpoolController())
    return _controller_cache[0]


_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter = None


@contextlib.contextmanager
def single_threaded_blas():
    """Limit every loaded BLAS to one thread (our own threads call gemm per tile).

    Re-entrant and safe under concurrent calls from several Python threads: the first
    entry applies the limit (scanning the libraries loaded at that moment), the last
    exit restores the original limits.
    """
    global _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_depth == 0:
            _blas_limiter = _controller().limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


@contextlib.contextmanager
def blas_threads(n_threads):
    """Limit every loaded BLAS to ``n_threads`` (resolved as ``effective_n_threads``) for
    the NumPy products a caller runs itself (the objective's ``F @ W``).  Kernel calls
    inside still switch to one BLAS thread per tile (:func:`single_threaded_blas`) and
    restore this limit after."""
    with _controller().limit(limits=effective_n_threads(n_threads), user_api="blas"):
        yield
