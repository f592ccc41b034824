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

namespace axf {

// ---------------------------------------------------------------- dual tile products
// For a tile W (rows x cols, row stride ldw) of a pairwise weight matrix, both products
// a gradient needs from it:
//     GI (rows x k) = W  @ Y   (Y: the tile's column rows, cols x k)
//     GJ (cols x k) = W^T @ X  (X: the tile's row rows, rows x k)
// in one sweep over W, without packing it (a BLAS gemm packs the tile once per product:
// at the tile shapes of the stress and contrastive kernels, k = 32, the packing copies
// cost about half of the multiply-adds).  Register blocking: 4 rows of W times one chunk
// of 2 vectors (32 floats / 16 doubles) of k; per column j the chunk of Y_j is loaded
// once and used for the 4 rows' GI, and the chunk of GJ_j is loaded, updated by the 4
// rows of X, and stored.  Every sum runs in T over the tile (as a gemm's does), in a
// fixed order: the result does not depend on the thread count.  GJ is written with
// ``want_j``; otherwise only GI (W @ Y).
template <typename T>
struct DualVec {
    typedef T type __attribute__((vector_size(64)));
    static constexpr int lanes = int(64 / sizeof(T));
};

// (unaligned) loads and stores of one vector; by pointer, not by value: a 64-byte
// vector passed by value changes the ABI of the non-AVX-512 clones (-Wpsabi)
template <typename T>
__attribute__((always_inline)) inline void dual_load(typename DualVec<T>::type* v, const T* p) {
    __builtin_memcpy(v, p, sizeof(*v));
}
template <typename T>
__attribute__((always_inline)) inline void dual_store(T* p, const typename DualVec<T>::type* v) {
    __builtin_memcpy(p, v, sizeof(*v));
}

// R rows (R <= 4) of W, k columns [c0, c0 + 2 lanes): vector registers only.
template <typename T, int R>
__attribute__((always_inline)) inline void dual_chunk(const T* W, index_t ldw, index_t cols, const T* X,
                                                      const T* Y, index_t k, index_t c0, T* GI, T* GJ,
                                                      bool want_j) {
    using V = typename DualVec<T>::type;
    constexpr int L = DualVec<T>::lanes;
    V gi0[R], gi1[R], x0[R], x1[R];
    for (int r = 0; r < R; ++r) {
        gi0[r] = V{};
        gi1[r] = V{};
        dual_load(&x0[r], X + r * k + c0);
        dual_load(&x1[r], X + r * k + c0 + L);
    }
    for (index_t j = 0; j < cols; ++j) {
        V y0, y1;
        dual_load(&y0, Y + j * k + c0);
        dual_load(&y1, Y + j * k + c0 + L);
        if (want_j) {
            T* gj = GJ + j * k + c0;
            V a0, a1;
            dual_load(&a0, gj);
            dual_load(&a1, gj + L);
            for (int r = 0; r < R; ++r) {
                const T w = W[r * ldw + j];
                gi0[r] += w * y0;
                gi1[r] += w * y1;
                a0 += w * x0[r];
                a1 += w * x1[r];
            }
            dual_store(gj, &a0);
            dual_store(gj + L, &a1);
        } else {
            for (int r = 0; r < R; ++r) {
                const T w = W[r * ldw + j];
                gi0[r] += w * y0;
                gi1[r] += w * y1;
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        dual_store(GI + r * k + c0, &gi0[r]);
        dual_store(GI + r * k + c0 + L, &gi1[r]);
    }
}

// The same for the columns [c0, k) left over (fewer than 2 lanes): plain loops.
template <typename T>
inline void dual_tail(const T* W, index_t ldw, index_t rows, index_t cols, const T* X, const T* Y, index_t k,
                      index_t c0, T* GI, T* GJ, bool want_j) {
    for (index_t i = 0; i < rows; ++i) {
        const T* w = W + i * ldw;
        T* gi = GI + i * k;
        for (index_t q = c0; q < k; ++q) gi[q] = T(0);
        for (index_t j = 0; j < cols; ++j) {
            const T wij = w[j];
            const T* y = Y + j * k;
            for (index_t q = c0; q < k; ++q) gi[q] += wij * y[q];
            if (want_j) {
                T* gj = GJ + j * k;
                const T* x = X + i * k;
                for (index_t q = c0; q < k; ++q) gj[q] += wij * x[q];
            }
        }
    }
}

template <typename T>
__attribute__((always_inline)) inline void dual_products_impl(const T* W, index_t ldw, index_t rows, index_t cols,
                                                              const T* X, const T* Y, index_t k, T* GI, T* GJ,
                                                              bool want_j) {
    constexpr int C = 2 * DualVec<T>::lanes;
    if (want_j) std::fill(GJ, GJ + cols * k, T(0));
    const index_t kc = k - k % C;
    for (index_t c0 = 0; c0 < kc; c0 += C) {
        index_t i = 0;
        for (; i + 4 <= rows; i += 4)
            dual_chunk<T, 4>(W + i * ldw, ldw, cols, X + i * k, Y, k, c0, GI + i * k, GJ, want_j);
        for (; i < rows; ++i)
            dual_chunk<T, 1>(W + i * ldw, ldw, cols, X + i * k, Y, k, c0, GI + i * k, GJ, want_j);
    }
    if (kc < k) dual_tail<T>(W, ldw, rows, cols, X, Y, k, kc, GI, GJ, want_j);
}

AXF_CLONES static void dual_products(const float* W, index_t ldw, index_t rows, index_t cols, const float* X,
                                     const float* Y, index_t k, float* GI, float* GJ, bool want_j) {
    dual_products_impl<float>(W, ldw, rows, cols, X, Y, k, GI, GJ, want_j);
}
AXF_CLONES static void dual_products(const double* W, index_t ldw, index_t rows, index_t cols, const double* X,
                                     const double* Y, index_t k, double* GI, double* GJ, bool want_j) {
    dual_products_impl<double>(W, ldw, rows, cols, X, Y, k, GI, GJ, want_j);
}

}  // namespace axf
