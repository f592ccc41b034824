"""Extreme but finite inputs and hyper-parameters (issue 10, items 3, 4 and 5): valid input is
never refused, a result is exact (to the dtype's rounding) or a clear error, nothing hangs."""
from __future__ import annotations

import pickle
import time

import numpy as np
import pytest
from _testing import assert_allclose

import alignxpert_fast as axf
from alignxpert_fast import _native
from alignxpert_fast.kernels import _spec

BACKENDS = ("native", "numba", "reference")


def _unaligned(A):
    """A copy of A whose data pointer is one byte off its dtype's alignment."""
    A = np.ascontiguousarray(A)
    buf = np.zeros(A.nbytes + 1, np.uint8)
    U = np.frombuffer(buf.data, A.dtype, count=A.size, offset=1).reshape(A.shape)
    U[...] = A
    assert not U.flags.aligned
    return U


# ------------------------------------------------------------------- item 3
@pytest.mark.parametrize("backend", BACKENDS)
def test_unaligned_arrays_are_copied_not_refused(backend, dtype, rng):
    X = rng.standard_normal((40, 6)).astype(dtype)
    Y = rng.standard_normal((30, 6)).astype(dtype)
    V = rng.standard_normal((30, 2)).astype(dtype)
    Xu, Yu, Vu = _unaligned(X), _unaligned(Y), _unaligned(V)
    for fn in (axf.rbf_kernel, axf.linear_kernel, axf.cosine_similarity, axf.polynomial_kernel,
               axf.euclidean_distances):
        np.testing.assert_array_equal(fn(Xu, Yu, backend=backend), fn(X, Y, backend=backend))
    np.testing.assert_array_equal(axf.kernel_matvec(Xu, Yu, Vu, backend=backend),
                                  axf.kernel_matvec(X, Y, V, backend=backend))
    Z = X[:, :2].copy()
    assert axf.stress(Xu, _unaligned(Z), backend=backend) == axf.stress(X, Z, backend=backend)
    assert axf.StressCache(Xu, backend=backend).stress(_unaligned(Z)) == axf.StressCache(X, backend=backend).stress(Z)


def test_float32_unpickled_like_dask_workers(rng):
    # pickle protocol 5 out-of-band buffers at odd offsets: what a Dask worker receives
    X = rng.standard_normal((50, 8)).astype(np.float32)
    bufs = []
    data = pickle.dumps(X, protocol=5, buffer_callback=bufs.append)
    raw = bytearray(1) + bytearray(bufs[0].raw())
    X2 = pickle.loads(data, buffers=[memoryview(raw)[1:]])
    assert not X2.flags.aligned
    np.testing.assert_array_equal(axf.euclidean_distances(X2), axf.euclidean_distances(X))
    np.testing.assert_array_equal(axf.kernel_matvec(X2, X2, X2[:, :2].copy()), axf.kernel_matvec(X, X, X[:, :2].copy()))


