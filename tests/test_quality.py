"""Issue 8: multi-view datasets, baselines, CCA init, residual map, squared stress, early
stopping, upward projection, score.  Small inputs only (the whole file runs in seconds)."""
from __future__ import annotations

import numpy as np
import pytest

import alignxpert_fast as axf
from alignxpert_fast import AlignXpert
from alignxpert_fast.evaluation.baselines import BASELINES, fit_baseline, regularized_mcca
from alignxpert_fast.datasets import (digits_shape_features, load_breast_cancer_views, load_digits_views,
                                      load_wine_views, make_paired_modalities)
from alignxpert_fast.alignment.feature_maps import ResidualMap, make_feature_map, map_from_state
from alignxpert_fast.alignment.objective import AlignXpertObjective

pytest.importorskip("sklearn")


@pytest.fixture(autouse=True)
def _single_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), axf.config_context(n_threads=1):
        yield


@pytest.fixture(scope="module")
def pairs():
    views, latent = make_paired_modalities(150, dims=(12, 6), n_latent=3, noise=0.1, nonlinearity="linear",
                                           random_state=0)
    return views, latent


# ------------------------------------------------------------------- datasets
@pytest.mark.parametrize("loader, shapes, n_classes", [
    (load_digits_views, [(1797, 64), (1797, 71)], 10),
    (load_breast_cancer_views, [(569, 10), (569, 10)], 2),
    (load_wine_views, [(178, 6), (178, 7)], 3),
])
def test_multiview_loaders(loader, shapes, n_classes):
    views, y = loader()
    assert [v.shape for v in views] == shapes
    assert all(v.dtype == np.float32 and np.all(np.isfinite(v)) for v in views)
    assert y.dtype == np.int64 and y.shape == (shapes[0][0],) and np.unique(y).size == n_classes
    again, _ = loader(dtype=np.float64)
    for a, b in zip(views, again):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)  # deterministic
    with pytest.raises(TypeError):
        loader(dtype=np.int32)


