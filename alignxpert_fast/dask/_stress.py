"""The normalized stress and its gradient for dask arrays: one task per upper-triangle
pair of row chunks (I <= J), partial sums and gradient rows added by tree reductions.

Each pair task forms the (sub-)tiles of squared distances of X and of Z with the fused
in-memory kernel (``euclidean_distances(..., squared=True)``), zeroes those under the
norm-trick noise floor (as the in-memory stress does), and returns float64 partials:
``num = sum (D - E)^2`` and ``den = sum D^2`` over the ordered pairs of the tile (an
off-diagonal tile stands for both orders), and the unscaled gradient rows
``sum_j w_ij (z_i - z_j)`` with ``w_ij = 1 - D_ij / E_ij`` (0 where E_ij = 0) for the
rows of I and, mirrored, of J.  The final step scales them by the factor of
:func:`alignxpert_fast.kernels._backends._layout.stress_finish`.
"""
from __future__ import annotations

import dask
import dask.array as da
import numpy as np

from .._config import get_config
from ..kernels._backends._layout import noise_floor, stress_finish
from ..kernels.distances import euclidean_distances
from ._runtime import as_rows, blas_one_thread, block, common_dtype, ensure_warm, task_threads

__all__ = ["stress", "stress_and_grad"]


def _sq_dist(A, B, same, start, dtype, backend, n_threads):
    """Squared distances of rows A against B (floored as the in-memory stress does); rows
    of A are B's rows start.. when ``same`` (their own distance is exactly 0)."""
    D2 = euclidean_distances(A, B, squared=True, backend=backend, n_threads=n_threads).astype(np.float64)
    a = np.einsum("ij,ij->i", A, A, dtype=np.float64)
    b = np.einsum("ij,ij->i", B, B, dtype=np.float64)
    D2[D2 <= float(noise_floor(dtype, A.shape[1])) * (a[:, None] + b[None, :])] = 0.0
    if same:
        r = np.arange(A.shape[0])
        D2[r, start + r] = 0.0
    return D2


def _pair_task(XI, XJ, ZI, ZJ, diag, dtype_, want_grad, backend, n_threads, step_rows):
    """(num, den), unscaled gradient rows of I, of J (None on the diagonal / no grad)."""
    with blas_one_thread():  # the W @ Z products: one BLAS thread, as inside the kernels
        return _pair(XI, XJ, ZI, ZJ, diag, dtype_, want_grad, backend, n_threads, step_rows)


def _pair(XI, XJ, ZI, ZJ, diag, dtype_, want_grad, backend, n_threads, step_rows):
    XI, ZI = block(XI, dtype_), block(ZI, dtype_)
    XJ, ZJ = (XI, ZI) if diag else (block(XJ, dtype_), block(ZJ, dtype_))
    nt = task_threads(n_threads)
    k = ZI.shape[1]
    num = den = 0.0
    gI = np.zeros((XI.shape[0], k)) if want_grad else None
    gJ = np.zeros((XJ.shape[0], k)) if (want_grad and not diag) else None
    weight = 1.0 if diag else 2.0
    for s in range(0, XI.shape[0], step_rows):
        e = min(XI.shape[0], s + step_rows)
        D = np.sqrt(_sq_dist(XI[s:e], XJ, diag, s, dtype_, backend, nt))
        E = np.sqrt(_sq_dist(ZI[s:e], ZJ, diag, s, dtype_, backend, nt))
        diff = D - E
        num += weight * float(np.einsum("ij,ij->", diff, diff))
        den += weight * float(np.einsum("ij,ij->", D, D))
        if want_grad:
            W = np.zeros_like(D)
            np.divide(D, E, out=W, where=E > 0)
            np.subtract(1.0, W, out=W, where=E > 0)
            Zs = ZI[s:e].astype(np.float64)
            Zj = ZJ.astype(np.float64)
            gI[s:e] += W.sum(axis=1)[:, None] * Zs - W @ Zj
            if not diag:
                gJ += W.sum(axis=0)[:, None] * Zj - W.T @ Zs
    return np.array([num, den]), gI, gJ


def _add(*parts):
    out = parts[0].copy()
    for p in parts[1:]:
        out += p
    return out


def _tree(items, split_every):
    """Sum of delayed arrays by a tree of fan-in ``split_every``, in a fixed order."""
    while len(items) > 1:
        items = [dask.delayed(_add)(*items[s:s + split_every]) if len(items[s:s + split_every]) > 1
                 else items[s] for s in range(0, len(items), split_every)]
    return items[0]


