"""Layer 2 of truth: every backend against the NumPy reference, for every public function
and both dtypes, with the per-dtype tolerances of _testing.TOLERANCES.

Also: the required backends load, the output-dtype rule, and the exact diagonals
(0 for euclidean_distances(X), 1 for rbf_kernel(X)).
"""
from __future__ import annotations

import numpy as np
import oracles
import pytest
from _testing import REQUIRED_BACKENDS, assert_allclose, assert_distances_allclose, make_data, with_zero_rows

import alignxpert_fast as axf
from alignxpert_fast.kernels._dispatch import BACKEND_NAMES, backend_status, resolve_backend

REF = "reference"


# ------------------------------------------------------------------ availability
@pytest.mark.parametrize("name", REQUIRED_BACKENDS)
def test_required_backend_available(name):
    """Fails (never skips) when a required backend did not load, with the import error."""
    assert name in BACKEND_NAMES
    ok, err = backend_status()[name]
    assert ok, f"required backend {name!r} failed to load: {err}"
    assert resolve_backend(name).NAME == name


def test_auto_resolves_to_native():
    assert resolve_backend("auto").NAME == "native"


def test_backends_share_the_internal_signature():
    for name in BACKEND_NAMES:
        ok, _ = backend_status()[name]
        if not ok:
            continue
        mod = resolve_backend(name)
        for op in ("gram", "kernel_matvec", "stress", "stress_pack", "stress_cached"):
            assert callable(getattr(mod, op)), f"backend {name} lacks {op}"


# ------------------------------------------------------------------ data
N, M, D = 53, 38, 7  # not multiples of any default block


@pytest.fixture
def XYV(rng, dtype):
    X = with_zero_rows(make_data(rng, N, D, dtype), (4,))
    Y = with_zero_rows(make_data(rng, M, D, dtype), (0,))
    V = make_data(rng, M, 3, dtype)
    return X, Y, V


GRAM = [
    ("rbf", lambda X, Y, **kw: axf.rbf_kernel(X, Y, **kw)),
    ("rbf-gamma", lambda X, Y, **kw: axf.rbf_kernel(X, Y, gamma=2.5, **kw)),
    ("poly", lambda X, Y, **kw: axf.polynomial_kernel(X, Y, **kw)),
    ("poly-d4", lambda X, Y, **kw: axf.polynomial_kernel(X, Y, degree=4, gamma=0.2, coef0=-0.5, **kw)),
    ("linear", lambda X, Y, **kw: axf.linear_kernel(X, Y, **kw)),
    ("cosine", lambda X, Y, **kw: axf.cosine_similarity(X, Y, **kw)),
    ("euclidean", lambda X, Y, **kw: axf.euclidean_distances(X, Y, **kw)),
    ("sqeuclidean", lambda X, Y, **kw: axf.euclidean_distances(X, Y, squared=True, **kw)),
]


def _check(name):
    """Plain Euclidean distances are compared through their squares (see _testing)."""
    return assert_distances_allclose if name == "euclidean" else assert_allclose


@pytest.mark.parametrize("name,fn", GRAM, ids=[g[0] for g in GRAM])
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_gram_vs_reference(name, fn, symmetric, backend, XYV, dtype):
    X, Y, _ = XYV
    Yarg = None if symmetric else Y
    got = fn(X, Yarg, backend=backend)
    ref = fn(X, Yarg, backend=REF)
    assert got.dtype == ref.dtype == dtype
    assert got.shape == (N, N if symmetric else M)
    _check(name)(got, ref, dtype)


@pytest.mark.parametrize("name,fn", GRAM, ids=[g[0] for g in GRAM])
def test_gram_out_is_filled_and_returned(name, fn, backend, XYV, dtype):
    X, Y, _ = XYV
    out = np.full((N, M), np.nan, dtype=dtype)
    got = fn(X, Y, backend=backend, out=out)
    assert got is out
    _check(name)(out, fn(X, Y, backend=REF), dtype)


MATVEC_KERNELS = [
    ("rbf", {}),
    ("rbf", {"gamma": 0.9}),
    ("poly", {"degree": 2, "gamma": 0.3, "coef0": 0.5}),
    ("polynomial", {}),
    ("linear", {}),
    ("cosine", {}),
]
MATVEC_IDS = [f"{k}-{'-'.join(f'{a}{b}' for a, b in kw.items()) or 'default'}" for k, kw in MATVEC_KERNELS]


