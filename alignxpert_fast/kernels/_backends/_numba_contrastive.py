"""Numba kernels of the contrastive similarity (``csrc/axf/contrastive.hpp`` as ``@njit``
code); the driver is ``numba_cpu.contrastive`` and the formulas are spelled out in
``reference.contrastive``.

Same two passes as the C++: threads own static chunks of row blocks (``prange`` over one
chunk per thread); every tile is one gemm (``np.dot`` into per-thread scratch) and a fused
epilogue in the input dtype.

* pass 1: logits, the online log-sum-exp of each row (owned by the thread) and of each
  column (this thread's running max / sum, float64, merged in thread order afterwards),
  the diagonal logits, a finiteness flag per thread;
* pass 2: the tile again, the weight W in place, ``W @ B_J`` into a float64 row-block
  accumulator, ``W.T @ A_I`` into this thread's float64 (n, k) accumulator (added in
  thread order afterwards), row and column sums of ``G * K`` (rbf, cosine) in float64.

Results are reproducible for a given thread count and agree across thread counts to
rounding.  Flags: ``_FM_REDUCE`` (contract, reassoc, arcp; never nnan / ninf: the
finiteness check must see inf and NaN).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._numba_common import _COSINE, _FM_REDUCE, _LINEAR, _POLY, _RBF, _ipow, _vexp

@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _logits_tile(kind, C, rows, cols, ax, ay, g, c0v, degree, inv_t):
    """C (flat, rows x cols) holds <a_i, b_j> on entry and s_ij on exit.  Returns
    False if a logit is not finite."""
    zero = C.dtype.type(0)
    two = C.dtype.type(2)
    chk = zero
    for i in range(rows):
        c = C[i * cols:(i + 1) * cols]
        xi = ax[i]
        if kind == _RBF:
            for j in range(cols):
                d2 = xi + ay[j] - two * c[j]
                d2 = zero if d2 < zero else d2
                s = _vexp(-g * d2) * inv_t
                c[j] = s
                chk += s * zero
        elif kind == _POLY:
            for j in range(cols):
                s = _ipow(g * c[j] + c0v, degree) * inv_t
                c[j] = s
                chk += s * zero
        elif kind == _COSINE:
            for j in range(cols):
                s = c[j] * xi * ay[j] * inv_t
                c[j] = s
                chk += s * zero
        else:
            for j in range(cols):
                s = c[j] * inv_t
                c[j] = s
                chk += s * zero
    return chk == zero

@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _pass1_blocks(kind, A, B, ax, ay, g, c0v, degree, inv_t, br, bc, b_lo, b_hi, row_lse, diag, cm, cs, bad):
    """Row blocks b_lo..b_hi-1: row log-sum-exps and diagonal logits (rows of these
    blocks), this thread's column running max cm / sum cs (n,)."""
    n = A.shape[0]
    dt = A.dtype.type
    tile = np.empty(br * bc, A.dtype)
    tcm = np.empty(bc, A.dtype)
    rm = np.empty(br, np.float64)
    rs = np.empty(br, np.float64)
    for b in range(b_lo, b_hi):
        r0 = b * br
        rows = min(br, n - r0)
        for i in range(rows):
            rm[i] = -np.inf
            rs[i] = 0.0
        for c0 in range(0, n, bc):
            cols = min(bc, n - c0)
            np.dot(A[r0:r0 + rows], B[c0:c0 + cols].T, tile[:rows * cols].reshape((rows, cols)))
            if not _logits_tile(kind, tile, rows, cols, ax[r0:r0 + rows], ay[c0:c0 + cols], g, c0v, degree,
                                inv_t):
                bad[0] = 1
                return
            for i in range(rows):
                jd = r0 + i - c0
                if jd >= 0 and jd < cols:
                    diag[r0 + i] = np.float64(tile[i * cols + jd])
            # columns: tile maxima, rescale the running sums, add exp(s - max)
            for j in range(cols):
                tcm[j] = tile[j]
            for i in range(1, rows):
                for j in range(cols):
                    v = tile[i * cols + j]
                    tcm[j] = v if v > tcm[j] else tcm[j]
            for j in range(cols):
                mnew = max(cm[c0 + j], np.float64(tcm[j]))
                cs[c0 + j] *= np.exp(cm[c0 + j] - mnew)
                cm[c0 + j] = mnew
                tcm[j] = dt(mnew)
            for i in range(rows):
                for j in range(cols):
                    cs[c0 + j] += np.float64(_vexp(tile[i * cols + j] - tcm[j]))
            # rows
            for i in range(rows):
                c = tile[i * cols:(i + 1) * cols]
                mt = c[0]
                for j in range(cols):
                    mt = c[j] if c[j] > mt else mt
                mnew = max(rm[i], np.float64(mt))
                mT = dt(mnew)
                s = 0.0
                for j in range(cols):
                    s += np.float64(_vexp(c[j] - mT))
                rs[i] = rs[i] * np.exp(rm[i] - mnew) + s
                rm[i] = mnew
        for i in range(rows):
            row_lse[r0 + i] = rm[i] + np.log(rs[i])

