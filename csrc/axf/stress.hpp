// Normalized MDS stress and its analytic gradient, blockwise.
//
//   D_ij = |x_i - x_j|,  E_ij = |z_i - z_j|
//   stress = sqrt( sum_{i<j} (D_ij - E_ij)^2 / sum_{i<j} D_ij^2 )
//   d stress / d z_i = 1 / (stress * B) * sum_j w_ij (z_i - z_j),  w_ij = 1 - D_ij / E_ij,
// with B = sum_{i<j} D_ij^2.  Pairs with E_ij = 0 contribute no gradient (w_ij = 0).
// When the stress is 0 the gradient is set to 0 (a subgradient).  Squared distances
// below the rounding-noise floor (see noise_floor) count as exactly 0.
//
// Each OpenMP thread owns whole row blocks I.  For every column block J it forms the
// X and Z Gram tiles (two gemms), turns them into D, E and W in cache, adds
// (D - E)^2 and D^2 into double partial sums of the row block, and folds W into the
// gradient with a third gemm (W_IJ @ Z_J) plus W's row sums.  Mirror pairs are
// computed twice rather than shared, so no atomics are needed, and partial sums are
// stored per row block and added in a fixed order afterwards: the value does not
// depend on the thread count.  Memory: O(n) + O(threads * (2 br bc + 2 br k)).
#pragma once

#include "common.hpp"

