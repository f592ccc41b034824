// Symmetric kernel InfoNCE ("contrastive similarity") and its gradient, never forming n x n.
//
//   s_ij = kappa(a_i, b_j) / temperature,   A, B: n x k, row i of A paired with row i of B
//   S = -(1/2n) sum_i [lse_j s_ij - s_ii] - (1/2n) sum_j [lse_i s_ij - s_jj]
//   G = dS/dkappa = -(P + Q - 2 I) / (2 n temperature),  P = exp(s - lse_row), Q = exp(s - lse_col)
//
// The gradient goes through the kernel's chain rule as one tile weight W and a diagonal
// correction, so dA = W B - diag(cr * rowsum H) A and dB = W^T A - diag(cc * colsum H) B:
//   linear  W = G                                   (no correction)
//   poly    W = G * degree * gamma * base^(degree-1), base = gamma a.b + coef0
//   rbf     H = G * K, W = 2 gamma H,               cr = cc = 2 gamma
//   cosine  H = G * K, W = G * ia_i * ib_j,          cr = ia_i^2, cc = ib_j^2 (ia = 1/|a_i|, 0 for 0)
//
// Two passes over br x bc tiles, each tile one single-threaded gemm plus a fused epilogue
// (threads own row blocks, schedule(static)):
//   pass 1: logits, online (streaming) log-sum-exp per row (the thread owns the row) and
//           per column (per-thread partial max / sum of length n, merged in thread order),
//           the diagonal logits; the value.
//   pass 2: the tile again, W in place, dA_I += W B_J (rows owned by the thread, float64
//           accumulator), dB_J += W^T A_I into a per-thread float64 n x k accumulator,
//           added in thread order at the end (both products from one sweep over the tile
//           for small k, else two gemms: tile_products in products.hpp).
// Results are bit-for-bit reproducible for a given thread count and block sizes; across
// thread counts they agree to rounding (the column merge regroups partial sums).
//
// Tiles are in T (float32 tiles stay float32, exp in T); maxima, log-sum-exps, row and
// column sums and the gradient accumulators are float64 (a tile's column sums first add
// up COL_GROUP rows in T).  Non-finite logits (poly or
// linear overflowing T, or a tiny temperature) set a per-thread flag; after the parallel
// region a std::invalid_argument says so (nothing is thrown inside the region).
//
// Memory: O(n) + threads * (br * bc + (br + max(br, bc)) * k + br * k + 3 n + n k doubles).  The
// per-thread n x k float64 dB accumulators are the largest term (20 MB at n = 10^4,
// k = 128, two threads).
#pragma once

#include <limits>

#include "common.hpp"
#include "gram.hpp"
#include "products.hpp"
#include "vexp.hpp"

// The tile epilogues here run several exponentials per logit: the same clones as every
// other epilogue (AXF_CLONES: x86-64-v4, x86-64-v3, default).
#define AXF_CLONES_WIDE AXF_CLONES

