"""NumPy reference backend: the readable specification every fast path is tested against.

Blockwise like the compiled backends (no n x n array in the reductions or the stress),
but written for clarity, not speed.  Every function takes validated, C-contiguous arrays
of one float dtype and writes into ``out`` (or returns scalars).

Kernel names: "linear", "rbf", "poly", "cosine", "sqeuclidean", "euclidean".
Accumulations (norms, row sums, matvec, stress sums) are done in float64.
"""
from __future__ import annotations

import numpy as np

NAME = "reference"
LOAD_ERROR = None


def stress_value_floor(dtype):
    """Below this stress value the gradient is rounding noise (at an isometry, Z = X Q,
    it is as large as a real gradient): report 0 there, a subgradient.  Same rule in
    csrc/axf/stress.hpp (value_floor) and the Numba backend."""
    return 64.0 * float(np.finfo(dtype).eps)


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
    """Kernel values for rows r0.. of X against rows c0.. of Y (one tile)."""
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


def gram(kernel, X, Y, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
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


def kernel_matvec(kernel, X, Y, V, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
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


def stress(X, Z, grad, *, n_threads, block_rows, block_cols):
    """Normalized stress of X (n, d) vs Z (n, k); fills grad (n, k) if given.

    Returns (value, num, den) with num = sum_{i != j} (D_ij - E_ij)^2 and
    den = sum_{i != j} D_ij^2 over ordered pairs.
    """
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"stress needs at least 2 samples, got n={n}")
    xn, zn = _sqnorms(X).astype(X.dtype), _sqnorms(Z).astype(Z.dtype)
    num = den = 0.0
    if grad is not None:
        wz = np.zeros(Z.shape, dtype=np.float64)
        wsum = np.zeros(n, dtype=np.float64)
    dt = X.dtype.type
    for r0 in range(0, n, block_rows):
        r1 = min(n, r0 + block_rows)
        for c0 in range(0, n, block_cols):
            c1 = min(n, c0 + block_cols)
            dd = np.maximum(xn[r0:r1, None] + xn[None, c0:c1] - dt(2) * (X[r0:r1] @ X[c0:c1].T), 0)
            ee = np.maximum(zn[r0:r1, None] + zn[None, c0:c1] - dt(2) * (Z[r0:r1] @ Z[c0:c1].T), 0)
            i = np.arange(r1 - r0)
            j = i + r0 - c0
            ok = (j >= 0) & (j < c1 - c0)
            dd[i[ok], j[ok]] = 0
            ee[i[ok], j[ok]] = 0
            D, E = np.sqrt(dd), np.sqrt(ee)
            diff = D.astype(np.float64) - E.astype(np.float64)
            num += float(np.sum(diff * diff))
            den += float(np.sum(dd, dtype=np.float64))
            if grad is not None:
                W = np.zeros_like(D)
                np.divide(D, E, out=W, where=E > 0)
                W = np.where(E > 0, dt(1) - W, dt(0)).astype(X.dtype, copy=False)
                wsum[r0:r1] += W.sum(axis=1, dtype=np.float64)
                wz[r0:r1] += W @ Z[c0:c1]
    if not den > 0:
        raise ValueError("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)")
    value = float(np.sqrt(num / den))
    if grad is not None:
        scale = 1.0 / (value * den * 0.5) if value > stress_value_floor(Z.dtype) else 0.0
        grad[...] = scale * (wsum[:, None] * Z.astype(np.float64) - wz)
    return value, num, den


# ----------------------------------------------------- stress against a distance cache
def packed_offsets(n, block_rows):
    """Offsets of the packed upper row blocks (csrc/axf/stress.hpp): block b holds
    D[r0:r0+rows, r0:] row-major, r0 = b * block_rows; the last entry is the total."""
    off = [0]
    for r0 in range(0, n, block_rows):
        off.append(off[-1] + min(block_rows, n - r0) * (n - r0))
    return off


def stress_pack(X, out, *, n_threads, block_rows):
    """Fill ``out`` (1-D, ``packed_offsets(n, block_rows)[-1]`` entries) with the
    distances of X in packed upper row blocks (the diagonal is exactly 0)."""
    n = X.shape[0]
    xn = _sqnorms(X).astype(X.dtype)
    dt = X.dtype.type
    off = packed_offsets(n, block_rows)
    for b, r0 in enumerate(range(0, n, block_rows)):
        r1 = min(n, r0 + block_rows)
        dd = np.maximum(xn[r0:r1, None] + xn[None, r0:] - dt(2) * (X[r0:r1] @ X[r0:].T), 0)
        i = np.arange(r1 - r0)
        dd[i, i] = 0
        out[off[b]:off[b + 1]] = np.sqrt(dd).ravel()


def stress_cached(D, Z, grad, *, n_threads, block_rows, block_cols):
    """Stress of the packed distances D (see :func:`stress_pack`) against Z (n, k);
    fills grad if given.  Returns (value, num, den) as :func:`stress`.

    Row block I meets the columns j >= r0 only: its diagonal square counts every ordered
    pair once, the tile to its right stands for both (i, j) and (j, i).
    """
    n, k = Z.shape
    if n < 2:
        raise ValueError(f"stress needs at least 2 samples, got n={n}")
    zn = _sqnorms(Z).astype(Z.dtype)
    dt = Z.dtype.type
    off = packed_offsets(n, block_rows)
    num = den = 0.0
    wz = np.zeros(Z.shape, dtype=np.float64)
    wsum = np.zeros(n, dtype=np.float64)
    for b, r0 in enumerate(range(0, n, block_rows)):
        r1 = min(n, r0 + block_rows)
        rows = r1 - r0
        Db = D[off[b]:off[b + 1]].reshape(rows, n - r0)
        ee = np.maximum(zn[r0:r1, None] + zn[None, r0:] - dt(2) * (Z[r0:r1] @ Z[r0:].T), 0)
        i = np.arange(rows)
        ee[i, i] = 0
        E = np.sqrt(ee)
        weight = np.full(n - r0, 2.0)
        weight[:rows] = 1.0
        diff = Db.astype(np.float64) - E.astype(np.float64)
        num += float(np.sum(diff * diff * weight))
        den += float(np.sum(Db.astype(np.float64) ** 2 * weight))
        if grad is not None:
            W = np.zeros_like(Db)
            np.divide(Db, E, out=W, where=E > 0)
            W = np.where(E > 0, dt(1) - W, dt(0)).astype(Z.dtype, copy=False)
            wsum[r0:r1] += W.sum(axis=1, dtype=np.float64)
            wz[r0:r1] += W @ Z[r0:]
            right = W[:, rows:]
            wsum[r1:] += right.sum(axis=0, dtype=np.float64)
            wz[r1:] += right.T @ Z[r0:r1]
    if not den > 0:
        raise ValueError("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)")
    value = float(np.sqrt(num / den))
    if grad is not None:
        scale = 1.0 / (value * den * 0.5) if value > stress_value_floor(Z.dtype) else 0.0
        grad[...] = scale * (wsum[:, None] * Z.astype(np.float64) - wz)
    return value, num, den
