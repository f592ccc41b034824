// Blockwise Gram matrices and Euclidean distances: "GEMM on a tile + fused epilogue".
//
// Every tile of the output is produced by one single-threaded BLAS gemm of an X row
// panel against a Y row panel, immediately followed (while the tile is still in
// cache) by the kernel's element-wise epilogue.  OpenMP threads own whole tiles, so
// no two threads write the same element and results do not depend on thread count.
//
// Callers must limit the BLAS library to one thread around these calls (the Python
// adapters do it with threadpoolctl): each OpenMP thread makes its own gemm calls.
#pragma once

#include "common.hpp"
#include "kinds.hpp"
#include "vexp.hpp"

namespace axf {

inline bool uses_sqnorms(Kind k) {
    return k == Kind::rbf || k == Kind::sqeuclidean || k == Kind::euclidean;
}

// Per-row auxiliary values: squared norms (distance kernels) or inverse norms (cosine),
// computed in double and stored in T for the vectorized epilogue.
template <typename T>
inline void row_aux(Kind kind, const T* X, index_t n, index_t d, std::vector<T>& aux, int n_threads) {
    aux.assign(size_t(n), T(0));
    if (!(uses_sqnorms(kind) || kind == Kind::cosine)) return;
    std::vector<double> sq(static_cast<size_t>(n));
    row_sqnorms(X, n, d, sq.data(), n_threads);
    for (index_t i = 0; i < n; ++i) {
        if (kind == Kind::cosine) {
            double nr = std::sqrt(sq[i]);
            aux[i] = nr > 0.0 ? T(1.0 / nr) : T(0);
        } else {
            aux[i] = T(sq[i]);
        }
    }
}

// row_aux for both sides; Y's is a copy of X's when Y is X.
template <typename T>
inline void pair_aux(Kind kind, const T* X, index_t n, const T* Y, index_t m, index_t d, bool symmetric,
                     std::vector<T>& ax, std::vector<T>& ay, int n_threads) {
    row_aux(kind, X, n, d, ax, n_threads);
    if (symmetric) ay = ax; else row_aux(kind, Y, m, d, ay, n_threads);
}

// gemm scaling applied before the epilogue.
template <typename T>
inline T gemm_alpha(Kind kind, const KernelParams& p) {
    if (uses_sqnorms(kind)) return T(-2);
    if (kind == Kind::poly) return T(p.gamma);
    return T(1);
}


// In-place epilogue on a tile C (rows x cols, leading dimension ldc) whose entries hold
// gemm_alpha * <x_i, y_j>.  (r0, c0) is the tile's position, used to zero the diagonal
// exactly when X is Y.
template <typename T>
__attribute__((always_inline)) inline void epilogue_impl(Kind kind, const KernelParams& p, T* C, index_t ldc,
                                                         index_t rows, index_t cols, const T* ax, const T* ay,
                                                         bool symmetric, index_t r0, index_t c0) {
    const T g = T(p.gamma);
    switch (kind) {
        case Kind::linear:
            break;
        case Kind::rbf:
            for (index_t i = 0; i < rows; ++i) {
                T* c = C + i * ldc;
                const T xi = ax[i];
                const T ng = -g;
#pragma omp simd
                for (index_t j = 0; j < cols; ++j) {
                    T d2 = xi + ay[j] + c[j];
                    d2 = d2 > T(0) ? d2 : T(0);
                    c[j] = vexp(ng * d2);
                }
            }
            break;
        case Kind::sqeuclidean:
        case Kind::euclidean: {
            const bool root = kind == Kind::euclidean;
            for (index_t i = 0; i < rows; ++i) {
                T* c = C + i * ldc;
                const T xi = ax[i];
                if (root) {
#pragma omp simd
                    for (index_t j = 0; j < cols; ++j) {
                        T d2 = xi + ay[j] + c[j];
                        d2 = d2 > T(0) ? d2 : T(0);
                        c[j] = std::sqrt(d2);
                    }
                } else {
#pragma omp simd
                    for (index_t j = 0; j < cols; ++j) {
                        T d2 = xi + ay[j] + c[j];
                        c[j] = d2 > T(0) ? d2 : T(0);
                    }
                }
            }
            break;
        }
        case Kind::poly: {
            // explicit products for the common degrees keep the loop vectorizable
            const T c0v = T(p.coef0);
            const int deg = p.degree;
            for (index_t i = 0; i < rows; ++i) {
                T* c = C + i * ldc;
                switch (deg) {
                    case 1:
#pragma omp simd
                        for (index_t j = 0; j < cols; ++j) c[j] = c[j] + c0v;
                        break;
                    case 2:
#pragma omp simd
                        for (index_t j = 0; j < cols; ++j) { T b = c[j] + c0v; c[j] = b * b; }
                        break;
                    case 3:
#pragma omp simd
                        for (index_t j = 0; j < cols; ++j) { T b = c[j] + c0v; c[j] = b * b * b; }
                        break;
                    case 4:
#pragma omp simd
                        for (index_t j = 0; j < cols; ++j) { T b = c[j] + c0v; T b2 = b * b; c[j] = b2 * b2; }
                        break;
                    default:
                        for (index_t j = 0; j < cols; ++j) c[j] = ipow<T>(c[j] + c0v, deg);
                }
            }
            break;
        }
        case Kind::cosine:
            for (index_t i = 0; i < rows; ++i) {
                T* c = C + i * ldc;
                const T xi = ax[i];
#pragma omp simd
                for (index_t j = 0; j < cols; ++j) c[j] = c[j] * xi * ay[j];
            }
            break;
    }
    if (symmetric && (kind == Kind::rbf || kind == Kind::sqeuclidean || kind == Kind::euclidean)) {
        const T dv = kind == Kind::rbf ? T(1) : T(0);
        for (index_t i = 0; i < rows; ++i) {
            index_t j = r0 + i - c0;
            if (j >= 0 && j < cols) C[i * ldc + j] = dv;
        }
    }
}

AXF_CLONES static void epilogue_dispatch(Kind kind, const KernelParams& p, float* C, index_t ldc, index_t rows,
                                         index_t cols, const float* ax, const float* ay, bool symmetric,
                                         index_t r0, index_t c0) {
    epilogue_impl<float>(kind, p, C, ldc, rows, cols, ax, ay, symmetric, r0, c0);
}
AXF_CLONES static void epilogue_dispatch(Kind kind, const KernelParams& p, double* C, index_t ldc, index_t rows,
                                         index_t cols, const double* ax, const double* ay, bool symmetric,
                                         index_t r0, index_t c0) {
    epilogue_impl<double>(kind, p, C, ldc, rows, cols, ax, ay, symmetric, r0, c0);
}

template <typename T>
inline void epilogue(Kind kind, const KernelParams& p, T* C, index_t ldc, index_t rows, index_t cols,
                     const T* ax, const T* ay, bool symmetric, index_t r0, index_t c0) {
    epilogue_dispatch(kind, p, C, ldc, rows, cols, ax, ay, symmetric, r0, c0);
}

// Copy the rows x cols tile at C (row stride ld) transposed to D (row stride ld), in 32 x 32
// blocks so both sides stay in cache.
template <typename T>
inline void mirror_tile(const T* C, T* D, index_t ld, index_t rows, index_t cols) {
    constexpr index_t b = 32;
    for (index_t i0 = 0; i0 < rows; i0 += b)
        for (index_t j0 = 0; j0 < cols; j0 += b) {
            const index_t i1 = std::min(rows, i0 + b), j1 = std::min(cols, j0 + b);
            for (index_t j = j0; j < j1; ++j)
                for (index_t i = i0; i < i1; ++i) D[j * ld + i] = C[i * ld + j];
        }
}

// K(X, X): only the tiles on and above the block diagonal are computed (one gemm and the
// epilogue each, about half the work of the full matrix); each off-diagonal tile is then
// mirrored into its transposed place and each diagonal tile's upper half into its lower
// half, so the result is exactly symmetric.
template <typename T>
void gram_symmetric(Kind kind, const KernelParams& p, const T* X, index_t n, index_t d, T* out, int n_threads,
                    index_t bs, const std::vector<T>& ax, T alpha) {
    const index_t nb = ceil_div(n, bs);
    std::vector<index_t> tiles;  // upper block triangle, row by row
    tiles.reserve(size_t(nb) * size_t(nb + 1) / 2);
    for (index_t I = 0; I < nb; ++I)
        for (index_t J = I; J < nb; ++J) tiles.push_back(I * nb + J);
    const index_t ntiles = index_t(tiles.size());
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 1)
    for (index_t t = 0; t < ntiles; ++t) {
        const index_t I = tiles[size_t(t)] / nb, J = tiles[size_t(t)] % nb;
        const index_t r0 = I * bs, c0 = J * bs;
        const index_t rows = std::min(bs, n - r0), cols = std::min(bs, n - c0);
        T* C = out + r0 * n + c0;
        gemm_nt<T>(rows, cols, d, alpha, X + r0 * d, d, X + c0 * d, d, T(0), C, n);
        epilogue<T>(kind, p, C, n, rows, cols, ax.data() + r0, ax.data() + c0, true, r0, c0);
        if (I != J) {
            mirror_tile<T>(C, out + c0 * n + r0, n, rows, cols);
        } else {  // gemm need not round (i, j) and (j, i) alike: copy the tile's upper half down
            for (index_t i = 1; i < rows; ++i)
                for (index_t j = 0; j < i; ++j) C[i * n + j] = C[j * n + i];
        }
    }
}

