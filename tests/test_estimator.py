"""AlignXpert estimator: shapes, defaults (no collapse), reproducibility, optimizers,
callbacks, params / clone / repr, save / load, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import alignxpert_fast as axf
from alignxpert_fast.datasets import make_paired_modalities
from alignxpert_fast.alignment.estimator import AlignXpert, NotFittedError
from alignxpert_fast.alignment.objective import AlignXpertObjective
from alignxpert_fast.alignment.optim import minimize_adam, minimize_lbfgs

@pytest.fixture(autouse=True)
def _single_thread():
    """These tests use tiny inputs, where thread wake-ups dominate and a busy 2-core
    machine slows 2-thread runs by 3x; thread-count parity is tested with the kernels."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), axf.config_context(n_threads=1):
        yield


FAST = dict(max_iter=15, random_state=0)
# the paper's formulation (the estimator's defaults before the quality work)
from alignxpert_fast.alignment.estimator import PAPER  # noqa: E402


@pytest.fixture(scope="module")
def views2():
    return make_paired_modalities(120, dims=(12, 6), n_latent=4, noise=0.1, random_state=0)[0]


@pytest.fixture(scope="module")
def views3():
    return make_paired_modalities(90, dims=(10, 5, 7), n_latent=3, noise=0.1, random_state=1)[0]


def _msq(Z):
    Z = np.asarray(Z, dtype=np.float64)
    return float(np.mean(np.sum((Z - Z.mean(axis=0)) ** 2, axis=1)))


# ---------------------------------------------------------------- fit / transform
@pytest.mark.parametrize("k", [3, 20])  # below and above both widths
def test_fit_transform_shapes_two_views(views2, k):
    est = AlignXpert(n_components=k, feature_map="linear", **FAST).fit(views2)
    Z = est.transform(views2)
    assert [z.shape for z in Z] == [(120, k), (120, k)]
    assert [W.shape for W in est.components_] == [(12, k), (6, k)]
    assert est.n_components_ == k and est.n_modalities_ == 2 and est.n_features_in_ == [12, 6]
    assert est.solver_ == "lbfgs" and est.dimension_search_ is None
    assert len(est.loss_curve_) == est.n_iter_ == len(est.history_["stress"])
    assert Z[0].dtype == np.float32  # float32 in, float32 out


def test_three_views_and_single_modality_transform(views3):
    est = AlignXpert(n_components=6, **FAST)
    Z = est.fit_transform(views3)
    assert len(Z) == 3 and all(z.shape == (90, 6) for z in Z)
    for m in range(3):
        np.testing.assert_array_equal(est.transform(views3[m], modality=m), Z[m])
    np.testing.assert_array_equal(est.transform(views3[2], modality=-1), Z[2])
    # new rows, different counts per view
    Znew = est.transform([views3[0][:5], views3[1][:7], views3[2][:1]])
    assert [z.shape[0] for z in Znew] == [5, 7, 1]


@pytest.mark.parametrize("similarity", ["paired", "contrastive"])
@pytest.mark.parametrize("feature_map", ["rbf", "poly"])
def test_nystroem_feature_maps(views2, similarity, feature_map):
    est = AlignXpert(n_components=4, similarity=similarity, feature_map=feature_map, n_landmarks=30, **FAST)
    Z = est.fit_transform(views2)
    assert all(p <= 30 for p in est.n_features_mapped_)
    assert [W.shape[0] for W in est.components_] == est.n_features_mapped_
    assert all(np.all(np.isfinite(z)) for z in Z)
    # transform of new rows works (it needs only K(X, landmarks))
    assert est.transform(views2[1][:3], modality=1).shape == (3, 4)


