"""Small dense linear-algebra helpers shared by the initialization and the baselines:
deterministic signs and regularized (generalized) CCA."""
from __future__ import annotations

import numpy as np


def fix_signs(V):
    """Deterministic signs for the columns of V (axes of a decomposition): the entry of
    largest magnitude in each column is made positive.  Returns a new array."""
    V = np.asarray(V)
    if V.shape[1] == 0:
        return V.copy()
    sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])])
    return V * np.where(sign == 0, 1.0, sign)


def regularized_mcca(Xs, k, reg=1e-2, *, return_corr=False):
    """Regularized generalized CCA of M >= 2 centered views (float64 NumPy/SciPy).

    Solves ``C v = rho D v`` with C the covariance of the concatenated views and D its
    block diagonal ridged by ``reg * trace(C_mm) / d_m`` per block (scale invariant); for
    M = 2 the top eigenvalues are ``1 + rho_i`` with ``rho_i`` the canonical correlations.
    Returns ``[W_m (d_m, r)]`` with r = min(k, sum d_m) columns, each column scaled so
    the view's projection has unit variance, and, with ``return_corr``, the mean pairwise
    correlation of each component's projections on the data (length r).
    """
    from scipy.linalg import eigh

    Xs = [np.asarray(X, dtype=np.float64) for X in Xs]
    n = Xs[0].shape[0]
    M = len(Xs)
    dims = [X.shape[1] for X in Xs]
    offs = np.concatenate([[0], np.cumsum(dims)])
    Xall = np.concatenate(Xs, axis=1)
    C = (Xall.T @ Xall) / n
    D = np.zeros_like(C)
    for m in range(M):
        a, b = offs[m], offs[m + 1]
        B = C[a:b, a:b]
        r = reg * max(float(np.trace(B)) / dims[m], 1e-12)
        D[a:b, a:b] = B + r * np.eye(dims[m])
    w, V = eigh(0.5 * (C + C.T), 0.5 * (D + D.T))
    order = np.argsort(w)[::-1]
    r = min(int(k), int(offs[-1]))
    V = V[:, order[:r]]
    Ws = []
    Zs = []
    for m in range(M):
        W = V[offs[m]:offs[m + 1]]
        Z = Xs[m] @ W
        sd = np.sqrt(np.mean(Z**2, axis=0))
        sd[sd == 0] = 1.0
        W = W / sd
        # deterministic signs: view 0's largest |entry| positive, applied to all views
        Ws.append(W)
        Zs.append(Z / sd)
    sign = np.sign(Ws[0][np.argmax(np.abs(Ws[0]), axis=0), np.arange(r)])
    sign[sign == 0] = 1.0
    Ws = [W * sign for W in Ws]
    if not return_corr:
        return Ws
    corr = np.zeros(r)
    pairs = 0
    for m in range(M):
        for l in range(m + 1, M):
            corr += np.mean(Zs[m] * Zs[l], axis=0)
            pairs += 1
    return Ws, corr / max(pairs, 1)
