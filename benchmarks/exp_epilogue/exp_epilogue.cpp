// The exp epilogue options of issue 13, measured on one machine: our hand-written
// axf::vexp (csrc/axf/vexp.hpp) against glibc's libmvec (the vector expf / exp that GCC
// calls for `#pragma omp simd` loops with -fno-math-errno) and scalar libm, float and
// double: throughput on an L1-resident tile (the epilogue's situation) and the maximum
// relative error against long double expl over the kernel's range.
// Built and run by exp_epilogue.py; prints one JSON line per variant.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include <immintrin.h>

#include "../../csrc/axf/vexp.hpp"

// glibc libmvec's vector variants (x86_64 vector ABI names; GCC emits these calls itself
// only under -ffast-math, which we refuse, so they are called directly here)
extern "C" {
__m512 _ZGVeN16v_expf(__m512);
__m512d _ZGVeN8v_exp(__m512d);
__m256 _ZGVdN8v_expf(__m256);
__m256d _ZGVdN4v_exp(__m256d);
}

#ifndef AXF_ARCH
#define AXF_ARCH "unknown"
#endif

template <class T>
__attribute__((noinline)) void run_ours(const T* x, T* y, int n) {
#pragma omp simd
    for (int i = 0; i < n; ++i) y[i] = axf::vexp(x[i]);
}

// n is a multiple of the vector width here
__attribute__((noinline)) void run_libmvec(const float* x, float* y, int n) {
#ifdef __AVX512F__
    for (int i = 0; i < n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_expf(_mm512_loadu_ps(x + i)));
#else
    for (int i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
#endif
}

__attribute__((noinline)) void run_libmvec(const double* x, double* y, int n) {
#ifdef __AVX512F__
    for (int i = 0; i < n; i += 8) _mm512_storeu_pd(y + i, _ZGVeN8v_exp(_mm512_loadu_pd(x + i)));
#else
    for (int i = 0; i < n; i += 4) _mm256_storeu_pd(y + i, _ZGVdN4v_exp(_mm256_loadu_pd(x + i)));
#endif
}

template <class T>
__attribute__((noinline)) void run_scalar(const T* x, T* y, int n) {
#pragma GCC novector
    for (int i = 0; i < n; ++i) {
        volatile T v = std::exp(x[i]);
        y[i] = v;
    }
}

template <class T, class F>
void measure(const char* name, const char* type, F fn, T lo, T hi) {
    const int tile = 4096, reps = 20000, err_n = 1 << 22;
    std::vector<T> x(tile), y(tile);
    for (int i = 0; i < tile; ++i) x[i] = lo + (hi - lo) * T(i) / T(tile);  // an epilogue's range
    double best = 1e30;
    for (int trial = 0; trial < 7; ++trial) {  // best of 7: the machine is shared
        auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; ++r) {
            fn(x.data(), y.data(), tile);
            asm volatile("" : : "r"(y.data()) : "memory");
        }
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = s < best ? s : best;
    }
    // accuracy over the whole finite-output range, on a dense grid
    std::vector<T> ex(err_n), ey(err_n);
    // normal outputs up to axf::vexp's clamp (88 / 709: it returns inf above, where the
    // true exp is still finite up to 88.72 / 709.78; the kernels call exp on arguments <= 0)
    const T elo = sizeof(T) == 4 ? T(-87.3) : T(-708.3), ehi = sizeof(T) == 4 ? T(88.0) : T(709.0);
    for (int i = 0; i < err_n; ++i) ex[i] = elo + (ehi - elo) * (T(i) / T(err_n));
    fn(ex.data(), ey.data(), err_n);
    double max_rel = 0;
    for (int i = 0; i < err_n; ++i) {
        long double ref = expl((long double)ex[i]);
        double rel = (double)fabsl(((long double)ey[i] - ref) / ref);
        max_rel = rel > max_rel ? rel : max_rel;
    }
    std::printf("{\"arch\": \"%s\", \"impl\": \"%s\", \"dtype\": \"%s\", \"gelem_per_s\": %.3f, \"max_rel_err\": %.3e}\n",
                AXF_ARCH, name, type, double(tile) * reps / best / 1e9, max_rel);
}

int main() {
    measure<float>("axf::vexp", "float32", run_ours<float>, -40.0f, 0.0f);
    measure<float>("libmvec expf", "float32", [](const float* a, float* b, int n) { run_libmvec(a, b, n); },
                   -40.0f, 0.0f);
    measure<float>("scalar libm expf", "float32", run_scalar<float>, -40.0f, 0.0f);
    measure<double>("axf::vexp", "float64", run_ours<double>, -40.0, 0.0);
    measure<double>("libmvec exp", "float64", [](const double* a, double* b, int n) { run_libmvec(a, b, n); },
                    -40.0, 0.0);
    measure<double>("scalar libm exp", "float64", run_scalar<double>, -40.0, 0.0);
    return 0;
}
