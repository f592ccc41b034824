"""One fit of AlignXpert with a fixed k: scaling, feature maps, the start, gamma, the
optimizer and (full batch) early stopping on held-out pairs.

:func:`fit_fixed_k` returns the fitted attributes as a dict; the estimator sets them all
at once, so a fit that raises leaves a fitted estimator as it was.
"""
from __future__ import annotations

import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._utils.threads import effective_n_threads
from ..evaluation.metrics import cross_modal_mrr, match_ranks
from .dimension_search import retrieval_metric
from .feature_maps import make_feature_map
from .init import (INIT_REG_FALLBACK, INIT_REG_GRID, INIT_SAMPLES, default_gamma, fit_scaling, init_projections,
                   output_scale, scale_rows, subsample)
from .objective import AlignXpertObjective
from .optim import minimize_adam, minimize_lbfgs
from .rowmap import RowMap

__all__ = ["fit_fixed_k", "heldout_mrr", "EarlyStopping"]

EARLY_STOPPING_EVERY = 5  # iterations between held-out checks


def heldout_mrr(Fval, Ws, metric):
    """Held-out cross-modal MRR (mean over ordered modality pairs) of projections Ws."""
    return cross_modal_mrr([F @ np.asarray(W, dtype=F.dtype) for F, W in zip(Fval, Ws)], metric=metric)


def heldout_mrr_and_se(Fval, Ws, metric):
    """(held-out cross-modal MRR, its standard error): each held-out item's reciprocal rank
    averaged over the ordered modality pairs, then the mean and std / sqrt(n) of those."""
    Zs = [F @ np.asarray(W, dtype=F.dtype) for F, W in zip(Fval, Ws)]
    M = len(Zs)
    rr = np.mean([1.0 / np.asarray(match_ranks(Zs[a], Zs[b], metric=metric), dtype=np.float64)
                  for a in range(M) for b in range(M) if a != b], axis=0)
    return float(np.mean(rr)), float(np.std(rr) / np.sqrt(max(rr.size, 1)))


class EarlyStopping:
    """Optimizer callback: every ``every`` iterations the held-out MRR of the current
    projections; True (stop) after ``patience`` checks without improvement.  The start
    counts as iteration 0, so the best iteration can be 0 (keep the start).
    ``best_params`` holds (copies of) the projections with the best held-out MRR."""

    def __init__(self, Fval, W0, metric, patience, every=EARLY_STOPPING_EVERY):
        self.Fval, self.metric, self.patience, self.every = Fval, metric, int(patience), int(every)
        self.best_score = heldout_mrr(Fval, W0, metric)
        self.best_iteration = 0
        self.best_params = [np.array(W) for W in W0]
        self.scores = [(0, self.best_score)]
        self._since = 0

    def _check(self, it, params):
        score = heldout_mrr(self.Fval, params, self.metric)
        self.scores.append((int(it), score))
        if score > self.best_score:
            self.best_score, self.best_iteration, self._since = score, int(it), 0
            self.best_params = [np.array(W) for W in params]
        else:
            self._since += 1

    def __call__(self, it, loss, params):
        if it % self.every:
            return False
        self._check(it, params)
        return self._since >= self.patience

    def finish(self, n_iter, params):
        """Score the last iterate too (the run may have stopped between checks)."""
        if not self.scores or self.scores[-1][0] != int(n_iter):
            self._check(n_iter, params)


def _start(est, Fs, k, rng, kern, n_linear, Fval=None):
    """(W0, gamma, ridge): the configured start, the similarity gamma on features Fs and the
    CCA start's ridge (None for the other starts).  ``init_reg="auto"`` with held-out
    features ``Fval``: of the starts with each ridge of ``INIT_REG_GRID`` (drawn with the
    same random numbers), the largest ridge whose held-out MRR is within one standard error
    of the best one's (the one-standard-error rule)."""
    reg = est.init_reg
    if est.init == "cca" and reg == "auto" and Fval is not None:
        seed = int(rng.integers(2**31 - 1))
        cands = []
        for r in INIT_REG_GRID:
            W = init_projections(Fs, k, np.random.default_rng(seed), "cca", n_linear, r)
            cands.append((r, W) + heldout_mrr_and_se(Fval, W, retrieval_metric(kern)))
        best = max(cands, key=lambda c: c[2])
        reg, W0 = next((r, W) for r, W, score, _ in sorted(cands, key=lambda c: -c[0])
                       if score >= best[2] - best[3])
    else:
        reg = INIT_REG_FALLBACK if reg == "auto" else float(reg)
        W0 = init_projections(Fs, k, rng, est.init, n_linear, reg)
    gamma = float(est.gamma) if est.gamma is not None else default_gamma(
        Fs, W0, kernel=kern, similarity=est.similarity, alpha=est.alpha, rng=rng)
    return W0, gamma, (reg if est.init == "cca" else None)