@pytest.mark.parametrize("kernel", ["rbf", "cosine", "linear"])
def test_every_bounded_similarity_kernel_fits(views2, kernel):
    # the paired linear similarity is bounded below only for a large enough lam
    lam = 0.5 if kernel == "linear" else 1e-3
    est = AlignXpert(n_components=4, kernel=kernel, lam=lam, **FAST).fit(views2)
    assert all(np.all(np.isfinite(W)) for W in est.components_)
    assert np.isfinite(est.loss_) and est.stop_reason_ != "nonfinite"


@pytest.mark.parametrize("kernel, lam", [("poly", 1.0), ("linear", 1e-3)])
def test_unbounded_paired_similarity_warns_and_stops(views2, kernel, lam):
    est = AlignXpert(n_components=4, **{**PAPER, "kernel": kernel, "lam": lam}, **FAST)
    with pytest.warns(UserWarning, match="the loss diverged"):
        est.fit(views2)
    assert est.stop_reason_ == "nonfinite"
    assert all(np.all(np.isfinite(W)) for W in est.components_)


@pytest.mark.parametrize("kernel", ["poly", "linear"])
def test_contrastive_poly_and_linear_are_bounded(views2, kernel):
    est = AlignXpert(n_components=4, similarity="contrastive", kernel=kernel, **FAST).fit(views2)
    assert est.stop_reason_ != "nonfinite" and np.isfinite(est.loss_)


# -------------------------------------------------------------- defaults, collapse
def test_default_settings_do_not_collapse():
    views = make_paired_modalities(300, dims=(16, 8), n_latent=4, noise=0.2, random_state=3)[0]
    est = AlignXpert(n_components=16, random_state=0, **PAPER).fit(views)
    # transform applies one common output factor (output_scale_); the fitted scale is before it
    ratios = [_msq(Z / est.output_scale_) for Z in est.transform(views)]  # scaled inputs: 1
    assert min(ratios) > 0.5, ratios
    assert est.history_["stress"][-1] < 0.5
    # the same objective without the stress term does collapse (the test can fail)
    collapsed = AlignXpert(n_components=16, random_state=0, **{**PAPER, "alpha": 0.0}).fit(views)
    assert max(_msq(Z / collapsed.output_scale_) for Z in collapsed.transform(views)) < 0.05


def test_default_gamma_rules(views2):
    paired = AlignXpert(n_components=12, **PAPER, **FAST).fit(views2)
    contrastive = AlignXpert(n_components=12, **{**PAPER, "similarity": "contrastive"}, **FAST).fit(views2)
    # contrastive: 1 / (mean squared distance of Z0) = 0.5 when k >= d (isometric init; the
    # columns beyond d_m start with small random entries, hence the 1 % tolerance)
    assert contrastive.gamma_ == pytest.approx(0.5, rel=1e-2)
    assert 0 < paired.gamma_ < contrastive.gamma_
    assert AlignXpert(n_components=12, **{**PAPER, "kernel": "cosine"}, **FAST).fit(views2).gamma_ is None
    assert AlignXpert(n_components=12, gamma=2.0, **PAPER, **FAST).fit(views2).gamma_ == 2.0


def test_inputs_are_scaled_to_unit_mean_squared_norm(views2):
    est = AlignXpert(n_components=4, **FAST).fit(views2)
    for m, X in enumerate(views2):
        Xs = est._scale(X.astype(np.float64), m)
        np.testing.assert_allclose(Xs.mean(axis=0), 0, atol=1e-6)
        assert _msq(Xs) == pytest.approx(1.0, rel=1e-5)


# --------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("kw", [dict(solver="lbfgs"), dict(solver="adam", batch_size=32),
                                dict(feature_map="rbf", n_landmarks=20, init="random")])
def test_same_seed_same_fit_bit_for_bit(views2, kw):
    a = AlignXpert(n_components=5, n_threads=1, **FAST, **kw).fit(views2)
    b = AlignXpert(n_components=5, n_threads=1, **FAST, **kw).fit(views2)
    for Wa, Wb in zip(a.components_, b.components_):
        np.testing.assert_array_equal(Wa, Wb)
    assert a.loss_curve_ == b.loss_curve_