// Full Gram / distance matrix: out (n x m, C order) = kernel(X (n x d), Y (m x d)).
// symmetric (Y is X): the upper block triangle only, mirrored (gram_symmetric).
template <typename T>
void gram(Kind kind, const KernelParams& p, const T* X, index_t n, const T* Y, index_t m, index_t d,
          T* out, bool symmetric, int n_threads, index_t br, index_t bc) {
    if (n == 0 || m == 0) return;
    br = std::max<index_t>(1, std::min(br, n));
    bc = std::max<index_t>(1, std::min(bc, m));
    std::vector<T> ax, ay;
    pair_aux(kind, X, n, Y, m, d, symmetric, ax, ay, n_threads);
    const T alpha = gemm_alpha<T>(kind, p);
    if (symmetric && n == m && X == Y) {
        // at least 8 block rows where tiles stay >= 256: the diagonal tiles, computed whole,
        // are then a small share (nb (nb + 1) / 2 of nb^2 tiles: 0.56 at nb = 8)
        const index_t bs = std::max<index_t>(std::min<index_t>(256, n), std::min(std::min(br, bc), ceil_div(n, 8)));
        gram_symmetric<T>(kind, p, X, n, d, out, n_threads, bs, ax, alpha);
        return;
    }
    const index_t nbr = ceil_div(n, br), nbc = ceil_div(m, bc), ntiles = nbr * nbc;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (index_t t = 0; t < ntiles; ++t) {
        const index_t r0 = (t / nbc) * br, c0 = (t % nbc) * bc;
        const index_t rows = std::min(br, n - r0), cols = std::min(bc, m - c0);
        T* C = out + r0 * m + c0;
        gemm_nt<T>(rows, cols, d, alpha, X + r0 * d, d, Y + c0 * d, d, T(0), C, m);
        epilogue<T>(kind, p, C, m, rows, cols, ax.data() + r0, ay.data() + c0, symmetric, r0, c0);
    }
}

}  // namespace axf
