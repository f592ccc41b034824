"""Thread-count resolution with scikit-learn's ``n_threads`` semantics.

``None`` -> the configured default, else OpenMP's current ``omp_get_max_threads()`` of
the calling thread (capped by the cores the process may use), so ``OMP_NUM_THREADS``,
``threadpoolctl.threadpool_limits`` and joblib / Dask workers that set thread limits are
obeyed by the native and the Numba kernels alike; a negative value counts back from that
maximum (-1 = all, -2 = all but one); ``0`` is an error.  A positive request is capped by
the hardware (the cores this process may run on) and by :data:`MAX_THREADS`: more threads
than cores never run faster, and a huge count would make OpenMP try to start that many.

Fork safety: GNU OpenMP's thread pool (and Numba's) does not survive ``fork``; a child
that entered a parallel region would hang or be killed.  A fork handler marks the child
(:func:`in_forked_child`) and every count resolved there is 1, so kernels run serially
and correctly in ``multiprocessing`` fork workers.  The native extension applies the
same rule to direct calls (``pthread_atfork`` in ``csrc/bindings.cpp``).
"""
from __future__ import annotations

import contextlib
import os
import threading

from .._config import get_config
from .validation import check_n_threads

# a hard ceiling whatever the hardware reports (libgomp allocates per-thread state up front)
MAX_THREADS = 1024

_forked = [False]


def _mark_forked():
    _forked[0] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


def in_forked_child():
    """True in a process created by ``fork`` after this module was imported."""
    return _forked[0]


def _openmp_max_threads():
    """``omp_get_max_threads()`` of the calling thread (what threadpoolctl limits), or None
    when the native extension (and so OpenMP) is not available."""
    try:
        from .. import _native
    except ImportError:  # pragma: no cover - depends on the build
        return None
    return int(_native.omp_max_threads()) if _native.openmp_enabled() else None


def hardware_threads():
    """Cores this process may run on (its CPU affinity), at most :data:`MAX_THREADS`."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


def max_threads():
    """Threads a kernel may use by default: the cores available to this process, capped by
    OpenMP's current limit (``omp_get_max_threads()``: OMP_NUM_THREADS, threadpoolctl) or,
    without OpenMP, by OMP_NUM_THREADS."""
    n = hardware_threads()
    omp = _openmp_max_threads()
    if omp is not None:
        n = min(n, omp)
    else:
        env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        if env.isdigit() and int(env) > 0:
            n = min(n, int(env))
    return max(1, n)


def effective_n_threads(n_threads=None):
    """Resolve ``n_threads`` to a positive int (see module docstring): at most the
    hardware's cores, and 1 in a forked child."""
    if n_threads is None:
        n_threads = get_config()["n_threads"]
    check_n_threads(n_threads)
    if _forked[0]:
        return 1
    if n_threads is None:
        return max_threads()
    if n_threads < 0:
        return max(1, max_threads() + 1 + n_threads)
    return int(min(n_threads, hardware_threads()))


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


def _free_blas_control():
    """threadpoolctl (>= 3.6) lets one "controlling" Python thread change OpenBLAS's
    process-wide thread count and silently ignores the others, and a limiter used
    without ``with`` never gives that control back: a limit set in a worker thread then
    did not reach OpenBLAS.  Our changes are serialized by ``_blas_lock``, so control is
    taken before each change and released after it."""
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:  # pragma: no cover - older threadpoolctl: no controlling thread
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _restore(limiter):
    _free_blas_control()
    try:
        limiter.restore_original_limits()
    finally:
        _free_blas_control()


@contextlib.contextmanager
def single_threaded_blas():
    """Limit every loaded BLAS to one thread (our own threads call gemm per tile).

    Re-entrant and safe under concurrent calls from several Python threads: the first
    entry applies the limit (scanning the libraries loaded at that moment), the last
    exit restores the original limits, whichever thread it runs in.
    """
    global _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_depth == 0:
            _free_blas_control()
            _blas_limiter = _controller().limit(limits=1, user_api="blas")
            _free_blas_control()
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _restore(_blas_limiter)
                _blas_limiter = None
