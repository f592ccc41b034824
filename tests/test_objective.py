"""The AlignXpert objective: analytic gradients vs central finite differences (float64),
values vs brute-force n x n formulas, block invariance, memory, bad input."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.special import logsumexp

import alignxpert_fast as axf
from alignxpert_fast.alignment.feature_maps import LinearMap, NystroemMap
from alignxpert_fast.alignment.objective import AlignXpertObjective, alignxpert_loss, alignxpert_loss_and_grad
from alignxpert_fast.alignment.similarity import contrastive_similarity_and_grad, paired_similarity_and_grad

@pytest.fixture(autouse=True)
def _single_thread():
    """These tests use tiny inputs, where thread wake-ups dominate and a busy 2-core
    machine slows 2-thread runs by 3x; thread-count parity is tested with the kernels."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), axf.config_context(n_threads=1):
        yield


KERNELS = ("rbf", "cosine", "poly", "linear")
SIMILARITIES = ("paired", "contrastive")
KPARAMS = dict(gamma=0.7, degree=3, coef0=0.5)


def central_fd(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (f(xp) - f(xm)) / (2 * eps)
    return g


def assert_grad_close(analytic, numeric, rtol=1e-6):
    scale = max(1.0, float(np.max(np.abs(numeric))))
    err = np.abs(analytic - numeric)
    assert err.max() <= rtol * scale, f"max error {err.max():.3g} (scale {scale:.3g})"
    assert err.mean() <= 0.1 * rtol * scale, f"mean error {err.mean():.3g}"


def sim_fn(similarity, kernel, **extra):
    if similarity == "paired":
        return lambda A, B: paired_similarity_and_grad(A, B, kernel=kernel, **KPARAMS)
    return lambda A, B: contrastive_similarity_and_grad(A, B, kernel=kernel, temperature=0.5, **KPARAMS, **extra)


# ----------------------------------------------------------------- similarity terms
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_similarity_gradient_matches_finite_differences(similarity, kernel):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    f = sim_fn(similarity, kernel, block_rows=3)
    S, dA, dB = f(A, B)
    assert_grad_close(dA, central_fd(lambda X: f(X, B)[0], A))
    assert_grad_close(dB, central_fd(lambda X: f(A, X)[0], B))


@pytest.mark.parametrize("kernel", KERNELS)
def test_paired_value_matches_brute_force(kernel):
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((9, 4)), rng.standard_normal((9, 4))
    g, deg, c0 = KPARAMS["gamma"], KPARAMS["degree"], KPARAMS["coef0"]
    kap = {
        "rbf": lambda a, b: np.exp(-g * np.sum((a - b) ** 2)),
        "cosine": lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b)),
        "poly": lambda a, b: (g * a @ b + c0) ** deg,
        "linear": lambda a, b: a @ b,
    }[kernel]
    expected = np.mean([kap(a, b) for a, b in zip(A, B)])
    S, _, _ = paired_similarity_and_grad(A, B, kernel=kernel, **KPARAMS)
    np.testing.assert_allclose(S, expected, rtol=1e-12)


def _brute_kernel(kernel, A, B):
    g, deg, c0 = KPARAMS["gamma"], KPARAMS["degree"], KPARAMS["coef0"]
    if kernel == "rbf":
        return np.exp(-g * ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))
    if kernel == "cosine":
        return (A / np.linalg.norm(A, axis=1, keepdims=True)) @ (B / np.linalg.norm(B, axis=1, keepdims=True)).T
    if kernel == "poly":
        return (g * A @ B.T + c0) ** deg
    return A @ B.T


@pytest.mark.parametrize("kernel", KERNELS)
def test_contrastive_value_matches_brute_force_infonce(kernel):
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((11, 3)), rng.standard_normal((11, 3))
    S = _brute_kernel(kernel, A, B) / 0.5
    d = np.diag(S)
    expected = -0.5 * (np.mean(logsumexp(S, axis=1) - d) + np.mean(logsumexp(S, axis=0) - d))
    value, _, _ = contrastive_similarity_and_grad(A, B, kernel=kernel, temperature=0.5, **KPARAMS)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    assert value <= 0


