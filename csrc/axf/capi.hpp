// noexcept entry points for C / Cython callers: status codes instead of exceptions.
//   0 = ok, 1 = invalid argument, 2 = out of memory, 3 = BLAS not initialised, 4 = other error
#pragma once

#include <new>

#include "blocking.hpp"
#include "gram.hpp"
#include "reductions.hpp"
#include "stress.hpp"

namespace axf {

template <typename F>
inline int guarded(F&& f) noexcept {
    if (!blas_ready()) return 3;
    try {
        f();
        return 0;
    } catch (const std::invalid_argument&) {
        return 1;
    } catch (const std::bad_alloc&) {
        return 2;
    } catch (...) {
        return 4;
    }
}

template <typename T>
inline int capi_gram(int kind, const T* X, index_t n, const T* Y, index_t m, index_t d, T* out, double gamma,
                     double coef0, int degree, bool symmetric, int n_threads) noexcept {
    return guarded([&] {
        Kind k = kind_from_int(kind);
        if (n < 0 || m < 0 || d < 0 || n_threads < 1 || (kind == 2 && degree < 1) || (kind == 1 && !(gamma > 0)))
            throw std::invalid_argument("bad argument");
        n_threads = cap_threads(n_threads);
        KernelParams p;
        p.gamma = gamma;
        p.coef0 = coef0;
        p.degree = degree;
        gram<T>(k, p, X, n, Y, m, d, out, symmetric, n_threads, blocking::gram_rows(n, n_threads),
                blocking::gram_max_cols);
    });
}

template <typename T>
inline int capi_kernel_matvec(int kind, const T* X, index_t n, const T* Y, index_t m, index_t d, const T* V,
                              index_t p_cols, T* out, double gamma, double coef0, int degree, bool symmetric,
                              int n_threads) noexcept {
    return guarded([&] {
        Kind k = kind_from_int(kind);
        if (n < 0 || m < 0 || d < 0 || p_cols < 1 || n_threads < 1 || (kind == 2 && degree < 1) ||
            (kind == 1 && !(gamma > 0)) || (V == nullptr && p_cols != 1))
            throw std::invalid_argument("bad argument");
        n_threads = cap_threads(n_threads);
        KernelParams p;
        p.gamma = gamma;
        p.coef0 = coef0;
        p.degree = degree;
        kernel_matvec<T>(k, p, X, n, Y, m, d, V, p_cols, out, symmetric, n_threads, blocking::stress_rows,
                         blocking::reduction_cols);
    });
}

template <typename T>
inline int capi_stress(const T* X, const T* Z, index_t n, index_t d, index_t k, T* grad, int n_threads,
                       double* value) noexcept {
    return guarded([&] {
        if (n < 2 || d < 1 || k < 1 || n_threads < 1) throw std::invalid_argument("bad argument");
        n_threads = cap_threads(n_threads);
        *value = stress_value_grad<T>(X, Z, n, d, k, grad, n_threads, blocking::stress_rows, blocking::stress_rows);
    });
}

}  // namespace axf
