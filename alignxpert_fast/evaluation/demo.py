"""The ``demo`` command: AlignXpert on the built-in digits halves next to the baselines."""
from __future__ import annotations

import sys
import time

import numpy as np

from ..alignment.estimator import PAPER, AlignXpert
from ..datasets import load_digits_halves
from .baselines import cca_projections, pca_projections, procrustes_align
from .plots import plot_recall_curves, recall_curve
from .scoring import evaluate_alignment, train_test_split_indices

__all__ = ["run_demo"]


def run_demo(n_components=32, *, test_size=0.3, random_state=0, max_iter=None, n_threads=None, metric="cosine",
             cca=True, contrastive=True, quick=False, verbose=0, plot=None, file=None):
    """The ``demo`` subcommand as a function; returns the table rows (list of dicts).

    ``quick``: 600 pairs, ``max_iter`` 10 unless given and CCA with 100 iterations (a smoke
    run of a few seconds).  ``verbose``: the fits print their progress.  ``plot``: a path
    (.png, .pdf, .svg) for the recall@k curves of every method (needs matplotlib).
    """
    from threadpoolctl import threadpool_limits

    out = file or sys.stdout
    (left, right), labels = load_digits_halves()
    if quick:
        keep = np.sort(np.random.default_rng(random_state).permutation(left.shape[0])[:600])
        left, right, labels = left[keep], right[keep], labels[keep]
        max_iter = 10 if max_iter is None else max_iter
    tr, te = train_test_split_indices(left.shape[0], test_size, random_state)
    k = int(n_components)
    print(f"alignxpert_fast demo: digits halves (scikit-learn's 8x8 digits): left {left.shape[1]} px, right "
          f"{right.shape[1]} px, {left.shape[0]} pairs -> {tr.size} train / {te.size} test (seed {random_state}); "
          f"k={k}", file=out)
    print(f"retrieval: query left -> gallery right on the test split ({te.size} candidates), {metric} scores; "
          f"P@10 = label precision@10; transfer = ridge classifier trained on left train features, tested on "
          f"right test features\n", file=out, flush=True)
    rows, notes = [], []
    Ltr, Rtr, Lte, Rte = left[tr], right[tr], left[te], right[te]
    ytr, yte = labels[tr], labels[te]

    curves = {}

    def add(method, kk, Za_tr, Za_te, Zb_te, seconds):
        if plot is not None:
            curves[method] = recall_curve(Za_te, Zb_te, metric=metric)
        row = {"method": method, "k": kk, **evaluate_alignment(Za_te, Zb_te, yte, Za_tr, ytr, metric=metric),
               "fit_time": seconds}
        rows.append(row)
        _print_demo_row(row, out, header=len(rows) == 1)

    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        za_tr, (za_te,) = pca_projections(Ltr, k, (Lte,))
        zb_tr, (zb_te,) = pca_projections(Rtr, k, (Rte,))
        t_pca = time.perf_counter() - t0
        add("PCA per modality", k, za_tr, za_te, zb_te, t_pca)
        t0 = time.perf_counter()
        Rot = procrustes_align(za_tr, zb_tr)
        add("PCA + Procrustes", k, za_tr, za_te, zb_te @ Rot, t_pca + time.perf_counter() - t0)
        if cca:
            try:
                t0 = time.perf_counter()
                zx_tr, _, [(zx_te, zy_te)], msgs = cca_projections(Ltr, Rtr, k, [(Lte, Rte)],
                                                                   max_iter=100 if quick else 500)
                add("CCA (scikit-learn)", k, zx_tr, zx_te, zy_te, time.perf_counter() - t0)
                notes += [f"CCA: {m}" for m in msgs]
            except ImportError:
                notes.append("CCA row skipped: scikit-learn is not installed (pip install 'alignxpert_fast[demo]')")
            except ValueError as exc:
                notes.append(f"CCA row skipped: {exc}")
        configs = [("AlignXpert defaults", {})]
        if contrastive:  # the paper's paired formulation, for comparison
            configs.append(("AlignXpert paired (paper)", dict(PAPER)))
        for name, extra in configs:
            est = AlignXpert(k, random_state=random_state, max_iter=max_iter, n_threads=n_threads, verbose=verbose,
                             **extra)
            t0 = time.perf_counter()
            est.fit([Ltr, Rtr])
            seconds = time.perf_counter() - t0
            za_tr = est.transform(Ltr, modality=0)
            za_te, zb_te = est.transform([Lte, Rte])
            add(name, k, za_tr, za_te, zb_te, seconds)
            gamma = "" if est.gamma_ is None else f", gamma_={est.gamma_:.3g}"
            stop = (f"early stopping: best held-out MRR {est.validation_score_:.3f} at iteration "
                    f"{est.best_iteration_} of {est.early_stopping_iterations_}, kept"
                    if getattr(est, "best_iteration_", None) is not None else f"stop: {est.stop_reason_}")
            notes.append(f"{name}: solver {est.solver_}, {est.n_iter_} iterations ({stop}){gamma}")
    if notes:
        print("", file=out)
        for note in notes:
            print(f"  note: {note}", file=out)
    if plot is not None:
        fig = plot_recall_curves(curves, title=f"digits halves, test split: left -> right (k={k})")
        fig.savefig(plot, dpi=120)
        print(f"\nrecall@k curves written to {plot}", file=out)
    return rows


def _print_demo_row(row, out, header=False):
    if header:
        print(f"{'method':<27}{'k':>5}{'R@1':>8}{'R@10':>8}{'MRR':>8}{'P@10':>8}{'transfer':>10}{'fit (s)':>9}",
              file=out)
        print("-" * 83, file=out)
    print(f"{row['method']:<27}{row['k']:>5}{row['R@1']:>8.3f}{row['R@10']:>8.3f}{row['MRR']:>8.3f}"
          f"{row['P@k']:>8.3f}{row['transfer']:>10.3f}{row['fit_time']:>9.2f}", file=out, flush=True)