def test_different_seed_changes_adam_sampling(views2):
    a = AlignXpert(n_components=5, solver="adam", batch_size=32, max_iter=10, random_state=0).fit(views2)
    b = AlignXpert(n_components=5, solver="adam", batch_size=32, max_iter=10, random_state=1).fit(views2)
    assert not np.array_equal(a.components_[0], b.components_[0])


# -------------------------------------------------------------------- optimizers
def _objective(views, k=4, **kw):
    rng = np.random.default_rng(0)
    Xs = [(X - X.mean(0)) / np.sqrt(np.mean(np.sum((X - X.mean(0)) ** 2, 1))) for X in
          (np.asarray(v, dtype=np.float64) for v in views)]
    W0 = [rng.standard_normal((X.shape[1], k)) / np.sqrt(k) for X in Xs]
    return AlignXpertObjective(Xs, Xs, gamma=0.3, **kw), W0


def test_lbfgs_loss_decreases(views2):
    obj, W0 = _objective(views2)
    f0 = obj.value_and_grad(W0)[0]
    res = minimize_lbfgs(obj, W0, max_iter=30)
    assert res.loss < f0
    assert all(b <= a + 1e-12 for a, b in zip(res.loss_curve, res.loss_curve[1:]))
    assert res.loss == pytest.approx(obj.value_and_grad(res.params)[0], rel=1e-12)
    assert set(res.history) == {"similarity", "stress", "penalty"}


def test_adam_loss_decreases(views2):
    obj, W0 = _objective(views2)
    f0 = obj.value_and_grad(W0)[0]
    res = minimize_adam(obj, W0, max_iter=200, batch_size=40, learning_rate=0.05, random_state=0)
    assert obj.value_and_grad(res.params)[0] < f0
    assert np.mean(res.loss_curve[-20:]) < np.mean(res.loss_curve[:20])


def test_adam_tol_zero_runs_every_step_and_tol_stops_early(views2):
    obj, W0 = _objective(views2)
    kw = dict(max_iter=120, batch_size=40, learning_rate=1e-6, check_every=5, n_iter_no_change=2, random_state=0)
    # a tiny learning rate: the smoothed loss stalls, so a positive tol stops early ...
    early = minimize_adam(obj, W0, tol=0.5, **kw)
    assert early.stop_reason == "tol" and early.n_iter < 120
    # ... and tol=0 never does
    full = minimize_adam(obj, W0, tol=0.0, **kw)
    assert full.stop_reason == "max_iter" and full.n_iter == 120 and len(full.loss_curve) == 120


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_callback_true_stops_the_run(views2, solver):
    seen = []

    def cb(iteration, loss, params):
        seen.append((iteration, loss, [W.shape for W in params]))
        return iteration >= 3

    est = AlignXpert(n_components=4, solver=solver, max_iter=50, random_state=0, **{**PAPER, "init": "random"})
    est.fit(views2, callbacks=cb)
    assert est.n_iter_ == 3 and est.stop_reason_ == "callback"
    assert [s[0] for s in seen] == [1, 2, 3]
    assert seen[0][2] == [(12, 4), (6, 4)]
    assert est.loss_curve_ == [s[1] for s in seen]


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_keyboard_interrupt_keeps_best_state(views2, solver):
    obj, W0 = _objective(views2)
    f0 = obj.value_and_grad(W0)[0]
    run = minimize_lbfgs if solver == "lbfgs" else minimize_adam

    def cb(iteration, loss, params):
        if iteration == 5:
            raise KeyboardInterrupt
        return False

    kw = {} if solver == "lbfgs" else dict(batch_size=40, check_every=2, random_state=0)
    res = run(obj, W0, max_iter=50, callbacks=[cb], **kw)
    assert res.stop_reason == "interrupted"
    assert all(np.all(np.isfinite(W)) for W in res.params)
    if solver == "lbfgs":
        assert res.loss == pytest.approx(obj.value_and_grad(res.params)[0], rel=1e-12)
        assert res.loss <= min(res.loss_curve) and res.loss < f0


