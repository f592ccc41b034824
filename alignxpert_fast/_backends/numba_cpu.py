"""Numba backend: the C++ core (csrc/axf/*.hpp) rewritten as ``@njit`` kernels.

Same structure as the C++: every tile is one BLAS gemm (``np.dot(A, B, out)`` inside
nopython code, which calls scipy's BLAS) followed by a fused element-wise epilogue.
Threads come from ``prange`` over static chunks of row blocks (one chunk per thread,
like OpenMP's schedule(static)); each thread owns whole output rows, so there are no
atomics, and per-row-block partial sums are added in a fixed order afterwards, so
results do not depend on the thread count.  Scratch is allocated once per thread.

* Gram / distances: a tile is a row panel of X against all of Y, written by gemm
  straight into ``out`` (``np.dot`` can only write a contiguous block, so unlike the
  C++ there are no column tiles: ``block_cols`` is not used) and finished in place.
* ``kernel_matvec`` / row sums: ``block_rows x block_cols`` tiles in per-thread
  scratch, folded into a float64 accumulator (second gemm against the V panel).
* stress (``stress``, and ``stress_pack`` / ``stress_cached`` with a distance cache):
  the upper-triangle row blocks and "snake" schedule of csrc/axf/stress.hpp, D from X's
  tiles or from the packed cache, E and W in cache, W @ Z_J and W^T @ Z_I; the
  gradient goes into per-thread float64 accumulators added in thread order, so it is
  reproducible for a given thread count (the value for any thread count).

Semantics follow ``reference.py`` (the spec): kernel values are computed in the input
dtype (float32 tiles stay float32), norms / row sums / matvec accumulators / stress
sums in float64, squared distances are clamped at 0 (NaN propagates, as with
``np.maximum``), and the diagonal is exactly 1 (rbf) or 0 (distances) when X is Y.

Floating-point flags: never ``fastmath=True`` (it assumes no NaN/inf).  Element-wise
epilogues get ``contract`` + ``arcp``; loops that reduce into float64 also get
``reassoc`` so LLVM can vectorize them (a fixed, thread-count independent order).  The
exponential is a branch-free Cephes-style ``_vexp`` (as csrc/axf/vexp.hpp, but with
gradual underflow) compiled with ``contract`` only, so LLVM vectorizes the RBF epilogue.

Dtype and kernel dispatch happen in Python; kernel codes are passed as ints.  Each call
sets Numba's thread count for its duration (restoring the previous value) and limits
BLAS to one thread, because every Numba thread makes its own gemm calls.  Compiled code
is cached on disk (``cache=True``); the first call per dtype compiles.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .._threads import single_threaded_blas
from .reference import stress_value_floor

NAME = "numba"

try:
    import numba
    from numba import njit, prange
    from numba.extending import overload

    # np.dot in nopython mode calls scipy's BLAS; load it now so that threadpoolctl
    # sees (and can limit) that library, and so a missing scipy is reported here.
    import scipy.linalg.cython_blas  # noqa: F401

    LOAD_ERROR = None
except Exception as exc:  # pragma: no cover - depends on the environment
    numba = None
    LOAD_ERROR = f"{type(exc).__name__}: {exc}"

KIND_CODES = {"linear": 0, "rbf": 1, "poly": 2, "cosine": 3, "sqeuclidean": 4, "euclidean": 5}
_LINEAR, _RBF, _POLY, _COSINE, _SQEUCLIDEAN, _EUCLIDEAN = range(6)

# fast-math flag sets (see module docstring): no "nnan", "ninf", "nsz" or "afn"
_FM_ELEMWISE = {"contract", "arcp"}
_FM_REDUCE = {"contract", "reassoc", "arcp"}
_FM_EXP = {"contract"}

if numba is not None:

    # ------------------------------------------------------------------ exp
    # exp(x) = 2^n * exp(r), n = round(x / ln 2) by the magic-number trick (needs
    # round-to-nearest and *no* reassociation), r reduced with a two-part ln 2,
    # polynomial (float32) or Pade form (float64).  2^n is applied as 2^n1 * 2^n2 with
    # n1 = n >> 1 so results in the subnormal range underflow gradually like libm's.
    # NaN in gives NaN out; below the underflow threshold 0, above overflow inf.

    def _vexp(x):  # pragma: no cover - typing stub, implemented by the overload below
        raise NotImplementedError

    @njit(fastmath=_FM_EXP, nogil=True, cache=True)
    def _vexp32(x):
        lo = np.float32(-104.0)  # exp(-104) < 2**-150: rounds to 0
        hi = np.float32(89.0)  # exp(89) > FLT_MAX
        xc = x if x > lo else lo  # NaN -> lo (fixed below)
        xc = xc if xc < hi else hi
        magic = np.float32(12582912.0)  # 1.5 * 2**23
        t = xc * np.float32(1.44269504088896341) + magic
        n = np.float32(t).view(np.int32) - np.float32(magic).view(np.int32)
        fn = t - magic
        r = xc - fn * np.float32(0.693359375)
        r = r - fn * np.float32(-2.12194440e-4)
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        y = p * (r * r) + r + np.float32(1.0)
        n1 = n >> np.int32(1)
        n2 = n - n1
        s1 = np.int32((n1 + np.int32(127)) << np.int32(23)).view(np.float32)
        s2 = np.int32((n2 + np.int32(127)) << np.int32(23)).view(np.float32)
        res = (y * s1) * s2
        res = np.float32(0.0) if x < lo else res
        res = np.float32(np.inf) if x > hi else res
        return x if x != x else res

    @njit(fastmath=_FM_EXP, nogil=True, cache=True)
    def _vexp64(x):
        lo = -746.0  # exp(-746) < 2**-1075: rounds to 0
        hi = 710.0  # exp(710) > DBL_MAX
        xc = x if x > lo else lo
        xc = xc if xc < hi else hi
        magic = 6755399441055744.0  # 1.5 * 2**52
        t = xc * 1.4426950408889634073599 + magic
        n = np.float64(t).view(np.int64) - np.float64(magic).view(np.int64)
        fn = t - magic
        r = xc - fn * 6.93145751953125e-1
        r = r - fn * 1.42860682030941723212e-6
        rr = r * r
        px = 1.26177193074810590878e-4
        px = px * rr + 3.02994407707441961300e-2
        px = px * rr + 9.99999999999999999910e-1
        px = px * r
        qx = 3.00198505138664455042e-6
        qx = qx * rr + 2.52448340349684104192e-3
        qx = qx * rr + 2.27265548208155028766e-1
        qx = qx * rr + 2.00000000000000000009e0
        y = 1.0 + 2.0 * (px / (qx - px))
        n1 = n >> np.int64(1)
        n2 = n - n1
        s1 = np.int64((n1 + np.int64(1023)) << np.int64(52)).view(np.float64)
        s2 = np.int64((n2 + np.int64(1023)) << np.int64(52)).view(np.float64)
        res = (y * s1) * s2
        res = 0.0 if x < lo else res
        res = np.inf if x > hi else res
        return x if x != x else res

    @overload(_vexp, jit_options={"fastmath": _FM_EXP, "nogil": True, "cache": True})
    def _vexp_overload(x):
        if isinstance(x, numba.types.Float):
            if x.bitwidth == 32:
                return lambda x: _vexp32(x)
            return lambda x: _vexp64(x)
        return None

    # ------------------------------------------------------------------ helpers
    @njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
    def _row_aux(kind, X):
        """Per-row values in X's dtype from squared norms accumulated in float64:
        the squared norms (rbf, distances, stress) or inverse norms (cosine, 0 for a
        zero row).  Zeros for the kernels that need none (linear, poly)."""
        n, d = X.shape
        aux = np.zeros(n, X.dtype)
        if kind == _LINEAR or kind == _POLY:
            return aux
        for i in range(n):  # O(n d), serial: not worth a parallel region
            s = 0.0
            for t in range(d):
                v = np.float64(X[i, t])
                s += v * v
            if kind == _COSINE:
                nr = np.sqrt(s)
                if nr > 0.0:
                    aux[i] = 1.0 / nr
            else:
                aux[i] = s
        return aux

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
            for _ in range(1, degree):  # one vectorized pass per extra factor
                for j in range(cols):
                    c[j] *= base[j]
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
    def _cached_row(D, dz, zi, zj, tol_z):
        """One tile row against cached distances D: dz holds <z_i, z_j> on entry and
        w_ij on exit.  Returns the float64 sums of (D - E)^2, D^2 and w."""
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
            snum += diff * diff
            sden += np.float64(Dj) * np.float64(Dj)
            w = one - Dj / E if E > zero else zero
            dz[j] = w
            sw += np.float64(w)
        return snum, sden, sw

    @njit(nogil=True, cache=True, fastmath=_FM_REDUCE)
    def _sym_blocks(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, g, ws, part_num, part_den, br, bc, tol_z,
                    nt, q):
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
                    snum, sden, sw = _cached_row(Drow, dz, zi, zj, tol_z)
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
                    tol_z, nt):
        """Stress partial sums over the upper triangle; thread q owns gacc[q], wsum[q]."""
        for q in prange(nt):
            _sym_blocks(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, gacc[q], wsum[q], part_num, part_den,
                        br, bc, tol_z, nt, q)

    @njit(nogil=True, cache=True)
    def _sum_threads(A):
        """Column sums of A (threads x m) added in thread order."""
        out = np.zeros(A.shape[1], np.float64)
        for t in range(A.shape[0]):
            for j in range(A.shape[1]):
                out[j] += A[t, j]
        return out

# ---------------------------------------------------------------------- Python side
def _require():
    if numba is None:
        raise ImportError(f"the numba backend is not available: {LOAD_ERROR}")


@contextlib.contextmanager
def _numba_threads(n_threads):
    """Run Numba parallel regions with ``n_threads`` threads (capped by
    NUMBA_NUM_THREADS), restoring the caller's setting afterwards."""
    prev = numba.get_num_threads()
    nt = max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    try:
        numba.set_num_threads(nt)
        yield nt
    finally:
        numba.set_num_threads(prev)


