"""Cross-modal transfer: a classifier trained on one modality's aligned features, tested
on another's."""
from __future__ import annotations

import numpy as np

from .._utils.validation import check_matrix, check_scalar
from .metrics import _check_labels

__all__ = ["RidgeClassifierOVR", "cross_modal_transfer"]


class RidgeClassifierOVR:
    """One-vs-rest ridge (regularized least squares) classifier in NumPy.

    Targets are +1 for the class and -1 otherwise; features are centered with the
    training mean (an unpenalized intercept).  ``W = (X^T X + alpha I)^-1 X^T Y``.
    """

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        X = check_matrix(X, "X", dtype=np.float64)
        y = _check_labels(y, X.shape[0], "y")
        alpha = check_scalar(self.alpha, "alpha", lower=0)
        self.classes_, yi = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y must contain at least two classes, got {self.classes_.size}")
        Y = -np.ones((X.shape[0], self.classes_.size))
        Y[np.arange(X.shape[0]), yi] = 1.0
        self.mean_ = X.mean(axis=0)
        self.y_mean_ = Y.mean(axis=0)
        Xc = X - self.mean_
        A = Xc.T @ Xc
        A[np.diag_indices_from(A)] += alpha
        self.coef_ = np.linalg.lstsq(A, Xc.T @ (Y - self.y_mean_), rcond=None)[0]
        return self

    def decision_function(self, X):
        X = check_matrix(X, "X", dtype=np.float64)
        if X.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, the classifier was fitted with {self.coef_.shape[0]}")
        return (X - self.mean_) @ self.coef_ + self.y_mean_

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def score(self, X, y):
        y = _check_labels(y, np.shape(X)[0], "y")
        return float(np.mean(self.predict(X) == y))


def cross_modal_transfer(Z_train_a, y_train, Z_test_b, y_test, *, alpha=1.0, return_classifier=False):
    """Train a linear classifier on modality a's aligned features, test on modality b's.

    Parameters
    ----------
    Z_train_a : array (n_train, k), aligned features of modality a
    y_train : array (n_train,)
    Z_test_b : array (n_test, k), aligned features of modality b (same space)
    y_test : array (n_test,)
    alpha : float >= 0, ridge penalty of :class:`RidgeClassifierOVR`

    Returns
    -------
    accuracy : float (and the fitted classifier if ``return_classifier``)
    """
    clf = RidgeClassifierOVR(alpha=alpha).fit(Z_train_a, y_train)
    if np.shape(Z_test_b)[1:] != (clf.coef_.shape[0],):
        raise ValueError(
            f"Z_test_b must have {clf.coef_.shape[0]} columns like Z_train_a, got shape {np.shape(Z_test_b)}"
        )
    acc = clf.score(Z_test_b, y_test)
    return (acc, clf) if return_classifier else acc
