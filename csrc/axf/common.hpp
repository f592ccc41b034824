// alignxpert_fast C++ core: shared definitions.
//
// Header-only, no Python headers.  Kernels are templates over T in {float, double}
// and use a BLAS gemm reached through function pointers that the host module sets
// once at import (pybind11 takes them from scipy.linalg.cython_blas, Cython cimports
// them), so the core links against no BLAS library itself.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define AXF_HAVE_ATFORK 1
#endif
#include <atomic>

// Clones of the element-wise epilogues (Gram tiles, stress rows, contrastive tiles) for
// x86-64-v4 (AVX-512 F/BW/DQ/VL) and x86-64-v3 (AVX2 + FMA together: a "avx2,fma"
// clone list would make two clones, one without FMA), chosen at load time by the CPU (GCC
// ifunc); the build itself stays at the baseline ISA (no -march=native).  SSE2 alone is
// ~3x slower for the exp epilogue.  Define AXF_NO_CLONES to disable.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(AXF_NO_CLONES)
#if __GNUC__ >= 11  // the x86-64-vN levels
#define AXF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AXF_CLONES __attribute__((target_clones("arch=haswell", "default")))
#endif
#else
#define AXF_CLONES
#endif

namespace axf {

using index_t = std::ptrdiff_t;

// ---------------------------------------------------------------- OpenMP shim
inline bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

inline int omp_max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// ---------------------------------------------------------------- thread caps
// A hard ceiling on threads whatever is asked (libgomp allocates per-thread state for
// every requested thread up front: 2^31-1 aborts with "out of memory").
constexpr int max_thread_cap = 1024;

// Set in the child of a fork(): GNU OpenMP's pool does not survive fork, so a parallel
// region with more than one thread would hang there.  Kernels then run on one thread.
inline std::atomic<bool>& forked_flag() {
    static std::atomic<bool> flag{false};
    return flag;
}

inline void install_fork_handler() {
#ifdef AXF_HAVE_ATFORK
    static const bool installed = [] {
        return pthread_atfork(nullptr, nullptr, [] { forked_flag().store(true); }) == 0;
    }();
    (void)installed;
#endif
}

// n (>= 1) capped by the hardware (omp_get_num_procs, which honours the affinity mask),
// OpenMP's thread limit (OMP_THREAD_LIMIT) and max_thread_cap; 1 in a forked child.
inline int cap_threads(int n) {
    install_fork_handler();
    if (forked_flag().load()) return 1;
    int lim = max_thread_cap;
#ifdef _OPENMP
    lim = std::min(lim, std::max(1, omp_get_thread_limit()));
    lim = std::min(lim, std::max(1, omp_get_num_procs()));
#endif
    return std::max(1, std::min(n, lim));
}

// Index of the calling thread inside a parallel region (0 without OpenMP).
inline int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// ---------------------------------------------------------------- BLAS pointers
// Fortran BLAS signatures (LP64, as exported by scipy.linalg.cython_blas).
using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*,
                         const float*, const float*, const int*, const float*, const int*,
                         const float*, float*, const int*);
using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*,
                         const double*, const double*, const int*, const double*, const int*,
                         const double*, double*, const int*);

struct BlasTable {
    sgemm_t sgemm = nullptr;
    dgemm_t dgemm = nullptr;
};

inline BlasTable& blas_table() {
    static BlasTable table;
    return table;
}

inline void set_blas(void* sgemm, void* dgemm) {
    blas_table().sgemm = reinterpret_cast<sgemm_t>(sgemm);
    blas_table().dgemm = reinterpret_cast<dgemm_t>(dgemm);
}

inline bool blas_ready() { return blas_table().sgemm && blas_table().dgemm; }

inline void fortran_gemm(const char* ta, const char* tb, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta,
                         float* c, int ldc) {
    blas_table().sgemm(ta, tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}
inline void fortran_gemm(const char* ta, const char* tb, int m, int n, int k, double alpha,
                         const double* a, int lda, const double* b, int ldb, double beta,
                         double* c, int ldc) {
    blas_table().dgemm(ta, tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

// C <- beta * C (what a gemm with an empty inner dimension does).
template <typename T>
inline void scale_only(index_t M, index_t N, T beta, T* C, index_t ldc) {
    for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Row-major gemm through the column-major BLAS: a row-major matrix is its transpose in
// column-major terms, so C^T = op(B)^T op(A)^T is computed with B passed first.  fb / fa
// are the Fortran transpose flags for B and A.
template <typename T>
inline void gemm_rowmajor(const char* fb, const char* fa, index_t M, index_t N, index_t K, T alpha, const T* A,
                          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) return scale_only(M, N, beta, C, ldc);  // BLAS with k = 0 only scales C
    fortran_gemm(fb, fa, int(N), int(M), int(K), alpha, B, int(ldb), A, int(lda), beta, C, int(ldc));
}

// Row-major C (M x N, ldc) = alpha * A (M x K, lda) * B (N x K, ldb)^T + beta * C.
template <typename T>
inline void gemm_nt(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B, index_t ldb,
                    T beta, T* C, index_t ldc) {
    gemm_rowmajor<T>("T", "N", M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Row-major C (M x N, ldc) = alpha * A (M x K, lda) * B (K x N, ldb) + beta * C.
template <typename T>
inline void gemm_nn(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B, index_t ldb,
                    T beta, T* C, index_t ldc) {
    gemm_rowmajor<T>("N", "N", M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Row-major C (M x N, ldc) = alpha * A^T * B + beta * C with A (K x M, lda) and
// B (K x N, ldb) row-major.
template <typename T>
inline void gemm_tn(index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda, const T* B, index_t ldb,
                    T beta, T* C, index_t ldc) {
    gemm_rowmajor<T>("N", "T", M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// ---------------------------------------------------------------- helpers
// Squared row norms accumulated in double.
template <typename T>
inline void row_sqnorms(const T* X, index_t n, index_t d, double* out, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (index_t i = 0; i < n; ++i) {
        const T* x = X + i * d;
        double s = 0.0;
        for (index_t t = 0; t < d; ++t) s += double(x[t]) * double(x[t]);
        out[i] = s;
    }
}

// Scratch that is written before it is read (gemm outputs with beta = 0, buffers filled
// per block): left uninitialized, where std::vector<T>(n) would zero it on every call
// (6 % of a cached stress evaluation at n = 1438, k = 32: megabytes of tiles).
template <typename T>
class Scratch {
public:
    explicit Scratch(size_t n) : p_(n ? new T[n] : nullptr) {}
    T* data() { return p_.get(); }
    const T* data() const { return p_.get(); }

private:
    std::unique_ptr<T[]> p_;
};

inline index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

}  // namespace axf
