"""Rows computed on demand, so the minibatch solver never forms scaled / mapped copies."""
from __future__ import annotations

import numpy as np

from .._utils.validation import check_finite, check_matrix

__all__ = ["RowMap", "FactoredRows", "check_rows_input", "full_rows", "rows_dot", "rows_tdot"]


class FactoredRows:
    """Mapped rows kept in factors, ``F = [A | K N - 1 mu^T]`` (A the linear block, may be
    None; K = K(X_rows, landmarks) of shape (b, r); N the (r, q) Nyström normalization;
    mu its (q,) mean), never multiplied out.

    ``dot(W) = F W`` and ``tdot(G) = F^T G`` cost ``b r k + r q k`` multiply-adds for the
    Nyström block instead of ``b r q`` to form it plus ``b q k`` per product: with
    r = q = 1000, k = 128 and batches of 1024, a quarter of the work per minibatch.
    """

    def __init__(self, A, K, N, mu):
        self.A, self.K, self.N, self.mu = A, K, N, mu
        self.d = 0 if A is None else A.shape[1]
        self.shape = (K.shape[0], self.d + N.shape[1])
        self.dtype = K.dtype

    def dot(self, W, matmul=None, n_threads=1):
        """``F @ W`` for W of shape (n_features, k), in F's dtype (``matmul`` as
        :func:`rows_dot`)."""
        W = np.ascontiguousarray(W, dtype=self.dtype)
        Wn = W[self.d:]
        Z = _product(self.K, _product(self.N, Wn, False, matmul, n_threads), False, matmul, n_threads)
        Z -= self.mu @ Wn
        if self.A is not None:
            Z += _product(self.A, W[:self.d], False, matmul, n_threads)
        return Z

    def tdot(self, G, matmul=None, n_threads=1):
        """``F.T @ G`` for G of shape (b, k), in F's dtype (``matmul`` as :func:`rows_dot`)."""
        G = np.ascontiguousarray(G, dtype=self.dtype)
        low = _product(self.N, _product(self.K, G, True, matmul, n_threads), True, matmul, n_threads)
        low -= np.outer(self.mu, G.sum(axis=0, dtype=np.float64)).astype(self.dtype, copy=False)
        if self.A is None:
            return low
        return np.concatenate([_product(self.A, G, True, matmul, n_threads), low], axis=0)

    def toarray(self):
        F = self.K @ self.N - self.mu
        return F if self.A is None else np.concatenate([self.A, F], axis=1)


def _product(A, B, trans_a, matmul, n_threads):
    """``A @ B`` (``A.T @ B``): through ``matmul`` when given and the arrays suit it
    (one float dtype, C-contiguous), else NumPy."""
    if (matmul is not None and n_threads > 1 and A.dtype == B.dtype and A.dtype in (np.float32, np.float64)
            and A.flags.c_contiguous and B.flags.c_contiguous):
        return matmul(A, B, trans_a, n_threads)
    return A.T @ B if trans_a else A @ B


def rows_dot(F, W, matmul=None, n_threads=1):
    """``F @ W`` for an array or :class:`FactoredRows`; ``matmul`` (a backend's
    ``matmul(A, B, trans_a, n_threads)``) splits the products over ``n_threads``."""
    if isinstance(F, FactoredRows):
        return F.dot(W, matmul, n_threads)
    return _product(F, W, False, matmul, n_threads)


def rows_tdot(F, G, matmul=None, n_threads=1):
    """``F.T @ G`` for an array or :class:`FactoredRows` (``matmul`` as :func:`rows_dot`)."""
    if isinstance(F, FactoredRows):
        return F.tdot(G, matmul, n_threads)
    return _product(F, G, True, matmul, n_threads)


class RowMap:
    """Rows computed on demand: ``R[rows] == fn(X[rows])``, an (n, n_features) matrix
    that is never formed as a whole unless asked (``R[:]``).

    The minibatch solver reads only sampled rows, so the estimator hands the objective
    RowMaps (input scaling, Nyström map) instead of scaled / mapped copies of a large X:
    memory stays at the inputs plus O(batch) whatever n is.

    Parameters
    ----------
    X : ndarray (n, d), already validated
    fn : callable, (b, d) array -> (b, n_features) array
    n_features : int
    dtype : numpy dtype of the rows returned
    factored : callable, optional
        (b, d) array -> :class:`FactoredRows` of the same rows (``batch`` uses it).
    """

    def __init__(self, X, fn, n_features, dtype, name="RowMap", factored=None):
        self.X = X
        self.fn = fn
        self.factored = factored
        self.shape = (int(X.shape[0]), int(n_features))
        self.dtype = np.dtype(dtype)
        self.name = name

    def __getitem__(self, rows):
        out = np.ascontiguousarray(self.fn(self.X[rows]), dtype=self.dtype)
        if out.ndim != 2 or out.shape[1] != self.shape[1]:
            raise ValueError(f"{self.name}: its function returned shape {out.shape}, expected (rows, "
                             f"{self.shape[1]})")
        check_finite(out, self.name)
        return out

    def batch(self, rows):
        """The rows ``rows`` for a minibatch product: a :class:`FactoredRows` when the map
        has factors, else the array ``self[rows]``."""
        if self.factored is None:
            return self[rows]
        out = self.factored(self.X[rows])
        if out.shape != (len(out.K), self.shape[1]) or out.dtype != self.dtype:
            raise ValueError(f"{self.name}: its factored rows have shape {out.shape} and dtype {out.dtype}, "
                             f"expected (rows, {self.shape[1]}) and {self.dtype}")
        for part in (out.A, out.K):
            if part is not None:
                check_finite(part, self.name)
        return out

    def __repr__(self):
        return f"RowMap(shape={self.shape}, dtype={self.dtype.name})"


def check_rows_input(F, name, dtype):
    if isinstance(F, RowMap):
        if F.dtype != dtype:
            raise TypeError(f"{name} is a RowMap of dtype {F.dtype}, expected {dtype}")
        F.name = name
        return F
    return check_matrix(F, name, dtype=dtype, min_rows=2)


def full_rows(F):
    """All rows of F: the array itself, or a RowMap evaluated whole."""
    return F[:] if isinstance(F, RowMap) else F
