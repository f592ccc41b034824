"""The kernel registry: every fact about a kernel kind, stated once.

Each backend reads it (the native adapter passes ``code`` to C++, the Numba kernels
branch on it, the reference branches on ``name``); ``csrc/axf/kinds.hpp`` holds the
same table for C++ and the extension exports it as ``_native.KIND_CODES``, which
``tests/test_layout.py`` compares with :data:`KIND_CODES`.

Public kernel names (``kernel=`` arguments) are the keys of :data:`ALIASES`; the
distance kinds ("sqeuclidean", "euclidean") are internal, used by
:func:`alignxpert_fast.euclidean_distances` and the stress.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from .._utils.validation import check_scalar

__all__ = ["KernelSpec", "SPECS", "KIND_CODES", "ALIASES", "MAX_DEGREE", "check_kernel_name", "kernel_params"]

# The largest polynomial degree accepted: the C int range of the native kernels
# (``axf::max_degree`` in csrc/axf/kinds.hpp).  Every backend takes powers by squaring,
# so any accepted degree costs O(log degree) multiplications per entry.
MAX_DEGREE = 2**31 - 1


@dataclass(frozen=True)
class KernelSpec:
    """One kernel kind.

    name : internal name, the same in every backend
    code : its number in ``csrc/axf/kinds.hpp`` (``axf::Kind``)
    params : the parameters it reads, among ("gamma", "degree", "coef0")
    translation_invariant : depends on differences of rows only (then inputs may be
        centered before the norm trick, see ``_plan.center_pair``)
    """

    name: str
    code: int
    params: tuple
    translation_invariant: bool


SPECS = {
    s.name: s
    for s in (
        KernelSpec("linear", 0, (), False),
        KernelSpec("rbf", 1, ("gamma",), True),
        KernelSpec("poly", 2, ("gamma", "degree", "coef0"), False),
        KernelSpec("cosine", 3, (), False),
        KernelSpec("sqeuclidean", 4, (), True),
        KernelSpec("euclidean", 5, (), True),
    )
}
KIND_CODES = {name: s.code for name, s in SPECS.items()}

# public kernel name -> internal name (Gram functions, reductions, similarity kernels)
ALIASES = {"rbf": "rbf", "poly": "poly", "polynomial": "poly", "linear": "linear", "cosine": "cosine"}


def check_kernel_name(kernel, argname="kernel"):
    """A public kernel name (or alias) -> its internal name; ValueError otherwise."""
    if not isinstance(kernel, str) or kernel not in ALIASES:
        raise ValueError(f"{argname} must be one of {sorted(ALIASES)}, got {kernel!r}")
    return ALIASES[kernel]


def kernel_params(kernel, n_features, gamma=None, degree=3, coef0=1, given=(), sklearn_compat=False):
    """Validate and complete the parameters of ``kernel`` -> dict(gamma, degree, coef0).

    ``gamma=None`` means ``1 / n_features``.  The compiled paths need ``gamma > 0`` and an
    integer ``degree >= 1``; with ``sklearn_compat`` (the Gram functions, which handle the
    rest in NumPy) ``gamma >= 0`` (0: a constant kernel) and any real ``degree > 0`` are
    accepted as in scikit-learn, an integral degree returned as an int.  Parameters in
    ``given`` that the kernel does not read get a UserWarning that names them.
    """
    reads = SPECS[kernel].params
    for name in given:
        if name not in reads:
            warnings.warn(f"parameter {name!r} is ignored by the {kernel!r} kernel", UserWarning, stacklevel=4)
    if gamma is None:
        gamma = 1.0 / n_features
    if "gamma" in reads:
        gamma = check_scalar(gamma, "gamma", lower=0, include_lower=sklearn_compat)
    else:
        gamma = 1.0
    if "degree" in reads:
        if sklearn_compat:
            degree = check_scalar(degree, "degree", lower=0, upper=MAX_DEGREE, include_lower=False)
            degree = int(degree) if float(degree).is_integer() else degree
        else:
            degree = check_scalar(degree, "degree", lower=1, upper=MAX_DEGREE, integer=True)
        coef0 = check_scalar(coef0, "coef0")
    else:
        degree, coef0 = 1, 0.0
    return {"gamma": gamma, "degree": degree, "coef0": coef0}