def test_verbose_prints_progress(views2, capsys):
    AlignXpert(n_components=4, verbose=2, max_iter=3, random_state=0, init="random").fit(views2)
    out = capsys.readouterr().out
    assert "[lbfgs]" in out and "loss" in out and "stopped after" in out


def test_solver_auto_resolution(views2):
    est = AlignXpert(similarity="paired")
    assert est._resolve_solver(10000) == "lbfgs" and est._resolve_solver(10001) == "adam"
    assert AlignXpert(similarity="contrastive")._resolve_solver(6000) == "adam"


def test_dimension_search(views2):
    est = AlignXpert(n_components="auto", dimension_grid=[2, 6, 12], max_iter=8, random_state=0).fit(views2)
    assert [r["k"] for r in est.dimension_search_] == [2, 6, 12]
    for r in est.dimension_search_:
        assert set(r) == {"k", "similarity", "stress", "score", "time"}
        assert 0 < r["score"] <= 1 and r["time"] >= 0
    best = max(est.dimension_search_, key=lambda r: (r["score"], -r["k"]))
    assert est.n_components_ == best["k"]
    assert est.transform(views2)[0].shape == (120, best["k"])


def test_default_dimension_grid():
    from alignxpert_fast.alignment.dimension_search import default_grid

    assert default_grid([32, 32]) == [16, 32, 64]
    assert default_grid([12, 6, 3]) == [1, 3, 6, 12, 21]


# ------------------------------------------------------- params / clone / repr
def test_get_set_params_and_sklearn_clone(views2):
    from sklearn.base import clone

    est = AlignXpert(n_components=7, kernel="cosine", dimension_grid=[2, 3], random_state=3)
    params = est.get_params()
    assert params["n_components"] == 7 and params["kernel"] == "cosine" and params["alpha"] == 0.5
    c = clone(est)
    assert c is not est and c.get_params() == params
    assert est.set_params(alpha=0.7, lam=0.1) is est and est.alpha == 0.7
    with pytest.raises(ValueError, match="Invalid parameter 'alhpa'"):
        est.set_params(alhpa=1.0)
    fitted = AlignXpert(n_components=3, **FAST).fit(views2)
    assert not hasattr(clone(fitted), "components_")


def test_repr_shows_non_default_params():
    assert repr(AlignXpert()) == "AlignXpert()"
    # scikit-learn's BaseEstimator repr: non-default parameters in name order
    assert repr(AlignXpert(n_components=8, kernel="rbf", alpha=0.7)) == \
        "AlignXpert(alpha=0.7, kernel='rbf', n_components=8)"


# ----------------------------------------------------------------- save / load
@pytest.mark.parametrize("kw", [dict(), dict(feature_map="rbf", n_landmarks=25)])
def test_save_load_round_trip(views2, tmp_path, kw):
    est = AlignXpert(n_components=5, **FAST, **kw).fit(views2)
    path = est.save(tmp_path / "model")
    assert path.endswith(".npz")
    loaded = AlignXpert.load(path)
    assert loaded.get_params() == est.get_params()
    for a, b in zip(loaded.transform(views2), est.transform(views2)):
        np.testing.assert_array_equal(a, b)
    for attr in ("n_components_", "gamma_", "init_reg_", "n_iter_", "loss_curve_", "history_", "scales_", "solver_",
                 "n_features_in_", "stop_reason_", "dimension_search_"):
        assert getattr(loaded, attr) == getattr(est, attr), attr
    with np.load(path, allow_pickle=False) as data:  # nothing needs pickle
        assert "__meta__" in data.files


