"""The Cython .pxd API: a tiny consumer module cimports alignxpert_fast._cy.kernels.

Not marked slow on purpose: it is the only test of the C-level API that other compiled
libraries use, and it compiles in ~20 s.
"""
import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import alignxpert_fast
from alignxpert_fast.kernels._backends import reference

CONSUMER = textwrap.dedent(
    """
    # cython: language_level=3
    # distutils: language = c++
    from alignxpert_fast._cy.kernels cimport gram, stress_value_grad

    def rbf(double[:, ::1] X, double[:, ::1] Y, double[:, ::1] out, double gamma):
        cdef int st
        with nogil:
            st = gram[double](1, &X[0, 0], X.shape[0], &Y[0, 0], Y.shape[0], X.shape[1], &out[0, 0],
                              gamma, 0.0, 1, False, 1)
        return st

    def stress32(float[:, ::1] X, float[:, ::1] Z, float[:, ::1] G):
        cdef double v = -1.0
        cdef int st
        with nogil:
            st = stress_value_grad[float](&X[0, 0], &Z[0, 0], X.shape[0], X.shape[1], Z.shape[1], &G[0, 0], 1, &v)
        return st, v

    def bad_poly(double[:, ::1] X, double[:, ::1] out):
        # degree 0 is invalid: must come back as status 1, not crash
        return gram[double](2, &X[0, 0], X.shape[0], &X[0, 0], X.shape[0], X.shape[1], &out[0, 0],
                            1.0, 1.0, 0, True, 1)
    """
)

SETUP = textwrap.dedent(
    """
    import os, sys
    from setuptools import setup, Extension
    from Cython.Build import cythonize
    inc = sys.argv.pop()
    setup(ext_modules=cythonize([Extension("axf_consumer", ["axf_consumer.pyx"], language="c++",
                                           extra_compile_args=["-std=c++17"])],
                                include_path=[inc], quiet=True),
          script_args=["build_ext", "--inplace"])
    """
)


@pytest.fixture(scope="module")
def consumer(tmp_path_factory):
    pytest.importorskip("Cython")
    d = tmp_path_factory.mktemp("cy")
    (d / "axf_consumer.pyx").write_text(CONSUMER)
    (d / "setup.py").write_text(SETUP)
    pkg_parent = os.path.dirname(os.path.dirname(alignxpert_fast.__file__))
    res = subprocess.run([sys.executable, "setup.py", pkg_parent], cwd=d, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    sys.path.insert(0, str(d))
    try:
        importlib.import_module("alignxpert_fast._cy.kernels")  # sets the BLAS pointers
        axf_consumer = importlib.import_module("axf_consumer")

        yield axf_consumer
    finally:
        sys.path.remove(str(d))


def test_consumer_gram_matches_reference(consumer):
    rng = np.random.default_rng(0)
    X, Y = rng.random((37, 5)), rng.random((23, 5))
    out = np.empty((37, 23))
    assert consumer.rbf(X, Y, out, 0.7) == 0
    expected = np.empty_like(out)
    reference.gram("rbf", X, Y, expected, gamma=0.7, coef0=0.0, degree=1, symmetric=False, n_threads=1,
                   block_rows=8, block_cols=8)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def test_consumer_stress_matches_public(consumer):
    rng = np.random.default_rng(1)
    X = rng.random((40, 6)).astype(np.float32)
    Z = rng.random((40, 3)).astype(np.float32)
    G = np.empty_like(Z)
    status, value = consumer.stress32(X, Z, G)
    assert status == 0
    v_ref, g_ref = alignxpert_fast.stress_and_grad(X, Z, backend="reference")
    assert value == pytest.approx(v_ref, rel=1e-4)
    np.testing.assert_allclose(G, g_ref, rtol=1e-3, atol=1e-5)


def test_consumer_bad_argument_gives_status(consumer):
    X = np.ones((4, 2))
    assert consumer.bad_poly(X, np.empty((4, 4))) == 1
