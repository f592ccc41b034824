"""Evaluation of aligned embeddings: retrieval metrics, cross-modal transfer, the
baselines users compare against, and the demo / kernel-benchmark commands."""
from .baselines import BASELINES, Baseline, cca_projections, fit_baseline, pca_projections, procrustes_align
from .metrics import (METRICS, label_precision_at_k, match_ranks, mean_reciprocal_rank, recall_at_k,
                      top_k_indices)
from .scoring import evaluate_alignment, train_test_split_indices
from .transfer import RidgeClassifierOVR, cross_modal_transfer

__all__ = [
    "BASELINES",
    "Baseline",
    "METRICS",
    "fit_baseline",
    "RidgeClassifierOVR",
    "cca_projections",
    "cross_modal_transfer",
    "evaluate_alignment",
    "label_precision_at_k",
    "match_ranks",
    "mean_reciprocal_rank",
    "pca_projections",
    "procrustes_align",
    "recall_at_k",
    "top_k_indices",
    "train_test_split_indices",
]
