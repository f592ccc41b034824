"""Adapter over the C++/OpenMP extension ``alignxpert_fast._native``."""
from __future__ import annotations

import numpy as np

from ..._utils.threads import single_threaded_blas
from .._spec import KIND_CODES
from ._layout import NONFINITE_LOGITS_PREFIX, NonFiniteLogits

NAME = "native"
try:
    from ... import _native

    LOAD_ERROR = None
except ImportError as exc:  # extension not built: keep the reason for show_config
    _native = None
    LOAD_ERROR = f"{type(exc).__name__}: {exc}"


def _fn(base, dtype):
    return getattr(_native, f"{base}_{'f32' if dtype == np.float32 else 'f64'}")


def gram(kernel, X, Y, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    with single_threaded_blas():
        _fn("gram", X.dtype)(
            KIND_CODES[kernel], X, Y, out, float(gamma), float(coef0), int(degree), bool(symmetric),
            int(n_threads), int(block_rows), int(block_cols),
        )


def kernel_matvec(kernel, X, Y, V, out, *, gamma, coef0, degree, symmetric, n_threads, block_rows, block_cols):
    with single_threaded_blas():
        _fn("kernel_matvec", X.dtype)(
            KIND_CODES[kernel], X, Y, V, out, float(gamma), float(coef0), int(degree), bool(symmetric),
            int(n_threads), int(block_rows), int(block_cols),
        )


def stress(X, Z, grad, *, n_threads, block_rows, block_cols, relative=False):
    with single_threaded_blas():
        return float(_fn("stress", X.dtype)(X, Z, grad, int(n_threads), int(block_rows), int(block_cols),
                                            bool(relative)))


def stress_pack(X, out, *, n_threads, block_rows):
    with single_threaded_blas():
        _fn("stress_pack", X.dtype)(X, out.reshape(1, -1), int(n_threads), int(block_rows))


def stress_cached(D, Z, grad, *, n_threads, block_rows, block_cols, relative=False):
    with single_threaded_blas():
        return float(_fn("stress_cached", Z.dtype)(D.reshape(1, -1), Z, grad, int(n_threads), int(block_rows),
                                                   int(block_cols), bool(relative)))


def matmul(A, B, trans_a, n_threads):
    """``A @ B`` (or ``A.T @ B``) for C-contiguous arrays of one float dtype, split in row
    slabs over ``n_threads`` OpenMP threads (not BLAS threads: see csrc/axf/products.hpp)."""
    out = np.empty((A.shape[1] if trans_a else A.shape[0], B.shape[1]), dtype=A.dtype)
    with single_threaded_blas():
        _fn("matmul", A.dtype)(A, B, out, bool(trans_a), int(n_threads))
    return out


def contrastive(kernel, A, B, dA, dB, *, gamma, coef0, degree, temperature, n_threads, block_rows, block_cols):
    with single_threaded_blas():
        try:
            return _fn("contrastive", A.dtype)(
                KIND_CODES[kernel], A, B, dA, dB, float(gamma), float(coef0), int(degree), float(temperature),
                int(n_threads), int(block_rows), int(block_cols),
            )
        except ValueError as exc:  # the kernel's overflow report -> the exception every backend raises
            if str(exc).startswith(NONFINITE_LOGITS_PREFIX):
                raise NonFiniteLogits(str(exc)) from None
            raise
