"""Property-based tests (hypothesis) over shapes, dtypes, memory layouts and value ranges.

Every backend is compared with an exact oracle (the float32/float64 input converted to
long double, plain formulas: no norm trick, no centering, no blocking) under a stated
rounding bound, and with the reference backend.  "Valid input" (finite, within
``check_matrix``'s overflow limit, stress rows not all identical) must never be refused.

Profiles (``tests/conftest.py``): the default suite runs a bounded number of examples
(derandomized, about 10 s); the long fuzz run is::

    python -m pytest tests/test_properties.py --hypothesis-profile=fuzz --hypothesis-show-statistics -q

(4 x 5000 generated inputs, fresh random seeds; see README "Robustness and testing").
"""
from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import alignxpert_fast as axf

BACKENDS = ("native", "numba", "reference")
LD = np.longdouble
# counts printed at the end of the run (tests/conftest.py: pytest_terminal_summary)
STATS = collections.Counter()
LAYOUTS = ("C", "F", "strided", "unaligned", "readonly")


# ------------------------------------------------------------------ generation
def _layout(A, layout):
    if layout == "F":
        return np.asfortranarray(A)
    if layout == "strided":
        W = np.zeros((A.shape[0], 2 * A.shape[1]), A.dtype)
        W[:, ::2] = A
        return W[:, ::2]
    if layout == "unaligned":
        buf = np.zeros(A.nbytes + 1, np.uint8)
        U = np.frombuffer(buf.data, A.dtype, count=A.size, offset=1).reshape(A.shape)
        U[...] = A
        return U
    if layout == "readonly":
        A = A.copy()
        A.flags.writeable = False
    return A


