"""The fused contrastive similarity (symmetric kernel InfoNCE) of every backend.

Two layers of truth (STYLE.md section 7): ``kernels/_backends/reference.contrastive`` (blockwise
NumPy) against a dense n x n oracle written here, then every backend against the oracle
on the same inputs, with blocking / threads / k = 1 variations, float64 finite
differences, the value-only path, large logits and bad input.

Tolerances (value: relative to max(1, |S|); gradients: relative to the largest entry of
the expected gradient, STYLE section 7):

=========  =======  ============================================================
dtype      tol      why
=========  =======  ============================================================
float64    1e-11    measured <= 2e-15; sums of a few hundred exp terms
float32    5e-5     float32 logits / exponentials (eps 1.2e-7 times logits up to
                    ~20 and poly degree 3), float64 sums; measured <= 1.5e-5
=========  =======  ============================================================
"""
from __future__ import annotations

import numpy as np
import pytest
from _testing import central_differences
from scipy.special import logsumexp

from alignxpert_fast.kernels._backends._layout import NonFiniteLogits
from alignxpert_fast.alignment.objective import AlignXpertObjective
from alignxpert_fast.alignment.similarity import contrastive_similarity_and_grad

try:
    from alignxpert_fast import _native
except ImportError:  # test_native_direct reports the import failure
    _native = None

KERNELS = ("rbf", "cosine", "poly", "linear")
KP = dict(gamma=0.7, degree=3, coef0=0.5)
TOL = {np.dtype(np.float64): 1e-11, np.dtype(np.float32): 5e-5}


