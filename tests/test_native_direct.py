"""Direct calls into the private extension ``alignxpert_fast._native`` with bad arguments
must raise TypeError or ValueError, never crash or write out of bounds.

Each case starts from a call that works (checked first) and changes one argument.
This module fails (it does not skip) when the extension is missing.
"""
from __future__ import annotations

import numpy as np
import pytest

_IMPORT_ERROR = None
try:
    from alignxpert_fast import _native
except ImportError as exc:  # pragma: no cover - a missing build must fail, not skip
    _native = None
    _IMPORT_ERROR = exc

SUFFIX = {np.float32: "f32", np.float64: "f64"}
OTHER = {np.float32: np.float64, np.float64: np.float32}
KIND = {"linear": 0, "rbf": 1, "poly": 2, "cosine": 3, "sqeuclidean": 4, "euclidean": 5}


def test_native_module_imports():
    assert _native is not None, f"alignxpert_fast._native failed to import: {_IMPORT_ERROR!r}"
    for base in ("gram", "kernel_matvec", "stress"):
        for sfx in ("f32", "f64"):
            assert callable(getattr(_native, f"{base}_{sfx}"))
    assert dict(_native.KIND_CODES) == KIND


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def T(request):
    assert _native is not None, f"alignxpert_fast._native failed to import: {_IMPORT_ERROR!r}"
    return request.param


def _arrays(T):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 3)).astype(T)
    Y = rng.standard_normal((5, 3)).astype(T)
    V = rng.standard_normal((5, 2)).astype(T)
    Z = rng.standard_normal((7, 2)).astype(T)
    return X, Y, V, Z


def _noncontig(A):
    big = np.zeros((A.shape[0], 2 * A.shape[1]), dtype=A.dtype)
    big[:, ::2] = A
    return big[:, ::2]


def _readonly(A):
    A = A.copy()
    A.flags.writeable = False
    return A


def _misaligned(A):
    """Same values, data pointer one byte off alignment (NPY_ARRAY_ALIGNED unset)."""
    buf = np.zeros(A.nbytes + 1, dtype=np.uint8)
    M = buf[1:].view(A.dtype).reshape(A.shape)
    M[...] = A
    assert not M.flags.aligned
    return M


# ------------------------------------------------------------------ gram
def _gram_args(T, **over):
    X, Y, _, _ = _arrays(T)
    args = dict(kind=KIND["rbf"], X=X, Y=Y, out=np.empty((7, 5), T), gamma=0.5, coef0=1.0, degree=3,
                symmetric=False, n_threads=1, block_rows=4, block_cols=3)
    args.update(over)
    return list(args.values())


