"""Numba Gram and reduction kernels (``csrc/axf/gram.hpp``, ``reductions.hpp`` rewritten
as ``@njit`` code): one gemm per tile followed by the fused epilogue.  Drivers are in
``numba_cpu.py``."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._numba_common import (_COSINE, _EUCLIDEAN, _FM_ELEMWISE, _FM_REDUCE, _POLY, _RBF, _SQEUCLIDEAN, _ipow,
                            _vexp)


@njit(nogil=True, cache=True, fastmath=_FM_ELEMWISE, inline="always")
def _epilogue_row(kind, c, xi, ay, g, c0v, degree, base):
    """Kernel values of one tile row, in place: ``c[j]`` holds the raw dot product
    <x_i, y_j> on entry and the kernel value on exit.  ``base`` is scratch of at
    least ``len(c)`` entries (poly)."""
    cols = c.shape[0]
    zero = c.dtype.type(0)
    two = c.dtype.type(2)
    if kind == _RBF:
        ng = -g
        for j in range(cols):
            d2 = xi + ay[j] - two * c[j]
            d2 = zero if d2 < zero else d2
            c[j] = _vexp(ng * d2)
    elif kind == _SQEUCLIDEAN:
        for j in range(cols):
            d2 = xi + ay[j] - two * c[j]
            c[j] = zero if d2 < zero else d2
    elif kind == _EUCLIDEAN:
        for j in range(cols):
            d2 = xi + ay[j] - two * c[j]
            d2 = zero if d2 < zero else d2
            c[j] = np.sqrt(d2)
    elif kind == _POLY:
        for j in range(cols):
            b = g * c[j] + c0v
            base[j] = b
            c[j] = b
        if degree <= 4:
            for _ in range(1, degree):  # one vectorized pass per extra factor
                for j in range(cols):
                    c[j] *= base[j]
        else:  # by squaring: O(log degree) products (degree may be up to 2**31 - 1)
            for j in range(cols):
                c[j] = _ipow(base[j], degree)
    elif kind == _COSINE:
        for j in range(cols):
            c[j] = c[j] * xi * ay[j]
    # linear: the dot products are the kernel values

@njit(nogil=True, cache=True, fastmath=_FM_ELEMWISE, inline="always")
def _epilogue(kind, C, ldc, rows, cols, ax, ay, g, c0v, degree, symmetric, r0, c0, base):
    """In-place epilogue on the rows x cols tile at the start of flat ``C`` (row
    stride ``ldc``).  (r0, c0) is the tile's position in the full matrix, used to
    set the diagonal exactly when X is Y."""
    for i in range(rows):
        _epilogue_row(kind, C[i * ldc:i * ldc + cols], ax[i], ay, g, c0v, degree, base)
    if symmetric and (kind == _RBF or kind == _SQEUCLIDEAN or kind == _EUCLIDEAN):
        dv = C.dtype.type(1) if kind == _RBF else C.dtype.type(0)
        for i in range(rows):
            j = r0 + i - c0
            if j >= 0 and j < cols:
                C[i * ldc + j] = dv

# The parallel drivers below are thin: ``prange`` over static chunks (one per
# thread, like OpenMP's schedule(static)) calling a serial worker that owns its
# scratch.  Keeping the parfor body small keeps Numba's compile time down.

# ------------------------------------------------------------------ Gram
@njit(nogil=True, cache=True, fastmath=_FM_ELEMWISE)
def _gram_rows(kind, X, Y, flat, ax, ay, g, c0v, degree, symmetric, br, b_lo, b_hi):
    """Row blocks b_lo..b_hi-1 of the n x m output ``flat``: for each, one gemm of
    the X row panel against all of Y straight into the output rows, then the
    epilogue in place."""
    n = X.shape[0]
    m = Y.shape[0]
    Yt = Y.T
    base = np.empty(m, X.dtype)
    for b in range(b_lo, b_hi):
        r0 = b * br
        rows = min(br, n - r0)
        C = flat[r0 * m:(r0 + rows) * m]
        np.dot(X[r0:r0 + rows], Yt, C.reshape((rows, m)))
        _epilogue(kind, C, m, rows, m, ax[r0:r0 + rows], ay, g, c0v, degree, symmetric, r0, 0, base)

@njit(parallel=True, nogil=True, cache=True)
def _gram(kind, X, Y, out, ax, ay, g, c0v, degree, symmetric, n_chunks, br):
    """out (n x m, C order) = kernel(X, Y); threads own whole output rows."""
    n = X.shape[0]
    flat = out.reshape(out.size)
    nbr = (n + br - 1) // br
    for ch in prange(n_chunks):
        _gram_rows(kind, X, Y, flat, ax, ay, g, c0v, degree, symmetric, br,
                   ch * nbr // n_chunks, (ch + 1) * nbr // n_chunks)

# ------------------------------------------------------------------ K @ V, K @ 1
@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _matvec_blocks(kind, X, Y, V, has_v, oflat, ax, ay, g, c0v, degree, symmetric, br, bc, b_lo, b_hi):
    """Row blocks b_lo..b_hi-1 of out (n x p, flat) = K(X, Y) @ V, or the row sums
    of K when not has_v.  Each block walks the column blocks of Y in order, folding
    one tile at a time into a float64 accumulator."""
    n = X.shape[0]
    m = Y.shape[0]
    p = oflat.shape[0] // n
    bce = min(bc, m)
    tile = np.empty(br * bce, X.dtype)
    base = np.empty(bce, X.dtype)
    tmp = np.empty(br * p if has_v else 0, X.dtype)
    acc = np.empty(br * p, np.float64)
    for b in range(b_lo, b_hi):
        r0 = b * br
        rows = min(br, n - r0)
        for q in range(rows * p):
            acc[q] = 0.0
        for c0 in range(0, m, bc):
            cols = min(bc, m - c0)
            T = tile[:rows * cols].reshape((rows, cols))
            np.dot(X[r0:r0 + rows], Y[c0:c0 + cols].T, T)
            _epilogue(kind, tile, cols, rows, cols, ax[r0:r0 + rows], ay[c0:c0 + cols],
                      g, c0v, degree, symmetric, r0, c0, base)
            if has_v:
                np.dot(T, V[c0:c0 + cols], tmp[:rows * p].reshape((rows, p)))
                for q in range(rows * p):
                    acc[q] += np.float64(tmp[q])
            else:
                for i in range(rows):
                    row = tile[i * cols:(i + 1) * cols]
                    s = 0.0
                    for j in range(cols):
                        s += np.float64(row[j])
                    acc[i] += s
        for q in range(rows * p):
            oflat[r0 * p + q] = acc[q]

@njit(parallel=True, nogil=True, cache=True)
def _kernel_matvec(kind, X, Y, V, has_v, out, ax, ay, g, c0v, degree, symmetric, n_chunks, br, bc):
    """out (n x p) = K(X, Y) @ V; threads own whole row blocks (static chunks)."""
    n = X.shape[0]
    oflat = out.reshape(out.size)
    nbr = (n + br - 1) // br
    for ch in prange(n_chunks):
        _matvec_blocks(kind, X, Y, V, has_v, oflat, ax, ay, g, c0v, degree, symmetric, br, bc,
                       ch * nbr // n_chunks, (ch + 1) * nbr // n_chunks)