def test_init_reg_auto_uses_the_one_standard_error_rule(views2):
    """init_reg="auto": the start of each ridge of INIT_REG_GRID is scored on the
    early-stopping split; the largest ridge within one standard error of the best start's
    held-out MRR is used (init_reg_), and its start is the one early stopping scores
    first.  Without a validation split the fallback ridge is used; an explicit ridge is
    kept as given."""
    import alignxpert_fast.alignment.fitting as fitting
    from alignxpert_fast.alignment.init import INIT_REG_FALLBACK, INIT_REG_GRID

    seen = []
    original = fitting.heldout_mrr_and_se

    def spy(Fval, Ws, metric):
        out = original(Fval, Ws, metric)
        seen.append(out)
        return out

    fitting.heldout_mrr_and_se = spy
    try:
        est = AlignXpert(n_components=5, **FAST).fit(views2)
    finally:
        fitting.heldout_mrr_and_se = original
    assert est.get_params()["init_reg"] == "auto"
    assert len(seen) == len(INIT_REG_GRID)
    best_score, best_se = max(seen)
    expected = max(r for r, (score, _) in zip(INIT_REG_GRID, seen) if score >= best_score - best_se)
    assert est.init_reg_ == expected
    assert all(se > 0 for _, se in seen)
    # the start kept is the chosen ridge's: the early-stopping record starts at its score
    assert est.validation_scores_[0][1] == pytest.approx(dict(zip(INIT_REG_GRID, seen))[expected][0], rel=1e-6)
    assert AlignXpert(n_components=5, early_stopping=False, **FAST).fit(views2).init_reg_ == INIT_REG_FALLBACK
    assert AlignXpert(n_components=5, init_reg=0.3, **FAST).fit(views2).init_reg_ == 0.3
    assert AlignXpert(n_components=5, init="pca", **FAST).fit(views2).init_reg_ is None


@pytest.mark.parametrize("scores, expected", [
    ([(0.50, 0.02), (0.51, 0.02), (0.52, 0.02)], 1e-2),   # all within one SE of the best: largest ridge
    ([(0.40, 0.02), (0.50, 0.02), (0.51, 0.02)], 1e-3),   # 1e-2 too far below, 1e-3 within
    ([(0.40, 0.01), (0.45, 0.01), (0.60, 0.01)], 1e-4),   # only the smallest ridge is good enough
    ([(0.40, 0.05), (0.60, 0.01), (0.55, 0.01)], 1e-3),   # the best's own SE decides, not the others'
])
def test_init_reg_auto_choice_on_given_scores(views2, monkeypatch, scores, expected):
    """The one-standard-error rule on constructed held-out scores (one per ridge of
    INIT_REG_GRID = 1e-2, 1e-3, 1e-4), through the fit's own _start."""
    import alignxpert_fast.alignment.fitting as fitting
    from alignxpert_fast.alignment.init import INIT_REG_GRID

    assert INIT_REG_GRID == (1e-2, 1e-3, 1e-4)
    it = iter(scores)
    monkeypatch.setattr(fitting, "heldout_mrr_and_se", lambda Fval, Ws, metric: next(it))
    est = AlignXpert(n_components=4, **FAST)
    Fs = [np.asarray(v[:80], dtype=np.float64) for v in views2]
    Fval = [np.asarray(v[80:], dtype=np.float64) for v in views2]
    W0, gamma, reg = fitting._start(est, Fs, 4, np.random.default_rng(0), "cosine", [F.shape[1] for F in Fs], Fval)
    assert reg == expected
    # the start returned is the one built with that ridge
    from alignxpert_fast.alignment.init import init_projections
    seed = int(np.random.default_rng(0).integers(2**31 - 1))
    W_expected = init_projections(Fs, 4, np.random.default_rng(seed), "cca", [F.shape[1] for F in Fs], expected)
    for a, b in zip(W0, W_expected):
        np.testing.assert_array_equal(a, b)


