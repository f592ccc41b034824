"""Glue shared by the public functions: parameter checks, centering, backend calls."""
from __future__ import annotations

import warnings

import numpy as np

from . import _blocking
from ._config import get_config
from ._dispatch import resolve_backend
from ._threads import effective_n_threads
from ._validation import check_block, check_n_threads, check_scalar

# public kernel name -> internal name
KERNELS = {
    "rbf": "rbf",
    "poly": "poly",
    "polynomial": "poly",
    "linear": "linear",
    "cosine": "cosine",
}
KERNEL_PARAMS = {"rbf": ("gamma",), "poly": ("gamma", "degree", "coef0"), "linear": (), "cosine": ()}
TRANSLATION_INVARIANT = ("rbf", "sqeuclidean", "euclidean")


def check_kernel_name(kernel):
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
    return KERNELS[kernel]


def kernel_params(kernel, n_features, gamma=None, degree=3, coef0=1, given=()):
    """Validate and complete the parameters of ``kernel`` -> dict(gamma, degree, coef0)."""
    for name in given:
        if name not in KERNEL_PARAMS[kernel]:
            warnings.warn(f"parameter {name!r} is ignored by the {kernel!r} kernel", UserWarning, stacklevel=4)
    if gamma is None:
        gamma = 1.0 / n_features
    if kernel in ("rbf", "poly"):
        gamma = check_scalar(gamma, "gamma", lower=0, include_lower=False)
    else:
        gamma = 1.0
    if kernel == "poly":
        degree = check_scalar(degree, "degree", lower=1, integer=True)
        coef0 = check_scalar(coef0, "coef0")
    else:
        degree, coef0 = 1, 0.0
    return {"gamma": gamma, "degree": degree, "coef0": coef0}


# Center only when the common offset dominates the spread: at ||mu||^2 <= OFFSET_RATIO *
# mean ||x - mu||^2 the norm trick loses at most a factor ~(1 + OFFSET_RATIO) / 2 in
# relative accuracy, and skipping the centered copies saves O((n + m) d) memory.
OFFSET_RATIO = 8.0


def center_pair(X, Y, symmetric):
    """Subtract the common mean (computed in float64) from X and Y when it matters.

    Distances and the RBF kernel are translation invariant; centering makes the
    norm-trick cancellation relative to the data's spread instead of its offset.  Inputs
    whose offset is small next to their spread (``OFFSET_RATIO``) are returned as they
    are (no copy).
    """
    n_tot = X.shape[0] + (0 if symmetric else Y.shape[0])
    total = X.sum(axis=0, dtype=np.float64)
    sq = float(np.einsum("ij,ij->", X, X, dtype=np.float64))
    if not symmetric:
        total = total + Y.sum(axis=0, dtype=np.float64)
        sq += float(np.einsum("ij,ij->", Y, Y, dtype=np.float64))
    mu = total / n_tot
    mu_sq = float(mu @ mu)
    spread = max(sq / n_tot - mu_sq, 0.0)
    if mu_sq <= OFFSET_RATIO * spread:
        return X, Y
    mu = mu.astype(X.dtype)
    Xc = X - mu
    return Xc, (Xc if symmetric else Y - mu)


def resolve_run(backend, n_threads, block_rows, block_cols):
    mod = resolve_backend(backend)
    check_n_threads(n_threads)
    nt = effective_n_threads(n_threads)
    return mod, nt, check_block(block_rows, "block_rows"), check_block(block_cols, "block_cols")


def run_gram(kernel, X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols):
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    if kernel in TRANSLATION_INVARIANT:
        X, Y = center_pair(X, Y, symmetric)
    nt = _blocking.cap_threads(nt, X.shape[0] * Y.shape[0] * X.shape[1])
    br, bc = _blocking.gram_blocks(X.shape[0], Y.shape[0], nt, br, bc)
    mod.gram(kernel, X, Y, out, symmetric=symmetric, n_threads=nt, block_rows=br, block_cols=bc, **params)
    return out


def run_matvec(kernel, X, Y, V, out, symmetric, params, backend, n_threads, block_rows, block_cols):
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    if kernel in TRANSLATION_INVARIANT:
        X, Y = center_pair(X, Y, symmetric)
    p = 1 if V is None else V.shape[1]
    nt = _blocking.cap_threads(nt, X.shape[0] * Y.shape[0] * (X.shape[1] + p))
    br, bc = _blocking.reduction_blocks(
        X.shape[0], Y.shape[0], p, X.dtype.itemsize, nt, get_config()["working_memory"], br, bc
    )
    nt = min(nt, -(-X.shape[0] // br))  # no more threads than row blocks
    mod.kernel_matvec(
        kernel, X, Y, V, out, symmetric=symmetric, n_threads=nt, block_rows=br, block_cols=bc, **params
    )
    return out
