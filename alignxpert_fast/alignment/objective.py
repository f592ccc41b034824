"""The AlignXpert objective and its analytic gradient (no autodiff).

For modalities m = 1..M (M >= 2) with features ``F_m = Phi_m(X_m)`` of shape (n, p_m) and
projections ``W_m`` of shape (p_m, k), ``Z_m = F_m W_m`` and

    L(W) = - sum_{m<l} S(Z_m, Z_l) + lam * sum_m ||W_m||_F^2 + alpha * sum_m stress(X_m, Z_m)

with S a similarity term of :mod:`.similarity` and ``stress`` the normalized stress of
:func:`alignxpert_fast.stress`.  ``dL/dW_m = F_m^T dL/dZ_m + 2 lam W_m``.  Which
similarity / kernel pairs are bounded below is discussed in ``docs/method.rst``; the
optimizers stop on a non-finite loss and keep the best state.

Memory: O(n (p + k)) per modality, plus the similarity's and the stress's blockwise
scratch, plus (full batch, when it fits, see ``stress_cache``) one cache of about
``n^2 / 2`` distances per modality.
"""
from __future__ import annotations

import numpy as np

from .._config import get_config
from .._utils.threads import effective_n_threads, single_threaded_blas
from .._utils.validation import result_dtype
from ..kernels._dispatch import resolve_backend
from ..kernels.stress import StressCache, stress_and_grad
from ._params import check_param
from .rowmap import RowMap, check_rows_input, full_rows, rows_dot, rows_tdot
from ..kernels._backends._layout import NonFiniteLogits
from .similarity import contrastive_core, paired_similarity_and_grad, similarity_params

