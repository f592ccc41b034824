"""Naive formulas: the second layer of truth, independent of the package.

Everything is computed in float64 with NumPy broadcasting (or plain loops) on tiny
inputs, with no blocking, no norm trick and no centering, so a shared mistake
between ``_backends/reference.py`` and a fast backend cannot hide here.
"""
from __future__ import annotations

import math

import numpy as np


def _f64(A):
    return np.asarray(A, dtype=np.float64)


def sqeuclidean(X, Y=None):
    X = _f64(X)
    Y = X if Y is None else _f64(Y)
    diff = X[:, None, :] - Y[None, :, :]
    return np.sum(diff * diff, axis=-1)


def euclidean(X, Y=None):
    return np.sqrt(sqeuclidean(X, Y))


def linear(X, Y=None):
    X = _f64(X)
    Y = X if Y is None else _f64(Y)
    return np.sum(X[:, None, :] * Y[None, :, :], axis=-1)


def rbf(X, Y=None, gamma=None):
    X = _f64(X)
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return np.exp(-gamma * sqeuclidean(X, Y))


def poly(X, Y=None, degree=3, gamma=None, coef0=1.0):
    X = _f64(X)
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    return (gamma * linear(X, Y) + coef0) ** degree


def cosine(X, Y=None):
    """Cosine similarity; a row of zero norm has similarity 0 with everything."""
    X = _f64(X)
    Y = X if Y is None else _f64(Y)
    nx = np.sqrt(np.sum(X * X, axis=1))
    ny = np.sqrt(np.sum(Y * Y, axis=1))
    denom = nx[:, None] * ny[None, :]
    K = linear(X, Y)
    return np.where(denom > 0, K / np.where(denom > 0, denom, 1.0), 0.0)


KERNELS = {"rbf": rbf, "poly": poly, "polynomial": poly, "linear": linear, "cosine": cosine}


def kernel(name, X, Y=None, **params):
    return KERNELS[name](X, Y, **params)


def kernel_matvec(name, X, Y, V, **params):
    return kernel(name, X, Y, **params) @ _f64(V)


def kernel_row_sums(name, X, Y=None, **params):
    return kernel(name, X, Y, **params).sum(axis=1)


def stress(X, Z, relative=False):
    """Normalized stress by an explicit O(n^2) loop over the pairs i < j; ``relative``:
    each pair weighted by 1 / D^2, pairs with D = 0 left out."""
    X, Z = _f64(X), _f64(Z)
    n = X.shape[0]
    num = den = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            D = math.sqrt(float(np.sum((X[i] - X[j]) ** 2)))
            E = math.sqrt(float(np.sum((Z[i] - Z[j]) ** 2)))
            if relative:
                if D > 0:
                    num += ((D - E) / D) ** 2
                    den += 1.0
                continue
            num += (D - E) ** 2
            den += D * D
    return math.sqrt(num / den)


def stress_grad(X, Z):
    """Analytic gradient of :func:`stress` w.r.t. Z by the same explicit pair loop.

    d s / d z_i = 1 / (s * B) * sum_{j != i} (1 - D_ij / E_ij) (z_i - z_j),
    with B = sum_{i<j} D_ij^2 and pairs with E_ij = 0 left out.
    """
    X, Z = _f64(X), _f64(Z)
    n = X.shape[0]
    s = stress(X, Z)
    B = sum(float(np.sum((X[i] - X[j]) ** 2)) for i in range(n) for j in range(i + 1, n))
    G = np.zeros_like(Z)
    if s == 0:
        return G
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            D = math.sqrt(float(np.sum((X[i] - X[j]) ** 2)))
            E = math.sqrt(float(np.sum((Z[i] - Z[j]) ** 2)))
            if E > 0:
                G[i] += (1.0 - D / E) * (Z[i] - Z[j])
    return G / (s * B)