def test_breast_cancer_groups_and_digit_features():
    views, _ = load_breast_cancer_views(groups=("mean", "se", "worst"))
    assert len(views) == 3
    with pytest.raises(ValueError, match="groups"):
        load_breast_cancer_views(groups=("mean",))
    img = np.zeros((2, 8, 8))
    img[1, 2:6, 3] = 16.0
    F = digits_shape_features(img)
    assert F.shape == (2, 71) and np.all(np.isfinite(F))
    # translation invariance of the Fourier block (circular shift)
    shifted = np.roll(img, 1, axis=2)
    np.testing.assert_allclose(digits_shape_features(shifted)[:, :39], F[:, :39], rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ baselines
@pytest.mark.parametrize("name", BASELINES)
def test_baselines_fit_transform(pairs, name):
    views, _ = pairs
    mdl = fit_baseline(name, views[:2], 4, random_state=0)
    Z = mdl.transform(views[:2])
    assert len(Z) == 2 and Z[0].shape == Z[1].shape and Z[0].shape[0] == 150
    assert mdl.fit_time_ >= 0 and "k" in mdl.params_
    if name == "procrustes":
        assert Z[0].shape[1] == 12  # padded to the widest view
    # aligned baselines retrieve better than chance
    if name != "pca":
        from alignxpert_fast.metrics import mean_reciprocal_rank
        assert mean_reciprocal_rank(Z[0], Z[1]) > 0.1


def test_baseline_errors(pairs):
    views, _ = pairs
    with pytest.raises(ValueError, match="name must be one of"):
        fit_baseline("kcca", views, 3)
    with pytest.raises(ValueError, match="exactly two views"):
        fit_baseline("cca", [views[0], views[1], views[0]], 3)
    with pytest.raises(ValueError, match="same number of rows"):
        fit_baseline("rcca", [views[0], views[1][:10]], 3)


def test_regularized_mcca_matches_cca_correlations(pairs):
    views, _ = pairs
    Xs = [v.astype(np.float64) - v.mean(axis=0) for v in views]
    Ws, corr = regularized_mcca(Xs, 3, reg=1e-6, return_corr=True)
    Z0, Z1 = Xs[0] @ Ws[0], Xs[1] @ Ws[1]
    np.testing.assert_allclose(np.mean(Z0**2, axis=0), 1.0, rtol=1e-8)  # unit variance columns
    np.testing.assert_allclose(np.mean(Z1**2, axis=0), 1.0, rtol=1e-8)
    assert np.all(np.diff(corr) <= 1e-9) and corr[0] > 0.95  # linear views of a 3-d latent
    # top canonical correlation agrees with the SVD of the whitened cross-covariance
    def whiten(X):
        U, _, _ = np.linalg.svd(X, full_matrices=False)
        return U
    s = np.linalg.svd(whiten(Xs[0]).T @ whiten(Xs[1]), compute_uv=False)
    assert corr[0] == pytest.approx(s[0], abs=1e-4)
    # three views
    W3 = regularized_mcca(Xs + [Xs[0][:, :5]], 4)
    assert [W.shape for W in W3] == [(12, 4), (6, 4), (5, 4)]


# ------------------------------------------------------------- feature maps
def test_residual_map_keeps_the_inputs_and_round_trips(pairs):
    X = pairs[0][0].astype(np.float64)
    fm = make_feature_map("linear+rbf", n_landmarks=20, random_state=0)
    assert isinstance(fm, ResidualMap)
    fm.fit(X)
    F = fm.transform(X)
    assert F.shape == (150, fm.n_output_) and fm.n_linear_ == 12
    np.testing.assert_array_equal(F[:, :12], X)
    meta, arrays = fm.get_state()
    back = map_from_state(meta, arrays)
    np.testing.assert_allclose(back.transform(X), F, rtol=1e-9, atol=1e-12)


def test_default_rbf_widths_of_the_standalone_and_residual_maps(pairs):
    """gamma=None: 1 / mean squared distance for a standalone rbf map, RESIDUAL_GAMMA_SCALE
    (4) times that for the rbf block next to the identity; an explicit gamma wins in both,
    and the width round-trips through the saved state."""
    from alignxpert_fast.alignment.feature_maps import RESIDUAL_GAMMA_SCALE, NystroemMap

    X = pairs[0][0].astype(np.float64)
    Xc = X - X.mean(axis=0)
    mean_sq_dist = 2.0 * np.mean(np.sum(Xc * Xc, axis=1))  # mean over all ordered pairs (i, j)
    alone = NystroemMap("rbf", n_landmarks=20, random_state=0).fit(X)
    assert alone.gamma_ == pytest.approx(1.0 / mean_sq_dist, rel=1e-12)
    residual = ResidualMap(n_landmarks=20, random_state=0).fit(X)
    assert RESIDUAL_GAMMA_SCALE == 4.0
    assert residual.nystroem_.gamma_ == pytest.approx(RESIDUAL_GAMMA_SCALE / mean_sq_dist, rel=1e-12)
    assert ResidualMap(n_landmarks=20, gamma=0.3, random_state=0).fit(X).nystroem_.gamma_ == 0.3
    # the class default is untouched by a residual map's setting
    assert NystroemMap("rbf", n_landmarks=20, random_state=0).fit(X).gamma_ == alone.gamma_
    back = map_from_state(*residual.get_state())
    assert back.nystroem_.gamma_ == residual.nystroem_.gamma_
    np.testing.assert_allclose(back.transform(X), residual.transform(X), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ squared stress
def test_squared_stress_value_and_gradient(pairs):
    views, _ = pairs
    Xs = [v.astype(np.float64) for v in views]
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((X.shape[1], 3)) * 0.3 for X in Xs]
    kw = dict(similarity="paired", kernel="rbf", gamma=0.5, alpha=1.0, lam=0.0, stress_cache=False)
    kr = AlignXpertObjective(Xs, Xs, **kw)
    sq = AlignXpertObjective(Xs, Xs, stress_kind="squared", **kw)
    kr.value_and_grad(Ws)
    v, g = sq.value_and_grad(Ws)
    s = [axf.stress(X, X @ W) for X, W in zip(Xs, Ws)]
    assert sq.last_terms["stress"] == pytest.approx(sum(v * v for v in s), rel=1e-10)
    # finite differences on a few coordinates
    eps = 1e-6
    for (m, i, j) in [(0, 0, 0), (1, 2, 1), (0, 5, 2)]:
        Wp = [W.copy() for W in Ws]
        Wm = [W.copy() for W in Ws]
        Wp[m][i, j] += eps
        Wm[m][i, j] -= eps
        fd = (sq.value_and_grad(Wp)[0] - sq.value_and_grad(Wm)[0]) / (2 * eps)
        assert g[m][i, j] == pytest.approx(fd, rel=1e-4, abs=1e-7)
    with pytest.raises(ValueError, match="stress must be one of"):
        AlignXpertObjective(Xs, Xs, stress_kind="sammon", **kw)


# ---------------------------------------------------------------- estimator
def test_cca_init_starts_at_linear_cca(pairs):
    """init='cca' with the residual map: W0's Nyström rows are zero and its linear rows
    are the regularized CCA axes (weighted by their correlations)."""
    from alignxpert_fast.alignment.init import init_projections as _init_projections

    views, _ = pairs
    Xs = [v.astype(np.float64) - v.mean(axis=0) for v in views]
    rng = np.random.default_rng(0)
    Fs = [np.hstack([X, rng.standard_normal((150, 7))]) for X in Xs]
    W0 = _init_projections(Fs, 4, rng, "cca", n_linear=[12, 6])
    assert [W.shape for W in W0] == [(19, 4), (13, 4)]
    assert np.all(W0[0][12:] == 0) and np.all(W0[1][6:] == 0)
    Z = [F @ W for F, W in zip(Fs, W0)]
    c = [abs(np.corrcoef(Z[0][:, j], Z[1][:, j])[0, 1]) for j in range(3)]
    assert c[0] > 0.99 and min(c) > 0.8  # the shared 3-d latent
    for z in Z:
        assert np.mean(np.sum(z**2, axis=1)) == pytest.approx(1.0, rel=1e-6)


def test_cca_init_fills_columns_beyond_the_canonical_axes_with_pca(pairs):
    """k above the canonical axes (k = 16, widths 12 / 6: 6 axes): the next min d_m = 6
    columns hold each view's top principal axes, Procrustes-rotated onto view 0's, at
    PCA_FILL times the CCA block's mean squared norm; the last 4 columns are small and random."""
    from alignxpert_fast.alignment.init import PCA_FILL, init_projections as _init_projections

    views, _ = pairs
    Xs = [v.astype(np.float64) - v.mean(axis=0) for v in views]
    W0 = _init_projections(Xs, 16, np.random.default_rng(0), "cca")
    Z = [X @ W for X, W in zip(Xs, W0)]
    blocks = [z[:, 6:12] for z in Z]
    for X, z, b in zip(Xs, Z, blocks):
        assert np.mean(np.sum(z[:, :6] ** 2, axis=1)) == pytest.approx(1.0, rel=1e-6)
        assert np.mean(np.sum(b**2, axis=1)) == pytest.approx(PCA_FILL, rel=1e-6)
        # the block spans the view's top 6 principal axes
        _, _, Vt = np.linalg.svd(X, full_matrices=False)
        top = X @ Vt[:6].T
        resid = b - top @ np.linalg.lstsq(top, b, rcond=None)[0]
        assert np.linalg.norm(resid) <= 1e-8 * np.linalg.norm(b)
        tail = np.mean(np.sum(z[:, 12:] ** 2, axis=1))
        assert 0 < tail < 1e-2
    # Procrustes optimum: block 1's cross-product with block 0 is symmetric positive semidefinite
    C = blocks[1].T @ blocks[0]
    np.testing.assert_allclose(C, C.T, atol=1e-8 * np.abs(C).max())
    assert np.linalg.eigvalsh(0.5 * (C + C.T)).min() >= -1e-8 * np.abs(C).max()


def test_defaults_fit_early_stopping_and_score(pairs):
    views, _ = pairs
    est = AlignXpert(n_components=4, random_state=0, max_iter=20, n_landmarks=30).fit(views)
    assert est.similarity == "contrastive" and est.init == "cca" and est.feature_map == "linear+rbf"
    assert est.validation_scores_[0][0] == 0 and 0 <= est.best_iteration_ <= est.early_stopping_iterations_
    assert 0 < est.validation_score_ <= 1
    Z = est.transform(views)
    assert np.mean(np.sum(np.concatenate(Z) ** 2, axis=1)) == pytest.approx(4.0, rel=0.2)  # output scale
    s = est.score(views)
    assert 0.1 < s <= 1.0
    # the same fit without early stopping has no validation record
    est2 = AlignXpert(n_components=4, random_state=0, max_iter=5, n_landmarks=30, early_stopping=False).fit(views)
    assert est2.validation_scores_ is None and est2.best_iteration_ is None


def test_defaults_save_load_round_trip(pairs, tmp_path):
    views, _ = pairs
    est = AlignXpert(n_components=3, random_state=0, max_iter=5, n_landmarks=20).fit(views)
    back = AlignXpert.load(est.save(tmp_path / "m"))
    for a, b in zip(est.transform(views), back.transform(views)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("init", ["pca", "cca"])
def test_upward_projection_every_column_moves(pairs, init):
    """k > max d_m: the columns beyond the init's axes start small and random (not zero),
    and the fit moves them."""
    views, _ = pairs
    k = 20
    est = AlignXpert(n_components=k, random_state=0, max_iter=10, feature_map="linear", init=init,
                     early_stopping=False, alpha=0.5).fit(views)
    for W in est.components_:
        assert W.shape[1] == k and np.all(np.linalg.norm(W, axis=0) > 0)
    Z = est.transform(views)
    assert all(np.linalg.matrix_rank(z.astype(np.float64)) >= 6 for z in Z)


def test_early_stopping_keeps_the_best_checked_projections():
    """No refit: the projections kept are the ones with the best held-out MRR, at the
    check where it was reached; later (worse) iterates do not overwrite them."""
    from alignxpert_fast.alignment.fitting import EarlyStopping, heldout_mrr

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((60, 3))
    Fval = [Z + 0.05 * rng.standard_normal((60, 3)), Z + 0.05 * rng.standard_normal((60, 3))]
    good = [np.eye(3), np.eye(3)]
    bad = [np.eye(3), rng.standard_normal((3, 3))]
    stop = EarlyStopping(Fval, bad, "cosine", patience=2, every=1)
    assert stop.best_iteration == 0
    assert not stop(1, 0.0, good)
    assert not stop(2, 0.0, bad)
    assert stop(3, 0.0, bad)  # two checks without improvement
    assert stop.best_iteration == 1
    assert stop.best_score == pytest.approx(heldout_mrr(Fval, good, "cosine"))
    assert all(np.array_equal(a, b) for a, b in zip(stop.best_params, good))
    good[1][0, 0] = 7.0  # a copy was kept, not a reference to the optimizer's arrays
    assert stop.best_params[1][0, 0] == 1.0
