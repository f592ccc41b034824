"""Rows computed on demand, so the minibatch solver never forms scaled / mapped copies."""
from __future__ import annotations

import numpy as np

from .._utils.validation import check_finite, check_matrix

__all__ = ["RowMap", "check_rows_input", "full_rows"]


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
    """

    def __init__(self, X, fn, n_features, dtype, name="RowMap"):
        self.X = X
        self.fn = fn
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
