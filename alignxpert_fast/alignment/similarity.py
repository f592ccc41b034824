"""The similarity terms S(A, B) of the AlignXpert objective and their gradients.

``similarity="paired"`` (the paper)
    ``S = (1/n) sum_i kappa(a_i, b_i)``.
``similarity="contrastive"`` (kernel InfoNCE, symmetric)
    with logits ``s_ij = kappa(a_i, b_j) / temperature``,
    ``S = -(1/2n) sum_i [lse_j(s_ij) - s_ii] - (1/2n) sum_j [lse_i(s_ij) - s_jj]``,
    minus the mean of the two cross-entropies "row i of A picks row i of B" and back.

kappa is one of ``"rbf"`` ``exp(-gamma ||a - b||^2)``, ``"cosine"``, ``"poly"``
``(gamma a.b + coef0)^degree`` and ``"linear"`` ``a.b``.  Gradients: with
``G_ij = dS/dkappa_ij`` (paired: ``G = I / n``; contrastive:
``G = -(P + Q - 2 I) / (2 n temperature)``, P and Q the row and column softmaxes), the
kernel's chain rule applied blockwise (``_kernel_backprop``).  The Gram blocks come from
the backend seam (``kernels._plan.run_gram``), not the public functions: A and B are
arrays this module validated once.
"""
from __future__ import annotations

import numpy as np

from .._config import get_config
from .._utils.validation import check_scalar, result_dtype
from ..kernels._plan import run_gram
from ..kernels._spec import kernel_params
from ._params import check_param

__all__ = ["paired_similarity_and_grad", "contrastive_similarity_and_grad", "check_pair_rows", "similarity_params"]


def similarity_params(kernel, gamma, degree, coef0):
    """(internal kernel name, gamma, degree, coef0) of a similarity kernel; gamma is
    required for rbf and poly."""
    kernel = check_param("kernel", kernel)
    if kernel in ("rbf", "poly") and gamma is None:
        raise ValueError(f"gamma must be given (a positive float) for the {kernel!r} similarity kernel")
    p = kernel_params(kernel, 1, gamma=gamma, degree=degree, coef0=coef0)
    return kernel, p["gamma"], p["degree"], p["coef0"]


def check_pair_rows(A, B):
    """A and B as C-contiguous arrays of their result dtype; they must have the same shape
    (row i of A is paired with row i of B)."""
    dtype = result_dtype(A, B)
    A = np.ascontiguousarray(A, dtype=dtype)
    B = np.ascontiguousarray(B, dtype=dtype)
    if A.ndim != 2 or A.shape != B.shape:
        raise ValueError(f"A and B must be 2-D arrays of the same shape (n, k), row i of A paired with row i of B; "
                         f"got A.shape={A.shape}, B.shape={B.shape}")
    return A, B, dtype


def _safe_inv_norms(A):
    nrm = np.sqrt(np.einsum("ij,ij->i", A, A, dtype=np.float64))
    inv = np.zeros_like(nrm)
    np.divide(1.0, nrm, out=inv, where=nrm > 0)
    return inv


# --------------------------------------------------------------------------- paired
def paired_similarity_and_grad(A, B, *, kernel="rbf", gamma=None, degree=3, coef0=1.0, compute_grad=True):
    """Paired kernel similarity ``S = (1/n) sum_i kappa(a_i, b_i)`` and its gradients.

    Parameters
    ----------
    A, B : ndarray of shape (n, k), float32 or float64
    kernel : {"rbf", "cosine", "poly", "linear"}
    gamma : float > 0, required for rbf and poly; degree, coef0 for poly.

    Returns
    -------
    S : float (accumulated in float64)
    dA, dB : ndarray of shape (n, k) in the result dtype (None if not compute_grad)

    Memory: O(n k) (float64 work copies).  Rows of zero norm have cosine 0 and no gradient.
    """
    kernel, gamma, degree, coef0 = similarity_params(kernel, gamma, degree, coef0)
    A, B, dtype = check_pair_rows(A, B)
    a = A.astype(np.float64, copy=False)
    b = B.astype(np.float64, copy=False)
    n = a.shape[0]
    dA = dB = None
    if kernel == "rbf":
        diff = a - b
        kap = np.exp(-gamma * np.einsum("ij,ij->i", diff, diff))
        if compute_grad:
            h = (-2.0 * gamma / n) * kap
            dA = h[:, None] * diff
            dB = -dA
    elif kernel in ("linear", "poly"):
        dot = np.einsum("ij,ij->i", a, b)
        if kernel == "linear":
            kap = dot
            t = np.full(n, 1.0 / n)
        else:
            base = gamma * dot + coef0
            kap = base**degree
            t = (degree * gamma / n) * base ** (degree - 1)
        if compute_grad:
            dA = t[:, None] * b
            dB = t[:, None] * a
    else:  # cosine
        ia, ib = _safe_inv_norms(a), _safe_inv_norms(b)
        ah, bh = a * ia[:, None], b * ib[:, None]
        kap = np.einsum("ij,ij->i", ah, bh)
        if compute_grad:
            dA = ((bh - kap[:, None] * ah) * ia[:, None]) / n
            dB = ((ah - kap[:, None] * bh) * ib[:, None]) / n
    S = float(np.sum(kap) / n)
    if compute_grad:
        dA, dB = dA.astype(dtype, copy=False), dB.astype(dtype, copy=False)
    return S, dA, dB


