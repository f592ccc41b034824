"""Baselines for multimodal alignment behind one small API.

    model = fit_baseline(name, views_train, k, random_state=0)
    Z_test = model.transform(views_test)        # list of M arrays (n, k_out)

Every baseline first scales each view as :class:`alignxpert_fast.AlignXpert` does
(centered, divided by the root mean squared row norm of the training rows), so the
comparison is on the same inputs.  Names:

``"pca"``
    per-view PCA to ``min(k, d_m)`` axes, zero-padded to k (no alignment: the floor).
``"pca_procrustes"``
    per-view PCA, then views 2..M rotated onto view 1 by orthogonal Procrustes on the
    training pairs (the paper's ``init="pca"``).
``"procrustes"``
    orthogonal Procrustes on the raw (scaled) views: every view zero-padded to the widest
    width ``max d_m`` (k is ignored), views 2..M rotated onto view 1.
``"rcca"``
    regularized generalized CCA for M >= 2 views (:func:`regularized_mcca`: one
    generalized symmetric eigenproblem, SUMCOR/MAXVAR-style); with ``tune=True`` (default)
    k in ``{2, 4, 8, ..., k}`` and the ridge ``reg`` in ``{1e-3, 1e-2, 1e-1}`` are chosen by the
    held-out cross-modal MRR on a 20 % split of the training pairs, then refitted on all of
    them.
``"cca"``
    scikit-learn's :class:`~sklearn.cross_decomposition.CCA` (2 views only), k tuned the
    same way (``{2, 4, 8, ..., min(k, d_1, d_2)}``).

The fitted object has ``transform(views)``, ``name``, ``n_components_`` (output width),
``params_`` (the tuned values) and ``fit_time_`` (seconds, tuning included).

The lower-level ``pca_projections``, ``procrustes_align`` and ``cca_projections`` (the
demo's rows) are kept as functions.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .._utils.linalg import fix_signs, regularized_mcca
from .metrics import cross_modal_mrr

__all__ = ["fit_baseline", "BASELINES", "regularized_mcca", "scale_views", "Baseline", "pca_projections",
           "procrustes_align", "cca_projections"]

BASELINES = ("pca", "pca_procrustes", "procrustes", "rcca", "cca")


def scale_views(views):
    """(means, scales) per view: center, divide by the root mean squared row norm."""
    means, scales = [], []
    for X in views:
        X = np.asarray(X, dtype=np.float64)
        mu = X.mean(axis=0)
        s = float(np.sqrt(np.mean(np.sum((X - mu) ** 2, axis=1))))
        means.append(mu)
        scales.append(s if s > 0 else 1.0)
    return means, scales


def _orth_procrustes(Z_target, Z_source):
    U, _, Vt = np.linalg.svd(Z_source.T @ Z_target)
    return U @ Vt


def _pca_axes(X, k):
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    r = min(k, Vt.shape[0])
    W = np.zeros((X.shape[1], k))
    W[:, :r] = fix_signs(Vt[:r].T)
    return W


class Baseline:
    """A fitted baseline: linear maps ``Z_m = ((X_m - mean_m) / scale_m) W_m``."""

    def __init__(self, name, means, scales, Ws, params, fit_time, transform_fn=None, n_components=None):
        self.name = name
        self.means_ = means
        self.scales_ = scales
        self.components_ = Ws
        self.params_ = params
        self.fit_time_ = fit_time
        self.n_components_ = int(Ws[0].shape[1]) if Ws is not None else int(n_components)
        self._transform_fn = transform_fn

    def transform(self, views):
        if len(views) != len(self.means_):
            raise ValueError(f"expected {len(self.means_)} views, got {len(views)}")
        Xs = [(np.asarray(X, dtype=np.float64) - mu) / s for X, mu, s in zip(views, self.means_, self.scales_)]
        if self._transform_fn is not None:
            return self._transform_fn(Xs)
        return [X @ W for X, W in zip(Xs, self.components_)]

    def __repr__(self):
        return f"Baseline({self.name!r}, k={self.n_components_}, params={self.params_})"


def _k_grid(kmax):
    grid = [v for v in (2, 4, 8, 16, 32, 64, 128) if v < kmax] + [kmax]
    return sorted(set(v for v in grid if v >= 1))


def _split(n, frac, rng):
    perm = rng.permutation(n)
    n_val = max(2, int(round(frac * n)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _sk_cca(X, Y, k, max_iter):
    from sklearn.cross_decomposition import CCA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CCA(n_components=k, max_iter=max_iter, scale=False).fit(X, Y)


def fit_baseline(name, views_train, k, *, tune=True, random_state=0, validation_fraction=0.2, cca_max_iter=500):
    """Fit baseline ``name`` (one of :data:`BASELINES`) on paired training views.

    Parameters
    ----------
    name : str
    views_train : list of M >= 2 arrays (n, d_m), rows paired
    k : int >= 1, output width (the largest k tried when tuning)
    tune : bool, default=True
        ``"rcca"`` and ``"cca"``: choose k (and reg) by held-out MRR on a split of the
        training pairs (see the module docstring).
    random_state : int, seeds the tuning split
    validation_fraction : float, share of the training pairs held out for tuning

    Returns
    -------
    :class:`Baseline` (``transform(views)``, ``fit_time_``, ``params_``)
    """
    if name not in BASELINES:
        raise ValueError(f"name must be one of {list(BASELINES)}, got {name!r}")
    if not isinstance(views_train, (list, tuple)) or len(views_train) < 2:
        raise ValueError("views_train must be a list of at least two arrays with paired rows")
    n = np.shape(views_train[0])[0]
    if any(np.shape(V)[0] != n for V in views_train):
        raise ValueError("every view must have the same number of rows")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    t0 = time.perf_counter()
    means, scales = scale_views(views_train)
    Xs = [(np.asarray(X, dtype=np.float64) - mu) / s for X, mu, s in zip(views_train, means, scales)]
    M = len(Xs)
    rng = np.random.default_rng(random_state)
    params = {}
    if name in ("pca", "pca_procrustes"):
        Ws = [_pca_axes(X, k) for X in Xs]
        if name == "pca_procrustes":
            Z0 = Xs[0] @ Ws[0]
            for m in range(1, M):
                Ws[m] = Ws[m] @ _orth_procrustes(Z0, Xs[m] @ Ws[m])
        params["k"] = k
    elif name == "procrustes":
        width = max(X.shape[1] for X in Xs)
        Ws = [np.eye(X.shape[1], width) for X in Xs]
        Z0 = Xs[0] @ Ws[0]
        for m in range(1, M):
            Ws[m] = Ws[m] @ _orth_procrustes(Z0, Xs[m] @ Ws[m])
        params["k"] = width
    elif name == "rcca":
        kmax = min(k, min(X.shape[1] for X in Xs) if M == 2 else sum(X.shape[1] for X in Xs), n - 1)
        best_k, best_reg = kmax, 1e-2
        if tune:
            tr, va = _split(n, validation_fraction, rng)
            best = -1.0
            for reg in (1e-3, 1e-2, 1e-1):
                Wf = regularized_mcca([X[tr] for X in Xs], kmax, reg)
                mus = [X[tr].mean(axis=0) for X in Xs]
                for kk in _k_grid(kmax):
                    s = cross_modal_mrr([(X[va] - mu) @ W[:, :kk] for X, mu, W in zip(Xs, mus, Wf)])
                    if s > best + 1e-12:
                        best, best_k, best_reg = s, kk, reg
        Ws = regularized_mcca(Xs, best_k, best_reg)
        params.update(k=best_k, reg=best_reg)
    else:  # "cca"
        if M != 2:
            raise ValueError("'cca' (scikit-learn) takes exactly two views; use 'rcca' for M > 2")
        kmax = min(k, Xs[0].shape[1], Xs[1].shape[1], n - 1)
        best_k = kmax
        if tune:
            tr, va = _split(n, validation_fraction, rng)
            best = -1.0
            for kk in _k_grid(kmax):
                c = _sk_cca(Xs[0][tr], Xs[1][tr], kk, cca_max_iter)
                za, zb = c.transform(Xs[0][va], Xs[1][va])
                s = cross_modal_mrr([za, zb])
                if s > best + 1e-12:
                    best, best_k = s, kk
        cca = _sk_cca(Xs[0], Xs[1], best_k, cca_max_iter)
        params["k"] = best_k

        def _tf(Xsc, cca=cca):
            za, zb = cca.transform(Xsc[0], Xsc[1])
            return [np.asarray(za), np.asarray(zb)]

        return Baseline(name, means, scales, None, params, time.perf_counter() - t0, transform_fn=_tf,
                        n_components=best_k)
    return Baseline(name, means, scales, Ws, params, time.perf_counter() - t0)


# ---------------------------------------------------------------- function forms (the demo)
def pca_projections(X_train, k, X_apply=()):
    """Per-modality PCA by NumPy SVD: returns (Z_train, [Z for X in X_apply]), width k.

    The inputs are scaled as AlignXpert scales them (centered, divided by the root mean
    squared row norm of the training rows).  Uses the top min(k, d, n) principal axes
    (deterministic signs: the entry of largest magnitude of each axis positive) and pads with zero
    columns up to k, so modalities of different widths land in spaces of the same width.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    mu = X_train.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((X_train - mu) ** 2, axis=1)))) or 1.0
    _, _, Vt = np.linalg.svd(X_train - mu, full_matrices=False)
    r = min(k, Vt.shape[0])
    V = fix_signs(Vt[:r].T)
    W = np.zeros((X_train.shape[1], k))
    W[:, :r] = V / scale
    return (X_train - mu) @ W, [(np.asarray(X, dtype=np.float64) - mu) @ W for X in X_apply]