@pytest.fixture(autouse=True)
def _blas_one_thread():
    """Tiny inputs: keep NumPy's own BLAS (oracle, reference) on one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ------------------------------------------------------------------------- oracle
def dense_oracle(kernel, A, B, temperature, gamma=0.7, degree=3, coef0=0.5):
    """Value and gradient from the full n x n matrices, float64, by broadcasting: the
    per-pair derivative dkappa(a_i, b_j)/da_i as an (n, n, k) array."""
    a, b = np.asarray(A, np.float64), np.asarray(B, np.float64)
    n = a.shape[0]
    dots = a @ b.T
    if kernel == "rbf":
        diff = a[:, None, :] - b[None, :, :]
        K = np.exp(-gamma * np.sum(diff**2, axis=-1))
        dKa = -2.0 * gamma * K[:, :, None] * diff
        dKb = -dKa
    elif kernel == "cosine":
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        ah, bh = a / na[:, None], b / nb[:, None]
        K = ah @ bh.T
        dKa = (bh[None, :, :] - K[:, :, None] * ah[:, None, :]) / na[:, None, None]
        dKb = (ah[:, None, :] - K[:, :, None] * bh[None, :, :]) / nb[None, :, None]
    elif kernel == "poly":
        base = gamma * dots + coef0
        K = base**degree
        t = degree * gamma * base ** (degree - 1)
        dKa = t[:, :, None] * b[None, :, :]
        dKb = t[:, :, None] * a[:, None, :]
    else:
        K = dots
        dKa = np.broadcast_to(b[None, :, :], (n, n, b.shape[1]))
        dKb = np.broadcast_to(a[:, None, :], (n, n, a.shape[1]))
    S = K / temperature
    d = np.diag(S)
    rl, cl = logsumexp(S, axis=1), logsumexp(S, axis=0)
    value = -0.5 * (np.mean(rl - d) + np.mean(cl - d))
    P, Q = np.exp(S - rl[:, None]), np.exp(S - cl[None, :])
    G = -(P + Q - 2.0 * np.eye(n)) / (2.0 * n * temperature)
    return value, np.einsum("ij,ijq->iq", G, dKa), np.einsum("ij,ijq->jq", G, dKb)


def inputs(n=23, k=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype))


def assert_close(got, want, tol):
    value, dA, dB = got
    v0, dA0, dB0 = want
    assert abs(value - v0) <= tol * max(1.0, abs(v0)), (value, v0)
    for name, g, g0 in (("dA", dA, dA0), ("dB", dB, dB0)):
        err = float(np.max(np.abs(g.astype(np.float64) - g0)))
        # (a floor for gradients that vanish, e.g. cosine with k = 1)
        assert err <= tol * max(1e-3, float(np.max(np.abs(g0)))), f"{name}: max error {err:.3g}"


def run(backend, A, B, kernel, temperature=0.5, **kw):
    return contrastive_similarity_and_grad(A, B, kernel=kernel, temperature=temperature, backend=backend, **KP,
                                           **kw)


# ---------------------------------------------------------------- reference vs oracle
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("temperature", [0.05, 0.5, 3.0])
@pytest.mark.parametrize("blocks", [(1, 1), (7, 7), (7, 3), (None, None)])
def test_reference_matches_dense_oracle(kernel, temperature, blocks):
    A, B = inputs()
    got = run("reference", A, B, kernel, temperature, block_rows=blocks[0], block_cols=blocks[1])
    assert_close(got, dense_oracle(kernel, A, B, temperature), 1e-12)
    assert got[0] <= 0


# --------------------------------------------------------------- backends vs oracle
@pytest.mark.parametrize("kernel", KERNELS)
def test_backend_matches_oracle(backend, dtype, kernel):
    A, B = inputs(dtype=dtype)
    want = dense_oracle(kernel, A, B, 0.5)  # from the same (dtype-rounded) inputs
    for temperature in (0.1, 0.5):
        want = dense_oracle(kernel, A, B, temperature)
        for br, bc in ((1, 1), (7, 7), (7, 5), (None, None)):  # n = 23: no block divides it
            for nt in (1, 2):
                got = run(backend, A, B, kernel, temperature, block_rows=br, block_cols=bc, n_threads=nt)
                assert got[1].dtype == dtype and got[2].dtype == dtype
                assert_close(got, want, TOL[dtype])


@pytest.mark.parametrize("k", [8, 16, 17, 24, 32, 33, 70])
def test_backend_matches_oracle_wide_k(backend, dtype, k):
    """Both ways of the native gradient products: the unpacked sweep (k <= 32, a multiple
    of the vector lanes: 16 float / 8 double; chunks of 2 vectors, then 1; row groups of 4
    with remainders: n = 23, blocks of 7) and BLAS gemms (the other k)."""
    A, B = inputs(k=k, dtype=dtype)
    for kernel in ("cosine", "rbf"):
        want = dense_oracle(kernel, A, B, 0.5)
        for br, bc in ((7, 5), (None, None)):
            got = run(backend, A, B, kernel, 0.5, block_rows=br, block_cols=bc, n_threads=2)
            assert_close(got, want, TOL[dtype])


@pytest.mark.parametrize("kernel", KERNELS)
def test_backend_k1_and_n1(backend, kernel):
    A, B = inputs(n=9, k=1)
    assert_close(run(backend, A, B, kernel, block_rows=4, block_cols=2), dense_oracle(kernel, A, B, 0.5), 1e-11)
    A1, B1 = inputs(n=1, k=3)
    value, dA, dB = run(backend, A1, B1, kernel)
    assert value == pytest.approx(0.0, abs=1e-15) and not np.any(dA) and not np.any(dB)  # log 1 = 0


def test_backends_agree_and_are_deterministic(backend):
    A, B = inputs(n=40, k=6, dtype=np.float32)
    kw = dict(block_rows=8, block_cols=16, n_threads=2)
    first = run(backend, A, B, "rbf", **kw)
    again = run(backend, A, B, "rbf", **kw)
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_array_equal(first[2], again[2])


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize("kernel", KERNELS)
def test_gradient_matches_finite_differences(backend, kernel):
    A, B = inputs(n=7, k=3, seed=1)
    kw = dict(block_rows=3, block_cols=2)
    value, dA, dB = run(backend, A, B, kernel, 0.3, **kw)
    fA = central_differences(lambda X: run(backend, X, B, kernel, 0.3, compute_grad=False, **kw)[0], A)
    fB = central_differences(lambda X: run(backend, A, X, kernel, 0.3, compute_grad=False, **kw)[0], B)
    for g, fd in ((dA, fA), (dB, fB)):
        scale = max(1.0, float(np.max(np.abs(fd))))
        assert float(np.max(np.abs(g - fd))) <= 1e-6 * scale


@pytest.mark.parametrize("kernel", KERNELS)
def test_value_only_equals_value_of_gradient_path(backend, dtype, kernel):
    A, B = inputs(dtype=dtype)
    kw = dict(block_rows=7, block_cols=5, n_threads=2)
    full = run(backend, A, B, kernel, **kw)
    value, dA, dB = run(backend, A, B, kernel, compute_grad=False, **kw)
    assert dA is None and dB is None
    assert value == full[0]  # pass 1 is the same computation


# ------------------------------------------------------------------ large logits
@pytest.mark.parametrize("kernel,temperature,scale", [("poly", 1e-3, 1.0), ("rbf", 1e-3, 1.0),
                                                      ("linear", 1e-2, 3.0), ("cosine", 1e-3, 1.0)])
def test_large_logits_are_stable(backend, dtype, kernel, temperature, scale):
    """Logits of several hundred to thousands: exp would overflow without the shifts."""
    A, B = inputs(n=17, k=4, seed=3, dtype=dtype)
    A, B = A * dtype.type(scale), B * dtype.type(scale)
    want = dense_oracle(kernel, A, B, temperature)
    got = run(backend, A, B, kernel, temperature, block_rows=5, block_cols=6, n_threads=2)
    assert np.isfinite(got[0]) and np.all(np.isfinite(got[1])) and np.all(np.isfinite(got[2]))
    # float32 logits carry an absolute error of eps32 * |s| (|s| up to ~1e4 here)
    logit_scale = max(1.0, abs(want[0]))
    tol = 1e-11 if dtype == np.float64 else 2e-7 * 1e4
    assert abs(got[0] - want[0]) <= tol * logit_scale


@pytest.mark.parametrize("kernel", ["rbf", "cosine"])
@pytest.mark.parametrize("side", [0.9, 1.1])
def test_fixed_shift_boundary(backend, dtype, kernel, side):
    """The native rbf / cosine kernels use one fixed shift 1/t (one exponential per logit
    and pass) while exp(-2/t) stays normal -- 2/t <= 80 in float32, 700 in float64 -- and
    running maxima beyond: temperatures on both sides of that boundary match the oracle."""
    temperature = side * 2.0 / (80.0 if dtype == np.float32 else 700.0)
    A, B = inputs(n=19, k=4, seed=5, dtype=dtype)
    want = dense_oracle(kernel, A, B, temperature)
    got = run(backend, A, B, kernel, temperature, block_rows=5, block_cols=7, n_threads=2)
    # float32 logits up to 2/t = 88 carry an absolute error of eps32 * 88
    assert_close(got, want, 1e-11 if dtype == np.float64 else 2e-5)


# ------------------------------------------------------------------- bad input
def test_mismatched_shapes_raise():
    A, B = inputs()
    with pytest.raises(ValueError, match=r"A and B must have the same shape.*A.shape=\(23, 5\), B.shape=\(22, 5\)"):
        contrastive_similarity_and_grad(A, B[:-1], **KP)
    with pytest.raises(ValueError, match=r"A and B must have the same shape"):
        contrastive_similarity_and_grad(A, B[:, :4], **KP)


@pytest.mark.parametrize("bad,match", [
    (dict(A=np.full((4, 2), np.nan)), "A"),
    (dict(B=np.full((4, 2), np.inf)), "B"),
    (dict(temperature=0.0), "temperature"),
    (dict(A=np.zeros(4)), "A must be 2-D"),
    (dict(kernel="sqeuclidean"), "kernel"),
])
def test_bad_arguments_raise(bad, match):
    args = dict(A=np.ones((4, 2)), B=np.ones((4, 2)), temperature=0.5, kernel="rbf")
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        contrastive_similarity_and_grad(args.pop("A"), args.pop("B"), gamma=0.5, **args)


@pytest.mark.parametrize("compute_grad", [True, False])
def test_nonfinite_logits_raise(backend, compute_grad):
    A, B = inputs(n=9, k=3, dtype=np.float32)
    A *= np.float32(1e13)  # (gamma a.b + coef0)^3 overflows float32
    with pytest.raises(ValueError, match="logits kappa.*temperature are not finite") as info:
        run(backend, A, B, "poly", compute_grad=compute_grad)
    assert isinstance(info.value, NonFiniteLogits)


def test_objective_reports_overflow_as_divergence():
    A, B = inputs(n=9, k=3, dtype=np.float32)
    obj = AlignXpertObjective([A * np.float32(1e13), B], similarity="contrastive", kernel="poly", alpha=0.0, **KP)
    value, grads = obj.value_and_grad([np.eye(3, dtype=np.float32)] * 2)
    assert value == np.inf and obj.last_terms["loss"] == np.inf
    assert all(np.all(np.isnan(g)) for g in grads)


# ------------------------------------------------------- the extension, called directly
def _native_args(T, **over):
    A, B = inputs(n=6, k=3, dtype=T)
    args = dict(kind=1, A=A, B=B, dA=np.empty_like(A), dB=np.empty_like(B), gamma=0.5, coef0=1.0, degree=3,
                temperature=0.5, n_threads=1, br=4, bc=4)
    args.update(over)
    return list(args.values())


def test_native_direct_call_works():
    assert _native is not None, "alignxpert_fast._native failed to import"
    args = _native_args(np.float32)
    value = _native.contrastive_f32(*args)
    want = dense_oracle("rbf", args[1], args[2], 0.5, gamma=0.5)
    assert abs(value - want[0]) < 1e-5
    assert _native.contrastive_f64(*_native_args(np.float64, dA=None, dB=None)) < 0


A6, B6 = inputs(n=6, k=3, dtype=np.float32)


@pytest.mark.parametrize("over,match", [
    (dict(B=np.zeros((5, 3), np.float32)), "A and B must have the same shape"),
    (dict(B=np.zeros((6, 2), np.float32)), "A and B must have the same shape"),
    (dict(dA=np.zeros((6, 2), np.float32)), "dA must have A's shape"),
    (dict(dB=None), "dA and dB must both be"),
    (dict(A=A6, dA=A6), "dA must not share memory with A"),
    (dict(dA=np.zeros((6, 3), np.float32)[:, ::-1]), "dA must be C-contiguous"),
    (dict(A=np.asfortranarray(np.zeros((6, 3), np.float32))), "A must be C-contiguous"),
    (dict(kind=4), "kernel code must be"),
    (dict(kind=9), "kernel code must be"),
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(gamma=-1.0), "gamma"),
    (dict(n_threads=0), "n_threads"),
    (dict(br=0), "block_rows"),
    (dict(bc=0), "block_cols"),
    (dict(A=np.zeros((0, 3), np.float32), B=np.zeros((0, 3), np.float32), dA=None, dB=None), "at least one row"),
])
def test_native_direct_bad_arguments_raise_valueerror(over, match):
    assert _native is not None, "alignxpert_fast._native failed to import"
    with pytest.raises(ValueError, match=match):
        _native.contrastive_f32(*_native_args(np.float32, **over))


def test_native_direct_wrong_dtype_is_typeerror():
    assert _native is not None, "alignxpert_fast._native failed to import"
    with pytest.raises(TypeError, match="A must have dtype float32"):
        _native.contrastive_f32(*_native_args(np.float32, A=np.zeros((6, 3))))