def _run(est, Fs, targets, W0, gamma, k, rng, kern, solver, callbacks, max_iter=None, sampler=None):
    """One optimizer run from W0 -> OptimizationResult."""
    obj = AlignXpertObjective(Fs, targets if est.alpha > 0 else None, similarity=est.similarity, kernel=kern,
                              gamma=gamma, degree=est.degree, coef0=est.coef0, temperature=est.temperature,
                              alpha=est.alpha, lam=est.lam, stress_kind=est.stress, n_threads=est.n_threads,
                              backend=est.backend)
    verbose = int(est.verbose)
    if solver == "lbfgs":
        return minimize_lbfgs(obj, W0, max_iter=max_iter or est.max_iter or 200,
                              tol=1e-6 if est.tol is None else est.tol, callbacks=callbacks or None,
                              verbose=verbose, print_every=1 if verbose >= 2 else 10)
    return minimize_adam(obj, W0, max_iter=max_iter or est.max_iter or 2000, tol=1e-4 if est.tol is None else est.tol,
                         random_state=rng, sampler=sampler, batch_size=est.batch_size,
                         learning_rate=est.learning_rate,
                         callbacks=callbacks or None, verbose=verbose, print_every=1 if verbose >= 2 else 100)


def _callback_list(callbacks):
    return [] if callbacks is None else ([callbacks] if callable(callbacks) else list(callbacks))


def _fit_maps(maps, Xfit, est, lazy):
    """Fit the feature maps on the views' rows; unless ``lazy``, return their features.

    Full batch, the modalities' maps are fitted concurrently (one Python thread each,
    their kernels on an equal share of the threads): most of a Nyström fit is the
    landmark Gram's eigendecomposition, which LAPACK runs on one core (0.13 s per view at
    1000 landmarks; two views at once take the time of one).  Each map's result does not
    depend on the thread count."""
    if lazy:
        for fm, X in zip(maps, Xfit):
            fm.fit(X, n_threads=est.n_threads, backend=est.backend)
        return None
    nt = effective_n_threads(est.n_threads)
    workers = min(len(maps), nt) if any(fm.kind != "linear" for fm in maps) else 1
    share = max(1, nt // workers)

    def one(m):
        return np.ascontiguousarray(maps[m].fit_transform(Xfit[m], n_threads=share, backend=est.backend))

    if workers == 1:
        return [one(m) for m in range(len(maps))]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(maps))))


