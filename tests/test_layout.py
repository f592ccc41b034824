"""The package's shape: module sizes, no import cycles, one version source, and the facts
that C++ and Python both state (kernel kinds, block sizes, the packed-cache layout, the
stress rounding floors) agreeing."""
import ast
import os
import re

import numpy as np
import pytest

import alignxpert_fast
from alignxpert_fast import _native
from alignxpert_fast.kernels import _plan, _spec
from alignxpert_fast.kernels._backends import _layout

PKG = os.path.dirname(alignxpert_fast.__file__)
EXTENSIONS = {"alignxpert_fast._native", "alignxpert_fast._cy.kernels"}  # compiled leaves
ROOT = os.path.dirname(PKG)


def _read(path):
    with open(path) as f:
        return f.read()


def _modules():
    """{dotted module name: path} of every .py file of the package."""
    out = {}
    for dirpath, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), ROOT)[:-3].replace(os.sep, ".")
                out[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(dirpath, f)
    return out


def _imports(name, path, modules):
    """Package modules imported by ``name`` anywhere in its file (function bodies too)."""
    tree = ast.parse(_read(path))
    is_pkg = path.endswith("__init__.py")
    known = set(modules) | EXTENSIONS
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t not in EXTENSIONS:
                found.add(t)
    return found


def test_no_module_over_400_lines():
    long = {name: n for name, path in _modules().items() if (n := len(_read(path).splitlines())) > 400}
    assert not long, long


def test_main_is_a_few_lines():
    assert len(_read(os.path.join(PKG, "__main__.py")).splitlines()) < 30


def test_no_import_cycles():
    """A package imports its submodules; apart from that edge no module may reach itself."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    for name, deps in graph.items():
        # "package -> its own submodule" edges are how packages re-export: keep them, but a
        # submodule importing its parent package (or the root) is an edge back
        graph[name] = {d for d in deps if not (name.startswith(d + ".") and d != name)} if "." in name else deps
    cycles = []

    def visit(node, stack, seen):
        for nxt in graph[node]:
            if nxt in stack:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt)
                visit(nxt, stack + [nxt], seen)

    for start in graph:
        visit(start, [start], {start})
    assert not cycles, cycles[:5]


def test_submodules_never_import_the_package_root():
    """Nothing inside the package imports ``alignxpert_fast`` itself (its __init__)."""
    modules = _modules()
    offenders = [name for name, path in modules.items()
                 if name != "alignxpert_fast" and "alignxpert_fast" in _imports(name, path, modules)]
    assert not offenders


def test_one_version_source():
    text = _read(os.path.join(PKG, "_version.py"))
    version = re.search(r'__version__ = "([^"]+)"', text).group(1)
    assert alignxpert_fast.__version__ == version == _native.__version__
    for f in ("setup.py", "pyproject.toml"):
        assert version not in _read(os.path.join(ROOT, f)), f"{f} repeats the version"


def test_kernel_kinds_agree_with_cpp():
    assert dict(_native.KIND_CODES) == _spec.KIND_CODES
    assert _native.MAX_DEGREE == _spec.MAX_DEGREE
    from alignxpert_fast.kernels._backends import _numba_common

    assert (_numba_common._LINEAR, _numba_common._RBF, _numba_common._POLY, _numba_common._COSINE,
            _numba_common._SQEUCLIDEAN, _numba_common._EUCLIDEAN) == tuple(
        _spec.KIND_CODES[k] for k in ("linear", "rbf", "poly", "cosine", "sqeuclidean", "euclidean"))


def test_block_sizes_agree_with_cpp():
    for name, value in dict(_native.BLOCKING).items():
        assert getattr(_plan, name) == value, name


@pytest.mark.parametrize("n", [0, 1, 2, 7, 255, 256, 257, 1000])
@pytest.mark.parametrize("br", [1, 3, 16, 256])
def test_packed_layout_agrees_with_cpp(n, br):
    assert _layout.packed_total(n, br) == _native.packed_total(n, br) == _layout.packed_offsets(n, br)[-1]


@pytest.mark.parametrize("dim", [1, 2, 33, 768])
def test_stress_floors_agree_with_cpp(dim):
    assert _layout.noise_floor(np.float32, dim) == np.float32(_native.noise_floor_f32(dim))
    assert _layout.noise_floor(np.float64, dim) == _native.noise_floor_f64(dim)
    assert _layout.stress_value_floor(np.float32) == _native.value_floor_f32()
    assert _layout.stress_value_floor(np.float64) == _native.value_floor_f64()
