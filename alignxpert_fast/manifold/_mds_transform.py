"""Out-of-sample MDS: place new points against a fixed, fitted embedding.

Each new point y, with dissimilarities ``delta_j`` to the n fitted points (embedded at
``z_j``), gets the position z that minimizes its own stress against them,
``sum_j (||z - z_j|| - delta_j)^2``, the fitted points held still.  The minimizer is found
by the one-point Guttman transform (SMACOF with a single free point)::

    z <- (1 / n) * sum_j [ z_j + delta_j (z - z_j) / ||z - z_j|| ]

which never increases the point's stress, starting from the embedding of its nearest
fitted point (``argmin_j delta_j``).  Pairs with ``||z - z_j|| = 0`` contribute ``z_j``.
A fitted embedding at a stationary point of the full stress is a fixed point of this map
for each of its own points, so ``transform`` of training data returns their embedding (up
to how well the fit converged).

New points are placed independently, in row blocks whose (block, n) float64 work arrays
fit in ``working_memory``.
"""
from __future__ import annotations

import numpy as np


def block_rows_for(n_fit, working_memory_mib, n_arrays=5):
    """Rows per block so that ``n_arrays`` (rows, n_fit) float64 arrays fit the budget."""
    return int(max(1, min(4096, (working_memory_mib * 2**20) // (8 * n_arrays * max(n_fit, 1)))))


def place_block(delta, Zfit, *, max_iter, tol):
    """Positions (b, k) float64 of b new points with dissimilarities ``delta`` (b, n)
    to the fitted points ``Zfit`` (n, k).  Returns ``(Z, n_iter)``."""
    delta = np.asarray(delta, dtype=np.float64)
    n, k = Zfit.shape
    Z = Zfit[np.argmin(delta, axis=1)].copy()
    sum_fit = Zfit.sum(axis=0)
    E2 = np.empty(delta.shape)
    tmp = np.empty(delta.shape)
    it = 0
    for it in range(1, max_iter + 1):
        E2.fill(0.0)
        for c in range(k):  # direct differences: exact where z is close to a z_j
            np.subtract(Z[:, c, None], Zfit[None, :, c], out=tmp)
            tmp *= tmp
            E2 += tmp
        np.sqrt(E2, out=E2)
        R = np.divide(delta, E2, out=tmp, where=E2 > 0)
        R[E2 <= 0] = 0.0
        Znew = (sum_fit + Z * R.sum(axis=1, keepdims=True) - R @ Zfit) / n
        step = float(np.max(np.abs(Znew - Z))) if Z.size else 0.0
        Z = Znew
        if step <= tol:
            break
    return Z, it
