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
from ._layout import NONFINITE_LOGITS, NonFiniteLogits, noise_floor, packed_offsets, stress_finish

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
    with np.errstate(invalid="ignore"):
        # a flaky "invalid value encountered in matmul" RuntimeWarning was seen in CI on small
        # float32 tiles of finite inputs (an FP flag left by the BLAS kernel, cause not pinned
        # down); the products themselves are checked against the oracles by the tests
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


def _stress_tile(D, E, dtype, relative=False):
    """float64 sums of v (D - E)^2 and v D^2, the weights w = v (1 - D / E) (0 where
    E = 0), with the pair weight v = 1 or, relative, 1 / D^2 (0 where D = 0)."""
    diff = D.astype(np.float64) - E.astype(np.float64)
    W = np.zeros_like(D)
    np.divide(D, E, out=W, where=E > 0)
    W = np.where(E > 0, dtype.type(1) - W, dtype.type(0)).astype(dtype, copy=False)
    if not relative:
        return float(np.sum(diff * diff)), float(np.sum(D.astype(np.float64) ** 2)), W
    V = np.zeros_like(D)
    np.divide(dtype.type(1), D * D, out=V, where=D > 0)
    W = (V * W).astype(dtype, copy=False)
    V64 = V.astype(np.float64)
    return float(np.sum(V64 * diff * diff)), float(np.sum(V64 * D.astype(np.float64) ** 2)), W


def _finish(num, den, Z, grad, wsum, wz):
    value, scale = stress_finish(num, den, Z.dtype)
    if grad is not None:
        grad[...] = scale * (wsum[:, None] * Z.astype(np.float64) - wz)
    return value


def _stress_body(X, Z, grad, *, n_threads, block_rows, block_cols, relative=False):
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
            tnum, tden, W = _stress_tile(D, E, Z.dtype, relative)
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


def _stress_cached_body(D, Z, grad, *, n_threads, block_rows, block_cols, relative=False):
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
        dnum, dden, Wd = _stress_tile(Db[:, :rows], E[:, :rows], Z.dtype, relative)
        rnum, rden, Wr = _stress_tile(Db[:, rows:], E[:, rows:], Z.dtype, relative)
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


def contrastive(kernel, A, B, dA, dB, **kw):
    with single_threaded_blas():
        return _contrastive_body(kernel, A, B, dA, dB, **kw)


# ------------------------------------------------------------- contrastive similarity
def _contrastive_tile(kernel, Ab, Bb, ia, ib, gamma, coef0, degree):
    """Kernel values K (float64) of a tile and the raw dot products (what the backward pass
    needs).  ia, ib: inverse row norms (cosine) or None."""
    dots = Ab @ Bb.T
    if kernel == "linear":
        K = dots
    elif kernel == "rbf":
        d2 = np.einsum("ij,ij->i", Ab, Ab)[:, None] + np.einsum("ij,ij->i", Bb, Bb)[None, :] - 2.0 * dots
        K = np.exp(-gamma * np.maximum(d2, 0.0))
    elif kernel == "poly":
        K = (gamma * dots + coef0) ** degree
    elif kernel == "cosine":
        K = dots * ia[:, None] * ib[None, :]
    else:
        raise ValueError(f"unknown contrastive kernel {kernel!r}")
    return K, dots


