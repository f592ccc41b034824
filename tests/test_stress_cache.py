"""StressCache: stress against cached pairwise distances (the full-batch optimizer's path).

Every backend's packed cache and cached evaluation agree with the uncached reference
stress, with the naive oracles, across block sizes, thread counts and backends (a cache
built by one backend is read by another: the layout is shared).
"""
from __future__ import annotations

import numpy as np
import oracles
import pytest
from _testing import assert_allclose, make_data

import alignxpert_fast as axf
from alignxpert_fast.kernels import _plan as _blocking
from alignxpert_fast.kernels._backends import reference
from alignxpert_fast.kernels._backends._layout import packed_offsets
from alignxpert_fast.alignment.objective import AlignXpertObjective

REF = "reference"
# k = 8, 16, 24, 32: the native gradient products' unpacked sweep (k <= 32, a multiple of
# the vector lanes: 16 float / 8 double); 17, 33, 70: BLAS gemms
SHAPES = [(2, 3, 2), (3, 1, 4), (29, 5, 2), (64, 4, 9), (150, 6, 3), (31, 4, 17), (45, 3, 33), (27, 5, 70),
          (33, 4, 8), (30, 3, 16), (37, 5, 24), (41, 2, 32)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "n%d-d%d-k%d" % s)
@pytest.mark.parametrize("block_rows", [1, 7, None])
def test_cached_stress_matches_uncached(shape, block_rows, backend, dtype, rng):
    n, d, k = shape
    X, Z = make_data(rng, n, d, dtype), make_data(rng, n, k, dtype)
    cache = axf.StressCache(X, backend=backend, block_rows=block_rows)
    assert cache.dtype == dtype and cache.n_samples == n and cache.n_features == d
    value, grad = cache.stress_and_grad(Z)
    rvalue, rgrad = axf.stress_and_grad(X, Z, backend=REF)
    assert isinstance(value, float) and grad.dtype == dtype and grad.shape == (n, k)
    assert_allclose(value, rvalue, dtype)
    assert_allclose(grad, rgrad, dtype)
    assert_allclose(value, oracles.stress(X, Z), dtype)
    assert_allclose(grad, oracles.stress_grad(X, Z), dtype)
    assert cache.stress(Z) == value
    out = np.full((n, k), np.nan, dtype=dtype)
    v2, g2 = cache.stress_and_grad(Z, out=out)
    assert g2 is out and v2 == value
    np.testing.assert_array_equal(out, grad)


@pytest.mark.parametrize("block_cols", [1, 5, 2048])
def test_cached_stress_does_not_depend_on_block_cols(block_cols, backend, dtype, rng):
    X, Z = make_data(rng, 61, 4, dtype), make_data(rng, 61, 3, dtype)
    cache = axf.StressCache(X, backend=backend, block_rows=8)
    v0, g0 = cache.stress_and_grad(Z)
    v, g = cache.stress_and_grad(Z, block_cols=block_cols)
    assert_allclose(v, v0, dtype)
    assert_allclose(g, g0, dtype)


def test_cache_layout_and_size(backend, rng):
    n, br = 37, 8
    X = make_data(rng, n, 3, np.float64)
    cache = axf.StressCache(X, backend=backend, block_rows=br)
    offsets = packed_offsets(n, br)
    assert axf.StressCache.packed_size(n, br) == offsets[-1]
    assert cache.nbytes == offsets[-1] * 8 == axf.StressCache.estimate_nbytes(n, np.float64, br)
    # block b holds D[r0:r0+rows, r0:]
    full = oracles.euclidean(X)
    np.fill_diagonal(full, 0)
    for b, r0 in enumerate(range(0, n, br)):
        rows = min(br, n - r0)
        block = cache._data[offsets[b]:offsets[b + 1]].reshape(rows, n - r0)
        assert_allclose(block, full[r0:r0 + rows, r0:], np.float64)
    assert "StressCache(n_samples=37, n_features=3, dtype=float64, block_rows=8" in repr(cache)


def test_cache_is_shared_across_backends(dtype, rng):
    X, Z = make_data(rng, 45, 5, dtype), make_data(rng, 45, 3, dtype)
    cache = axf.StressCache(X, backend="native", block_rows=16)
    v_native, g_native = cache.stress_and_grad(Z)
    for other in ("numba", REF):
        v, g = cache.stress_and_grad(Z, backend=other)
        assert_allclose(v, v_native, dtype)
        assert_allclose(g, g_native, dtype)


