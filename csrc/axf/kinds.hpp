// The kernel kinds: the C++ half of the one kernel registry.
//
// alignxpert_fast/kernels/_spec.py states the same table for Python; the extension
// exports kind_names as _native.KIND_CODES and tests/test_layout.py checks that both agree.
#pragma once

#include <stdexcept>
#include <string>

namespace axf {

enum class Kind : int { linear = 0, rbf = 1, poly = 2, cosine = 3, sqeuclidean = 4, euclidean = 5 };

// kind_names[code] is the kind's name in the Python registry.
constexpr int n_kinds = 6;
constexpr const char* kind_names[n_kinds] = {"linear", "rbf", "poly", "cosine", "sqeuclidean", "euclidean"};

// The largest polynomial degree accepted (the C int range; powers are taken by squaring,
// O(log degree) multiplications).  alignxpert_fast/kernels/_spec.py: MAX_DEGREE.
constexpr int max_degree = 2147483647;

// b ** e for e >= 1 by repeated squaring.
template <typename T>
inline T ipow(T b, int e) {
    T r = T(1);
    unsigned u = unsigned(e);
    while (true) {
        if (u & 1u) r *= b;
        u >>= 1;
        if (!u) break;
        b *= b;
    }
    return r;
}

struct KernelParams {
    double gamma = 1.0;
    double coef0 = 1.0;
    int degree = 3;
};

inline Kind kind_from_int(int k) {
    if (k < 0 || k >= n_kinds) throw std::invalid_argument("kernel code must be in 0..5, got " + std::to_string(k));
    return static_cast<Kind>(k);
}

}  // namespace axf