GRAM_BAD = {
    # id: (overrides as a function of T, exception, match)
    "X-wrong-dtype": (lambda T, X, Y: {"X": X.astype(OTHER[T])}, TypeError, r"X must have dtype"),
    "Y-wrong-dtype": (lambda T, X, Y: {"Y": Y.astype(OTHER[T])}, TypeError, r"Y must have dtype"),
    "X-int": (lambda T, X, Y: {"X": X.astype(np.int64)}, TypeError, r"X must have dtype"),
    "X-noncontig": (lambda T, X, Y: {"X": _noncontig(X)}, ValueError, r"X must be C-contiguous"),
    "X-fortran": (lambda T, X, Y: {"X": np.asfortranarray(X)}, ValueError, r"X must be C-contiguous"),
    "X-misaligned": (lambda T, X, Y: {"X": _misaligned(X)}, ValueError, r"X must be aligned"),
    "X-1d": (lambda T, X, Y: {"X": X[0].copy()}, ValueError, r"X must be 2-D"),
    "X-3d": (lambda T, X, Y: {"X": X[None].copy()}, ValueError, r"X must be 2-D"),
    "X-list": (lambda T, X, Y: {"X": X.tolist()}, TypeError, r"X must be a numpy.ndarray, got list"),
    "X-None": (lambda T, X, Y: {"X": None}, TypeError, r"X must be a numpy.ndarray, got NoneType"),
    "Y-None": (lambda T, X, Y: {"Y": None}, TypeError, r"Y must be a numpy.ndarray"),
    "Y-features": (lambda T, X, Y: {"Y": Y[:, :2].copy()}, ValueError, r"same number of columns"),
    "out-shape": (lambda T, X, Y: {"out": np.empty((5, 7), T)}, ValueError, r"out must have shape \(7, 5\)"),
    "out-shape-1d": (lambda T, X, Y: {"out": np.empty(35, T)}, ValueError, r"out must be 2-D"),
    "out-dtype": (lambda T, X, Y: {"out": np.empty((7, 5), OTHER[T])}, TypeError, r"out must have dtype"),
    "out-readonly": (lambda T, X, Y: {"out": _readonly(np.empty((7, 5), T))}, ValueError, r"out must be writeable"),
    "out-noncontig": (lambda T, X, Y: {"out": _noncontig(np.empty((7, 5), T))}, ValueError,
                      r"out must be C-contiguous"),
    "out-None": (lambda T, X, Y: {"out": None}, TypeError, r"out must be a numpy.ndarray"),
    "out-list": (lambda T, X, Y: {"out": [[0.0] * 5] * 7}, TypeError, r"out must be a numpy.ndarray"),
    "kind-99": (lambda T, X, Y: {"kind": 99}, ValueError, r"kernel code must be in 0..5, got 99"),
    "kind--1": (lambda T, X, Y: {"kind": -1}, ValueError, r"kernel code must be in 0..5"),
    "kind-str": (lambda T, X, Y: {"kind": "rbf"}, TypeError, r"incompatible function arguments"),
    "gamma-nan": (lambda T, X, Y: {"gamma": float("nan")}, ValueError, r"gamma must be finite"),
    "gamma-0-rbf": (lambda T, X, Y: {"gamma": 0.0}, ValueError, r"gamma must be > 0"),
    "gamma-neg-rbf": (lambda T, X, Y: {"gamma": -1.0}, ValueError, r"gamma must be > 0"),
    "coef0-inf": (lambda T, X, Y: {"coef0": float("inf")}, ValueError, r"coef0 must be finite"),
    "degree-0-poly": (lambda T, X, Y: {"kind": KIND["poly"], "degree": 0}, ValueError, r"degree must be >= 1"),
    "degree-float": (lambda T, X, Y: {"degree": 2.5}, TypeError, r"incompatible function arguments"),
    "symmetric-not-X": (lambda T, X, Y: {"symmetric": True}, ValueError, r"symmetric=True requires Y to be X"),
    "n_threads-0": (lambda T, X, Y: {"n_threads": 0}, ValueError, r"n_threads must be >= 1, got 0"),
    "n_threads--2": (lambda T, X, Y: {"n_threads": -2}, ValueError, r"n_threads must be >= 1"),
    "n_threads-float": (lambda T, X, Y: {"n_threads": 1.5}, TypeError, r"incompatible function arguments"),
    "n_threads-str": (lambda T, X, Y: {"n_threads": "2"}, TypeError, r"incompatible function arguments"),
    "block_rows-0": (lambda T, X, Y: {"block_rows": 0}, ValueError, r"block_rows must be >= 1"),
    "block_rows-neg": (lambda T, X, Y: {"block_rows": -4}, ValueError, r"block_rows must be >= 1"),
    "block_cols-neg": (lambda T, X, Y: {"block_cols": -1}, ValueError, r"block_cols must be >= 1"),
    "block_cols-None": (lambda T, X, Y: {"block_cols": None}, TypeError, r"incompatible function arguments"),
}


