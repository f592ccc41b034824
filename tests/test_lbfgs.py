"""The estimator's L-BFGS (alignment/_lbfgs.py): the line search's Wolfe conditions,
convergence on textbook problems, agreement with SciPy's L-BFGS-B, and the unbounded case."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize, rosen, rosen_der

from alignxpert_fast.alignment._lbfgs import C1, C2, NonFiniteEvaluation, lbfgs, wolfe_line_search


def _fg(f, g):
    return lambda x: (float(f(x)), np.asarray(g(x), dtype=np.float64))


@pytest.mark.parametrize("alpha1", [1e-3, 1.0, 50.0])
def test_line_search_step_satisfies_strong_wolfe(alpha1):
    # phi(a) = (a - 3)^2 + 0.5 sin(4a): not a quadratic, several local slopes
    def phi(a):
        return (a - 3.0) ** 2 + 0.5 * np.sin(4.0 * a), 2.0 * (a - 3.0) + 2.0 * np.cos(4.0 * a)

    f0, d0 = phi(0.0)
    a = wolfe_line_search(phi, f0, d0, alpha1)
    fa, da = phi(a)
    assert fa <= f0 + C1 * a * d0
    assert abs(da) <= -C2 * d0


def test_line_search_unbounded_direction_raises():
    with pytest.raises(NonFiniteEvaluation, match="without bound"):
        wolfe_line_search(lambda a: (-a * a, -2.0 * a - 1.0), 0.0, -1.0, 1.0)


def test_rosenbrock_converges():
    x0 = np.full(10, -1.2)
    out = lbfgs(_fg(rosen, rosen_der), x0, max_iter=500, ftol=0.0, gtol=1e-8, max_eval=2000)
    assert out.status == "tol"
    np.testing.assert_allclose(out.x, np.ones(10), atol=1e-6)


def test_quadratic_matches_the_solution_and_scipy():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((40, 40))
    H = M @ M.T / 40 + 0.1 * np.eye(40)
    b = rng.standard_normal(40)
    fun = _fg(lambda x: 0.5 * x @ H @ x - b @ x, lambda x: H @ x - b)
    out = lbfgs(fun, np.zeros(40), max_iter=400, ftol=0.0, gtol=1e-7, max_eval=2000)
    assert out.status == "tol"
    np.testing.assert_allclose(out.x, np.linalg.solve(H, b), rtol=1e-5, atol=1e-6)  # cond(H) = 41
    ref = minimize(fun, np.zeros(40), jac=True, method="L-BFGS-B", options={"ftol": 0.0, "gtol": 1e-7,
                                                                          "maxiter": 400})
    # the same method: iteration counts within a few line-search choices of each other
    assert abs(out.n_iter - ref.nit) <= 0.25 * ref.nit + 5, (out.n_iter, ref.nit)


def test_stopping_rules():
    fun = _fg(rosen, rosen_der)
    x0 = np.full(6, -1.2)
    assert lbfgs(fun, x0, max_iter=3, ftol=0.0, gtol=0.0, max_eval=100).status == "max_iter"
    assert lbfgs(fun, x0, max_iter=3, ftol=0.0, gtol=0.0, max_eval=100).n_iter == 3
    assert lbfgs(fun, x0, max_iter=100, ftol=0.0, gtol=0.0, max_eval=5).n_eval <= 5
    loose = lbfgs(fun, x0, max_iter=500, ftol=1e-2, gtol=0.0, max_eval=2000)
    assert loose.status == "tol" and loose.n_iter < 30
    seen = []
    cb = lbfgs(fun, x0, max_iter=100, ftol=0.0, gtol=0.0, max_eval=500,
               on_iteration=lambda it, x, f: seen.append((it, f)) or it == 4)
    assert cb.status == "callback" and [s[0] for s in seen] == [1, 2, 3, 4]
    assert all(b <= a for (_, a), (_, b) in zip(seen, seen[1:]))  # every accepted step decreases f
    at_min = lbfgs(fun, np.ones(6), max_iter=10, ftol=0.0, gtol=1e-8, max_eval=10)
    assert at_min.status == "tol" and at_min.n_iter == 0


@given(dim=st.integers(1, 30), log_cond=st.floats(0.0, 4.0), seed=st.integers(0, 2**31 - 1),
       scale=st.floats(1e-3, 1e3))
def test_random_quadratics_converge_with_monotone_decrease(dim, log_cond, seed, scale):
    """Property: on any strictly convex quadratic (dimension 1-30, condition number up to
    1e4, any scale) the run ends by a stopping rule without raising, lowers f at every
    accepted step and ends near the minimum (at condition 1e4 L-BFGS with memory 10 can
    need more than 500 iterations for max|g| <= 1e-6: SciPy's L-BFGS-B takes the same 539
    evaluations on dim 20, seed 0)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    H = scale * (Q * np.logspace(0.0, log_cond, dim)) @ Q.T
    b = scale * rng.standard_normal(dim)
    x_star = np.linalg.solve(H, b)
    f_star = -0.5 * float(b @ x_star)
    seen = []
    out = lbfgs(_fg(lambda x: 0.5 * x @ H @ x - b @ x, lambda x: H @ x - b), rng.standard_normal(dim),
                max_iter=500, ftol=0.0, gtol=1e-6 * scale, max_eval=3000,
                on_iteration=lambda it, x, f: seen.append(f) and False)
    assert out.status in ("tol", "line_search", "max_iter")
    assert all(b1 <= a1 for a1, b1 in zip(seen, seen[1:]))
    assert out.f - f_star <= 1e-7 * (abs(f_star) + scale)
    if out.status == "tol":  # max|g| <= gtol: |x - x*| <= gtol sqrt(dim) / lambda_min(H) = 1e-6 sqrt(dim)
        assert np.max(np.abs(out.x - x_star)) <= 1e-6 * np.sqrt(dim) * 1.01 + 1e-9