@pytest.mark.parametrize("kernel", KERNELS)
def test_contrastive_does_not_depend_on_block_rows(kernel):
    rng = np.random.default_rng(4)
    A, B = rng.standard_normal((23, 5)), rng.standard_normal((23, 5))
    ref = contrastive_similarity_and_grad(A, B, kernel=kernel, **KPARAMS)
    for br in (1, 7, 23, 100):
        out = contrastive_similarity_and_grad(A, B, kernel=kernel, block_rows=br, **KPARAMS)
        np.testing.assert_allclose(out[0], ref[0], rtol=1e-12)
        np.testing.assert_allclose(out[1], ref[1], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(out[2], ref[2], rtol=1e-10, atol=1e-14)


def test_cosine_zero_rows_have_zero_similarity_and_gradient():
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    A[2] = 0
    for f in (sim_fn("paired", "cosine"), sim_fn("contrastive", "cosine")):
        S, dA, dB = f(A, B)
        assert np.isfinite(S)
        assert np.all(dA[2] == 0)
        assert np.all(np.isfinite(dB))


def test_contrastive_memory_stays_blockwise():
    rng = np.random.default_rng(6)
    n = 2000
    A, B = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))
    contrastive_similarity_and_grad(A[:40], B[:40], kernel="rbf", gamma=0.5)  # one-time setup out of the trace
    tracemalloc.start()
    try:
        contrastive_similarity_and_grad(A, B, kernel="rbf", gamma=0.5, block_rows=32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * n * 8 / 8, f"peak {peak / 2**20:.1f} MiB; an n x n float64 array is {n * n * 8 / 2**20:.0f} MiB"


# -------------------------------------------------------------------- full objective
def _features(kind, Xs, rng):
    if kind == "linear":
        return [LinearMap().fit(X).transform(X) for X in Xs]
    kernel = "rbf" if kind == "nystroem-rbf" else "poly"
    return [NystroemMap(kernel, n_landmarks=5, random_state=int(rng.integers(1000))).fit(X).transform(X) for X in Xs]


# (M, input widths, k, feature map): k below and above d_m, M = 2 and 3, Nyström maps
CASES = [
    (2, (5, 4), 2, "linear"),
    (2, (3, 2), 6, "linear"),
    (3, (4, 2, 3), 3, "linear"),
    (2, (4, 3), 3, "nystroem-rbf"),
    (3, (3, 4, 2), 4, "nystroem-poly"),
]


def _problem(case, seed=0):
    M, dims, k, fmap = case
    rng = np.random.default_rng(seed)
    n = 8
    Xs = [rng.standard_normal((n, d)) for d in dims]
    Fs = _features(fmap, Xs, rng)
    Ws = [0.4 * rng.standard_normal((F.shape[1], k)) for F in Fs]
    return Xs, Fs, Ws


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"M{c[0]}-d{'x'.join(map(str, c[1]))}-k{c[2]}-{c[3]}")
def test_objective_gradient_directional_finite_differences(case, similarity, kernel):
    Xs, Fs, Ws = _problem(case)
    obj = AlignXpertObjective(Fs, Xs, similarity=similarity, kernel=kernel, temperature=0.5, alpha=0.3, lam=0.05,
                              **KPARAMS)
    value, grads = obj.value_and_grad(Ws)
    rng = np.random.default_rng(11)
    eps = 1e-6
    for _ in range(3):
        V = [rng.standard_normal(W.shape) for W in Ws]
        fp = obj.value_and_grad([W + eps * v for W, v in zip(Ws, V)])[0]
        fm = obj.value_and_grad([W - eps * v for W, v in zip(Ws, V)])[0]
        numeric = (fp - fm) / (2 * eps)
        analytic = sum(float(np.sum(g * v)) for g, v in zip(grads, V))
        assert abs(analytic - numeric) <= 1e-6 * max(1.0, abs(numeric)), (analytic, numeric)


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_objective_gradient_full_finite_differences(similarity, kernel):
    """Every entry of every dL/dW_m against central differences of the packed parameters."""
    Xs, Fs, Ws = _problem(CASES[1], seed=3)  # k = 6 above d = 3 and 2
    obj = AlignXpertObjective(Fs, Xs, similarity=similarity, kernel=kernel, temperature=0.5, alpha=0.3, lam=0.05,
                              **KPARAMS)
    k = Ws[0].shape[1]
    w = obj.pack(Ws)
    value, grad = obj.fun(w, k)
    assert np.isfinite(value) and grad.shape == w.shape
    numeric = central_fd(lambda v: obj.fun(v, k)[0], w)
    assert_grad_close(grad, numeric, rtol=1e-6)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_objective_value_is_the_sum_of_its_terms(similarity):
    Xs, Fs, Ws = _problem(CASES[2], seed=4)
    kw = dict(similarity=similarity, kernel="rbf", gamma=0.7, temperature=0.5, alpha=0.3, lam=0.05)
    value, grads = alignxpert_loss_and_grad(Ws, Fs, Xs, **kw)
    Zs = [F @ W for F, W in zip(Fs, Ws)]
    f = (paired_similarity_and_grad if similarity == "paired" else contrastive_similarity_and_grad)
    extra = {} if similarity == "paired" else {"temperature": 0.5}
    sim = sum(f(Zs[m], Zs[ell], kernel="rbf", gamma=0.7, **extra)[0] for m in range(3) for ell in range(m + 1, 3))
    expected = -sim + 0.05 * sum(np.sum(W**2) for W in Ws) + 0.3 * sum(axf.stress(X, Z) for X, Z in zip(Xs, Zs))
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(alignxpert_loss(Ws, Fs, Xs, **kw), value, rtol=1e-15)
    assert [g.shape for g in grads] == [W.shape for W in Ws]


