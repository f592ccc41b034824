"""NumPy reference backend: the readable specification every fast path is tested against.

Blockwise like the compiled backends (no n x n array in the reductions or the stress),
but written for clarity, not speed.  Every function takes validated, C-contiguous arrays
of one float dtype and writes into ``out`` (or returns scalars).

Kernel names are the internal names of ``kernels/_spec.py``.  Accumulations (norms, row
sums, matvec, stress sums) are done in float64.  The stress applies the same rounding
floors as the compiled backends (``_layout.noise_floor``, ``_layout.stress_value_floor``).
"""
from __future__ import annotations

import numpy as np

from ..._utils.threads import single_threaded_blas
from ._layout import noise_floor, packed_offsets, stress_finish

NAME = "reference"
LOAD_ERROR = None


def _sqnorms(X):
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def _aux(kernel, X):
    if kernel in ("rbf", "sqeuclidean", "euclidean"):
        return _sqnorms(X).astype(X.dtype)
    if kernel == "cosine":
        nr = np.sqrt(_sqnorms(X))
        inv = np.zeros_like(nr)
        np.divide(1.0, nr, out=inv, where=nr > 0)
        return inv.astype(X.dtype)
    return None


def _tile(kernel, Xb, Yb, ax, ay, gamma, coef0, degree, r0, c0, symmetric):
    """Kernel values for rows r0.. of X against rows c0.. of Y (one tile).  Results that
    overflow are inf (a power) or make exp() 0, as in the compiled backends: no warning."""
    with np.errstate(over="ignore"):
        return _tile_values(kernel, Xb, Yb, ax, ay, gamma, coef0, degree, r0, c0, symmetric)


def _tile_values(kernel, Xb, Yb, ax, ay, gamma, coef0, degree, r0, c0, symmetric):
    dt = Xb.dtype.type
    dots = Xb @ Yb.T
    if kernel == "linear":
        T = dots
    elif kernel in ("rbf", "sqeuclidean", "euclidean"):
        d2 = ax[:, None] + ay[None, :] - dt(2) * dots
        np.maximum(d2, 0, out=d2)
        if kernel == "rbf":
            T = np.exp(dt(-gamma) * d2)
        elif kernel == "euclidean":
            T = np.sqrt(d2)
        else:
            T = d2
    elif kernel == "poly":
        T = (dt(gamma) * dots + dt(coef0)) ** degree
    elif kernel == "cosine":
        T = dots * ax[:, None] * ay[None, :]
    else:
        raise ValueError(f"unknown kernel {kernel!r}")
    if symmetric and kernel in ("rbf", "sqeuclidean", "euclidean"):
        i = np.arange(Xb.shape[0])
        j = i + r0 - c0
        ok = (j >= 0) & (j < Yb.shape[0])
        T[i[ok], j[ok]] = 1.0 if kernel == "rbf" else 0.0
    return T.astype(Xb.dtype, copy=False)