def test_float32_history_converges_like_float64():
    """history_dtype=float32 (what float32 objectives use): the same minimum to float32
    precision, in about as many iterations."""
    rng = np.random.default_rng(3)
    Q = rng.standard_normal((40, 40))
    A = Q @ Q.T + 40.0 * np.eye(40)
    b = rng.standard_normal(40)
    x_star = np.linalg.solve(A, b)
    fg = _fg(lambda x: 0.5 * x @ A @ x - b @ x, lambda x: A @ x - b)
    outs = {dt: lbfgs(fg, np.zeros(40), max_iter=200, ftol=0.0, gtol=1e-7, max_eval=1000, history_dtype=dt)
            for dt in (np.float64, np.float32)}
    for out in outs.values():
        assert out.status == "tol" and out.x.dtype == np.float64
        np.testing.assert_allclose(out.x, x_star, atol=1e-6)
    assert outs[np.float32].n_iter <= outs[np.float64].n_iter + 5
    # Rosenbrock (non-convex, curved valley) too
    out = lbfgs(_fg(rosen, rosen_der), np.full(10, -1.2), max_iter=500, ftol=0.0, gtol=1e-6, max_eval=2000,
                history_dtype=np.float32)
    assert out.status == "tol"
    np.testing.assert_allclose(out.x, np.ones(10), atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minimize_lbfgs_keeps_the_history_in_the_objectives_dtype(dtype, monkeypatch):
    from alignxpert_fast.alignment import optim
    from alignxpert_fast.alignment.objective import AlignXpertObjective

    seen = []
    real = optim.lbfgs
    monkeypatch.setattr(optim, "lbfgs", lambda *a, **kw: seen.append(kw["history_dtype"]) or real(*a, **kw))
    rng = np.random.default_rng(0)
    Fs = [rng.standard_normal((30, 4)).astype(dtype) for _ in range(2)]
    obj = AlignXpertObjective(Fs, Fs, similarity="contrastive", kernel="cosine", alpha=0.1)
    res = optim.minimize_lbfgs(obj, [rng.standard_normal((4, 3)) for _ in range(2)], max_iter=5)
    assert seen == [dtype] and res.n_iter >= 1