def test_objective_alpha_zero_needs_no_stress_targets():
    _, Fs, Ws = _problem(CASES[0])
    value, grads = alignxpert_loss_and_grad(Ws, Fs, None, gamma=0.5, alpha=0.0)
    assert np.isfinite(value) and len(grads) == 2


def test_objective_rows_subset_equals_objective_on_subset():
    Xs, Fs, Ws = _problem(CASES[0])
    rows = np.array([0, 2, 3, 5, 7])
    kw = dict(gamma=0.5, alpha=0.2, similarity="contrastive")
    full = AlignXpertObjective(Fs, Xs, **kw).value_and_grad(Ws, rows=rows)
    sub = AlignXpertObjective([F[rows] for F in Fs], [X[rows] for X in Xs], **kw).value_and_grad(Ws)
    np.testing.assert_allclose(full[0], sub[0], rtol=1e-13)
    for a, b in zip(full[1], sub[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_objective_float32_stays_float32_and_close_to_float64():
    Xs, Fs, Ws = _problem(CASES[0])
    obj64 = AlignXpertObjective(Fs, Xs, gamma=0.5)
    obj32 = AlignXpertObjective([F.astype(np.float32) for F in Fs], [X.astype(np.float32) for X in Xs], gamma=0.5)
    assert obj32.dtype == np.float32
    v64, g64 = obj64.value_and_grad(Ws)
    v32, g32 = obj32.value_and_grad(Ws)
    np.testing.assert_allclose(v32, v64, rtol=1e-4)
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())


@pytest.mark.parametrize("args, kwargs, exc, match", [
    (lambda F, X: ([F[0]], None), {}, ValueError, "at least two modalities"),
    (lambda F, X: (F[0], None), {}, TypeError, "features must be a list"),
    (lambda F, X: ([F[0], F[1][:5]], None), {"gamma": 1.0, "alpha": 0}, ValueError, "same number of rows"),
    (lambda F, X: (F, X), {"similarity": "pairwise"}, ValueError, "similarity must be one of"),
    (lambda F, X: (F, X), {"kernel": "laplacian"}, ValueError, "kernel must be one of"),
    (lambda F, X: (F, X), {"kernel": "rbf", "gamma": None}, ValueError, "gamma must be given"),
    (lambda F, X: (F, X), {"gamma": -1.0}, ValueError, "gamma must be > 0"),
    (lambda F, X: (F, X), {"gamma": 1.0, "alpha": -0.1}, ValueError, "alpha must be >= 0"),
    (lambda F, X: (F, X), {"gamma": 1.0, "temperature": 0}, ValueError, "temperature must be > 0"),
    (lambda F, X: (F, None), {"gamma": 1.0, "alpha": 0.1}, ValueError, "stress_targets must be a list"),
])
def test_objective_bad_input(args, kwargs, exc, match):
    Xs, Fs, _ = _problem(CASES[0])
    F, X = args(Fs, Xs)
    with pytest.raises(exc, match=match):
        AlignXpertObjective(F, X, **kwargs)


def test_objective_rejects_mismatched_projections():
    Xs, Fs, Ws = _problem(CASES[0])
    obj = AlignXpertObjective(Fs, Xs, gamma=1.0)
    with pytest.raises(ValueError, match=r"Ws\[1\] must have shape"):
        obj.value_and_grad([Ws[0], Ws[0]])
    with pytest.raises(ValueError, match="same number of columns"):
        obj.value_and_grad([Ws[0], np.zeros((Ws[1].shape[0], 3))])


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_similarity_rejects_mismatched_shapes(similarity):
    f = sim_fn(similarity, "rbf")
    A = np.zeros((5, 3))
    for B in (np.zeros((4, 3)), np.zeros((5, 2)), np.zeros(15)):
        with pytest.raises(ValueError, match="B must be 2-D|A and B must have the same shape"):
            f(A, B)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["linear+rbf", "rbf", "poly"])