def _kernel_block(kernel, A, B, gamma, degree, coef0, n_threads, backend):
    """K(A, B) as float64 and the auxiliary array the backward pass needs."""
    inner = "linear" if kernel == "poly" else kernel
    params = {"gamma": gamma if kernel == "rbf" else 1.0, "degree": 1, "coef0": 0.0}
    K = np.empty((A.shape[0], B.shape[0]), dtype=A.dtype)
    run_gram(inner, A, B, K, False, params, backend, n_threads, None, None)
    K = K.astype(np.float64, copy=False)
    if kernel != "poly":
        return K, None
    base = gamma * K + coef0
    return base**degree, base


def _kernel_backprop(kernel, G, K, aux, A, B, gamma, degree):
    """``dA_i = sum_j G_ij dkappa(a_i, b_j)/da_i`` and ``dB_j = sum_i G_ij dkappa/db_j``.

    G, K, aux: (b, m) float64; A: (b, k); B: (m, k).  Returns float64 arrays.
    """
    if kernel in ("linear", "poly"):
        T = G if kernel == "linear" else G * ((degree * gamma) * aux ** (degree - 1))
        return T @ B, T.T @ A
    H = G * K
    if kernel == "rbf":
        dA = (-2.0 * gamma) * (H.sum(axis=1)[:, None] * A - H @ B)
        dB = (-2.0 * gamma) * (H.sum(axis=0)[:, None] * B - H.T @ A)
        return dA, dB
    ia, ib = _safe_inv_norms(A), _safe_inv_norms(B)
    Ah, Bh = A * ia[:, None], B * ib[:, None]
    dA = (G @ Bh - H.sum(axis=1)[:, None] * Ah) * ia[:, None]
    dB = (G.T @ Ah - H.sum(axis=0)[:, None] * Bh) * ib[:, None]
    return dA, dB


def _contrastive_block_rows(n, block_rows):
    if block_rows is not None:
        return check_scalar(block_rows, "block_rows", lower=1, integer=True)
    # about six float64 (b, n) arrays live at once
    budget = get_config()["working_memory"] * 2**20
    return int(max(16, min(n, budget // max(1, 6 * 8 * n))))


def contrastive_similarity_and_grad(A, B, *, kernel="rbf", gamma=None, degree=3, coef0=1.0, temperature=0.1,
                                    compute_grad=True, block_rows=None, n_threads=None, backend="auto"):
    """Symmetric kernel InfoNCE similarity of paired rows (see module docstring).

    Parameters
    ----------
    A, B : ndarray of shape (n, k); row i of A is paired with row i of B.
    kernel, gamma, degree, coef0 : the similarity kernel kappa.
    temperature : float > 0
        Logits are ``kappa / temperature``.
    block_rows : int, optional
        Rows of A per block; default from ``working_memory`` (about six float64
        (block_rows, n) arrays at once).
    n_threads, backend : passed to the Gram kernels.

    Returns
    -------
    S : float
        ``-(mean row cross-entropy + mean column cross-entropy) / 2``; at most 0,
        ``-log n`` when all logits are equal.
    dA, dB : ndarray of shape (n, k) in the result dtype (None if not compute_grad)

    Memory: O(block_rows * n) float64 scratch plus O(n k); never an n x n array unless
    it fits in one block.  The kernel blocks are computed twice (two passes) unless the
    whole matrix fits in ``working_memory``.
    """
    kernel, gamma, degree, coef0 = similarity_params(kernel, gamma, degree, coef0)
    temperature = check_param("temperature", temperature)
    A, B, dtype = check_pair_rows(A, B)
    n = A.shape[0]
    br = _contrastive_block_rows(n, block_rows)
    inv_t = 1.0 / temperature
    starts = list(range(0, n, br))
    cache = [] if len(starts) == 1 else None
    row_lse = np.empty(n)
    diag = np.empty(n)
    col_max = np.full(n, -np.inf)
    col_sum = np.zeros(n)
    # pass 1: row log-sum-exps, diagonal logits, streaming column log-sum-exps
    for s in starts:
        e = min(n, s + br)
        K, aux = _kernel_block(kernel, A[s:e], B, gamma, degree, coef0, n_threads, backend)
        if cache is not None:
            cache.append((K, aux))
        S = K * inv_t
        r = np.arange(e - s)
        diag[s:e] = S[r, s + r]
        m = S.max(axis=1)
        row_lse[s:e] = m + np.log(np.exp(S - m[:, None]).sum(axis=1))
        new_max = np.maximum(col_max, S.max(axis=0))
        col_sum = col_sum * np.exp(col_max - new_max) + np.exp(S - new_max[None, :]).sum(axis=0)
        col_max = new_max
    col_lse = col_max + np.log(col_sum)
    value = -(float(np.sum(row_lse - diag)) + float(np.sum(col_lse - diag))) / (2.0 * n)
    if not compute_grad:
        return value, None, None
    # pass 2: G = dS/dkappa = -(P + Q - 2 I) / (2 n temperature), then the kernel chain rule
    dA = np.empty((n, A.shape[1]), dtype=np.float64)
    dB = np.zeros((n, B.shape[1]), dtype=np.float64)
    scale = -1.0 / (2.0 * n * temperature)
    for bi, s in enumerate(starts):
        e = min(n, s + br)
        if cache is not None:
            K, aux = cache[bi]
        else:
            K, aux = _kernel_block(kernel, A[s:e], B, gamma, degree, coef0, n_threads, backend)
        S = K * inv_t
        G = np.exp(S - row_lse[s:e, None])
        G += np.exp(S - col_lse[None, :])
        r = np.arange(e - s)
        G[r, s + r] -= 2.0
        G *= scale
        a_blk = A[s:e].astype(np.float64, copy=False)
        gA, gB = _kernel_backprop(kernel, G, K, aux, a_blk, B.astype(np.float64, copy=False), gamma, degree)
        dA[s:e] = gA
        dB += gB
    return value, dA.astype(dtype, copy=False), dB.astype(dtype, copy=False)
