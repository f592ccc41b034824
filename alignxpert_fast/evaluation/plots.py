"""Plots where a picture says more than a table (the optional ``plot`` extra: matplotlib).

Every function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None, made
without pyplot, so no GUI backend is needed) and returns the ``Figure``; save it with
``fig.savefig(path)``.
"""
from __future__ import annotations

import numpy as np

from .metrics import match_ranks

__all__ = ["plot_loss_curve", "plot_dimension_search", "recall_curve", "plot_recall_curves"]


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'alignxpert_fast[plot]'") from exc
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def plot_loss_curve(est, ax=None):
    """The loss of a fitted AlignXpert per iteration, with its terms: ``-similarity``,
    ``alpha * stress`` and ``lam * penalty`` (``history_``), on one axis."""
    fig, ax = _axes(ax)
    it = np.arange(1, len(est.loss_curve_) + 1)
    ax.plot(it, est.loss_curve_, color="black", lw=2, label="loss")
    h = est.history_
    terms = [("similarity", -1.0, "- similarity"), ("stress", float(est.alpha), "alpha * stress"),
             ("penalty", float(est.lam), "lam * ||W||^2")]
    for key, w, label in terms:
        vals = np.asarray(h.get(key, []), dtype=float)
        if vals.size == it.size and w != 0 and np.any(np.isfinite(vals)):
            ax.plot(it, w * vals, lw=1.2, label=label)
    ax.set_xlabel("iteration" if est.solver_ == "lbfgs" else "step")
    ax.set_ylabel("value")
    ax.set_title(f"AlignXpert fit ({est.similarity}, k={est.n_components_}, {est.solver_}, "
                 f"stop: {est.stop_reason_})", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_dimension_search(est, ax=None):
    """Held-out MRR (left axis) and stress (right axis) per candidate k of an AlignXpert
    fitted with ``n_components="auto"``; the chosen k is marked."""
    records = getattr(est, "dimension_search_", None)
    if not records:
        raise ValueError("the estimator has no dimension search (fit it with n_components='auto')")
    fig, ax = _axes(ax)
    ks = [r["k"] for r in records]
    ax.plot(ks, [r["score"] for r in records], "o-", color="C0", label="held-out MRR")
    ax.axvline(est.n_components_, color="C0", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (n_components)")
    ax.set_ylabel("held-out MRR", color="C0")
    ax2 = ax.twinx()
    ax2.plot(ks, [r["stress"] for r in records], "s--", color="C1", label="held-out stress")
    ax2.set_ylabel("held-out stress", color="C1")
    ax.set_title(f"dimension search: chose k={est.n_components_}", fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def recall_curve(Z_query, Z_gallery, ks=None, *, metric="cosine"):
    """(ks, recall@k for each k): the share of queries whose paired gallery row ranks in the
    top k.  ``ks`` defaults to 1..min(50, n)."""
    ranks = match_ranks(Z_query, Z_gallery, metric=metric)
    if ks is None:
        ks = np.arange(1, min(50, ranks.size) + 1)
    ks = np.asarray(ks)
    return ks, np.array([float(np.mean(ranks <= k)) for k in ks])


def plot_recall_curves(curves, ax=None, title="cross-modal retrieval"):
    """Recall@k curves, one per method: ``curves`` maps a label to ``(ks, recalls)`` (as
    :func:`recall_curve` returns)."""
    fig, ax = _axes(ax)
    for label, (ks, rec) in curves.items():
        ax.plot(ks, rec, lw=1.8, label=label)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1.01)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
