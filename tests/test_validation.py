"""Bad input to the public API: one table, each row a call, the exception type and a
regex that names the offending argument.  Every row runs against every backend (the
checks live in the Python layer, but a few, like the all-identical-rows stress, are
raised by the backend itself)."""
from __future__ import annotations

import numpy as np
import pytest
from _testing import make_data

import alignxpert_fast as axf

_rng = np.random.default_rng(1234)
X = _rng.standard_normal((6, 3))
Y = _rng.standard_normal((4, 3))
V = _rng.standard_normal((4, 2))
Z = _rng.standard_normal((6, 2))
SQ = _rng.standard_normal((6, 6))  # square, so an `out` aliasing it has the right shape


def _with(A, i, j, value):
    A = A.copy()
    A[i, j] = value
    return A


def _readonly(shape, dtype=np.float64):
    A = np.zeros(shape, dtype=dtype)
    A.flags.writeable = False
    return A


def _noncontig(shape, dtype=np.float64):
    return np.zeros((shape[0], 2 * shape[1]), dtype=dtype)[:, ::2] if len(shape) == 2 else \
        np.zeros(2 * shape[0], dtype=dtype)[::2]


GRAM_FNS = {
    "rbf_kernel": axf.rbf_kernel,
    "polynomial_kernel": axf.polynomial_kernel,
    "linear_kernel": axf.linear_kernel,
    "cosine_similarity": axf.cosine_similarity,
    "euclidean_distances": axf.euclidean_distances,
}

CASES = []


def case(id_, fn, exc, match):
    CASES.append(pytest.param(fn, exc, match, id=id_))


# --- non-finite values, per argument
for name, fn in GRAM_FNS.items():
    case(f"{name}-X-nan", lambda b, fn=fn: fn(_with(X, 1, 2, np.nan), backend=b), ValueError, r"^X contains 1 non-finite")
    case(f"{name}-Y-inf", lambda b, fn=fn: fn(X, _with(Y, 0, 0, np.inf), backend=b), ValueError, r"^Y contains 1 non-finite")
case("X-nan-float32", lambda b: axf.rbf_kernel(_with(X, 0, 0, np.nan).astype(np.float32), backend=b), ValueError,
     r"^X contains 1 non-finite value\(s\) \(1 NaN, 0 inf\)")
case("X--inf", lambda b: axf.euclidean_distances(_with(X, 0, 0, -np.inf), backend=b), ValueError,
     r"^X contains 1 non-finite value\(s\) \(0 NaN, 1 inf\)")
case("matvec-X-nan", lambda b: axf.kernel_matvec(_with(X, 0, 0, np.nan), Y, V, backend=b), ValueError, r"^X contains")
case("matvec-Y-nan", lambda b: axf.kernel_matvec(X, _with(Y, 0, 0, np.nan), V, backend=b), ValueError, r"^Y contains")
case("matvec-V-nan", lambda b: axf.kernel_matvec(X, Y, _with(V, 3, 1, np.nan), backend=b), ValueError, r"^V contains")
case("matvec-V1d-inf", lambda b: axf.kernel_matvec(X, Y, np.array([1.0, np.inf, 0.0, 0.0]), backend=b), ValueError,
     r"^V contains")
case("rowsums-X-nan", lambda b: axf.kernel_row_sums(_with(X, 0, 0, np.nan), backend=b), ValueError, r"^X contains")
case("operator-X-nan", lambda b: axf.kernel_operator(_with(X, 0, 0, np.nan), backend=b), ValueError, r"^X contains")
case("stress-X-nan", lambda b: axf.stress(_with(X, 0, 0, np.nan), Z, backend=b), ValueError, r"^X contains")
case("stress-Z-inf", lambda b: axf.stress(X, _with(Z, 5, 1, np.inf), backend=b), ValueError, r"^Z contains")
case("stress_and_grad-Z-nan", lambda b: axf.stress_and_grad(X, _with(Z, 0, 0, np.nan), backend=b), ValueError,
     r"^Z contains")
case("X-overflow", lambda b: axf.rbf_kernel(np.full((2, 2), 1e308), backend=b), ValueError,
     r"^X has values so large")

