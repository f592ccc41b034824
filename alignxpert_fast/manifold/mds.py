"""Metric multidimensional scaling on the stress kernel: :class:`MDS`."""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._utils.random import check_random_state
from .._utils.threads import single_threaded_blas
from .._utils.validation import check_dissimilarities, check_matrix, check_n_threads, check_scalar
from ..kernels.distances import euclidean_distances
from ..kernels.stress import StressCache
from . import _mds_init as init_
from ._mds_solvers import FeatureBatches, MatrixBatches, estimate_stress, fit_lbfgs, fit_sampled
from ._mds_transform import block_rows_for, place_block

__all__ = ["MDS"]

_METRICS = ("euclidean", "precomputed")


class MDS(TransformerMixin, BaseEstimator):
    """Metric multidimensional scaling by direct minimization of the normalized stress.

    scikit-learn's :class:`sklearn.manifold.MDS` interface (1.9) for metric MDS, solved
    with the analytic gradient of :func:`alignxpert_fast.stress` instead of SMACOF on
    n x n matrices, plus out-of-sample :meth:`transform`.

    **The objective.**  With dissimilarities ``D_ij`` (Euclidean distances of the rows of X,
    or precomputed) and embedding distances ``E_ij = ||z_i - z_j||``, MDS minimizes the
    normalized stress of :func:`alignxpert_fast.stress`::

        sigma(Z) = sqrt( sum_{i<j} (D_ij - E_ij)^2 / sum_{i<j} D_ij^2 )

    (normalized by the *dissimilarities*, so the denominator is a constant and minimizing
    sigma is minimizing scikit-learn's raw stress ``R = sum_{i<j} (D_ij - E_ij)^2``, the
    quantity SMACOF decreases).  scikit-learn's normalized stress (Kruskal's Stress-1,
    ``normalized_stress=True``) divides by the *embedding* distances instead:
    ``S1 = sqrt(R / sum_{i<j} E_ij^2)``.  At any minimizer (indeed wherever the stress is
    stationary with respect to the scale of Z) ``sum E^2 = sum D E``, hence
    ``R = sum D^2 - sum E^2`` and ``S1 = sigma / sqrt(1 - sigma^2)``: the two are
    monotone functions of each other there, so "lower sigma" and "lower Stress-1" agree.
    ``stress_`` follows scikit-learn (raw R, or S1 with ``normalized_stress=True``);
    ``sigma_`` is the minimized sigma.

    **Solvers.**  ``"lbfgs"`` (full batch): L-BFGS on ``sigma^2`` over a
    :class:`~alignxpert_fast.StressCache` (or ``StressCache.from_dissimilarities``), which
    holds about ``n (n + 256) / 2`` dissimilarities.  ``"sampled"``: epochs of random batches
    of ``batch_size`` points, each batch taking one SMACOF (Guttman) step on its own pairs,
    with a step factor decaying as ``1 / (1 + epoch / 10)``; memory O(n (d + k)); it
    minimizes an unbiased estimate of R and reports ``sigma_`` / ``stress_`` estimated from
    one pass of random batches (about ``n * batch_size / 2`` pairs; call
    :func:`alignxpert_fast.stress` for the exact value).  ``"auto"`` uses ``"lbfgs"`` when
    the cache fits in ``working_memory`` MiB, else ``"sampled"``.

    Parameters
    ----------
    n_components : int, default=2
    metric_mds : bool, default=True
        Only metric MDS is implemented (False raises; use scikit-learn's non-metric MDS).
    n_init : int, default=1
        Random starts (``init="random"`` only); the lowest stress wins.
    init : {"classical_mds", "random"}, default="classical_mds"
        ``"classical_mds"``: classical (Torgerson) MDS, i.e. PCA of X for Euclidean input,
        Lanczos on ``-1/2 J D^2 J`` through the cache for precomputed input; deterministic.
        ``"random"``: Gaussian points with the dissimilarities' mean squared distance.
        (scikit-learn 1.9 defaults to "random" and moves to "classical_mds" in 1.10.)
        An explicit array can be passed to :meth:`fit` as ``init=``.
    max_iter : int, default=300
        L-BFGS iterations ("lbfgs") or epochs ("sampled"); also the iteration cap of the
        one-point Guttman transform in :meth:`transform`.
    verbose : int, default=0
    eps : float, default=1e-6
        "lbfgs": stop when an iteration lowers sigma^2 by less than eps (scikit-learn stops
        when one lowers R / sum E^2 by less than eps, the same quantity at convergence).
        "sampled": stop when the epoch estimate of sigma^2 has not improved by eps for 3
        epochs.
    n_threads : int or None, default=None
        Threads of the stress kernels (scikit-learn's ``n_jobs``); None = all allowed.
    random_state : None, int or numpy.random.Generator, default=None
    metric : {"euclidean", "precomputed"}, default="euclidean"
        "precomputed": ``X`` in :meth:`fit` is a dense (n, n) dissimilarity matrix or a
        condensed vector (``scipy.spatial.distance.pdist``'s form; any other metric can be
        passed that way); in :meth:`transform`, an (m, n_fit) matrix of dissimilarities to
        the fitted points.
    normalized_stress : bool or "auto", default="auto"
        What ``stress_`` reports: raw stress (False, "auto" for metric MDS) or Stress-1.
    solver : {"auto", "lbfgs", "sampled"}, default="auto"
    batch_size : int, default=1024
        Points per batch of the sampled solver.
    working_memory : int, default=1024
        MiB the full-batch distance cache may take before "auto" switches to "sampled";
        also bounds the work arrays of :meth:`transform`.
    backend : {"auto", "native", "numba", "reference"}, default="auto"

    Attributes
    ----------
    embedding_ : ndarray (n_samples, n_components), centered, in X's float dtype
    stress_ : float, raw stress R or Stress-1 (see ``normalized_stress``)
    sigma_ : float, the normalized stress sigma that was minimized
    n_iter_ : int, iterations (epochs) of the best run
    solver_ : str, "lbfgs" or "sampled"
    n_features_in_ : int

    Threads: the stress kernels use ``n_threads``; BLAS is held at one thread during
    :meth:`fit` and :meth:`transform` (its calls here are small: L-BFGS updates, n x k
    products), since idle BLAS threads competing with the kernels cost more than they give.

    Memory: "lbfgs" about ``4 n (n + 256)`` bytes (float64; half in float32) for the cache
    plus O(n (d + k)); "sampled" O(n (d + k)) besides the input.  Unlike scikit-learn,
    no ``dissimilarity_matrix_`` (n x n) is kept; the training X (Euclidean) is kept by
    reference for :meth:`transform`.

    Examples
    --------
    >>> import numpy as np, alignxpert_fast as axf
    >>> X = np.random.default_rng(0).standard_normal((300, 10))
    >>> mds = axf.MDS(n_components=2, random_state=0).fit(X)
    >>> mds.embedding_.shape
    (300, 2)
    >>> bool(np.isclose(mds.sigma_, axf.stress(X, mds.embedding_)))
    True
    """

    def __init__(self, n_components=2, *, metric_mds=True, n_init=1, init="classical_mds", max_iter=300,
                 verbose=0, eps=1e-6, n_threads=None, random_state=None, metric="euclidean",
                 normalized_stress="auto", solver="auto", batch_size=1024, working_memory=1024, backend="auto"):
        self.n_components = n_components
        self.metric_mds = metric_mds
        self.n_init = n_init
        self.init = init
        self.max_iter = max_iter
        self.verbose = verbose
        self.eps = eps
        self.n_threads = n_threads
        self.random_state = random_state
        self.metric = metric
        self.normalized_stress = normalized_stress
        self.solver = solver
        self.batch_size = batch_size
        self.working_memory = working_memory
        self.backend = backend

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        check_scalar(self.n_components, "n_components", lower=1, integer=True)
        check_scalar(self.n_init, "n_init", lower=1, integer=True)
        check_scalar(self.max_iter, "max_iter", lower=1, integer=True)
        check_scalar(self.eps, "eps", lower=0)
        check_scalar(self.batch_size, "batch_size", lower=2, integer=True)
        check_scalar(self.working_memory, "working_memory", lower=0)
        check_n_threads(self.n_threads)
        if not isinstance(self.verbose, (numbers.Integral, bool)):
            raise TypeError(f"verbose must be an int or bool, got {self.verbose!r}")
        if self.metric_mds is not True:
            raise ValueError(f"metric_mds={self.metric_mds!r}: only metric MDS is implemented; use "
                             "sklearn.manifold.MDS(metric_mds=False) for non-metric MDS")
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be 'euclidean' or 'precomputed', got {self.metric!r}; for another metric "
                             "pass metric='precomputed' and scipy.spatial.distance.pdist(X, metric) (condensed)")
        for name, value, options in (("init", self.init, ("classical_mds", "random")),
                                     ("solver", self.solver, ("auto", "lbfgs", "sampled")),
                                     ("normalized_stress", self.normalized_stress, (True, False, "auto"))):
            if not any(value is o or (isinstance(o, str) and value == o) for o in options):
                raise ValueError(f"{name} must be one of {options}, got {value!r}")

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, init=None):
        """Fit the embedding of X; see :meth:`fit_transform`.  Returns self."""
        self.fit_transform(X, init=init)
        return self

    def fit_transform(self, X, y=None, init=None):
        """Compute the embedding of X and return it.

        Parameters
        ----------
        X : array-like (n_samples, n_features), or with ``metric="precomputed"`` an
            (n, n) dissimilarity matrix or a condensed vector of n (n - 1) / 2 entries.
        y : ignored
        init : array-like (n_samples, n_components), optional
            Starting configuration (overrides ``init`` and ``n_init``).

        Returns
        -------
        embedding_ : ndarray (n_samples, n_components)
        """
        self._check_params()
        with single_threaded_blas():  # L-BFGS and the small products: BLAS threads only add contention
            return self._fit(X, init)

    def _fit(self, X, init):
        k = int(self.n_components)
        rng = check_random_state(self.random_state)
        nt, be = self.n_threads, self.backend
        if self.metric == "euclidean":
            Xv = check_matrix(X, "X", min_rows=2)
            n, form = Xv.shape[0], None
            if Xv.shape[0] == Xv.shape[1]:
                warnings.warn("X is square: with metric='euclidean' its rows are samples and its columns features; "
                              "pass metric='precomputed' for a dissimilarity matrix", UserWarning, stacklevel=2)
        else:
            Xv, n, form = check_dissimilarities(X, "X")
        dtype = Xv.dtype
        solver = self.solver
        if solver == "auto":
            fits = StressCache.estimate_nbytes(n, dtype) <= self.working_memory * 2**20
            solver = "lbfgs" if fits else "sampled"
        if form is None:
            sum_sq = init_.sum_sq_features(Xv)
        else:
            sum_sq = 0.5 * float(np.square(Xv, dtype=np.float64).sum()) * (1.0 if form == "dense" else 2.0)
        if not sum_sq > 0:
            raise ValueError("X: all dissimilarities are 0 (all points coincide); MDS is undefined")
        cache = None
        if solver == "lbfgs":
            cache = (StressCache(Xv, backend=be, n_threads=nt) if form is None
                     else StressCache.from_dissimilarities(Xv, backend=be, n_threads=nt))
        starts = self._starts(init, Xv, form, cache, n, k, sum_sq, rng)
        best = None
        for Z0 in starts:
            if solver == "lbfgs":
                Z, sigma, n_iter = fit_lbfgs(cache, Z0, max_iter=self.max_iter, eps=self.eps, n_threads=nt,
                                             backend=be, verbose=self.verbose)
            else:
                batches = (FeatureBatches if form is None else MatrixBatches)(Xv, nt, be)
                bs = min(int(self.batch_size), n)
                Z, n_iter = fit_sampled(batches, Z0, max_iter=self.max_iter, eps=self.eps, batch_size=bs, rng=rng,
                                        verbose=self.verbose)
                sigma = estimate_stress(batches, Z, bs, rng)
            if best is None or sigma < best[1]:
                best = (Z, sigma, n_iter)
        Z, sigma, n_iter = best
        Z = Z - Z.mean(axis=0)
        raw = sigma * sigma * sum_sq
        normalized = self.normalized_stress is True
        self.embedding_ = np.ascontiguousarray(Z, dtype=dtype)
        self.sigma_ = float(sigma)
        self.stress_ = float(np.sqrt(raw / init_.sum_sq_embedding(Z))) if normalized else float(raw)
        self.n_iter_ = int(n_iter)
        self.solver_ = solver
        self.n_features_in_ = int(Xv.shape[1]) if form is None else n
        self._fit_X = Xv if form is None else None
        return self.embedding_

    def _starts(self, init, Xv, form, cache, n, k, sum_sq, rng):
        if init is not None:
            Z0 = check_matrix(init, "init", dtype=np.float64)
            if Z0.shape != (n, k):
                raise ValueError(f"init must have shape (n_samples, n_components) = {(n, k)}, got {Z0.shape}")
            if self.n_init != 1:
                warnings.warn(f"an explicit init was passed: one run instead of n_init={self.n_init}", UserWarning,
                              stacklevel=3)
            return [Z0]
        if self.init == "random":
            return [init_.random_start(n, k, sum_sq, rng) for _ in range(int(self.n_init))]
        if form is None:
            return [init_.classical_mds_features(Xv, k)]
        blocks = cache if cache is not None else init_.DissimilarityBlocks(Xv, form, n)
        return [init_.classical_mds_cache(blocks, k)]

    # ------------------------------------------------------------------ out of sample
    def transform(self, X):
        """Place new points against the fitted embedding (the fitted points stay fixed).

        Each new point minimizes its own stress ``sum_j (||z - z_j|| - delta_j)^2`` against
        the n fitted points by the one-point Guttman transform (at most ``max_iter``
        iterations, until no coordinate moves by more than ``1e-7`` times the embedding's
        RMS distance), from the embedding of its nearest fitted point.  Points are
        independent; they are processed in row blocks within ``working_memory``.

        Parameters
        ----------
        X : array-like (m, n_features_in_), or with ``metric="precomputed"`` an
            (m, n_fitted) matrix of dissimilarities to the fitted points (>= 0, finite).

        Returns
        -------
        ndarray (m, n_components), the embedding's dtype.

        Memory: O(block * n_fitted) float64 work arrays, block chosen from
        ``working_memory``; O(m k) output.
        """
        check_is_fitted(self, "embedding_")
        with single_threaded_blas():
            return self._transform(X)

    def _transform(self, X):
        Zfit = self.embedding_.astype(np.float64)
        n = Zfit.shape[0]
        if self.metric == "euclidean":
            Xn = check_matrix(X, "X", dtype=self._fit_X.dtype)
            if Xn.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {Xn.shape[1]} features, but MDS was fitted with {self.n_features_in_}")
        else:
            Xn = check_matrix(X, "X")
            if Xn.shape[1] != n:
                raise ValueError(f"X must hold dissimilarities to the {n} fitted points (shape (m, {n})) with "
                                 f"metric='precomputed'; got shape {Xn.shape}")
            if Xn.size and float(Xn.min()) < 0:
                raise ValueError(f"X has {int((Xn < 0).sum())} negative dissimilarities; they must be >= 0")
        scale = np.sqrt(init_.sum_sq_embedding(Zfit) / max(0.5 * n * (n - 1), 1.0))
        tol = 1e-7 * (scale if scale > 0 else 1.0)
        out = np.empty((Xn.shape[0], Zfit.shape[1]), dtype=self.embedding_.dtype)
        br = block_rows_for(n, self.working_memory)
        for r0 in range(0, Xn.shape[0], br):
            r1 = min(Xn.shape[0], r0 + br)
            if self.metric == "euclidean":
                delta = euclidean_distances(Xn[r0:r1], self._fit_X, n_threads=self.n_threads, backend=self.backend)
            else:
                delta = Xn[r0:r1]
            out[r0:r1], _ = place_block(delta, Zfit, max_iter=int(self.max_iter), tol=tol)
        return out
