// Branch-free exp that GCC/Clang auto-vectorize inside epilogue loops.
//
// libm's exp is a scalar call and blocks vectorization without -ffast-math, which we
// refuse globally (it assumes no NaN/inf).  These follow the classic Cephes
// reductions: n = round(x / ln 2) by the magic-number trick, a two-part ln 2, a
// polynomial (float) or Pade form (double), and 2^n built from exponent bits.
// Max relative error ~1.5e-7 (float) and ~2.5e-16 (double) over the normal range;
// results below the smallest normal flush to 0, above the largest give inf; NaN in
// gives NaN out.
#pragma once

#include <cstdint>
#include <cstring>

namespace axf {

inline float bits_to_float(std::int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
inline std::int32_t float_to_bits(float f) { std::int32_t i; std::memcpy(&i, &f, 4); return i; }
inline double bits_to_double(std::int64_t i) { double f; std::memcpy(&f, &i, 8); return f; }
inline std::int64_t double_to_bits(double f) { std::int64_t i; std::memcpy(&i, &f, 8); return i; }

inline float vexp(float x) {
    const float lo = -87.33654475f, hi = 88.0f;
    float xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    const float magic = 12582912.0f;  // 1.5 * 2^23
    float t = xc * 1.44269504088896341f + magic;
    std::int32_t n = float_to_bits(t) - float_to_bits(magic);
    float fn = t - magic;
    float r = xc - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    float scale = bits_to_float((n + 127) << 23);
    float res = y * scale;
    res = x < lo ? 0.0f : res;
    res = x > hi ? __builtin_inff() : res;
    return x != x ? x : res;
}

inline double vexp(double x) {
    const double lo = -708.39641853226408, hi = 709.0;
    double xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    double t = xc * 1.4426950408889634073599 + magic;
    std::int64_t n = double_to_bits(t) - double_to_bits(magic);
    double fn = t - magic;
    double r = xc - fn * 6.93145751953125e-1;
    r = r - fn * 1.42860682030941723212e-6;
    double rr = r * r;
    double px = 1.26177193074810590878e-4;
    px = px * rr + 3.02994407707441961300e-2;
    px = px * rr + 9.99999999999999999910e-1;
    px = px * r;
    double qx = 3.00198505138664455042e-6;
    qx = qx * rr + 2.52448340349684104192e-3;
    qx = qx * rr + 2.27265548208155028766e-1;
    qx = qx * rr + 2.00000000000000000009e0;
    double y = 1.0 + 2.0 * (px / (qx - px));
    double scale = bits_to_double((n + 1023) << 52);
    double res = y * scale;
    res = x < lo ? 0.0 : res;
    res = x > hi ? __builtin_inf() : res;
    return x != x ? x : res;
}

}  // namespace axf
