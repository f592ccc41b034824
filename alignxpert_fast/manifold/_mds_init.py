"""Starting configurations for MDS and the sums the stress conversions need.

``classical_mds_*`` give classical (Torgerson) MDS: the top eigenvectors of
``B = -1/2 J D^2 J`` scaled by the square roots of their eigenvalues.  For Euclidean
distances of features this is PCA of the centered features (``B = Xc Xc^T``), computed
from the d x d covariance in O(n d^2) time and O(n d) memory.  For precomputed
dissimilarities, a Lanczos solver (``scipy.sparse.linalg.eigsh``) multiplies by B through
the packed distance cache, row block by row block: no n x n array beyond the cache.
"""
from __future__ import annotations

import numpy as np


def sum_sq_features(X):
    """``sum_{i<j} ||x_i - x_j||^2 = n * sum_i ||x_i - mean||^2`` (float64)."""
    Xc = X - X.mean(axis=0, dtype=np.float64)
    return float(X.shape[0] * np.einsum("ij,ij->", Xc, Xc))


def sum_sq_cache(cache):
    """``sum_{i<j} D_ij^2`` of a StressCache (float64)."""
    total = 0.0
    for r0, r1, blk in cache.row_blocks():
        sq = np.square(blk, dtype=np.float64)
        rows = r1 - r0
        total += 0.5 * float(sq[:, :rows].sum()) + float(sq[:, rows:].sum())
    return total


def sum_sq_embedding(Z):
    """``sum_{i<j} ||z_i - z_j||^2`` of an embedding (float64)."""
    return sum_sq_features(np.asarray(Z, dtype=np.float64))


def classical_mds_features(X, n_components):
    """Classical MDS of the Euclidean distances of X = PCA scores of centered X, float64.

    Components beyond the rank of X are 0."""
    Xc = np.asarray(X, dtype=np.float64)
    Xc = Xc - Xc.mean(axis=0)
    d = Xc.shape[1]
    if d <= 4 * n_components or Xc.shape[0] <= d:
        _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
        V = Vt[:n_components].T
    else:
        w, V = np.linalg.eigh(Xc.T @ Xc)
        V = V[:, ::-1][:, :n_components]
    Z = Xc @ V
    if Z.shape[1] < n_components:
        Z = np.hstack([Z, np.zeros((Z.shape[0], n_components - Z.shape[1]))])
    return _fix_signs(Z)


def _squared_matvec(cache, U):
    """``(D o D) @ U`` for the cached D, row block by row block (float64)."""
    out = np.zeros_like(U)
    for r0, r1, blk in cache.row_blocks():
        sq = np.square(blk, dtype=np.float64)
        rows = r1 - r0
        out[r0:r1] += sq @ U[r0:]
        out[r1:] += sq[:, rows:].T @ U[r0:r1]
    return out


def classical_mds_cache(cache, n_components):
    """Classical MDS of the dissimilarities in a StressCache, float64 (n, n_components).

    Negative eigenvalues (non-Euclidean dissimilarities) give zero columns.  Deterministic
    (a fixed Lanczos start vector, not drawn from the caller's random state)."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n, k = cache.n_samples, n_components

    def matmat(V):
        V = np.asarray(V, dtype=np.float64).reshape(n, -1)
        U = V - V.mean(axis=0)
        W = _squared_matvec(cache, U)
        return -0.5 * (W - W.mean(axis=0))

    if n <= max(64, 3 * k + 2):
        w, V = np.linalg.eigh(matmat(np.eye(n)))
        w, V = w[::-1][:k], V[:, ::-1][:, :k]
    else:
        op = LinearOperator((n, n), matvec=matmat, matmat=matmat, dtype=np.float64)
        w, V = eigsh(op, k=k, which="LA", v0=np.random.default_rng(0).standard_normal(n), tol=1e-10)
        order = np.argsort(w)[::-1]
        w, V = w[order], V[:, order]
    Z = V * np.sqrt(np.maximum(w, 0.0))
    if Z.shape[1] < k:
        Z = np.hstack([Z, np.zeros((n, k - Z.shape[1]))])
    return _fix_signs(Z)


def _fix_signs(Z):
    """Deterministic signs: the largest-magnitude entry of each column is positive."""
    idx = np.argmax(np.abs(Z), axis=0)
    signs = np.sign(Z[idx, np.arange(Z.shape[1])])
    signs[signs == 0] = 1.0
    return Z * signs


def random_start(n, n_components, sum_sq, rng):
    """Gaussian points scaled so that their mean squared distance matches the
    dissimilarities' (``2 k s^2 = sum_sq / (n (n - 1) / 2)``), float64."""
    mean_sq = sum_sq / (0.5 * n * (n - 1))
    s = np.sqrt(mean_sq / (2.0 * n_components))
    return rng.standard_normal((n, n_components)) * s


class DissimilarityBlocks:
    """Row blocks ``D[r0:r1, r0:]`` of validated dense or condensed dissimilarities,
    assembled on the fly (the ``row_blocks`` interface of StressCache, without a cache)."""

    def __init__(self, D, form, n, block_rows=256):
        self.D, self.form, self.n_samples, self.block_rows = D, form, n, block_rows

    def row_blocks(self):
        from ..kernels.stress import dissimilarity_rows

        n = self.n_samples
        for r0 in range(0, n, self.block_rows):
            r1 = min(n, r0 + self.block_rows)
            yield r0, r1, dissimilarity_rows(self.D, self.form, n, r0, r1)