__all__ = ["AlignXpertObjective", "alignxpert_loss", "alignxpert_loss_and_grad"]


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
    stress_kind : {"kruskal", "squared", "relative"}, default="kruskal"
        ``"kruskal"``: the paper's normalized stress (a square root, so it has a kink at
        zero stress); ``"squared"``: its square (smooth; the same minimizers at zero);
        ``"relative"``: every pair's distortion relative to its length,
        ``sqrt(mean_{i<j} ((D_ij - E_ij) / D_ij)^2)`` (:func:`alignxpert_fast.stress` with
        ``relative=True``), which keeps near pairs (neighbourhoods) as much as far ones.
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
                 coef0=1.0, temperature=0.1, alpha=0.1, lam=1e-3, stress_kind="kruskal", stress_cache="auto",
                 block_rows=None, n_threads=None, backend="auto"):
        if not isinstance(features, (list, tuple)):
            raise TypeError(f"features must be a list of arrays (one per modality), got {type(features).__name__}")
        if len(features) < 2:
            raise ValueError(f"the objective needs at least two modalities, got {len(features)}")
        self.similarity = check_param("similarity", similarity)
        self.kernel, self.gamma, self.degree, self.coef0 = similarity_params(kernel, gamma, degree, coef0)
        self.temperature = check_param("temperature", temperature)
        self.alpha = check_param("alpha", alpha)
        self.lam = check_param("lam", lam)
        self.stress_kind = check_param("stress", stress_kind)
        self.block_rows = block_rows
        self.n_threads = n_threads
        self.backend = backend
        self.dtype = result_dtype(*features)
        self.features = [check_rows_input(F, f"features[{m}]", self.dtype) for m, F in enumerate(features)]
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
            self.stress_targets = [check_rows_input(X, f"stress_targets[{m}]", self.dtype)
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
            self._caches = [StressCache(full_rows(X), n_threads=self.n_threads, backend=self.backend)
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

    def _products(self):
        """(the backend's threaded ``matmul`` or None, threads) for the feature products."""
        if not hasattr(self, "_matmul"):
            self._matmul = getattr(resolve_backend(self.backend), "matmul", None)
        return self._matmul, effective_n_threads(self.n_threads)

    def similarity_and_grad(self, A, B, compute_grad=True):
        """S(A, B) and its gradients for the configured similarity."""
        kw = dict(kernel=self.kernel, gamma=self.gamma, degree=self.degree, coef0=self.coef0,
                  compute_grad=compute_grad)
        if self.similarity == "paired":
            return paired_similarity_and_grad(A, B, **kw)
        # Z_m were formed and checked (finite, bounded) by the objective: no re-validation
        return contrastive_core(A, B, self.kernel, self.gamma, self.degree, self.coef0, self.temperature,
                                compute_grad=compute_grad, block_rows=self.block_rows, n_threads=self.n_threads,
                                backend=self.backend)

    def value_and_grad(self, Ws, *, rows=None):
        """Loss and its gradient with respect to each W_m.

        Parameters
        ----------
        Ws : list of M arrays of shape (p_m, k)
        rows : int array, optional
            Evaluate the objective on this subset of rows only (a minibatch: the
            similarity and the stress are those of the sub-sample).

        Returns
        -------
        value : float
        grads : list of M float64 arrays of shape (p_m, k)
        """
        Ws = self._check_params(Ws)
        caches = None
        if rows is None:
            caches = self.stress_caches()
            Fs = [full_rows(F) for F in self.features]
            Xs = None if (self.stress_targets is None or caches is not None) else [
                full_rows(X) for X in self.stress_targets]
        else:
            rows = np.asarray(rows)
            Fs = [F.batch(rows) if isinstance(F, RowMap) else F[rows] for F in self.features]
            Xs = None if self.stress_targets is None else [X[rows] for X in self.stress_targets]
        # one BLAS thread, re-entrant: inside a fit (already limited) this costs a counter
        with np.errstate(over="ignore", invalid="ignore"), single_threaded_blas():
            return self._value_and_grad(Ws, Fs, Xs, caches)

    def _value_and_grad(self, Ws, Fs, Xs, caches=None):
        matmul, nt = self._products()
        Zs = [rows_dot(F, W, matmul, nt) for F, W in zip(Fs, Ws)]
        def _usable(Z):
            # finite, and small enough that squared distances stay finite in Z's dtype
            # (max and min propagate NaN, and the comparison with NaN is False)
            amax = max(float(Z.max()), -float(Z.min())) if Z.size else 0.0
            return amax <= np.sqrt(np.finfo(Z.dtype).max / (4.0 * max(Z.shape[1], 1)))

        def _diverged():
            # diverged (e.g. an unbounded paired linear/poly similarity, or contrastive
            # logits that overflow): report inf, the optimizers stop and keep their best state
            self.last_terms = {"loss": np.inf, "similarity": np.nan, "stress": np.nan, "penalty": np.nan}
            return np.inf, [np.full(W.shape, np.nan) for W in Ws]

        if not all(_usable(Z) for Z in Zs):
            return _diverged()
        # dL/dZ_m, summed in Z's dtype (the similarity and stress kernels return it; the
        # feature products below take it): a few terms per modality, no float64 round trip
        gZ = [None] * len(Zs)

        def add(m, term, weight):
            if gZ[m] is None:
                gZ[m] = np.multiply(term, weight, dtype=self.dtype)
            else:
                gZ[m] += np.multiply(term, weight, dtype=self.dtype)

        sim_total = 0.0
        M = len(Zs)
        for m in range(M):
            for ell in range(m + 1, M):
                try:
                    S, dA, dB = self.similarity_and_grad(Zs[m], Zs[ell])
                except NonFiniteLogits:
                    return _diverged()
                sim_total += S
                add(m, dA, -1.0)
                add(ell, dB, -1.0)
        stress_total = 0.0
        if self.alpha > 0:
            relative = self.stress_kind == "relative"
            for m in range(M):
                if caches is not None:  # Z_m formed and checked above: no re-validation
                    s, g = caches[m].stress_and_grad_checked(Zs[m], relative)
                else:
                    s, g = stress_and_grad(Xs[m], Zs[m], relative=relative, n_threads=self.n_threads,
                                           backend=self.backend)
                if self.stress_kind == "squared":
                    g = (2.0 * s) * g
                    s = s * s
                stress_total += s
                add(m, g, self.alpha)
        penalty = 0.0
        grads = []
        for F, W, g in zip(Fs, Ws, gZ):
            W64 = W.astype(np.float64, copy=False)
            penalty += float(np.dot(W64.ravel(), W64.ravel()))
            gW = rows_tdot(F, g, matmul, nt).astype(np.float64, copy=False)
            gW += (2.0 * self.lam) * W64
            grads.append(gW)
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