def _contrastive_body(kernel, A, B, dA, dB, *, gamma, coef0, degree, temperature, n_threads, block_rows,
                      block_cols):
    """Symmetric kernel InfoNCE of paired rows A, B (n, k); fills dA, dB (n, k) with its
    gradient when they are given (both or neither).  Returns the value.

    ``s_ij = kappa(a_i, b_j) / temperature``;
    ``S = -(1/2n) sum_i [lse_j s_ij - s_ii] - (1/2n) sum_j [lse_i s_ij - s_jj]``.

    Pass 1 walks (block_rows x block_cols) tiles and keeps, per row and per column, a
    running maximum and a running sum of exp(s - maximum) (the online log-sum-exp), plus
    the diagonal logits.  Pass 2 recomputes each tile, forms
    ``G = dS/dkappa = -(P + Q - 2 I) / (2 n temperature)`` (P, Q: the row and column
    softmaxes) and applies the kernel's chain rule as a tile weight W and a diagonal term:
    ``dA = W B - diag(c_r * rowsum(G K)) A``, ``dB = W^T A - diag(c_c * colsum(G K)) B``:

    * linear: ``W = G``, no diagonal term;
    * poly: ``W = G degree gamma (gamma a.b + coef0)^(degree - 1)``, no diagonal term;
    * rbf: ``W = 2 gamma G K``, ``c_r = c_c = 2 gamma``;
    * cosine: ``W = G / (|a_i| |b_j|)``, ``c_r = 1 / |a_i|^2``, ``c_c = 1 / |b_j|^2``
      (0 for a zero row).

    Everything here is float64 (the specification; float32 backends keep float32 tiles).
    Logits that are not finite in A's dtype (float32: above 3.4e38 in magnitude) raise
    :class:`NonFiniteLogits`, as in the compiled backends.  Memory: O(n k) + O(block_rows *
    block_cols); never an n x n array.
    """
    n, k = A.shape
    a, b = A.astype(np.float64), B.astype(np.float64)
    ia = ib = None
    if kernel == "cosine":
        ia, ib = [np.divide(1.0, nr, out=np.zeros_like(nr), where=nr > 0)
                  for nr in (np.sqrt(_sqnorms(a)), np.sqrt(_sqnorms(b)))]
    row_blocks = [(r0, min(n, r0 + block_rows)) for r0 in range(0, n, block_rows)]
    col_blocks = [(c0, min(n, c0 + block_cols)) for c0 in range(0, n, block_cols)]

    def tile(r0, r1, c0, c1):
        return _contrastive_tile(kernel, a[r0:r1], b[c0:c1], None if ia is None else ia[r0:r1],
                                 None if ib is None else ib[c0:c1], gamma, coef0, degree)

    def diagonal_mask(r0, r1, c0, c1):
        return np.arange(r0, r1)[:, None] == np.arange(c0, c1)[None, :]

    # pass 1: online log-sum-exps over rows and columns, diagonal logits
    big = float(np.finfo(A.dtype).max)
    row_max, row_sum = np.full(n, -np.inf), np.zeros(n)
    col_max, col_sum = np.full(n, -np.inf), np.zeros(n)
    diag = np.zeros(n)
    for r0, r1 in row_blocks:
        for c0, c1 in col_blocks:
            S = tile(r0, r1, c0, c1)[0] / temperature
            if not np.all(np.abs(S) <= big):  # representable in the input dtype (False for NaN)
                raise NonFiniteLogits(NONFINITE_LOGITS)
            on_diag = diagonal_mask(r0, r1, c0, c1)
            rows_hit = on_diag.any(axis=1)
            diag[r0:r1][rows_hit] = S[on_diag]
            m = np.maximum(row_max[r0:r1], S.max(axis=1))
            row_sum[r0:r1] = row_sum[r0:r1] * np.exp(row_max[r0:r1] - m) + np.exp(S - m[:, None]).sum(axis=1)
            row_max[r0:r1] = m
            m = np.maximum(col_max[c0:c1], S.max(axis=0))
            col_sum[c0:c1] = col_sum[c0:c1] * np.exp(col_max[c0:c1] - m) + np.exp(S - m[None, :]).sum(axis=0)
            col_max[c0:c1] = m
    row_lse = row_max + np.log(row_sum)
    col_lse = col_max + np.log(col_sum)
    value = -(float(np.sum(row_lse - diag)) + float(np.sum(col_lse - diag))) / (2.0 * n)
    if not np.isfinite(value):
        raise NonFiniteLogits(NONFINITE_LOGITS)
    if dA is None:
        return value
    # pass 2: G tiles, the kernel chain rule
    gA, gB = np.zeros((n, k)), np.zeros((n, k))
    h_row, h_col = np.zeros(n), np.zeros(n)
    scale = -1.0 / (2.0 * n * temperature)
    for r0, r1 in row_blocks:
        for c0, c1 in col_blocks:
            K, dots = tile(r0, r1, c0, c1)
            S = K / temperature
            G = np.exp(S - row_lse[r0:r1, None]) + np.exp(S - col_lse[None, c0:c1])
            G[diagonal_mask(r0, r1, c0, c1)] -= 2.0
            G *= scale
            if kernel == "linear":
                W = G
            elif kernel == "poly":
                W = G * (degree * gamma) * (gamma * dots + coef0) ** (degree - 1)
            else:
                H = G * K
                h_row[r0:r1] += H.sum(axis=1)
                h_col[c0:c1] += H.sum(axis=0)
                W = 2.0 * gamma * H if kernel == "rbf" else G * ia[r0:r1, None] * ib[None, c0:c1]
            gA[r0:r1] += W @ b[c0:c1]
            gB[c0:c1] += W.T @ a[r0:r1]
    if kernel == "rbf":
        gA -= (2.0 * gamma * h_row)[:, None] * a
        gB -= (2.0 * gamma * h_col)[:, None] * b
    elif kernel == "cosine":
        gA -= (ia * ia * h_row)[:, None] * a
        gB -= (ib * ib * h_col)[:, None] * b
    dA[...] = gA
    dB[...] = gB
    return value
