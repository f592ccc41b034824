"""The AlignXpert objective and its analytic gradient (no autodiff).

For modalities m = 1..M (M >= 2) with features ``F_m = Phi_m(X_m)`` of shape (n, p_m) and
projections ``W_m`` of shape (p_m, k), ``Z_m = F_m W_m`` and

    L(W) = - sum_{m<l} S(Z_m, Z_l) + lam * sum_m ||W_m||_F^2 + alpha * sum_m stress(X_m, Z_m)

where ``stress`` is :func:`alignxpert_fast.stress` (normalized stress between the rows of
X_m and of Z_m) and S is a kernel similarity of paired rows:

``similarity="paired"`` (the paper)
    ``S = (1/n) sum_i kappa(z_mi, z_li)``.
``similarity="contrastive"`` (kernel InfoNCE, symmetric)
    with logits ``s_ij = kappa(z_mi, z_lj) / temperature``,
    ``S = -(1/2n) sum_i [lse_j(s_ij) - s_ii] - (1/2n) sum_j [lse_i(s_ij) - s_jj]``,
    i.e. minus the mean of the two cross-entropies "row i of Z_m picks row i of Z_l" and
    back.  The n x n kernel matrix is computed in row blocks with our Gram kernels and
    never materialized (two passes: the row and column log-sum-exps, then the gradient).

kappa is one of ``"rbf"`` ``exp(-gamma ||a - b||^2)``, ``"cosine"``, ``"poly"``
``(gamma a.b + coef0)^degree`` and ``"linear"`` ``a.b``.

Boundedness.  With rbf or cosine, S is bounded, so the loss is bounded below, and the
contrastive S is at most 0 for every kernel.  The *paired* linear and polynomial
similarities are not: ``-S`` decreases without bound as the projections grow, faster
than ``lam ||W||^2`` (linear: unless ``lam`` exceeds half the largest eigenvalue of the
off-diagonal cross-covariance block matrix of the features; poly with degree >= 2:
always), and the stress term only grows linearly with the scale.  Use them in the paired
mode only with a large enough ``lam`` (linear), or in the contrastive mode.  The
optimizers stop on a non-finite loss and keep the best state.

Gradients.  With ``G_ij = dS/dkappa_ij`` (paired: ``G = I / n``; contrastive:
``G = -(P + Q - 2 I) / (2 n temperature)`` with P, Q the row and column softmaxes), the
gradient with respect to ``Z`` is the kernel's chain rule applied blockwise
(``_kernel_backprop``), the stress gradient comes from
:func:`alignxpert_fast.stress_and_grad`, and ``dL/dW_m = F_m^T dL/dZ_m + 2 lam W_m``.

Memory: O(n (p + k)) per modality, plus for the contrastive mode
``O(block_rows * n)`` float64 scratch (block_rows from ``working_memory``), plus the
stress scratch of :func:`alignxpert_fast.stress_and_grad`, plus (full batch, when it
fits, see ``stress_cache``) one cache of about ``n^2 / 2`` distances per modality.
"""
from __future__ import annotations

import numpy as np

from ._config import get_config
from ._validation import check_finite, check_matrix, check_scalar, result_dtype
from .kernels import cosine_similarity, linear_kernel, rbf_kernel
from ._common import kernel_params
from ._threads import blas_threads
from .stress import StressCache, stress_and_grad

__all__ = [
    "AlignXpertObjective",
    "alignxpert_loss",
    "alignxpert_loss_and_grad",
    "paired_similarity_and_grad",
    "contrastive_similarity_and_grad",
    "SIMILARITIES",
    "SIMILARITY_KERNELS",
    "RowMap",
]

SIMILARITIES = ("paired", "contrastive")
_KERNEL_ALIASES = {"rbf": "rbf", "cosine": "cosine", "poly": "poly", "polynomial": "poly", "linear": "linear"}
SIMILARITY_KERNELS = tuple(sorted(_KERNEL_ALIASES))