# --- empty arrays
case("X-empty-rows", lambda b: axf.rbf_kernel(np.empty((0, 3)), backend=b), ValueError, r"^X must have at least 1 sample")
case("X-empty-cols", lambda b: axf.linear_kernel(np.empty((3, 0)), backend=b), ValueError, r"^X must have at least")
case("Y-empty", lambda b: axf.euclidean_distances(X, np.empty((0, 3)), backend=b), ValueError, r"^Y must have at least")
case("V-empty", lambda b: axf.kernel_matvec(X, Y, np.empty((4, 0)), backend=b), ValueError, r"^V must have at least")
case("V-empty-1d", lambda b: axf.kernel_matvec(X, None, np.empty(0), backend=b), ValueError, r"^V must have")
case("stress-X-empty", lambda b: axf.stress(np.empty((0, 3)), np.empty((0, 2)), backend=b), ValueError,
     r"^X must have at least 2")
case("stress-Z-empty-cols", lambda b: axf.stress(X, np.empty((6, 0)), backend=b), ValueError, r"^Z must have at least")

# --- wrong number of dimensions
for name, fn in GRAM_FNS.items():
    case(f"{name}-X-1d", lambda b, fn=fn: fn(X[0], backend=b), ValueError, r"^X must be 2-D .*got shape \(3,\)")
case("X-1d-hint", lambda b: axf.rbf_kernel(X[:, 0], backend=b), ValueError, r"X\.reshape\(-1, 1\)")
case("Y-1d", lambda b: axf.rbf_kernel(X, Y[0], backend=b), ValueError, r"^Y must be 2-D")
case("X-3d", lambda b: axf.rbf_kernel(X[None], backend=b), ValueError, r"^X must be 2-D .*ndim=3")
case("Y-3d", lambda b: axf.linear_kernel(X, Y[None], backend=b), ValueError, r"^Y must be 2-D")
case("X-0d", lambda b: axf.rbf_kernel(np.float64(1.0), backend=b), ValueError, r"^X must be 2-D")
case("matvec-V-3d", lambda b: axf.kernel_matvec(X, Y, V[None], backend=b), ValueError, r"^V must be 2-D")
case("stress-X-1d", lambda b: axf.stress(X[:, 0], Z, backend=b), ValueError, r"^X must be 2-D")
case("stress-Z-3d", lambda b: axf.stress(X, Z[None], backend=b), ValueError, r"^Z must be 2-D")

# --- mismatched feature counts / rows
for name, fn in GRAM_FNS.items():
    case(f"{name}-features", lambda b, fn=fn: fn(X, Y[:, :2], backend=b), ValueError,
         r"Incompatible dimension for X and Y.*X\.shape\[1\] == 3 while Y\.shape\[1\] == 2")
case("matvec-features", lambda b: axf.kernel_matvec(X, Y[:, :2], V, backend=b), ValueError,
     r"Incompatible dimension for X and Y")
case("rowsums-features", lambda b: axf.kernel_row_sums(X, Y[:, :1], backend=b), ValueError, r"Incompatible dimension")
case("operator-features", lambda b: axf.kernel_operator(X, Y[:, :1], backend=b), ValueError, r"Incompatible dimension")
case("matvec-V-rows", lambda b: axf.kernel_matvec(X, Y, V[:3], backend=b), ValueError,
     r"^V must have one row per row of Y: Y has 4 rows, V has shape \(3, 2\)")
case("matvec-V1d-rows", lambda b: axf.kernel_matvec(X, None, np.ones(5), backend=b), ValueError,
     r"^V must have one row per row of Y: Y has 6 rows")
case("stress-rows", lambda b: axf.stress(X, Z[:5], backend=b), ValueError, r"^X and Z must have the same number of rows")
case("stress_and_grad-rows", lambda b: axf.stress_and_grad(X[:4], Z, backend=b), ValueError,
     r"^X and Z must have the same number of rows")