def test_heldout_mrr_and_se_matches_the_mrr_and_a_direct_standard_error(views2):
    from alignxpert_fast.alignment.fitting import heldout_mrr, heldout_mrr_and_se
    from alignxpert_fast.metrics import match_ranks

    rng = np.random.default_rng(0)
    Fs = [np.asarray(v[:40], dtype=np.float64) for v in views2]
    Ws = [rng.standard_normal((F.shape[1], 3)) for F in Fs]
    mrr, se = heldout_mrr_and_se(Fs, Ws, "cosine")
    assert mrr == pytest.approx(heldout_mrr(Fs, Ws, "cosine"), rel=1e-12)
    Zs = [F @ W for F, W in zip(Fs, Ws)]
    rr = 0.5 * (1.0 / match_ranks(Zs[0], Zs[1]) + 1.0 / match_ranks(Zs[1], Zs[0]))
    assert se == pytest.approx(np.std(rr) / np.sqrt(40), rel=1e-12)
    # three modalities: the mean over the six ordered pairs
    Fs3 = Fs + [Fs[0][:, :4] + 0.1]
    Ws3 = Ws + [rng.standard_normal((4, 3))]
    mrr3, se3 = heldout_mrr_and_se(Fs3, Ws3, "cosine")
    assert mrr3 == pytest.approx(heldout_mrr(Fs3, Ws3, "cosine"), rel=1e-12) and se3 > 0


def test_load_rejects_other_files(tmp_path):
    p = tmp_path / "other.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ValueError, match="not an AlignXpert model file"):
        AlignXpert.load(p)


# ------------------------------------------------------------------ bad input
BAD_FIT = [
    (lambda v: [v[0]], {}, ValueError, "at least two modalities"),
    (lambda v: v[0], {}, TypeError, "views must be a list or tuple"),
    (lambda v: [v[0], v[1][:50]], {}, ValueError, r"same number of rows.*views\[1\] has 50"),
    (lambda v: [v[0], np.where(np.arange(6) == 2, np.nan, v[1])], {}, ValueError, r"views\[1\] contains 120 non-finite"),
    (lambda v: v, {"n_components": 0}, ValueError, "n_components must be a positive int or 'auto', got 0"),
    (lambda v: v, {"n_components": -3}, ValueError, "n_components must be a positive int"),
    (lambda v: v, {"n_components": "big"}, ValueError, "n_components must be a positive int or 'auto'"),
    (lambda v: v, {"n_components": 2.5}, TypeError, "n_components must be a positive int"),
    (lambda v: v, {"similarity": "pairs"}, ValueError, "similarity must be one of"),
    (lambda v: v, {"kernel": "sigmoid"}, ValueError, "kernel must be one of"),
    (lambda v: v, {"feature_map": "fourier"}, ValueError, "feature_map must be one of"),
    (lambda v: v, {"solver": "sgd"}, ValueError, "solver must be one of"),
    (lambda v: v, {"init": "spectral"}, ValueError, "init must be one of"),
    (lambda v: v, {"alpha": -1}, ValueError, "alpha must be >= 0"),
    (lambda v: v, {"gamma": 0}, ValueError, "gamma must be > 0"),
    (lambda v: v, {"random_state": "seed"}, TypeError, "random_state must be"),
    (lambda v: v, {"init_reg": "tuned"}, ValueError, "init_reg must be a float >= 0 or 'auto'"),
    (lambda v: v, {"init_reg": -0.1}, ValueError, "init_reg must be >= 0"),
    (lambda v: [v[0], np.ones_like(v[1])], {}, ValueError, r"views\[1\] has all rows identical"),
]


@pytest.mark.parametrize("make, kw, exc, match", BAD_FIT, ids=[b[3][:30] for b in BAD_FIT])
def test_fit_bad_input(views2, make, kw, exc, match):
    with pytest.raises(exc, match=match):
        AlignXpert(**kw).fit(make(views2))


