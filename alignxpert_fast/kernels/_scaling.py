"""Exact power-of-two rescaling where squares would under- or overflow.

The kernels form squared norms, dot products and ``gamma * d^2`` in the input dtype.
For finite inputs that are tiny (float32 values near 1e-20, denormal rows) the squares
underflow and the results come out 0, NaN or "all rows identical"; a ``gamma`` or
``coef0`` above the float32 maximum becomes inf.  Multiplying by a power of two is
exact (away from the denormal range), so the planner rescales instead:

* translation-invariant kernels (rbf, distances): X and Y by ``2**-e`` so their largest
  entry is in [0.5, 1); gamma becomes ``gamma * 4**e`` and distances are scaled back;
* cosine: each tiny row by its own power of two (cosine ignores row norms);
* float32 with gamma or coef0 beyond float32: computed in float64, cast back;
* stress: X and Z by one common power of two (the stress is invariant under a common
  scale) placed between their magnitudes; when float32 cannot hold both, float64; when
  float64 cannot either, a ValueError that says so.
"""
from __future__ import annotations

import numpy as np


def _amax(*arrays):
    return max((float(np.max(np.abs(a))) if a.size else 0.0) for a in arrays)


def _exponent(amax):
    """e with amax * 2**-e in [0.5, 1) (amax > 0)."""
    return int(np.frexp(amax)[1])


def tiny_bound(dtype):
    """Entries whose magnitude is below this leave too few bits in their squares: the
    square root of the smallest normal number, times 2**8."""
    fi = np.finfo(dtype)
    return float(np.sqrt(fi.tiny)) * 256.0


def params_fit(dtype, params):
    """True when gamma and coef0 are representable in ``dtype``."""
    mx = float(np.finfo(dtype).max)
    return abs(params.get("gamma", 1.0)) <= mx and abs(params.get("coef0", 0.0)) <= mx


def _scale_rows(A, lower):
    """Rows whose largest entry is below ``lower`` scaled by their own power of two."""
    amax = np.max(np.abs(A), axis=1) if A.size else np.zeros(A.shape[0])
    bad = (amax > 0) & (amax < lower)
    if not bad.any():
        return A
    _, e = np.frexp(amax[bad])
    A = A.copy()
    A[bad] = np.ldexp(A[bad], (-e)[:, None].astype(np.int32)).astype(A.dtype, copy=False)
    return A


def scale_inputs(kernel, X, Y, symmetric, params):
    """(X, Y, params, out_exp): inputs rescaled where their squares would underflow;
    the caller multiplies the output by ``2**out_exp`` (distances only)."""
    lower = tiny_bound(X.dtype)
    if kernel == "cosine":
        X = _scale_rows(X, lower)
        return X, (X if symmetric else _scale_rows(Y, lower)), params, 0
    if kernel not in ("rbf", "sqeuclidean", "euclidean"):
        return X, Y, params, 0
    amax = _amax(X) if symmetric else _amax(X, Y)
    if amax == 0.0 or amax >= lower:
        return X, Y, params, 0
    e = _exponent(amax)
    X = np.ldexp(X, -e).astype(X.dtype, copy=False)
    Y = X if symmetric else np.ldexp(Y, -e).astype(X.dtype, copy=False)
    params = dict(params)
    if kernel == "rbf":  # gamma * |x - y|^2 is unchanged; a gamma that underflows acts as 0
        params["gamma"] = max(float(np.ldexp(params["gamma"], 2 * e)), float(np.finfo(X.dtype).tiny))
        return X, Y, params, 0
    return X, Y, params, (2 * e if kernel == "sqeuclidean" else e)


def stress_scale(X, Z):
    """(X, Z, e): centered X and Z multiplied by ``2**-e`` so their squared distances
    neither underflow nor overflow (X's, the denominator, must not underflow; Z's are
    kept above the denormal range when both fit); the stress is
    unchanged and its gradient is the computed one times ``2**-e``.  Returns e = None
    when ``X.dtype`` cannot hold both magnitudes (the caller retries in float64)."""
    ax, az = _amax(X), _amax(Z)
    if ax == 0.0:
        return X, Z, 0  # all rows identical: the backend says so
    fi = np.finfo(X.dtype)
    high = float(np.sqrt(fi.max / (16.0 * max(X.shape[1], Z.shape[1], 1))))
    lower = tiny_bound(X.dtype)
    if lower <= ax and (az == 0.0 or lower <= az) and max(ax, az) <= high:
        return X, Z, 0  # the usual case: no copy
    ex = _exponent(ax)
    ez = _exponent(az) if az > 0 else ex
    e = (ex + ez) // 2
    low = float(np.sqrt(fi.tiny / fi.eps))  # X's largest distance squared stays above tiny / eps
    if not (low <= np.ldexp(ax, -e) and np.ldexp(max(ax, az), -e) <= high):
        return X, Z, None
    if e == 0:
        return X, Z, 0
    return np.ldexp(X, -e).astype(X.dtype, copy=False), np.ldexp(Z, -e).astype(Z.dtype, copy=False), e


def scale_back(out, exp):
    """out *= 2**exp in place (exact unless the result under- or overflows)."""
    if exp:
        np.ldexp(out, exp, out=out, casting="unsafe")
    return out