namespace axf {

inline void check_contrastive_kind(Kind kind) {
    if (!(kind == Kind::linear || kind == Kind::rbf || kind == Kind::poly || kind == Kind::cosine))
        throw std::invalid_argument("contrastive: kernel code must be linear (0), rbf (1), poly (2) or cosine (3), got " +
                                    std::to_string(int(kind)));
}

// Logits of one tile row, in place: c[j] holds gemm_alpha * <a_i, b_j> on entry and
// s_ij on exit.  xi / ay: row_aux of A's row and B's columns.  Returns sum_j 0 * s_ij,
// which is NaN when any logit is inf or NaN (a vectorizable finiteness check).
template <typename T>
__attribute__((always_inline)) inline T logits_row(Kind kind, T g, T c0v, int deg, T inv_t, T* c, index_t cols,
                                                   T xi, const T* ay) {
    T chk = T(0);
    switch (kind) {
        case Kind::rbf: {
            const T ng = -g;
#pragma omp simd reduction(+ : chk)
            for (index_t j = 0; j < cols; ++j) {
                T d2 = xi + ay[j] + c[j];
                d2 = d2 > T(0) ? d2 : T(0);
                const T s = vexp(ng * d2) * inv_t;
                c[j] = s;
                chk += s * T(0);
            }
            break;
        }
        case Kind::poly:
            if (deg == 2) {
#pragma omp simd reduction(+ : chk)
                for (index_t j = 0; j < cols; ++j) {
                    const T b = c[j] + c0v;
                    const T s = b * b * inv_t;
                    c[j] = s;
                    chk += s * T(0);
                }
            } else if (deg == 3) {
#pragma omp simd reduction(+ : chk)
                for (index_t j = 0; j < cols; ++j) {
                    const T b = c[j] + c0v;
                    const T s = b * b * b * inv_t;
                    c[j] = s;
                    chk += s * T(0);
                }
            } else {
                for (index_t j = 0; j < cols; ++j) {
                    const T s = ipow(c[j] + c0v, deg) * inv_t;
                    c[j] = s;
                    chk += s * T(0);
                }
            }
            break;
        case Kind::cosine:
#pragma omp simd reduction(+ : chk)
            for (index_t j = 0; j < cols; ++j) {
                const T s = c[j] * xi * ay[j] * inv_t;
                c[j] = s;
                chk += s * T(0);
            }
            break;
        default:  // linear
#pragma omp simd reduction(+ : chk)
            for (index_t j = 0; j < cols; ++j) {
                const T s = c[j] * inv_t;
                c[j] = s;
                chk += s * T(0);
            }
    }
    return chk;
}

// Pass-1 epilogue of one tile (rows x cols at (r0, c0)): logits in place, then the online
// log-sum-exp updates.  rm / rs: running max / sum of the tile's rows (float64); cm / cs:
// this thread's running column max / sum at columns c0..; tcm: cols entries of T scratch.
// diag: the diagonal logits s_ii, stored for the rows whose column lies in the tile.
// Returns false if a logit is not finite.
template <typename T>
__attribute__((always_inline)) inline bool pass1_tile_impl(Kind kind, T g, T c0v, int deg, T inv_t, T* C,
                                                           index_t rows, index_t cols, index_t r0, index_t c0,
                                                           const T* ax, const T* ay, double* rm, double* rs,
                                                           double* cm, double* cs, T* tcm, double* diag) {
    T chk = T(0);
    for (index_t i = 0; i < rows; ++i) chk += logits_row(kind, g, c0v, deg, inv_t, C + i * cols, cols, ax[i], ay);
    if (!(chk == T(0))) return false;
    for (index_t i = 0; i < rows; ++i) {
        const index_t jd = r0 + i - c0;
        if (jd >= 0 && jd < cols) diag[i] = double(C[i * cols + jd]);
    }
    // columns: tile maxima, rescale the running sums once per tile, then add exp(s - max)
    for (index_t j = 0; j < cols; ++j) tcm[j] = C[j];
    for (index_t i = 1; i < rows; ++i) {
        const T* c = C + i * cols;
#pragma omp simd
        for (index_t j = 0; j < cols; ++j) tcm[j] = c[j] > tcm[j] ? c[j] : tcm[j];
    }
    for (index_t j = 0; j < cols; ++j) {
        const double mnew = std::max(cm[j], double(tcm[j]));
        cs[j] *= std::exp(cm[j] - mnew);  // exp(-inf) = 0 on the first tile
        cm[j] = mnew;
        tcm[j] = T(mnew);  // exact: the maximum of T values
    }
    for (index_t i = 0; i < rows; ++i) {
        const T* c = C + i * cols;
#pragma omp simd
        for (index_t j = 0; j < cols; ++j) cs[j] += double(vexp(c[j] - tcm[j]));
    }
    // rows
    for (index_t i = 0; i < rows; ++i) {
        const T* c = C + i * cols;
        T mt = c[0];
#pragma omp simd reduction(max : mt)
        for (index_t j = 0; j < cols; ++j) mt = c[j] > mt ? c[j] : mt;
        const double mnew = std::max(rm[i], double(mt));
        const T mT = T(mnew);
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (index_t j = 0; j < cols; ++j) s += double(vexp(c[j] - mT));
        rs[i] = rs[i] * std::exp(rm[i] - mnew) + s;
        rm[i] = mnew;
    }
    return true;
}

// Column sums of a tile run over groups of COL_GROUP rows in T, then into the float64
// column accumulators: one float64 load, add and store per group instead of per logit.
// A group sum carries at most COL_GROUP roundings of T (pass 1: positive terms <= 1;
// pass 2: fewer roundings than the T gemm sums over the tile's rows that dB adds them to).
constexpr index_t COL_GROUP = 8;

template <typename T>
__attribute__((always_inline)) inline void add_columns(double* cs, const T* tcs, index_t cols) {
#pragma omp simd
    for (index_t j = 0; j < cols; ++j) cs[j] += double(tcs[j]);
}

// Pass-1 epilogue with a fixed shift (bounded kernels, see fixed_shift_ok): logits in
// place, then rs[i] += sum_j exp(s_ij - shift) and cs[j] += exp(s_ij - shift) -- one
// exponential per logit and no running maxima.  tcs: cols entries of T scratch (the
// column groups).  Returns false if a logit is not finite.
template <typename T>
__attribute__((always_inline)) inline bool pass1_fixed_tile_impl(Kind kind, T g, T c0v, int deg, T inv_t, T shift,
                                                                 T* C, index_t rows, index_t cols, index_t r0,
                                                                 index_t c0, const T* ax, const T* ay, double* rs,
                                                                 double* cs, T* tcs, double* diag) {
    T chk = T(0);
    for (index_t i = 0; i < rows; ++i) chk += logits_row(kind, g, c0v, deg, inv_t, C + i * cols, cols, ax[i], ay);
    if (!(chk == T(0))) return false;
    for (index_t i = 0; i < rows; ++i) {
        const T* c = C + i * cols;
        const index_t jd = r0 + i - c0;
        if (jd >= 0 && jd < cols) diag[i] = double(c[jd]);
        if (i % COL_GROUP == 0) std::fill(tcs, tcs + cols, T(0));
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (index_t j = 0; j < cols; ++j) {
            const T e = vexp(c[j] - shift);
            s += double(e);
            tcs[j] += e;
        }
        rs[i] += s;
        if ((i + 1) % COL_GROUP == 0 || i + 1 == rows) add_columns(cs, tcs, cols);
    }
    return true;
}

// Pass-2 epilogue of one tile: C holds gemm_alpha * <a_i, b_j> on entry and W on exit.
// rl: row lse of the tile's rows, cl: column lse at c0.. (both in T); scale = -1/(2 n T).
// FIXED (rbf and cosine only): rl / cl hold exp(shift - lse) = 1 / (the row / column
// sum of exp(s - shift)) instead, and P + Q = exp(s - shift) * (rl_i + cl_j): one
// exponential per logit instead of two.
// hr[i] += rowsum H, hc[j] += colsum H (rbf and cosine; tcs: cols entries of T scratch).
template <typename T, bool FIXED>
__attribute__((always_inline)) inline void pass2_tile_impl(Kind kind, T g, T c0v, int deg, T inv_t, T scale,
                                                           T shift, T* C, index_t rows, index_t cols, index_t r0,
                                                           index_t c0, const T* ax, const T* ay, const T* rl,
                                                           const T* cl, double* hr, double* hc, T* tcs) {
    const T two = T(2);
    const T wpoly = T(double(deg) * double(g));
    for (index_t i = 0; i < rows; ++i) {
        T* c = C + i * cols;
        const index_t jd = r0 + i - c0;  // the diagonal's column in this tile (maybe outside)
        const T ri = rl[i], xi = ax[i];
        if (i % COL_GROUP == 0) std::fill(tcs, tcs + cols, T(0));
        switch (kind) {
            case Kind::linear:
#pragma omp simd
                for (index_t j = 0; j < cols; ++j) {
                    const T s = c[j] * inv_t;
                    const T d = j == jd ? two : T(0);
                    c[j] = scale * (vexp(s - ri) + vexp(s - cl[j]) - d);
                }
                break;
            case Kind::poly:
                for (index_t j = 0; j < cols; ++j) {
                    const T b = c[j] + c0v;
                    const T bp = ipow(b, deg - 1);
                    const T s = bp * b * inv_t;
                    const T d = j == jd ? two : T(0);
                    c[j] = scale * (vexp(s - ri) + vexp(s - cl[j]) - d) * (wpoly * bp);
                }
                break;
            case Kind::rbf: {
                const T ng = -g, g2 = two * g;
                double h = 0.0;
#pragma omp simd reduction(+ : h)
                for (index_t j = 0; j < cols; ++j) {
                    T d2 = xi + ay[j] + c[j];
                    d2 = d2 > T(0) ? d2 : T(0);
                    const T K = vexp(ng * d2);
                    const T s = K * inv_t;
                    const T d = j == jd ? two : T(0);
                    const T pq = FIXED ? vexp(s - shift) * (ri + cl[j]) : vexp(s - ri) + vexp(s - cl[j]);
                    const T H = scale * (pq - d) * K;
                    h += double(H);
                    tcs[j] += H;
                    c[j] = g2 * H;
                }
                hr[i] += h;
                break;
            }
            case Kind::cosine: {
                double h = 0.0;
#pragma omp simd reduction(+ : h)
                for (index_t j = 0; j < cols; ++j) {
                    const T w = xi * ay[j];
                    const T K = c[j] * w;
                    const T s = K * inv_t;
                    const T d = j == jd ? two : T(0);
                    const T pq = FIXED ? vexp(s - shift) * (ri + cl[j]) : vexp(s - ri) + vexp(s - cl[j]);
                    const T Gv = scale * (pq - d);
                    const T H = Gv * K;
                    h += double(H);
                    tcs[j] += H;
                    c[j] = Gv * w;
                }
                hr[i] += h;
                break;
            }
            default:
                break;
        }
        if ((kind == Kind::rbf || kind == Kind::cosine) && ((i + 1) % COL_GROUP == 0 || i + 1 == rows))
            add_columns(hc, tcs, cols);
    }
}

// The tile epilogues' entry points, one overload per dtype (functions with target_clones
// cannot be templates): one definition, instantiated for float and double below.
#define AXF_CONTRASTIVE_TILES(T)                                                                                  \
    AXF_CLONES_WIDE static bool contrastive_pass1_tile(Kind kind, T g, T c0v, int deg, T inv_t, T* C,          \
                                                       index_t rows, index_t cols, index_t r0, index_t c0,     \
                                                       const T* ax, const T* ay, double* rm, double* rs,       \
                                                       double* cm, double* cs, T* tcm, double* diag) {         \
        return pass1_tile_impl<T>(kind, g, c0v, deg, inv_t, C, rows, cols, r0, c0, ax, ay, rm, rs, cm, cs, tcm, \
                                  diag);                                                                         \
    }                                                                                                           \
    AXF_CLONES_WIDE static bool contrastive_pass1_fixed_tile(Kind kind, T g, T c0v, int deg, T inv_t, T shift, \
                                                             T* C, index_t rows, index_t cols, index_t r0,     \
                                                             index_t c0, const T* ax, const T* ay, double* rs, \
                                                             double* cs, T* tcs, double* diag) {               \
        return pass1_fixed_tile_impl<T>(kind, g, c0v, deg, inv_t, shift, C, rows, cols, r0, c0, ax, ay, rs, cs, \
                                        tcs, diag);                                                              \
    }                                                                                                           \
    AXF_CLONES_WIDE static void contrastive_pass2_tile(Kind kind, bool fixed, T g, T c0v, int deg, T inv_t,    \
                                                       T scale, T shift, T* C, index_t rows, index_t cols,     \
                                                       index_t r0, index_t c0, const T* ax, const T* ay,       \
                                                       const T* rl, const T* cl, double* hr, double* hc,       \
                                                       T* tcs) {                                               \
        if (fixed)                                                                                              \
            pass2_tile_impl<T, true>(kind, g, c0v, deg, inv_t, scale, shift, C, rows, cols, r0, c0, ax, ay, rl, \
                                     cl, hr, hc, tcs);                                                          \
        else                                                                                                    \
            pass2_tile_impl<T, false>(kind, g, c0v, deg, inv_t, scale, shift, C, rows, cols, r0, c0, ax, ay, rl,\
                                      cl, hr, hc, tcs);                                                         \
    }
AXF_CONTRASTIVE_TILES(float)
AXF_CONTRASTIVE_TILES(double)
#undef AXF_CONTRASTIVE_TILES

// The fixed shift is exact arithmetic for the bounded kernels: rbf logits lie in
// [0, 1/t] and cosine logits in [-1/t, 1/t] (up to rounding), so exp(s - 1/t) lies in
// [exp(-2/t), 1].  It is used when that range stays well inside T's normal range
// (2/t <= 80 in float32, 700 in float64, i.e. t >= 0.025 / 0.0029); P and Q then keep
// full relative precision, and the sums are at least one term of the range (the
// diagonal), so 1 / sum stays finite.  n = 1 keeps the running maxima, which give its
// constant loss an exactly zero gradient (exp(s - s) = 1).
template <typename T>
inline bool fixed_shift_ok(Kind kind, double temperature, index_t n) {
    if (!(kind == Kind::rbf || kind == Kind::cosine) || n < 2) return false;
    return 2.0 / temperature <= (sizeof(T) == 4 ? 80.0 : 700.0);
}

// Value of the contrastive similarity of A, B (n x k, C order); with dA and dB (both
// non-null, n x k) also its gradient.  Throws std::invalid_argument for bad parameters
// and, after pass 1, for non-finite logits.
template <typename T>
double contrastive(Kind kind, const KernelParams& p, double temperature, const T* A, const T* B, index_t n,
                   index_t k, T* dA, T* dB, int n_threads, index_t br, index_t bc) {
    check_contrastive_kind(kind);
    if (n < 1) throw std::invalid_argument("contrastive: A and B need at least one row, got n=0");
    if (!(temperature > 0.0) || !std::isfinite(temperature))
        throw std::invalid_argument("contrastive: temperature must be a finite float > 0, got " +
                                    std::to_string(temperature));
    if ((dA == nullptr) != (dB == nullptr))
        throw std::invalid_argument("contrastive: give both dA and dB, or neither (value only)");
    br = std::max<index_t>(1, std::min(br, n));
    bc = std::max<index_t>(1, std::min(bc, n));
    const index_t nb = ceil_div(n, br);
    const int nt = int(std::max<index_t>(1, std::min<index_t>(std::max(n_threads, 1), nb)));
    const bool want_grad = dA != nullptr;
    std::vector<T> ax, ay;
    pair_aux(kind, A, n, B, n, k, false, ax, ay, 1);
    const T alpha = gemm_alpha<T>(kind, p);
    const T g = T(p.gamma), c0v = T(p.coef0), inv_t = T(1.0 / temperature);
    const int deg = p.degree;
    const size_t N = size_t(n), K = size_t(k), tile = size_t(br) * size_t(bc);
    // bounded kernels: one fixed shift 1/t instead of running maxima (fixed_shift_ok)
    const bool fixed = fixed_shift_ok<T>(kind, temperature, n);
    const double shift_d = 1.0 / temperature;
    const T shift = T(shift_d);

    // ---------------- pass 1: row / column log-sum-exps, diagonal logits
    Scratch<T> tiles(size_t(nt) * tile), tcms(size_t(nt) * size_t(bc));
    Scratch<double> rms(size_t(nt) * size_t(br)), rss(size_t(nt) * size_t(br));
    std::vector<double> cms(size_t(nt) * N, -std::numeric_limits<double>::infinity()), css(size_t(nt) * N, 0.0);
    std::vector<double> row_lse(N), diag(N);
    std::vector<char> bad(size_t(nt), 0);
#pragma omp parallel num_threads(nt)
    {
        const int tid = thread_id();
        T* C = tiles.data() + size_t(tid) * tile;
        T* tcm = tcms.data() + size_t(tid) * size_t(bc);  // column maxima, or (fixed) column groups
        double* rm = rms.data() + size_t(tid) * size_t(br);
        double* rs = rss.data() + size_t(tid) * size_t(br);
        double* cm = cms.data() + size_t(tid) * N;
        double* cs = css.data() + size_t(tid) * N;
#pragma omp for schedule(static)
        for (index_t b = 0; b < nb; ++b) {
            if (bad[tid]) continue;
            const index_t r0 = b * br, rows = std::min(br, n - r0);
            std::fill(rm, rm + rows, fixed ? shift_d : -std::numeric_limits<double>::infinity());
            std::fill(rs, rs + rows, 0.0);
            for (index_t c0 = 0; c0 < n; c0 += bc) {
                const index_t cols = std::min(bc, n - c0);
                gemm_nt<T>(rows, cols, k, alpha, A + r0 * k, k, B + c0 * k, k, T(0), C, cols);
                const bool ok = fixed ? contrastive_pass1_fixed_tile(kind, g, c0v, deg, inv_t, shift, C, rows, cols,
                                                                     r0, c0, ax.data() + r0, ay.data() + c0, rs,
                                                                     cs + c0, tcm, diag.data() + r0)
                                      : contrastive_pass1_tile(kind, g, c0v, deg, inv_t, C, rows, cols, r0, c0,
                                                               ax.data() + r0, ay.data() + c0, rm, rs, cm + c0,
                                                               cs + c0, tcm, diag.data() + r0);
                if (!ok) {
                    bad[tid] = 1;
                    break;
                }
            }
            for (index_t i = 0; i < rows; ++i) row_lse[size_t(r0 + i)] = rm[i] + std::log(rs[i]);
        }
    }
    for (int t = 0; t < nt; ++t)
        if (bad[t])
            throw std::invalid_argument(
                "contrastive: the logits kappa(A, B) / temperature are not finite (the kernel values overflow "
                "the dtype, e.g. a poly or linear kernel on large A, B, or a tiny temperature); scale A and B "
                "down, raise the temperature, or use float64");
    // merge the per-thread column partials in thread order
    std::vector<double> col_lse(N);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (index_t j = 0; j < n; ++j) {
        double m = fixed ? shift_d : -std::numeric_limits<double>::infinity();  // fixed: every cm is -inf
        if (!fixed)
            for (int t = 0; t < nt; ++t) m = std::max(m, cms[size_t(t) * N + size_t(j)]);
        double s = 0.0;
        for (int t = 0; t < nt; ++t)
            s += fixed ? css[size_t(t) * N + size_t(j)]
                       : css[size_t(t) * N + size_t(j)] * std::exp(cms[size_t(t) * N + size_t(j)] - m);
        col_lse[size_t(j)] = m + std::log(s);
    }
    double srow = 0.0, scol = 0.0;
    for (size_t i = 0; i < N; ++i) {
        srow += row_lse[i] - diag[i];
        scol += col_lse[i] - diag[i];
    }
    const double value = -(srow + scol) / (2.0 * double(n));
    if (!std::isfinite(value))
        throw std::invalid_argument("contrastive: the value is not finite (log-sum-exp overflow); scale A and B "
                                    "down or raise the temperature");
    if (!want_grad) return value;

    // ---------------- pass 2: G tiles, the kernel chain rule, dA and dB
    const bool has_h = kind == Kind::rbf || kind == Kind::cosine;
    const T scale = T(-1.0 / (2.0 * double(n) * temperature));
    std::vector<T> rl(N), cl(N);
    for (size_t i = 0; i < N; ++i) {  // fixed: the multipliers exp(shift - lse) = 1 / sum
        rl[i] = T(fixed ? std::exp(shift_d - row_lse[i]) : row_lse[i]);
        cl[i] = T(fixed ? std::exp(shift_d - col_lse[i]) : col_lse[i]);
    }
    const size_t tw = size_t(std::max(br, bc));
    Scratch<T> tmps(size_t(nt) * (size_t(br) + tw) * K);
    Scratch<double> daccs(size_t(nt) * size_t(br) * K), hrs(size_t(nt) * size_t(br));
    Scratch<T> tcs2(size_t(nt) * size_t(bc));
    std::vector<double> dbacc(size_t(nt) * N * K, 0.0), hcs(has_h ? size_t(nt) * N : 0, 0.0);
    const double g2 = 2.0 * p.gamma;
#pragma omp parallel num_threads(nt)
    {
        const int tid = thread_id();
        T* C = tiles.data() + size_t(tid) * tile;
        T* tmp = tmps.data() + size_t(tid) * (size_t(br) + tw) * K;
        double* dacc = daccs.data() + size_t(tid) * size_t(br) * K;
        double* hr = hrs.data() + size_t(tid) * size_t(br);
        double* db = dbacc.data() + size_t(tid) * N * K;
        double* hc = has_h ? hcs.data() + size_t(tid) * N : hrs.data();  // unused when !has_h
#pragma omp for schedule(static)
        for (index_t b = 0; b < nb; ++b) {
            const index_t r0 = b * br, rows = std::min(br, n - r0);
            std::fill(dacc, dacc + size_t(rows) * K, 0.0);
            std::fill(hr, hr + rows, 0.0);
            for (index_t c0 = 0; c0 < n; c0 += bc) {
                const index_t cols = std::min(bc, n - c0);
                gemm_nt<T>(rows, cols, k, alpha, A + r0 * k, k, B + c0 * k, k, T(0), C, cols);
                contrastive_pass2_tile(kind, fixed, g, c0v, deg, inv_t, scale, shift, C, rows, cols, r0, c0,
                                       ax.data() + r0, ay.data() + c0, rl.data() + r0, cl.data() + c0, hr,
                                       has_h ? hc + c0 : hc, tcs2.data() + size_t(tid) * size_t(bc));
                // G_IJ @ B_J into dA's rows, G_IJ^T @ A_I into dB's (one sweep over the tile)
                T* tmpj = tmp + size_t(rows) * K;
                tile_products<T>(C, cols, rows, cols, A + r0 * k, B + c0 * k, k, tmp, tmpj, true);
                for (size_t q = 0; q < size_t(rows) * K; ++q) dacc[q] += double(tmp[q]);
                double* dbj = db + size_t(c0) * K;
                for (size_t q = 0; q < size_t(cols) * K; ++q) dbj[q] += double(tmpj[q]);
            }
            for (index_t i = 0; i < rows; ++i) {
                const size_t gi = size_t(r0 + i);
                double cr = 0.0;
                if (kind == Kind::rbf) cr = g2 * hr[i];
                else if (kind == Kind::cosine) cr = double(ax[gi]) * double(ax[gi]) * hr[i];
                const T* a = A + gi * K;
                T* o = dA + gi * K;
                const double* d = dacc + size_t(i) * K;
                for (size_t q = 0; q < K; ++q) o[q] = T(d[q] - cr * double(a[q]));
            }
        }
    }
    // dB: per-thread accumulators added in thread order, then the diagonal correction
#pragma omp parallel for num_threads(nt) schedule(static)
    for (index_t j = 0; j < n; ++j) {
        const size_t gj = size_t(j);
        double cc = 0.0;
        if (has_h) {
            double h = 0.0;
            for (int t = 0; t < nt; ++t) h += hcs[size_t(t) * N + gj];
            cc = kind == Kind::rbf ? g2 * h : double(ay[gj]) * double(ay[gj]) * h;
        }
        const T* bj = B + gj * K;
        T* o = dB + gj * K;
        for (size_t q = 0; q < K; ++q) {
            double s = 0.0;
            for (int t = 0; t < nt; ++t) s += dbacc[(size_t(t) * N + gj) * K + q];
            o[q] = T(s - cc * double(bj[q]));
        }
    }
    return value;
}

}  // namespace axf
