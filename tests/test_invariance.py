"""Results must not depend on how the work is cut or laid out in memory.

Block sizes (1, 7, default; n and m not multiples of 7), n_threads 1 vs 2, Y=None vs
an equal copy, C vs Fortran order vs strided views, k > d for the stress, and float32
inputs far from the origin (cancellation) against the float64 reference computed on
the exactly un-offset data.
"""
from __future__ import annotations

import numpy as np
import oracles
import pytest
from _testing import (
    as_fortran,
    as_strided_vector,
    as_strided_view,
    assert_allclose,
    assert_distances_allclose,
    make_data,
    unoffset,
)

import alignxpert_fast as axf

N, M, D = 37, 23, 5  # neither is a multiple of 7
assert N % 7 and M % 7

OPS = {
    "rbf": lambda X, Y, **kw: axf.rbf_kernel(X, Y, gamma=0.3, **kw),
    "poly": lambda X, Y, **kw: axf.polynomial_kernel(X, Y, degree=3, gamma=0.2, coef0=0.5, **kw),
    "linear": lambda X, Y, **kw: axf.linear_kernel(X, Y, **kw),
    "cosine": lambda X, Y, **kw: axf.cosine_similarity(X, Y, **kw),
    "euclidean": lambda X, Y, **kw: axf.euclidean_distances(X, Y, **kw),
    "sqeuclidean": lambda X, Y, **kw: axf.euclidean_distances(X, Y, squared=True, **kw),
    "matvec-rbf": lambda X, Y, V, **kw: axf.kernel_matvec(X, Y, V, "rbf", gamma=0.3, **kw),
    "matvec-poly": lambda X, Y, V, **kw: axf.kernel_matvec(X, Y, V, "poly", degree=2, **kw),
    "matvec-cosine": lambda X, Y, V, **kw: axf.kernel_matvec(X, Y, V, "cosine", **kw),
    "rowsums-rbf": lambda X, Y, **kw: axf.kernel_row_sums(X, Y, "rbf", **kw),
    "rowsums-linear": lambda X, Y, **kw: axf.kernel_row_sums(X, Y, "linear", **kw),
}
GRAM_OPS = ["rbf", "poly", "linear", "cosine", "euclidean", "sqeuclidean"]
MATVEC_OPS = ["matvec-rbf", "matvec-poly", "matvec-cosine"]
ROWSUM_OPS = ["rowsums-rbf", "rowsums-linear"]
ALL_OPS = GRAM_OPS + MATVEC_OPS + ROWSUM_OPS


@pytest.fixture(autouse=True)
def _threads_even_for_small_work(monkeypatch):
    """The public layer runs small calls on one thread; force real thread teams here."""
    from alignxpert_fast.kernels import _plan as _blocking

    monkeypatch.setattr(_blocking, "MIN_WORK_PER_THREAD", 1)


def _close(op, got, expected, dtype, **kw):
    """Plain Euclidean distances are compared through their squares (see _testing)."""
    (assert_distances_allclose if op == "euclidean" else assert_allclose)(got, expected, dtype, **kw)


def _call(op, X, Y, V, **kw):
    if op in MATVEC_OPS:
        return OPS[op](X, Y, V, **kw)
    return OPS[op](X, Y, **kw)


@pytest.fixture
def data(rng, dtype):
    X = make_data(rng, N, D, dtype)
    Y = make_data(rng, M, D, dtype)
    V = make_data(rng, M, 2, dtype)
    VX = make_data(rng, N, 2, dtype)  # for Y=None
    return X, Y, V, VX


BLOCKS = [(1, 1), (1, None), (None, 1), (7, 7), (7, 3), (5, 11), (1000, 1000)]


