"""Normalized MDS stress between original and projected embeddings, and its gradient."""
from __future__ import annotations

import numpy as np

from . import _blocking
from ._common import resolve_run
from ._config import get_config
from ._validation import check_matrix, check_no_alias, check_out, result_dtype

__all__ = ["stress", "stress_and_grad"]


def _prepare(X, Z):
    dtype = result_dtype(X, Z)
    Xc = check_matrix(X, "X", dtype=dtype, min_rows=2)
    Zc = check_matrix(Z, "Z", dtype=dtype, min_rows=2)
    if Xc.shape[0] != Zc.shape[0]:
        raise ValueError(
            f"X and Z must have the same number of rows (row i of Z is the projection of row i of X); "
            f"got X.shape={Xc.shape}, Z.shape={Zc.shape}"
        )
    # both distances are translation invariant: center each in float64
    Xc = Xc - Xc.mean(axis=0, dtype=np.float64).astype(dtype)
    Zc = Zc - Zc.mean(axis=0, dtype=np.float64).astype(dtype)
    return Xc, Zc, dtype


def _run(X, Z, grad, backend, n_threads, block_rows, block_cols):
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    n = X.shape[0]
    nt = _blocking.cap_threads(nt, n * n * (X.shape[1] + 2 * Z.shape[1]))
    br, bc = _blocking.reduction_blocks(
        n, n, Z.shape[1], X.dtype.itemsize, nt, get_config()["working_memory"], br, bc, n_tiles=2
    )
    nt = min(nt, -(-n // br))  # no more threads than row blocks
    value, _num, _den = mod.stress(X, Z, grad, n_threads=nt, block_rows=br, block_cols=bc)
    return float(value)


def stress(X, Z, *, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Normalized stress between X (original) and Z (projected).

    ``stress = sqrt( sum_{i<j} (D_ij - E_ij)^2 / sum_{i<j} D_ij^2 )`` with
    ``D_ij = ||x_i - x_j||`` and ``E_ij = ||z_i - z_j||``.

    Parameters
    ----------
    X : array-like of shape (n, d), n >= 2, not all rows identical
    Z : array-like of shape (n, k); k may be larger than d
    backend, n_threads, block_rows, block_cols : as in :func:`alignxpert_fast.rbf_kernel`

    Returns
    -------
    float
        Sums are accumulated in float64 (per row block, added in a fixed order).

    Memory: O(n * (d + k)) (centered copies of X and Z) plus
    O(threads * block_rows * block_cols) scratch; never an n x n array.
    """
    Xc, Zc, _ = _prepare(X, Z)
    return _run(Xc, Zc, None, backend, n_threads, block_rows, block_cols)


def stress_and_grad(X, Z, *, out=None, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Normalized stress and its analytic gradient with respect to Z.

    ``d stress / d z_i = 1 / (stress * B) * sum_j w_ij (z_i - z_j)`` with
    ``w_ij = 1 - D_ij / E_ij`` and ``B = sum_{i<j} D_ij^2``.  Pairs with ``E_ij = 0``
    (coincident projected points) contribute no gradient; where the stress is exactly 0
    the gradient is 0.

    Parameters
    ----------
    X, Z, backend, n_threads, block_rows, block_cols : as in :func:`stress`
    out : ndarray of Z's shape and the result dtype, optional
        Buffer for the gradient.

    Returns
    -------
    value : float
    grad : ndarray of shape (n, k), float32 if X and Z are float32 else float64

    Memory: as :func:`stress`, plus the gradient and an (n, k) float64 accumulator.
    """
    Xc, Zc, dtype = _prepare(X, Z)
    grad = check_out(out, Zc.shape, dtype)
    check_no_alias(grad, "out", ("X", X), ("Z", Z))
    value = _run(Xc, Zc, grad, backend, n_threads, block_rows, block_cols)
    return value, grad