@st.composite
def matrices(draw, min_rows=1, max_rows=24, max_cols=10, same_cols=None, dtype=None):
    """(array, dtype, scale): values of magnitude ~10**e with optional offset and structure."""
    dtype = draw(st.sampled_from([np.float32, np.float64])) if dtype is None else dtype
    n = draw(st.integers(min_rows, max_rows))
    d = same_cols or draw(st.integers(1, max_cols))
    seed = draw(st.integers(0, 2**32 - 1))
    lo, hi = (-30, 15) if dtype == np.float32 else (-150, 150)
    e = draw(st.integers(lo, hi))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["normal", "normal", "duplicates", "grid", "zero_rows", "offset"]))
    A = rng.standard_normal((n, d))
    if kind == "duplicates":
        A = A[rng.integers(0, max(1, n // 2), n)]
    elif kind == "grid":
        A = rng.integers(-3, 4, (n, d)).astype(np.float64)
    elif kind == "zero_rows":
        A[rng.random(n) < 0.3] = 0.0
    elif kind == "offset":
        A = A + 10.0 ** draw(st.integers(1, 4 if dtype == np.float32 else 8))
    A = (A * 10.0 ** e).astype(dtype)
    layout = draw(st.sampled_from(LAYOUTS))
    return _layout(A, layout), np.dtype(dtype)


def _over_limit(*arrays):
    """True when an array exceeds ``check_matrix``'s documented magnitude limit
    (``sqrt(max / (4 d))``: squared norms would overflow); such input is refused with a
    ValueError that says "rescale the data", and that refusal is what is tested."""
    for A in arrays:
        A = np.asarray(A)
        if A.size and float(np.abs(A).max()) > float(np.sqrt(np.finfo(A.dtype).max / (4.0 * A.shape[1]))):
            return True
    return False


def _assert_refused(call):
    STATS["inputs over check_matrix's magnitude limit (refused as documented)"] += 1
    with pytest.raises(ValueError, match="rescale the data"):
        call()


# -------------------------------------------------------------------- oracles
def _ld(A):
    return np.asarray(A).astype(LD)


def _sq(X, Y):
    diff = _ld(X)[:, None, :] - _ld(Y)[None, :, :]
    return np.sum(diff * diff, axis=-1)


def _dots(X, Y):
    return np.sum(_ld(X)[:, None, :] * _ld(Y)[None, :, :], axis=-1)


def _norms2(A):
    return np.sum(_ld(A) ** 2, axis=1)


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _d2_bound(X, Y, dtype):
    """Absolute error bound of a squared distance from the centered norm trick."""
    both = np.concatenate([_ld(X), _ld(Y)])
    mu = both.mean(axis=0)
    c2 = float(np.max(np.sum((both - mu) ** 2, axis=1)))
    d = X.shape[1]
    return 64.0 * (d + 4) * _eps(dtype) * c2 + float(np.finfo(dtype).tiny) * 16


def _check(actual, exact, atol, what):
    actual = np.asarray(actual, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    assert actual.shape == exact.shape, what
    assert not np.isnan(actual).any(), f"{what}: NaN for finite input"
    err = np.abs(actual - exact)
    bad = ~(err <= atol)
    assert not bad.any(), (f"{what}: |error| up to {float(err[bad].max()):.3g} > bound "
                           f"{float(np.broadcast_to(atol, err.shape)[bad].min()):.3g}")


def _gram_cases(X, Y, dtype, gamma_factor):
    """(name, call(backend), exact, atol) for every Gram / distance function."""
    d = X.shape[1]
    eps = _eps(dtype)
    A = _d2_bound(X, Y, dtype)
    sq = _sq(X, Y)
    nx, ny = np.sqrt(_norms2(X)), np.sqrt(_norms2(Y))
    spread = float(np.max(np.sqrt(np.concatenate([_norms2(X), _norms2(Y)])))) or 1.0
    gamma = gamma_factor / max(spread, 1e-300) ** 2
    gamma_ld = LD(gamma)
    out = []
    dist = np.sqrt(sq)
    out.append(("euclidean", lambda b: axf.euclidean_distances(X, Y, backend=b), dist,
                np.minimum(np.sqrt(A), A / np.maximum(dist, 1e-300)) * 2 + eps * 4 * dist))
    out.append(("sqeuclidean", lambda b: axf.euclidean_distances(X, Y, squared=True, backend=b), sq,
                A + 4 * eps * sq))
    if np.isfinite(gamma) and gamma > 0:
        out.append(("rbf", lambda b: axf.rbf_kernel(X, Y, gamma=gamma, backend=b), np.exp(-gamma_ld * sq),
                    min(1.0, float(gamma_ld * LD(A))) * 1.01 + 8 * eps))
    dots = _dots(X, Y)
    lin_atol = (d + 4) * eps * nx[:, None] * ny[None, :] * 2 + float(np.finfo(dtype).tiny) * 16
    out.append(("linear", lambda b: axf.linear_kernel(X, Y, backend=b), dots, lin_atol))
    denom = nx[:, None] * ny[None, :]
    cos = np.where(denom > 0, dots / np.where(denom > 0, denom, 1), 0)
    out.append(("cosine", lambda b: axf.cosine_similarity(X, Y, backend=b), cos, (2 * d + 16) * eps))
    g = 1.0 / max(spread, 1e-300) ** 2
    if np.isfinite(g) and g > 0 and g * float(np.finfo(dtype).tiny) < 1:
        B = LD(g) * nx[:, None] * ny[None, :] + 1
        out.append(("poly", lambda b: axf.polynomial_kernel(X, Y, degree=3, gamma=g, coef0=1.0, backend=b),
                    (LD(g) * dots + 1) ** 3, 6 * (d + 4) * eps * B ** 3 + 16 * float(np.finfo(dtype).tiny)))
    return out


# ---------------------------------------------------------------------- tests
@given(data=st.data())
def test_gram_functions_match_exact_oracle(data):
    X, dtype = data.draw(matrices())
    symmetric = data.draw(st.booleans())
    Y = X if symmetric else data.draw(matrices(same_cols=X.shape[1], dtype=dtype.type))[0]
    gamma_factor = 10.0 ** data.draw(st.integers(-3, 3))
    STATS["inputs"] += 1
    if _over_limit(X, Y):
        for b in BACKENDS:
            _assert_refused(lambda: axf.rbf_kernel(X, Y, backend=b))
            _assert_refused(lambda: axf.euclidean_distances(X, Y, backend=b))
        return
    for name, call, exact, atol in _gram_cases(X, Y, dtype, gamma_factor):
        results = {}
        for b in BACKENDS:
            res = call(b)  # valid input: must not raise
            STATS["calls checked against the oracle"] += 1
            assert res.dtype == dtype, (name, b)
            _check(res, exact, atol, f"{name}[{b}] vs oracle")
            results[b] = res
        for b in ("native", "numba"):
            _check(results[b], results["reference"], 2 * np.asarray(atol), f"{name}[{b}] vs reference")


@given(data=st.data())
def test_kernel_matvec_matches_gram_times_v(data):
    X, dtype = data.draw(matrices())
    Y, _ = data.draw(matrices(same_cols=X.shape[1], dtype=dtype.type))
    kernel = data.draw(st.sampled_from(["rbf", "cosine", "linear"]))
    V = np.random.default_rng(0).standard_normal((Y.shape[0], data.draw(st.integers(1, 3)))).astype(dtype)
    STATS["inputs"] += 1
    if _over_limit(X, Y):
        _assert_refused(lambda: axf.kernel_matvec(X, Y, V, kernel=kernel))
        return
    # the entries' own bound against the exact kernel (gamma = 1 / spread^2 for rbf), then
    # the float64 accumulation of m products
    (call, exact, atol), = [(c, e, a) for name, c, e, a in _gram_cases(X, Y, dtype, 1.0) if name == kernel]
    spread = float(np.max(np.sqrt(np.concatenate([_norms2(X), _norms2(Y)])))) or 1.0
    kw = {"gamma": 1.0 / spread ** 2} if kernel == "rbf" else {}
    tiny = float(np.finfo(dtype).tiny)
    Vabs = np.abs(V).astype(np.float64)
    Kx = np.asarray(exact, dtype=np.float64)
    bound = (np.broadcast_to(np.asarray(atol, dtype=np.float64), Kx.shape) + 16 * tiny) @ Vabs
    bound = bound + 64 * Y.shape[0] * _eps(dtype) * (np.abs(Kx) @ Vabs) + tiny
    for b in BACKENDS:
        got = axf.kernel_matvec(X, Y, V, kernel=kernel, backend=b, **kw)
        _check(got, Kx @ V.astype(np.float64), bound, f"kernel_matvec {kernel}[{b}]")


def _stress_bounds(X, Z, dtype):
    """[lo, hi] for the stress from pairwise errors bounded as in the norm trick (and its
    noise floor) plus the exact long-double value."""
    def dist_and_err(A):
        A = _ld(A) - _ld(A).mean(axis=0)
        n2 = np.sum(A * A, axis=1)
        D = np.sqrt(_sq(A, A))
        k = A.shape[1]
        a = (8 * np.sqrt(k) + 2 * (k + 4)) * 2 * _eps(dtype) * (n2[:, None] + n2[None, :])
        err = np.minimum(np.sqrt(a), a / np.where(D > 0, D, 1)) + 4 * _eps(dtype) * D
        return D, err

    D, dD = dist_and_err(X)
    E, dE = dist_and_err(Z)
    num, den = np.sum((D - E) ** 2), np.sum(D * D)
    dnum = np.sum(2 * np.abs(D - E) * (dD + dE) + (dD + dE) ** 2)
    dden = np.sum(2 * D * dD + dD * dD)
    exact = float(np.sqrt(num / den))
    lo = float(np.sqrt(max(num - dnum, 0) / (den + dden)))
    hi = float(np.sqrt((num + dnum) / max(den - dden, den * 1e-300)))
    return exact, lo * (1 - 1e-6), hi * (1 + 1e-6) + 1e-300


@given(data=st.data())
def test_stress_matches_exact_oracle(data):
    X, dtype = data.draw(matrices(min_rows=2, max_rows=20))
    Xc = np.asarray(X, dtype=np.float64)
    assume(np.any(Xc != Xc[:1]))  # all rows identical: stress undefined (a ValueError, tested elsewhere)
    Z, _ = data.draw(matrices(min_rows=X.shape[0], max_rows=X.shape[0], max_cols=4, dtype=dtype.type))
    STATS["inputs"] += 1
    if _over_limit(X, Z):
        _assert_refused(lambda: axf.stress(X, Z))
        return
    exact, lo, hi = _stress_bounds(X, Z, dtype)
    values = {}
    for b in BACKENDS:
        v = axf.stress(X, Z, backend=b)
        v2, grad = axf.stress_and_grad(X, Z, backend=b)
        vc = axf.StressCache(X, backend=b).stress(Z)
        for what, val in (("stress", v), ("stress_and_grad", v2), ("StressCache", vc)):
            assert np.isfinite(val) and lo <= val <= hi, f"{what}[{b}] = {val!r} outside [{lo!r}, {hi!r}] " \
                                                         f"(exact {exact!r})"
        assert grad.dtype == dtype and grad.shape == np.shape(Z) and np.isfinite(grad).all(), b
        values[b] = v
    assert values["native"] == values["numba"] or abs(values["native"] - values["numba"]) <= hi - lo


@given(data=st.data())
def test_parameters_at_the_edges(data):
    X, dtype = data.draw(matrices(max_rows=8, max_cols=4))
    assume(not _over_limit(X))
    STATS["inputs"] += 1
    gamma = 10.0 ** data.draw(st.integers(-300, 300))
    degree = data.draw(st.sampled_from([1, 2, 5, 17, 2**20 + 1, 2**31 - 1]))
    for b in BACKENDS:
        K = axf.rbf_kernel(X, gamma=gamma, backend=b)
        assert not np.isnan(K).any() and (K >= 0).all() and (K <= 1).all(), b
        np.testing.assert_array_equal(np.diag(K), 1.0)
        with np.errstate(over="ignore"):
            P = axf.polynomial_kernel(X, degree=degree, gamma=1e-3 / max(1.0, float(np.abs(X).max()) ** 2),
                                      coef0=0.5, backend=b)
        assert not np.isnan(P).any(), b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_rows_stress_is_a_clear_error(dtype):
    X = np.ones((5, 3), dtype)
    for b in BACKENDS:
        with pytest.raises(ValueError, match="identical"):
            axf.stress(X, X[:, :2], backend=b)
