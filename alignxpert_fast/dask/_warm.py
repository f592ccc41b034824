"""Numba warm-up: tiny calls that compile the kernels Dask tasks use (Gram tiles, K @ V,
the in-memory stress), in this process."""
from __future__ import annotations

import os

import numpy as np

__all__ = ["warm_numba"]


def warm_numba(dask_worker=None):
    """Compile the Numba kernels once in this process (tiny calls, both dtypes)."""
    from ..kernels._dispatch import backend_status
    from ..kernels.distances import euclidean_distances
    from ..kernels.reductions import kernel_matvec
    from ..kernels.stress import stress_and_grad

    if not backend_status()["numba"][0]:
        return False
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        X = rng.standard_normal((8, 3)).astype(dt)
        kernel_matvec(X, X, X[:, :2].copy(), backend="numba", n_threads=1)
        euclidean_distances(X, X[:5].copy(), squared=True, backend="numba", n_threads=1)  # gram tiles
        stress_and_grad(X, X[:, :2].copy(), backend="numba", n_threads=1)
    return os.getpid()
