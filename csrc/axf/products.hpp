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
// of k, 2 vectors (32 floats / 16 doubles) or 1 (the last); per column j the chunk of
// Y_j is loaded once and used for the 4 rows' GI, and the chunk of GJ_j is loaded,
// updated by the 4 rows of X, and stored.  Used for small k only (tile_products).  Every sum runs in T over the tile (as a gemm's does), in a
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

// R rows (R <= 4) of W, k columns [c0, c0 + NV lanes) (NV = 1 or 2 vectors): vector
// registers only.
template <typename T, int R, int NV>
__attribute__((always_inline)) inline void dual_chunk(const T* W, index_t ldw, index_t cols, const T* X,
                                                      const T* Y, index_t k, index_t c0, T* GI, T* GJ,
                                                      bool want_j) {
    using V = typename DualVec<T>::type;
    constexpr int L = DualVec<T>::lanes;
    V gi[R][NV], x[R][NV];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) {
            gi[r][v] = V{};
            dual_load(&x[r][v], X + r * k + c0 + v * L);
        }
    for (index_t j = 0; j < cols; ++j) {
        V y[NV];
        for (int v = 0; v < NV; ++v) dual_load(&y[v], Y + j * k + c0 + v * L);
        if (want_j) {
            T* gj = GJ + j * k + c0;
            V a[NV];
            for (int v = 0; v < NV; ++v) dual_load(&a[v], gj + v * L);
            for (int r = 0; r < R; ++r) {
                const T w = W[r * ldw + j];
                for (int v = 0; v < NV; ++v) {
                    gi[r][v] += w * y[v];
                    a[v] += w * x[r][v];
                }
            }
            for (int v = 0; v < NV; ++v) dual_store(gj + v * L, &a[v]);
        } else {
            for (int r = 0; r < R; ++r) {
                const T w = W[r * ldw + j];
                for (int v = 0; v < NV; ++v) gi[r][v] += w * y[v];
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) dual_store(GI + r * k + c0 + v * L, &gi[r][v]);
}

template <typename T, int NV>
__attribute__((always_inline)) inline void dual_rows(const T* W, index_t ldw, index_t rows, index_t cols,
                                                     const T* X, const T* Y, index_t k, index_t c0, T* GI, T* GJ,
                                                     bool want_j) {
    index_t i = 0;
    for (; i + 4 <= rows; i += 4)
        dual_chunk<T, 4, NV>(W + i * ldw, ldw, cols, X + i * k, Y, k, c0, GI + i * k, GJ, want_j);
    for (; i < rows; ++i)
        dual_chunk<T, 1, NV>(W + i * ldw, ldw, cols, X + i * k, Y, k, c0, GI + i * k, GJ, want_j);
}

// k a multiple of the vector lanes (16 float / 8 double): chunks of 2 vectors, then one.
template <typename T>
__attribute__((always_inline)) inline void dual_products_impl(const T* W, index_t ldw, index_t rows, index_t cols,
                                                              const T* X, const T* Y, index_t k, T* GI, T* GJ,
                                                              bool want_j) {
    constexpr int L = DualVec<T>::lanes;
    if (want_j) std::fill(GJ, GJ + cols * k, T(0));
    index_t c0 = 0;
    for (; c0 + 2 * L <= k; c0 += 2 * L) dual_rows<T, 2>(W, ldw, rows, cols, X, Y, k, c0, GI, GJ, want_j);
    if (c0 < k) dual_rows<T, 1>(W, ldw, rows, cols, X, Y, k, c0, GI, GJ, want_j);
}

AXF_CLONES static void dual_products(const float* W, index_t ldw, index_t rows, index_t cols, const float* X,
                                     const float* Y, index_t k, float* GI, float* GJ, bool want_j) {
    dual_products_impl<float>(W, ldw, rows, cols, X, Y, k, GI, GJ, want_j);
}
AXF_CLONES static void dual_products(const double* W, index_t ldw, index_t rows, index_t cols, const double* X,
                                     const double* Y, index_t k, double* GI, double* GJ, bool want_j) {
    dual_products_impl<double>(W, ldw, rows, cols, X, Y, k, GI, GJ, want_j);
}

// Above this k the tile's packing is a small share of a gemm's work and BLAS's kernels,
// which pack W once for all of k, beat the sweep, which reads W once per chunk of k
// (contrastive value + gradient, n = 4000, 2 threads, interleaved with two-gemm builds:
// k = 32 7 % faster, k = 64 8 % slower, k = 128 13 % slower).
constexpr index_t DUAL_MAX_K = 32;

// GI = W @ Y and (want_j) GJ = W^T @ X for a tile W (rows x cols, ldw): the unpacked
// sweep when k is at most DUAL_MAX_K and a multiple of the vector lanes, two BLAS gemms
// otherwise (the same products up to the order of the sums).
template <typename T>
inline void tile_products(const T* W, index_t ldw, index_t rows, index_t cols, const T* X, const T* Y, index_t k,
                          T* GI, T* GJ, bool want_j) {
    if (k <= DUAL_MAX_K && k % DualVec<T>::lanes == 0)
        return dual_products(W, ldw, rows, cols, X, Y, k, GI, GJ, want_j);
    gemm_nn<T>(rows, k, cols, T(1), W, ldw, Y, k, T(0), GI, k);
    if (want_j) gemm_tn<T>(cols, k, rows, T(1), W, ldw, X, k, T(0), GJ, k);
}

}  // namespace axf
