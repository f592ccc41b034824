"""Built-in paired data that need no download.

- :func:`make_paired_modalities`: M views generated from one shared latent matrix, with
  configurable sizes, widths, noise and nonlinearity (the true alignment is known).
- :func:`load_digits_halves`: the classic split-image two-view benchmark: scikit-learn's
  8x8 digits, left half (columns 0-3) and right half (columns 4-7) as two modalities of
  32 pixels each, with the digit labels.  scikit-learn ships the data; it is needed only
  for this loader (a test dependency of this package), and imported when called.
"""
from __future__ import annotations

import numpy as np

from ._utils.random import check_random_state
from ._utils.validation import check_scalar

__all__ = ["make_paired_modalities", "load_digits_halves", "synthetic_pairs", "NONLINEARITIES"]

NONLINEARITIES = {
    "linear": lambda U: U,
    "tanh": np.tanh,
    "relu": lambda U: np.maximum(U, 0.0),
    "sin": np.sin,
    "cubic": lambda U: U**3 / 3.0,
}


def make_paired_modalities(n_samples, dims=(64, 32), n_latent=8, noise=0.1, nonlinearity="tanh", random_state=None,
                           dtype=np.float32, *, n_classes=None, return_labels=False):
    """Paired views with a shared latent structure.

    ``latent`` L (n_samples, n_latent) has standard normal entries (or, with
    ``n_classes``, a Gaussian mixture: class centers with standard deviation 2 per
    coordinate, unit within-class spread, then rescaled to unit mean square).  View m is
    ``X_m = f(L A_m + b_m) + noise * E_m`` with
    ``A_m`` (n_latent, d_m) Gaussian with variance 1/n_latent (so every pre-activation has
    unit variance), ``b_m`` a small random offset (std 0.1), ``f`` the nonlinearity and
    ``E_m`` standard normal noise.  Row i of every view comes from latent row i.

    Parameters
    ----------
    n_samples : int >= 1
    dims : sequence of int >= 1, the width d_m of each view (M = len(dims) >= 1)
    n_latent : int >= 1
    noise : float >= 0, noise standard deviation (the signal is O(1) per entry)
    nonlinearity : {"linear", "tanh", "relu", "sin", "cubic"} or None (= "linear")
    random_state : None, int or numpy.random.Generator
    dtype : float32 (default) or float64
    n_classes : int >= 2, optional, draw the latent from a mixture of this many classes
    return_labels : bool, also return the class labels (needs ``n_classes``)

    Returns
    -------
    views : list of M arrays (n_samples, d_m) of ``dtype``
    latent : array (n_samples, n_latent), float64
    labels : int64 array (n_samples,), only when ``return_labels``
    """
    n = check_scalar(n_samples, "n_samples", lower=1, integer=True)
    if isinstance(dims, (int, np.integer)) or not hasattr(dims, "__len__") or len(dims) == 0:
        raise TypeError(f"dims must be a non-empty sequence of view widths, e.g. (64, 32); got {dims!r}")
    dims = [check_scalar(d, "dims entries", lower=1, integer=True) for d in dims]
    n_latent = check_scalar(n_latent, "n_latent", lower=1, integer=True)
    noise = check_scalar(noise, "noise", lower=0)
    key = "linear" if nonlinearity is None else nonlinearity
    if not isinstance(key, str) or key not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)} or None, got {nonlinearity!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    if return_labels and n_classes is None:
        raise ValueError("return_labels=True needs n_classes (the latent is unlabeled otherwise)")
    rng = check_random_state(random_state)
    labels = None
    if n_classes is not None:
        n_classes = check_scalar(n_classes, "n_classes", lower=2, integer=True)
        centers = 2.0 * rng.standard_normal((n_classes, n_latent))
        labels = rng.integers(0, n_classes, size=n)
        latent = centers[labels] + rng.standard_normal((n, n_latent))
        latent /= np.sqrt(np.mean(latent**2))  # unit mean square per entry, as the plain latent
    else:
        latent = rng.standard_normal((n, n_latent))
    f = NONLINEARITIES[key]
    views = []
    for d in dims:
        A = rng.standard_normal((n_latent, d)) / np.sqrt(n_latent)
        b = 0.1 * rng.standard_normal(d)
        X = f(latent @ A + b)
        if noise > 0:
            X = X + noise * rng.standard_normal((n, d))
        views.append(np.ascontiguousarray(X, dtype=dtype))
    if return_labels:
        return views, latent, labels.astype(np.int64)
    return views, latent


def load_digits_halves(dtype=np.float32):
    """scikit-learn's digits as two views: left and right image halves.

    Returns
    -------
    views : [left, right], two arrays (1797, 32) of ``dtype`` with pixel values 0..16;
        left holds image columns 0-3, right columns 4-7 (row-major within each half)
    labels : int64 array (1797,), the digit 0-9

    Raises
    ------
    ImportError if scikit-learn is not installed (it ships the data).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            "load_digits_halves needs scikit-learn, which ships the digits data; install it with "
            "`pip install scikit-learn` (or `pip install alignxpert_fast[test]`)"
        ) from exc
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    digits = load_digits()
    images = np.asarray(digits.images)  # (n, 8, 8)
    n = images.shape[0]
    left = np.ascontiguousarray(images[:, :, :4].reshape(n, 32), dtype=dtype)
    right = np.ascontiguousarray(images[:, :, 4:].reshape(n, 32), dtype=dtype)
    return [left, right], np.asarray(digits.target, dtype=np.int64)


def synthetic_pairs(n=4000, d1=768, d2=384, latent=32, noise=0.1, dtype=np.float32, random_state=0):
    """Two modalities sharing a latent structure: X_m = tanh(L A_m) + noise, row i paired.

    Returns (X1 of shape (n, d1), X2 of shape (n, d2)), both ``dtype``.
    """
    rng = np.random.default_rng(random_state)
    L = rng.standard_normal((n, latent))
    out = []
    for d in (d1, d2):
        A = rng.standard_normal((latent, d)) / np.sqrt(latent)
        X = np.tanh(L @ A) + noise * rng.standard_normal((n, d))
        out.append(X.astype(dtype))
    return out[0], out[1]
