"""``show_config()``: what loaded, and the thread and memory defaults."""
from __future__ import annotations

import platform
import sys

from ._config import get_config
from ._utils.threads import effective_n_threads, max_threads
from ._version import __version__
from .kernels._dispatch import backend_status, resolve_backend

__all__ = ["show_config"]


def show_config(file=None):
    """Print which backends loaded (and why one did not), OpenMP status and thread defaults."""
    p = lambda *a: print(*a, file=file or sys.stdout)  # noqa: E731
    p(f"alignxpert_fast {__version__} on Python {platform.python_version()} ({platform.machine()})")
    status = backend_status()
    for name, (ok, err) in status.items():
        p(f"  backend {name:<10} {'available' if ok else 'NOT available: ' + str(err)}")
    if status["native"][0]:
        from . import _native

        p(f"  native: OpenMP {'enabled' if _native.openmp_enabled() else 'DISABLED (serial build)'}, "
          f"omp_get_max_threads()={_native.omp_max_threads()}, compiler {getattr(_native, 'compiler', '?')}")
    if status["numba"][0]:
        import numba

        p(f"  numba {numba.__version__}: threading layer config={numba.config.THREADING_LAYER}, "
          f"NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}")
    cfg = get_config()
    p(f"  backend='auto' resolves to: {resolve_backend('auto').NAME}")
    p(f"  threads: n_threads=None -> {effective_n_threads(None)} (cores available: {max_threads()})")
    p(f"  working_memory: {cfg['working_memory']} MiB")
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            p(f"  threadpool {info['internal_api']}: {info['filepath'].rsplit('/', 1)[-1]} "
              f"num_threads={info['num_threads']}")
    except Exception as exc:  # pragma: no cover
        p(f"  threadpoolctl unavailable: {exc}")
