"""Pairwise Euclidean distances (scikit-learn compatible signature)."""
from __future__ import annotations

import numpy as np
from scipy.sparse import issparse as is_sparse  # the sparse path itself: _sparse.py

from .._utils.validation import check_no_alias, check_out, check_pair
from ._plan import run_gram
from ._sparse import sparse_gram

__all__ = ["euclidean_distances"]


def euclidean_distances(X, Y=None, *, Y_norm_squared=None, squared=False, X_norm_squared=None, out=None,
                        backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Distance matrix ``D[i, j] = ||x_i - y_j||`` (or its square).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features), float32 or float64, or a SciPy
        sparse matrix
    Y : array-like of shape (n_samples_Y, n_features), default=None (``Y = X``, exact
        zeros on the diagonal)
    squared : bool, default=False
    X_norm_squared, Y_norm_squared : array-like of shape (n_samples_X,) / (n_samples_Y,)
        (or (n, 1), (1, n)), optional.  Accepted as in scikit-learn and checked for shape
        and finiteness; the squared norms are always computed here, in float64 on the
        (centered) data, so passing them changes nothing but the check.
    out, backend, n_threads, block_rows, block_cols : see :func:`alignxpert_fast.rbf_kernel`

    Returns
    -------
    D : ndarray of shape (n_samples_X, n_samples_Y); float32 if X and Y are float32.

    Uses ``||x||^2 + ||y||^2 - 2 <x, y>``, clamped at 0, on data centered on the common
    mean (computed in float64) when that offset dominates the spread.  Unlike
    scikit-learn, float32 inputs are not upcast: centering removes the offset
    cancellation the upcast guards against.  Memory: the output, plus a centered copy of
    X and Y only when centering applies.
    """
    if not isinstance(squared, (bool, np.bool_)):
        raise TypeError(f"squared must be a bool, got {squared!r}")
    kernel = "sqeuclidean" if squared else "euclidean"
    params = {"gamma": 1.0, "degree": 1, "coef0": 0.0}
    if is_sparse(X) or is_sparse(Y):
        _check_norms(X_norm_squared, "X_norm_squared", X.shape[0])
        _check_norms(Y_norm_squared, "Y_norm_squared", (X if Y is None else Y).shape[0])
        return sparse_gram(kernel, X, Y, out, params)
    X, Y, dtype, symmetric = check_pair(X, Y)
    _check_norms(X_norm_squared, "X_norm_squared", X.shape[0])
    _check_norms(Y_norm_squared, "Y_norm_squared", Y.shape[0])
    out = check_out(out, (X.shape[0], Y.shape[0]), dtype)
    check_no_alias(out, "out", ("X", X), ("Y", Y))
    return run_gram(kernel, X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols)


def _check_norms(norms, name, n):
    if norms is None:
        return
    arr = np.asarray(norms, dtype=np.float64)
    if arr.size != n or (arr.ndim == 2 and 1 not in arr.shape) or arr.ndim > 2:
        raise ValueError(f"{name} must have shape ({n},), ({n}, 1) or (1, {n}); got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must hold finite non-negative squared norms")