# --- dtypes that are not real numbers
for label, bad in [("complex", X.astype(np.complex128)), ("object", X.astype(object)),
                   ("str", X.astype(str)), ("datetime", np.zeros((2, 2), dtype="datetime64[s]")),
                   ("float128", X.astype(np.longdouble))]:
    case(f"X-{label}", lambda b, bad=bad: axf.rbf_kernel(bad, backend=b), TypeError, r"^X (must have a real|has dtype)")
    case(f"Y-{label}", lambda b, bad=bad: axf.linear_kernel(X[:, :bad.shape[1]], bad, backend=b), TypeError,
         r"^Y (must have a real|has dtype)")
case("V-complex", lambda b: axf.kernel_matvec(X, Y, V.astype(complex), backend=b), TypeError, r"^V must have a real")
case("V-object", lambda b: axf.kernel_matvec(X, Y, V.astype(object), backend=b), TypeError, r"^V must have a real")
case("Z-str", lambda b: axf.stress(X, Z.astype(str), backend=b), TypeError, r"^Z must have a real")
case("Z-complex", lambda b: axf.stress_and_grad(X, Z.astype(complex), backend=b), TypeError, r"^Z must have a real")
case("X-None", lambda b: axf.rbf_kernel(None, backend=b), TypeError, r"^X must be an array")
case("stress-Z-None", lambda b: axf.stress(X, None, backend=b), TypeError, r"^Z must be an array")
case("matvec-V-None", lambda b: axf.kernel_matvec(X, Y, None, backend=b), TypeError, r"^V must be an array")
case("X-ragged", lambda b: axf.rbf_kernel([[1.0, 2.0], [3.0]], backend=b), ValueError, r"^X could not be converted")
case("V-ragged", lambda b: axf.kernel_matvec(X, Y, [[1.0], [2.0, 3.0], [1.0], [1.0]], backend=b), ValueError,
     r"^V could not be converted")
case("X-sparse", lambda b: axf.stress(__import__("scipy.sparse").sparse.csr_matrix(X), Z, backend=b), TypeError,
     r"^X is a sparse matrix")  # the Gram functions accept sparse input (tests/test_sklearn_parity.py)

# --- scalar parameters
# the Gram functions accept gamma = 0 and a real degree > 0 as scikit-learn does
# (tests/test_sklearn_parity.py); the reductions need gamma > 0 and an integer degree >= 1
case("rbf-gamma=-1.0", lambda b: axf.rbf_kernel(X, gamma=-1.0, backend=b), ValueError, r"^gamma must be >= 0")
case("poly-gamma=-1.0", lambda b: axf.polynomial_kernel(X, gamma=-1.0, backend=b), ValueError, r"^gamma must be >= 0")
for g in (0, -1.0, 0.0):
    case(f"matvec-gamma={g}", lambda b, g=g: axf.kernel_matvec(X, Y, V, gamma=g, backend=b), ValueError,
         r"^gamma must be > 0")
case("rbf-gamma-nan", lambda b: axf.rbf_kernel(X, gamma=np.nan, backend=b), ValueError, r"^gamma must be finite")
case("rbf-gamma-inf", lambda b: axf.rbf_kernel(X, gamma=np.inf, backend=b), ValueError, r"^gamma must be finite")
case("poly-gamma-nan", lambda b: axf.polynomial_kernel(X, gamma=float("nan"), backend=b), ValueError,
     r"^gamma must be finite")
case("rowsums-gamma-nan", lambda b: axf.kernel_row_sums(X, gamma=np.nan, backend=b), ValueError,
     r"^gamma must be finite")
case("operator-gamma<0", lambda b: axf.kernel_operator(X, gamma=-2.0, backend=b), ValueError, r"^gamma must be > 0")
case("rbf-gamma-str", lambda b: axf.rbf_kernel(X, gamma="0.5", backend=b), TypeError, r"^gamma must be a real number")
case("rbf-gamma-bool", lambda b: axf.rbf_kernel(X, gamma=True, backend=b), TypeError, r"^gamma must be a real number")
case("poly-degree-0", lambda b: axf.polynomial_kernel(X, degree=0, backend=b), ValueError, r"^degree must be > 0")
case("poly-degree--1", lambda b: axf.polynomial_kernel(X, degree=-1, backend=b), ValueError, r"^degree must be > 0")
case("poly-degree-str", lambda b: axf.polynomial_kernel(X, degree="3", backend=b), TypeError,
     r"^degree must be a real number")
