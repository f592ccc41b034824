// Kernel reductions that never materialise K: out = K(X, Y) @ V, or the row sums K(X, Y) @ 1.
//
// Each OpenMP thread owns whole row blocks of the output: for its block it walks the
// column blocks of Y in order, builds one Gram tile in private scratch (gemm + epilogue),
// and folds it into a double accumulator (a second gemm against the V panel, or a
// row sum).  Memory: O(threads * (br * bc + br * p)) scratch beyond the inputs.
#pragma once

#include "gram.hpp"

namespace axf {

// V may be null (row sums; p must be 1).  out is n x p, C order.
template <typename T>
void kernel_matvec(Kind kind, const KernelParams& p, const T* X, index_t n, const T* Y, index_t m,
                   index_t d, const T* V, index_t pc, T* out, bool symmetric, int n_threads,
                   index_t br, index_t bc) {
    if (n == 0) return;
    if (m == 0) {
        for (index_t i = 0; i < n * pc; ++i) out[i] = T(0);
        return;
    }
    br = std::max<index_t>(1, std::min(br, n));
    bc = std::max<index_t>(1, std::min(bc, m));
    std::vector<T> ax, ay;
    pair_aux(kind, X, n, Y, m, d, symmetric, ax, ay, n_threads);
    const T alpha = gemm_alpha<T>(kind, p);
    const index_t nbr = ceil_div(n, br);
    const int nt = std::max(1, n_threads);
    // per-thread scratch, allocated before the parallel region (no throw inside it)
    Scratch<T> tiles(size_t(nt) * size_t(br * bc));
    Scratch<T> tmps(size_t(nt) * size_t(br * pc));
    Scratch<double> accs(size_t(nt) * size_t(br * pc));
#pragma omp parallel num_threads(nt)
    {
        const int tid = thread_id();
        T* tile = tiles.data() + size_t(tid) * size_t(br * bc);
        T* tmp = tmps.data() + size_t(tid) * size_t(br * pc);
        double* acc = accs.data() + size_t(tid) * size_t(br * pc);
#pragma omp for schedule(static)
        for (index_t b = 0; b < nbr; ++b) {
            const index_t r0 = b * br, rows = std::min(br, n - r0);
            std::fill(acc, acc + rows * pc, 0.0);
            for (index_t c0 = 0; c0 < m; c0 += bc) {
                const index_t cols = std::min(bc, m - c0);
                gemm_nt<T>(rows, cols, d, alpha, X + r0 * d, d, Y + c0 * d, d, T(0), tile, cols);
                epilogue<T>(kind, p, tile, cols, rows, cols, ax.data() + r0, ay.data() + c0, symmetric, r0, c0);
                if (V != nullptr) {
                    gemm_nn<T>(rows, pc, cols, T(1), tile, cols, V + c0 * pc, pc, T(0), tmp, pc);
                    for (index_t q = 0; q < rows * pc; ++q) acc[q] += double(tmp[q]);
                } else {
                    for (index_t i = 0; i < rows; ++i) {
                        const T* c = tile + i * cols;
                        double s = 0.0;
#pragma omp simd reduction(+ : s)
                        for (index_t j = 0; j < cols; ++j) s += double(c[j]);
                        acc[i] += s;
                    }
                }
            }
            for (index_t q = 0; q < rows * pc; ++q) out[r0 * pc + q] = T(acc[q]);
        }
    }
}

}  // namespace axf
