"""Drop-in parity with ``sklearn.metrics.pairwise``: the same inputs give the same outputs,
including what scikit-learn accepts beyond our native fast path (gamma=0, a float degree,
dense_output, X_norm_squared / Y_norm_squared, SciPy sparse input, objects exposing
``__array__`` or ``__dlpack__``)."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import pairwise as skp

import alignxpert_fast as axf

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 7))
Y = RNG.standard_normal((20, 7))
XS = sp.random(30, 7, density=0.4, random_state=1, format="csr")
YS = sp.random(20, 7, density=0.4, random_state=2, format="csr")

CASES = [
    ("rbf_kernel", {}), ("rbf_kernel", {"gamma": 0.0}), ("rbf_kernel", {"gamma": 0.3}),
    ("polynomial_kernel", {}), ("polynomial_kernel", {"degree": 2.0}), ("polynomial_kernel", {"degree": 2.5}),
    ("polynomial_kernel", {"gamma": 0.0, "coef0": 2.0}), ("polynomial_kernel", {"degree": 1, "coef0": -0.5}),
    ("linear_kernel", {}), ("linear_kernel", {"dense_output": True}),
    ("cosine_similarity", {}), ("euclidean_distances", {}), ("euclidean_distances", {"squared": True}),
]


def _same(ours, theirs, atol=1e-10):
    if sp.issparse(theirs) or sp.issparse(ours):
        assert sp.issparse(ours) and sp.issparse(theirs)
        ours, theirs = ours.toarray(), theirs.toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=atol, equal_nan=True)


@pytest.mark.parametrize("fname, kw", CASES, ids=[f"{f}-{k}" for f, k in CASES])
@pytest.mark.parametrize("form", ["dense", "sparse", "sparse-dense", "Y=None"])
def test_same_outputs_as_scikit_learn(fname, kw, form):
    if form == "dense":
        a, b = X, Y
    elif form == "sparse":
        a, b = XS, YS
    elif form == "sparse-dense":
        a, b = XS, Y
    else:
        a, b = X, None
    with np.errstate(invalid="ignore"):  # scikit-learn's power of negative bases (degree 2.5) gives NaN
        theirs = getattr(skp, fname)(a, b, **kw)
    _same(getattr(axf, fname)(a, b, **kw), theirs)


@pytest.mark.parametrize("fname", ["linear_kernel", "cosine_similarity"])
def test_dense_output_false_keeps_sparse(fname):
    ours = getattr(axf, fname)(XS, YS, dense_output=False)
    theirs = getattr(skp, fname)(XS, YS, dense_output=False)
    _same(ours, theirs)
    # with a dense input the output is dense, as in scikit-learn
    assert isinstance(getattr(axf, fname)(X, Y, dense_output=False), np.ndarray)


def test_norms_squared_are_accepted():
    xn = (X**2).sum(1)
    yn = (Y**2).sum(1)[None, :]
    _same(axf.euclidean_distances(X, Y, X_norm_squared=xn[:, None], Y_norm_squared=yn),
          skp.euclidean_distances(X, Y, X_norm_squared=xn[:, None], Y_norm_squared=yn))
    with pytest.raises(ValueError, match="X_norm_squared must have shape"):
        axf.euclidean_distances(X, Y, X_norm_squared=xn[:5])


def test_float32_sparse_stays_float32():
    K = axf.rbf_kernel(XS.astype(np.float32), YS.astype(np.float32))
    assert K.dtype == np.float32
    _same(K, skp.rbf_kernel(XS.astype(np.float32), YS.astype(np.float32)), atol=1e-6)


class _ArrayLike:
    """A CPU tensor that exposes only ``__array__`` (like torch / JAX on the host)."""

    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


class _DLPackOnly:
    """An object that exposes only ``__dlpack__`` / ``__dlpack_device__``."""

    def __init__(self, a):
        self._a = a

    def __dlpack__(self, **kw):
        return self._a.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


@pytest.mark.parametrize("wrap", [_ArrayLike, _DLPackOnly])
def test_array_protocols(wrap):
    _same(axf.rbf_kernel(wrap(X), wrap(Y)), skp.rbf_kernel(X, Y))
    _same(axf.linear_kernel(wrap(X)), skp.linear_kernel(X))
