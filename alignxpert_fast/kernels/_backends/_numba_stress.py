"""Numba stress kernels (``csrc/axf/stress.hpp`` rewritten as ``@njit`` code): the
upper-triangle row blocks, the snake schedule, the packed distance cache.  Drivers are in
``numba_cpu.py``."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._numba_common import _FM_ELEMWISE, _FM_REDUCE

# ------------------------------------------------------------------ stress
@njit(nogil=True, cache=True)
def _stress_grad_finish(Z, wsum, gacc, scale, grad):
    """grad = scale * (wsum[:, None] * Z - W @ Z), in float64, cast on store."""
    n, k = Z.shape
    for i in range(n):
        ws = wsum[i]
        for q in range(k):
            grad[i, q] = scale * (ws * np.float64(Z[i, q]) - gacc[i * k + q])

# ------------------------------------------------------------------ stress, packed cache
# As csrc/axf/stress.hpp stress_pack / stress_sym: row block b of br rows visits only
# the columns j >= r0 (its diagonal square once, then bc-column tiles standing for
# both orders).  Thread q of nt handles the schedule positions p = q, q + nt, ... with
# row block _snake_block(p, nt), so the wide first row blocks are shared.

@njit(nogil=True, cache=True, inline="always")
def _snake_block(p, nt):
    rnd = p // nt
    q = p - rnd * nt
    return rnd * nt + (q if rnd % 2 == 0 else nt - 1 - q)

@njit(nogil=True, cache=True)
def _thread_blocks(q, nb, nt):
    """Row blocks of thread q of nt, in schedule order: positions q, q + nt, ... of
    the snake (skipping the positions past the last block)."""
    npos = (nb + nt - 1) // nt * nt
    out = np.empty(npos // nt, np.int64)
    m = 0
    for p in range(q, npos, nt):
        b = _snake_block(p, nt)
        if b < nb:
            out[m] = b
            m += 1
    return out[:m]

@njit(nogil=True, cache=True, fastmath=_FM_ELEMWISE)
def _dist_row(c, xi, xj, tol):
    """One tile row of distances, in place: c[j] holds <x_i, x_j> on entry and
    |x_i - x_j| on exit (squared distances under the noise floor count as 0)."""
    zero = c.dtype.type(0)
    two = c.dtype.type(2)
    for j in range(c.shape[0]):
        dd = xi + xj[j] - two * c[j]
        dd = dd if dd > tol * (xi + xj[j]) else zero
        c[j] = np.sqrt(dd)

@njit(nogil=True, cache=True, fastmath=_FM_ELEMWISE)
def _pack_blocks(X, xs, flat, off, br, tol, nt, q):
    """Thread q's row blocks of the packed cache: one gemm of the row panel against
    the columns r0.. straight into the (contiguous) packed block, then distances in
    place and the diagonal exactly 0."""
    n = X.shape[0]
    nb = off.shape[0] - 1
    for b in _thread_blocks(q, nb, nt):
        r0 = b * br
        rows = min(br, n - r0)
        width = n - r0
        C = flat[off[b]:off[b + 1]]
        np.dot(X[r0:r0 + rows], X[r0:].T, C.reshape((rows, width)))
        xj = xs[r0:]
        for i in range(rows):
            _dist_row(C[i * width:(i + 1) * width], xs[r0 + i], xj, tol)
            C[i * width + i] = 0

@njit(parallel=True, nogil=True, cache=True)
def _stress_pack(X, xs, flat, off, br, tol, nt):
    for q in prange(nt):
        _pack_blocks(X, xs, flat, off, br, tol, nt, q)

@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _cached_row(D, dz, zi, zj, tol_z, relative):
    """One tile row against cached distances D: dz holds <z_i, z_j> on entry and
    w_ij on exit.  Returns the float64 sums of v (D - E)^2, v D^2 and w, with the pair
    weight v = 1 (Kruskal) or, relative, 1 / D^2 (0 where D = 0)."""
    zero = dz.dtype.type(0)
    one = dz.dtype.type(1)
    two = dz.dtype.type(2)
    snum = 0.0
    sden = 0.0
    sw = 0.0
    for j in range(dz.shape[0]):
        ee = zi + zj[j] - two * dz[j]
        ee = ee if ee > tol_z * (zi + zj[j]) else zero
        E = np.sqrt(ee)
        Dj = D[j]
        diff = np.float64(Dj) - np.float64(E)
        if relative:
            v = one / (Dj * Dj) if Dj > zero else zero
            snum += np.float64(v) * (diff * diff)
            sden += np.float64(v) * (np.float64(Dj) * np.float64(Dj))
            w = v * (one - Dj / E) if E > zero else zero
        else:
            snum += diff * diff
            sden += np.float64(Dj) * np.float64(Dj)
            w = one - Dj / E if E > zero else zero
        dz[j] = w
        sw += np.float64(w)
    return snum, sden, sw

@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _sym_blocks(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, g, ws, part_num, part_den, br, bc, tol_z,
                relative, nt, q):
    """Thread q's row blocks: per-block float64 sums (weight 1 on the diagonal
    square, 2 on the tiles to its right) into part_num / part_den and (want_grad)
    this thread's accumulators ws (row sums of W) and g (W @ Z, flat n x k).
    Distances come from the packed cache D (use_cache) or from X's tiles."""
    n, k = Z.shape
    nb = off.shape[0] - 1
    tw = max(br, bc)
    DZ = np.empty(br * tw, Z.dtype)
    DX = np.empty(0 if use_cache else br * tw, Z.dtype)
    WZ = np.empty(tw * k if want_grad else 0, Z.dtype)
    cs = np.empty(tw if want_grad else 0, np.float64)
    for b in _thread_blocks(q, nb, nt):
        r0 = b * br
        rows = min(br, n - r0)
        width = n - r0
        Db = D[off[b]:off[b + 1]] if use_cache else D
        bnum = 0.0
        bden = 0.0
        c0 = r0
        while c0 < n:
            diag = c0 == r0
            cols = rows if diag else min(bc, n - c0)
            T = DZ[:rows * cols].reshape((rows, cols))
            np.dot(Z[r0:r0 + rows], Z[c0:c0 + cols].T, T)
            if not use_cache:
                np.dot(X[r0:r0 + rows], X[c0:c0 + cols].T, DX[:rows * cols].reshape((rows, cols)))
                xj = xs[c0:c0 + cols]
                for i in range(rows):
                    _dist_row(DX[i * cols:(i + 1) * cols], xs[r0 + i], xj, tol_x)
                    if diag:
                        DX[i * cols + i] = 0
            if want_grad and not diag:
                for j in range(cols):
                    cs[j] = 0.0
            zj = zs[c0:c0 + cols]
            tnum = 0.0
            tden = 0.0
            for i in range(rows):
                dz = DZ[i * cols:(i + 1) * cols]
                zi = zs[r0 + i]
                if diag:
                    dz[i] = zi  # the diagonal: E = 0 exactly (and D = 0)
                if use_cache:
                    a = i * width + (c0 - r0)
                    Drow = Db[a:a + cols]
                else:
                    Drow = DX[i * cols:(i + 1) * cols]
                snum, sden, sw = _cached_row(Drow, dz, zi, zj, tol_z, relative)
                tnum += snum
                tden += sden
                if want_grad:
                    ws[r0 + i] += sw
                    if not diag:
                        for j in range(cols):
                            cs[j] += np.float64(dz[j])
            weight = 1.0 if diag else 2.0  # off-diagonal tiles stand for both orders
            bnum += weight * tnum
            bden += weight * tden
            if want_grad:
                np.dot(T, Z[c0:c0 + cols], WZ[:rows * k].reshape((rows, k)))
                for t in range(rows * k):
                    g[r0 * k + t] += np.float64(WZ[t])
                if not diag:
                    np.dot(T.T, Z[r0:r0 + rows], WZ[:cols * k].reshape((cols, k)))
                    for t in range(cols * k):
                        g[c0 * k + t] += np.float64(WZ[t])
                    for j in range(cols):
                        ws[c0 + j] += cs[j]
            c0 += cols
        part_num[b] = bnum
        part_den[b] = bden

@njit(parallel=True, nogil=True, cache=True)
def _stress_sym(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, gacc, wsum, part_num, part_den, br, bc,
                tol_z, relative, nt):
    """Stress partial sums over the upper triangle; thread q owns gacc[q], wsum[q]."""
    for q in prange(nt):
        _sym_blocks(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, gacc[q], wsum[q], part_num, part_den,
                    br, bc, tol_z, relative, nt, q)

@njit(nogil=True, cache=True)
def _sum_threads(A):
    """Column sums of A (threads x m) added in thread order."""
    out = np.zeros(A.shape[1], np.float64)
    for t in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[j] += A[t, j]
    return out
