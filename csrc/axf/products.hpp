// Dense products split over OpenMP threads, each slab one single-threaded BLAS call.
//
// The estimator's feature products (F @ W and F^T @ G, F of shape (n, p) with p up to a
// few thousand, k columns) are too small for BLAS's own threads to pay off between the
// kernels' OpenMP regions: spinning BLAS threads then compete with the OpenMP team
// (measured: 2-thread BLAS doubled the digits fit).  Splitting the output into row slabs
// on the OpenMP team instead keeps one kind of thread.  Each output entry is one BLAS
// dot product over the full inner dimension, whatever the split: results do not depend
// on the thread count beyond BLAS's own blocking of that dimension.
#pragma once

#include "common.hpp"

namespace axf {

// out (M x N) = A (M x K) @ B (K x N), or with trans_a out (K x N) = A^T @ B for A of
// shape (M x K) and B (M x N).  All row-major, C-contiguous.
template <typename T>
void matmul_split(const T* A, const T* B, T* out, index_t M, index_t K, index_t N, bool trans_a, int n_threads) {
    const index_t rows = trans_a ? K : M;  // output rows
    if (rows == 0 || N == 0) return;
    const index_t inner = trans_a ? M : K;
    if (inner == 0) return scale_only(rows, N, T(0), out, N);
    const index_t unit = 16;  // slab rows: multiples of a cache line of floats
    const index_t units = ceil_div(rows, unit);
    const int nt = int(std::max<index_t>(1, std::min<index_t>(n_threads, units)));
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; ++t) {
        const index_t r0 = std::min(rows, (units * t / nt) * unit), r1 = std::min(rows, (units * (t + 1) / nt) * unit);
        if (r1 <= r0) continue;
        if (trans_a)  // out[r0:r1] = A[:, r0:r1]^T B
            gemm_tn<T>(r1 - r0, N, M, T(1), A + r0, K, B, N, T(0), out + r0 * N, N);
        else  // out[r0:r1] = A[r0:r1] B
            gemm_nn<T>(r1 - r0, N, K, T(1), A + r0 * K, K, B, N, T(0), out + r0 * N, N);
    }
}

}  // namespace axf