def test_value_is_bit_identical_across_thread_counts(backend, dtype, rng, monkeypatch):
    monkeypatch.setattr(_blocking, "MIN_WORK_PER_THREAD", 1)
    X, Z = make_data(rng, 83, 4, dtype), make_data(rng, 83, 3, dtype)
    cache = axf.StressCache(X, backend=backend, block_rows=9)
    v1, g1 = cache.stress_and_grad(Z, n_threads=1)
    v2, g2 = cache.stress_and_grad(Z, n_threads=2)
    assert v1 == v2
    v2b, g2b = cache.stress_and_grad(Z, n_threads=2)
    assert v2b == v2
    np.testing.assert_array_equal(g2b, g2)
    assert_allclose(g2, g1, dtype)
    # the cache itself is the same whoever builds it
    c2 = axf.StressCache(X, backend=backend, block_rows=9, n_threads=2)
    np.testing.assert_array_equal(c2._data, cache._data)


def test_duplicate_rows_give_finite_gradients(backend, dtype, rng):
    X = make_data(rng, 30, 4, dtype)
    X[5] = X[6]
    Z = make_data(rng, 30, 2, dtype)
    Z[10] = Z[11]
    value, grad = axf.StressCache(X, backend=backend, block_rows=4).stress_and_grad(Z)
    rvalue, rgrad = axf.stress_and_grad(X, Z, backend=backend, block_rows=4)
    assert np.all(np.isfinite(grad))
    assert_allclose(value, rvalue, dtype)
    assert_allclose(grad, rgrad, dtype)


def test_z_is_converted_to_the_cache_dtype(rng):
    X = make_data(rng, 20, 3, np.float32)
    Z = make_data(rng, 20, 2, np.float64)
    value, grad = axf.StressCache(X).stress_and_grad(Z)
    assert grad.dtype == np.float32
    assert_allclose(value, oracles.stress(X, Z.astype(np.float32)), np.float32)


@pytest.mark.parametrize("make_z, exc, match", [
    (lambda Z: Z[:-1], ValueError, "Z must have 20 rows"),
    (lambda Z: Z[:, 0], ValueError, "Z"),
    (lambda Z: np.where(np.arange(20)[:, None] == 3, np.nan, Z), ValueError, "Z"),
    (lambda Z: Z.astype(object), TypeError, "Z"),
])
def test_bad_z(make_z, exc, match, rng):
    X, Z = make_data(rng, 20, 3, np.float64), make_data(rng, 20, 2, np.float64)
    cache = axf.StressCache(X)
    with pytest.raises(exc, match=match):
        cache.stress_and_grad(make_z(Z))


def test_bad_cache_input(rng):
    X = make_data(rng, 20, 3, np.float64)
    with pytest.raises(ValueError, match="all rows of X are identical"):
        axf.StressCache(np.ones((10, 3)))
    with pytest.raises(ValueError, match="X"):
        axf.StressCache(X[:1])
    with pytest.raises(ValueError, match="block_rows"):
        axf.StressCache(X, block_rows=0)
    cache = axf.StressCache(X)
    with pytest.raises(ValueError, match="out"):
        cache.stress_and_grad(X[:, :2], out=np.empty((20, 3)))


def test_native_rejects_a_cache_of_the_wrong_size(rng):
    from alignxpert_fast import _native

    Z = make_data(rng, 20, 2, np.float64)
    with pytest.raises(ValueError, match="D must have shape"):
        _native.stress_cached_f64(np.zeros((1, 5)), Z, None, 1, 8, 8)
    with pytest.raises(ValueError, match="out must have shape"):
        _native.stress_pack_f64(Z, np.zeros((1, 5)), 1, 8)


# ------------------------------------------------------------------ in the objective
@pytest.mark.parametrize("similarity", ["paired", "contrastive"])
def test_objective_with_and_without_cache_agree(similarity, rng):
    Fs = [make_data(rng, 40, 5, np.float64), make_data(rng, 40, 3, np.float64)]
    Ws = [rng.standard_normal((5, 4)), rng.standard_normal((3, 4))]
    kw = dict(similarity=similarity, gamma=0.5, alpha=0.3)
    cached = AlignXpertObjective(Fs, Fs, stress_cache=True, **kw)
    plain = AlignXpertObjective(Fs, Fs, stress_cache=False, **kw)
    v1, g1 = cached.value_and_grad(Ws)
    v2, g2 = plain.value_and_grad(Ws)
    assert cached.stress_caches() is not None and plain.stress_caches() is None
    assert_allclose(v1, v2, np.float64)
    for a, b in zip(g1, g2):
        assert_allclose(a, b, np.float64)
    # a minibatch evaluation ignores the cache
    rows = np.arange(0, 40, 3)
    va, _ = cached.value_and_grad(Ws, rows=rows)
    vb, _ = plain.value_and_grad(Ws, rows=rows)
    assert va == vb


