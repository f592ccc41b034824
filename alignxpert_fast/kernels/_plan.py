"""The planner between the public kernel functions and the backends.

It decides everything a backend call needs besides the arrays: the backend module
(via :mod:`._dispatch`), the thread count (resolved, then capped by the work), the tile
shape (from ``working_memory`` or the caller's ``block_rows`` / ``block_cols``), and
whether translation-invariant inputs are centered first.  Backends receive these as
plain ints and never re-plan.

Block-size rules are the same on both sides of the seam: ``csrc/axf/blocking.hpp``
holds the C++ defaults (for the Cython C-API), and ``tests/test_layout.py`` checks the
constants below against the ones the extension exports.

Gram matrices: tiles are written straight into the output, so the only constraint is
gemm efficiency: large row panels (one per thread or more) and wide column tiles.
Reductions and stress: each thread holds ``block_rows x block_cols`` tiles in private
scratch, sized from ``working_memory`` (MiB, all threads together).
"""
from __future__ import annotations

import math

import numpy as np

from .._config import get_config
from .._utils.threads import effective_n_threads, hardware_threads
from .._utils.validation import check_block, check_n_threads
from ._dispatch import resolve_backend
from ._scaling import params_fit, scale_back, scale_inputs
from ._spec import SPECS


GRAM_MAX_ROWS = 2048
GRAM_MAX_COLS = 8192
MIN_BLOCK = 16
REDUCTION_COLS = 2048
REDUCTION_MAX_ROWS = 512
STRESS_ROWS = 256


def gram_blocks(n, m, n_threads, block_rows=None, block_cols=None):
    """(block_rows, block_cols) for a full Gram/distance matrix."""
    br = block_rows or max(MIN_BLOCK, min(GRAM_MAX_ROWS, math.ceil(max(n, 1) / n_threads)))
    bc = block_cols or max(MIN_BLOCK, min(GRAM_MAX_COLS, max(m, 1)))
    return int(br), int(bc)


