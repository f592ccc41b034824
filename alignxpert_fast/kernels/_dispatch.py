"""The backend seam.

::

    public function (kernels/gram.py, distances.py, reductions.py, stress.py)
        |  _utils.validation: 2-D, float32/float64, finite, C order, shapes, scalars, out
        |  _spec: kernel name -> kind, parameters
        |  _plan: centering, threads (_utils.threads), tile sizes
        v
    resolve_backend(backend)  ->  module in BACKENDS
        |
        +-- "native"    _backends/native.py     -> _native (C++17/OpenMP, csrc/axf/*.hpp)
        +-- "numba"     _backends/numba_cpu.py  -> @njit(parallel=True, nogil=True) kernels
        +-- "reference" _backends/reference.py  -> NumPy, blockwise, readable

Every backend module exposes the same private functions with the same arguments, on
validated, C-contiguous arrays of one float dtype::

    gram(kernel, X, Y, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols)
    kernel_matvec(kernel, X, Y, V_or_None, out, *, gamma, coef0, degree, symmetric, n_threads,
                  block_rows, block_cols)
    stress(X, Z, grad_or_None, *, n_threads, block_rows, block_cols) -> value
    stress_pack(X, out_1d, *, n_threads, block_rows)
    stress_cached(D_1d, Z, grad_or_None, *, n_threads, block_rows, block_cols) -> value
    contrastive(kernel, A, B, dA_or_None, dB_or_None, *, gamma, coef0, degree, temperature, n_threads,
                block_rows, block_cols) -> value

``stress_pack`` writes X's pairwise distances in packed upper row blocks (layout in
csrc/axf/stress.hpp and ``_backends/_layout.py``), which ``stress_cached`` reads in
place of X: the same layout in every backend, so a cache made by one serves all.

``kernel`` is an internal name of the registry ``_spec.SPECS`` (``contrastive``: linear,
rbf, poly, cosine).  ``contrastive`` fills dA and dB (A's shape and dtype) with the
gradient, or computes the value only when both are None; overflowing logits raise
``_layout.NonFiniteLogits`` (a ValueError) in every backend.
The public layer centers inputs of translation-invariant kernels (rbf, distances,
stress) on their mean in float64 before calling a backend, so float32 tile products do
not suffer from cancellation.  Native and Numba tiles call BLAS gemm from their own
threads, with every BLAS library limited to one thread for the duration of the call.

``backend="auto"`` takes the first loaded backend in BACKEND_NAMES order, or the one set
with ``set_config(backend=...)``.  An explicit backend that failed to load raises an
ImportError that carries the original import error.
"""
from __future__ import annotations

import importlib

from .._config import BACKEND_NAMES, get_config
_MODULES = {"native": "native", "numba": "numba_cpu", "reference": "reference"}
_loaded = {}


def _load(name):
    if name not in _loaded:
        try:
            mod = importlib.import_module(f"{__package__}._backends.{_MODULES[name]}")
            _loaded[name] = (mod, getattr(mod, "LOAD_ERROR", None))
        except Exception as exc:  # pragma: no cover - depends on the environment
            _loaded[name] = (None, f"{type(exc).__name__}: {exc}")
    return _loaded[name]


def backend_status():
    """{name: (available: bool, reason or None)} for every backend."""
    out = {}
    for name in BACKEND_NAMES:
        mod, err = _load(name)
        out[name] = (mod is not None and err is None, err)
    return out


def resolve_backend(backend="auto"):
    """Return the backend module for ``backend`` ("auto", "native", "numba", "reference")."""
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a str, got {backend!r} of type {type(backend).__name__}")
    if backend == "auto":
        backend = get_config()["backend"]
    if backend == "auto":
        for name in BACKEND_NAMES:
            mod, err = _load(name)
            if mod is not None and err is None:
                return mod
        raise ImportError("no backend could be loaded")  # pragma: no cover - reference always loads
    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend must be one of {('auto',) + BACKEND_NAMES}, got {backend!r}")
    mod, err = _load(backend)
    if mod is None or err is not None:
        raise ImportError(f"backend {backend!r} is not available: {err}")
    return mod
