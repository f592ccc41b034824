"""Built-in paired data that need no download.

- :func:`make_paired_modalities`: M views generated from one shared latent matrix, with
  configurable sizes, widths, noise and nonlinearity (the true alignment is known).
- :func:`load_digits_views`: the digits as raw pixels vs computed shape features;
  :func:`load_breast_cancer_views`: breast cancer mean vs worst (or se) feature groups;
  :func:`load_wine_views`: wine chemistry vs phenolics (real multi-view data from what
  scikit-learn ships, no download).
- :func:`load_digits_halves`: the classic split-image two-view benchmark: scikit-learn's
  8x8 digits, left half (columns 0-3) and right half (columns 4-7) as two modalities of
  32 pixels each, with the digit labels.  scikit-learn ships the data; it is needed only
  for this loader (a test dependency of this package), and imported when called.
"""
from __future__ import annotations

import numpy as np

from ._utils.random import check_random_state
from ._utils.validation import check_scalar

__all__ = ["make_paired_modalities", "load_digits_halves", "load_digits_views", "load_breast_cancer_views",
           "load_wine_views", "digits_shape_features", "synthetic_pairs", "NONLINEARITIES"]

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


def _check_float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _sklearn_loader(name):
    try:
        import sklearn.datasets as skd
    except ImportError as exc:
        raise ImportError(
            f"{name} needs scikit-learn, which ships the data; install it with `pip install scikit-learn` "
            f"(or `pip install alignxpert_fast[test]`)"
        ) from exc
    return skd


def digits_shape_features(images):
    """Hand-computed descriptors of 8x8 digit images, shape (n, 71), float64.

    - 2-D Fourier magnitudes (39): ``|FFT2(image)|`` on the non-redundant half plane
      (8 x 5) without the DC term, translation invariant;
    - gradient-orientation histograms (32): central-difference gradients, 8 orientation
      bins weighted by the gradient magnitude, in each of the 4 image quadrants.

    No feature is a linear function of the pixels (row / column profiles and the DC term,
    which are, would let linear CCA match the views exactly), so the two views describe
    the digits in genuinely different ways.  Every group is divided by its own mean
    absolute value.  Deterministic; no learned parameters.
    """
    img = np.asarray(images, dtype=np.float64)
    n = img.shape[0]
    fourier = np.abs(np.fft.rfft2(img)).reshape(n, -1)[:, 1:]  # (n, 8 * 5 - 1), no DC
    gy, gx = np.gradient(img, axis=(1, 2))
    mag = np.hypot(gx, gy)
    ang = np.mod(np.arctan2(gy, gx), 2 * np.pi)
    bins = np.minimum((ang / (2 * np.pi) * 8).astype(np.int64), 7)
    hog = np.zeros((n, 4, 8))
    for qi, (r0, c0) in enumerate(((0, 0), (0, 4), (4, 0), (4, 4))):
        b = bins[:, r0:r0 + 4, c0:c0 + 4].reshape(n, -1)
        w = mag[:, r0:r0 + 4, c0:c0 + 4].reshape(n, -1)
        for o in range(8):
            hog[:, qi, o] = np.sum(w * (b == o), axis=1)
    groups = [fourier, hog.reshape(n, 32)]
    groups = [g / max(float(np.mean(np.abs(g))), 1e-12) for g in groups]
    return np.concatenate(groups, axis=1)


def load_digits_views(dtype=np.float32):
    """scikit-learn's digits described two ways: raw pixels vs computed shape features.

    Returns
    -------
    views : [pixels (1797, 64), features (1797, 71)] of ``dtype``; pixels 0..16 row-major,
        features from :func:`digits_shape_features` (Fourier magnitudes,
        gradient-orientation histograms)
    labels : int64 array (1797,), the digit 0-9
    """
    dtype = _check_float_dtype(dtype)
    digits = _sklearn_loader("load_digits_views").load_digits()
    images = np.asarray(digits.images)
    n = images.shape[0]
    pixels = np.ascontiguousarray(images.reshape(n, 64), dtype=dtype)
    feats = np.ascontiguousarray(digits_shape_features(images), dtype=dtype)
    return [pixels, feats], np.asarray(digits.target, dtype=np.int64)


BREAST_CANCER_GROUPS = ("mean", "se", "worst")


def load_breast_cancer_views(groups=("mean", "worst"), dtype=np.float32, *, log=True):
    """scikit-learn's breast cancer (Wisconsin diagnostic) data split into its feature groups.

    The 30 features are 10 cell-nucleus measurements (radius, texture, perimeter, area,
    smoothness, compactness, concavity, concave points, symmetry, fractal dimension) each
    summarized three ways over the nuclei of one image: ``"mean"`` (columns 0-9),
    ``"se"`` (standard error, 10-19) and ``"worst"`` (mean of the three largest, 20-29).

    Parameters
    ----------
    groups : sequence of 2 or more of {"mean", "se", "worst"}, one view each
    dtype : float32 (default) or float64
    log : bool, default=True
        ``log1p`` of the (non-negative, heavy-tailed) measurements.

    Returns
    -------
    views : list of arrays (569, 10) of ``dtype``
    labels : int64 array (569,), 0 = malignant, 1 = benign
    """
    dtype = _check_float_dtype(dtype)
    groups = list(groups)
    if len(groups) < 2 or any(g not in BREAST_CANCER_GROUPS for g in groups):
        raise ValueError(f"groups must list at least two of {list(BREAST_CANCER_GROUPS)}, got {groups!r}")
    data = _sklearn_loader("load_breast_cancer_views").load_breast_cancer()
    X = np.asarray(data.data, dtype=np.float64)
    if log:
        X = np.log1p(X)
    views = [np.ascontiguousarray(X[:, 10 * BREAST_CANCER_GROUPS.index(g):10 * BREAST_CANCER_GROUPS.index(g) + 10],
                                  dtype=dtype) for g in groups]
    return views, np.asarray(data.target, dtype=np.int64)


WINE_GROUPS = {
    # alcohol, acidity and minerals
    "chemistry": (0, 1, 2, 3, 4, 12),
    # phenolic compounds and colour
    "phenolics": (5, 6, 7, 8, 9, 10, 11),
}


def load_wine_views(dtype=np.float32, *, standardize=True):
    """scikit-learn's wine data (178 wines, 3 cultivars) split into two chemical groups.

    ``standardize`` (default True) z-scores every column over all 178 rows (the raw units
    differ by four orders of magnitude: proline ~ 1000, hue ~ 1); unsupervised and
    label-free, but it does use the test rows' column statistics.

    Returns
    -------
    views : [chemistry (178, 6), phenolics (178, 7)] of ``dtype``: alcohol, malic acid,
        ash, alcalinity of ash, magnesium, proline vs total phenols, flavanoids,
        nonflavanoid phenols, proanthocyanins, colour intensity, hue, OD280/OD315
    labels : int64 array (178,), the cultivar 0-2
    """
    dtype = _check_float_dtype(dtype)
    data = _sklearn_loader("load_wine_views").load_wine()
    X = np.asarray(data.data, dtype=np.float64)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    views = [np.ascontiguousarray(X[:, list(cols)], dtype=dtype) for cols in WINE_GROUPS.values()]
    return views, np.asarray(data.target, dtype=np.int64)


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
