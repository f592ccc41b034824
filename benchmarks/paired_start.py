"""Scores of the CCA start (W0 of init="cca" on the residual map, before any iteration) on the digits halves,
for the paired-mode table of benchmarks/results/quality.md: PYTHONPATH=. python benchmarks/paired_start.py"""
import sys
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import numpy as np
import quality
from threadpoolctl import threadpool_limits
from alignxpert_fast import AlignXpert
from alignxpert_fast.alignment.init import init_projections as _init_projections
views, y = quality.datasets()["digits_halves"]
res = []
with threadpool_limits(1):
    for seed in (0, 1, 2):
        tr, te = quality.split(len(y), seed)
        Vtr, Vte = [v[tr] for v in views], [v[te] for v in views]
        est = AlignXpert(similarity="paired", kernel="rbf", gamma=1.0, alpha=1.0, lam=1e-3, feature_map="linear+rbf",
                         init="cca", early_stopping=False, max_iter=1, random_state=seed, n_threads=1).fit(Vtr)
        Fs = [est._features(X, m).astype(np.float64) for m, X in enumerate(Vtr)]
        W0 = _init_projections(Fs, 32, np.random.default_rng(0), "cca", [fm.n_linear_ for fm in est.feature_maps_], 1e-2)
        est.components_ = [W.astype(np.float32) for W in W0]
        Z = np.concatenate([F @ W for F, W in zip(Fs, W0)])
        est.output_scale_ = float(np.sqrt(32 / np.mean(np.sum((Z - Z.mean(0)) ** 2, axis=1))))
        res.append(quality.evaluate(est.transform(Vtr), est.transform(Vte), y[tr], y[te]))
for k in res[0]:
    print(k, f"{np.mean([r[k] for r in res]):.3f} ± {np.std([r[k] for r in res]):.3f}")
