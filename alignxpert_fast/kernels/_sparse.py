"""Gram matrices and distances of SciPy sparse inputs (text features are sparse).

The inner products come from SciPy's sparse products, a row block of X at a time (so no
dense copy of X or Y is ever formed), the kernel epilogue from NumPy in float64; the
output is dense (as in scikit-learn) except for ``linear_kernel`` / ``cosine_similarity``
with ``dense_output=False`` and two sparse inputs, which return a sparse matrix.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._utils.validation import check_finite, check_out, result_dtype

__all__ = ["is_sparse", "sparse_gram"]

_ROWS = 1024  # rows of X per sparse product


def is_sparse(A):
    return sp.issparse(A)


def _check(A, name, dtype):
    if is_sparse(A):
        if A.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
        if A.dtype.kind not in "biuf":
            raise TypeError(f"{name} must have a real numeric dtype, got {A.dtype}")
        A = sp.csr_matrix(A, dtype=dtype)
        if A.nnz:
            check_finite(A.data.reshape(1, -1), name)
    else:
        from .._utils.validation import check_matrix

        A = check_matrix(A, name, dtype=dtype)
    if A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"{name} must have at least 1 sample and 1 feature; got shape {A.shape}")
    return A


def _sqnorms(A):
    if is_sparse(A):
        return np.asarray(A.multiply(A).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", A, A, dtype=np.float64)


def _dense(M):
    return M.toarray() if is_sparse(M) else np.asarray(M)


def sparse_gram(kernel, X, Y, out, params, dense_output=True):
    """K(X, Y) for a sparse X and/or Y; ``kernel`` is an internal kernel name."""
    dtype = result_dtype(X, Y)
    symmetric = Y is None or Y is X
    Xc = _check(X, "X", dtype)
    Yc = Xc if symmetric else _check(Y, "Y", dtype)
    if Xc.shape[1] != Yc.shape[1]:
        raise ValueError(f"Incompatible dimension for X and Y matrices: X.shape[1] == {Xc.shape[1]} while "
                         f"Y.shape[1] == {Yc.shape[1]}")
    n, m = Xc.shape[0], Yc.shape[0]
    if kernel == "linear" and not dense_output and is_sparse(Xc) and is_sparse(Yc) and out is None:
        return (Xc @ Yc.T).tocsr()
    if kernel == "cosine" and not dense_output and is_sparse(Xc) and is_sparse(Yc) and out is None:
        ix = 1.0 / np.where((nx := np.sqrt(_sqnorms(Xc))) > 0, nx, 1.0)
        iy = 1.0 / np.where((ny := np.sqrt(_sqnorms(Yc))) > 0, ny, 1.0)
        return (sp.diags(ix.astype(dtype)) @ Xc @ Yc.T @ sp.diags(iy.astype(dtype))).tocsr()
    out = check_out(out, (n, m), dtype)
    xn, yn = _sqnorms(Xc), _sqnorms(Yc)
    YT = Yc.T.tocsc() if is_sparse(Yc) else Yc.T
    g, c0, deg = params["gamma"], params["coef0"], params["degree"]
    for r0 in range(0, n, _ROWS):
        r1 = min(n, r0 + _ROWS)
        dots = _dense(Xc[r0:r1] @ YT).astype(np.float64, copy=False)
        if kernel in ("rbf", "sqeuclidean", "euclidean"):
            d2 = np.maximum(xn[r0:r1, None] + yn[None, :] - 2.0 * dots, 0.0)
            if symmetric:
                i = np.arange(r1 - r0)
                d2[i, r0 + i] = 0.0
            T = np.exp(-g * d2) if kernel == "rbf" else (np.sqrt(d2) if kernel == "euclidean" else d2)
        elif kernel == "poly":
            T = (g * dots + c0) ** deg
        elif kernel == "cosine":
            nx, ny = np.sqrt(xn[r0:r1]), np.sqrt(yn)
            T = dots / np.where(nx > 0, nx, 1.0)[:, None] / np.where(ny > 0, ny, 1.0)[None, :]
        else:
            T = dots
        out[r0:r1] = T
    return out