# ------------------------------------------------------------------ block sizes
@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_block_size_invariance(op, symmetric, backend, data, dtype):
    X, Y, V, VX = data
    Yarg, Varg = (None, VX) if symmetric else (Y, V)
    default = _call(op, X, Yarg, Varg, backend=backend)
    for br, bc in BLOCKS:
        got = _call(op, X, Yarg, Varg, backend=backend, block_rows=br, block_cols=bc)
        assert got.dtype == default.dtype and got.shape == default.shape
        _close(op, got, default, dtype, err_msg=f"block_rows={br} block_cols={bc}")
    if op in GRAM_OPS and symmetric and op in ("rbf", "euclidean", "sqeuclidean"):
        got = _call(op, X, Yarg, Varg, backend=backend, block_rows=7, block_cols=3)
        assert np.all(np.diag(got) == (1 if op == "rbf" else 0))


@pytest.mark.parametrize("shape", [(N, 3, 2), (N, 3, 7)], ids=["k<d", "k>d"])
def test_stress_block_size_invariance(shape, backend, dtype, rng):
    n, d, k = shape
    X, Z = make_data(rng, n, d, dtype), make_data(rng, n, k, dtype)
    v0 = axf.stress(X, Z, backend=backend)
    g0 = axf.stress_and_grad(X, Z, backend=backend)[1]
    for br, bc in BLOCKS:
        v = axf.stress(X, Z, backend=backend, block_rows=br, block_cols=bc)
        v2, g = axf.stress_and_grad(X, Z, backend=backend, block_rows=br, block_cols=bc)
        assert_allclose(v, v0, dtype, err_msg=f"block_rows={br} block_cols={bc}")
        assert_allclose(v2, v0, dtype)
        assert_allclose(g, g0, dtype, err_msg=f"block_rows={br} block_cols={bc}")
    assert_allclose(v0, oracles.stress(X, Z), dtype)


# ------------------------------------------------------------------ threads
@pytest.mark.parametrize("op", ALL_OPS)
def test_n_threads_invariance(op, backend, data, dtype):
    """With fixed tiles, 1 and 2 threads give bit-identical results (threads own whole
    tiles / row blocks and partial sums are added in a fixed order); with the default
    tiles (which depend on the thread count) they agree within the tolerance."""
    X, Y, V, _ = data
    fixed = dict(block_rows=7, block_cols=9)
    r1 = _call(op, X, Y, V, backend=backend, n_threads=1, **fixed)
    r2 = _call(op, X, Y, V, backend=backend, n_threads=2, **fixed)
    np.testing.assert_array_equal(r1, r2)
    d1 = _call(op, X, Y, V, backend=backend, n_threads=1)
    d2 = _call(op, X, Y, V, backend=backend, n_threads=2)
    dall = _call(op, X, Y, V, backend=backend, n_threads=-1)
    _close(op, d2, d1, dtype)
    _close(op, dall, d1, dtype)
    _close(op, r1, d1, dtype)


@pytest.mark.parametrize("shape", [(N, 3, 2), (150, 4, 6)], ids=["k<d", "k>d"])
def test_stress_n_threads_invariance(shape, backend, dtype, rng):
    n, d, k = shape
    X, Z = make_data(rng, n, d, dtype), make_data(rng, n, k, dtype)
    fixed = dict(block_rows=16, block_cols=32)
    v1, g1 = axf.stress_and_grad(X, Z, backend=backend, n_threads=1, **fixed)
    v2, g2 = axf.stress_and_grad(X, Z, backend=backend, n_threads=2, **fixed)
    # the value's partial sums are per row block: bit-identical for any thread count
    assert v1 == v2
    # gradient rows also collect the mirror tiles of other row blocks, summed per thread:
    # bit-identical for a given thread count, equal within the tolerance across counts
    v2b, g2b = axf.stress_and_grad(X, Z, backend=backend, n_threads=2, **fixed)
    assert v2b == v2
    np.testing.assert_array_equal(g2b, g2)
    assert_allclose(g2, g1, dtype)
    assert axf.stress(X, Z, backend=backend, n_threads=1, **fixed) == axf.stress(
        X, Z, backend=backend, n_threads=2, **fixed
    )
    vd1 = axf.stress(X, Z, backend=backend, n_threads=1)
    vd2, gd2 = axf.stress_and_grad(X, Z, backend=backend, n_threads=2)
    assert_allclose(vd2, vd1, dtype)
    assert_allclose(gd2, g1, dtype)


