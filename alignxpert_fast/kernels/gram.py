"""Gram matrices (scikit-learn compatible signatures).

All functions accept float32 or float64 arrays (ints and bools are converted to
float64); the result is float32 only when every input is float32.  Inputs in Fortran
order or with strides are copied to C order.  NaN/inf raise ValueError.

Accuracy (vs the float64 NumPy reference, per output entry): float64 results agree to
about 1e-12 relative; float32 results to about 1e-5 relative (1e-5 absolute for
RBF/cosine values in [0, 1]), including inputs offset far from the origin, because
translation-invariant kernels are computed on data centered in float64.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import issparse as is_sparse  # the sparse path itself: _sparse.py

from .._utils.validation import check_no_alias, check_out, check_pair
from ._plan import run_gram
from ._sparse import sparse_gram
from ._spec import kernel_params

__all__ = ["rbf_kernel", "polynomial_kernel", "linear_kernel", "cosine_similarity"]


def _gram(kernel, X, Y, out, backend, n_threads, block_rows, block_cols, dense_output=True, **params):
    if not isinstance(dense_output, (bool, np.bool_)):
        raise TypeError(f"dense_output must be a bool, got {dense_output!r}")
    if is_sparse(X) or is_sparse(Y):
        return sparse_gram(kernel, X, Y, out, kernel_params(kernel, X.shape[1], sklearn_compat=True, **params),
                           bool(dense_output))
    X, Y, dtype, symmetric = check_pair(X, Y)
    params = kernel_params(kernel, X.shape[1], sklearn_compat=True, **params)
    out = check_out(out, (X.shape[0], Y.shape[0]), dtype)
    check_no_alias(out, "out", ("X", X), ("Y", Y))
    if kernel in ("rbf", "poly") and params["gamma"] == 0:  # a constant kernel, as in scikit-learn
        out.fill(1.0 if kernel == "rbf" else params["coef0"] ** params["degree"])
        return out
    if kernel == "poly" and not isinstance(params["degree"], int):
        # a non-integral degree: the compiled epilogues take integer powers only
        run_gram("linear", X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols)
        with np.errstate(invalid="ignore"):  # negative bases give NaN, as in scikit-learn
            np.power(out * out.dtype.type(params["gamma"]) + out.dtype.type(params["coef0"]), params["degree"],
                     out=out)
        return out
    return run_gram(kernel, X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols)


def rbf_kernel(X, Y=None, gamma=None, *, out=None, backend="auto", n_threads=None, block_rows=None,
               block_cols=None):
    """RBF (Gaussian) kernel ``K[i, j] = exp(-gamma * ||x_i - y_j||^2)``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features), float32 or float64, or a SciPy
        sparse matrix (then computed from sparse products, a row block at a time)
    Y : array-like of shape (n_samples_Y, n_features), default=None
        None means ``Y = X``; the diagonal is then exactly 1.
    gamma : float >= 0, default=None
        None means ``1 / n_features``; 0 gives a matrix of ones (as scikit-learn).
    out : ndarray of shape (n_samples_X, n_samples_Y), optional
        C-contiguous buffer of the result dtype to write into.
    backend : {"auto", "native", "numba", "reference"}, default="auto"
    n_threads : int, default=None
        None = OpenMP's current ``omp_get_max_threads()`` (threadpoolctl limits apply);
        negative counts back (-1 = all); 0 is invalid.
    block_rows, block_cols : int, optional
        Tile shape (defaults from ``_plan.gram_blocks``); results do not depend on it
        beyond rounding.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y), float32 if X and Y are float32
        else float64.

    Memory: the output, plus a centered copy of X and Y (O((n_X + n_Y) * n_features)) only when
    their common offset dominates their spread (see ``_plan.center_pair``).
    """
    return _gram("rbf", X, Y, out, backend, n_threads, block_rows, block_cols, gamma=gamma)


def polynomial_kernel(X, Y=None, degree=3, gamma=None, coef0=1, *, out=None, backend="auto", n_threads=None,
                      block_rows=None, block_cols=None):
    """Polynomial kernel ``K[i, j] = (gamma * <x_i, y_j> + coef0) ** degree``.

    ``degree`` a real > 0 (integral degrees use the compiled kernels; others the linear
    kernel and NumPy's power, NaN for negative bases as in scikit-learn), ``gamma`` >= 0
    (None: 1 / n_features), ``coef0`` any finite real.  Shapes, dtypes and the keyword arguments are as in
    :func:`rbf_kernel`.  Memory: the output only.
    """
    return _gram("poly", X, Y, out, backend, n_threads, block_rows, block_cols, gamma=gamma, degree=degree,
                 coef0=coef0)


def linear_kernel(X, Y=None, dense_output=True, *, out=None, backend="auto", n_threads=None, block_rows=None,
                  block_cols=None):
    """Linear kernel ``K = X @ Y.T`` of shape (n_samples_X, n_samples_Y).

    Shapes, dtypes and the keyword arguments are as in :func:`rbf_kernel`.
    ``dense_output=False`` with two SciPy sparse inputs returns a sparse matrix (as
    scikit-learn); otherwise the result is dense.  Memory: the output only.
    """
    return _gram("linear", X, Y, out, backend, n_threads, block_rows, block_cols, dense_output=dense_output)


def cosine_similarity(X, Y=None, dense_output=True, *, out=None, backend="auto", n_threads=None, block_rows=None,
                      block_cols=None):
    """Cosine similarity ``K[i, j] = <x_i, y_j> / (||x_i|| ||y_j||)``.

    Rows of zero norm give similarity 0 (scikit-learn's convention).  Shapes, dtypes and
    keyword arguments as in :func:`rbf_kernel`; ``dense_output`` as in
    :func:`linear_kernel`.  Memory: the output only.
    """
    return _gram("cosine", X, Y, out, backend, n_threads, block_rows, block_cols, dense_output=dense_output)
