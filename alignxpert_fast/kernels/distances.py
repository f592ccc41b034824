"""Pairwise Euclidean distances (scikit-learn compatible signature)."""
from __future__ import annotations

from .._utils.validation import check_no_alias, check_out, check_pair
from ._plan import run_gram

__all__ = ["euclidean_distances"]


def euclidean_distances(X, Y=None, *, squared=False, out=None, backend="auto", n_threads=None, block_rows=None,
                        block_cols=None):
    """Distance matrix ``D[i, j] = ||x_i - y_j||`` (or its square).

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features), float32 or float64
    Y : array-like of shape (n_samples_Y, n_features), default=None (``Y = X``, exact
        zeros on the diagonal)
    squared : bool, default=False
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
    if not isinstance(squared, bool):
        raise TypeError(f"squared must be a bool, got {squared!r}")
    X, Y, dtype, symmetric = check_pair(X, Y)
    out = check_out(out, (X.shape[0], Y.shape[0]), dtype)
    check_no_alias(out, "out", ("X", X), ("Y", Y))
    kernel = "sqeuclidean" if squared else "euclidean"
    params = {"gamma": 1.0, "degree": 1, "coef0": 0.0}
    return run_gram(kernel, X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols)
