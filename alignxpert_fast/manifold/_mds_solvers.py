"""The two MDS solvers: full-batch L-BFGS on a StressCache, and sampled-batch Guttman steps.

Both minimize the normalized stress ``sigma(Z)^2 = sum_{i<j} (D_ij - E_ij)^2 / sum_{i<j} D_ij^2``
(``E_ij = ||z_i - z_j||``); its denominator does not depend on Z, so this is raw-stress
minimization, the problem SMACOF solves.

Full batch (:func:`fit_lbfgs`): ``alignment.optim.minimize_lbfgs`` on ``sigma^2`` with the
analytic gradient ``2 sigma grad(sigma)`` of :meth:`StressCache.stress_and_grad`.
Memory: the cache (about ``n (n + 256) / 2`` entries) plus O(n k).

Sampled (:func:`fit_sampled`): an epoch cuts a random permutation of the points into batches
S of about ``batch_size`` points and, for each, takes the step
``z_i <- z_i - eta / (2 |S|) * d R_S / d z_i`` for i in S, where
``R_S = sum_{i<j in S} (D_ij - E_ij)^2`` is the raw stress of the pairs inside S.  With
``eta = 1`` this is exactly one SMACOF (Guttman transform) update of the batch with the
batch mean kept; ``R_S`` is an unbiased estimate of ``|S| (|S| - 1) / (n (n - 1))`` times
the full raw stress, so the steps follow a stochastic gradient of it.  ``eta`` decays as
``1 / (1 + epoch / 10)`` so the noise averages out.  Memory: O(n (d + k)) for the inputs and
Z, O(|S| (d + k)) per batch plus the kernel's scratch; time per epoch about
``n |S| (d / 2 + 1.5 k)`` multiply-adds.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from ..alignment.optim import minimize_lbfgs
from ..kernels.stress import StressCache, stress_and_grad
from ._mds_init import sum_sq_features


class _CachedStress:
    """``sigma^2`` and its gradient on the flat float64 vector L-BFGS works with (the
    objective interface ``minimize_lbfgs`` expects: pack, unpack, fun, last_terms)."""

    def __init__(self, cache, n_threads, backend):
        self.cache, self.n_threads, self.backend = cache, n_threads, backend
        self.dtype = cache.dtype
        self.n_samples = cache.n_samples
        self.last_terms = {}

    def pack(self, W):
        return np.array(W[0], dtype=np.float64).ravel()

    def unpack(self, x, k):
        return [np.asarray(x).reshape(-1, k).astype(self.dtype)]

    def fun(self, x, k):
        Z = x.reshape(-1, k).astype(self.dtype, copy=False)
        s, g = self.cache.stress_and_grad(Z, n_threads=self.n_threads, backend=self.backend)
        self.last_terms = {"stress": s}
        return s * s, (2.0 * s) * g.astype(np.float64).ravel()


def fit_lbfgs(cache, Z0, *, max_iter, eps, n_threads, backend, verbose=0):
    """L-BFGS from Z0 (n, k).  Returns ``(Z float64, sigma, n_iter)``.

    Stops when an iteration lowers ``sigma^2`` by less than ``eps`` (SciPy's ``ftol``;
    sigma^2 <= 1 near any sensible start, so this is an absolute decrease), when the
    largest gradient entry is below ``eps * 1e-3``, or after ``max_iter`` iterations."""
    obj = _CachedStress(cache, n_threads, backend)
    res = minimize_lbfgs(obj, [Z0], max_iter=max_iter, tol=eps, verbose=verbose, print_every=10)
    Z = np.asarray(res.params[0], dtype=np.float64)
    return Z, float(np.sqrt(max(res.loss, 0.0))), res.n_iter


class FeatureBatches:
    """Batch stress from features: the pairs inside S are the Euclidean distances of X[S]."""

    def __init__(self, X, n_threads, backend):
        self.X, self.n_threads, self.backend = X, n_threads, backend
        self.dtype = X.dtype

    def __call__(self, idx, Zb, with_grad=True):
        Xb = self.X[idx]
        den = sum_sq_features(Xb)
        if not den > 0:
            return None
        Zb = Zb.astype(self.dtype)
        if with_grad:
            s, g = stress_and_grad(Xb, Zb, n_threads=self.n_threads, backend=self.backend)
        else:
            from ..kernels.stress import stress

            s, g = stress(Xb, Zb, n_threads=self.n_threads, backend=self.backend), None
        return s, g, den


class MatrixBatches:
    """Batch stress from precomputed dissimilarities (a dense (n, n) matrix or a condensed
    vector): the submatrix D[S, S]."""

    def __init__(self, D, n_threads, backend):
        self.D, self.n_threads, self.backend = D, n_threads, backend
        self.dtype = D.dtype
        self.n = D.shape[0] if D.ndim == 2 else int(round((1 + np.sqrt(1 + 8 * D.shape[0])) / 2))

    def submatrix(self, idx):
        if self.D.ndim == 2:
            return self.D[np.ix_(idx, idx)]
        i, j = np.minimum.outer(idx, idx).astype(np.int64), np.maximum.outer(idx, idx).astype(np.int64)
        pos = self.n * i - i * (i + 1) // 2 + j - i - 1  # condensed index of (i, j), i < j
        Db = self.D[np.where(i == j, 0, pos)]
        Db[i == j] = 0
        return Db

    def __call__(self, idx, Zb, with_grad=True):
        Db = self.submatrix(idx)
        den = 0.5 * float(np.square(Db, dtype=np.float64).sum())
        if not den > 0:
            return None
        cache = StressCache.from_dissimilarities(Db, n_threads=self.n_threads, backend=self.backend)
        Zb = Zb.astype(self.dtype)
        if with_grad:
            s, g = cache.stress_and_grad(Zb)
        else:
            s, g = cache.stress(Zb), None
        return s, g, den


def _batches(n, batch_size, rng):
    perm = rng.permutation(n)
    return np.array_split(perm, max(1, -(-n // batch_size)))


def estimate_stress(batch_fn, Z, batch_size, rng):
    """sigma estimated from one pass of random batches: ``sqrt(sum_S R_S / sum_S B_S)``
    over about ``n * batch_size / 2`` pairs (a ratio of unbiased pair-sum estimates)."""
    num = den = 0.0
    for idx in _batches(Z.shape[0], batch_size, rng):
        if idx.size < 2:
            continue
        out = batch_fn(idx, Z[idx], with_grad=False)
        if out is not None:
            s, _, b = out
            num += s * s * b
            den += b
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def fit_sampled(batch_fn, Z0, *, max_iter, eps, batch_size, rng, verbose=0, n_iter_no_change=3):
    """Sampled-batch Guttman steps from Z0 (see the module docstring).

    One iteration is one epoch.  The epoch's running estimate of sigma^2 (its batches'
    ``sum R_S / sum B_S`` before their steps) must improve on its best value by at least
    ``eps`` at least once every ``n_iter_no_change`` epochs, else the run stops.

    Returns ``(Z float64, n_iter)``.
    """
    Z = np.array(Z0, dtype=np.float64)
    n = Z.shape[0]
    best, stale, t0, epoch = np.inf, 0, time.perf_counter(), 0
    for epoch in range(1, max_iter + 1):
        eta = 1.0 / (1.0 + (epoch - 1) / 10.0)
        num = den = 0.0
        for idx in _batches(n, batch_size, rng):
            if idx.size < 2:
                continue
            out = batch_fn(idx, Z[idx])
            if out is None:
                continue
            s, g, b = out
            num += s * s * b
            den += b
            # d R_S / d z = 2 sigma_S B_S grad(sigma_S); the Guttman step is 1 / (2 |S|) of it
            Z[idx] -= (eta * s * b / idx.size) * g.astype(np.float64)
        est = num / den if den > 0 else np.nan
        if verbose:
            print(f"[mds sampled] epoch {epoch:>4} stress^2 ~ {est:.6g} eta {eta:.3g} "
                  f"{time.perf_counter() - t0:.2f} s", file=sys.stdout, flush=True)
        if est < best - eps:
            best, stale = est, 0
        else:
            stale += 1
            if stale >= n_iter_no_change:
                break
    return Z, epoch