def procrustes_align(Z_target, Z_source):
    """Orthogonal R minimizing ||Z_source R - Z_target||_F (both (n, k))."""
    U, _, Vt = np.linalg.svd(np.asarray(Z_source).T @ np.asarray(Z_target))
    return U @ Vt


def cca_projections(X_train, Y_train, k, apply=(), max_iter=500):
    """scikit-learn CCA fitted on the training pairs.

    Returns ``(Zx_train, Zy_train, [(Zx, Zy) for (X, Y) in apply], warning_messages)``;
    raises ImportError without scikit-learn and ValueError when k > min(n, d_x, d_y).
    Warnings raised inside scikit-learn are collected, not emitted.
    """
    from sklearn.cross_decomposition import CCA  # lazy: scikit-learn is optional

    n, dx = np.shape(X_train)
    dy = np.shape(Y_train)[1]
    if k > min(n, dx, dy):
        raise ValueError(f"CCA needs k <= min(n, d_x, d_y) = {min(n, dx, dy)}, got k={k}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cca = CCA(n_components=k, max_iter=max_iter).fit(X_train, Y_train)
        zx, zy = cca.transform(X_train, Y_train)
        applied = [tuple(cca.transform(X, Y)) for X, Y in apply]
    msgs = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:120]}" for w in caught})
    return zx, zy, applied, msgs
