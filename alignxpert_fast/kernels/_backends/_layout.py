"""Facts every backend shares, stated once for Python: the stress layout and floors, and
the contrastive kernel's overflow error.

``csrc/axf/stress.hpp`` states the same for C++ (``packed_total``, ``noise_floor``,
``value_floor``); the extension exports them and ``tests/test_layout.py`` checks that
both sides agree.

Packed distance cache: the rows are cut into blocks of ``block_rows``; block b (first row
``r0 = b * block_rows``) holds ``D[r0:r0 + rows, r0:]`` row-major, so only the upper
triangle (and each block's diagonal square) is stored.
"""
from __future__ import annotations

import numpy as np


def packed_offsets(n, block_rows):
    """int64 offsets of the packed row blocks of n rows; the last entry is the total size."""
    r0 = np.arange(0, n, block_rows, dtype=np.int64)
    off = np.zeros(r0.shape[0] + 1, np.int64)
    np.cumsum(np.minimum(block_rows, n - r0) * (n - r0), out=off[1:])
    return off


def packed_total(n, block_rows):
    """Entries of the packed cache of n rows (no allocation)."""
    q, r = divmod(int(n), int(block_rows))
    b = int(block_rows)
    # full blocks: sum over t < q of b * (n - t b); the partial last block: r * r
    return q * b * n - b * b * q * (q - 1) // 2 + r * r


def noise_floor(dtype, dim):
    """Squared distances below ``noise_floor * (|a|^2 + |b|^2)`` are rounding noise of the
    norm trick and count as 0 (the value in the working dtype)."""
    dtype = np.dtype(dtype)
    return dtype.type(8.0 * float(np.finfo(dtype).eps) * np.sqrt(max(int(dim), 1)))


def stress_value_floor(dtype):
    """Below this stress value the gradient is rounding noise (at an isometry, Z = X Q, it
    is as large as a real gradient): it is reported as 0 there, a subgradient."""
    return 64.0 * float(np.finfo(dtype).eps)


def stress_finish(num, den, dtype):
    """(value, gradient scale) from the float64 sums over ordered pairs
    ``num = sum (D_ij - E_ij)^2`` and ``den = sum D_ij^2``; the gradient is
    ``scale * (wsum_i z_i - sum_j w_ij z_j)``."""
    if not den > 0:
        raise ValueError("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)")
    value = float(np.sqrt(num) / np.sqrt(den))  # num / den may overflow
    scale = 1.0 / (value * den * 0.5) if value > stress_value_floor(dtype) else 0.0
    return value, scale


NONFINITE_LOGITS = (
    "contrastive: the logits kappa(A, B) / temperature are not finite (the kernel values overflow the dtype, "
    "e.g. a poly or linear kernel on large A, B, or a tiny temperature); scale A and B down, raise the "
    "temperature, or use float64"
)


# the native adapter recognises the C++ report by this prefix (csrc/axf/contrastive.hpp)
NONFINITE_LOGITS_PREFIX = "contrastive: the "


class NonFiniteLogits(ValueError):
    """The contrastive logits overflowed (raised by every backend, caught by the objective,
    which then reports an infinite loss as it does for a diverged projection)."""
