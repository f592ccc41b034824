"""``AlignXpert``: a scikit-learn style estimator that aligns two or more modalities.

``fit`` orchestrates: validation, scaling and feature maps (:mod:`.init`,
:mod:`.feature_maps`), the start and the gamma rule (:mod:`.init`), the objective
(:mod:`.objective`) and an optimizer (:mod:`.optim`); ``n_components="auto"`` goes
through :mod:`.dimension_search`; ``save`` / ``load`` through :mod:`.persistence`.
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .._utils.random import check_random_state
from .._utils.threads import single_threaded_blas
from .._utils.validation import check_matrix, is_dask_array, result_dtype
from . import persistence
from ._params import check_param, check_params
from ..evaluation.metrics import cross_modal_mrr
from .dimension_search import dimension_search, retrieval_metric
from .fitting import fit_fixed_k
from .init import scale_rows
from .similarity import contrastive_similarity_and_grad, paired_similarity_and_grad

__all__ = ["AlignXpert", "NotFittedError", "PAPER"]

# The paper's formulation (arXiv 2503.07636), for comparisons: AlignXpert(**PAPER)
PAPER = {"similarity": "paired", "kernel": "rbf", "temperature": 0.1, "alpha": 0.1, "lam": 1e-3, "stress": "kruskal",
         "feature_map": "linear", "init": "pca", "early_stopping": False}


class AlignXpert(TransformerMixin, BaseEstimator):
    """Align M >= 2 modalities in a shared k-dimensional space (AlignXpert).

    Minimizes ``- sum_{m<l} S(Z_m, Z_l) + lam sum_m ||W_m||^2 + alpha sum_m stress(X_m, Z_m)``
    over linear projections ``Z_m = Phi_m(X_m) W_m``.  The fit scales each view (centered,
    unit mean squared row norm), applies the feature map, starts from PCA + Procrustes
    (``init``), picks gamma (``gamma=None``) and optimizes; ``docs/method.rst`` gives the
    objective, each rule and why.

    Parameters
    ----------
    n_components : int >= 1 or "auto", default=32
        Shared dimension k (may exceed some or all input widths).  "auto": scan
        ``dimension_grid`` on a held-out split (see ``dimension_search_``).
    similarity : {"paired", "contrastive"}, default="contrastive"
    kernel : {"rbf", "cosine", "poly", "polynomial", "linear"}, default="cosine"
        Similarity kernel kappa.  The paired linear / poly similarities are unbounded
        (see the objective's boundedness note): use a large ``lam`` or the contrastive mode.
    gamma : float > 0, default=None
        Similarity kernel gamma (rbf, poly); None: data-scaled, see module docstring.
    degree, coef0 : poly similarity kernel parameters (default 3, 1.0).
    temperature : float > 0, default=0.3
        Contrastive mode: logits are kappa / temperature.
    alpha : float >= 0, default=0.5
        Weight of the stress term (0 disables it; the RBF similarity then collapses Z).
    lam : float >= 0, default=0.03
        Weight of ``sum_m ||W_m||_F^2``.
    stress : {"kruskal", "squared", "relative"}, default="kruskal"
        The paper's normalized stress, its square (smooth at zero stress), or the relative
        stress ``sqrt(mean_{i<j} ((D_ij - E_ij) / D_ij)^2)`` (:func:`alignxpert_fast.stress`
        with ``relative=True``), which weighs near pairs as much as far ones.  Measured on
        the quality datasets against the defaults: within 0.004 on every digits metric
        (slightly above: digits-halves MRR 0.351 vs 0.347), equal on breast cancer, the
        synthetic MRR 0.346 vs 0.342 but its transfer 0.783 vs 0.794, and wine's R@1 0.079
        vs 0.097; ``benchmarks/results/defaults_experiments.md``.
    feature_map : {"linear", "rbf", "poly", "linear+rbf"}, default="linear+rbf"
        ``"linear+rbf"``: ``[X, Nystroem_rbf(X)]``, so every linear solution stays reachable.
    n_landmarks : int, default=None
        Nyström landmarks (None: min(n, 700), see ``feature_maps.DEFAULT_LANDMARKS``).
    map_gamma, map_degree, map_coef0 : Nyström kernel parameters (map_gamma=None:
        1/mean squared distance for rbf (0.5 on scaled inputs), 4/mean squared distance for
        the rbf block of "linear+rbf" (2.0; ``feature_maps.RESIDUAL_GAMMA_SCALE``),
        1/mean squared norm for poly, on scaled inputs).
    solver : {"auto", "lbfgs", "adam"}, default="auto"
    max_iter : int, default=None
        Iterations (L-BFGS) or steps (Adam); None: 200 (lbfgs) or 2000 (adam).
    tol : float, default=None
        None: 1e-6 (lbfgs ftol) or 1e-4 (adam relative improvement of the smoothed loss).
    batch_size : int, default=1024
        Adam minibatch rows.
    learning_rate : float, default=0.01
        Adam initial step (decays as 1/sqrt(1 + t / (max_iter/10))).
    init : {"cca", "pca", "random"}, default="cca"
        "cca": regularized (generalized) CCA on the linear block of the features, axes
        weighted by their squared correlation; with k above the canonical axes, the next
        columns start as each view's top principal axes (Procrustes-aligned); "pca": the
        paper's PCA + Procrustes start.
    init_reg : float >= 0 or "auto", default="auto"
        Ridge of the CCA start (relative to each view's mean variance).  "auto": with early
        stopping (full batch), each ridge of ``init.INIT_REG_GRID`` (1e-2, 1e-3, 1e-4) builds
        a start, and the largest one whose held-out MRR is within one standard error of the
        best start's is kept (the one-standard-error rule); otherwise 1e-2.  The ridge used
        is ``init_reg_``.  The early-stopping split both chooses the start and scores the
        iterations, so ``validation_score_`` is slightly optimistic.  On the quality
        datasets it keeps 1e-2 on the digits, synthetic and wine data and picks 1e-4 on
        breast cancer (MRR 0.780 vs 0.612 at 1e-2);
        ``benchmarks/results/defaults_experiments.md``.
    early_stopping : bool, default=True
        Full batch: hold out ``validation_fraction`` of the pairs, fit on the rest and keep
        the projections with the best held-out MRR (checked every 5 iterations, the start
        included); stop after ``n_iter_no_change`` checks without improvement.  As in
        scikit-learn, the held-out pairs are not used for the projections (no refit).
    n_iter_no_change : int >= 1, default=4
        Early-stopping patience, in checks (20 iterations).  4 scores as 6 did on the
        quality datasets and fits 17 % faster; 3 lost digits-views MRR
        (benchmarks/results/speed_variants.md).
    dimension_grid : sequence of int, default=None
        Candidate k for ``n_components="auto"``.
    validation_fraction : float in (0, 1), default=0.2
        Held-out share of the pairs for ``n_components="auto"`` and early stopping.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds landmarks, random init, Adam sampling and the validation split.  The same
        int seed and thread count give bit-for-bit the same fit.
    verbose : int, default=0
        0 silent, 1 a progress line every 10 (L-BFGS) / 100 (Adam) iterations, 2 every
        iteration.
    n_threads : int, default=None
        Threads for the kernels (None: OpenMP's current limit, which threadpoolctl sets).
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
    init_reg_ : float or None, the CCA start's ridge used (None for the other starts)
    solver_ : str, solver used
    n_iter_ : int, iterations run
    loss_ : float, final loss (with early stopping: of the last iterate on the training
        part; the projections kept are those of ``best_iteration_``)
    loss_curve_ : list of float, loss per iteration
    history_ : dict, per-term values per iteration (``similarity`` = sum of S over pairs,
        ``stress`` = sum over modalities, ``penalty`` = sum of ||W_m||^2)
    stop_reason_ : str
    converged_ : bool
    fit_time_ : float, seconds
    output_scale_ : float
        The common factor ``transform`` applies so that the training projections have unit
        variance per coordinate on average (rankings do not change).
    validation_scores_ : list of (iteration, held-out MRR) or None
    best_iteration_, validation_score_, early_stopping_iterations_ : int, float, int or None
        The early-stopping record (None without early stopping): the iteration whose
        projections were kept, its held-out MRR, and the iterations run.
    dimension_search_ : list of dict or None
        One dict per candidate k: ``k``, ``similarity`` (held-out S averaged over pairs),
        ``stress`` (held-out, averaged over modalities), ``score`` (held-out MRR),
        ``time`` (fit seconds).
    """

    def __init__(self, n_components=32, *, similarity="contrastive", kernel="cosine", gamma=None, degree=3,
                 coef0=1.0, temperature=0.3, alpha=0.5, lam=0.03, stress="kruskal", feature_map="linear+rbf",
                 n_landmarks=None, map_gamma=None, map_degree=3, map_coef0=1.0, solver="auto", max_iter=None,
                 tol=None, batch_size=1024, learning_rate=0.01, init="cca", init_reg="auto", early_stopping=True,
                 n_iter_no_change=4, dimension_grid=None, validation_fraction=0.2, random_state=None, verbose=0,
                 n_threads=None, backend="auto"):
        self.n_components = n_components
        self.similarity = similarity
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.temperature = temperature
        self.alpha = alpha
        self.lam = lam
        self.stress = stress
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
        self.init_reg = init_reg
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.dimension_grid = dimension_grid
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads
        self.backend = backend

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_params(self.get_params())

    def _kernel_name(self):
        return check_param("kernel", self.kernel)

    def _validate_views(self, views, *, fitting):
        if isinstance(views, np.ndarray) or not isinstance(views, (list, tuple)):
            raise TypeError(
                f"views must be a list or tuple of arrays, one (n_samples, n_features_m) array per modality; got "
                f"{type(views).__name__}. To transform a single modality use transform(X, modality=i)."
            )
        if any(is_dask_array(v) for v in views):  # read by chunks: see alignxpert_fast.dask._views
            from ..dask._views import dask_views
            return dask_views(self, views, fitting=fitting)
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
        check_is_fitted(self, "components_",
                        msg=f"This %(name)s instance is not fitted yet. Call 'fit' with appropriate arguments before "
                            f"using '{method}'.")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "components_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # the input is a list of paired views, not one 2-D array; no targets
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------- fit
    def fit(self, views, y=None, *, callbacks=None):
        """Fit the projections on paired views.

        Parameters
        ----------
        views : list of M >= 2 arrays of shape (n, d_m), rows paired across views
            dask arrays (e.g. ``da.from_zarr``) are read by row chunks with the minibatch
            solver (its estimator: :mod:`alignxpert_fast.dask._views`).
        y : ignored
        callbacks : callable or list of callables ``(iteration, loss, params) -> bool``
            Called after every optimizer iteration of the final fit; True stops it.

        Returns
        -------
        self.  A fit that raises leaves a previously fitted estimator as it was.
        """
        self._check_params()
        Xs, _ = self._validate_views(views, fitting=True)
        rng = check_random_state(self.random_state)
        if self.n_components == "auto":
            k, search = dimension_search(self, Xs, rng)
        else:
            k, search = int(self.n_components), None
        self._fit_k(Xs, k, rng, callbacks, extra={"dimension_search_": search})
        return self

    def fit_transform(self, views, y=None, *, callbacks=None):
        """``fit(views)`` then ``transform(views)``: a list of M arrays (n, k)."""
        return self.fit(views, y, callbacks=callbacks).transform(views)

    def _resolve_solver(self, n):
        if self.solver != "auto":
            return self.solver
        limit = 5000 if self.similarity == "contrastive" else 10000
        return "lbfgs" if n <= limit else "adam"

    def _fit_k(self, Xs, k, rng, callbacks=None, extra=None):
        """Fit with k components (:func:`.fitting.fit_fixed_k`); every fitted attribute is
        set at the end, together, so a fit that raises changes nothing."""
        # the fit's own dense algebra (the L-BFGS updates, the Nystroem eigendecomposition,
        # F @ W) is small next to the kernels, which bring their own threads: with spare
        # BLAS threads spinning in between, SciPy L-BFGS-B's step alone cost ~40 ms per iteration
        # on a busy 2-core machine.  One re-entrant single-thread limit for the whole fit:
        # the kernels' own (nested) limits then cost a counter, not two threadpoolctl calls
        # each (14 per digits-fit evaluation, 0.5 ms of its 10)
        with single_threaded_blas():
            fitted = fit_fixed_k(self, Xs, k, rng, callbacks)
        self.__dict__.update({**fitted, **(extra or {})})
        return self

    def _similarity_value(self, A, B):
        kw = dict(kernel=self._kernel_name(), gamma=self.gamma_, degree=self.degree, coef0=self.coef0,
                  compute_grad=False)
        if self.similarity == "paired":
            return paired_similarity_and_grad(A, B, **kw)[0]
        return contrastive_similarity_and_grad(A, B, temperature=self.temperature, n_threads=self.n_threads,
                                               backend=self.backend, **kw)[0]

    # ------------------------------------------------------------- transform
    def _scale(self, X, m):
        return scale_rows(X, self.means_[m], self.scales_[m])

    def _features(self, X, m):
        """Phi_m of raw rows X of modality m (scaled, then the feature map)."""
        return self.feature_maps_[m].transform(self._scale(X, m), n_threads=self.n_threads, backend=self.backend)

    def _transform_one(self, X, m):
        if is_dask_array(X):  # a lazy dask array: map_blocks of this method (alignxpert_fast.dask._views)
            from ..dask._views import transform_blocks

            return transform_blocks(self, X, m)
        Z = self._features(X, m) @ self.components_[m].astype(X.dtype, copy=False)
        scale = getattr(self, "output_scale_", 1.0)
        if scale != 1.0:
            Z *= X.dtype.type(scale)
        return Z

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
        float32 if the input is float32, else float64.  A dask array input gives a lazy
        dask array (one task per row chunk, the model shared once).
        """
        self._check_is_fitted("transform")
        if modality is not None:
            if isinstance(modality, (bool, np.bool_)) or not isinstance(modality, numbers.Integral):
                raise TypeError(f"modality must be an int index, got {modality!r}")
            if not -self.n_modalities_ <= modality < self.n_modalities_:
                raise ValueError(f"modality must be in [0, {self.n_modalities_}), got {modality}")
            m = int(modality) % self.n_modalities_
            X = views if is_dask_array(views) else check_matrix(views, "X")
            self._check_width(X, m, "X")
            return self._transform_one(X, m)
        Xs, _ = self._validate_views(views, fitting=False)
        return [self._transform_one(X, m) for m, X in enumerate(Xs)]

    def score(self, views, y=None):
        """Held-in cross-modal retrieval score of paired views: the mean reciprocal rank of
        row i of modality b among all rows of b for query row i of modality a, averaged
        over the ordered modality pairs (a, b), a != b.  In (0, 1], higher is better
        (scikit-learn's convention), so model selection can maximize it.

        The retrieval score matches the similarity kernel (euclidean for rbf, cosine for
        cosine, dot otherwise), as in the dimension search.
        """
        self._check_is_fitted("score")
        Zs = self.transform(views)
        n = {Z.shape[0] for Z in Zs}
        if len(n) != 1:
            raise ValueError(f"score needs paired views with the same number of rows, got {[Z.shape[0] for Z in Zs]}")
        return cross_modal_mrr(Zs, metric=retrieval_metric(self._kernel_name()))

    # -------------------------------------------------------------- save / load
    def save(self, path):
        """Save the fitted model to one ``.npz`` file (arrays + a JSON header; no pickle).

        NumPy appends ``.npz`` when ``path`` has another suffix; the path written is
        returned.  Parameters that are not JSON values (a Generator ``random_state``)
        are stored as None.
        """
        self._check_is_fitted("save")
        return persistence.save(self, path)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save` (``allow_pickle=False``)."""
        return persistence.load(cls, path)