case("matvec-degree-2.5", lambda b: axf.kernel_matvec(X, Y, V, "poly", degree=2.5, backend=b), ValueError,
     r"^degree must be an integer")
case("matvec-degree-0", lambda b: axf.kernel_matvec(X, Y, V, "poly", degree=0, backend=b), ValueError,
     r"^degree must be >= 1")
case("poly-coef0-nan", lambda b: axf.polynomial_kernel(X, coef0=np.nan, backend=b), ValueError,
     r"^coef0 must be finite")
case("squared-not-bool", lambda b: axf.euclidean_distances(X, squared=1, backend=b), TypeError,
     r"^squared must be a bool")

# --- n_threads and block sizes
THREAD_CALLS = {
    "rbf": lambda b, **kw: axf.rbf_kernel(X, Y, backend=b, **kw),
    "euclidean": lambda b, **kw: axf.euclidean_distances(X, backend=b, **kw),
    "matvec": lambda b, **kw: axf.kernel_matvec(X, Y, V, backend=b, **kw),
    "rowsums": lambda b, **kw: axf.kernel_row_sums(X, backend=b, **kw),
    "stress": lambda b, **kw: axf.stress(X, Z, backend=b, **kw),
    "stress_and_grad": lambda b, **kw: axf.stress_and_grad(X, Z, backend=b, **kw),
}
for name, call in THREAD_CALLS.items():
    case(f"{name}-n_threads=0", lambda b, c=call: c(b, n_threads=0), ValueError, r"^n_threads must be a non-zero int")
    case(f"{name}-n_threads=1.5", lambda b, c=call: c(b, n_threads=1.5), TypeError, r"^n_threads must be an int")
    case(f"{name}-n_threads=True", lambda b, c=call: c(b, n_threads=True), TypeError, r"^n_threads must be an int")
    case(f"{name}-block_rows=0", lambda b, c=call: c(b, block_rows=0), ValueError, r"^block_rows must be >= 1")
    case(f"{name}-block_cols=0", lambda b, c=call: c(b, block_cols=0), ValueError, r"^block_cols must be >= 1")
    case(f"{name}-block_rows=-3", lambda b, c=call: c(b, block_rows=-3), ValueError, r"^block_rows must be >= 1")
    case(f"{name}-block_rows=1.5", lambda b, c=call: c(b, block_rows=1.5), ValueError,
         r"^block_rows must be an integer")
    case(f"{name}-backend-unknown", lambda b, c=call: c("cuda"), ValueError,
         r"^backend must be one of \('auto', 'native', 'numba', 'reference'\), got 'cuda'")
    case(f"{name}-backend-None", lambda b, c=call: c(None), TypeError, r"^backend must be a str")
case("operator-n_threads=0", lambda b: axf.kernel_operator(X, n_threads=0, backend=b), ValueError, r"^n_threads must")
case("operator-n_threads=1.5", lambda b: axf.kernel_operator(X, n_threads=1.5, backend=b), TypeError,
     r"^n_threads must be an int")
case("operator-backend-unknown", lambda b: axf.kernel_operator(X, backend="gpu"), ValueError, r"^backend must be one of")

# --- kernel names and keyword arguments
case("matvec-kernel-unknown", lambda b: axf.kernel_matvec(X, Y, V, "sigmoid", backend=b), ValueError,
     r"^kernel must be one of \['cosine', 'linear', 'poly', 'polynomial', 'rbf'\], got 'sigmoid'")
case("matvec-kernel-None", lambda b: axf.kernel_matvec(X, Y, V, None, backend=b), ValueError, r"^kernel must be one of")
case("rowsums-kernel-unknown", lambda b: axf.kernel_row_sums(X, None, "laplacian", backend=b), ValueError,
     r"^kernel must be one of")
case("operator-kernel-unknown", lambda b: axf.kernel_operator(X, None, "chi2", backend=b), ValueError,
     r"^kernel must be one of")
