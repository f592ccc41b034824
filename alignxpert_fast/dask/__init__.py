"""alignxpert_fast on Dask arrays and Dask clusters (optional: ``pip install
alignxpert_fast[dask]``, which brings ``dask[array,distributed]`` and ``zarr``).

Every function takes ``dask.array`` inputs chunked by rows (NumPy arrays are accepted
and shared once with every task) and runs one fused in-memory kernel call per chunk or
per pair of chunks; nothing forms an n x n array in one process, and nothing loops over
rows in Python.  Results are lazy dask arrays: compute them on the scheduler in use (the
threaded scheduler, or a ``dask.distributed.Client``).

- :func:`rbf_kernel`, :func:`polynomial_kernel`, :func:`linear_kernel`,
  :func:`cosine_similarity`, :func:`euclidean_distances`: blocks of K / D;
- :func:`kernel_matvec`, :func:`kernel_row_sums`: ``K @ V`` and ``K @ 1``;
- :func:`stress`, :func:`stress_and_grad`: upper-triangle chunk pairs, tree-reduced;
- ``AlignXpert.fit`` / ``transform`` and the retrieval metrics accept dask arrays
  directly (see :mod:`alignxpert_fast.dask._views` and the README, "Beyond one machine").

Threads: every task passes an explicit ``n_threads`` to its kernel
(:func:`task_threads`).  :func:`warm_up` compiles the Numba kernels once per worker.
This package imports dask; the rest of alignxpert_fast never does unless given dask
arrays.
"""
from ._gram import cosine_similarity, euclidean_distances, linear_kernel, polynomial_kernel, rbf_kernel
from ._reductions import kernel_matvec, kernel_row_sums
from ._runtime import task_threads, warm_up
from ._stress import stress, stress_and_grad

__all__ = [
    "cosine_similarity",
    "euclidean_distances",
    "kernel_matvec",
    "kernel_row_sums",
    "linear_kernel",
    "polynomial_kernel",
    "rbf_kernel",
    "stress",
    "stress_and_grad",
    "task_threads",
    "warm_up",
]