def test_direct_native_call_still_refuses_unaligned(rng):
    X = _unaligned(rng.standard_normal((8, 3)))
    with pytest.raises(ValueError, match="aligned"):
        _native.gram_f64(0, X, X, np.empty((8, 8)), 1.0, 1.0, 3, True, 1, 8, 8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stress_of_tiny_float32_values_is_not_all_identical(backend, rng):
    X = (rng.random((60, 4)) * 1e-25).astype(np.float32)
    Z = X[:, :2].copy()
    exact = axf.stress(X.astype(np.float64) * 1e25, Z.astype(np.float64) * 1e25, backend="reference")
    assert_allclose(axf.stress(X, Z, backend=backend), exact, np.float32)
    value, grad = axf.stress_and_grad(X, Z, backend=backend)
    _, grad_ref = axf.stress_and_grad(X.astype(np.float64) * 1e25, Z.astype(np.float64) * 1e25, backend="reference")
    assert_allclose(value, exact, np.float32)
    assert_allclose(grad * np.float32(1e-25), grad_ref, np.float32, scale=np.abs(grad_ref).max())
    assert_allclose(axf.StressCache(X, backend=backend).stress(Z), exact, np.float32)


# ------------------------------------------------------------------- item 4
@pytest.mark.parametrize("backend", BACKENDS)
def test_gamma_above_float32_max(backend):
    x = np.array([[0.0], [1.0], [2.0]], np.float32)
    K = axf.rbf_kernel(x, gamma=1e39, backend=backend)
    np.testing.assert_array_equal(K, np.eye(3, dtype=np.float32))
    # exp(-1e39 * (1e-20)^2) = exp(-0.1): only exact if gamma is applied in float64
    K = axf.rbf_kernel(x * np.float32(1e-20), gamma=1e39, backend=backend)
    assert K.dtype == np.float32
    assert_allclose(K, np.exp(-1e39 * (1e-20 * np.subtract.outer([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])) ** 2),
                    np.float32)
    P = axf.polynomial_kernel(x, gamma=1e39, coef0=1.0, degree=1, backend=backend)
    assert P[0, 0] == 1.0 and np.isposinf(P[1, 1])  # 1e39 + 1 does not fit float32: inf, not NaN
    assert not np.isnan(P).any()
    v = axf.kernel_matvec(x, x, np.ones((3, 1), np.float32), gamma=1e39, backend=backend)
    np.testing.assert_array_equal(v.ravel(), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_of_denormal_rows_is_one(backend):
    x32 = np.array([[1e-40, 2e-40], [3e-41, 6e-41], [1.0, 2.0], [0.0, 0.0]], np.float32)
    x64 = np.array([[1e-310, 2e-310], [3e-311, 6e-311], [1.0, 2.0], [0.0, 0.0]])
    for x in (x32, x64):
        K = axf.cosine_similarity(x, backend=backend)
        assert np.isfinite(K).all()
        assert_allclose(K[:3, :3], np.ones((3, 3)), x.dtype, rtol=1e-3, atol=1e-3)  # denormal inputs carry few bits
        np.testing.assert_array_equal(K[3], 0.0)  # zero rows: 0 (scikit-learn's convention)
        r = axf.kernel_matvec(x, x, np.ones((4, 1), x.dtype), kernel="cosine", backend=backend)
        assert_allclose(r[:3, 0], [3.0, 3.0, 3.0], x.dtype, rtol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_euclidean_of_tiny_values(backend):
    x = np.array([[0.0], [5e-25], [2e-24]], np.float32)
    D = axf.euclidean_distances(x, backend=backend)
    exact = np.abs(np.subtract.outer([0.0, 5e-25, 2e-24], [0.0, 5e-25, 2e-24]))
    assert_allclose(D, exact, np.float32, rtol=1e-6, atol=0)
    D2 = axf.euclidean_distances(x, squared=True, backend=backend)
    np.testing.assert_array_equal(D2, (exact ** 2).astype(np.float32))  # underflows to 0 in float32: exact
    y = np.array([[1e-160, -1e-160], [3e-160, 2e-160]])
    assert_allclose(axf.euclidean_distances(y, backend=backend)[0, 1], np.hypot(2e-160, 3e-160), np.float64)
    # squared distance 1e-40 is below float32's normal range; gamma * d^2 = 0.01
    z = np.array([[0.0], [1e-20]], np.float32)
    assert_allclose(axf.rbf_kernel(z, gamma=1e38, backend=backend)[0, 1], np.exp(-0.01), np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stress_with_tiny_x_and_unit_z(backend):
    X, Z = np.array([[0.0], [1e-160]]), np.array([[0.0], [1.0]])
    assert axf.stress(X, Z, backend=backend) == pytest.approx(1e160, rel=1e-12)
    value, grad = axf.stress_and_grad(X, Z, backend=backend)
    assert value == pytest.approx(1e160, rel=1e-12)
    np.testing.assert_allclose(grad.ravel(), [-1e160, 1e160], rtol=1e-12)
    # float32 cannot hold both magnitudes: computed in float64, gradient back in float32
    v32, g32 = axf.stress_and_grad(np.array([[0.0], [1e-30]], np.float32), np.array([[0.0], [1.0]], np.float32),
                                   backend=backend)
    assert v32 == pytest.approx(1e30, rel=1e-6) and g32.dtype == np.float32
    # beyond float64: a clear error, not inf
    with pytest.raises(ValueError, match="differ in scale"):
        axf.stress(np.array([[0.0], [1e-300]]), np.array([[0.0], [1e100]]), backend=backend)


# ------------------------------------------------------------------- item 5
@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_degree_is_fast_and_exact(backend, rng):
    X = rng.random((100, 3))
    t = time.perf_counter()
    K = axf.polynomial_kernel(X, degree=2**31 - 1, gamma=1e-12, coef0=1.0, backend=backend)
    assert time.perf_counter() - t < 10.0  # repeated multiplication took hours
    dots = 1e-12 * (X @ X.T) + 1.0
    assert_allclose(K, np.exp((2**31 - 1) * np.log(dots)), np.float64, rtol=1e-6)
    for deg in (5, 6, 7, 13):
        assert_allclose(axf.polynomial_kernel(X, degree=deg, backend=backend),
                        axf.polynomial_kernel(X, degree=deg, backend="reference"), np.float64)


def test_degree_is_bounded():
    X = np.ones((2, 2))
    assert _spec.MAX_DEGREE == _native.MAX_DEGREE == 2**31 - 1
    with pytest.raises(ValueError, match="degree must be <= 2147483647"):
        axf.polynomial_kernel(X, degree=2**31)
    with pytest.raises(ValueError, match="degree"):
        _native.gram_f64(2, X, X, np.empty((2, 2)), 1.0, 1.0, 0, False, 1, 2, 2)


@pytest.mark.parametrize("fn_name", ["gram", "kernel_matvec", "stress", "stress_pack"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_direct_native_calls_check_finiteness(fn_name, bad):
    X = np.random.default_rng(0).random((6, 3))
    Xb = X.copy()
    Xb[2, 1] = bad
    for dt, suffix in ((np.float64, "f64"), (np.float32, "f32")):
        A, B = X.astype(dt), Xb.astype(dt)
        fn = getattr(_native, f"{fn_name}_{suffix}")
        with pytest.raises(ValueError, match="NaN or inf"):
            if fn_name == "gram":
                fn(1, B, A, np.empty((6, 6), dt), 1.0, 1.0, 3, False, 1, 4, 4)
            elif fn_name == "kernel_matvec":
                fn(1, A, A, B[:, :2].copy(), np.empty((6, 2), dt), 1.0, 1.0, 3, False, 1, 4, 4)
            elif fn_name == "stress":
                fn(A, B[:, :2].copy(), None, 1, 4, 4)
            else:
                fn(B, np.empty((1, _native.packed_total(6, 4)), dt), 1, 4)


def test_direct_native_gamma_must_fit_the_dtype():
    X = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="must fit float32"):
        _native.gram_f32(1, X, X, np.empty((2, 2), np.float32), 1e39, 1.0, 3, False, 1, 2, 2)
    with pytest.raises(ValueError, match="gamma must be finite"):
        X64 = X.astype(np.float64)
        _native.gram_f64(1, X64, X64, np.empty((2, 2)), np.nan, 1.0, 3, False, 1, 2, 2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zscale", [1e-20, 1e-30, 1e-44])
def test_stress_gradient_for_tiny_z_cached_and_uncached(backend, zscale):
    # found by the property tests: Numba's arcp flag turned D / sqrt(ee) into an approximate
    # rsqrt (-inf for denormal ee), and the cache underflowed Z's squares (gradient 0)
    X = np.array([[0.12573022], [-0.13210486]], np.float32)
    Z = (np.array([[1.2573022], [-1.3210486]]) * zscale).astype(np.float32)
    exact_grad = np.array([[-1.0], [1.0]]) / 0.2578351  # d stress / dz = -+ 1 / D here
    for value, grad in (axf.stress_and_grad(X, Z, backend=backend),
                        axf.StressCache(X, backend=backend).stress_and_grad(Z)):
        assert value == pytest.approx(1.0, abs=1e-5)
        assert_allclose(grad, exact_grad, np.float32, rtol=1e-4)
