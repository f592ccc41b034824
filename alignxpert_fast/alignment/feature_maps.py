"""Per-modality feature maps Phi_m for the AlignXpert objective.

``LinearMap`` is the identity.  ``NystroemMap`` is an explicit Nyström approximation of an
RBF or polynomial kernel feature space on ``r`` landmark rows: with ``K_LL`` the landmark
Gram matrix and ``K_LL = V diag(w) V^T``,

    Phi(X) = K(X, L) V diag(w)^{-1/2} - mu,

keeping eigenvalues ``w > eig_tol * max(w)`` (so the dimension can be below ``r``), and
``mu`` the mean of Phi over the rows the map was fitted on (the fitted features are
centered, as in kernel PCA).  ``Phi(x) . Phi(y) + ...`` reproduces ``K(x, y)`` on the
span of the landmarks.  Because the map only needs ``K(X, L)``, ``transform`` works on
new rows; the Gram blocks come from :func:`alignxpert_fast.rbf_kernel` /
:func:`alignxpert_fast.polynomial_kernel`.

Defaults assume the inputs were scaled as :class:`alignxpert_fast.AlignXpert`
scales them (centered, unit mean squared row norm), but are computed from the data, so a
map fitted standalone is sensible too:

- rbf ``gamma=None`` -> ``1 / mean_{i,j} ||x_i - x_j||^2`` (= 0.5 for scaled inputs), so
  the average exponent is -1; in :class:`ResidualMap` (``"linear+rbf"``, next to the
  identity) ``RESIDUAL_GAMMA_SCALE`` (4) times that (= 2 for scaled inputs): the linear
  block carries the global geometry, the Nyström block the local detail;
- poly ``gamma=None`` -> ``1 / mean_i ||x_i - mean||^2`` (= 1 for scaled inputs), so
  ``gamma <x, y>`` is O(1).

Memory: the landmarks (r x d), the normalization (r x r) and, in ``transform``, the
output (n x r) plus one (n x r) Gram block.
"""
from __future__ import annotations

import numpy as np

from .._utils.random import check_random_state
from .._utils.validation import check_matrix
from ..kernels.gram import polynomial_kernel, rbf_kernel
from ._params import FEATURE_MAPS, check_param
from .rowmap import FactoredRows

__all__ = ["LinearMap", "NystroemMap", "ResidualMap", "make_feature_map", "FEATURE_MAPS"]


# Measured on the five quality datasets (n <= 1797, benchmarks/results/speed_variants.md):
# 700 landmarks scored as 1000 did (digits halves MRR 0.324 vs 0.322, digits views 0.983
# vs 0.981, the rest equal) and fitted 27 % faster; 500 lost digits-halves R@1 and 300
# its MRR.
DEFAULT_LANDMARKS = 700

# The rbf width of the Nyström block next to the identity ("linear+rbf"): gamma =
# RESIDUAL_GAMMA_SCALE / mean squared distance.  Measured on the five quality datasets (3
# seeds, benchmarks/results/defaults_experiments.md), scales 0.5 to 8: 4 is the only one
# at or above every baseline on all five metrics of all four main datasets (digits-views
# P@10 0.868 vs Procrustes' 0.863, where the scale 1 gave 0.853; the digits halves MRR
# 0.347 vs 0.328); 2 and 3 drop the synthetic R@1 below CCA's, 6 and 8 the digits-views
# P@10 and the synthetic transfer, 0.5 and 1 the digits-views P@10 (0.5 the synthetic
# transfer and several wine cells too).  The synthetic R@1 margin is thin (0.191 vs
# 0.188).  A standalone rbf map keeps scale 1: it must carry the global geometry itself
# (digits-views MRR 0.991 at 1 vs 0.924 at 4).
RESIDUAL_GAMMA_SCALE = 4.0


def check_feature_map_name(name, argname="feature_map"):
    """A feature-map name (or alias) -> its canonical name; errors name ``argname``."""
    try:
        return check_param("feature_map", name)
    except ValueError as exc:
        raise ValueError(str(exc).replace("feature_map", argname, 1)) from None


