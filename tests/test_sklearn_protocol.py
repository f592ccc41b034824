"""AlignXpert in scikit-learn's tooling: the estimator checks that apply to a multi-view
estimator, check_is_fitted, clone, the HTML repr, NotFittedError, score and model
selection over PairedViews.

Skipped estimator checks: every check that builds one 2-D array X and calls
``fit(X, y)`` (check_fit_score_takes_y, check_dont_overwrite_parameters,
check_estimators_overwrite_params, check_estimators_fit_returns_self, check_dict_unchanged,
check_fit_idempotent, check_fit_check_is_fitted, check_transformer_preserve_dtypes,
check_estimators_pickle, and the data-dependent checks ``check_estimator`` yields for 2-D
estimators).  A single array is one view; AlignXpert needs two or more paired views and
refuses one with a TypeError, so these checks cannot apply as written.  Their
multi-view equivalents are tested below (fit returns self, idempotent fits, pickling,
no parameter overwritten, dtype preserved).
"""
import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils import estimator_checks
from sklearn.utils import estimator_html_repr
from sklearn.utils.validation import check_is_fitted

import alignxpert_fast as axf
from alignxpert_fast import AlignXpert, PairedViews

API_CHECKS = [
    "check_estimator_cloneable", "check_estimator_tags_renamed", "check_valid_tag_types", "check_estimator_repr",
    "check_no_attributes_set_in_init", "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
    "check_get_params_invariance", "check_set_params", "check_parameters_default_constructible",
    "check_estimators_unfitted", "check_n_features_in_after_fitting",
]


def _views(n=90, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    L = rng.standard_normal((n, 3))
    return PairedViews([(L @ rng.standard_normal((3, 6)) + 0.05 * rng.standard_normal((n, 6))).astype(dtype),
                        (L @ rng.standard_normal((3, 5))).astype(dtype)])


@pytest.mark.parametrize("name", API_CHECKS)
def test_sklearn_api_checks(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(estimator_checks, name)("AlignXpert", AlignXpert(2, max_iter=5))


def test_sklearn_not_fitted_error_and_check_is_fitted():
    est = AlignXpert(2)
    assert axf.NotFittedError is NotFittedError
    with pytest.raises(NotFittedError, match="not fitted yet"):
        check_is_fitted(est)
    with pytest.raises(sklearn.exceptions.NotFittedError, match="before using 'transform'"):
        est.transform(list(_views()))
    est.fit(_views(), y=None)
    check_is_fitted(est)


def test_clone_and_html_repr():
    est = AlignXpert(3, similarity="contrastive", alpha=0.2)
    c = clone(est)
    assert c is not est and c.get_params() == est.get_params()
    html = estimator_html_repr(est)
    assert "AlignXpert" in html and "contrastive" in html


def test_multiview_equivalents_of_the_skipped_checks():
    views = _views()
    est = AlignXpert(3, max_iter=10, random_state=0)
    params = est.get_params()
    assert est.fit(views) is est
    assert est.get_params() == params  # no parameter overwritten by fit
    Z1 = est.transform(views)
    Z2 = clone(est).fit(views).transform(views)  # idempotent for a fixed seed
    for a, b in zip(Z1, Z2):
        np.testing.assert_array_equal(a, b)
    again = pickle.loads(pickle.dumps(est))
    for a, b in zip(again.transform(views), Z1):
        np.testing.assert_array_equal(a, b)
    Z32 = AlignXpert(3, max_iter=5).fit(_views(dtype=np.float32)).transform(_views(dtype=np.float32))
    assert all(Z.dtype == np.float32 for Z in Z32)


def test_score_is_held_in_retrieval_mrr():
    views = _views()
    est = AlignXpert(3, max_iter=20, random_state=0).fit(views)
    s = est.score(views)
    Zs = est.transform(views)
    metric = "cosine"  # the default similarity kernel is cosine: retrieval scores by cosine
    expected = np.mean([axf.metrics.mean_reciprocal_rank(Zs[0], Zs[1], metric=metric),
                        axf.metrics.mean_reciprocal_rank(Zs[1], Zs[0], metric=metric)])
    assert s == pytest.approx(expected) and 0 < s <= 1


def test_grid_search_and_cross_validation_over_paired_views():
    views = _views(n=120)
    search = GridSearchCV(AlignXpert(max_iter=15, random_state=0), {"n_components": [1, 3]}, cv=3).fit(views)
    assert search.best_params_ == {"n_components": 3}
    assert search.best_estimator_.n_components_ == 3
    scores = cross_val_score(AlignXpert(3, max_iter=15, random_state=0), views, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_paired_views_indexing():
    views = _views(n=10)
    assert views.shape == (10, 11) and len(views) == 2
    assert views[1].shape == (10, 5)  # an int picks a view
    sub = views[np.array([0, 2, 4])]
    assert isinstance(sub, PairedViews) and sub.shape == (3, 11)
    np.testing.assert_array_equal(sub[0], views[0][[0, 2, 4]])
    assert views[np.arange(10) < 4].shape == (4, 11)
    with pytest.raises(ValueError, match="same number of rows"):
        PairedViews([np.zeros((3, 2)), np.zeros((4, 2))])
    with pytest.raises(TypeError, match="integers or a boolean mask"):
        views[np.array([0.5])]
