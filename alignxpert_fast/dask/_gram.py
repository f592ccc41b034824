"""Gram matrices and distances of dask arrays: a lazy dask array of kernel blocks, one
fused in-memory kernel call per pair of row chunks (X chunk i, Y chunk j)."""
from __future__ import annotations

import dask.array as da
import numpy as np

from ..kernels import distances as _distances
from ..kernels import gram as _gram_mod
from ..kernels._spec import kernel_params
from ._runtime import as_rows, block, common_dtype, ensure_warm, task_threads

__all__ = ["rbf_kernel", "polynomial_kernel", "linear_kernel", "cosine_similarity", "euclidean_distances"]

_FUNCS = {
    "rbf": _gram_mod.rbf_kernel,
    "poly": _gram_mod.polynomial_kernel,
    "linear": _gram_mod.linear_kernel,
    "cosine": _gram_mod.cosine_similarity,
    "euclidean": _distances.euclidean_distances,
}


def _gram_task(Xs, Ys, name_, dtype_, params, backend, n_threads, block_rows, block_cols):
    """One output block K(X_i, Y_j) (``name_`` / ``dtype_``: blockwise reserves ``name``
    and ``dtype``).  ``Xs`` / ``Ys`` are the (one-element) lists of
    column chunks; the same chunk object on both sides is a diagonal block of Y=None,
    computed with the symmetric path (exact diagonal)."""
    X, Y = Xs[0], Ys[0]
    sym = Y is X
    X = block(X, dtype_)
    Y = X if sym else block(Y, dtype_)
    return _FUNCS[name_](X, None if sym else Y, backend=backend, n_threads=task_threads(n_threads),
                        block_rows=block_rows, block_cols=block_cols, **params)


def _dask_gram(name, X, Y, params, backend, n_threads, block_rows, block_cols):
    ensure_warm(backend)
    dtype = common_dtype(X, Y)
    Xd = as_rows(X, "X", dtype)
    Yd = Xd if (Y is None or Y is X) else as_rows(Y, "Y", dtype)
    if Yd.shape[1] != Xd.shape[1]:
        raise ValueError(f"Incompatible dimension for X and Y matrices: X.shape[1] == {Xd.shape[1]} while "
                         f"Y.shape[1] == {Yd.shape[1]}")
    return da.blockwise(_gram_task, "ij", Xd, "ik", Yd, "jk", concatenate=False, dtype=dtype,
                        name_=name, dtype_=dtype, params=params, backend=backend,
                        n_threads=n_threads, block_rows=block_rows, block_cols=block_cols)


def _check_params(kernel, X, **params):
    width = X.shape[1] if np.ndim(X) == 2 else 1
    kernel_params(kernel, width, **params)  # same checks and messages as in memory, now
    return params


def rbf_kernel(X, Y=None, gamma=None, *, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """RBF kernel of dask arrays: :func:`alignxpert_fast.rbf_kernel` block by block.

    X, Y : dask arrays (n, d), (m, d) chunked by rows (column chunks are merged), or NumPy
        arrays (shared once with every task).  ``Y=None``: Y = X.
    n_threads : threads per task (None: see :func:`alignxpert_fast.dask.task_threads`).
    Returns a lazy dask array (n, m) with chunks (X.chunks[0], Y.chunks[0]); nothing is
    computed until ``.compute()`` (or ``.to_zarr``, ``.sum()``...).  gamma=None means
    1 / n_features, as in memory.
    """
    return _dask_gram("rbf", X, Y, _check_params("rbf", X, gamma=gamma), backend, n_threads, block_rows,
                      block_cols)


def polynomial_kernel(X, Y=None, degree=3, gamma=None, coef0=1, *, backend="auto", n_threads=None,
                      block_rows=None, block_cols=None):
    """Polynomial kernel of dask arrays (see :func:`rbf_kernel` and
    :func:`alignxpert_fast.polynomial_kernel`)."""
    params = _check_params("poly", X, gamma=gamma, degree=degree, coef0=coef0)
    return _dask_gram("poly", X, Y, params, backend, n_threads, block_rows, block_cols)


def linear_kernel(X, Y=None, *, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Linear kernel ``X @ Y.T`` of dask arrays (see :func:`rbf_kernel`)."""
    return _dask_gram("linear", X, Y, {}, backend, n_threads, block_rows, block_cols)


def cosine_similarity(X, Y=None, *, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Cosine similarity of dask arrays (see :func:`rbf_kernel`)."""
    return _dask_gram("cosine", X, Y, {}, backend, n_threads, block_rows, block_cols)


def euclidean_distances(X, Y=None, *, squared=False, backend="auto", n_threads=None, block_rows=None,
                        block_cols=None):
    """Euclidean distances of dask arrays (see :func:`rbf_kernel` and
    :func:`alignxpert_fast.euclidean_distances`); ``Y=None`` gives exact zeros on the
    diagonal."""
    if not isinstance(squared, bool):
        raise TypeError(f"squared must be a bool, got {squared!r}")
    return _dask_gram("euclidean", X, Y, {"squared": squared}, backend, n_threads, block_rows, block_cols)