case("matvec-kwarg-unknown", lambda b: axf.kernel_matvec(X, Y, V, "rbf", sigma=1.0, backend=b), TypeError,
     r"^unknown kernel parameter\(s\) \['sigma'\]")
case("rowsums-kwarg-unknown", lambda b: axf.kernel_row_sums(X, None, "rbf", gama=1.0, backend=b), TypeError,
     r"unknown kernel parameter\(s\) \['gama'\]")
case("operator-kwarg-unknown", lambda b: axf.kernel_operator(X, None, "poly", deg=2, backend=b), TypeError,
     r"unknown kernel parameter\(s\) \['deg'\]")
case("rbf-kwarg-unknown", lambda b: axf.rbf_kernel(X, sigma=1.0, backend=b), TypeError, r"unexpected keyword argument 'sigma'")

# --- out
case("out-shape", lambda b: axf.rbf_kernel(X, Y, out=np.empty((4, 6)), backend=b), ValueError,
     r"^out must have shape \(6, 4\), got \(4, 6\)")
case("out-dtype", lambda b: axf.rbf_kernel(X, Y, out=np.empty((6, 4), np.float32), backend=b), TypeError,
     r"^out must have dtype float64")
case("out-dtype-f32", lambda b: axf.linear_kernel(X.astype(np.float32), out=np.empty((6, 6)), backend=b), TypeError,
     r"^out must have dtype float32")
case("out-noncontig", lambda b: axf.euclidean_distances(X, Y, out=_noncontig((6, 4)), backend=b), ValueError,
     r"^out must be C-contiguous")
case("out-fortran", lambda b: axf.cosine_similarity(X, Y, out=np.empty((6, 4), order="F"), backend=b), ValueError,
     r"^out must be C-contiguous")
case("out-readonly", lambda b: axf.polynomial_kernel(X, Y, out=_readonly((6, 4)), backend=b), ValueError,
     r"^out must be writeable")
case("out-list", lambda b: axf.rbf_kernel(X, Y, out=[[0.0] * 4] * 6, backend=b), TypeError,
     r"^out must be a numpy.ndarray")
case("out-alias-X", lambda b: axf.rbf_kernel(SQ, out=SQ, backend=b), ValueError, r"^out must not share memory with X")
case("out-alias-X-dist", lambda b: axf.euclidean_distances(SQ, SQ[:, :], out=SQ, backend=b), ValueError,
     r"^out must not share memory with X")
case("out-alias-Y", lambda b: (lambda S: axf.linear_kernel(np.ones((6, 6)), S, out=S, backend=b))(SQ.copy()),
     ValueError, r"^out must not share memory with Y")
case("matvec-out-shape", lambda b: axf.kernel_matvec(X, Y, V, out=np.empty(6), backend=b), ValueError,
     r"^out must have shape \(6, 2\)")
case("matvec-out-shape-1d", lambda b: axf.kernel_matvec(X, Y, V[:, 0], out=np.empty((6, 1)), backend=b), ValueError,
     r"^out must have shape \(6,\)")
case("matvec-out-dtype", lambda b: axf.kernel_matvec(X, Y, V, out=np.empty((6, 2), np.float32), backend=b),
     TypeError, r"^out must have dtype float64")
case("matvec-out-noncontig", lambda b: axf.kernel_matvec(X, Y, V, out=_noncontig((6, 2)), backend=b), ValueError,
     r"^out must be C-contiguous")
case("matvec-out-readonly", lambda b: axf.kernel_matvec(X, Y, V, out=_readonly((6, 2)), backend=b), ValueError,
     r"^out must be writeable")
case("matvec-out-alias-V", lambda b: (lambda v: axf.kernel_matvec(X, None, v, out=v, backend=b))(np.ones(6)),
     ValueError, r"^out must not share memory with V")
case("matvec-out-alias-X", lambda b: (lambda S: axf.kernel_matvec(S, None, np.ones(6), out=S[:, 0], backend=b))(
    SQ.copy()), ValueError, r"^out must (be C-contiguous|not share memory with X)")