class LinearMap:
    """Identity feature map: ``Phi(X) = X``."""

    kind = "linear"

    def fit(self, X, *, n_threads=None, backend="auto"):
        self.n_features_in_ = X.shape[1]
        self.n_linear_ = X.shape[1]
        self.n_output_ = X.shape[1]
        return self

    def transform(self, X, *, n_threads=None, backend="auto"):
        return X

    def fit_transform(self, X, *, n_threads=None, backend="auto"):
        return self.fit(X).transform(X)

    def get_state(self):
        return {"kind": "linear", "n_features_in": int(self.n_features_in_)}, {}

    @classmethod
    def from_state(cls, meta, arrays):
        m = cls()
        m.n_features_in_ = m.n_output_ = m.n_linear_ = int(meta["n_features_in"])
        return m


class NystroemMap:
    """Nyström feature map for the ``"rbf"`` or ``"poly"`` kernel (see module docstring).

    Parameters
    ----------
    kernel : {"rbf", "poly"}
    n_landmarks : int, default=None
        None means ``min(n, DEFAULT_LANDMARKS)`` (700); larger values are clipped to n.
    gamma, degree, coef0 : kernel parameters (gamma=None: data-dependent default).
    random_state : None, int or Generator
        Chooses the landmark rows (uniformly, without replacement).
    eig_tol : float, default=1e-10
        Relative eigenvalue cutoff of ``K_LL`` (pseudo-inverse square root).
    gamma_scale : float, default=1.0
        rbf with ``gamma=None``: gamma = gamma_scale / mean squared distance
        (:class:`ResidualMap` passes ``RESIDUAL_GAMMA_SCALE``).
    """

    def __init__(self, kernel="rbf", n_landmarks=None, gamma=None, degree=3, coef0=1.0, random_state=None,
                 eig_tol=1e-10, gamma_scale=1.0):
        self.kernel = kernel
        self.n_landmarks = n_landmarks
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.random_state = random_state
        self.eig_tol = eig_tol
        self.gamma_scale = gamma_scale

    @property
    def kind(self):
        return getattr(self, "kernel_", self.kernel)

    def _gram(self, X, Y, n_threads=None, backend="auto"):
        if self.kernel_ == "rbf":
            return rbf_kernel(X, Y, gamma=self.gamma_, n_threads=n_threads, backend=backend)
        return polynomial_kernel(X, Y, degree=self.degree_, gamma=self.gamma_, coef0=self.coef0_,
                                 n_threads=n_threads, backend=backend)

    def fit(self, X, *, n_threads=None, backend="auto"):
        self._fit(X, n_threads, backend)
        return self

    def fit_transform(self, X, *, n_threads=None, backend="auto"):
        """``fit(X).transform(X)`` with one feature pass instead of two (the fit's mean
        already needs Phi(X)); the same values as ``transform``."""
        F = self._fit(X, n_threads, backend)
        F -= self.mean_.astype(F.dtype, copy=False)
        return F

    def _fit(self, X, n_threads, backend):
        """Fit; returns Phi(X) before centring (what the mean is taken of)."""
        kernel = check_feature_map_name(self.kernel, "kernel")
        if kernel == "linear":
            raise ValueError("NystroemMap needs kernel='rbf' or 'poly'; use LinearMap for the identity")
        self.kernel_ = kernel
        X = check_matrix(X, "X", min_rows=1)
        n, d = X.shape
        if self.n_landmarks is None:
            r = min(n, DEFAULT_LANDMARKS)
        else:
            r = min(n, check_param("n_landmarks", self.n_landmarks))
        rng = check_random_state(self.random_state)
        idx = np.sort(rng.choice(n, size=r, replace=False))
        Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
        msq = float(np.mean(np.einsum("ij,ij->i", Xc, Xc)))
        if self.gamma is None:
            # kernel == "rbf": mean_{i,j} ||x_i - x_j||^2 = 2 * mean ||x_i - mean||^2
            self.gamma_ = self.gamma_scale / (2.0 * msq) if kernel == "rbf" else 1.0 / msq
            if not np.isfinite(self.gamma_) or self.gamma_ <= 0:
                raise ValueError("cannot choose gamma: all rows of X are identical; pass gamma explicitly")
        else:
            self.gamma_ = check_param("map_gamma", self.gamma)
        self.degree_ = check_param("map_degree", self.degree) if kernel == "poly" else 1
        self.coef0_ = check_param("map_coef0", self.coef0) if kernel == "poly" else 0.0
        self.landmarks_ = np.ascontiguousarray(X[idx])
        L64 = self.landmarks_.astype(np.float64)
        K = self._gram(L64, L64, n_threads, backend)
        K = 0.5 * (K + K.T)
        w, V = np.linalg.eigh(K)
        wmax = float(w[-1]) if w.size else 0.0
        if wmax <= 0:
            raise ValueError("the landmark kernel matrix is zero; check the data and the kernel parameters")
        keep = w > self.eig_tol * wmax
        # largest eigenvalues first, deterministic signs (largest |entry| of each vector positive)
        w, V = w[keep][::-1], V[:, keep][:, ::-1]
        sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(V.shape[1])])
        V = V * np.where(sign == 0, 1.0, sign)
        self.normalization_ = V / np.sqrt(w)
        self.n_features_in_ = d
        self.n_output_ = self.normalization_.shape[1]
        self.mean_ = np.zeros(self.n_output_)
        F = self.transform(X, n_threads=n_threads, backend=backend)  # mean_ = 0: uncentred
        self.mean_ = F.mean(axis=0, dtype=np.float64)
        return F

    def transform(self, X, *, n_threads=None, backend="auto"):
        """Phi(X) of shape (n, n_output_), in X's dtype (float32 or float64)."""
        F = self._landmark_gram(X, n_threads, backend) @ self._normalization(X.dtype)
        F -= self.mean_.astype(X.dtype, copy=False)
        return F

    def factored(self, X, *, n_threads=None, backend="auto", linear=None):
        """Phi(X) as :class:`FactoredRows` (``[linear | Phi(X)]`` when ``linear`` is given):
        the minibatch solver's products without forming ``K(X, L) N``."""
        return FactoredRows(linear, self._landmark_gram(X, n_threads, backend), self._normalization(X.dtype),
                            self.mean_.astype(X.dtype))

    def _landmark_gram(self, X, n_threads, backend):
        return self._gram(X, self.landmarks_.astype(X.dtype, copy=False), n_threads, backend)

    def _normalization(self, dtype):
        """``normalization_`` in ``dtype``, converted once per fitted normalization (the
        minibatch solver asks for it every step; a refit replaces ``normalization_``)."""
        source, converted = getattr(self, "_norm_cache", (None, None))
        if source is not self.normalization_ or converted.dtype != dtype:
            converted = np.ascontiguousarray(self.normalization_, dtype=dtype)
            self._norm_cache = (self.normalization_, converted)
        return converted

    def get_state(self):
        meta = {"kind": self.kernel_, "gamma": float(self.gamma_), "degree": int(self.degree_),
                "coef0": float(self.coef0_), "n_features_in": int(self.n_features_in_),
                "n_landmarks": self.n_landmarks, "eig_tol": float(self.eig_tol)}
        arrays = {"landmarks": self.landmarks_, "normalization": self.normalization_, "mean": self.mean_}
        return meta, arrays

    @classmethod
    def from_state(cls, meta, arrays):
        m = cls(kernel=meta["kind"], n_landmarks=meta.get("n_landmarks"), gamma=meta["gamma"],
                degree=meta["degree"], coef0=meta["coef0"], eig_tol=meta.get("eig_tol", 1e-10))
        m.kernel_ = meta["kind"]
        m.gamma_, m.degree_, m.coef0_ = meta["gamma"], meta["degree"], meta["coef0"]
        m.landmarks_ = np.ascontiguousarray(arrays["landmarks"])
        m.normalization_ = np.ascontiguousarray(arrays["normalization"], dtype=np.float64)
        m.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        m.n_features_in_ = int(meta["n_features_in"])
        m.n_output_ = m.normalization_.shape[1]
        return m


