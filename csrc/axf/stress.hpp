// Normalized MDS stress and its analytic gradient, blockwise, over the upper triangle.
//
//   D_ij = |x_i - x_j|,  E_ij = |z_i - z_j|,  a pair weight v_ij
//   stress = sqrt( sum_{i<j} v_ij (D_ij - E_ij)^2 / sum_{i<j} v_ij D_ij^2 )
//   d stress / d z_i = 1 / (stress * B) * sum_j w_ij (z_i - z_j),  w_ij = v_ij (1 - D_ij / E_ij),
// with B = sum_{i<j} v_ij D_ij^2.  Kruskal's stress: v = 1.  relative: v = 1 / D^2 for
// D > 0 and 0 for D = 0, i.e. sqrt(mean over pairs with D > 0 of ((D - E) / D)^2): every
// pair's distortion relative to its length, so near pairs weigh as much as far ones.
// Pairs with E_ij = 0 contribute no gradient (w_ij = 0).
// When the stress is 0 -- below value_floor, rounding noise -- the gradient is set to 0
// (a subgradient).  Squared distances
// below the rounding-noise floor (see noise_floor) count as exactly 0.
//
// Row blocks I = [r0, r0 + rows) of br rows.  Row block I visits only the columns
// j >= r0: first its diagonal square (r0..r0+rows, every ordered pair inside it once),
// then tiles of bc columns to its right, each standing for two ordered pairs (i, j) and
// (j, i).  Per tile: the Z Gram tile (one gemm), the D tile (read from a cache, or one
// more gemm on X), the stress sums and w in cache, then w @ Z_J into the rows of I and,
// for off-diagonal tiles, w^T @ Z_I into the rows of J (two gemms, or for small k one
// sweep over the tile: tile_products in products.hpp).  That is 1.5 n^2 k
// multiply-adds for Z (plus n^2 d / 2 for X when D is not cached) instead of 2 n^2 k
// (+ n^2 d) for the full square.
//
// Determinism: the value's partial sums are stored per row block and added in block
// order (independent of the thread count).  Gradient rows are accumulated in double per
// thread (each thread owns a fixed "snake" sequence of row blocks) and the thread
// accumulators are added in thread order: bit-for-bit the same for the same thread count.
//
// The distance cache ("packed upper row blocks", float T): block b (r0 = b br, rows_b,
// width_b = n - r0) is stored as a contiguous rows_b x width_b row-major array holding
// D(r0 + i, r0 + c), at offset sum_{b' < b} rows_b' width_b'.  About n^2 / 2 entries.
//
// Memory: O(n) + threads * (n k doubles + 2 br max(br, bc) + (br + max(br, bc)) k) scratch,
// plus the cache when one is used.  The per-thread n k accumulators grow with the
// thread count: the Python layer caps the threads so that they stay within a budget
// (alignxpert_fast/stress.py); direct callers choose n_threads themselves.
#pragma once

#include "common.hpp"
#include "products.hpp"

