"""Layer 1 of truth: the NumPy reference backend against naive formulas (tests/oracles.py)
and against scikit-learn and SciPy, for float32 and float64.

float32 results are compared with float64 expected values computed from the same
float32 inputs, using the float32 row of the tolerance table (_testing.TOLERANCES).
"""
from __future__ import annotations

import numpy as np
import oracles
import pytest
from _testing import assert_allclose, assert_distances_allclose, make_data, with_zero_rows
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics import pairwise as skp

import alignxpert_fast as axf

REF = "reference"

GRAM_CASES = [
    # (id, our function, kwargs, oracle, scikit-learn function)
    ("rbf-default", axf.rbf_kernel, {}, oracles.rbf, skp.rbf_kernel),
    ("rbf-gamma", axf.rbf_kernel, {"gamma": 0.37}, oracles.rbf, skp.rbf_kernel),
    ("poly-default", axf.polynomial_kernel, {}, oracles.poly, skp.polynomial_kernel),
    ("poly-d2", axf.polynomial_kernel, {"degree": 2, "gamma": 0.5, "coef0": 0.0}, oracles.poly,
     skp.polynomial_kernel),
    ("poly-d5", axf.polynomial_kernel, {"degree": 5, "gamma": 0.3, "coef0": -0.4}, oracles.poly,
     skp.polynomial_kernel),
    ("linear", axf.linear_kernel, {}, oracles.linear, skp.linear_kernel),
    ("cosine", axf.cosine_similarity, {}, oracles.cosine, skp.cosine_similarity),
]
GRAM_IDS = [c[0] for c in GRAM_CASES]


def _data(rng, dtype, n=31, m=19, d=6):
    X = make_data(rng, n, d, dtype)
    Y = make_data(rng, m, d, dtype)
    # all-zero rows exercise the cosine convention and zero-norm paths everywhere
    return with_zero_rows(X, (0, 5)), with_zero_rows(Y, (3,))


@pytest.mark.parametrize("case", GRAM_CASES, ids=GRAM_IDS)
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_gram_reference_vs_oracle_and_sklearn(case, symmetric, dtype, rng):
    _, fn, kw, oracle, sk = case
    X, Y = _data(rng, dtype)
    Yarg = None if symmetric else Y
    got = fn(X, Yarg, backend=REF, **kw)
    assert got.dtype == dtype
    expected = oracle(X, Yarg, **kw)
    assert_allclose(got, expected, dtype, err_msg="reference vs oracle")
    sk_val = sk(X.astype(np.float64), None if symmetric else Y.astype(np.float64), **kw)
    assert_allclose(got, sk_val, dtype, err_msg="reference vs scikit-learn")
    # the oracle itself agrees with scikit-learn to float64 precision
    assert_allclose(expected, sk_val, np.float64, err_msg="oracle vs scikit-learn")


@pytest.mark.parametrize("squared", [False, True], ids=["euclidean", "sqeuclidean"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["XY", "XX"])
def test_euclidean_reference_vs_oracle_sklearn_scipy(squared, symmetric, dtype, rng):
    X, Y = _data(rng, dtype)
    Yarg = None if symmetric else Y
    got = axf.euclidean_distances(X, Yarg, squared=squared, backend=REF)
    assert got.dtype == dtype
    expected = (oracles.sqeuclidean if squared else oracles.euclidean)(X, Yarg)
    # plain distances are compared through their squares (see _testing)
    check = assert_allclose if squared else assert_distances_allclose
    check(got, expected, dtype, err_msg="reference vs oracle")
    X64 = X.astype(np.float64)
    Y64 = X64 if symmetric else Y.astype(np.float64)
    check(got, skp.euclidean_distances(X64, Y64, squared=squared), dtype, err_msg="vs scikit-learn")
    scipy_val = cdist(X64, Y64, "sqeuclidean" if squared else "euclidean")
    check(got, scipy_val, dtype, err_msg="vs scipy cdist")
    assert_allclose(expected, scipy_val, np.float64, err_msg="oracle vs scipy cdist")


def test_sklearn_float32_agrees_with_reference(rng):
    """scikit-learn's own float32 path (upcast) and ours agree within the float32 tolerance."""
    X, Y = _data(rng, np.float32)
    assert_distances_allclose(axf.euclidean_distances(X, Y, backend=REF), skp.euclidean_distances(X, Y), np.float32)
    assert_allclose(axf.rbf_kernel(X, Y, backend=REF), skp.rbf_kernel(X, Y), np.float32)


@pytest.mark.parametrize("kernel", ["rbf", "poly", "polynomial", "linear", "cosine"])
@pytest.mark.parametrize("vdim", [1, 2])
def test_kernel_matvec_reference_vs_oracle(kernel, vdim, dtype, rng):
    X, Y = _data(rng, dtype)
    V = make_data(rng, Y.shape[0], 3, dtype)
    if vdim == 1:
        V = V[:, 0].copy()
    kw = {"gamma": 0.4} if kernel != "linear" and kernel != "cosine" else {}
    got = axf.kernel_matvec(X, Y, V, kernel, backend=REF, **kw)
    expected = oracles.kernel_matvec(kernel, X, Y, V, **kw)
    assert got.shape == expected.shape == ((X.shape[0],) if vdim == 1 else (X.shape[0], 3))
    assert got.dtype == dtype
    assert_allclose(got, expected, dtype)
    rs = axf.kernel_row_sums(X, None, kernel, backend=REF, **kw)
    assert_allclose(rs, oracles.kernel_row_sums(kernel, X, None, **kw), dtype)


@pytest.mark.parametrize("shape", [(2, 1, 1), (9, 3, 2), (23, 4, 7), (40, 6, 3)], ids=lambda s: "n%d-d%d-k%d" % s)
def test_stress_reference_vs_oracle_and_pdist(shape, dtype, rng):
    n, d, k = shape
    X = make_data(rng, n, d, dtype)
    Z = make_data(rng, n, k, dtype)
    got = axf.stress(X, Z, backend=REF)
    assert isinstance(got, float)
    expected = oracles.stress(X, Z)
    assert_allclose(got, expected, dtype)
    # a second, vectorized formula from SciPy's condensed distances
    DX, DZ = pdist(X.astype(np.float64)), pdist(Z.astype(np.float64))
    via_pdist = np.sqrt(np.sum((DX - DZ) ** 2) / np.sum(DX**2))
    assert_allclose(expected, via_pdist, np.float64)
    value, grad = axf.stress_and_grad(X, Z, backend=REF)
    assert_allclose(value, expected, dtype)
    assert grad.dtype == dtype and grad.shape == Z.shape
    assert_allclose(grad, oracles.stress_grad(X, Z), dtype)


def test_oracle_stress_grad_matches_finite_differences(rng):
    """The naive gradient oracle is itself right (checked without the package)."""
    from _testing import central_differences

    X, Z = make_data(rng, 7, 3), make_data(rng, 7, 2)
    fd = central_differences(lambda Zp: oracles.stress(X, Zp), Z)
    assert_allclose(oracles.stress_grad(X, Z), fd, np.float64, rtol=1e-6, atol=1e-6)