def test_gram_good_call_works(T):
    args = _gram_args(T)
    getattr(_native, f"gram_{SUFFIX[T]}")(*args)
    X, Y, out = args[1], args[2], args[3]
    d2 = ((X[:, None, :].astype(float) - Y[None].astype(float)) ** 2).sum(-1)
    np.testing.assert_allclose(out, np.exp(-0.5 * d2), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", list(GRAM_BAD), ids=list(GRAM_BAD))
def test_gram_bad_arguments(bad, T):
    X, Y, _, _ = _arrays(T)
    over, exc, match = GRAM_BAD[bad]
    args = _gram_args(T, **over(T, X, Y))
    with pytest.raises(exc, match=match):
        getattr(_native, f"gram_{SUFFIX[T]}")(*args)


def test_gram_out_aliasing_input(T):
    S = np.random.default_rng(0).standard_normal((6, 6)).astype(T)
    fn = getattr(_native, f"gram_{SUFFIX[T]}")
    with pytest.raises(ValueError, match=r"out must not share memory with X"):
        fn(KIND["linear"], S, S.copy(), S, 1.0, 0.0, 1, False, 1, 4, 4)
    with pytest.raises(ValueError, match=r"out must not share memory with Y"):
        fn(KIND["linear"], S.copy(), S, S, 1.0, 0.0, 1, False, 1, 4, 4)
    big = np.zeros((12, 6), dtype=T)
    with pytest.raises(ValueError, match=r"out must not share memory with X"):  # partial overlap
        fn(KIND["linear"], big[3:9], S.copy(), big[6:12], 1.0, 0.0, 1, False, 1, 4, 4)


def test_gram_missing_arguments(T):
    X, Y, _, _ = _arrays(T)
    with pytest.raises(TypeError):
        getattr(_native, f"gram_{SUFFIX[T]}")(KIND["rbf"], X, Y)
    with pytest.raises(TypeError):
        getattr(_native, f"gram_{SUFFIX[T]}")()


# ------------------------------------------------------------------ kernel_matvec
def _mv_args(T, **over):
    X, Y, V, _ = _arrays(T)
    args = dict(kind=KIND["rbf"], X=X, Y=Y, V=V, out=np.empty((7, 2), T), gamma=0.5, coef0=1.0, degree=3,
                symmetric=False, n_threads=1, block_rows=4, block_cols=3)
    args.update(over)
    return list(args.values())


MV_BAD = {
    "X-wrong-dtype": (lambda T, X, Y, V: {"X": X.astype(OTHER[T])}, TypeError, r"X must have dtype"),
    "V-wrong-dtype": (lambda T, X, Y, V: {"V": V.astype(OTHER[T])}, TypeError, r"V must have dtype"),
    "X-noncontig": (lambda T, X, Y, V: {"X": _noncontig(X)}, ValueError, r"X must be C-contiguous"),
    "V-noncontig": (lambda T, X, Y, V: {"V": _noncontig(V)}, ValueError, r"V must be C-contiguous"),
    "V-1d": (lambda T, X, Y, V: {"V": V[:, 0].copy()}, ValueError, r"V must be 2-D"),
    "V-rows": (lambda T, X, Y, V: {"V": V[:4].copy()}, ValueError, r"V must have 5 rows"),
    "V-list": (lambda T, X, Y, V: {"V": V.tolist()}, TypeError, r"V must be a numpy.ndarray"),
    "X-list": (lambda T, X, Y, V: {"X": X.tolist()}, TypeError, r"X must be a numpy.ndarray"),
    "Y-None": (lambda T, X, Y, V: {"Y": None}, TypeError, r"Y must be a numpy.ndarray"),
    "Y-features": (lambda T, X, Y, V: {"Y": Y[:, :1].copy()}, ValueError, r"same number of columns"),
    "out-shape": (lambda T, X, Y, V: {"out": np.empty((7, 3), T)}, ValueError, r"out must have shape \(7, 2\)"),
    "out-shape-rows": (lambda T, X, Y, V: {"out": np.empty((6, 2), T)}, ValueError, r"out must have shape"),
    "out-shape-V-None": (lambda T, X, Y, V: {"V": None}, ValueError, r"out must have shape \(7, 1\)"),
    "out-dtype": (lambda T, X, Y, V: {"out": np.empty((7, 2), OTHER[T])}, TypeError, r"out must have dtype"),
    "out-readonly": (lambda T, X, Y, V: {"out": _readonly(np.empty((7, 2), T))}, ValueError,
                     r"out must be writeable"),
    "out-noncontig": (lambda T, X, Y, V: {"out": _noncontig(np.empty((7, 2), T))}, ValueError,
                      r"out must be C-contiguous"),
    "out-None": (lambda T, X, Y, V: {"out": None}, TypeError, r"out must be a numpy.ndarray"),
    "kind-99": (lambda T, X, Y, V: {"kind": 99}, ValueError, r"kernel code must be in 0..5"),
    "gamma-nan": (lambda T, X, Y, V: {"gamma": float("nan")}, ValueError, r"gamma must be finite"),
    "gamma-0-rbf": (lambda T, X, Y, V: {"gamma": 0.0}, ValueError, r"gamma must be > 0"),
    "degree-0-poly": (lambda T, X, Y, V: {"kind": 2, "degree": 0}, ValueError, r"degree must be >= 1"),
    "symmetric-not-X": (lambda T, X, Y, V: {"symmetric": True}, ValueError, r"symmetric=True requires Y to be X"),
    "n_threads-0": (lambda T, X, Y, V: {"n_threads": 0}, ValueError, r"n_threads must be >= 1"),
    "block_rows-neg": (lambda T, X, Y, V: {"block_rows": -1}, ValueError, r"block_rows must be >= 1"),
    "block_cols-0": (lambda T, X, Y, V: {"block_cols": 0}, ValueError, r"block_cols must be >= 1"),
}


def test_kernel_matvec_good_call_works(T):
    args = _mv_args(T)
    getattr(_native, f"kernel_matvec_{SUFFIX[T]}")(*args)
    X, Y, V, out = args[1], args[2], args[3], args[4]
    d2 = ((X[:, None, :].astype(float) - Y[None].astype(float)) ** 2).sum(-1)
    np.testing.assert_allclose(out, np.exp(-0.5 * d2) @ V.astype(float), rtol=1e-5, atol=1e-5)
    # V=None means row sums, into an (n, 1) out
    out1 = np.empty((7, 1), T)
    args = _mv_args(T, V=None, out=out1)
    getattr(_native, f"kernel_matvec_{SUFFIX[T]}")(*args)
    np.testing.assert_allclose(out1[:, 0], np.exp(-0.5 * d2).sum(1), rtol=1e-5)


@pytest.mark.parametrize("bad", list(MV_BAD), ids=list(MV_BAD))
def test_kernel_matvec_bad_arguments(bad, T):
    X, Y, V, _ = _arrays(T)
    over, exc, match = MV_BAD[bad]
    args = _mv_args(T, **over(T, X, Y, V))
    with pytest.raises(exc, match=match):
        getattr(_native, f"kernel_matvec_{SUFFIX[T]}")(*args)


def test_kernel_matvec_out_aliasing(T):
    X, Y, V, _ = _arrays(T)
    fn = getattr(_native, f"kernel_matvec_{SUFFIX[T]}")
    V5 = np.ones((5, 5), T)
    Y5 = np.ones((5, 3), T)
    X5 = np.ones((5, 3), T)
    with pytest.raises(ValueError, match=r"out must not share memory with V"):
        fn(1, X5, Y5, V5, V5, 0.5, 1.0, 3, False, 1, 4, 4)
    Xs = np.ones((7, 2), T)
    with pytest.raises(ValueError, match=r"out must not share memory with X"):
        fn(0, Xs, np.ones((5, 2), T), V, Xs, 1.0, 0.0, 1, False, 1, 4, 4)


# ------------------------------------------------------------------ stress
def _st_args(T, **over):
    X, _, _, Z = _arrays(T)
    args = dict(X=X, Z=Z, grad=np.empty((7, 2), T), n_threads=1, block_rows=4, block_cols=3)
    args.update(over)
    return list(args.values())


ST_BAD = {
    "X-wrong-dtype": (lambda T, X, Z: {"X": X.astype(OTHER[T])}, TypeError, r"X must have dtype"),
    "Z-wrong-dtype": (lambda T, X, Z: {"Z": Z.astype(OTHER[T])}, TypeError, r"Z must have dtype"),
    "X-noncontig": (lambda T, X, Z: {"X": _noncontig(X)}, ValueError, r"X must be C-contiguous"),
    "Z-fortran": (lambda T, X, Z: {"Z": np.asfortranarray(Z)}, ValueError, r"Z must be C-contiguous"),
    "Z-misaligned": (lambda T, X, Z: {"Z": _misaligned(Z)}, ValueError, r"Z must be aligned"),
    "X-1d": (lambda T, X, Z: {"X": X[:, 0].copy()}, ValueError, r"X must be 2-D"),
    "X-list": (lambda T, X, Z: {"X": X.tolist()}, TypeError, r"X must be a numpy.ndarray"),
    "X-None": (lambda T, X, Z: {"X": None}, TypeError, r"X must be a numpy.ndarray"),
    "Z-None": (lambda T, X, Z: {"Z": None}, TypeError, r"Z must be a numpy.ndarray"),
    "rows": (lambda T, X, Z: {"Z": Z[:6].copy(), "grad": np.empty((6, 2), T)}, ValueError,
             r"X and Z must have the same number of rows"),
    "grad-shape": (lambda T, X, Z: {"grad": np.empty((7, 3), T)}, ValueError, r"grad must have Z's shape"),
    "grad-dtype": (lambda T, X, Z: {"grad": np.empty((7, 2), OTHER[T])}, TypeError, r"grad must have dtype"),
    "grad-readonly": (lambda T, X, Z: {"grad": _readonly(np.empty((7, 2), T))}, ValueError,
                      r"grad must be writeable"),
    "grad-noncontig": (lambda T, X, Z: {"grad": _noncontig(np.empty((7, 2), T))}, ValueError,
                       r"grad must be C-contiguous"),
    "grad-alias-Z": (lambda T, X, Z: {"Z": Z, "grad": Z}, ValueError, r"grad must not share memory with Z"),
    "grad-list": (lambda T, X, Z: {"grad": [[0.0, 0.0]] * 7}, TypeError, r"grad must be a numpy.ndarray"),
    "n=1": (lambda T, X, Z: {"X": X[:1].copy(), "Z": Z[:1].copy(), "grad": None}, ValueError,
            r"stress needs at least 2 samples, got n=1"),
    "n=1-grad": (lambda T, X, Z: {"X": X[:1].copy(), "Z": Z[:1].copy(), "grad": np.empty((1, 2), T)}, ValueError,
                 r"stress needs at least 2 samples"),
    "n=0": (lambda T, X, Z: {"X": X[:0].copy(), "Z": Z[:0].copy(), "grad": None}, ValueError,
            r"stress needs at least 2 samples, got n=0"),
    "identical-rows": (lambda T, X, Z: {"X": np.ones((7, 3), T)}, ValueError, r"all rows of X are identical"),
    "n_threads-0": (lambda T, X, Z: {"n_threads": 0}, ValueError, r"n_threads must be >= 1"),
    "n_threads-str": (lambda T, X, Z: {"n_threads": "1"}, TypeError, r"incompatible function arguments"),
    "block_rows-neg": (lambda T, X, Z: {"block_rows": -8}, ValueError, r"block_rows must be >= 1"),
    "block_cols-0": (lambda T, X, Z: {"block_cols": 0}, ValueError, r"block_cols must be >= 1"),
}


def test_stress_good_call_works(T):
    args = _st_args(T)
    value = getattr(_native, f"stress_{SUFFIX[T]}")(*args)
    X, Z = args[0].astype(float), args[1].astype(float)
    from scipy.spatial.distance import pdist

    DX, DZ = pdist(X), pdist(Z)
    assert value == pytest.approx(np.sqrt(np.sum((DX - DZ) ** 2) / np.sum(DX**2)), rel=1e-5)
    assert np.all(np.isfinite(args[2]))


@pytest.mark.parametrize("bad", list(ST_BAD), ids=list(ST_BAD))
def test_stress_bad_arguments(bad, T):
    X, _, _, Z = _arrays(T)
    over, exc, match = ST_BAD[bad]
    args = _st_args(T, **over(T, X, Z))
    with pytest.raises(exc, match=match):
        getattr(_native, f"stress_{SUFFIX[T]}")(*args)


def test_module_still_works_after_errors(T):
    """After the bad calls (and their released-GIL error paths), a good call still works."""
    for bad in ("n=1", "identical-rows"):
        X, _, _, Z = _arrays(T)
        over, exc, _ = ST_BAD[bad]
        with pytest.raises(exc):
            getattr(_native, f"stress_{SUFFIX[T]}")(*_st_args(T, **over(T, X, Z)))
    test_stress_good_call_works(T)
    test_gram_good_call_works(T)


# ------------------------------------------------------------------------ matmul
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("shape", [(37, 21, 5), (1, 1, 1), (16, 33, 2), (50, 3, 0)])
def test_matmul_matches_numpy(T, trans_a, shape):
    """The objective's threaded feature products: every thread count and slab split
    (37 rows: no 16-row slab divides it) equals NumPy's product to rounding."""
    m, p, k = shape
    rng = np.random.default_rng(0)
    A = rng.standard_normal((m, p)).astype(T)
    B = rng.standard_normal((m if trans_a else p, k)).astype(T)
    want = (A.T @ B) if trans_a else (A @ B)
    tol = 1e-5 if T == np.float32 else 1e-12
    for nt in (1, 2, 3):
        out = np.full(want.shape, np.nan, dtype=T)
        getattr(_native, f"matmul_{SUFFIX[T]}")(A, B, out, trans_a, nt)
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0))))


def test_matmul_bad_arguments(T):
    f = getattr(_native, f"matmul_{SUFFIX[T]}")
    A, B = np.ones((6, 4), T), np.ones((4, 3), T)
    out = np.empty((6, 3), T)
    f(A, B, out, False, 2)
    with pytest.raises(ValueError, match="B must have 4 rows"):
        f(A, np.ones((5, 3), T), out, False, 2)
    with pytest.raises(ValueError, match="out must have shape"):
        f(A, B, np.empty((4, 3), T), False, 2)
    with pytest.raises(ValueError, match="B must have 6 rows"):
        f(A, B, np.empty((4, 3), T), True, 2)
    with pytest.raises(TypeError, match="dtype"):
        f(A.astype(OTHER[T]), B, out, False, 2)
    with pytest.raises(ValueError, match="n_threads"):
        f(A, B, out, False, 0)
    with pytest.raises(ValueError, match="must not share memory"):
        f(A, B, A.reshape(-1)[:18].reshape(6, 3), False, 2)  # out inside A's memory
    with pytest.raises(ValueError, match="C-contiguous"):
        f(np.asfortranarray(A), B, out, False, 2)