def test_transform_before_fit():
    est = AlignXpert()
    for call in (lambda: est.transform([np.zeros((2, 3))] * 2), lambda: est.save("x.npz")):
        with pytest.raises(NotFittedError, match="not fitted yet") as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)


def test_transform_bad_input(views2):
    est = AlignXpert(n_components=3, **FAST).fit(views2)
    with pytest.raises(ValueError, match=r"views\[1\] has 5 features, but AlignXpert was fitted with 6 features"):
        est.transform([views2[0], views2[1][:, :5]])
    with pytest.raises(ValueError, match="X has 12 features, but AlignXpert was fitted with 6 features for modality 1"):
        est.transform(views2[0], modality=1)
    with pytest.raises(ValueError, match="views must hold 2 arrays"):
        est.transform([views2[0]])
    with pytest.raises(ValueError, match=r"modality must be in \[0, 2\)"):
        est.transform(views2[0], modality=2)
    with pytest.raises(TypeError, match="modality must be an int"):
        est.transform(views2[0], modality="left")
    X = views2[0].copy()
    X[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value\(s\) \(1 NaN"):
        est.transform(X, modality=0)


def test_minibatch_fit_never_copies_the_inputs():
    """The Adam path scales / maps rows per batch (RowMap): its peak NumPy memory is a
    fraction of the inputs (the full-batch path would hold a scaled copy of each view)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 100_000
    latent = rng.standard_normal((n, 4))
    views = [latent @ rng.standard_normal((4, 40)) + 0.1 * rng.standard_normal((n, 40)),
             latent @ rng.standard_normal((4, 30)) + 0.1 * rng.standard_normal((n, 30))]
    inputs = sum(v.nbytes for v in views)
    est = AlignXpert(n_components=8, solver="adam", max_iter=30, batch_size=256, random_state=0, **PAPER)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        est.fit(views)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"peak {peak / 1e6:.1f} MB for {inputs / 1e6:.1f} MB of inputs")
    assert est.n_iter_ == 30 and np.all(np.isfinite(est.components_[0]))
    assert peak < 0.4 * inputs, f"peak {peak / 1e6:.1f} MB for {inputs / 1e6:.1f} MB of inputs"


def test_failed_refit_leaves_the_fitted_state_unchanged():
    """A refit that raises (here: the optimizer's callback raises) keeps every fitted
    attribute of the previous fit: no mix of old projections and new scaling."""
    rng = np.random.default_rng(0)
    Xs = [rng.standard_normal((60, 5)), rng.standard_normal((60, 4))]
    est = AlignXpert(3, max_iter=5, random_state=0).fit(Xs)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    Z_before = est.transform(Xs)

    def boom(it, loss, params):
        raise RuntimeError("stop")

    shifted = [10.0 + 3.0 * X for X in Xs]  # other means and scales
    with pytest.raises(RuntimeError, match="stop"):
        est.fit(shifted, callbacks=boom)
    after = {k: v for k, v in vars(est).items() if k.endswith("_")}
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] is value, key
    for Za, Zb in zip(est.transform(Xs), Z_before):
        np.testing.assert_array_equal(Za, Zb)


def test_concurrent_feature_map_fits_match_sequential(views2):
    """Full batch, the views' Nyström maps are fitted in concurrent threads when n_threads
    allows: the fitted maps equal those of a one-thread (sequential) fit."""
    kw = dict(n_components=4, max_iter=2, random_state=0, feature_map="linear+rbf")
    one = AlignXpert(n_threads=1, **kw).fit(views2)
    two = AlignXpert(n_threads=2, **kw).fit(views2)
    for a, b in zip(one.feature_maps_, two.feature_maps_):
        np.testing.assert_array_equal(a.nystroem_.landmarks_, b.nystroem_.landmarks_)
        np.testing.assert_allclose(a.nystroem_.normalization_, b.nystroem_.normalization_, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.nystroem_.mean_, b.nystroem_.mean_, rtol=1e-12, atol=1e-12)
