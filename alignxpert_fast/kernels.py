"""Gram matrices and kernel reductions (scikit-learn compatible signatures).

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

from ._common import check_kernel_name, kernel_params, run_gram, run_matvec
from ._dispatch import resolve_backend
from ._validation import check_matrix, check_n_threads, check_no_alias, check_out, check_pair, result_dtype

__all__ = [
    "rbf_kernel",
    "polynomial_kernel",
    "linear_kernel",
    "cosine_similarity",
    "kernel_matvec",
    "kernel_row_sums",
    "kernel_operator",
]


def _gram(kernel, X, Y, out, backend, n_threads, block_rows, block_cols, **params):
    X, Y, dtype, symmetric = check_pair(X, Y)
    params = kernel_params(kernel, X.shape[1], **params)
    out = check_out(out, (X.shape[0], Y.shape[0]), dtype)
    check_no_alias(out, "out", ("X", X), ("Y", Y))
    return run_gram(kernel, X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols)


def rbf_kernel(X, Y=None, gamma=None, *, out=None, backend="auto", n_threads=None, block_rows=None,
               block_cols=None):
    """RBF (Gaussian) kernel ``K[i, j] = exp(-gamma * ||x_i - y_j||^2)``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features), float32 or float64
    Y : array-like of shape (n_samples_Y, n_features), default=None
        None means ``Y = X``; the diagonal is then exactly 1.
    gamma : float > 0, default=None
        None means ``1 / n_features``.
    out : ndarray of shape (n_samples_X, n_samples_Y), optional
        C-contiguous buffer of the result dtype to write into.
    backend : {"auto", "native", "numba", "reference"}, default="auto"
    n_threads : int, default=None
        None = all available cores; negative counts back (-1 = all); 0 is invalid.
    block_rows, block_cols : int, optional
        Tile shape (defaults from ``_blocking.gram_blocks``); results do not depend on it
        beyond rounding.

    Returns
    -------
    K : ndarray of shape (n_samples_X, n_samples_Y), float32 if X and Y are float32
        else float64.

    Memory: the output, plus a centered copy of X and Y (O((n_X + n_Y) * n_features)) only when
    their common offset dominates their spread (see ``_common.center_pair``).
    """
    return _gram("rbf", X, Y, out, backend, n_threads, block_rows, block_cols, gamma=gamma)


def polynomial_kernel(X, Y=None, degree=3, gamma=None, coef0=1, *, out=None, backend="auto", n_threads=None,
                      block_rows=None, block_cols=None):
    """Polynomial kernel ``K[i, j] = (gamma * <x_i, y_j> + coef0) ** degree``.

    ``degree`` must be an integer >= 1, ``gamma`` > 0 (None: 1 / n_features), ``coef0``
    any finite real.  Shapes, dtypes and the keyword arguments are as in
    :func:`rbf_kernel`.  Memory: the output only.
    """
    return _gram("poly", X, Y, out, backend, n_threads, block_rows, block_cols, gamma=gamma, degree=degree,
                 coef0=coef0)


def linear_kernel(X, Y=None, *, out=None, backend="auto", n_threads=None, block_rows=None, block_cols=None):
    """Linear kernel ``K = X @ Y.T`` of shape (n_samples_X, n_samples_Y).

    Shapes, dtypes and the keyword arguments are as in :func:`rbf_kernel`.
    Memory: the output only.
    """
    return _gram("linear", X, Y, out, backend, n_threads, block_rows, block_cols)


def cosine_similarity(X, Y=None, *, out=None, backend="auto", n_threads=None, block_rows=None,
                      block_cols=None):
    """Cosine similarity ``K[i, j] = <x_i, y_j> / (||x_i|| ||y_j||)``.

    Rows of zero norm give similarity 0 (scikit-learn's convention).  Shapes, dtypes and
    keyword arguments as in :func:`rbf_kernel`.  Memory: the output only.
    """
    return _gram("cosine", X, Y, out, backend, n_threads, block_rows, block_cols)


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
