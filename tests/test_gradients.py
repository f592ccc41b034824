"""stress_and_grad: the analytic gradient against central finite differences (float64),
the value against stress(), and the zero gradient at zero stress."""
from __future__ import annotations

import numpy as np
import oracles
import pytest
from _testing import assert_allclose, central_differences, make_data

import alignxpert_fast as axf

SHAPES = [(3, 2, 1), (6, 3, 2), (10, 5, 2), (12, 4, 4), (8, 2, 4), (15, 3, 6), (20, 7, 3)]


def _ids(s):
    n, d, k = s
    return f"n{n}-d{d}-k{k}" + ("-k>d" if k > d else "")


@pytest.mark.parametrize("shape", SHAPES, ids=[_ids(s) for s in SHAPES])
def test_grad_vs_finite_differences(shape, backend, rng):
    n, d, k = shape
    X = make_data(rng, n, d)
    Z = make_data(rng, n, k)
    value, grad = axf.stress_and_grad(X, Z, backend=backend)
    # the finite differences call stress() 2 * n * k times: one thread keeps that cheap
    # on a busy machine (thread invariance is tested in test_invariance.py)
    fd = central_differences(lambda Zp: axf.stress(X, Zp, backend=backend, n_threads=1), Z, eps=1e-6)
    err = np.abs(grad - fd)
    scale = np.max(np.abs(fd))
    assert scale > 1e-3  # a non-trivial gradient
    assert err.max() <= 1e-6 * scale, f"max |grad - fd| = {err.max():.3g} (scale {scale:.3g})"
    assert err.mean() <= 1e-7 * scale, f"mean |grad - fd| = {err.mean():.3g}"
    # same blocks, same data: the value equals stress() (and the naive formula)
    assert value == pytest.approx(axf.stress(X, Z, backend=backend), rel=1e-14, abs=0)
    assert_allclose(value, oracles.stress(X, Z), np.float64)


@pytest.mark.parametrize("shape", [(40, 6, 2), (33, 2, 5)], ids=["k<d", "k>d"])
def test_directional_derivative_several_blocks(shape, backend, rng):
    """Larger n with small tiles (many blocks, short last block): <grad, P> matches the
    central difference of stress along a random direction P."""
    n, d, k = shape
    X, Z, P = make_data(rng, n, d), make_data(rng, n, k), make_data(rng, n, k)
    kw = dict(backend=backend, block_rows=7, block_cols=9)
    _, grad = axf.stress_and_grad(X, Z, **kw)
    eps = 1e-6
    fd = (axf.stress(X, Z + eps * P, **kw) - axf.stress(X, Z - eps * P, **kw)) / (2 * eps)
    assert float(np.sum(grad * P)) == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_value_equals_stress(backend, dtype, rng):
    for n, d, k in [(5, 2, 2), (37, 4, 3), (64, 3, 8)]:
        X, Z = make_data(rng, n, d, dtype), make_data(rng, n, k, dtype)
        value, _ = axf.stress_and_grad(X, Z, backend=backend)
        assert value == pytest.approx(axf.stress(X, Z, backend=backend), rel=1e-14, abs=0)


@pytest.mark.parametrize("n,d", [(2, 1), (9, 3), (50, 4)])
def test_zero_stress_zero_gradient(n, d, backend, dtype, rng):
    """Z = X: stress is exactly 0 and the gradient is exactly 0 (not NaN)."""
    X = make_data(rng, n, d, dtype)
    assert axf.stress(X, X.copy(), backend=backend) == 0.0
    value, grad = axf.stress_and_grad(X, X.copy(), backend=backend)
    assert value == 0.0
    assert grad.shape == X.shape and grad.dtype == dtype
    np.testing.assert_array_equal(grad, np.zeros_like(X))


def test_coincident_projected_points(backend, rng):
    """Pairs with E_ij = 0 contribute no gradient: a finite gradient, equal to the
    naive formula that leaves those pairs out."""
    X = make_data(rng, 8, 3)
    Z = make_data(rng, 8, 2)
    Z[3] = Z[5]
    value, grad = axf.stress_and_grad(X, Z, backend=backend)
    assert np.all(np.isfinite(grad)) and value > 0
    assert_allclose(grad, oracles.stress_grad(X, Z), np.float64)


def test_gradient_is_translation_invariant(backend, rng):
    X, Z = make_data(rng, 12, 3), make_data(rng, 12, 2)
    v1, g1 = axf.stress_and_grad(X, Z, backend=backend)
    v2, g2 = axf.stress_and_grad(X + 5.0, Z - 3.0, backend=backend)
    assert_allclose(v2, v1, np.float64)
    assert_allclose(g2, g1, np.float64)
    # the gradient of a translation-invariant function sums to 0 over the points
    assert_allclose(g1.sum(axis=0), np.zeros(2), np.float64, scale=float(np.abs(g1).max()))


# ---------------------------------------------------------------- relative stress
# sqrt(mean_{i<j, D > 0} ((D - E) / D)^2): pair weights 1 / D^2 in the same kernels
@pytest.mark.parametrize("shape", [(6, 3, 2), (12, 4, 4), (20, 7, 3), (15, 3, 17)], ids=_ids)
def test_relative_grad_vs_finite_differences(shape, backend, rng):
    n, d, k = shape
    X = make_data(rng, n, d)
    Z = make_data(rng, n, k)
    value, grad = axf.stress_and_grad(X, Z, relative=True, backend=backend)
    fd = central_differences(lambda Zp: axf.stress(X, Zp, relative=True, backend=backend, n_threads=1), Z,
                             eps=1e-6)
    err = np.abs(grad - fd)
    scale = np.max(np.abs(fd))
    assert scale > 1e-3
    assert err.max() <= 1e-6 * scale, f"max |grad - fd| = {err.max():.3g} (scale {scale:.3g})"
    assert_allclose(value, oracles.stress(X, Z, relative=True), np.float64)
    assert value != pytest.approx(oracles.stress(X, Z), rel=1e-3)  # a different quantity


@pytest.mark.parametrize("block_rows", [1, 5, None])
def test_relative_matches_oracle_cached_and_uncached(block_rows, backend, dtype, rng):
    """Every path (uncached, cached, several blocks and threads) against the pair loop,
    with a duplicated row (D = 0: the pair is left out, no division by zero)."""
    X = make_data(rng, 23, 4, dtype)
    X[7] = X[3]
    Z = make_data(rng, 23, 32, dtype)  # k = 32: the native sweep of the gradient products
    want = oracles.stress(X, Z, relative=True)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for nt in (1, 2):
        v, g = axf.stress_and_grad(X, Z, relative=True, backend=backend, n_threads=nt, block_rows=block_rows,
                                   block_cols=block_rows)
        cache = axf.StressCache(X, backend=backend, n_threads=nt, block_rows=block_rows)
        vc, gc = cache.stress_and_grad(Z, relative=True)
        assert abs(v - want) <= tol * want and abs(vc - want) <= tol * want
        assert abs(cache.stress(Z, relative=True) - vc) <= tol * want
        assert np.isfinite(g).all() and np.isfinite(gc).all()
        np.testing.assert_allclose(gc, g, rtol=0, atol=tol * 50 * np.abs(g).max())


def test_relative_is_scale_invariant(backend, rng):
    X, Z = make_data(rng, 15, 3), make_data(rng, 15, 5)
    v = axf.stress(X, Z, relative=True, backend=backend)
    assert axf.stress(1e3 * X, 1e3 * Z, relative=True, backend=backend) == pytest.approx(v, rel=1e-12)