def _gram_body(kernel, X, Y, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    ax, ay = _aux(kernel, X), _aux(kernel, Y)
    n, m = X.shape[0], Y.shape[0]
    for r0 in range(0, n, block_rows):
        r1 = min(n, r0 + block_rows)
        for c0 in range(0, m, block_cols):
            c1 = min(m, c0 + block_cols)
            out[r0:r1, c0:c1] = _tile(
                kernel, X[r0:r1], Y[c0:c1],
                None if ax is None else ax[r0:r1], None if ay is None else ay[c0:c1],
                gamma, coef0, degree, r0, c0, symmetric,
            )


def _kernel_matvec_body(kernel, X, Y, V, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    ax, ay = _aux(kernel, X), _aux(kernel, Y)
    n, m = X.shape[0], Y.shape[0]
    p = 1 if V is None else V.shape[1]
    for r0 in range(0, n, block_rows):
        r1 = min(n, r0 + block_rows)
        acc = np.zeros((r1 - r0, p), dtype=np.float64)
        for c0 in range(0, m, block_cols):
            c1 = min(m, c0 + block_cols)
            T = _tile(
                kernel, X[r0:r1], Y[c0:c1],
                None if ax is None else ax[r0:r1], None if ay is None else ay[c0:c1],
                gamma, coef0, degree, r0, c0, symmetric,
            )
            if V is None:
                acc[:, 0] += T.sum(axis=1, dtype=np.float64)
            else:
                acc += T @ V[c0:c1]
        out[r0:r1] = acc


def _distances(A, asq, r0, r1, c0, c1, tol, diag):
    """|a_i - a_j| for rows r0:r1 against c0:c1, in A's dtype; squared distances under
    the noise floor count as 0, and the diagonal (``diag``: the same rows) is exactly 0."""
    dt = A.dtype.type
    s = asq[r0:r1, None] + asq[None, c0:c1]
    dd = s - dt(2) * (A[r0:r1] @ A[c0:c1].T)
    dd = np.where(dd > tol * s, dd, dt(0))
    if diag:
        i = np.arange(r1 - r0)
        j = i + r0 - c0
        ok = (j >= 0) & (j < c1 - c0)
        dd[i[ok], j[ok]] = 0
    return np.sqrt(dd)


def _stress_tile(D, E, dtype):
    """float64 sums of (D - E)^2 and D^2, the weights w = 1 - D / E (0 where E = 0)."""
    diff = D.astype(np.float64) - E.astype(np.float64)
    W = np.zeros_like(D)
    np.divide(D, E, out=W, where=E > 0)
    W = np.where(E > 0, dtype.type(1) - W, dtype.type(0)).astype(dtype, copy=False)
    return float(np.sum(diff * diff)), float(np.sum(D.astype(np.float64) ** 2)), W


def _finish(num, den, Z, grad, wsum, wz):
    value, scale = stress_finish(num, den, Z.dtype)
    if grad is not None:
        grad[...] = scale * (wsum[:, None] * Z.astype(np.float64) - wz)
    return value


def _stress_body(X, Z, grad, *, n_threads, block_rows, block_cols):
    """Normalized stress of X (n, d) vs Z (n, k) over all ordered pairs, tile by tile;
    fills grad (n, k) if given.  Returns the value."""
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"stress needs at least 2 samples, got n={n}")
    xn, zn = _sqnorms(X).astype(X.dtype), _sqnorms(Z).astype(Z.dtype)
    tol_x, tol_z = noise_floor(X.dtype, X.shape[1]), noise_floor(Z.dtype, Z.shape[1])
    num = den = 0.0
    wz = np.zeros(Z.shape, dtype=np.float64)
    wsum = np.zeros(n, dtype=np.float64)
    for r0 in range(0, n, block_rows):
        r1 = min(n, r0 + block_rows)
        for c0 in range(0, n, block_cols):
            c1 = min(n, c0 + block_cols)
            D = _distances(X, xn, r0, r1, c0, c1, tol_x, True)
            E = _distances(Z, zn, r0, r1, c0, c1, tol_z, True)
            tnum, tden, W = _stress_tile(D, E, Z.dtype)
            num += tnum
            den += tden
            wsum[r0:r1] += W.sum(axis=1, dtype=np.float64)
            wz[r0:r1] += W @ Z[c0:c1]
    return _finish(num, den, Z, grad, wsum, wz)


# ----------------------------------------------------- stress against a distance cache
def _stress_pack_body(X, out, *, n_threads, block_rows):
    """Fill ``out`` (1-D, ``_layout.packed_total(n, block_rows)`` entries) with the
    distances of X in packed upper row blocks (the diagonal is exactly 0)."""
    n = X.shape[0]
    xn = _sqnorms(X).astype(X.dtype)
    tol = noise_floor(X.dtype, X.shape[1])
    off = packed_offsets(n, block_rows)
    for b, r0 in enumerate(range(0, n, block_rows)):
        r1 = min(n, r0 + block_rows)
        out[off[b]:off[b + 1]] = _distances(X, xn, r0, r1, r0, n, tol, True).ravel()


def _stress_cached_body(D, Z, grad, *, n_threads, block_rows, block_cols):
    """Stress of the packed distances D (see :func:`stress_pack`) against Z (n, k);
    fills grad if given.  Returns the value, as :func:`stress`.

    Row block I meets the columns j >= r0 only: its diagonal square counts every ordered
    pair once, the tile to its right stands for both (i, j) and (j, i).
    """
    n, k = Z.shape
    if n < 2:
        raise ValueError(f"stress needs at least 2 samples, got n={n}")
    zn = _sqnorms(Z).astype(Z.dtype)
    tol_z = noise_floor(Z.dtype, k)
    off = packed_offsets(n, block_rows)
    num = den = 0.0
    wz = np.zeros(Z.shape, dtype=np.float64)
    wsum = np.zeros(n, dtype=np.float64)
    for b, r0 in enumerate(range(0, n, block_rows)):
        r1 = min(n, r0 + block_rows)
        rows = r1 - r0
        Db = D[off[b]:off[b + 1]].reshape(rows, n - r0)
        E = _distances(Z, zn, r0, r1, r0, n, tol_z, True)
        # the diagonal square counts once, the tiles to its right for both orders
        dnum, dden, Wd = _stress_tile(Db[:, :rows], E[:, :rows], Z.dtype)
        rnum, rden, Wr = _stress_tile(Db[:, rows:], E[:, rows:], Z.dtype)
        num += dnum + 2.0 * rnum
        den += dden + 2.0 * rden
        W = np.concatenate([Wd, Wr], axis=1)
        wsum[r0:r1] += W.sum(axis=1, dtype=np.float64)
        wz[r0:r1] += W @ Z[r0:]
        wsum[r1:] += Wr.sum(axis=0, dtype=np.float64)
        wz[r1:] += Wr.T @ Z[r0:r1]
    return _finish(num, den, Z, grad, wsum, wz)


# Public entry points: BLAS limited to one thread, as in the compiled backends, so the
# reference's products (and their rounding) do not depend on the BLAS thread count.
def gram(kernel, X, Y, out, **kw):
    with single_threaded_blas():
        _gram_body(kernel, X, Y, out, **kw)


def kernel_matvec(kernel, X, Y, V, out, **kw):
    with single_threaded_blas():
        _kernel_matvec_body(kernel, X, Y, V, out, **kw)


def stress(X, Z, grad, **kw):
    with single_threaded_blas():
        return _stress_body(X, Z, grad, **kw)


def stress_pack(X, out, **kw):
    with single_threaded_blas():
        _stress_pack_body(X, out, **kw)


def stress_cached(D, Z, grad, **kw):
    with single_threaded_blas():
        return _stress_cached_body(D, Z, grad, **kw)