def _aux_pair(code, X, Y, symmetric):
    ax = _row_aux(code, X)
    return ax, (ax if (symmetric and Y is X) else _row_aux(code, Y))


def _scalars(dtype, gamma, coef0, degree):
    dt = np.dtype(dtype).type
    return dt(gamma), dt(coef0), int(degree)


def _kind_code(kernel):
    try:
        return KIND_CODES[kernel]
    except KeyError:
        raise ValueError(f"unknown kernel {kernel!r}") from None


def gram(kernel, X, Y, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    _require()
    code = _kind_code(kernel)
    n, m = X.shape[0], Y.shape[0]
    if n == 0 or m == 0:
        return
    g, c0v, deg = _scalars(X.dtype, gamma, coef0, degree)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        # Row panels span all m columns (np.dot can only write a contiguous block, and
        # a full-width panel is one gemm straight into ``out``): block_cols is not used.
        # Panels are cut to at most ceil(n / threads) rows so every thread gets work.
        br = max(1, min(int(block_rows), n, -(-n // nt)))
        ax, ay = _aux_pair(code, X, Y, symmetric)
        _gram(code, X, Y, out, ax, ay, g, c0v, deg, bool(symmetric), nt, br)


def kernel_matvec(kernel, X, Y, V, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    _require()
    code = _kind_code(kernel)
    n, m = X.shape[0], Y.shape[0]
    if n == 0:
        return
    if m == 0:
        out[...] = 0
        return
    br = max(1, min(int(block_rows), n))
    bc = max(1, min(int(block_cols), m))
    g, c0v, deg = _scalars(X.dtype, gamma, coef0, degree)
    has_v = V is not None
    Vb = V if has_v else np.zeros((0, 1), X.dtype)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        ax, ay = _aux_pair(code, X, Y, symmetric)
        _kernel_matvec(code, X, Y, Vb, has_v, out, ax, ay, g, c0v, deg, bool(symmetric), nt, br, bc)


def _noise_floor(dtype, dim):
    """Same rule as csrc/axf/stress.hpp noise_floor (in the working dtype)."""
    return dtype.type(8.0 * float(np.finfo(dtype).eps) * np.sqrt(max(dim, 1)))


def stress(X, Z, grad, *, n_threads, block_rows, block_cols):
    """Normalized stress of X (n, d) vs Z (n, k) over the upper triangle, distances formed
    tile by tile; fills grad (n, k) if given.  Returns (value, num, den) as
    ``reference.stress``."""
    _require()
    return _stress_upper(None, X, Z, grad, n_threads, block_rows, block_cols)


def _stress_upper(D, X, Z, grad, n_threads, block_rows, block_cols):
    """The stress driver of :func:`stress` (D is None: X's tiles) and
    :func:`stress_cached` (X is None: the packed cache D).  The value does not depend on
    the thread count; the gradient is bit-for-bit reproducible for a given thread count
    (per-thread accumulators added in thread order)."""
    n, k = Z.shape
    if n < 2:
        raise ValueError(f"stress needs at least 2 samples, got n={n}")
    br = max(1, min(int(block_rows), n))
    bc = max(1, min(int(block_cols), n))
    off = _packed_offsets(n, br)
    use_cache = D is not None
    if use_cache and D.shape[0] != off[-1]:
        raise ValueError(f"D must have {int(off[-1])} entries for n={n} and block_rows={block_rows}, "
                         f"got {D.shape[0]}")
    nbr = off.shape[0] - 1
    want_grad = grad is not None
    part_num = np.zeros(nbr, np.float64)
    part_den = np.zeros(nbr, np.float64)
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        nt = min(nt, nbr)
        gacc = np.zeros((nt, n * k if want_grad else 0), np.float64)
        wsum = np.zeros((nt, n if want_grad else 0), np.float64)
        zs = _row_aux(_SQEUCLIDEAN, Z)
        if use_cache:
            X, xs, tol_x = np.empty((0, 1), Z.dtype), np.empty(0, Z.dtype), Z.dtype.type(0)
        else:
            D, xs, tol_x = np.empty(0, Z.dtype), _row_aux(_SQEUCLIDEAN, X), _noise_floor(X.dtype, X.shape[1])
        _stress_sym(D, X, xs, tol_x, use_cache, Z, zs, off, want_grad, gacc, wsum, part_num, part_den, br, bc,
                    _noise_floor(Z.dtype, k), nt)
        if want_grad:
            wsum, gacc = _sum_threads(wsum), _sum_threads(gacc)
        return _stress_result(part_num, part_den, Z, grad, wsum, gacc)


def _stress_result(part_num, part_den, Z, grad, wsum, gacc):
    """(value, num, den) from the per-row-block sums, added in block order (independent of
    the thread count), and the gradient from wsum and gacc when grad is given."""
    num = 0.0
    den = 0.0
    for b in range(part_num.shape[0]):
        num += float(part_num[b])
        den += float(part_den[b])
    if not den > 0:
        raise ValueError("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)")
    value = float(np.sqrt(num / den))
    if grad is not None:
        scale = 1.0 / (value * den * 0.5) if value > stress_value_floor(Z.dtype) else 0.0
        _stress_grad_finish(Z, wsum, gacc, scale, grad)
    return value, num, den


def _packed_offsets(n, br):
    """reference.packed_offsets(n, br) as an int64 array."""
    r0 = np.arange(0, n, br, dtype=np.int64)
    off = np.zeros(r0.shape[0] + 1, np.int64)
    np.cumsum(np.minimum(br, n - r0) * (n - r0), out=off[1:])
    return off


def stress_pack(X, out, *, n_threads, block_rows):
    """Fill ``out`` (1-D, ``reference.packed_offsets(n, block_rows)[-1]`` entries) with
    the distances of X in packed upper row blocks (the diagonal is exactly 0)."""
    _require()
    n = X.shape[0]
    br = max(1, min(int(block_rows), n))
    off = _packed_offsets(n, br)
    if out.shape[0] != off[-1]:
        raise ValueError(f"out must have {int(off[-1])} entries for n={n} and block_rows={block_rows}, "
                         f"got {out.shape[0]}")
    if n == 0:
        return
    with single_threaded_blas(), _numba_threads(n_threads) as nt:
        nt = min(nt, off.shape[0] - 1)
        xs = _row_aux(_SQEUCLIDEAN, X)
        _stress_pack(X, xs, out, off, br, _noise_floor(X.dtype, X.shape[1]), nt)


def stress_cached(D, Z, grad, *, n_threads, block_rows, block_cols):
    """Stress of the packed distances D (see :func:`stress_pack`, same block_rows)
    against Z (n, k); fills grad (n, k) if given.  Returns (value, num, den) as
    :func:`stress`."""
    _require()
    return _stress_upper(D, None, Z, grad, n_threads, block_rows, block_cols)