def test_objective_auto_cache_follows_working_memory(rng):
    Fs = [make_data(rng, 40, 5, np.float32), make_data(rng, 40, 3, np.float32)]
    obj = AlignXpertObjective(Fs, Fs, gamma=0.5)
    assert obj._use_cache()
    obj.n_samples = 100_000  # 2 x ~20 GB of float32 distances: more than 32 * working_memory
    assert not obj._use_cache()
    with axf.config_context(working_memory=10**6):
        assert obj._use_cache()
    assert not AlignXpertObjective(Fs, None, gamma=0.5, alpha=0)._use_cache()
    with pytest.raises(ValueError, match="stress_cache"):
        AlignXpertObjective(Fs, Fs, gamma=0.5, stress_cache="yes")


@pytest.mark.parametrize("k_extra", [0, 5])
def test_isometry_has_zero_gradient_not_noise(k_extra, backend, dtype, rng):
    """Z = X Q (an isometry, k >= d): the stress is at rounding level and its gradient
    would be pure noise as large as a real one; every path reports 0 there."""
    X = make_data(rng, 80, 6, np.float64)
    Q = np.linalg.qr(rng.standard_normal((6 + k_extra, 6 + k_extra)))[0][:6]
    Xd, Z = X.astype(dtype), (X @ Q).astype(dtype)
    for value, grad in (axf.stress_and_grad(Xd, Z, backend=backend),
                        axf.StressCache(Xd, backend=backend).stress_and_grad(Z)):
        assert value < 64 * np.finfo(dtype).eps
        np.testing.assert_array_equal(grad, 0)
    # a real (small) stress keeps its gradient
    value, grad = axf.stress_and_grad(Xd, (Z * 1.01).astype(dtype), backend=backend)
    assert value > 1e-3 and np.linalg.norm(grad) > 1e-3


def test_numpy_bool_stress_cache_is_honoured(rng):
    Fs = [make_data(rng, 30, 4, np.float64), make_data(rng, 30, 3, np.float64)]
    Ws = [rng.standard_normal((4, 2)), rng.standard_normal((3, 2))]
    obj = AlignXpertObjective(Fs, Fs, gamma=0.5, stress_cache=np.False_)
    obj.value_and_grad(Ws)
    assert obj.stress_caches() is None and obj.stress_cache is False
    assert AlignXpertObjective(Fs, Fs, gamma=0.5, stress_cache=np.True_).stress_cache is True
    with pytest.raises(ValueError, match="stress_cache"):
        AlignXpertObjective(Fs, Fs, gamma=0.5, stress_cache=np.array([1, 2]))


@pytest.mark.parametrize("n, block_rows, exc", [(10, 0, ValueError), (10, -1, ValueError), (10, 2.5, ValueError),
                                                (-1, 4, ValueError)])
def test_packed_size_checks_its_arguments(n, block_rows, exc):
    with pytest.raises(exc, match="block_rows|n "):
        axf.StressCache.packed_size(n, block_rows)
    with pytest.raises(exc, match="block_rows|n "):
        axf.StressCache.estimate_nbytes(n, np.float32, block_rows)


def test_stress_threads_capped_by_accumulator_budget():
    cap = _blocking.cap_threads_for_accumulators
    assert cap(64, 1000, 16, 64) == 64  # 128 kB per thread: no cap
    assert cap(64, 100_000, 64, 64) == 20  # 51 MB per thread within 1 GiB
    assert cap(64, 10**7, 256, 64) == 2  # always at least two
    assert cap(1, 10**7, 256, 64) == 1


def test_native_pack_with_many_threads_does_not_start_idle_threads(rng):
    """A direct call asking for far more threads than row blocks works (capped)."""
    from alignxpert_fast import _native

    X = make_data(rng, 10, 3, np.float64)
    out = np.empty((1, axf.StressCache.packed_size(10, 4)))
    _native.stress_pack_f64(X, out, 1000, 4)
    ref = np.empty(out.shape[1])
    reference.stress_pack(X, ref, n_threads=1, block_rows=4)
    assert_allclose(out[0], ref, np.float64)


