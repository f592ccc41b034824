"""``K(X, Y) @ V`` and the row sums of K for dask (or NumPy) X, Y and V, never forming K.

Small Y and V (NumPy, or dask arrays of one row chunk) are shared once with every task
and each X chunk is one task.  A Y of several row chunks is a blockwise contraction, as
``dask.array.matmul`` does: task (i, j) computes the partial product of X chunk i with
Y chunk j and V chunk j, and the partials of row chunk i are added by a tree sum over j
(``split_every``), in float64.
"""
from __future__ import annotations

import dask.array as da
import numpy as np

from ..kernels import reductions as _red
from ..kernels._spec import SPECS, check_kernel_name, kernel_params
from .._utils.validation import is_dask_array
from ._runtime import as_rows, block, common_dtype, ensure_warm, task_threads

__all__ = ["kernel_matvec", "kernel_row_sums"]


def _matvec_task(Xs, Ys, V, kernel, dtype_, params, acc, backend, n_threads, block_rows, block_cols):
    """Partial ``K(X_i, Y_j) @ V_j`` (or row sums when V is None) as an (n_i, 1, p) block."""
    X, Y = Xs[0], Ys[0]
    sym = Y is X
    X = block(X, dtype_)
    Y = None if sym else block(Y, dtype_)
    kw = dict(kernel=kernel, backend=backend, n_threads=task_threads(n_threads), block_rows=block_rows,
              block_cols=block_cols, **params)
    if V is None:
        out = _red.kernel_row_sums(X, Y, **kw)
    else:
        out = _red.kernel_matvec(X, Y, block(V, dtype_), **kw)
    return out.reshape(X.shape[0], 1, -1).astype(acc, copy=False)


def _row_sums_task(Xs, Ys, kernel, dtype_, params, acc, backend, n_threads, block_rows, block_cols):
    return _matvec_task(Xs, Ys, None, kernel, dtype_, params, acc, backend, n_threads, block_rows, block_cols)


def _as_v(V, dtype):
    if is_dask_array(V):
        if V.ndim not in (1, 2):
            raise ValueError(f"V must have shape (m,) or (m, p), got shape {V.shape}")
        return (V[:, None] if V.ndim == 1 else V), V.ndim == 1
    Va = np.asarray(V)
    if Va.ndim == 1:
        return Va.reshape(-1, 1), True
    return Va, False


def _reduce(X, Y, V, kernel, backend, n_threads, block_rows, block_cols, split_every, kernel_params_):
    internal = check_kernel_name(kernel)
    ensure_warm(backend)
    dtype = common_dtype(X, Y, V) if V is not None else common_dtype(X, Y)
    Xd = as_rows(X, "X", dtype)
    Yd = Xd if (Y is None or Y is X) else as_rows(Y, "Y", dtype)
    if Yd.shape[1] != Xd.shape[1]:
        raise ValueError(f"Incompatible dimension for X and Y matrices: X.shape[1] == {Xd.shape[1]} while "
                         f"Y.shape[1] == {Yd.shape[1]}")
    kernel_params(internal, Xd.shape[1], given=tuple(kernel_params_), **kernel_params_)  # checks, warns once
    params = {k: v for k, v in kernel_params_.items() if k in SPECS[internal].params}  # tasks do not warn again
    vec = True
    Vd = None
    if V is not None:
        V2, vec = _as_v(V, dtype)
        Vd = as_rows(V2, "V", dtype)
        if Vd.shape[0] != Yd.shape[0]:
            raise ValueError(f"V must have one row per row of Y: Y has {Yd.shape[0]} rows, V has shape "
                             f"{np.shape(V)}")
        if len(Yd.chunks[0]) == 1 and len(Vd.chunks[0]) > 1:
            Yd = Yd.rechunk({0: Vd.chunks[0]})  # a large V: contract over its chunks
        elif Vd.chunks[0] != Yd.chunks[0]:
            Vd = Vd.rechunk({0: Yd.chunks[0]})
    many = len(Yd.chunks[0]) > 1
    acc = np.float64 if many else dtype  # partials are added in float64
    kw = dict(kernel=internal, dtype_=dtype, params=params, acc=acc, backend=backend, n_threads=n_threads,
              block_rows=block_rows, block_cols=block_cols)
    if Vd is None:
        parts = da.blockwise(_row_sums_task, "ijp", Xd, "ik", Yd, "jk", new_axes={"p": 1}, adjust_chunks={"j": 1},
                             concatenate=False, dtype=acc, **kw)
    else:
        parts = da.blockwise(_matvec_task, "ijp", Xd, "ik", Yd, "jk", Vd, "jp", adjust_chunks={"j": 1},
                             concatenate=False, dtype=acc, **kw)
    out = parts.sum(axis=1, split_every=split_every, dtype=np.float64).astype(dtype) if many else parts[:, 0, :]
    return out[:, 0] if vec else out


def kernel_matvec(X, Y, V, kernel="rbf", *, backend="auto", n_threads=None, block_rows=None, block_cols=None,
                  split_every=None, **kernel_params_):
    """``K(X, Y) @ V`` of dask (or NumPy) arrays, as a lazy dask array.

    Parameters
    ----------
    X : dask or NumPy array (n, d); the output has X's row chunks.
    Y : dask or NumPy array (m, d), or None for Y = X.
    V : dask or NumPy array (m,) or (m, p).
    kernel, gamma, degree, coef0 : as :func:`alignxpert_fast.kernel_matvec`.
    n_threads : threads per task (None: :func:`alignxpert_fast.dask.task_threads`).
    split_every : fan-in of the tree sum over Y's chunks (dask's default when None).

    Returns
    -------
    dask array (n,) or (n, p), float32 if X, Y and V are float32 else float64.  With one
    Y chunk each entry is the in-memory result of its X chunk; with several, the partials
    are summed in float64 and rounded once.

    Memory per task: one X chunk, one Y chunk, one V chunk and the (n_i, p) partial.
    """
    if V is None:
        raise TypeError("V must be an array of shape (m,) or (m, p); use kernel_row_sums for K @ 1")
    _red._check_kernel_kwargs(kernel_params_)
    return _reduce(X, Y, V, kernel, backend, n_threads, block_rows, block_cols, split_every, kernel_params_)


def kernel_row_sums(X, Y=None, kernel="rbf", *, backend="auto", n_threads=None, block_rows=None,
                    block_cols=None, split_every=None, **kernel_params_):
    """Row sums ``K(X, Y) @ 1`` of dask (or NumPy) arrays: a lazy dask array (n,); see
    :func:`kernel_matvec`."""
    _red._check_kernel_kwargs(kernel_params_)
    return _reduce(X, Y, None, kernel, backend, n_threads, block_rows, block_cols, split_every, kernel_params_)
