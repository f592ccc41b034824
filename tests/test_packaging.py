"""The sdist builds a working wheel: sdist -> wheel in a clean directory -> a fresh venv
-> the native extension and the Cython ``.pxd`` API work from the installed package.

Marked slow (builds twice, ~2-3 min with network access to the package index for the
isolated build requirements); ``.ci/run`` runs it with ``--runslow``.
"""
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = textwrap.dedent(
    """
    import os, sys, subprocess, textwrap
    import numpy as np
    import alignxpert_fast as axf
    from alignxpert_fast import _native
    assert os.path.realpath(axf.__file__).startswith(os.path.realpath(sys.prefix)), axf.__file__
    X = np.random.default_rng(0).standard_normal((50, 7))
    K = axf.rbf_kernel(X, backend="native", gamma=0.3)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    assert np.allclose(K, np.exp(-0.3 * d2), atol=1e-12)
    try:  # the optional Dask layer ships in the wheel (dask itself comes with the [dask] extra)
        import dask  # noqa: F401
    except ImportError:
        pass
    else:
        import alignxpert_fast.dask as axd
        assert os.path.realpath(axd.__file__).startswith(os.path.realpath(sys.prefix)), axd.__file__
    pxd = os.path.join(os.path.dirname(axf.__file__), "_cy", "kernels.pxd")
    assert os.path.isfile(pxd), pxd
    src = textwrap.dedent('''
        # cython: language_level=3
        # distutils: language = c++
        from alignxpert_fast._cy.kernels cimport gram
        def lin(double[:, ::1] X, double[:, ::1] out):
            return gram[double](0, &X[0, 0], X.shape[0], &X[0, 0], X.shape[0], X.shape[1], &out[0, 0],
                                1.0, 0.0, 1, True, 1)
    ''')
    open("consumer.pyx", "w").write(src)
    open("setup_consumer.py", "w").write(textwrap.dedent('''
        from setuptools import setup, Extension
        from Cython.Build import cythonize
        setup(ext_modules=cythonize([Extension("consumer", ["consumer.pyx"], language="c++",
                                               extra_compile_args=["-std=c++17"])], quiet=True),
              script_args=["build_ext", "--inplace"])
    '''))
    subprocess.run([sys.executable, "setup_consumer.py"], check=True, capture_output=True)
    sys.path.insert(0, os.getcwd())
    import consumer
    out = np.empty((50, 50))
    assert consumer.lin(X, out) == 0 and np.allclose(out, X @ X.T)
    print("installed-ok", axf.__version__)
    """
)


def _run(cmd, cwd, timeout=900):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.mark.slow
def test_sdist_builds_a_wheel_that_installs_and_works(tmp_path):
    sdist_dir, wheel_dir, work = tmp_path / "sdist", tmp_path / "wheel", tmp_path / "work"
    for d in (sdist_dir, wheel_dir, work):
        d.mkdir()
    _run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(sdist_dir)!r})"],
         cwd=ROOT)
    (sdist,) = list(sdist_dir.glob("alignxpert_fast-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert any(n.endswith("csrc/axf/gram.hpp") for n in names) and any(n.endswith("LICENSE") for n in names)
    assert not any(n.endswith((".so", ".o")) for n in names)
    # the wheel is built from the sdist alone, in a clean directory, with build isolation
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(sdist)], cwd=work)
    (wheel,) = list(wheel_dir.glob("alignxpert_fast-*.whl"))
    venv = tmp_path / "venv"
    # system site packages provide the runtime dependencies (numpy, scipy, numba, ...);
    # the package itself comes only from the wheel
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=work)
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], cwd=work)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    res = subprocess.run([py, "-c", CHECK], cwd=work, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0 and "installed-ok" in res.stdout, res.stdout[-2000:] + res.stderr[-3000:]
