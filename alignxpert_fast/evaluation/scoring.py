"""One call that scores aligned embeddings: retrieval, label precision and transfer."""
from __future__ import annotations

import numpy as np

from .metrics import label_precision_at_k, match_ranks
from .transfer import cross_modal_transfer

__all__ = ["evaluate_alignment", "train_test_split_indices"]


def evaluate_alignment(Za_test, Zb_test, y_test=None, Za_train=None, y_train=None, *, metric="cosine", k=10):
    """Retrieval (query a -> gallery b, match = same row), label precision@k and transfer.

    Returns a dict with ``R@1``, ``R@5``, ``R@10``, ``MRR`` and, when labels are given,
    ``P@k`` (label precision at k = min(k, n)) and, with training features too,
    ``transfer`` (ridge classifier trained on Za_train, tested on Zb_test).
    """
    ranks = match_ranks(Za_test, Zb_test, metric=metric)
    out = {f"R@{v}": float(np.mean(ranks <= v)) for v in (1, 5, 10)}
    out["MRR"] = float(np.mean(1.0 / ranks))
    if y_test is not None:
        kk = min(int(k), np.shape(Zb_test)[0])
        out["P@k"] = label_precision_at_k(Za_test, y_test, Zb_test, y_test, kk, metric=metric)
        if Za_train is not None and y_train is not None:
            out["transfer"] = cross_modal_transfer(Za_train, y_train, Zb_test, y_test)
    return out


def train_test_split_indices(n, test_size, random_state):
    """Sorted (train, test) row indices of a seeded random split of n rows."""
    rng = np.random.default_rng(random_state)
    perm = rng.permutation(n)
    n_test = int(round(test_size * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