namespace axf {

// Squared distances from the norm trick carry an absolute error of about
// eps * sqrt(dim) * (|a|^2 + |b|^2).  Below 8x that they are noise: treat them as 0, so
// coincident points (duplicate rows) get D = 0 / E = 0 and no noise-driven gradient.
template <typename T>
inline T noise_floor(index_t dim) {
    const double eps = sizeof(T) == 4 ? 1.1920928955078125e-07 : 2.220446049250313e-16;
    return T(8.0 * eps * std::sqrt(double(std::max<index_t>(dim, 1))));
}

// One tile row of distances: dx holds -2<x_i,x_j> on entry, |x_i - x_j| on exit.
template <typename T>
__attribute__((always_inline)) inline void dist_row_impl(T* dx, T xi, const T* xj, index_t cols, T tol) {
#pragma omp simd
    for (index_t j = 0; j < cols; ++j) {
        T dd = (xi + xj[j]) + dx[j];
        dd = dd > tol * (xi + xj[j]) ? dd : T(0);
        dx[j] = std::sqrt(dd);
    }
}
AXF_CLONES static void dist_row(float* dx, float xi, const float* xj, index_t cols, float tol) {
    dist_row_impl<float>(dx, xi, xj, cols, tol);
}
AXF_CLONES static void dist_row(double* dx, double xi, const double* xj, index_t cols, double tol) {
    dist_row_impl<double>(dx, xi, xj, cols, tol);
}

// One tile row of the stress: D the distances, dz holds -2<z_i,z_j> on entry and w_ij
// on exit.  Returns the float64 sums of v (D-E)^2, v D^2 and w (v: the pair weight, 1 or
// with RELATIVE 1 / D^2; the Kruskal loop is kept free of the weight's arithmetic).
template <typename T, bool RELATIVE>
__attribute__((always_inline)) inline void stress_row_impl(const T* D, T* dz, T zi, const T* zj, index_t cols,
                                                           T tol_z, double* sums3) {
    // sums in T over chunks of STRESS_CHUNK columns (STRESS_CHUNK / lanes terms per SIMD
    // lane), then float64: per-entry float64 conversions cost as much as the rest of
    // the row; a chunk's T sum carries at most 16 roundings (AVX-512 float)
    constexpr index_t STRESS_CHUNK = 256;
    double snum = 0.0, sden = 0.0, sw = 0.0;
    for (index_t j0 = 0; j0 < cols; j0 += STRESS_CHUNK) {
        const index_t j1 = std::min(cols, j0 + STRESS_CHUNK);
        T cnum = T(0), cden = T(0), cw = T(0);
#pragma omp simd reduction(+ : cnum, cden, cw)
        for (index_t j = j0; j < j1; ++j) {
            T ee = (zi + zj[j]) + dz[j];
            ee = ee > tol_z * (zi + zj[j]) ? ee : T(0);
            const T E = std::sqrt(ee);
            const T Dj = D[j];
            const T diff = Dj - E;
            if (RELATIVE) {
                const T v = Dj > T(0) ? T(1) / (Dj * Dj) : T(0);
                cnum += v * (diff * diff);
                cden += v * (Dj * Dj);
                const T w = E > T(0) ? v * (T(1) - Dj / E) : T(0);
                dz[j] = w;
                cw += w;
            } else {
                cnum += diff * diff;
                cden += Dj * Dj;
                const T w = E > T(0) ? T(1) - Dj / E : T(0);
                dz[j] = w;
                cw += w;
            }
        }
        snum += double(cnum);
        sden += double(cden);
        sw += double(cw);
    }
    sums3[0] = snum;
    sums3[1] = sden;
    sums3[2] = sw;
}
AXF_CLONES static void stress_row(const float* D, float* dz, float zi, const float* zj, index_t cols, float tol_z,
                                  bool relative, double* sums3) {
    if (relative) stress_row_impl<float, true>(D, dz, zi, zj, cols, tol_z, sums3);
    else stress_row_impl<float, false>(D, dz, zi, zj, cols, tol_z, sums3);
}
AXF_CLONES static void stress_row(const double* D, double* dz, double zi, const double* zj, index_t cols,
                                  double tol_z, bool relative, double* sums3) {
    if (relative) stress_row_impl<double, true>(D, dz, zi, zj, cols, tol_z, sums3);
    else stress_row_impl<double, false>(D, dz, zi, zj, cols, tol_z, sums3);
}

// Below this stress value the gradient is rounding noise (at an isometry Z = X Q it is
// as large as a real gradient, which misleads a line search started there): the
// gradient is reported as 0, a subgradient.  64 eps: 7.6e-6 (float32), 1.4e-14 (float64).
template <typename T>
inline double value_floor() {
    return 64.0 * (sizeof(T) == 4 ? 1.1920928955078125e-07 : 2.220446049250313e-16);
}

inline index_t clamp_block(index_t b, index_t n) { return std::max<index_t>(1, std::min(b, std::max<index_t>(n, 1))); }

// Entries of the packed cache (the last offset below), without allocating the offsets.
inline size_t packed_total(index_t n, index_t br) {
    size_t total = 0;
    for (index_t r0 = 0; r0 < n; r0 += br) total += size_t(std::min(br, n - r0)) * size_t(n - r0);
    return total;
}

// Offsets of the packed upper row blocks (size nb + 1; the last entry is the total).
inline std::vector<size_t> packed_offsets(index_t n, index_t br) {
    const index_t nb = ceil_div(n, br);
    std::vector<size_t> off(static_cast<size_t>(nb) + 1, 0);
    for (index_t b = 0; b < nb; ++b) {
        const index_t r0 = b * br, rows = std::min(br, n - r0);
        off[b + 1] = off[b] + size_t(rows) * size_t(n - r0);
    }
    return off;
}

// The row block a thread handles at position p of the static cyclic schedule, in
// "snake" order (q, 2 nt - 1 - q, 2 nt + q, ...) so the wide first blocks are shared.
inline index_t snake_block(index_t p, int nt) {
    const index_t round = p / nt, q = p % nt;
    return round * nt + ((round % 2 == 0) ? q : nt - 1 - q);
}
// snake_block permutes [0, snake_positions(nb, nt)): loop over all of it, skip b >= nb.
inline index_t snake_positions(index_t nb, int nt) { return ceil_div(nb, nt) * nt; }

// Distances of row block [r0, r0 + rows) of X against columns [c0, c0 + cols), into
// C (ldc).  xs: squared norms in T.
template <typename T>
inline void distance_tile(const T* X, index_t d, const T* xs, index_t r0, index_t rows, index_t c0, index_t cols,
                          T tol_x, T* C, index_t ldc) {
    gemm_nt<T>(rows, cols, d, T(-2), X + r0 * d, d, X + c0 * d, d, T(0), C, ldc);
    for (index_t i = 0; i < rows; ++i) {
        T* row = C + i * ldc;
        dist_row(row, xs[r0 + i], xs + c0, cols, tol_x);
        const index_t jd = r0 + i - c0;  // the diagonal (i == j) is not a pair: exactly 0
        if (jd >= 0 && jd < cols) row[jd] = T(0);
    }
}

// Squared row norms in T (accumulated in double).  Serial: O(n d) is small next to the
// O(n^2 (d + k)) kernel, and every extra parallel region costs a fork/join barrier,
// which on a loaded or virtualized machine can cost more than the loop itself.
template <typename T>
inline std::vector<T> norms_in(const T* X, index_t n, index_t d) {
    std::vector<double> xn(static_cast<size_t>(n));
    row_sqnorms(X, n, d, xn.data(), 1);
    return std::vector<T>(xn.begin(), xn.end());
}

// Fill the packed upper-row-block distance cache of X (length packed_offsets(n, br)[nb]).
template <typename T>
void stress_pack(const T* X, index_t n, index_t d, T* out, int n_threads, index_t br) {
    br = clamp_block(br, n);
    const index_t nb = ceil_div(n, br);
    const int nt = int(std::max<index_t>(1, std::min<index_t>(n_threads, nb)));  // no idle threads
    const std::vector<T> xs = norms_in(X, n, d);
    const std::vector<size_t> off = packed_offsets(n, br);
    const T tol_x = noise_floor<T>(d);
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (index_t p = 0; p < snake_positions(nb, nt); ++p) {
        const index_t b = snake_block(p, nt);
        if (b >= nb) continue;
        const index_t r0 = b * br, rows = std::min(br, n - r0), width = n - r0;
        distance_tile<T>(X, d, xs.data(), r0, rows, r0, width, tol_x, out + off[b], width);
    }
}

// Stress value and (if grad) gradient.  Exactly one of X (n x d) and Dpacked (the cache
// of stress_pack with the same br) is given.  relative: the pair weights 1 / D^2.
template <typename T>
double stress_sym(const T* X, index_t d, const T* Dpacked, const T* Z, index_t n, index_t k, T* grad,
                  int n_threads, index_t br, index_t bc, bool relative = false) {
    if (n < 2) throw std::invalid_argument("stress needs at least 2 samples, got n=" + std::to_string(n));
    if ((X == nullptr) == (Dpacked == nullptr)) throw std::invalid_argument("stress: give exactly one of X and D");
    br = clamp_block(br, n);
    bc = clamp_block(bc, n);
    const index_t nb = ceil_div(n, br);
    const int nt = int(std::max<index_t>(1, std::min<index_t>(n_threads, nb)));
    const index_t tw = std::max(br, bc);  // widest tile: the diagonal square or bc columns
    const std::vector<T> zs = norms_in(Z, n, k);
    const std::vector<T> xs = X ? norms_in(X, n, d) : std::vector<T>();
    const std::vector<size_t> off = Dpacked ? packed_offsets(n, br) : std::vector<size_t>();
    const T tol_x = noise_floor<T>(std::max<index_t>(d, 1)), tol_z = noise_floor<T>(k);
    const bool want_grad = grad != nullptr;
    std::vector<double> part_num(static_cast<size_t>(nb), 0.0), part_den(static_cast<size_t>(nb), 0.0);
    // per thread: gradient pieces G = rowsum(W) * Z - W @ Z in double
    std::vector<double> gacc(want_grad ? size_t(nt) * size_t(n) * size_t(k) : 0);
    std::vector<double> wsum(want_grad ? size_t(nt) * size_t(n) : 0);
    Scratch<T> tx(X ? size_t(nt) * size_t(br * tw) : 0), tz(size_t(nt) * size_t(br * tw));
    Scratch<T> tg(want_grad ? size_t(nt) * size_t((br + tw) * k) : 0);
    Scratch<double> tcol(want_grad ? size_t(nt) * size_t(tw) : 0);
#pragma omp parallel num_threads(nt)
    {
        const int tid = thread_id();
        T* DX = X ? tx.data() + size_t(tid) * size_t(br * tw) : nullptr;
        T* DZ = tz.data() + size_t(tid) * size_t(br * tw);
        T* WZ = want_grad ? tg.data() + size_t(tid) * size_t((br + tw) * k) : nullptr;
        double* g = want_grad ? gacc.data() + size_t(tid) * size_t(n) * size_t(k) : nullptr;
        double* ws = want_grad ? wsum.data() + size_t(tid) * size_t(n) : nullptr;
        double* cs = want_grad ? tcol.data() + size_t(tid) * size_t(tw) : nullptr;
#pragma omp for schedule(static, 1)
        for (index_t p = 0; p < snake_positions(nb, nt); ++p) {
            const index_t b = snake_block(p, nt);
            if (b >= nb) continue;
            const index_t r0 = b * br, rows = std::min(br, n - r0), width = n - r0;
            double bnum = 0.0, bden = 0.0;
            for (index_t c0 = r0; c0 < n;) {
                const bool diag = c0 == r0;
                const index_t cols = diag ? rows : std::min(bc, n - c0);
                const T* Dt;
                index_t ldd;
                if (Dpacked) {
                    Dt = Dpacked + off[b] + (c0 - r0);
                    ldd = width;
                } else {
                    distance_tile<T>(X, d, xs.data(), r0, rows, c0, cols, tol_x, DX, cols);
                    Dt = DX;
                    ldd = cols;
                }
                gemm_nt<T>(rows, cols, k, T(-2), Z + r0 * k, k, Z + c0 * k, k, T(0), DZ, cols);
                if (want_grad && !diag) std::fill(cs, cs + cols, 0.0);
                double tnum = 0.0, tden = 0.0;
                for (index_t i = 0; i < rows; ++i) {
                    T* dz = DZ + i * cols;
                    const T zi = zs[r0 + i];
                    if (diag) dz[i] = -(zi + zi);  // the diagonal: E = 0 exactly (and D = 0)
                    double sums3[3];
                    stress_row(Dt + i * ldd, dz, zi, zs.data() + c0, cols, tol_z, relative, sums3);
                    tnum += sums3[0];
                    tden += sums3[1];
                    if (want_grad) {
                        ws[r0 + i] += sums3[2];
                        if (!diag)
                            for (index_t j = 0; j < cols; ++j) cs[j] += double(dz[j]);
                    }
                }
                const double weight = diag ? 1.0 : 2.0;  // off-diagonal tiles stand for both orders
                bnum += weight * tnum;
                bden += weight * tden;
                if (want_grad) {
                    // W @ Z_J into the rows of I and (off the diagonal) W^T @ Z_I into J
                    T* WJ = WZ + rows * k;
                    tile_products<T>(DZ, cols, rows, cols, Z + r0 * k, Z + c0 * k, k, WZ, WJ, !diag);
                    double* gi = g + size_t(r0) * size_t(k);
                    for (index_t q = 0; q < rows * k; ++q) gi[q] += double(WZ[q]);
                    if (!diag) {
                        double* gj = g + size_t(c0) * size_t(k);
                        for (index_t q = 0; q < cols * k; ++q) gj[q] += double(WJ[q]);
                        for (index_t j = 0; j < cols; ++j) ws[c0 + j] += cs[j];
                    }
                }
                c0 += cols;
            }
            part_num[b] = bnum;
            part_den[b] = bden;
        }
    }
    // sums over ordered pairs i != j of (D - E)^2 and D^2, added in block order
    double num = 0.0, den = 0.0;
    for (index_t b = 0; b < nb; ++b) { num += part_num[b]; den += part_den[b]; }
    if (!(den > 0.0))
        throw std::invalid_argument("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)");
    // (relative: den counts the pairs with D > 0, so it is 0 exactly when every D is)
    const double value = std::sqrt(num) / std::sqrt(den);  // num / den may overflow
    if (want_grad) {
        // sums over ordered pairs are twice the i<j sums: B = den / 2
        const double scale = value > value_floor<T>() ? 1.0 / (value * (den * 0.5)) : 0.0;
        for (index_t i = 0; i < n; ++i) {  // serial, O(n k nt): see norms_in
            const T* z = Z + i * k;
            T* o = grad + i * k;
            double w_i = 0.0;
            for (int t = 0; t < nt; ++t) w_i += wsum[size_t(t) * size_t(n) + size_t(i)];
            for (index_t q = 0; q < k; ++q) {
                double gq = 0.0;
                for (int t = 0; t < nt; ++t) gq += gacc[(size_t(t) * size_t(n) + size_t(i)) * size_t(k) + size_t(q)];
                o[q] = T(scale * (w_i * double(z[q]) - gq));
            }
        }
    }
    return value;
}

// The stress of X (n x d) against Z (n x k), D computed on the fly.
template <typename T>
double stress_value_grad(const T* X, const T* Z, index_t n, index_t d, index_t k, T* grad, int n_threads,
                         index_t br, index_t bc, bool relative = false) {
    return stress_sym<T>(X, d, nullptr, Z, n, k, grad, n_threads, br, bc, relative);
}

}  // namespace axf
