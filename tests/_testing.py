"""Test helpers: the per-dtype tolerance table, a dtype-aware assert_allclose, finite
differences, data makers and the backend registry as the tests see it.

Tolerances
----------
``TOLERANCES[dtype]`` is used for every "same quantity, two computations" comparison
(backend vs reference, reference vs oracle / scikit-learn / SciPy, invariance under
blocking, threads, memory layout).  An entry compares

    |actual - desired| <= atol * scale + rtol * |desired|

where ``scale`` is the largest magnitude of the expected array (so ``atol`` is relative
to the data's own scale: a float32 kernel_matvec whose entries are ~30 is allowed an
absolute error of ~30 * atol, not 1 * atol).  float32 results are always compared with
a float64 expected value computed from the same (float32-representable) inputs.

================  ========  ========  ====================================================
dtype             rtol      atol      why
================  ========  ========  ====================================================
float64           1e-12     1e-12     the accuracy kernels.py documents ("about 1e-12");
                                      the whole suite also passes at 1e-13
float32           1e-5      1e-5      the accuracy kernels.py documents ("about 1e-5");
                                      eps32 = 1.2e-7, poly degree 3-5 and sums over a few
                                      hundred terms lose ~1 digit; suite passes at 2e-6
================  ========  ========  ====================================================

The cancellation tests (float32 data at 1e4 or 1e6, compared with the float64
reference of the exactly un-offset data) use the same float32 row: the package centers
translation-invariant inputs in float64, so the error is relative to the data's spread,
not to its offset (measured <2e-7; uncentered float32 would be off by 0.3 at 1e4).
"""
from __future__ import annotations

import numpy as np

from alignxpert_fast.kernels._dispatch import BACKEND_NAMES, backend_status

# backends that must load; a missing one is a test failure, never a skip
REQUIRED_BACKENDS = ("native", "reference", "numba")
# backends whose absence makes every test that uses the ``backend`` fixture fail (not
# only the dedicated availability test); see conftest.backend
FAIL_EVERYWHERE_IF_MISSING = ("native", "reference")

TOLERANCES = {
    np.dtype(np.float64): {"rtol": 1e-12, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-5},
}


def tolerance(dtype, table=None):
    return dict((table or TOLERANCES)[np.dtype(dtype)])


def assert_allclose(actual, desired, dtype=None, *, scale=None, table=None, rtol=None, atol=None, err_msg=""):
    """Compare ``actual`` with ``desired`` using the tolerance of ``dtype``.

    ``dtype`` defaults to ``actual.dtype``.  ``atol`` (from the table unless given) is
    multiplied by ``scale``, by default ``max |desired|`` (1 if that is 0).
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    dt = np.dtype(dtype) if dtype is not None else actual.dtype
    if dt.kind != "f":
        dt = np.dtype(np.float64)
    tol = tolerance(dt, table)
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    assert actual.shape == desired.shape, f"shape {actual.shape} != expected {desired.shape}. {err_msg}"
    if scale is None:
        scale = float(np.max(np.abs(desired))) if desired.size else 1.0
        if not scale > 0:
            scale = 1.0
    np.testing.assert_allclose(
        actual.astype(np.float64),
        desired.astype(np.float64),
        rtol=tol["rtol"],
        atol=tol["atol"] * scale,
        err_msg=f"dtype={dt.name} rtol={tol['rtol']} atol={tol['atol']}*scale({scale:.3g}). {err_msg}",
    )


def assert_distances_allclose(actual, desired, dtype=None, **kw):
    """Compare Euclidean distances through their squares.

    Distances come from the norm trick ``sqrt(|x|^2 + |y|^2 - 2 <x, y>)``, whose squared
    value has an absolute error of about ``eps * scale^2``; the square root turns that
    into ``sqrt(eps) * scale`` for (near-)coincident points (scikit-learn has the same).
    Comparing squares with the usual tolerance states exactly that bound: relative
    accuracy for distances of the order of the data, ``sqrt(tol) * scale`` near 0.
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    assert np.all(actual >= 0), "distances must be >= 0"
    a64, d64 = actual.astype(np.float64), desired.astype(np.float64)
    assert_allclose(a64 * a64, d64 * d64, dtype if dtype is not None else actual.dtype, **kw)


def central_differences(f, Z, eps=1e-6):
    """Central finite-difference gradient of the scalar function ``f`` at ``Z`` (float64).

    Error O(eps^2 * f''') + O(eps_machine * |f| / eps): about 1e-9 for eps=1e-6 here.
    """
    Z = np.array(Z, dtype=np.float64)
    G = np.zeros_like(Z)
    flat, g = Z.reshape(-1), G.reshape(-1)
    for idx in range(flat.size):
        old = flat[idx]
        flat[idx] = old + eps
        fp = f(Z)
        flat[idx] = old - eps
        fm = f(Z)
        flat[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return G


# ------------------------------------------------------------------ data
def make_data(rng, n, d, dtype=np.float64, *, offset=0.0, scale=1.0):
    """Standard normal data (times ``scale``) in ``dtype``, shifted by ``offset``."""
    X = rng.standard_normal((n, d)) * scale + offset
    return X.astype(dtype)


def unoffset(X32, offset):
    """The float32 data ``X32`` shifted back by ``offset``, exactly, in float64."""
    return X32.astype(np.float64) - offset


def with_zero_rows(X, rows=(0,)):
    X = X.copy()
    X[list(rows)] = 0
    return X


def as_fortran(X):
    return np.asfortranarray(X)


def as_strided_view(X):
    """A non-contiguous view with the same values as X (every other row and column of
    a larger buffer, filled with NaN elsewhere so a wrong stride would show)."""
    n, d = X.shape
    big = np.full((2 * n, 3 * d), np.nan, dtype=X.dtype)
    big[::2, ::3] = X
    V = big[::2, ::3]
    assert not V.flags.c_contiguous and not V.flags.f_contiguous
    return V


def as_strided_vector(v):
    big = np.full(2 * v.shape[0], np.nan, dtype=v.dtype)
    big[::2] = v
    return big[::2]


# ------------------------------------------------------------------ backends
def available_backends():
    return [name for name, (ok, _err) in backend_status().items() if ok]


def all_backends():
    return list(BACKEND_NAMES)