def check_similarity(similarity):
    if not isinstance(similarity, str) or similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {list(SIMILARITIES)}, got {similarity!r}")
    return similarity


def check_similarity_kernel(kernel):
    if not isinstance(kernel, str) or kernel not in _KERNEL_ALIASES:
        raise ValueError(f"kernel must be one of {list(SIMILARITY_KERNELS)}, got {kernel!r}")
    return _KERNEL_ALIASES[kernel]


def _kernel_params(kernel, gamma, degree, coef0):
    if kernel in ("rbf", "poly") and gamma is None:
        raise ValueError(f"gamma must be given (a positive float) for the {kernel!r} similarity kernel")
    p = kernel_params(kernel, 1, gamma=gamma, degree=degree, coef0=coef0)
    return p["gamma"], p["degree"], p["coef0"]


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
    kernel = check_similarity_kernel(kernel)
    gamma, degree, coef0 = _kernel_params(kernel, gamma, degree, coef0)
    dtype = result_dtype(A, B)
    a = np.asarray(A, dtype=np.float64)
    b = np.asarray(B, dtype=np.float64)
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


# ---------------------------------------------------------------------- contrastive
def _kernel_block(kernel, A, B, gamma, degree, coef0, n_threads, backend):
    """K(A, B) as float64 and the auxiliary array the backward pass needs."""
    kw = dict(n_threads=n_threads, backend=backend)
    if kernel == "rbf":
        return rbf_kernel(A, B, gamma=gamma, **kw).astype(np.float64, copy=False), None
    if kernel == "cosine":
        return cosine_similarity(A, B, **kw).astype(np.float64, copy=False), None
    lin = linear_kernel(A, B, **kw).astype(np.float64, copy=False)
    if kernel == "linear":
        return lin, None
    base = gamma * lin + coef0
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
    kernel = check_similarity_kernel(kernel)
    gamma, degree, coef0 = _kernel_params(kernel, gamma, degree, coef0)
    temperature = check_scalar(temperature, "temperature", lower=0, include_lower=False)
    dtype = result_dtype(A, B)
    A = np.ascontiguousarray(A, dtype=dtype)
    B = np.ascontiguousarray(B, dtype=dtype)
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


# ------------------------------------------------------------------------ objective
class RowMap:
    """Rows computed on demand: ``R[rows] == fn(X[rows])``, an (n, n_features) matrix
    that is never formed as a whole unless asked (``R[:]``).

    The minibatch solver reads only sampled rows, so the estimator hands the objective
    RowMaps (input scaling, Nyström map) instead of scaled / mapped copies of a large X:
    memory stays at the inputs plus O(batch) whatever n is.

    Parameters
    ----------
    X : ndarray (n, d), already validated
    fn : callable, (b, d) array -> (b, n_features) array
    n_features : int
    dtype : numpy dtype of the rows returned
    """

    def __init__(self, X, fn, n_features, dtype, name="RowMap"):
        self.X = X
        self.fn = fn
        self.shape = (int(X.shape[0]), int(n_features))
        self.dtype = np.dtype(dtype)
        self.name = name

    def __getitem__(self, rows):
        out = np.ascontiguousarray(self.fn(self.X[rows]), dtype=self.dtype)
        if out.ndim != 2 or out.shape[1] != self.shape[1]:
            raise ValueError(f"{self.name}: its function returned shape {out.shape}, expected (rows, "
                             f"{self.shape[1]})")
        check_finite(out, self.name)
        return out

    def __repr__(self):
        return f"RowMap(shape={self.shape}, dtype={self.dtype.name})"


def _check_rows_input(F, name, dtype):
    if isinstance(F, RowMap):
        if F.dtype != dtype:
            raise TypeError(f"{name} is a RowMap of dtype {F.dtype}, expected {dtype}")
        F.name = name
        return F
    return check_matrix(F, name, dtype=dtype, min_rows=2)