def test_factored_rows_products_match_the_formed_features(kind, dtype):
    """The minibatch solver's FactoredRows (``[A | K N - mu]`` kept in factors) give the
    products of the formed features: F W, F^T G, and the features themselves."""
    from alignxpert_fast.alignment.feature_maps import make_feature_map
    from alignxpert_fast.alignment.rowmap import rows_dot, rows_tdot

    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 6)).astype(dtype)
    fm = make_feature_map(kind, n_landmarks=25, random_state=0).fit(X)
    Xb = X[rng.choice(80, 30, replace=False)]
    F = fm.transform(Xb)
    Fr = fm.factored(Xb)
    assert Fr.shape == F.shape and Fr.dtype == dtype
    W = rng.standard_normal((F.shape[1], 5)).astype(dtype)
    G = rng.standard_normal((30, 5)).astype(dtype)
    rtol, atol = (2e-4, 2e-4) if dtype == np.float32 else (1e-10, 1e-10)
    np.testing.assert_allclose(Fr.toarray(), F, rtol=rtol, atol=atol)
    np.testing.assert_allclose(rows_dot(Fr, W), F @ W, rtol=rtol, atol=atol * 10)
    np.testing.assert_allclose(rows_tdot(Fr, G), F.T @ G, rtol=rtol, atol=atol * 10)
    assert rows_dot(Fr, W).dtype == dtype and rows_tdot(Fr, G).dtype == dtype