case("rowsums-out-alias-X", lambda b: (lambda S: axf.kernel_row_sums(S, out=S[0], backend=b))(SQ.copy()), ValueError,
     r"^out must not share memory with X")
case("rowsums-out-shape", lambda b: axf.kernel_row_sums(X, out=np.empty(5), backend=b), ValueError,
     r"^out must have shape \(6,\)")
case("grad-out-shape", lambda b: axf.stress_and_grad(X, Z, out=np.empty((6, 3)), backend=b), ValueError,
     r"^out must have shape \(6, 2\)")
case("grad-out-dtype", lambda b: axf.stress_and_grad(X, Z, out=np.empty((6, 2), np.float32), backend=b), TypeError,
     r"^out must have dtype float64")
case("grad-out-noncontig", lambda b: axf.stress_and_grad(X, Z, out=_noncontig((6, 2)), backend=b), ValueError,
     r"^out must be C-contiguous")
case("grad-out-readonly", lambda b: axf.stress_and_grad(X, Z, out=_readonly((6, 2)), backend=b), ValueError,
     r"^out must be writeable")
case("grad-out-alias-Z", lambda b: (lambda Zc: axf.stress_and_grad(X, Zc, out=Zc, backend=b))(Z.copy()), ValueError,
     r"^out must not share memory with Z")
case("grad-out-alias-X", lambda b: (lambda Xc: axf.stress_and_grad(Xc, Xc[:, :2].copy(), out=Xc[:, :2], backend=b))(
    X.copy()), ValueError, r"^out must (be C-contiguous|not share memory with X)")
case("grad-out-alias-X-rows", lambda b: (lambda S: axf.stress_and_grad(S, Z, out=S.reshape(-1)[:12].reshape(6, 2),
                                                                         backend=b))(X.copy()),
     ValueError, r"^out must not share memory with X")

# --- stress-specific
case("stress-n=1", lambda b: axf.stress(X[:1], Z[:1], backend=b), ValueError, r"^X must have at least 2 sample")
case("stress_and_grad-n=1", lambda b: axf.stress_and_grad(X[:1], Z[:1], backend=b), ValueError,
     r"^X must have at least 2 sample")
case("stress-identical-rows", lambda b: axf.stress(np.ones((5, 3)), Z[:5], backend=b), ValueError,
     r"all rows of X are identical")
case("stress_and_grad-identical-rows", lambda b: axf.stress_and_grad(np.tile(X[2], (6, 1)), Z, backend=b),
     ValueError, r"all rows of X are identical")
case("stress-identical-rows-f32", lambda b: axf.stress(np.full((4, 2), 7.0, np.float32), Z[:4].astype(np.float32),
                                                        backend=b), ValueError, r"all rows of X are identical")


@pytest.mark.parametrize("call,exc,match", CASES)
def test_bad_input(call, exc, match, backend):
    with pytest.raises(exc, match=match):
        call(backend)


def test_table_covers_every_public_function():
    """Every public function appears in the table (guards against an untested entry)."""
    ids = " ".join(p.id for p in CASES)
    for name in ("rbf", "poly", "linear", "cosine", "euclidean", "matvec", "rowsums", "operator", "stress",
                 "stress_and_grad"):
        assert name in ids, name


# ------------------------------------------------------------------ accepted conversions
CONVERTIBLE = [np.int64, np.int32, np.uint8, np.bool_]


