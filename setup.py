"""Build alignxpert_fast._native (pybind11, C++17, OpenMP) and alignxpert_fast._cy.kernels (Cython, C++).

OpenMP is probed by compiling a tiny program; without it the extensions build serial and
``alignxpert_fast.show_config()`` says so.  No ``-march=native`` unless AXF_NATIVE_ARCH=1.
Set AXF_DISABLE_OPENMP=1 to force a serial build.
"""
import os
import re
import shutil
import sys
import tempfile
import textwrap

import numpy as np
from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# the one version source is alignxpert_fast/_version.py (pyproject.toml reads it too)
with open(os.path.join(HERE, "alignxpert_fast", "_version.py")) as _f:
    VERSION = re.search(r'^__version__ = "([^"]+)"', _f.read(), re.M).group(1)


def _compiles(compiler, flags, link_flags, source):
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.cpp")
        with open(src, "w") as f:
            f.write(source)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        compiler.link_executable(objs, os.path.join(tmp, "probe"), extra_postargs=link_flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main() { int s = 0;
    #pragma omp parallel for reduction(+:s)
      for (int i = 0; i < 8; ++i) s += omp_get_num_threads() > 0;
      return s == 8 ? 0 : 1; }
    """
)


class BuildExt(build_ext):
    def build_extensions(self):
        ct = self.compiler.compiler_type
        compile_flags, link_flags = [], []
        if ct == "unix":
            compile_flags += ["-O3", "-fvisibility=hidden", "-fno-math-errno", "-fno-trapping-math"]
            if os.environ.get("AXF_NATIVE_ARCH", "0") == "1":
                compile_flags.append("-march=native")
            omp = os.environ.get("AXF_DISABLE_OPENMP", "0") != "1" and _compiles(
                self.compiler, ["-fopenmp"], ["-fopenmp"], OMP_PROBE
            )
            if omp:
                compile_flags.append("-fopenmp")
                link_flags.append("-fopenmp")
            else:
                compile_flags.append("-fopenmp-simd")
                sys.stderr.write(
                    "WARNING alignxpert_fast: OpenMP not available; building the native kernels serial\n"
                )
        elif ct == "msvc":
            compile_flags += ["/O2", "/openmp"]
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + compile_flags
            ext.extra_link_args = list(ext.extra_link_args or []) + link_flags
        super().build_extensions()


ext_modules = [
    Pybind11Extension(
        "alignxpert_fast._native",
        ["csrc/bindings.cpp"],
        include_dirs=["csrc"],
        cxx_std=17,
        define_macros=[("AXF_VERSION", f'"{VERSION}"')],
    )
]

cy_source = os.path.join("alignxpert_fast", "_cy", "kernels.pyx")
if os.path.exists(os.path.join(HERE, cy_source)):
    from Cython.Build import cythonize

    ext_modules += cythonize(
        [
            Extension(
                "alignxpert_fast._cy.kernels",
                [cy_source],
                include_dirs=["csrc", np.get_include()],
                language="c++",
                extra_compile_args=["-std=c++17"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        ],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt})
