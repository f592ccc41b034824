"""Dimension boundary with the shipped defaults (issue 8, item 3): k = min d_m, max d_m,
sum d_m and "auto" on the synthetic pairs (widths 64 / 24), 3 seeds, 70 / 30 split; plus
the share of the projected variance carried by the columns beyond min d_m (the CCA
init's axes) and beyond max d_m, to show that every column takes part.

    PYTHONPATH=. python benchmarks/upward.py
"""
import sys

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import quality  # noqa: E402
from alignxpert_fast import AlignXpert  # noqa: E402

PAPER = dict(similarity="paired", kernel="rbf", temperature=0.1, alpha=0.1, lam=1e-3, feature_map="linear",
             init="pca", early_stopping=False)


def main():
    views, y = quality.datasets()["synthetic"]
    dims = [v.shape[1] for v in views]
    lo, hi, tot = min(dims), max(dims), sum(dims)
    rows = []
    with threadpool_limits(1):
        for label, params, ks, seeds in [("defaults", {}, [lo, hi, tot, "auto"], [0, 1, 2]),
                                         ("paper (init=pca)", PAPER, [lo, hi, tot], [0, 1, 2])]:
            for k in ks:
                res = []
                for seed in (seeds if k != "auto" else [0]):
                    tr, te = quality.split(len(y), seed)
                    est = AlignXpert(n_components=k, random_state=seed, n_threads=1, **params)
                    est.fit([v[tr] for v in views])
                    Ztr, Zte = est.transform([v[tr] for v in views]), est.transform([v[te] for v in views])
                    r = quality.evaluate(Ztr, Zte, y[tr], y[te])
                    Z = np.concatenate(Ztr).astype(np.float64)
                    Z = Z - Z.mean(axis=0)
                    var = np.sum(Z**2, axis=0)
                    r["beyond_min_d"] = float(var[lo:].sum() / var.sum()) if est.n_components_ > lo else 0.0
                    r["beyond_max_d"] = float(var[hi:].sum() / var.sum()) if est.n_components_ > hi else 0.0
                    r["k"] = est.n_components_
                    r["time"] = est.fit_time_
                    res.append(r)
                keys = ["R@1", "R@10", "MRR", "P@10", "transfer", "beyond_min_d", "beyond_max_d", "time"]
                cells = " | ".join(f"{np.mean([r[x] for r in res]):.3f} ± {np.std([r[x] for r in res]):.3f}"
                                   for x in keys)
                kk = k if k != "auto" else f"auto → {res[0]['k']}"
                rows.append(f"| {label} | {kk} | {cells} |")
                print(rows[-1], file=sys.stderr, flush=True)
    print("| model | k | R@1 | R@10 | MRR | P@10 | transfer | var. share cols > min d | var. share cols > max d | "
          "fit (s) |")
    print("|---|---|" + "---|" * 8)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
