"""Block-size rules, the same on both sides of the seam (csrc/axf clamps to the shape).

Gram matrices: tiles are written straight into the output, so the only constraint is
gemm efficiency: large row panels (one per thread or more) and wide column tiles.
Reductions and stress: each thread holds ``block_rows x block_cols`` tiles in private
scratch, sized from ``working_memory`` (MiB, all threads together).
"""
from __future__ import annotations

import math

GRAM_MAX_ROWS = 2048
GRAM_MAX_COLS = 8192
MIN_BLOCK = 16


def gram_blocks(n, m, n_threads, block_rows=None, block_cols=None):
    """(block_rows, block_cols) for a full Gram/distance matrix."""
    br = block_rows or max(MIN_BLOCK, min(GRAM_MAX_ROWS, math.ceil(max(n, 1) / n_threads)))
    bc = block_cols or max(MIN_BLOCK, min(GRAM_MAX_COLS, max(m, 1)))
    return int(br), int(bc)


def reduction_blocks(n, m, p, itemsize, n_threads, working_memory, block_rows=None, block_cols=None, n_tiles=1,
                     max_rows=512):
    """(block_rows, block_cols) for a blockwise reduction.

    Per thread the scratch is ``n_tiles * br * bc`` tile entries plus ``2 * br * p``
    accumulator entries; all threads together stay within ``working_memory`` MiB.
    ``max_rows`` caps the default ``br`` (the stress passes 256: its tiles are read
    several times, and 256 x 2048 float32 tiles stay in L2).
    """
    budget = working_memory * 2**20 / max(1, n_threads)
    bc = block_cols or max(MIN_BLOCK, min(2048, max(m, 1)))
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
