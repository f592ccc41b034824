"""alignxpert_fast: compiled kernels for multimodal embedding alignment.

Blockwise Gram matrices (RBF, polynomial, linear, cosine), Euclidean distances, kernel
reductions that never materialise K, and the normalized MDS stress with its analytic
gradient, each in three backends: C++17/OpenMP ("native"), Numba ("numba") and a NumPy
reference ("reference").  Signatures follow scikit-learn where it has the function.
"""
from ._config import config_context, get_config, set_config
from .distances import euclidean_distances
from .kernels import (
    cosine_similarity,
    kernel_matvec,
    kernel_operator,
    kernel_row_sums,
    linear_kernel,
    polynomial_kernel,
    rbf_kernel,
)
from .stress import StressCache, stress, stress_and_grad

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "config_context",
    "cosine_similarity",
    "euclidean_distances",
    "get_config",
    "kernel_matvec",
    "kernel_operator",
    "kernel_row_sums",
    "linear_kernel",
    "polynomial_kernel",
    "rbf_kernel",
    "set_config",
    "show_config",
    "stress",
    "stress_and_grad",
    "StressCache",
]


def show_config(file=None):
    """Print which backends loaded (and why one did not), OpenMP status and thread defaults."""
    import platform
    import sys

    from ._dispatch import backend_status, resolve_backend
    from ._threads import effective_n_threads, max_threads

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


# The AlignXpert estimator, its objective, metrics and built-in data (issue 3)
from . import datasets, metrics  # noqa: E402
from .estimator import AlignXpert, NotFittedError  # noqa: E402
from .objective import alignxpert_loss, alignxpert_loss_and_grad  # noqa: E402

__all__ += ["AlignXpert", "NotFittedError", "alignxpert_loss", "alignxpert_loss_and_grad", "datasets", "metrics"]