def _full(F):
    return F[:] if isinstance(F, RowMap) else F


class AlignXpertObjective:
    """Value and analytic gradient of the AlignXpert loss over ``[W_1, ..., W_M]``.

    Parameters
    ----------
    features : list of M >= 2 arrays (or :class:`RowMap`) of shape (n, p_m)
        ``Phi_m(X_m)`` (already scaled / mapped).  A RowMap is evaluated on the sampled
        rows only (minibatches); a full-batch evaluation forms it whole each time.  float32 everywhere keeps the
        computation in float32 (sums in float64); anything else computes in float64.
    stress_targets : list of M arrays of shape (n, d_m), optional
        The (scaled) inputs X_m whose pairwise distances the stress compares with Z_m's.
        Required when ``alpha > 0``; ignored when ``alpha == 0``.
    similarity : {"paired", "contrastive"}
    kernel : {"rbf", "cosine", "poly", "linear"}
    gamma, degree, coef0 : similarity kernel parameters (gamma required for rbf/poly)
    temperature : float > 0, contrastive only
    alpha : float >= 0, weight of the stress term
    lam : float >= 0, weight of ``sum_m ||W_m||_F^2``
    stress_cache : {"auto", True, False}, default="auto"
        Full-batch evaluations (``rows=None``) with ``alpha > 0`` can keep each
        modality's pairwise distances in a :class:`alignxpert_fast.StressCache` (built at
        the first full-batch evaluation; about ``n^2 / 2`` entries each), which cuts the
        stress cost from ``n^2 (d_m / 2 + 1.5 k)`` to ``1.5 n^2 k`` multiply-adds.
        "auto" caches when all caches together fit in ``32 * working_memory`` MiB
        (2 GiB with the default ``working_memory=64``; n = 10000 float32 takes 196 MiB
        per modality).  Minibatch evaluations never use the cache.
    block_rows, n_threads, backend : passed to the blockwise kernels.  The objective's own
        NumPy products (``F_m W_m``, ``F_m^T G``) run on one BLAS thread: they are small next
        to the kernels, and BLAS threads that keep spinning after a product would compete
        with the kernels' OpenMP threads for the cores.

    The loss terms of the last evaluation are in ``last_terms`` (a dict with
    ``loss``, ``similarity`` = sum_{m<l} S, ``stress`` = sum_m stress_m,
    ``penalty`` = sum_m ||W_m||^2).
    """

    def __init__(self, features, stress_targets=None, *, similarity="paired", kernel="rbf", gamma=None, degree=3,
                 coef0=1.0, temperature=0.1, alpha=0.1, lam=1e-3, stress_cache="auto", block_rows=None,
                 n_threads=None, backend="auto"):
        if not isinstance(features, (list, tuple)):
            raise TypeError(f"features must be a list of arrays (one per modality), got {type(features).__name__}")
        if len(features) < 2:
            raise ValueError(f"the objective needs at least two modalities, got {len(features)}")
        self.similarity = check_similarity(similarity)
        self.kernel = check_similarity_kernel(kernel)
        self.gamma, self.degree, self.coef0 = _kernel_params(self.kernel, gamma, degree, coef0)
        self.temperature = check_scalar(temperature, "temperature", lower=0, include_lower=False)
        self.alpha = check_scalar(alpha, "alpha", lower=0)
        self.lam = check_scalar(lam, "lam", lower=0)
        self.block_rows = block_rows
        self.n_threads = n_threads
        self.backend = backend
        self.dtype = result_dtype(*features)
        self.features = [_check_rows_input(F, f"features[{m}]", self.dtype) for m, F in enumerate(features)]
        n = self.features[0].shape[0]
        for m, F in enumerate(self.features):
            if F.shape[0] != n:
                raise ValueError(
                    f"every modality needs the same number of rows (row i of each is the same item); "
                    f"features[0] has {n} rows, features[{m}] has {F.shape[0]}"
                )
        self.n_samples = n
        if self.alpha > 0:
            if stress_targets is None or len(stress_targets) != len(self.features):
                raise ValueError("stress_targets must be a list with one array per modality when alpha > 0")
            self.stress_targets = [_check_rows_input(X, f"stress_targets[{m}]", self.dtype)
                                   for m, X in enumerate(stress_targets)]
            for m, X in enumerate(self.stress_targets):
                if X.shape[0] != n:
                    raise ValueError(f"stress_targets[{m}] has {X.shape[0]} rows, expected {n}")
        else:
            self.stress_targets = None
        if isinstance(stress_cache, (bool, np.bool_)):
            stress_cache = bool(stress_cache)
        elif not (isinstance(stress_cache, str) and stress_cache == "auto"):
            raise ValueError(f"stress_cache must be 'auto', True or False, got {stress_cache!r}")
        self.stress_cache = stress_cache
        self._caches = None
        self.last_terms = None

    def _use_cache(self):
        if self.stress_targets is None or self.stress_cache is False:
            return False
        if self.stress_cache == "auto":
            need = sum(StressCache.estimate_nbytes(self.n_samples, self.dtype) for _ in self.stress_targets)
            return need <= 32 * get_config()["working_memory"] * 2**20
        return True

    def stress_caches(self):
        """The per-modality :class:`StressCache` list used by full-batch evaluations
        (built on first use), or None when the cache is off or does not fit."""
        if self._caches is None and self._use_cache():
            self._caches = [StressCache(_full(X), n_threads=self.n_threads, backend=self.backend)
                            for X in self.stress_targets]
        return self._caches

    @property
    def n_modalities(self):
        return len(self.features)

    def shapes(self, k):
        return [(F.shape[1], int(k)) for F in self.features]

    # ---- packing for scipy
    def pack(self, Ws):
        return np.concatenate([np.asarray(W, dtype=np.float64).ravel() for W in Ws])

    def unpack(self, w, k):
        Ws, o = [], 0
        for p, kk in self.shapes(k):
            Ws.append(np.ascontiguousarray(w[o:o + p * kk].reshape(p, kk), dtype=self.dtype))
            o += p * kk
        if o != w.size:
            raise ValueError(f"parameter vector has {w.size} entries, expected {o} for k={k}")
        return Ws

    def _check_params(self, Ws):
        if len(Ws) != self.n_modalities:
            raise ValueError(f"expected {self.n_modalities} projection matrices, got {len(Ws)}")
        out = []
        k = None
        for m, (W, F) in enumerate(zip(Ws, self.features)):
            W = np.ascontiguousarray(W, dtype=self.dtype)
            if W.ndim != 2 or W.shape[0] != F.shape[1]:
                raise ValueError(f"Ws[{m}] must have shape ({F.shape[1]}, k), got {W.shape}")
            if k is None:
                k = W.shape[1]
            elif W.shape[1] != k:
                raise ValueError(f"every W_m needs the same number of columns k; Ws[0] has {k}, Ws[{m}] has "
                                 f"{W.shape[1]}")
            out.append(W)
        return out

    def similarity_and_grad(self, A, B, compute_grad=True):
        """S(A, B) and its gradients for the configured similarity."""
        kw = dict(kernel=self.kernel, gamma=self.gamma, degree=self.degree, coef0=self.coef0,
                  compute_grad=compute_grad)
        if self.similarity == "paired":
            return paired_similarity_and_grad(A, B, **kw)
        return contrastive_similarity_and_grad(A, B, temperature=self.temperature, block_rows=self.block_rows,
                                               n_threads=self.n_threads, backend=self.backend, **kw)

    def value_and_grad(self, Ws, *, rows=None, compute_value=True):
        """Loss and its gradient with respect to each W_m.

        Parameters
        ----------
        Ws : list of M arrays of shape (p_m, k)
        rows : int array, optional
            Evaluate the objective on this subset of rows only (a minibatch: the
            similarity and the stress are those of the sub-sample).
        compute_value : bool, default=True
            Accepted for the (value, grad) convention; every term's value is a by-product
            of its gradient here, so the value is always computed.

        Returns
        -------
        value : float
        grads : list of M float64 arrays of shape (p_m, k)
        """
        Ws = self._check_params(Ws)
        caches = None
        if rows is None:
            caches = self.stress_caches()
            Fs = [_full(F) for F in self.features]
            Xs = None if (self.stress_targets is None or caches is not None) else [
                _full(X) for X in self.stress_targets]
        else:
            rows = np.asarray(rows)
            Fs = [F[rows] for F in self.features]
            Xs = None if self.stress_targets is None else [X[rows] for X in self.stress_targets]
        with np.errstate(over="ignore", invalid="ignore"), blas_threads(1):
            return self._value_and_grad(Ws, Fs, Xs, caches)

    def _value_and_grad(self, Ws, Fs, Xs, caches=None):
        Zs = [F @ W for F, W in zip(Fs, Ws)]
        def _usable(Z):
            # finite, and small enough that squared distances stay finite in Z's dtype
            if not np.isfinite(np.sum(Z, dtype=np.float64)):
                return False
            amax = float(np.max(np.abs(Z))) if Z.size else 0.0
            return amax <= np.sqrt(np.finfo(Z.dtype).max / (4.0 * max(Z.shape[1], 1)))

        if not all(_usable(Z) for Z in Zs):
            # diverged (e.g. an unbounded paired linear/poly similarity): report inf, the
            # optimizers stop and keep their best state
            self.last_terms = {"loss": np.inf, "similarity": np.nan, "stress": np.nan, "penalty": np.nan}
            return np.inf, [np.full(W.shape, np.nan) for W in Ws]
        gZ = [np.zeros(Z.shape, dtype=np.float64) for Z in Zs]
        sim_total = 0.0
        M = len(Zs)
        for m in range(M):
            for ell in range(m + 1, M):
                S, dA, dB = self.similarity_and_grad(Zs[m], Zs[ell])
                sim_total += S
                gZ[m] -= dA
                gZ[ell] -= dB
        stress_total = 0.0
        if self.alpha > 0:
            for m in range(M):
                if caches is not None:
                    s, g = caches[m].stress_and_grad(Zs[m])
                else:
                    s, g = stress_and_grad(Xs[m], Zs[m], n_threads=self.n_threads, backend=self.backend)
                stress_total += s
                gZ[m] += self.alpha * g
        penalty = 0.0
        grads = []
        for F, W, g in zip(Fs, Ws, gZ):
            W64 = W.astype(np.float64, copy=False)
            penalty += float(np.sum(W64 * W64))
            gW = (F.T @ g.astype(self.dtype, copy=False)).astype(np.float64, copy=False)
            grads.append(gW + (2.0 * self.lam) * W64)
        value = -sim_total + self.lam * penalty + self.alpha * stress_total
        self.last_terms = {"loss": value, "similarity": sim_total, "stress": stress_total, "penalty": penalty}
        return value, grads

    def fun(self, w, k, rows=None):
        """(value, flat float64 gradient) of the packed parameter vector (for SciPy)."""
        value, grads = self.value_and_grad(self.unpack(w, k), rows=rows)
        return value, self.pack(grads)


def alignxpert_loss_and_grad(Ws, features, stress_targets=None, **kwargs):
    """Functional form: ``(value, [dL/dW_m])``; keyword arguments as :class:`AlignXpertObjective`."""
    return AlignXpertObjective(features, stress_targets, **kwargs).value_and_grad(Ws)


def alignxpert_loss(Ws, features, stress_targets=None, **kwargs):
    """The AlignXpert loss value only (see :class:`AlignXpertObjective`)."""
    return alignxpert_loss_and_grad(Ws, features, stress_targets, **kwargs)[0]

