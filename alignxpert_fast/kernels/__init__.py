"""The kernel library: blockwise Gram matrices, distances, kernel reductions and the
normalized MDS stress with its gradient, each in three backends.

::

    gram.py, distances.py, reductions.py, stress.py   public functions: validate, document
        |                                             (_utils.validation, _spec)
        v
    _plan.py       centering, threads, tile sizes
        v
    _dispatch.py   backend name -> module
        v
    _backends/     native.py (-> alignxpert_fast._native, csrc/axf), numba_cpu.py,
                   reference.py (the NumPy specification)

``_spec.py`` is the one kernel registry (names, aliases, codes, parameters).
"""
from .distances import euclidean_distances
from .gram import cosine_similarity, linear_kernel, polynomial_kernel, rbf_kernel
from .reductions import kernel_matvec, kernel_operator, kernel_row_sums
from .stress import StressCache, stress, stress_and_grad

__all__ = [
    "cosine_similarity",
    "euclidean_distances",
    "kernel_matvec",
    "kernel_operator",
    "kernel_row_sums",
    "linear_kernel",
    "polynomial_kernel",
    "rbf_kernel",
    "stress",
    "stress_and_grad",
    "StressCache",
]
