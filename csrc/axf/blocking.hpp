// Default tile sizes: the C++ half of the block-size rules.
//
// alignxpert_fast/kernels/_plan.py states the same constants for Python (the planner
// passes explicit sizes to every binding); the C-API entry points (capi.hpp), which have
// no planner, use these.  The extension exports them as _native.BLOCKING and
// tests/test_layout.py checks that both sides agree.
#pragma once

#include <algorithm>

#include "common.hpp"

namespace axf {
namespace blocking {

constexpr index_t min_block = 16;             // smallest default tile side
constexpr index_t gram_max_rows = 2048;       // Gram row panel (one per thread or more)
constexpr index_t gram_max_cols = 8192;       // Gram column tile
constexpr index_t reduction_cols = 2048;      // K @ V column tile
constexpr index_t reduction_max_rows = 512;   // K @ V row block
constexpr index_t stress_rows = 256;          // stress row block (and packed-cache block)

// Gram row panel for n rows on n_threads threads (as _plan.gram_blocks).
inline index_t gram_rows(index_t n, int n_threads) {
    return std::max(min_block, std::min(gram_max_rows, ceil_div(std::max<index_t>(n, 1), index_t(n_threads))));
}

}  // namespace blocking
}  // namespace axf