# ------------------------------------------------------------------ Y=None vs a copy
@pytest.mark.parametrize("op", ALL_OPS)
def test_y_none_vs_equal_copy(op, backend, data, dtype):
    X, _, _, VX = data
    a = _call(op, X, None, VX, backend=backend)
    b = _call(op, X, X.copy(), VX, backend=backend)
    c = _call(op, X, X, VX, backend=backend)  # Y is X: the symmetric path too
    np.testing.assert_array_equal(a, c)
    # for "euclidean" the copy's diagonal is the norm trick's rounding error amplified
    # by sqrt (~sqrt(eps) * scale, as in scikit-learn): _close compares squares
    _close(op, b, a, dtype)


# ------------------------------------------------------------------ memory layout
LAYOUTS = {"fortran": as_fortran, "strided": as_strided_view}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("op", ALL_OPS)
def test_memory_layout_invariance(op, layout, backend, data):
    """Fortran-ordered and strided inputs are copied to C order: bit-identical results."""
    X, Y, V, _ = data
    conv = LAYOUTS[layout]
    expected = _call(op, X, Y, V, backend=backend)
    got = _call(op, conv(X), conv(Y), conv(V), backend=backend)
    np.testing.assert_array_equal(got, expected)
    # one argument at a time
    np.testing.assert_array_equal(_call(op, conv(X), Y, V, backend=backend), expected)
    np.testing.assert_array_equal(_call(op, X, conv(Y), V, backend=backend), expected)
    if op in MATVEC_OPS:
        np.testing.assert_array_equal(_call(op, X, Y, conv(V), backend=backend), expected)
    # Y=None with a non-contiguous X
    if op not in MATVEC_OPS:
        np.testing.assert_array_equal(
            _call(op, conv(X), None, None, backend=backend), _call(op, X, None, None, backend=backend)
        )


def test_memory_layout_vector_v(backend, data):
    X, Y, V, _ = data
    v = V[:, 0].copy()
    expected = axf.kernel_matvec(X, Y, v, "rbf", backend=backend)
    np.testing.assert_array_equal(axf.kernel_matvec(X, Y, as_strided_vector(v), "rbf", backend=backend), expected)
    np.testing.assert_array_equal(axf.kernel_matvec(X, Y, V[:, 0], "rbf", backend=backend), expected)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_stress_memory_layout_invariance(layout, backend, dtype, rng):
    conv = LAYOUTS[layout]
    X, Z = make_data(rng, N, 4, dtype), make_data(rng, N, 2, dtype)
    v, g = axf.stress_and_grad(X, Z, backend=backend)
    v2, g2 = axf.stress_and_grad(conv(X), conv(Z), backend=backend)
    assert v2 == v
    np.testing.assert_array_equal(g2, g)
    assert axf.stress(conv(X), conv(Z), backend=backend) == axf.stress(X, Z, backend=backend)


# ------------------------------------------------------------------ cancellation
def _offset_data(rng, n, d, offset, scale=1.0):
    X32 = make_data(rng, n, d, np.float32, offset=offset, scale=scale)
    return X32, unoffset(X32, offset)


def _offset_inputs(rng, symmetric, offset, scale=1.0):
    """Offset float32 X, Y (Y None when symmetric) and their exact float64 twins."""
    X32, X64 = _offset_data(rng, N, D, offset, scale=scale)
    Y32, Y64 = _offset_data(rng, M, D, offset, scale=scale)
    return (X32, X64) + ((None, None) if symmetric else (Y32, Y64))