@njit(parallel=True, nogil=True, cache=True)
def _pass1(kind, A, B, ax, ay, g, c0v, degree, inv_t, br, bc, nt, row_lse, diag, cms, css, bad):
    nb = (A.shape[0] + br - 1) // br
    for q in prange(nt):
        _pass1_blocks(kind, A, B, ax, ay, g, c0v, degree, inv_t, br, bc, q * nb // nt, (q + 1) * nb // nt,
                      row_lse, diag, cms[q], css[q], bad[q:q + 1])

@njit(nogil=True, cache=True)
def _merge_columns(cms, css):
    """Column log-sum-exps from the per-thread running max / sum, in thread order."""
    nt, n = cms.shape
    out = np.empty(n, np.float64)
    for j in range(n):
        m = -np.inf
        for t in range(nt):
            m = max(m, cms[t, j])
        s = 0.0
        for t in range(nt):
            s += css[t, j] * np.exp(cms[t, j] - m)
        out[j] = m + np.log(s)
    return out

@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _weights_tile(kind, C, rows, cols, r0, c0, ax, ay, rl, cl, g, c0v, degree, inv_t, scale, hr, hc):
    """C holds <a_i, b_j> on entry and the tile weight W on exit (see
    reference.contrastive); hr[i] / hc[j] += row / column sums of G K (rbf, cosine)."""
    zero = C.dtype.type(0)
    two = C.dtype.type(2)
    wpoly = C.dtype.type(degree * g)
    for i in range(rows):
        c = C[i * cols:(i + 1) * cols]
        jd = r0 + i - c0
        ri = rl[i]
        xi = ax[i]
        if kind == _LINEAR:
            for j in range(cols):
                s = c[j] * inv_t
                d = two if j == jd else zero
                c[j] = scale * (_vexp(s - ri) + _vexp(s - cl[j]) - d)
        elif kind == _POLY:
            for j in range(cols):
                b = g * c[j] + c0v
                bp = _ipow(b, degree - 1) if degree > 1 else C.dtype.type(1)
                s = bp * b * inv_t
                d = two if j == jd else zero
                c[j] = scale * (_vexp(s - ri) + _vexp(s - cl[j]) - d) * (wpoly * bp)
        elif kind == _RBF:
            h = 0.0
            for j in range(cols):
                d2 = xi + ay[j] - two * c[j]
                d2 = zero if d2 < zero else d2
                K = _vexp(-g * d2)
                s = K * inv_t
                d = two if j == jd else zero
                H = scale * (_vexp(s - ri) + _vexp(s - cl[j]) - d) * K
                h += np.float64(H)
                hc[j] += np.float64(H)
                c[j] = two * g * H
            hr[i] += h
        else:  # cosine
            h = 0.0
            for j in range(cols):
                w = xi * ay[j]
                K = c[j] * w
                s = K * inv_t
                d = two if j == jd else zero
                Gv = scale * (_vexp(s - ri) + _vexp(s - cl[j]) - d)
                H = Gv * K
                h += np.float64(H)
                hc[j] += np.float64(H)
                c[j] = Gv * w
            hr[i] += h

@njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
def _pass2_blocks(kind, A, B, ax, ay, rl, cl, g, c0v, degree, inv_t, scale, br, bc, b_lo, b_hi, dA, db, hc):
    """Row blocks b_lo..b_hi-1: their rows of dA (finished here), this thread's dB
    accumulator db (n, k) and column sums hc (n,)."""
    n, k = A.shape
    tile = np.empty(br * bc, A.dtype)
    tmp = np.empty(max(br, bc) * k, A.dtype)
    dacc = np.empty((br, k), np.float64)
    hr = np.empty(br, np.float64)
    for b in range(b_lo, b_hi):
        r0 = b * br
        rows = min(br, n - r0)
        dacc[:rows] = 0.0
        hr[:rows] = 0.0
        for c0 in range(0, n, bc):
            cols = min(bc, n - c0)
            T = tile[:rows * cols].reshape((rows, cols))
            np.dot(A[r0:r0 + rows], B[c0:c0 + cols].T, T)
            _weights_tile(kind, tile, rows, cols, r0, c0, ax[r0:r0 + rows], ay[c0:c0 + cols], rl[r0:r0 + rows],
                          cl[c0:c0 + cols], g, c0v, degree, inv_t, scale, hr, hc[c0:c0 + cols])
            P = tmp[:rows * k].reshape((rows, k))
            np.dot(T, B[c0:c0 + cols], P)
            for i in range(rows):
                for q in range(k):
                    dacc[i, q] += np.float64(P[i, q])
            Q = tmp[:cols * k].reshape((cols, k))
            np.dot(T.T, A[r0:r0 + rows], Q)
            for j in range(cols):
                for q in range(k):
                    db[c0 + j, q] += np.float64(Q[j, q])
        for i in range(rows):
            cr = 0.0
            if kind == _RBF:
                cr = 2.0 * np.float64(g) * hr[i]
            elif kind == _COSINE:
                cr = np.float64(ax[r0 + i]) * np.float64(ax[r0 + i]) * hr[i]
            for q in range(k):
                dA[r0 + i, q] = dacc[i, q] - cr * np.float64(A[r0 + i, q])

@njit(parallel=True, nogil=True, cache=True)
def _pass2(kind, A, B, ax, ay, rl, cl, g, c0v, degree, inv_t, scale, br, bc, nt, dA, dbacc, hcs):
    nb = (A.shape[0] + br - 1) // br
    for q in prange(nt):
        _pass2_blocks(kind, A, B, ax, ay, rl, cl, g, c0v, degree, inv_t, scale, br, bc, q * nb // nt,
                      (q + 1) * nb // nt, dA, dbacc[q], hcs[q])

@njit(nogil=True, cache=True)
def _finish_db(kind, B, ay, g, dbacc, hcs, dB):
    """dB = sum over threads (in order) of the accumulators, minus the diagonal term."""
    nt, n, k = dbacc.shape
    for j in range(n):
        cc = 0.0
        if kind == _RBF or kind == _COSINE:
            h = 0.0
            for t in range(nt):
                h += hcs[t, j]
            if kind == _RBF:
                cc = 2.0 * np.float64(g) * h
            else:
                cc = np.float64(ay[j]) * np.float64(ay[j]) * h
        for q in range(k):
            s = 0.0
            for t in range(nt):
                s += dbacc[t, j, q]
            dB[j, q] = s - cc * np.float64(B[j, q])