class ResidualMap:
    """``Phi(X) = [X, Nystroem_rbf(X)]``: the identity next to a Nyström RBF map.

    The first ``n_features_in_`` output columns are X itself, so every linear solution
    stays reachable (a projection with zero rows on the Nyström block is the linear map;
    the estimator's ``init="cca"`` starts there) and the Nyström block adds a nonlinear
    correction.  Parameters as :class:`NystroemMap` (kernel fixed to rbf).
    """

    kind = "linear+rbf"

    def __init__(self, n_landmarks=None, gamma=None, random_state=None, eig_tol=1e-10):
        self.n_landmarks = n_landmarks
        self.gamma = gamma
        self.random_state = random_state
        self.eig_tol = eig_tol

    def fit(self, X, *, n_threads=None, backend="auto"):
        self._fit_nystroem(X, n_threads, backend).fit(X, n_threads=n_threads, backend=backend)
        self.n_output_ = self.n_features_in_ + self.nystroem_.n_output_
        return self

    def _fit_nystroem(self, X, n_threads, backend):
        self.nystroem_ = NystroemMap("rbf", n_landmarks=self.n_landmarks, gamma=self.gamma,
                                     random_state=self.random_state, eig_tol=self.eig_tol,
                                     gamma_scale=RESIDUAL_GAMMA_SCALE)
        self.n_features_in_ = int(X.shape[1])
        self.n_linear_ = self.n_features_in_
        return self.nystroem_

    def transform(self, X, *, n_threads=None, backend="auto"):
        F = self.nystroem_.transform(X, n_threads=n_threads, backend=backend)
        return np.concatenate([np.asarray(X, dtype=F.dtype), F], axis=1)

    def fit_transform(self, X, *, n_threads=None, backend="auto"):
        """``fit(X).transform(X)`` with one feature pass (:meth:`NystroemMap.fit_transform`)."""
        F = self._fit_nystroem(X, n_threads, backend).fit_transform(X, n_threads=n_threads, backend=backend)
        self.n_output_ = self.n_features_in_ + self.nystroem_.n_output_
        return np.concatenate([np.asarray(X, dtype=F.dtype), F], axis=1)

    def factored(self, X, *, n_threads=None, backend="auto"):
        """``[X, Phi(X)]`` as :class:`FactoredRows` (see :meth:`NystroemMap.factored`)."""
        return self.nystroem_.factored(X, n_threads=n_threads, backend=backend, linear=X)

    def get_state(self):
        meta, arrays = self.nystroem_.get_state()
        return {**meta, "kind": "linear+rbf", "inner": meta["kind"]}, arrays

    @classmethod
    def from_state(cls, meta, arrays):
        inner = NystroemMap.from_state({**meta, "kind": meta.get("inner", "rbf")}, arrays)
        m = cls(n_landmarks=meta.get("n_landmarks"), gamma=meta["gamma"], eig_tol=meta.get("eig_tol", 1e-10))
        m.nystroem_ = inner
        m.n_features_in_ = m.n_linear_ = int(meta["n_features_in"])
        m.n_output_ = m.n_features_in_ + inner.n_output_
        return m


def make_feature_map(name, *, n_landmarks=None, gamma=None, degree=3, coef0=1.0, random_state=None):
    """``"linear"`` -> :class:`LinearMap`; ``"rbf"`` / ``"poly"`` -> :class:`NystroemMap`;
    ``"linear+rbf"`` -> :class:`ResidualMap`."""
    kind = check_feature_map_name(name)
    if kind == "linear":
        return LinearMap()
    if kind == "linear+rbf":
        return ResidualMap(n_landmarks=n_landmarks, gamma=gamma, random_state=random_state)
    return NystroemMap(kind, n_landmarks=n_landmarks, gamma=gamma, degree=degree, coef0=coef0,
                       random_state=random_state)


def map_from_state(meta, arrays):
    if meta["kind"] == "linear":
        return LinearMap.from_state(meta, arrays)
    if meta["kind"] == "linear+rbf":
        return ResidualMap.from_state(meta, arrays)
    return NystroemMap.from_state(meta, arrays)