namespace axf {

// Squared distances from the norm trick carry an absolute error of about
// eps * sqrt(dim) * (|a|^2 + |b|^2).  Below 8x that they are noise: treat them as 0, so
// coincident points (duplicate rows) get D = 0 / E = 0 and no noise-driven gradient.
template <typename T>
inline T noise_floor(index_t dim) {
    const double eps = sizeof(T) == 4 ? 1.1920928955078125e-07 : 2.220446049250313e-16;
    return T(8.0 * eps * std::sqrt(double(std::max<index_t>(dim, 1))));
}

// One tile row: dx, dz hold -2<x_i,x_j>, -2<z_i,z_j>; xj, zj the squared norms.
// Overwrites dz with w_ij and returns the float64 sums of (D-E)^2, D^2 and w.
template <typename T>
__attribute__((always_inline)) inline void stress_row_impl(const T* dx, T* dz, T xi, T zi, const T* xj,
                                                           const T* zj, index_t cols, T tol_x, T tol_z,
                                                           double* sums3) {
    double snum = 0.0, sden = 0.0, sw = 0.0;
#pragma omp simd reduction(+ : snum, sden, sw)
    for (index_t j = 0; j < cols; ++j) {
        T dd = (xi + xj[j]) + dx[j];
        dd = dd > tol_x * (xi + xj[j]) ? dd : T(0);
        T ee = (zi + zj[j]) + dz[j];
        ee = ee > tol_z * (zi + zj[j]) ? ee : T(0);
        const T D = std::sqrt(dd), E = std::sqrt(ee);
        const double diff = double(D) - double(E);
        snum += diff * diff;
        sden += double(dd);
        const T w = E > T(0) ? T(1) - D / E : T(0);
        dz[j] = w;
        sw += double(w);
    }
    sums3[0] = snum;
    sums3[1] = sden;
    sums3[2] = sw;
}
AXF_CLONES static void stress_row(const float* dx, float* dz, float xi, float zi, const float* xj, const float* zj,
                                  index_t cols, float tol_x, float tol_z, double* sums3) {
    stress_row_impl<float>(dx, dz, xi, zi, xj, zj, cols, tol_x, tol_z, sums3);
}
AXF_CLONES static void stress_row(const double* dx, double* dz, double xi, double zi, const double* xj,
                                  const double* zj, index_t cols, double tol_x, double tol_z, double* sums3) {
    stress_row_impl<double>(dx, dz, xi, zi, xj, zj, cols, tol_x, tol_z, sums3);
}

struct StressSums {
    double num = 0.0;  // sum over ordered pairs i != j of (D - E)^2
    double den = 0.0;  // sum over ordered pairs i != j of D^2
};

// grad may be null (value only).  Returns the stress value.
template <typename T>
double stress_value_grad(const T* X, const T* Z, index_t n, index_t d, index_t k, T* grad,
                         int n_threads, index_t br, index_t bc, StressSums* sums_out = nullptr) {
    if (n < 2) throw std::invalid_argument("stress needs at least 2 samples, got n=" + std::to_string(n));
    br = std::max<index_t>(1, std::min(br, n));
    bc = std::max<index_t>(1, std::min(bc, n));
    const int nt = std::max(1, n_threads);
    std::vector<double> xn(static_cast<size_t>(n)), zn(static_cast<size_t>(n));
    row_sqnorms(X, n, d, xn.data(), nt);
    row_sqnorms(Z, n, k, zn.data(), nt);
    std::vector<T> xs(static_cast<size_t>(n)), zs(static_cast<size_t>(n));
    for (index_t i = 0; i < n; ++i) { xs[i] = T(xn[i]); zs[i] = T(zn[i]); }
    const index_t nbr = ceil_div(n, br);
    const T tol_x = noise_floor<T>(d), tol_z = noise_floor<T>(k);
    const bool want_grad = grad != nullptr;
    std::vector<double> part_num(static_cast<size_t>(nbr), 0.0), part_den(static_cast<size_t>(nbr), 0.0);
    // gradient pieces: G = rowsum(W) * Z - W @ Z, accumulated in double per row
    std::vector<double> gacc(want_grad ? size_t(n) * size_t(k) : 0);
    std::vector<double> wsum(want_grad ? size_t(n) : 0);
    std::vector<T> tx(size_t(nt) * size_t(br * bc)), tz(size_t(nt) * size_t(br * bc));
    std::vector<T> tg(want_grad ? size_t(nt) * size_t(br * k) : 0);
#pragma omp parallel num_threads(nt)
    {
        const int tid = thread_id();
        T* DX = tx.data() + size_t(tid) * size_t(br * bc);
        T* DZ = tz.data() + size_t(tid) * size_t(br * bc);
        T* WZ = want_grad ? tg.data() + size_t(tid) * size_t(br * k) : nullptr;
#pragma omp for schedule(static)
        for (index_t b = 0; b < nbr; ++b) {
            const index_t r0 = b * br, rows = std::min(br, n - r0);
            double bnum = 0.0, bden = 0.0;
            for (index_t c0 = 0; c0 < n; c0 += bc) {
                const index_t cols = std::min(bc, n - c0);
                gemm_nt<T>(rows, cols, d, T(-2), X + r0 * d, d, X + c0 * d, d, T(0), DX, cols);
                gemm_nt<T>(rows, cols, k, T(-2), Z + r0 * k, k, Z + c0 * k, k, T(0), DZ, cols);
                for (index_t i = 0; i < rows; ++i) {
                    T* dx = DX + i * cols;
                    T* dz = DZ + i * cols;
                    const T xi = xs[r0 + i], zi = zs[r0 + i];
                    const T* xj = xs.data() + c0;
                    const T* zj = zs.data() + c0;
                    // the diagonal (i == j) is not a pair: force D = E = 0 exactly there
                    const index_t jd = r0 + i - c0;
                    if (jd >= 0 && jd < cols) {
                        dx[jd] = -(xi + xj[jd]);
                        dz[jd] = -(zi + zj[jd]);
                    }
                    double sums3[3];
                    stress_row(dx, dz, xi, zi, xj, zj, cols, tol_x, tol_z, sums3);
                    const double snum = sums3[0], sden = sums3[1], sw = sums3[2];
                    bnum += snum;
                    bden += sden;
                    if (want_grad) wsum[r0 + i] += sw;
                }
                if (want_grad) {
                    gemm_nn<T>(rows, k, cols, T(1), DZ, cols, Z + c0 * k, k, T(0), WZ, k);
                    double* g = gacc.data() + size_t(r0) * size_t(k);
                    for (index_t q = 0; q < rows * k; ++q) g[q] += double(WZ[q]);
                }
            }
            part_num[b] = bnum;
            part_den[b] = bden;
        }
    }
    StressSums sums;
    for (index_t b = 0; b < nbr; ++b) { sums.num += part_num[b]; sums.den += part_den[b]; }
    if (sums_out) *sums_out = sums;
    if (!(sums.den > 0.0))
        throw std::invalid_argument("stress is undefined: all rows of X are identical (sum of D_ij^2 is 0)");
    const double value = std::sqrt(sums.num / sums.den);
    if (want_grad) {
        // sums over ordered pairs are twice the i<j sums: B = den / 2
        const double scale = value > 0.0 ? 1.0 / (value * (sums.den * 0.5)) : 0.0;
        for (index_t i = 0; i < n; ++i) {
            const double ws = wsum[i];
            const double* g = gacc.data() + size_t(i) * size_t(k);
            const T* z = Z + i * k;
            T* o = grad + i * k;
            for (index_t q = 0; q < k; ++q) o[q] = T(scale * (ws * double(z[q]) - g[q]));
        }
    }
    return value;
}

}  // namespace axf
