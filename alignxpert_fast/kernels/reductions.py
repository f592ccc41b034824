"""Kernel reductions that never materialise K: ``K @ V``, row sums, a LinearOperator.

Inputs follow the Gram functions' rules (float32 or float64, C order, finite); each
output entry is accumulated in float64 over column tiles.
"""
from __future__ import annotations

import numpy as np

from .._utils.validation import check_matrix, check_n_threads, check_no_alias, check_out, check_pair, result_dtype
from ._dispatch import resolve_backend
from ._plan import run_matvec
from ._spec import check_kernel_name, kernel_params

__all__ = ["kernel_matvec", "kernel_row_sums", "kernel_operator"]


def _matvec(X, Y, V, kernel, out, backend, n_threads, block_rows, block_cols, kernel_params_):
    internal = check_kernel_name(kernel)
    dtype = result_dtype(X, Y, V) if V is not None else result_dtype(X, Y)
    Xc = check_matrix(X, "X", dtype=dtype)
    symmetric = Y is None or Y is X
    if symmetric:
        Yc = Xc
    else:
        Yc = check_matrix(Y, "Y", dtype=dtype)
        if Yc.shape[1] != Xc.shape[1]:
            raise ValueError(
                f"Incompatible dimension for X and Y matrices: X.shape[1] == {Xc.shape[1]} while "
                f"Y.shape[1] == {Yc.shape[1]}"
            )
    vec = False
    Vc = None
    if V is not None:
        try:
            Va = np.asarray(V) if not isinstance(V, np.ndarray) else V
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"V could not be converted to a numeric array: {exc}") from None
        if Va.ndim == 1:
            vec = True
            Va = Va.reshape(-1, 1)
        Vc = check_matrix(Va, "V", dtype=dtype)
        if Vc.shape[0] != Yc.shape[0]:
            raise ValueError(
                f"V must have one row per row of Y: Y has {Yc.shape[0]} rows, V has shape {np.shape(V)}"
            )
    p = 1 if Vc is None else Vc.shape[1]
    params = kernel_params(internal, Xc.shape[1], given=tuple(kernel_params_), **kernel_params_)
    shape = (Xc.shape[0],) if (vec or Vc is None) else (Xc.shape[0], p)
    out = check_out(out, shape, dtype)
    check_no_alias(out, "out", ("X", Xc), ("Y", Yc), ("V", Vc))
    run_matvec(internal, Xc, Yc, Vc, out.reshape(Xc.shape[0], p), symmetric, params, backend, n_threads,
               block_rows, block_cols)
    return out


def _check_kernel_kwargs(kernel_params_):
    allowed = {"gamma", "degree", "coef0"}
    unknown = sorted(set(kernel_params_) - allowed)
    if unknown:
        raise TypeError(f"unknown kernel parameter(s) {unknown}; allowed: {sorted(allowed)}")


def kernel_matvec(X, Y, V, kernel="rbf", *, out=None, backend="auto", n_threads=None, block_rows=None,
                  block_cols=None, **kernel_params_):
    """``K(X, Y) @ V`` without materialising K.

    Parameters
    ----------
    X : array-like of shape (n, d)
    Y : array-like of shape (m, d), or None for ``Y = X``
    V : array-like of shape (m,) or (m, p)
    kernel : {"rbf", "poly" (or "polynomial"), "linear", "cosine"}
    **kernel_params_ : gamma, degree, coef0 as in the Gram functions.
    out : ndarray of shape (n,) or (n, p), optional

    Returns
    -------
    ndarray of shape (n,) or (n, p): float32 if X, Y and V are float32, else float64.
    Each entry is accumulated in float64 over column tiles.

    Memory: O(threads * block_rows * block_cols) scratch within ``working_memory``
    (see :func:`alignxpert_fast.set_config`), plus a centered copy of X and Y for rbf;
    never an n x m array.
    """
    _check_kernel_kwargs(kernel_params_)
    if V is None:
        raise TypeError("V must be an array of shape (m,) or (m, p); use kernel_row_sums for K @ 1")
    return _matvec(X, Y, V, kernel, out, backend, n_threads, block_rows, block_cols, kernel_params_)


def kernel_row_sums(X, Y=None, kernel="rbf", *, out=None, backend="auto", n_threads=None, block_rows=None,
                    block_cols=None, **kernel_params_):
    """Row sums ``K(X, Y) @ 1`` of shape (n,) without materialising K.

    Same arguments, dtypes and memory bound as :func:`kernel_matvec`.
    """
    _check_kernel_kwargs(kernel_params_)
    return _matvec(X, Y, None, kernel, out, backend, n_threads, block_rows, block_cols, kernel_params_)


def kernel_operator(X, Y=None, kernel="rbf", *, backend="auto", n_threads=None, **kernel_params_):
    """A ``scipy.sparse.linalg.LinearOperator`` for K(X, Y) that never forms K.

    ``op @ v`` and ``op.matmat(V)`` call :func:`kernel_matvec`; ``op.T`` swaps X and Y.
    """
    from scipy.sparse.linalg import LinearOperator

    _check_kernel_kwargs(kernel_params_)
    internal = check_kernel_name(kernel)
    Xc, Yc, dtype, _ = check_pair(X, Y)
    # validate everything now rather than at the first product
    kernel_params(internal, Xc.shape[1], **kernel_params_)
    resolve_backend(backend)
    check_n_threads(n_threads)
    kw = dict(kernel=kernel, backend=backend, n_threads=n_threads, **kernel_params_)

    def mv(v):
        return kernel_matvec(Xc, None if Yc is Xc else Yc, np.asarray(v, dtype=dtype).ravel(), **kw)

    def mm(V):
        return kernel_matvec(Xc, None if Yc is Xc else Yc, np.asarray(V, dtype=dtype), **kw)

    def rmv(v):
        return kernel_matvec(Yc, Xc, np.asarray(v, dtype=dtype).ravel(), **kw)

    def rmm(V):
        return kernel_matvec(Yc, Xc, np.asarray(V, dtype=dtype), **kw)

    return LinearOperator((Xc.shape[0], Yc.shape[0]), matvec=mv, matmat=mm, rmatvec=rmv, rmatmat=rmm,
                          dtype=dtype)