@pytest.mark.parametrize("kernel,kw", MATVEC_KERNELS, ids=MATVEC_IDS)
@pytest.mark.parametrize("vdim", [1, 2], ids=["V1d", "V2d"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_kernel_matvec_vs_reference(kernel, kw, vdim, symmetric, backend, XYV, dtype, rng):
    X, Y, V = XYV
    if symmetric:
        Yarg, V = None, make_data(rng, N, 3, dtype)
    else:
        Yarg = Y
    if vdim == 1:
        V = V[:, 1].copy()
    got = axf.kernel_matvec(X, Yarg, V, kernel, backend=backend, **kw)
    ref = axf.kernel_matvec(X, Yarg, V, kernel, backend=REF, **kw)
    assert got.dtype == ref.dtype == dtype
    assert got.shape == ref.shape == ((N,) if vdim == 1 else (N, 3))
    assert_allclose(got, ref, dtype)
    # and against the naive formula, so a bug shared with the reference cannot hide
    assert_allclose(got, oracles.kernel_matvec(kernel, X, Yarg, V, **kw), dtype)


@pytest.mark.parametrize("kernel,kw", MATVEC_KERNELS, ids=MATVEC_IDS)
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_kernel_row_sums_vs_reference(kernel, kw, symmetric, backend, XYV, dtype):
    X, Y, _ = XYV
    Yarg = None if symmetric else Y
    got = axf.kernel_row_sums(X, Yarg, kernel, backend=backend, **kw)
    ref = axf.kernel_row_sums(X, Yarg, kernel, backend=REF, **kw)
    assert got.dtype == dtype and got.shape == (N,)
    assert_allclose(got, ref, dtype)
    # row sums equal the matvec with a vector of ones
    ones = np.ones(N if symmetric else M, dtype=dtype)
    assert_allclose(got, axf.kernel_matvec(X, Yarg, ones, kernel, backend=backend, **kw), dtype)


def test_kernel_matvec_out(backend, XYV, dtype):
    X, Y, V = XYV
    out = np.full((N, 3), np.nan, dtype=dtype)
    got = axf.kernel_matvec(X, Y, V, "rbf", backend=backend, out=out)
    assert got is out
    assert_allclose(out, axf.kernel_matvec(X, Y, V, "rbf", backend=REF), dtype)
    out1 = np.full(N, np.nan, dtype=dtype)
    assert axf.kernel_matvec(X, Y, V[:, 0].copy(), "rbf", backend=backend, out=out1) is out1
    assert_allclose(out1, axf.kernel_matvec(X, Y, V[:, 0].copy(), "rbf", backend=REF), dtype)
    out2 = np.full(N, np.nan, dtype=dtype)
    assert axf.kernel_row_sums(X, Y, "rbf", backend=backend, out=out2) is out2
    assert_allclose(out2, axf.kernel_row_sums(X, Y, "rbf", backend=REF), dtype)


@pytest.mark.parametrize("kernel,kw", [("rbf", {"gamma": 0.5}), ("poly", {"degree": 2}), ("linear", {}),
                                       ("cosine", {})], ids=["rbf", "poly", "linear", "cosine"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_kernel_operator_vs_reference(kernel, kw, symmetric, backend, XYV, dtype, rng):
    from scipy.sparse.linalg import LinearOperator

    X, Y, _ = XYV
    Yarg = None if symmetric else Y
    m = N if symmetric else M
    op = axf.kernel_operator(X, Yarg, kernel, backend=backend, **kw)
    assert isinstance(op, LinearOperator)
    assert op.shape == (N, m) and op.dtype == dtype
    K = oracles.kernel(kernel, X, Yarg, **kw)
    v = make_data(rng, m, 1, dtype)[:, 0]
    Vm = make_data(rng, m, 2, dtype)
    u = make_data(rng, N, 1, dtype)[:, 0]
    Um = make_data(rng, N, 2, dtype)
    Kref = getattr(axf, {"rbf": "rbf_kernel", "poly": "polynomial_kernel", "linear": "linear_kernel",
                         "cosine": "cosine_similarity"}[kernel])(X, Yarg, backend=REF, **kw)
    assert_allclose(Kref, K, dtype)
    for got, expected in [
        (op @ v, K @ v.astype(np.float64)),
        (op.matvec(v), K @ v.astype(np.float64)),
        (op @ Vm, K @ Vm.astype(np.float64)),
        (op.matmat(Vm), K @ Vm.astype(np.float64)),
        (op.T @ u, K.T @ u.astype(np.float64)),
        (op.rmatvec(u), K.T @ u.astype(np.float64)),
        (op.rmatmat(Um), K.T @ Um.astype(np.float64)),
    ]:
        assert np.asarray(got).dtype == dtype
        assert_allclose(np.asarray(got).reshape(expected.shape), expected, dtype)


@pytest.mark.parametrize("shape", [(2, 3, 2), (29, 5, 2), (64, 4, 9)], ids=lambda s: "n%d-d%d-k%d" % s)
def test_stress_vs_reference(shape, backend, dtype, rng):
    n, d, k = shape
    X, Z = make_data(rng, n, d, dtype), make_data(rng, n, k, dtype)
    got = axf.stress(X, Z, backend=backend)
    ref = axf.stress(X, Z, backend=REF)
    assert isinstance(got, float)
    assert_allclose(got, ref, dtype)
    assert_allclose(got, oracles.stress(X, Z), dtype)
    value, grad = axf.stress_and_grad(X, Z, backend=backend)
    rvalue, rgrad = axf.stress_and_grad(X, Z, backend=REF)
    assert isinstance(value, float)
    assert grad.dtype == dtype and grad.shape == (n, k)
    assert_allclose(value, rvalue, dtype)
    assert_allclose(grad, rgrad, dtype)
    assert_allclose(grad, oracles.stress_grad(X, Z), dtype)
    out = np.full((n, k), np.nan, dtype=dtype)
    value2, grad2 = axf.stress_and_grad(X, Z, backend=backend, out=out)
    assert grad2 is out and value2 == value
    np.testing.assert_array_equal(out, grad)


# ------------------------------------------------------------------ output dtype rule
F32, F64 = np.float32, np.float64
DTYPE_CASES = [  # (dtype of X, dtype of Y / V / Z, expected result dtype)
    (F32, F32, F32),
    (F32, F64, F64),
    (F64, F32, F64),
    (F64, F64, F64),
    (np.int64, F32, F64),
    (F32, np.int32, F64),
    (np.float16, F32, F32),
]


@pytest.mark.parametrize("dx,dy,expected", DTYPE_CASES, ids=lambda t: np.dtype(t).name)
def test_output_dtype_rule(dx, dy, expected, backend, rng):
    """float32 only if every input is float32 (float16 counts as float32), else float64."""
    X = (rng.standard_normal((11, 4)) * 3).astype(dx)
    Y = (rng.standard_normal((9, 4)) * 3).astype(dy)
    V = (rng.standard_normal((9, 2)) * 3).astype(dy)
    Z = (rng.standard_normal((11, 2)) * 3).astype(dy)
    expected = np.dtype(expected)
    for fn in (axf.rbf_kernel, axf.polynomial_kernel, axf.linear_kernel, axf.cosine_similarity,
               axf.euclidean_distances):
        assert fn(X, Y, backend=backend).dtype == expected, fn.__name__
    assert axf.euclidean_distances(X, Y, squared=True, backend=backend).dtype == expected
    assert axf.kernel_matvec(X, Y, V, backend=backend).dtype == expected
    assert axf.kernel_matvec(X, Y, V[:, 0], backend=backend).dtype == expected
    assert axf.kernel_row_sums(X, Y, backend=backend).dtype == expected
    assert axf.kernel_operator(X, Y, backend=backend).dtype == expected
    # V alone decides too: float32 X and Y with float64 V give float64
    X32, Y32 = X.astype(F32), Y.astype(F32)
    assert axf.kernel_matvec(X32, Y32, V, backend=backend).dtype == (F32 if np.dtype(dy) == F32 else F64)
    _, grad = axf.stress_and_grad(X, Z, backend=backend)
    assert grad.dtype == expected


def test_single_dtype_inputs_keep_dtype(backend, dtype, rng):
    X = make_data(rng, 10, 3, dtype)
    assert axf.rbf_kernel(X, backend=backend).dtype == dtype
    assert axf.euclidean_distances(X, backend=backend).dtype == dtype
    assert axf.kernel_row_sums(X, backend=backend).dtype == dtype


# ------------------------------------------------------------------ exact diagonals
def test_exact_diagonals(backend, dtype, rng):
    """Y=None (or Y is X) gives exactly 0 on the distance diagonal and exactly 1 on the
    RBF diagonal, even for data far from the origin where the norm trick cancels."""
    for offset in (0.0, 1e3):
        X = make_data(rng, 67, 9, dtype, offset=offset, scale=5.0)
        for Y in (None, X):
            D = axf.euclidean_distances(X, Y, backend=backend)
            D2 = axf.euclidean_distances(X, Y, squared=True, backend=backend)
            K = axf.rbf_kernel(X, Y, gamma=0.01, backend=backend)
            assert np.all(np.diag(D) == 0)
            assert np.all(np.diag(D2) == 0)
            assert np.all(np.diag(K) == 1)
            # and with tiles that do not line up with the diagonal
            D7 = axf.euclidean_distances(X, Y, backend=backend, block_rows=7, block_cols=5)
            K7 = axf.rbf_kernel(X, Y, gamma=0.01, backend=backend, block_rows=7, block_cols=5)
            assert np.all(np.diag(D7) == 0)
            assert np.all(np.diag(K7) == 1)
            assert np.all(D >= 0) and np.all(K <= 1) and np.all(K >= 0)


def test_exact_diagonal_of_reductions(backend, dtype):
    """Row sums of an RBF kernel of a point set whose points are far apart are exactly
    the diagonal's 1 (the other entries underflow to 0)."""
    X = (np.arange(12, dtype=np.float64)[:, None] * np.array([[100.0, 0.0]])).astype(dtype)
    rs = axf.kernel_row_sums(X, None, "rbf", gamma=1.0, backend=backend)
    np.testing.assert_array_equal(rs, np.ones(12, dtype=dtype))
