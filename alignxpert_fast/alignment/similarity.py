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
kernel's chain rule (paired: in NumPy here; contrastive: the backends' fused two-pass
``contrastive`` kernel, reached through the backend seam, never an n x n array; the
NumPy specification is ``kernels._backends.reference.contrastive``).  A and B are
validated once here.
"""
from __future__ import annotations

import numpy as np

from .._utils.validation import check_matrix, result_dtype
from ..kernels._plan import center_pair, contrastive_plan, resolve_run
from ..kernels._spec import SPECS, kernel_params
from ._params import check_param

__all__ = ["paired_similarity_and_grad", "contrastive_similarity_and_grad", "contrastive_core", "check_pair_rows",
           "similarity_params"]


def similarity_params(kernel, gamma, degree, coef0):
    """(internal kernel name, gamma, degree, coef0) of a similarity kernel; gamma is
    required for rbf and poly."""
    kernel = check_param("kernel", kernel)
    if kernel in ("rbf", "poly") and gamma is None:
        raise ValueError(f"gamma must be given (a positive float) for the {kernel!r} similarity kernel")
    p = kernel_params(kernel, 1, gamma=gamma, degree=degree, coef0=coef0)
    return kernel, p["gamma"], p["degree"], p["coef0"]


def check_pair_rows(A, B):
    """A and B validated (2-D, finite, C-contiguous, their result dtype) with the same shape:
    row i of A is paired with row i of B."""
    dtype = result_dtype(A, B)
    A = check_matrix(A, "A", dtype=dtype)
    B = check_matrix(B, "B", dtype=dtype)
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape (row i of A is paired with row i of B); got "
                         f"A.shape={A.shape}, B.shape={B.shape}")
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


def contrastive_similarity_and_grad(A, B, *, kernel="rbf", gamma=None, degree=3, coef0=1.0, temperature=0.1,
                                    compute_grad=True, block_rows=None, block_cols=None, n_threads=None,
                                    backend="auto"):
    """Symmetric kernel InfoNCE similarity of paired rows (see module docstring).

    Parameters
    ----------
    A, B : ndarray of shape (n, k), the same shape; row i of A is paired with row i of B.
    kernel, gamma, degree, coef0 : the similarity kernel kappa.
    temperature : float > 0
        Logits are ``kappa / temperature``.
    block_rows, block_cols : int, optional
        Tile shape (default: at most 256 x 1024, within ``working_memory``); the result
        does not depend on it beyond rounding.
    n_threads, backend : as for the kernels (``backend="reference"`` is the NumPy
        specification, ``alignxpert_fast.kernels._backends.reference.contrastive``).

    Returns
    -------
    S : float
        ``-(mean row cross-entropy + mean column cross-entropy) / 2``; at most 0,
        ``-log n`` when all logits are equal.
    dA, dB : ndarray of shape (n, k) in the result dtype (None if not compute_grad)

    Raises
    ------
    ValueError
        For mismatched shapes or non-finite inputs, and (the subclass
        ``kernels._backends._layout.NonFiniteLogits``) when the logits overflow the dtype.

    Accuracy: float64 about 1e-12 relative; float32 tiles (logits and exponentials in
    float32, maxima, log-sum-exps and sums in float64) about 1e-5 of the gradient's scale.
    Memory: O(n k) plus per thread one tile and one float64 (n, k) accumulator for dB;
    never an n x n array.  Two passes over the tiles (one without the gradient).
    """
    kernel, gamma, degree, coef0 = similarity_params(kernel, gamma, degree, coef0)
    temperature = check_param("temperature", temperature)
    A, B, _ = check_pair_rows(A, B)
    return contrastive_core(A, B, kernel, gamma, degree, coef0, temperature, compute_grad=compute_grad,
                            block_rows=block_rows, block_cols=block_cols, n_threads=n_threads, backend=backend)


def contrastive_core(A, B, kernel, gamma, degree, coef0, temperature, *, compute_grad=True, block_rows=None,
                     block_cols=None, n_threads=None, backend="auto"):
    """:func:`contrastive_similarity_and_grad` on arrays and parameters already checked (the
    objective's own Z_m: C-contiguous, one float dtype, same shape, finite): plan, call the
    backend, return ``(value, dA, dB)``."""
    if SPECS[kernel].translation_invariant:  # center in float64 against float32 cancellation
        A, B = center_pair(A, B, False)
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    n, k = A.shape
    nt, br, bc = contrastive_plan(n, k, A.dtype.itemsize, nt, br, bc, compute_grad)
    dA = np.empty(A.shape, dtype=A.dtype) if compute_grad else None
    dB = np.empty(A.shape, dtype=A.dtype) if compute_grad else None
    value = mod.contrastive(kernel, A, B, dA, dB, gamma=gamma, coef0=coef0, degree=degree, temperature=temperature,
                            n_threads=nt, block_rows=br, block_cols=bc)
    return float(value), dA, dB
