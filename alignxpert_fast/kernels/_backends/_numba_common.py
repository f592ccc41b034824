"""Numba building blocks shared by the Gram and stress kernels: kind codes, fast-math
flag sets and the vectorizable exponential ``_vexp``.

Imported only when Numba loaded (see ``numba_cpu.py``).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit
from numba.extending import overload

from .._spec import KIND_CODES

# kernel kind codes, from the one registry (njit code sees them as constants)
_LINEAR = KIND_CODES["linear"]
_RBF = KIND_CODES["rbf"]
_POLY = KIND_CODES["poly"]
_COSINE = KIND_CODES["cosine"]
_SQEUCLIDEAN = KIND_CODES["sqeuclidean"]
_EUCLIDEAN = KIND_CODES["euclidean"]

# fast-math flag sets (see numba_cpu.py): no "nnan", "ninf", "nsz" or "afn", and no "arcp":
# with it LLVM turns D / sqrt(ee) into an approximate D * rsqrt(ee), which is -inf for a
# denormal ee and off in the last bits otherwise (found by tests/test_properties.py)
_FM_ELEMWISE = {"contract"}
_FM_REDUCE = {"contract", "reassoc"}
_FM_EXP = {"contract"}

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


@njit(nogil=True, cache=True, fastmath=_FM_ELEMWISE)
def _ipow(b, e):
    """b ** e for e >= 1 by repeated squaring (as ``axf::ipow``)."""
    r = b
    e -= 1
    while e > 0:
        if e & 1:
            r *= b
        e >>= 1
        if e:
            b *= b
    return r