@pytest.mark.parametrize("int_dtype", CONVERTIBLE, ids=lambda t: np.dtype(t).name)
def test_int_and_bool_inputs_are_converted(int_dtype, backend, rng):
    """Integer and bool arrays (and nested lists) give the same result, as float64, as
    the float64 array with the same values."""
    Xi = (rng.integers(0, 2 if int_dtype is np.bool_ else 5, size=(9, 3))).astype(int_dtype)
    Yi = (rng.integers(0, 2 if int_dtype is np.bool_ else 5, size=(7, 3))).astype(int_dtype)
    Vi = (rng.integers(0, 2 if int_dtype is np.bool_ else 5, size=(7, 2))).astype(int_dtype)
    Zi = (rng.integers(0, 2 if int_dtype is np.bool_ else 5, size=(9, 2))).astype(int_dtype)
    Xi[0, 0], Xi[1, 0] = 1, 0  # not all rows identical
    Xf, Yf, Vf, Zf = (A.astype(np.float64) for A in (Xi, Yi, Vi, Zi))
    for fn in (axf.rbf_kernel, axf.polynomial_kernel, axf.linear_kernel, axf.cosine_similarity,
               axf.euclidean_distances):
        got = fn(Xi, Yi, backend=backend)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, fn(Xf, Yf, backend=backend))
        np.testing.assert_array_equal(fn(Xi, backend=backend), fn(Xf, backend=backend))
    np.testing.assert_array_equal(axf.kernel_matvec(Xi, Yi, Vi, backend=backend),
                                  axf.kernel_matvec(Xf, Yf, Vf, backend=backend))
    np.testing.assert_array_equal(axf.kernel_matvec(Xi, Yi, Vi[:, 0], backend=backend),
                                  axf.kernel_matvec(Xf, Yf, Vf[:, 0], backend=backend))
    np.testing.assert_array_equal(axf.kernel_row_sums(Xi, None, backend=backend),
                                  axf.kernel_row_sums(Xf, None, backend=backend))
    assert axf.stress(Xi, Zi, backend=backend) == axf.stress(Xf, Zf, backend=backend)
    v1, g1 = axf.stress_and_grad(Xi, Zi, backend=backend)
    v2, g2 = axf.stress_and_grad(Xf, Zf, backend=backend)
    assert v1 == v2 and g1.dtype == np.float64
    np.testing.assert_array_equal(g1, g2)
    # nested lists too
    np.testing.assert_array_equal(axf.rbf_kernel(Xi.tolist(), Yi.tolist(), backend=backend),
                                  axf.rbf_kernel(Xf, Yf, backend=backend))


def test_integral_scalars_are_accepted(backend):
    """degree=2.0 and numpy integers are integers; numpy floats are reals."""
    ref = axf.polynomial_kernel(X, Y, degree=2, backend=backend)
    np.testing.assert_array_equal(axf.polynomial_kernel(X, Y, degree=2.0, backend=backend), ref)
    np.testing.assert_array_equal(axf.polynomial_kernel(X, Y, degree=np.int64(2), backend=backend), ref)
    np.testing.assert_array_equal(axf.rbf_kernel(X, Y, gamma=np.float32(0.5), backend=backend),
                                  axf.rbf_kernel(X, Y, gamma=0.5, backend=backend))
    np.testing.assert_array_equal(axf.rbf_kernel(X, Y, n_threads=np.int32(1), backend=backend),
                                  axf.rbf_kernel(X, Y, n_threads=1, backend=backend))


def test_ignored_kernel_parameter_warns(backend):
    """A parameter the kernel does not use is not an error but a UserWarning naming it."""
    with pytest.warns(UserWarning, match=r"parameter 'gamma' is ignored by the 'linear' kernel"):
        got = axf.kernel_matvec(X, Y, V, "linear", gamma=3.0, backend=backend)
    np.testing.assert_array_equal(got, axf.kernel_matvec(X, Y, V, "linear", backend=backend))
    with pytest.warns(UserWarning, match=r"parameter 'degree' is ignored by the 'rbf' kernel"):
        axf.kernel_row_sums(X, None, "rbf", degree=2, backend=backend)


# ------------------------------------------------------------------ range of float32
def test_float32_values_whose_squares_overflow(backend):
    """float32 data with |x| ~ 1e20: squared norms would overflow float32 (max 3.4e38),
    giving inf/NaN/0 distances; it must be refused with a message that says what to do."""
    X32 = (make_data(np.random.default_rng(5), 6, 3) * 1e20).astype(np.float32)
    with pytest.raises(ValueError, match=r"^X has values so large that squared norms overflow float32.*float64"):
        axf.euclidean_distances(X32, backend=backend)
    # the same data in float64 is fine
    D = axf.euclidean_distances(X32.astype(np.float64), backend=backend)
    assert np.all(np.isfinite(D)) and np.all(D[~np.eye(6, dtype=bool)] > 0)
