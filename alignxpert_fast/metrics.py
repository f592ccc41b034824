"""Retrieval and transfer metrics (kept at this path; they live in
:mod:`alignxpert_fast.evaluation`)."""
from .evaluation.metrics import (METRICS, label_precision_at_k, match_ranks, mean_reciprocal_rank, recall_at_k,
                                 top_k_indices)
from .evaluation.transfer import RidgeClassifierOVR, cross_modal_transfer

__all__ = [
    "METRICS",
    "RidgeClassifierOVR",
    "cross_modal_transfer",
    "label_precision_at_k",
    "match_ranks",
    "mean_reciprocal_rank",
    "recall_at_k",
    "top_k_indices",
]
