"""``AlignXpert``: a scikit-learn style estimator that aligns two or more modalities.

Fit pipeline (what ``fit(views)`` does, in order)
-------------------------------------------------
1. **Validation.**  ``views`` is a list of M >= 2 arrays with the same number of rows
   (row i of every view describes the same item), finite, float32 or float64 (ints are
   converted to float64).  The computation runs in float32 only if every view is float32.
2. **Input scaling.**  Each modality is centered and divided by the square root of its
   mean squared row norm: ``X_m <- (X_m - means_[m]) / scales_[m]`` so that
   ``mean_i ||x_mi||^2 = 1`` and ``mean_{i,j} ||x_mi - x_mj||^2 = 2`` for every modality.
   Modalities then enter the stress and the similarity on the same footing whatever
   their raw units and widths; ``means_`` and ``scales_`` are stored and reused by
   ``transform``.  (The statistics are computed in row chunks, without a copy of X.)
3. **Feature map** (``feature_map``): identity, or a Nyström RBF / polynomial map on
   ``n_landmarks`` rows (see :mod:`alignxpert_fast.feature_maps`).  With the minibatch
   solver the scaled and mapped views are never formed whole: the map is fitted on a
   sample of up to 10000 scaled rows, and each Adam step scales and maps only its batch
   (:class:`alignxpert_fast.objective.RowMap`), so a fit with a given ``n_components``
   needs the inputs plus O(batch) memory whatever n is (``n_components="auto"`` also holds
   a copy of the training split while it scans).
4. **Initialization** (``init="pca"``): each W_m holds the top min(k, p_m) principal
   axes of its features (zero columns beyond p_m, so for k >= p_m the linear map starts
   at zero stress), then W_2..W_M are rotated by orthogonal Procrustes onto modality 1's
   initial projection (a rotation does not change the stress).  ``init="random"``:
   Gaussian entries with variance 1/k (norms preserved in expectation).
5. **gamma default** (``gamma=None``), from the initial projections Z0_m:

   - paired RBF with ``alpha > 0``: ``gamma_ = alpha * M / (4 * sum_{m<l} Dbar_ml)`` with
     ``Dbar_ml = mean_i ||z0_mi - z0_li||^2`` the mean squared paired distance at init.
     Why: shrinking every Z by a factor s changes the paired RBF similarity at rate
     ``sum_{m<l} (2 gamma / n) sum_i d_i^2 exp(-gamma d_i^2) <= 2 gamma sum_{m<l} Dbar_ml``,
     while the stress resists it at rate ``alpha * M`` (stress(s Z) = |1 - s| when Z is an
     isometry of X).  The rule sets the pull to at most half the resistance, so the
     defaults never favour shrinking (no collapse); the similarity then acts in its
     near-linear range, as a mean squared paired distance.  A larger gamma (e.g. the
     cloud scale, ~0.5) makes the optimizer trade stress for a smaller cloud: on the
     digits halves, gamma = 0.5 shrinks the mean squared norm of Z to ~0.16 (from 1).
   - contrastive RBF, or ``alpha == 0``: ``gamma_ = 1 / (2 mean_i ||z0_mi||^2)``, one over
     the mean squared distance between two rows of Z0_m (about 0.5 for the linear map with
     k >= d_m).  InfoNCE penalizes collapse by itself; with ``alpha == 0`` the paired RBF
     similarity collapses Z, which is what the stress ablation should show.
   - polynomial: ``gamma_ = 1 / mean_i ||z0_mi||^2`` (so gamma <a, b> is O(1)); linear and
     cosine have no gamma.

   ``tests/test_estimator.py`` checks that the defaults keep the projected scale.
6. **Optimization** (``solver``): ``"lbfgs"`` (full batch; with ``alpha > 0`` the
   pairwise distances of each scaled view are cached when they fit, see
   :class:`alignxpert_fast.StressCache` and the objective's ``stress_cache``) or ``"adam"``
   (minibatches of ``batch_size`` rows, fixed memory).  ``"auto"``: L-BFGS when n <= 10000 (paired) or
   n <= 5000 (contrastive, whose full-batch cost is O(n^2 k) per evaluation), else Adam.

``n_components="auto"`` scans k over ``dimension_grid`` (default: ``{min_d // 2, min_d,
sqrt(min_d * max_d), max_d, sum_d}`` of the input widths), fitting on a
``1 - validation_fraction`` split and scoring on the held-out pairs with the mean
reciprocal rank of cross-modal retrieval (averaged over ordered modality pairs); the
best k (ties: the smaller) is then refitted on all data.  The scan is in
``dimension_search_``.
"""
from __future__ import annotations