@pytest.mark.parametrize("cached", [False, True], ids=["uncached", "cached"])
def test_duplicate_rows_agree_with_the_reference(cached, backend, dtype, rng):
    """Duplicated rows in X and Z (norm-trick rounding noise on their distances, which the
    noise floor sets to 0): every backend equals the reference, which applies the same floor."""
    X = make_data(rng, 40, 5, dtype) + np.dtype(dtype).type(3.0)  # an offset makes the noise larger
    X[7] = X[8]
    X[20] = X[21]
    Z = make_data(rng, 40, 3, dtype) + np.dtype(dtype).type(2.0)
    Z[7] = Z[8]
    Z[30] = Z[31]

    def run(b):
        if cached:
            return axf.StressCache(X, backend=b, block_rows=8).stress_and_grad(Z)
        return axf.stress_and_grad(X, Z, backend=b, block_rows=8, block_cols=16)

    value, grad = run(backend)
    rvalue, rgrad = run("reference")
    assert np.all(np.isfinite(grad))
    # tighter than the dtype table in float64: without the floor the reference is off by ~5e-10
    tol = 1e-12 if np.dtype(dtype) == np.float64 else 1e-6
    np.testing.assert_allclose(value, rvalue, rtol=tol)
    np.testing.assert_allclose(grad, rgrad, rtol=0, atol=tol * float(np.abs(rgrad).max()))


# ------------------------------------------------------- precomputed dissimilarities
@pytest.mark.parametrize("n,block_rows", [(2, 256), (9, 4), (300, 128), (300, 256)])
@pytest.mark.parametrize("form", ["dense", "condensed"])
def test_cache_from_dissimilarities_equals_cache_of_features(n, block_rows, form):
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, 6))
    Z = rng.standard_normal((n, 3))
    D = pdist(X) if form == "condensed" else squareform(pdist(X))
    ref = axf.StressCache(X, block_rows=block_rows)
    cache = axf.StressCache.from_dissimilarities(D, block_rows=block_rows)
    assert cache.n_samples == n and cache.n_features is None and cache.nbytes == ref.nbytes
    np.testing.assert_allclose(cache._data, ref._data, rtol=1e-12, atol=1e-12)
    v, g = cache.stress_and_grad(Z)
    v_ref, g_ref = ref.stress_and_grad(Z)
    assert v == pytest.approx(v_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-12)
    # the row blocks are read-only views of D[r0:r1, r0:]
    Dd = squareform(pdist(X))
    for r0, r1, blk in cache.row_blocks():
        np.testing.assert_allclose(blk, Dd[r0:r1, r0:], atol=1e-12)
        assert not blk.flags.writeable


def test_cache_from_dissimilarities_keeps_float32_and_rejects_bad_input():
    from scipy.spatial.distance import pdist, squareform

    D = squareform(pdist(np.random.default_rng(0).standard_normal((8, 3))))
    assert axf.StressCache.from_dissimilarities(D.astype(np.float32)).dtype == np.float32
    for bad, match in [(-D, "negative"), (D + np.triu(np.ones_like(D), 1), "symmetric"),
                       (D + np.eye(8), "zero diagonal"), (np.zeros_like(D), "all dissimilarities in D are 0"),
                       (pdist(D)[:-1], "condensed"), (D[:, :5], "square")]:
        with pytest.raises(ValueError, match=match):
            axf.StressCache.from_dissimilarities(bad)


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("size", ["plain", "tiny", "huge"])
def test_checked_entry_matches_the_public_one(relative, size, backend, dtype, rng):
    """StressCache.stress_and_grad_checked (the objective's entry: no input checks) returns
    what stress_and_grad returns, bit for bit, on the cache's scale and when Z is too small
    or too large for it (the uncached fallback on the kept X); a cache of dissimilarities
    refuses the fallback with the public entry's message."""
    # max |Z| after scaling: "huge" lies above the cache's bound sqrt(max / (16 k)) and below
    # the uncached kernels' sqrt(max / (4 k)) (float32 Z runs uncached in float64)
    big = np.dtype(dtype) == np.float64
    target = {"plain": None, "tiny": 1e-160 if big else 1e-20, "huge": 3e153 if big else 4e18}[size]
    if relative and big and size == "huge":
        # relative distortions of ~1e153 per pair: their sum of squares overflows float64
        pytest.skip("the relative stress of a Z 1e153 times X is not representable")
    X = make_data(rng, 40, 5, dtype)
    Z = make_data(rng, 40, 3, dtype)
    if target is not None:
        Z = np.ascontiguousarray((Z / np.abs(Z).max()) * np.dtype(dtype).type(target))
    cache = axf.StressCache(X, backend=backend, block_rows=16)
    value, grad = cache.stress_and_grad_checked(Z, relative)
    pvalue, pgrad = cache.stress_and_grad(Z, relative=relative)
    assert value == pvalue and grad.dtype == dtype
    np.testing.assert_array_equal(grad, pgrad)
    if size != "plain":
        D = np.sqrt(((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1))
        dcache = axf.StressCache.from_dissimilarities(D.astype(dtype), backend=backend)
        with pytest.raises(ValueError, match="too small or too large"):
            dcache.stress_and_grad(Z, relative=relative)
        with pytest.raises(ValueError, match="too small or too large"):
            dcache.stress_and_grad_checked(Z, relative)
