"""Built-in data: synthetic paired modalities and the digits halves."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from alignxpert_fast.datasets import NONLINEARITIES, load_digits_halves, make_paired_modalities


def test_make_paired_modalities_shapes_and_dtype():
    views, latent = make_paired_modalities(50, dims=(7, 3, 5), n_latent=2, random_state=0)
    assert [v.shape for v in views] == [(50, 7), (50, 3), (50, 5)]
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in views)
    assert latent.shape == (50, 2)
    views64, _ = make_paired_modalities(10, dtype=np.float64, random_state=0)
    assert [v.shape for v in views64] == [(10, 64), (10, 32)] and views64[0].dtype == np.float64


def test_make_paired_modalities_reproducible():
    a, la = make_paired_modalities(20, random_state=3)
    b, lb = make_paired_modalities(20, random_state=3)
    c, _ = make_paired_modalities(20, random_state=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("nonlinearity", sorted(NONLINEARITIES) + [None])
def test_views_share_the_latent(nonlinearity):
    # without noise, every view is a deterministic function of the latent: a linear
    # (or, for linear, exact) relation that regression recovers much better than chance
    views, latent = make_paired_modalities(400, dims=(30, 20), n_latent=3, noise=0.0, nonlinearity=nonlinearity,
                                           random_state=1, dtype=np.float64)
    for X in views:
        Xc = X - X.mean(0)
        coef = np.linalg.lstsq(latent - latent.mean(0), Xc, rcond=None)[0]
        r2 = 1 - np.sum((Xc - (latent - latent.mean(0)) @ coef) ** 2) / np.sum(Xc**2)
        assert r2 > 0.3
        if nonlinearity in (None, "linear"):
            assert r2 > 0.999


def test_noise_level():
    clean, _ = make_paired_modalities(300, dims=(10,), noise=0.0, random_state=2, dtype=np.float64)
    noisy, _ = make_paired_modalities(300, dims=(10,), noise=0.5, random_state=2, dtype=np.float64)
    assert np.std(noisy[0] - clean[0]) == pytest.approx(0.5, rel=0.1)


def test_labels():
    views, latent, y = make_paired_modalities(200, dims=(8, 4), n_classes=3, return_labels=True, random_state=0)
    assert y.shape == (200,) and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1, 2}
    # the classes are visible in the latent: nearest class mean beats chance clearly
    means = np.stack([latent[y == c].mean(0) for c in range(3)])
    pred = np.argmin(((latent[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(pred == y) > 0.7


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n_samples=0), ValueError, "n_samples must be >= 1"),
    (dict(n_samples=5, dims=4), TypeError, "dims must be a non-empty sequence"),
    (dict(n_samples=5, dims=(4, 0)), ValueError, "dims entries must be >= 1"),
    (dict(n_samples=5, nonlinearity="softplus"), ValueError, "nonlinearity must be one of"),
    (dict(n_samples=5, noise=-1), ValueError, "noise must be >= 0"),
    (dict(n_samples=5, return_labels=True), ValueError, "return_labels=True needs n_classes"),
    (dict(n_samples=5, dtype=np.int32), TypeError, "dtype must be float32 or float64"),
])
def test_make_paired_modalities_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_paired_modalities(**kwargs)


def test_load_digits_halves():
    from sklearn.datasets import load_digits

    (left, right), y = load_digits_halves()
    assert left.shape == right.shape == (1797, 32) and left.dtype == np.float32
    assert y.shape == (1797,) and set(np.unique(y)) == set(range(10))
    images = load_digits().images
    rebuilt = np.concatenate([left.reshape(-1, 8, 4), right.reshape(-1, 8, 4)], axis=2)
    np.testing.assert_array_equal(rebuilt, images)
    assert load_digits_halves(np.float64)[0][0].dtype == np.float64


def test_load_digits_halves_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="load_digits_halves needs scikit-learn"):
        load_digits_halves()