import inspect
import json
import numbers
import time
import warnings

import numpy as np

from ._validation import check_matrix, check_scalar, result_dtype
from .feature_maps import check_feature_map_name, check_random_state, make_feature_map, map_from_state
from .objective import (AlignXpertObjective, RowMap, _full, check_similarity, check_similarity_kernel,
                        contrastive_similarity_and_grad, paired_similarity_and_grad)
from .optim import TERMS, minimize_adam, minimize_lbfgs
from .stress import stress

__all__ = ["AlignXpert", "NotFittedError"]

SOLVERS = ("auto", "lbfgs", "adam")
INITS = ("pca", "random")
_FORMAT = "alignxpert_fast.AlignXpert"
_FORMAT_VERSION = 1
_INIT_SAMPLES = 10000


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needs a fitted estimator (as scikit-learn's NotFittedError)."""


class _ParamsMixin:
    """get_params / set_params / repr in the scikit-learn way (no sklearn import)."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        names = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args or **kwargs")
            names.append(p.name)
        return sorted(names)

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ValueError.  Returns self."""
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        parts = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            value = getattr(self, p.name)
            default = p.default
            same = value is default
            if not same:
                try:
                    same = bool(value == default) and type(value) is type(default)
                except Exception:  # arrays and the like
                    same = False
            if not same:
                parts.append(f"{p.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _retrieval_metric(kernel):
    return {"rbf": "euclidean", "cosine": "cosine"}.get(kernel, "dot")


class AlignXpert(_ParamsMixin):
    """Align M >= 2 modalities in a shared k-dimensional space (AlignXpert).

    Minimizes ``- sum_{m<l} S(Z_m, Z_l) + lam sum_m ||W_m||^2 + alpha sum_m stress(X_m, Z_m)``
    over linear projections ``Z_m = Phi_m(X_m) W_m`` (see :mod:`alignxpert_fast.objective`
    and the module docstring for scaling, initialization and the gamma default).

    Parameters
    ----------
    n_components : int >= 1 or "auto", default=32
        Shared dimension k (may exceed some or all input widths).  "auto": scan
        ``dimension_grid`` on a held-out split (see ``dimension_search_``).
    similarity : {"paired", "contrastive"}, default="paired"
    kernel : {"rbf", "cosine", "poly", "polynomial", "linear"}, default="rbf"
        Similarity kernel kappa.  The paired linear / poly similarities are unbounded
        (see the objective's boundedness note): use a large ``lam`` or the contrastive mode.
    gamma : float > 0, default=None
        Similarity kernel gamma (rbf, poly); None: data-scaled, see module docstring.
    degree, coef0 : poly similarity kernel parameters (default 3, 1.0).
    temperature : float > 0, default=0.1
        Contrastive mode: logits are kappa / temperature.
    alpha : float >= 0, default=0.1
        Weight of the stress term (0 disables it; the RBF similarity then collapses Z).
    lam : float >= 0, default=1e-3
        Weight of ``sum_m ||W_m||_F^2``.
    feature_map : {"linear", "rbf", "poly"}, default="linear"
    n_landmarks : int, default=None
        Nyström landmarks (None: min(n, 1000)).
    map_gamma, map_degree, map_coef0 : Nyström kernel parameters (map_gamma=None:
        1/mean squared distance for rbf, 1/mean squared norm for poly, on scaled inputs).
    solver : {"auto", "lbfgs", "adam"}, default="auto"
    max_iter : int, default=None
        Iterations (L-BFGS) or steps (Adam); None: 200 (lbfgs) or 2000 (adam).
    tol : float, default=None
        None: 1e-6 (lbfgs ftol) or 1e-4 (adam relative improvement of the smoothed loss).
    batch_size : int, default=1024
        Adam minibatch rows.
    learning_rate : float, default=0.01
        Adam initial step (decays as 1/sqrt(1 + t / (max_iter/10))).
    init : {"pca", "random"}, default="pca"
    dimension_grid : sequence of int, default=None
        Candidate k for ``n_components="auto"``.
    validation_fraction : float in (0, 1), default=0.2
        Held-out share of the pairs for ``n_components="auto"``.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds landmarks, random init, Adam sampling and the validation split.  The same
        int seed and thread count give bit-for-bit the same fit.
    verbose : int, default=0
        0 silent, 1 a progress line every 10 (L-BFGS) / 100 (Adam) iterations, 2 every
        iteration.
    n_threads : int, default=None
        Threads for the kernels (None: all cores).
    backend : {"auto", "native", "numba", "reference"}, default="auto"

    Attributes
    ----------
    n_modalities_ : int
    n_features_in_ : list of int, input width of each modality
    n_components_ : int, the k used
    components_ : list of ndarray (p_m, k), the projections W_m (in the feature space)
    means_, scales_ : list of ndarray (d_m,) and list of float, the input scaling
    feature_maps_ : list of fitted feature maps
    n_features_mapped_ : list of int, p_m
    gamma_ : float or None, similarity kernel gamma used
    solver_ : str, solver used
    n_iter_ : int
    loss_ : float, final loss
    loss_curve_ : list of float, loss per iteration
    history_ : dict, per-term values per iteration (``similarity`` = sum of S over pairs,
        ``stress`` = sum over modalities, ``penalty`` = sum of ||W_m||^2)
    stop_reason_ : str, converged_ : bool, fit_time_ : float (seconds)
    dimension_search_ : list of dict or None
        One dict per candidate k: ``k``, ``similarity`` (held-out S averaged over pairs),
        ``stress`` (held-out, averaged over modalities), ``score`` (held-out MRR),
        ``time`` (fit seconds).
    """

    def __init__(self, n_components=32, *, similarity="paired", kernel="rbf", gamma=None, degree=3, coef0=1.0,
                 temperature=0.1, alpha=0.1, lam=1e-3, feature_map="linear", n_landmarks=None, map_gamma=None,
                 map_degree=3, map_coef0=1.0, solver="auto", max_iter=None, tol=None, batch_size=1024,
                 learning_rate=0.01, init="pca", dimension_grid=None, validation_fraction=0.2,
                 random_state=None, verbose=0, n_threads=None, backend="auto"):
        self.n_components = n_components
        self.similarity = similarity
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.temperature = temperature
        self.alpha = alpha
        self.lam = lam
        self.feature_map = feature_map
        self.n_landmarks = n_landmarks
        self.map_gamma = map_gamma
        self.map_degree = map_degree
        self.map_coef0 = map_coef0
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.init = init
        self.dimension_grid = dimension_grid
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads
        self.backend = backend

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        k = self.n_components
        if isinstance(k, str):
            if k != "auto":
                raise ValueError(f"n_components must be a positive int or 'auto', got {k!r}")
        elif isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"n_components must be a positive int or 'auto', got {k!r} of type {type(k).__name__}")
        elif k <= 0:
            raise ValueError(f"n_components must be a positive int or 'auto', got {k}")
        check_similarity(self.similarity)
        check_similarity_kernel(self.kernel)
        check_feature_map_name(self.feature_map)
        if not isinstance(self.solver, str) or self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {list(SOLVERS)}, got {self.solver!r}")
        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"init must be one of {list(INITS)}, got {self.init!r}")
        if self.gamma is not None:
            check_scalar(self.gamma, "gamma", lower=0, include_lower=False)
        check_scalar(self.degree, "degree", lower=1, integer=True)
        check_scalar(self.coef0, "coef0")
        check_scalar(self.temperature, "temperature", lower=0, include_lower=False)
        check_scalar(self.alpha, "alpha", lower=0)
        check_scalar(self.lam, "lam", lower=0)
        if self.n_landmarks is not None:
            check_scalar(self.n_landmarks, "n_landmarks", lower=1, integer=True)
        if self.map_gamma is not None:
            check_scalar(self.map_gamma, "map_gamma", lower=0, include_lower=False)
        check_scalar(self.map_degree, "map_degree", lower=1, integer=True)
        check_scalar(self.map_coef0, "map_coef0")
        if self.max_iter is not None:
            check_scalar(self.max_iter, "max_iter", lower=1, integer=True)
        if self.tol is not None:
            check_scalar(self.tol, "tol", lower=0)
        check_scalar(self.batch_size, "batch_size", lower=2, integer=True)
        check_scalar(self.learning_rate, "learning_rate", lower=0, include_lower=False)
        check_scalar(self.validation_fraction, "validation_fraction", lower=0, upper=1, include_lower=False,
                     include_upper=False)
        check_scalar(self.verbose, "verbose", lower=0, integer=True)
        if self.dimension_grid is not None:
            grid = list(self.dimension_grid) if not isinstance(self.dimension_grid, str) else None
            if not grid:
                raise ValueError(f"dimension_grid must be a non-empty sequence of positive ints, got "
                                 f"{self.dimension_grid!r}")
            for v in grid:
                check_scalar(v, "dimension_grid entries", lower=1, integer=True)
        check_random_state(self.random_state)

    def _validate_views(self, views, *, fitting):
        if isinstance(views, np.ndarray) or not isinstance(views, (list, tuple)):
            raise TypeError(
                f"views must be a list or tuple of arrays, one (n_samples, n_features_m) array per modality; got "
                f"{type(views).__name__}. To transform a single modality use transform(X, modality=i)."
            )
        if fitting and len(views) < 2:
            raise ValueError(f"views must hold at least two modalities (arrays with paired rows); got {len(views)}")
        if not fitting and len(views) != self.n_modalities_:
            raise ValueError(f"views must hold {self.n_modalities_} arrays (one per fitted modality), got {len(views)}")
        dtype = result_dtype(*[v if hasattr(v, "dtype") else np.asarray(v) for v in views])
        Xs = [check_matrix(v, f"views[{m}]", dtype=dtype, min_rows=3 if fitting else 1) for m, v in enumerate(views)]
        if fitting:
            n = Xs[0].shape[0]
            for m, X in enumerate(Xs):
                if X.shape[0] != n:
                    raise ValueError(
                        f"every view must have the same number of rows (row i of each view is the same item); "
                        f"views[0] has {n} rows but views[{m}] has {X.shape[0]}"
                    )
        else:
            for m, X in enumerate(Xs):
                self._check_width(X, m, f"views[{m}]")
        return Xs, dtype

    def _check_width(self, X, m, name):
        if X.shape[1] != self.n_features_in_[m]:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_in_[m]} features for modality {m}"
            )

    def _check_is_fitted(self, method="transform"):
        if not hasattr(self, "components_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                f"before using '{method}'."
            )

    def __sklearn_is_fitted__(self):
        return hasattr(self, "components_")

    # ------------------------------------------------------------------- fit
    def fit(self, views, y=None, *, callbacks=None):
        """Fit the projections on paired views.

        Parameters
        ----------
        views : list of M >= 2 arrays of shape (n, d_m), rows paired across views
        y : ignored
        callbacks : callable or list of callables ``(iteration, loss, params) -> bool``
            Called after every optimizer iteration of the final fit; True stops it.

        Returns
        -------
        self
        """
        self._check_params()
        Xs, _ = self._validate_views(views, fitting=True)
        rng = check_random_state(self.random_state)
        if self.n_components == "auto":
            k, search = self._dimension_search(Xs, rng)
        else:
            k, search = int(self.n_components), None
        self._fit_k(Xs, k, rng, callbacks)
        self.dimension_search_ = search
        return self

    def fit_transform(self, views, y=None, *, callbacks=None):
        """``fit(views)`` then ``transform(views)``: a list of M arrays (n, k)."""
        return self.fit(views, y, callbacks=callbacks).transform(views)

    def _resolve_solver(self, n):
        if self.solver != "auto":
            return self.solver
        limit = 5000 if self.similarity == "contrastive" else 10000
        return "lbfgs" if n <= limit else "adam"

    def _scale(self, X, m):
        return (X - self.means_[m].astype(X.dtype)) / X.dtype.type(self.scales_[m])

    def _fit_k(self, Xs, k, rng, callbacks=None):
        t0 = time.perf_counter()
        dtype = Xs[0].dtype
        n = Xs[0].shape[0]
        kern = check_similarity_kernel(self.kernel)
        solver = self._resolve_solver(n)
        # minibatch solver: scaled / mapped rows are formed per batch (RowMap), never whole
        lazy = solver == "adam"
        # 2. scaling
        self.means_, self.scales_ = [], []
        for m, X in enumerate(Xs):
            mu, msq = _mean_and_mean_sqnorm(X)
            if not msq > 0:
                raise ValueError(f"views[{m}] has all rows identical (zero variance); it carries no information")
            self.means_.append(mu)
            self.scales_.append(float(np.sqrt(msq)))
        if lazy:
            fit_rows = _subsample(n, _INIT_SAMPLES, rng)
            Xfit = [self._scale(X if fit_rows is None else X[fit_rows], m) for m, X in enumerate(Xs)]
        else:
            Xsc = Xfit = [self._scale(X, m) for m, X in enumerate(Xs)]
        # 3. feature maps (lazy: fitted on a sample of up to _INIT_SAMPLES scaled rows)
        self.feature_maps_ = []
        for m, X in enumerate(Xfit):
            fm = make_feature_map(self.feature_map, n_landmarks=self.n_landmarks, gamma=self.map_gamma,
                                  degree=self.map_degree, coef0=self.map_coef0,
                                  random_state=int(rng.integers(2**31 - 1)))
            if fm.kind == "linear":
                fm.fit(X)
            else:
                fm.fit(X, n_threads=self.n_threads, backend=self.backend)
            self.feature_maps_.append(fm)
        if lazy:
            Fs = [RowMap(X, lambda Xr, m=m: self._features(Xr, m), self._features(X[:1], m).shape[1], dtype)
                  for m, X in enumerate(Xs)]
            targets = [RowMap(X, lambda Xr, m=m: self._scale(Xr, m), X.shape[1], dtype)
                       for m, X in enumerate(Xs)]
        else:
            Fs = [np.ascontiguousarray(fm.transform(X, n_threads=self.n_threads, backend=self.backend))
                  for fm, X in zip(self.feature_maps_, Xsc)]
            targets = Xsc
        # 4. init, 5. gamma
        W0 = _init_projections(Fs, k, rng, self.init)
        self.gamma_ = self._default_gamma(Fs, W0, kern, rng)
        # 6. optimize
        obj = AlignXpertObjective(Fs, targets if self.alpha > 0 else None, similarity=self.similarity, kernel=kern,
                                  gamma=self.gamma_, degree=self.degree, coef0=self.coef0,
                                  temperature=self.temperature, alpha=self.alpha, lam=self.lam,
                                  n_threads=self.n_threads, backend=self.backend)
        verbose = int(self.verbose)
        if solver == "lbfgs":
            res = minimize_lbfgs(obj, W0, max_iter=self.max_iter or 200,
                                 tol=1e-6 if self.tol is None else self.tol, callbacks=callbacks, verbose=verbose,
                                 print_every=1 if verbose >= 2 else 10)
        else:
            res = minimize_adam(obj, W0, max_iter=self.max_iter or 2000, tol=1e-4 if self.tol is None else self.tol,
                                random_state=rng, batch_size=self.batch_size, learning_rate=self.learning_rate,
                                callbacks=callbacks, verbose=verbose, print_every=1 if verbose >= 2 else 100)
        if res.stop_reason == "nonfinite":
            warnings.warn(
                f"AlignXpert: the loss diverged (non-finite after {res.n_iter} iterations) with "
                f"similarity={self.similarity!r}, kernel={self.kernel!r}, lam={self.lam}; the paired linear and "
                f"polynomial similarities are unbounded below (see alignxpert_fast.objective). Increase lam "
                f"(linear), or use similarity='contrastive' or kernel='rbf'/'cosine'. The projections kept are "
                f"the best evaluated ones and are not meaningful.",
                UserWarning, stacklevel=3,
            )
        self.solver_ = solver
        self.components_ = [np.ascontiguousarray(W, dtype=dtype) for W in res.params]
        self.n_components_ = int(k)
        self.n_modalities_ = len(Xs)
        self.n_features_in_ = [int(X.shape[1]) for X in Xs]
        self.n_features_mapped_ = [int(F.shape[1]) for F in Fs]
        self.n_iter_ = int(res.n_iter)
        self.loss_ = float(res.loss)
        self.loss_curve_ = list(res.loss_curve)
        self.history_ = {t: list(v) for t, v in res.history.items()}
        self.stop_reason_ = res.stop_reason
        self.converged_ = bool(res.converged)
        self.fit_time_ = time.perf_counter() - t0
        return self

    def _default_gamma(self, Fs, W0, kernel, rng):
        """gamma=None rule (module docstring, step 5), from the initial projections."""
        if self.gamma is not None:
            return float(self.gamma)
        if kernel not in ("rbf", "poly"):
            return None
        rows = _subsample(Fs[0].shape[0], _INIT_SAMPLES, rng)
        Zs = []
        for F, W in zip(Fs, W0):
            Z = (_rows_of(F, rows) @ W.astype(F.dtype)).astype(np.float64)
            Zs.append(Z - Z.mean(axis=0))
        msq = float(np.mean([np.mean(np.einsum("ij,ij->i", Z, Z)) for Z in Zs]))
        if not msq > 0:
            return 1.0
        if kernel == "poly":
            return 1.0 / msq
        if self.similarity == "contrastive" or self.alpha == 0:
            return 1.0 / (2.0 * msq)  # 1 / mean squared distance between two rows of Z_m
        M = len(Zs)
        paired = sum(float(np.mean(np.sum((Zs[m] - Zs[l]) ** 2, axis=1)))
                     for m in range(M) for l in range(m + 1, M))
        if not paired > 0:
            return 1.0 / (2.0 * msq)
        return float(self.alpha) * M / (4.0 * paired)

    # --------------------------------------------------------- dimension search
    def _default_grid(self, widths):
        lo, hi, tot = min(widths), max(widths), sum(widths)
        grid = {max(1, lo // 2), lo, int(round(np.sqrt(lo * hi))), hi, tot}
        return sorted(grid)

    def _dimension_search(self, Xs, rng):
        n = Xs[0].shape[0]
        n_val = int(round(self.validation_fraction * n))
        if n_val < 2 or n - n_val < 3:
            raise ValueError(
                f"n_components='auto' needs at least 2 held-out and 3 training pairs; got n={n} with "
                f"validation_fraction={self.validation_fraction}"
            )
        perm = rng.permutation(n)
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        grid = ([int(v) for v in self.dimension_grid] if self.dimension_grid is not None
                else self._default_grid([X.shape[1] for X in Xs]))
        from .metrics import mean_reciprocal_rank

        kern = check_similarity_kernel(self.kernel)
        metric = _retrieval_metric(kern)
        records = []
        M = len(Xs)
        for k in grid:
            est = type(self)(**{**self.get_params(), "n_components": k, "verbose": 0})
            t0 = time.perf_counter()
            est._fit_k([X[train] for X in Xs], k, rng)
            elapsed = time.perf_counter() - t0
            Zs = est.transform([X[val] for X in Xs])
            Xv = [est._scale(X[val], m) for m, X in enumerate(Xs)]
            scores, sims = [], []
            for a in range(M):
                for b in range(M):
                    if a != b:
                        scores.append(mean_reciprocal_rank(Zs[a], Zs[b], metric=metric))
                    if a < b:
                        sims.append(est._similarity_value(Zs[a], Zs[b]))
            st = float(np.mean([stress(Xv[m], Zs[m], n_threads=self.n_threads, backend=self.backend)
                                for m in range(M)]))
            rec = {"k": int(k), "similarity": float(np.mean(sims)), "stress": st, "score": float(np.mean(scores)),
                   "time": float(elapsed)}
            records.append(rec)
            if self.verbose:
                print(f"[dimension search] k={k:<5d} score(MRR)={rec['score']:.4f} similarity={rec['similarity']:.4f} "
                      f"stress={rec['stress']:.4f} time={elapsed:.2f}s", flush=True)
        best = max(records, key=lambda r: (r["score"], -r["k"]))
        return best["k"], records

    def _similarity_value(self, A, B):
        kern = check_similarity_kernel(self.kernel)
        kw = dict(kernel=kern, gamma=self.gamma_, degree=self.degree, coef0=self.coef0, compute_grad=False)
        if self.similarity == "paired":
            return paired_similarity_and_grad(A, B, **kw)[0]
        return contrastive_similarity_and_grad(A, B, temperature=self.temperature, n_threads=self.n_threads,
                                               backend=self.backend, **kw)[0]

    # ------------------------------------------------------------- transform
    def _features(self, X, m):
        """Phi_m of raw rows X of modality m (scaled, then the feature map)."""
        return self.feature_maps_[m].transform(self._scale(X, m), n_threads=self.n_threads, backend=self.backend)

    def _transform_one(self, X, m):
        return self._features(X, m) @ self.components_[m].astype(X.dtype, copy=False)

    def transform(self, views, modality=None):
        """Project views into the shared space.

        Parameters
        ----------
        views : list of M arrays (n_m, d_m), or one array when ``modality`` is given
            The views may have different numbers of rows here (each is projected on
            its own).
        modality : int, optional
            Index of the modality of a single array ``views``.

        Returns
        -------
        list of M arrays (n_m, k), or one array (n, k) when ``modality`` is given;
        float32 if the input is float32, else float64.
        """
        self._check_is_fitted("transform")
        if modality is not None:
            if isinstance(modality, (bool, np.bool_)) or not isinstance(modality, numbers.Integral):
                raise TypeError(f"modality must be an int index, got {modality!r}")
            if not -self.n_modalities_ <= modality < self.n_modalities_:
                raise ValueError(f"modality must be in [0, {self.n_modalities_}), got {modality}")
            m = int(modality) % self.n_modalities_
            X = check_matrix(views, "X")
            self._check_width(X, m, "X")
            return self._transform_one(X, m)
        Xs, _ = self._validate_views(views, fitting=False)
        return [self._transform_one(X, m) for m, X in enumerate(Xs)]

    # -------------------------------------------------------------- save / load
    def save(self, path):
        """Save the fitted model to one ``.npz`` file (arrays + a JSON header; no pickle).

        NumPy appends ``.npz`` when ``path`` has another suffix; the path written is
        returned.  Parameters that are not JSON values (a Generator ``random_state``)
        are stored as None.
        """
        self._check_is_fitted("save")
        params = {}
        for name, value in self.get_params().items():
            if isinstance(value, tuple):
                value = list(value)
            try:
                json.dumps(value)
            except TypeError:
                value = None
            params[name] = value
        arrays = {}
        maps_meta = []
        for m in range(self.n_modalities_):
            arrays[f"W_{m}"] = self.components_[m]
            arrays[f"mean_{m}"] = self.means_[m]
            meta, arrs = self.feature_maps_[m].get_state()
            maps_meta.append(meta)
            for key, arr in arrs.items():
                arrays[f"map_{m}_{key}"] = arr
        arrays["loss_curve"] = np.asarray(self.loss_curve_, dtype=np.float64)
        for t in TERMS:
            arrays[f"history_{t}"] = np.asarray(self.history_.get(t, []), dtype=np.float64)
        from . import __version__

        meta = {
            "format": _FORMAT, "format_version": _FORMAT_VERSION, "library_version": __version__,
            "params": params,
            "fitted": {
                "n_modalities": self.n_modalities_, "n_features_in": self.n_features_in_,
                "n_features_mapped": self.n_features_mapped_, "n_components": self.n_components_,
                "scales": self.scales_, "gamma": self.gamma_, "solver": self.solver_, "n_iter": self.n_iter_,
                "loss": self.loss_, "stop_reason": self.stop_reason_, "converged": self.converged_,
                "fit_time": self.fit_time_, "dimension_search": self.dimension_search_, "feature_maps": maps_meta,
                "dtype": np.dtype(self.components_[0].dtype).name,
            },
        }
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        path = str(path)
        if not path.endswith(".npz"):
            path += ".npz"
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save` (``allow_pickle=False``)."""
        with np.load(str(path), allow_pickle=False) as data:
            if "__meta__" not in data.files:
                raise ValueError(f"{path!s} is not an AlignXpert model file (no '__meta__' entry)")
            meta = json.loads(bytes(data["__meta__"]).decode("utf-8"))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"{path!s} is not an AlignXpert model file (format={meta.get('format')!r})")
            if meta.get("format_version", 0) > _FORMAT_VERSION:
                raise ValueError(f"{path!s} was written by a newer format version {meta['format_version']}")
            arrays = {key: data[key] for key in data.files if key != "__meta__"}
        f = meta["fitted"]
        est = cls(**meta["params"])
        M = int(f["n_modalities"])
        est.n_modalities_ = M
        est.n_features_in_ = [int(v) for v in f["n_features_in"]]
        est.n_features_mapped_ = [int(v) for v in f["n_features_mapped"]]
        est.n_components_ = int(f["n_components"])
        est.components_ = [np.ascontiguousarray(arrays[f"W_{m}"]) for m in range(M)]
        est.means_ = [arrays[f"mean_{m}"] for m in range(M)]
        est.scales_ = [float(s) for s in f["scales"]]
        est.feature_maps_ = []
        for m in range(M):
            prefix = f"map_{m}_"
            arrs = {key[len(prefix):]: arr for key, arr in arrays.items() if key.startswith(prefix)}
            est.feature_maps_.append(map_from_state(f["feature_maps"][m], arrs))
        est.gamma_ = f["gamma"]
        est.solver_ = f["solver"]
        est.n_iter_ = int(f["n_iter"])
        est.loss_ = float(f["loss"])
        est.loss_curve_ = arrays["loss_curve"].tolist()
        est.history_ = {t: arrays[f"history_{t}"].tolist() for t in TERMS}
        est.stop_reason_ = f["stop_reason"]
        est.converged_ = bool(f["converged"])
        est.fit_time_ = float(f["fit_time"])
        est.dimension_search_ = f["dimension_search"]
        return est


def _mean_and_mean_sqnorm(X, chunk_bytes=2**22):
    """Column means (float64) and ``mean_i ||x_i - mean||^2``, in row chunks of about
    ``chunk_bytes`` (no copy of X)."""
    mu = X.mean(axis=0, dtype=np.float64)
    mu_t = mu.astype(X.dtype)
    chunk = max(1, chunk_bytes // max(1, X.shape[1] * X.itemsize))
    total = 0.0
    for s in range(0, X.shape[0], chunk):
        B = X[s:s + chunk] - mu_t
        total += float(np.einsum("ij,ij->", B, B, dtype=np.float64))
    return mu, total / X.shape[0]


def _rows_of(F, rows):
    """F[rows] (all rows when rows is None), for arrays and RowMaps."""
    return _full(F) if rows is None else F[rows]


def _subsample(n, limit, rng):
    if n <= limit:
        return None
    return np.sort(rng.choice(n, size=limit, replace=False))


def _init_projections(Fs, k, rng, method):
    """Initial W_m (see the module docstring, step 4)."""
    n = Fs[0].shape[0]
    if method == "random":
        return [rng.standard_normal((F.shape[1], k)) / np.sqrt(k) for F in Fs]
    rows = _subsample(n, _INIT_SAMPLES, rng)
    subs = [_rows_of(F, rows).astype(np.float64) for F in Fs]
    subs = [S - S.mean(axis=0) for S in subs]
    Ws = []
    for S in subs:
        p = S.shape[1]
        C = S.T @ S
        w, V = np.linalg.eigh(0.5 * (C + C.T))
        r = min(k, p)
        V = V[:, ::-1][:, :r]
        # deterministic signs: largest |entry| of each axis positive
        sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(r)])
        V = V * np.where(sign == 0, 1.0, sign)
        W = np.zeros((p, k))
        W[:, :r] = V
        Ws.append(W)
    Z0 = subs[0] @ Ws[0]
    for m in range(1, len(Ws)):
        Zm = subs[m] @ Ws[m]
        U, _, Vt = np.linalg.svd(Zm.T @ Z0)
        Ws[m] = Ws[m] @ (U @ Vt)
    return Ws
