"""``n_components="auto"``: choose the shared dimension k on held-out pairs.

Each candidate k is fitted on a ``1 - validation_fraction`` split and scored on the
held-out pairs by the mean reciprocal rank of cross-modal retrieval (averaged over the
ordered modality pairs); the best k (ties: the smaller) wins.
"""
from __future__ import annotations

import time

import numpy as np

from ..evaluation.metrics import cross_modal_mrr
from ..kernels.stress import stress

__all__ = ["default_grid", "dimension_search", "retrieval_metric"]


def default_grid(widths):
    """``{min_d // 2, min_d, sqrt(min_d * max_d), max_d, sum_d}`` of the input widths."""
    lo, hi, tot = min(widths), max(widths), sum(widths)
    return sorted({max(1, lo // 2), lo, int(round(np.sqrt(lo * hi))), hi, tot})


def retrieval_metric(kernel):
    """The retrieval score that matches a similarity kernel."""
    return {"rbf": "euclidean", "cosine": "cosine"}.get(kernel, "dot")


def dimension_search(est, Xs, rng):
    """Fit a copy of ``est`` for each candidate k and score it on held-out pairs.

    Returns ``(best_k, records)``, one record (dict with ``k``, ``similarity``, ``stress``,
    ``score``, ``time``) per candidate.
    """
    n = Xs[0].shape[0]
    n_val = int(round(est.validation_fraction * n))
    if n_val < 2 or n - n_val < 3:
        raise ValueError(
            f"n_components='auto' needs at least 2 held-out and 3 training pairs; got n={n} with "
            f"validation_fraction={est.validation_fraction}"
        )
    perm = rng.permutation(n)
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    grid = ([int(v) for v in est.dimension_grid] if est.dimension_grid is not None
            else default_grid([X.shape[1] for X in Xs]))
    metric = retrieval_metric(est._kernel_name())
    records = []
    M = len(Xs)
    for k in grid:
        cand = type(est)(**{**est.get_params(), "n_components": k, "verbose": 0})
        t0 = time.perf_counter()
        cand._fit_k([X[train] for X in Xs], k, rng)
        elapsed = time.perf_counter() - t0
        Zs = cand.transform([X[val] for X in Xs])
        Xv = [cand._scale(X[val], m) for m, X in enumerate(Xs)]
        # the objective's terms are those of the unscaled projections
        sims = [cand._similarity_value(Zs[a] / cand.output_scale_, Zs[b] / cand.output_scale_)
                for a in range(M) for b in range(a + 1, M)]
        st = float(np.mean([stress(Xv[m], Zs[m] / cand.output_scale_, n_threads=est.n_threads, backend=est.backend)
                            for m in range(M)]))
        rec = {"k": int(k), "similarity": float(np.mean(sims)), "stress": st, "score": cross_modal_mrr(Zs, metric=metric),
               "time": float(elapsed)}
        records.append(rec)
        if est.verbose:
            print(f"[dimension search] k={k:<5d} score(MRR)={rec['score']:.4f} similarity={rec['similarity']:.4f} "
                  f"stress={rec['stress']:.4f} time={elapsed:.2f}s", flush=True)
    best = max(records, key=lambda r: (r["score"], -r["k"]))
    return best["k"], records