def test_minibatch_objective_with_factored_rows_equals_formed_rows():
    """A RowMap with factors (what the estimator's Adam path builds) and one without give
    the same minibatch value and gradient; a non-finite input row is a clear error."""
    from alignxpert_fast.alignment.feature_maps import make_feature_map
    from alignxpert_fast.alignment.rowmap import RowMap

    rng = np.random.default_rng(2)
    Xs = [rng.standard_normal((120, d)) for d in (7, 5)]
    maps = [make_feature_map("linear+rbf", n_landmarks=20, random_state=m).fit(X) for m, X in enumerate(Xs)]
    kw = dict(similarity="contrastive", kernel="cosine", temperature=0.3, alpha=0.5, lam=0.03)

    def rowmaps(factored):
        return [RowMap(X, fm.transform, fm.n_output_, np.float64, factored=fm.factored if factored else None)
                for X, fm in zip(Xs, maps)]

    Ws = [0.1 * rng.standard_normal((fm.n_output_, 4)) for fm in maps]
    rows = rng.choice(120, 50, replace=False)
    v0, g0 = AlignXpertObjective(rowmaps(False), Xs, **kw).value_and_grad(Ws, rows=rows)
    v1, g1 = AlignXpertObjective(rowmaps(True), Xs, **kw).value_and_grad(Ws, rows=rows)
    assert v1 == pytest.approx(v0, rel=1e-12)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    Xs[0][rows[3], 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        AlignXpertObjective(rowmaps(True), [np.nan_to_num(X) for X in Xs], **kw).value_and_grad(Ws, rows=rows)


def test_refitted_nystroem_map_factors_use_the_new_normalization():
    """The float32 normalization is converted once per fit: a refit on other data must
    not reuse the previous fit's conversion (factored and transform stay equal)."""
    from alignxpert_fast.alignment.feature_maps import NystroemMap

    rng = np.random.default_rng(0)
    X1 = rng.standard_normal((60, 4)).astype(np.float32)
    X2 = (3 * rng.standard_normal((60, 4))).astype(np.float32)
    m = NystroemMap("rbf", n_landmarks=20, random_state=0).fit(X1)
    m.factored(X1)
    m.fit(X2)
    np.testing.assert_allclose(m.factored(X2).toarray(), m.transform(X2), rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("name", ["linear", "rbf", "poly", "linear+rbf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_transform_equals_fit_then_transform(name, dtype):
    """fit_transform reuses the fit's feature pass: the same values, bit for bit, and the
    same fitted state as fit followed by transform."""
    from alignxpert_fast.alignment.feature_maps import make_feature_map

    X = np.random.default_rng(1).standard_normal((80, 5)).astype(dtype)
    a = make_feature_map(name, n_landmarks=30, random_state=0)
    b = make_feature_map(name, n_landmarks=30, random_state=0)
    Fa = a.fit_transform(X)
    Fb = b.fit(X).transform(X)
    assert Fa.dtype == Fb.dtype == dtype and a.n_output_ == b.n_output_ == Fa.shape[1]
    np.testing.assert_array_equal(Fa, Fb)
    np.testing.assert_array_equal(a.transform(X), Fb)


@pytest.mark.parametrize("stress_kind", ["squared", "relative"])
@pytest.mark.parametrize("case", CASES[:2] + CASES[3:4], ids=lambda c: f"M{c[0]}-k{c[2]}-{c[3]}")
def test_objective_gradient_other_stress_kinds(case, stress_kind):
    """stress="squared" and "relative": the full gradient against central differences,
    and the value is the sum of its terms (the relative stress as axf.stress(relative=True))."""
    Xs, Fs, Ws = _problem(case, seed=5)
    obj = AlignXpertObjective(Fs, Xs, similarity="contrastive", kernel="cosine", temperature=0.5, alpha=0.3,
                              lam=0.05, stress_kind=stress_kind)
    k = Ws[0].shape[1]
    w = obj.pack(Ws)
    value, grad = obj.fun(w, k)
    assert_grad_close(grad, central_fd(lambda v: obj.fun(v, k)[0], w), rtol=1e-6)
    obj.fun(w, k)  # last_terms of this point (the differences evaluated others)
    Zs = [F @ W for F, W in zip(Fs, Ws)]
    s = [axf.stress(X, Z, relative=stress_kind == "relative") for X, Z in zip(Xs, Zs)]
    expected = sum(v**2 for v in s) if stress_kind == "squared" else sum(s)
    np.testing.assert_allclose(obj.last_terms["stress"], expected, rtol=1e-12)