@pytest.mark.parametrize("offset", [1e4, 1e6])
@pytest.mark.parametrize("squared", [False, True], ids=["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_float32_offset_distances(offset, squared, symmetric, backend, rng):
    # scale 3: at 1e6 float32 data live on a 1/16 grid; the exact un-offset values
    # are the truth, so the grid does not matter, only the computation does
    X32, X64, Ya32, Ya64 = _offset_inputs(rng, symmetric, offset, scale=3.0)
    got = axf.euclidean_distances(X32, Ya32, squared=squared, backend=backend)
    assert got.dtype == np.float32
    ref = axf.euclidean_distances(X64, Ya64, squared=squared, backend="reference")
    _close("sqeuclidean" if squared else "euclidean", got, ref, np.float32, err_msg=f"offset={offset}")
    if symmetric:
        assert np.all(np.diag(got) == 0)


@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_float32_offset_rbf(symmetric, backend, rng):
    offset = 1e4
    X32, X64, Ya32, Ya64 = _offset_inputs(rng, symmetric, offset)
    got = axf.rbf_kernel(X32, Ya32, gamma=0.2, backend=backend)
    ref = axf.rbf_kernel(X64, Ya64, gamma=0.2, backend="reference")
    assert np.median(ref) > 0.05  # values mostly not underflowed: the test can see errors
    assert_allclose(got, ref, np.float32)


@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_float32_offset_reductions(symmetric, backend, rng):
    offset = 1e4
    X32, X64, Ya32, Ya64 = _offset_inputs(rng, symmetric, offset)
    V = make_data(rng, N if symmetric else M, 2, np.float32)
    got = axf.kernel_matvec(X32, Ya32, V, "rbf", gamma=0.2, backend=backend)
    ref = axf.kernel_matvec(X64, Ya64, V.astype(np.float64), "rbf", gamma=0.2, backend="reference")
    assert_allclose(got, ref, np.float32)
    rs = axf.kernel_row_sums(X32, Ya32, "rbf", gamma=0.2, backend=backend)
    rs_ref = axf.kernel_row_sums(X64, Ya64, "rbf", gamma=0.2, backend="reference")
    assert_allclose(rs, rs_ref, np.float32)


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_float32_offset_stress(offset, backend, rng):
    X32, X64 = _offset_data(rng, N, D, offset, scale=3.0)
    Z32, Z64 = _offset_data(rng, N, 2, offset, scale=3.0)
    value = axf.stress(X32, Z32, backend=backend)
    v2, grad = axf.stress_and_grad(X32, Z32, backend=backend)
    rv, rgrad = axf.stress_and_grad(X64, Z64, backend="reference")
    assert_allclose(value, rv, np.float32)
    assert_allclose(v2, rv, np.float32)
    assert grad.dtype == np.float32
    assert_allclose(grad, rgrad, np.float32)


def test_offset_tests_are_sensitive(rng):
    """Without the float64 centering, float32 at 1e4 is far outside the tolerance: the
    cancellation tests above can fail."""
    from _testing import TOLERANCES

    from alignxpert_fast.kernels._backends import reference

    X32, X64 = _offset_data(rng, N, D, 1e4, scale=3.0)
    Y32, Y64 = _offset_data(rng, M, D, 1e4, scale=3.0)
    raw = np.empty((N, M), dtype=np.float32)
    reference.gram("sqeuclidean", X32, Y32, raw, gamma=1.0, coef0=0.0, degree=1, symmetric=False, n_threads=1,
                   block_rows=64, block_cols=64)
    ref = axf.euclidean_distances(X64, Y64, squared=True, backend="reference")
    err = np.max(np.abs(raw - ref)) / np.max(ref)
    assert err > 100 * TOLERANCES[np.dtype(np.float32)]["atol"]


@pytest.mark.parametrize("n", [1, 5, 255, 300, 2100])
@pytest.mark.parametrize("kernel", ["rbf_kernel", "euclidean_distances", "cosine_similarity", "linear_kernel"])
def test_symmetric_gram_upper_triangle_mirrored(n, kernel, rng):
    """Y=None computes the upper block triangle only and mirrors it: exactly symmetric, and
    equal to the full computation against a copy of X (every backend)."""
    X = rng.standard_normal((n, 9)).astype(np.float32)
    f = getattr(axf, kernel)
    off = ~np.eye(n, dtype=bool)  # against a copy the distance diagonal is rounding noise, not 0
    for backend in ("native", "numba", "reference"):
        K = f(X, backend=backend, n_threads=2)
        if backend == "native":
            np.testing.assert_array_equal(K, K.T)
        np.testing.assert_allclose(K[off], f(X, X.copy(), backend=backend)[off], rtol=1e-5, atol=1e-5)