def reduction_blocks(n, m, p, itemsize, n_threads, working_memory, block_rows=None, block_cols=None, n_tiles=1,
                     max_rows=REDUCTION_MAX_ROWS):
    """(block_rows, block_cols) for a blockwise reduction.

    Per thread the scratch is ``n_tiles * br * bc`` tile entries plus ``2 * br * p``
    accumulator entries; all threads together stay within ``working_memory`` MiB.
    ``max_rows`` caps the default ``br`` (the stress passes 256: its tiles are read
    several times, and 256 x 2048 float32 tiles stay in L2).
    """
    budget = working_memory * 2**20 / max(1, n_threads)
    bc = block_cols or max(MIN_BLOCK, min(REDUCTION_COLS, max(m, 1)))
    if block_rows:
        br = block_rows
    else:
        per_row = n_tiles * bc * itemsize + 2 * p * 8
        br = int(budget // max(per_row, 1))
        br = max(MIN_BLOCK, min(br, max_rows, math.ceil(max(n, 1) / n_threads)))
    return int(br), int(bc)


# Below this many multiply-adds a call runs on one thread: waking a thread team costs
# more than it saves (and much more on a loaded machine).
MIN_WORK_PER_THREAD = 2_000_000


def cap_threads(n_threads, work):
    """No more threads than the work justifies (scikit-learn: no more threads than chunks)."""
    return int(max(1, min(n_threads, work // MIN_WORK_PER_THREAD)))


def cap_threads_for_accumulators(n_threads, n, k, working_memory):
    """The stress keeps one float64 (n, k) gradient accumulator per thread (rows collect
    mirror tiles of other row blocks): no more threads than keep those within
    ``16 * working_memory`` MiB (1 GiB by default), and never fewer than two."""
    per_thread = 8 * max(1, n) * max(1, k)
    return int(max(1, min(n_threads, max(2, (16 * working_memory * 2**20) // per_thread))))


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


def _as_float64(X, Y, V, symmetric):
    X64 = X.astype(np.float64)
    return X64, (X64 if symmetric else Y.astype(np.float64)), (None if V is None else V.astype(np.float64))


def run_gram(kernel, X, Y, out, symmetric, params, backend, n_threads, block_rows, block_cols):
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    if SPECS[kernel].translation_invariant:
        X, Y = center_pair(X, Y, symmetric)
    X, Y, params, out_exp = scale_inputs(kernel, X, Y, symmetric, params)
    if not params_fit(X.dtype, params):  # float32 with gamma / coef0 beyond float32
        X, Y, _ = _as_float64(X, Y, None, symmetric)
        result = np.empty(out.shape, np.float64)
    else:
        result = out
    nt = cap_threads(nt, X.shape[0] * Y.shape[0] * X.shape[1])
    br, bc = gram_blocks(X.shape[0], Y.shape[0], nt, br, bc)
    mod.gram(kernel, X, Y, result, symmetric=symmetric, n_threads=nt, block_rows=br, block_cols=bc, **params)
    if result is not out:
        with np.errstate(over="ignore"):  # beyond float32: inf, as float32 arithmetic gives
            out[...] = result
    return scale_back(out, out_exp)


def run_matvec(kernel, X, Y, V, out, symmetric, params, backend, n_threads, block_rows, block_cols):
    mod, nt, br, bc = resolve_run(backend, n_threads, block_rows, block_cols)
    if SPECS[kernel].translation_invariant:
        X, Y = center_pair(X, Y, symmetric)
    X, Y, params, _ = scale_inputs(kernel, X, Y, symmetric, params)  # only kernels, no distances, here
    result = out
    if not params_fit(X.dtype, params):  # float32 with gamma / coef0 beyond float32
        X, Y, V = _as_float64(X, Y, V, symmetric)
        result = np.empty(out.shape, np.float64)
    p = 1 if V is None else V.shape[1]
    nt = cap_threads(nt, X.shape[0] * Y.shape[0] * (X.shape[1] + p))
    br, bc = reduction_blocks(
        X.shape[0], Y.shape[0], p, X.dtype.itemsize, nt, get_config()["working_memory"], br, bc
    )
    nt = min(nt, -(-X.shape[0] // br))  # no more threads than row blocks
    mod.kernel_matvec(
        kernel, X, Y, V, result, symmetric=symmetric, n_threads=nt, block_rows=br, block_cols=bc, **params
    )
    if result is not out:
        with np.errstate(over="ignore"):  # beyond float32: inf, as float32 arithmetic gives
            out[...] = result
    return out


def stress_plan(Z, with_grad, nt, work, br, bc):
    """(threads, block_rows, block_cols) of a stress call on Z (n, k): no more threads than
    ``work`` (multiply-adds) justifies, than row blocks, and (with a gradient) than the
    per-thread accumulator budget allows; tiles sized from ``working_memory`` and the
    hardware's thread count (not ``nt``), so the value does not depend on ``n_threads``."""
    n, k = Z.shape
    wm = get_config()["working_memory"]
    nt = cap_threads(nt, work)
    # tiles sized for the most threads this process may use, not for nt: the blocks fix
    # the order of the float64 sums, so the value is the same for every n_threads
    br, bc = reduction_blocks(n, n, k, Z.dtype.itemsize, max(nt, hardware_threads()), wm, br, bc, n_tiles=2,
                              max_rows=STRESS_ROWS)
    nt = min(nt, -(-n // br))  # no more threads than row blocks
    if with_grad:
        nt = cap_threads_for_accumulators(nt, n, k, wm)
    return nt, br, bc


def contrastive_plan(n, k, itemsize, nt, br, bc, compute_grad):
    """(threads, block_rows, block_cols) of a contrastive call on (n, k) inputs: no more
    threads than the work (4 n^2 k multiply-adds with the gradient, n^2 k without)
    justifies, than row blocks, and (gradient) than the per-thread float64 (n, k) dB
    accumulators allow; tiles of at most 256 x 1024 within ``working_memory``."""
    wm = get_config()["working_memory"]
    nt = cap_threads(nt, (4 if compute_grad else 1) * n * n * k)
    given = br
    br, bc = reduction_blocks(n, n, k, itemsize, nt, wm, br, bc or min(1024, max(n, 1)), max_rows=STRESS_ROWS)
    if not given and nt > 1:
        # equal row blocks, a multiple of nt of them: the static schedule gives every thread
        # the same rows (n = 1438 on 2 threads: 6 x 240 instead of 5 x 256 + 158)
        nb = -(-n // br)
        nb = -(-nb // nt) * nt
        br = max(1, -(-n // nb))
    nt = min(nt, -(-n // br))  # no more threads than row blocks
    if compute_grad:
        nt = cap_threads_for_accumulators(nt, n, k, wm)
    return nt, br, bc
