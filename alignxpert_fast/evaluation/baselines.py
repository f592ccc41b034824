"""Baselines that aligned embeddings are compared against: per-modality PCA, PCA +
orthogonal Procrustes (AlignXpert's start) and scikit-learn's CCA."""
from __future__ import annotations

import warnings

import numpy as np

from .._utils.linalg import fix_signs

__all__ = ["pca_projections", "procrustes_align", "cca_projections"]


def pca_projections(X_train, k, X_apply=()):
    """Per-modality PCA by NumPy SVD: returns (Z_train, [Z for X in X_apply]), width k.

    The inputs are scaled as AlignXpert scales them (centered, divided by the root mean
    squared row norm of the training rows).  Uses the top min(k, d, n) principal axes
    (deterministic signs: the entry of largest magnitude of each axis positive) and pads with zero
    columns up to k, so modalities of different widths land in spaces of the same width.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    mu = X_train.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((X_train - mu) ** 2, axis=1)))) or 1.0
    _, _, Vt = np.linalg.svd(X_train - mu, full_matrices=False)
    r = min(k, Vt.shape[0])
    V = fix_signs(Vt[:r].T)
    W = np.zeros((X_train.shape[1], k))
    W[:, :r] = V / scale
    return (X_train - mu) @ W, [(np.asarray(X, dtype=np.float64) - mu) @ W for X in X_apply]


def procrustes_align(Z_target, Z_source):
    """Orthogonal R minimizing ||Z_source R - Z_target||_F (both (n, k))."""
    U, _, Vt = np.linalg.svd(np.asarray(Z_source).T @ np.asarray(Z_target))
    return U @ Vt


def cca_projections(X_train, Y_train, k, apply=(), max_iter=500):
    """scikit-learn CCA fitted on the training pairs.

    Returns ``(Zx_train, Zy_train, [(Zx, Zy) for (X, Y) in apply], warning_messages)``;
    raises ImportError without scikit-learn and ValueError when k > min(n, d_x, d_y).
    Warnings raised inside scikit-learn are collected, not emitted.
    """
    from sklearn.cross_decomposition import CCA  # lazy: scikit-learn is optional

    n, dx = np.shape(X_train)
    dy = np.shape(Y_train)[1]
    if k > min(n, dx, dy):
        raise ValueError(f"CCA needs k <= min(n, d_x, d_y) = {min(n, dx, dy)}, got k={k}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cca = CCA(n_components=k, max_iter=max_iter).fit(X_train, Y_train)
        zx, zy = cca.transform(X_train, Y_train)
        applied = [tuple(cca.transform(X, Y)) for X, Y in apply]
    msgs = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})
    return zx, zy, applied, msgs