def _finish(sums, dtype_):
    return stress_finish(float(sums[0]), float(sums[1]), dtype_)


def _value(fin):
    return np.float64(fin[0])


def _scale_rows(G, fin, dtype_):
    return (fin[1] * G).astype(dtype_)


def _prepare(X, Z):
    dtype = common_dtype(X, Z)
    Xd = as_rows(X, "X", dtype)
    Zd = as_rows(Z, "Z", dtype)
    if Xd.shape[0] != Zd.shape[0]:
        raise ValueError(f"X and Z must have the same number of rows (row i of Z is the projection of row i of X); "
                         f"got X.shape={Xd.shape}, Z.shape={Zd.shape}")
    if Xd.shape[0] < 2:
        raise ValueError(f"X must have at least 2 sample(s); got shape {Xd.shape}")
    if Zd.chunks[0] != Xd.chunks[0]:
        Zd = Zd.rechunk({0: Xd.chunks[0]})
    # distances are translation invariant: center in float64, as in memory
    Xd = Xd - Xd.mean(axis=0, dtype=np.float64).astype(dtype)
    Zd = Zd - Zd.mean(axis=0, dtype=np.float64).astype(dtype)
    return Xd, Zd, dtype


def _graph(X, Z, want_grad, backend, n_threads, split_every):
    ensure_warm(backend)
    Xd, Zd, dtype = _prepare(X, Z)
    split_every = int(split_every or 8)
    if split_every < 2:
        raise ValueError(f"split_every must be an int >= 2, got {split_every}")
    # optimize_graph=False keeps the scattered futures of NumPy inputs referenced by the graph
    xs, zs = Xd.to_delayed(optimize_graph=False).ravel(), Zd.to_delayed(optimize_graph=False).ravel()
    nb, k = len(xs), Zd.shape[1]
    widest = max(Xd.chunks[0])
    # sub-tiles of about working_memory MiB of float64 (D, E, W and a temporary)
    step = max(16, min(widest, int(get_config()["working_memory"] * 2**20 // (4 * 8 * widest))))
    task = dask.delayed(_pair_task, nout=3, pure=True)
    sums, rows = [], [[] for _ in range(nb)]
    for i in range(nb):
        for j in range(i, nb):
            s, gi, gj = task(xs[i], xs[j], zs[i], zs[j], i == j, dtype, want_grad, backend, n_threads, step)
            sums.append(s)
            if want_grad:
                rows[i].append(gi)
                if j != i:
                    rows[j].append(gj)
    fin = dask.delayed(_finish, pure=True)(_tree(sums, split_every), dtype)
    value = da.from_delayed(dask.delayed(_value, pure=True)(fin), shape=(), dtype=np.float64)
    if not want_grad:
        return value, None
    blocks = [da.from_delayed(dask.delayed(_scale_rows, pure=True)(_tree(r, split_every), fin, dtype),
                              shape=(Xd.chunks[0][i], k), dtype=dtype) for i, r in enumerate(rows)]
    return value, da.concatenate(blocks, axis=0)


def stress(X, Z, *, backend="auto", n_threads=None, split_every=None):
    """Normalized stress of dask (or NumPy) arrays X (n, d) and Z (n, k), row-paired.

    Returns a lazy 0-d dask array (float64); ``float(s.compute())`` equals
    :func:`alignxpert_fast.stress` within rounding (float64 ~1e-10 relative, float32
    ~1e-5).  One task per pair of row chunks I <= J (``nb (nb + 1) / 2`` tasks for nb
    chunks; Z is rechunked to X's rows), partial sums tree-reduced with fan-in
    ``split_every`` (default 8) in a fixed order.  Memory per task: the two chunk pairs
    plus float64 sub-tiles of about ``working_memory`` MiB.
    """
    return _graph(X, Z, False, backend, n_threads, split_every)[0]


def stress_and_grad(X, Z, *, backend="auto", n_threads=None, split_every=None):
    """Normalized stress and its gradient with respect to Z, for dask (or NumPy) arrays.

    Returns ``(value, grad)``: a lazy 0-d dask array and a lazy dask array of Z's shape
    with X's row chunks, float32 if X and Z are float32 else float64; compute both with
    ``dask.compute(value, grad)``.  The gradient rows of chunk I are tree-summed from the
    pair tasks that involve I.  Conventions (coincident projected points, the gradient
    at an isometry) as :func:`alignxpert_fast.stress_and_grad`.
    """
    return _graph(X, Z, True, backend, n_threads, split_every)