def fit_fixed_k(est, Xs, k, rng, callbacks=None):
    """Fit ``est``'s configuration with k components on validated views Xs; returns the
    fitted attributes (a dict)."""
    t0 = time.perf_counter()
    dtype = Xs[0].dtype
    n = Xs[0].shape[0]
    kern = est._kernel_name()
    sampler = getattr(Xs[0], "sampler", None)  # dask views: minibatches drawn from row chunks
    solver = "adam" if sampler is not None else est._resolve_solver(n)
    kw = dict(n_threads=est.n_threads, backend=est.backend)
    means, scales = fit_scaling(Xs)

    def scale(X, m):
        return scale_rows(X, means[m], scales[m])

    # the minibatch solver forms scaled / mapped rows per batch (RowMap), never whole,
    # and fits the feature maps on a sample of up to INIT_SAMPLES scaled rows
    lazy = solver == "adam"
    fit_rows = subsample(n, INIT_SAMPLES, rng) if lazy else None
    Xfit = [scale(X[slice(None) if fit_rows is None else fit_rows], m) for m, X in enumerate(Xs)]
    maps = [make_feature_map(est.feature_map, n_landmarks=est.n_landmarks, gamma=est.map_gamma,
                             degree=est.map_degree, coef0=est.map_coef0, random_state=int(rng.integers(2**31 - 1)))
            for _ in Xfit]
    mapped = _fit_maps(maps, Xfit, est, lazy)
    if lazy:
        Fs = [RowMap(X, lambda Xr, m=m: maps[m].transform(scale(Xr, m), **kw),
                     maps[m].transform(scale(X[:1], m), **kw).shape[1], dtype,
                     factored=(lambda Xr, m=m: maps[m].factored(scale(Xr, m), **kw))
                     if hasattr(maps[m], "factored") else None) for m, X in enumerate(Xs)]
        targets = [RowMap(X, lambda Xr, m=m: scale(Xr, m), X.shape[1], dtype) for m, X in enumerate(Xs)]
    else:
        Fs = mapped
        targets = Xfit
    n_linear = [getattr(fm, "n_linear_", fm.n_output_) for fm in maps]
    cbs = _callback_list(callbacks)
    record = {"validation_scores_": None, "best_iteration_": None, "validation_score_": None,
              "early_stopping_iterations_": None}
    n_val = int(round(est.validation_fraction * n))
    if est.early_stopping and not lazy and n_val >= 10 and n - n_val >= 10:
        # as scikit-learn's early stopping: hold out validation_fraction of the pairs, fit on
        # the rest and keep the projections with the best held-out MRR (no refit on all
        # pairs: measured, a refit of the best iteration count doubled the fit time and did
        # not score better on the quality datasets, benchmarks/results/quality.md)
        perm = rng.permutation(n)
        val, rest = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        Fr = [np.ascontiguousarray(F[rest]) for F in Fs]
        Tr = [np.ascontiguousarray(X[rest]) for X in targets]
        Fval = [F[val] for F in Fs]
        W0, gamma, reg = _start(est, Fr, k, rng, kern, n_linear, Fval)
        stopper = EarlyStopping(Fval, W0, retrieval_metric(kern), est.n_iter_no_change)
        res = _run(est, Fr, Tr, W0, gamma, k, rng, kern, solver, cbs + [stopper])
        stopper.finish(res.n_iter, res.params)
        record.update(validation_scores_=stopper.scores, best_iteration_=stopper.best_iteration,
                      validation_score_=stopper.best_score, early_stopping_iterations_=int(res.n_iter))
        res.params = stopper.best_params
    else:
        W0, gamma, reg = _start(est, Fs, k, rng, kern, n_linear)
        res = _run(est, Fs, targets, W0, gamma, k, rng, kern, solver, cbs, sampler=sampler)
    if res.stop_reason == "nonfinite":
        warnings.warn(
            f"AlignXpert: the loss diverged (non-finite after {res.n_iter} iterations) with "
            f"similarity={est.similarity!r}, kernel={est.kernel!r}, lam={est.lam}; the paired linear and "
            f"polynomial similarities are unbounded below (see docs/method.rst). Increase lam (linear), or "
            f"use similarity='contrastive' or kernel='rbf'/'cosine'. The projections kept are the best "
            f"evaluated ones and are not meaningful.",
            UserWarning, stacklevel=4,
        )
    return {
        "means_": means, "scales_": scales, "feature_maps_": maps, "gamma_": gamma, "solver_": solver,
        "components_": [np.ascontiguousarray(W, dtype=dtype) for W in res.params], "n_components_": int(k),
        "output_scale_": output_scale(Fs, res.params, k, rng), "n_modalities_": len(Xs),
        "n_features_in_": [int(X.shape[1]) for X in Xs], "n_features_mapped_": [int(F.shape[1]) for F in Fs],
        "n_iter_": int(res.n_iter), "loss_": float(res.loss), "loss_curve_": list(res.loss_curve),
        "history_": {t: list(v) for t, v in res.history.items()}, "stop_reason_": res.stop_reason,
        "converged_": bool(res.converged), "fit_time_": time.perf_counter() - t0, "init_reg_": reg, **record,
    }
