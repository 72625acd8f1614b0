/* mathfun.h - scalar nonlinearities shared by the activation and recurrent-cell kernels.
 *
 * Inline so the compiler can fuse them into the surrounding loops. Type-generic access through
 * C11 _Generic: MG_TANH(x), MG_SIGMOID(x), MG_EXP(x) pick the float or double version.
 *
 * Accuracy contract: within a few ulp of the correctly rounded value over the whole range
 * (measured by tests/test_activations.py against a long-double reference), no overflow for
 * large |x| (sigmoid(-1000) == 0, sigmoid(1000) == 1, tanh(+-1000) == +-1), NaN in -> NaN out,
 * tanh(-0.0) == -0.0.
 *
 * Why not libm: a call to expf/tanh inside a loop stops GCC from vectorising it. Everything
 * below is straight-line arithmetic, bit casts and bit-mask selects (MG_SELF / MG_SELD: both
 * sides are always computed), which GCC vectorises at -O3. No branch depends on the data.
 *
 * exp(x), Cody-Waite style:
 *   1. clamp x to [lo, hi], just outside the range where exp is finite and non-zero, so the
 *      integer below stays small (the clamp keeps NaN: every comparison with NaN is false);
 *   2. n = round(x / ln2) with the "magic number" trick: adding 1.5 * 2^(mantissa bits) pushes
 *      the fraction out of the mantissa, so the float sum holds n in its low bits (no
 *      float->int conversion, which x86 cannot vectorise for 64-bit integers before AVX-512);
 *   3. r = x - n*ln2 in two steps (ln2 = C1 + C2, C1 with few bits so n*C1 is exact),
 *      |r| <= ln2/2;
 *   4. exp(r) = 1 + r + r^2 * P(r), P a near-minimax (Chebyshev) polynomial;
 *   5. multiply by 2^n built directly in the exponent bits. 2^n is applied as 2^n1 * 2^n2 with
 *      n1 ~ n/2, because 2^n itself is not representable at the ends of the range (n = 128 or
 *      n = -150 in float); the second product rounds correctly into overflow (inf) or into the
 *      subnormals, so the last few binades are right too.
 * tanh(x) = sign(x) * t(|x|) (odd symmetry exact, sign of -0.0 kept):
 *   |x| <  0.625: t = a + a*z*R(z), z = a^2 (Cephes: polynomial R for float, rational for
 *                 double) -- no cancellation near 0, tanh(tiny) == tiny;
 *   |x| >= 0.625: t = (1 - e) / (1 + e), e = exp(-2|x|) <= 0.29, so 1 - e loses nothing and e
 *                 underflows to 0 for large |x|, giving exactly 1.
 * sigmoid(x) with e = exp(-|x|) <= 1 (never overflows):
 *   x >= 0: 1 / (1 + e);   x < 0: e / (1 + e)  (tiny results keep full relative accuracy).
 */
#ifndef MG_MATHFUN_H
#define MG_MATHFUN_H
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Bit casts; memcpy of a register-sized value compiles to nothing and vectorises. */
static inline uint32_t mg_bits_f32(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
static inline float mg_f32_of_bits(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
static inline uint64_t mg_bits_f64(double f) { uint64_t u; memcpy(&u, &f, sizeof u); return u; }
static inline double mg_f64_of_bits(uint64_t u) { double f; memcpy(&f, &u, sizeof f); return f; }

/* Branch-free select c ? a : b through a bit mask m (all ones or all zeros). A plain
 * `c ? a : b` is not enough: under the default -ftrapping-math GCC sinks the computation of a
 * and b into the two arms of a branch, and then refuses to if-convert (and so to vectorise) arms
 * that hold FP operations. The mask must be formed as -(intN_t)(c) with N the width of the
 * float (GCC 12 does not vectorise the double version when it goes through a 32-bit int). */
static inline float mg_self_m(int32_t m, float a, float b) {
    return mg_f32_of_bits((mg_bits_f32(a) & (uint32_t)m) | (mg_bits_f32(b) & ~(uint32_t)m));
}
static inline double mg_sel_m(int64_t m, double a, double b) {
    return mg_f64_of_bits((mg_bits_f64(a) & (uint64_t)m) | (mg_bits_f64(b) & ~(uint64_t)m));
}
#define MG_SELF(c, a, b) mg_self_m(-(int32_t)(c), (a), (b))
#define MG_SELD(c, a, b) mg_sel_m(-(int64_t)(c), (a), (b))

/* ---------------------------------------------------------------------------- float32 */
static inline float mg_expf(float x) {
    const float magic = 12582912.0f;              /* 1.5 * 2^23 */
    x = MG_SELF(x < -104.0f, -104.0f, x);         /* exp(-104) < FLT_TRUE_MIN / 2: rounds to 0 */
    x = MG_SELF(x > 89.0f, 89.0f, x);             /* exp(89) > FLT_MAX: overflows to inf */
    float t = x * 1.44269504088896341f + magic;   /* low mantissa bits of t = round(x / ln2) */
    float n = t - magic;
    int32_t ni = (int32_t)(mg_bits_f32(t) - mg_bits_f32(magic));
    float r = x - n * 0.693359375f;               /* C1: 9 significant bits, n*C1 exact */
    r = r - n * -2.12194440e-4f;                  /* C2 = ln2 - C1 */
    /* exp(r) on |r| <= ln2/2 (Cephes expf coefficients) */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t n1 = ni >> 1, n2 = ni - n1;           /* n in [-150, 128] -> n1, n2 in [-75, 64] */
    float s1 = mg_f32_of_bits((uint32_t)(n1 + 127) << 23);
    float s2 = mg_f32_of_bits((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

static inline float mg_tanhf(float x) {
    float a = fabsf(x), z = a * a;
    /* small |x|: Cephes tanhf odd polynomial */
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = a + a * (z * p);
    /* large |x| */
    float e = mg_expf(-2.0f * a);
    float large = (1.0f - e) / (1.0f + e);
    /* NaN fails a < 0.625 and takes `large`, which is NaN */
    return copysignf(MG_SELF(a < 0.625f, small, large), x);
}

static inline float mg_sigmoidf(float x) {
    float e = mg_expf(-fabsf(x));
    return MG_SELF(x >= 0.0f, 1.0f, e) / (1.0f + e);   /* NaN takes e, which is NaN */
}

/* ---------------------------------------------------------------------------- float64 */
static inline double mg_exp(double x) {
    const double magic = 6755399441055744.0;      /* 1.5 * 2^52 */
    x = MG_SELD(x < -746.0, -746.0, x);           /* exp(-746) < DBL_TRUE_MIN / 2: rounds to 0 */
    x = MG_SELD(x > 710.0, 710.0, x);             /* exp(710) > DBL_MAX: overflows to inf */
    double t = x * 1.4426950408889634074 + magic;
    double n = t - magic;
    int64_t ni = (int64_t)(mg_bits_f64(t) - mg_bits_f64(magic));
    /* n1 = round(n / 2) by the same trick: 64-bit arithmetic shifts have no AVX2 instruction */
    int64_t n1 = (int64_t)(mg_bits_f64(n * 0.5 + magic) - mg_bits_f64(magic));
    int64_t n2 = ni - n1;                         /* n in [-1076, 1024] -> n1, n2 in [-538, 512] */
    double r = x - n * 6.93145751953125e-1;       /* C1: 16 significant bits, n*C1 exact */
    r = r - n * 1.42860682030941723212e-6;        /* C2 = ln2 - C1 */
    /* (exp(r) - 1 - r) / r^2 on |r| <= 1.02 * ln2/2: Chebyshev fit of degree 10, max error
     * 1.7e-18 (fitted with mpmath), so the polynomial is far below one ulp. */
    double p = 2.0916212837493853e-09;
    p = p * r + 2.5107353767261877e-08;
    p = p * r + 2.7557269903215795e-07;
    p = p * r + 2.755725016302918e-06;
    p = p * r + 2.4801587328555858e-05;
    p = p * r + 1.9841269879033045e-04;
    p = p * r + 1.388888888888287e-03;
    p = p * r + 8.333333333324906e-03;
    p = p * r + 4.1666666666666667e-02;
    p = p * r + 1.6666666666666667e-01;
    p = p * r + 0.5;
    p = p * (r * r) + r + 1.0;
    double s1 = mg_f64_of_bits((uint64_t)(n1 + 1023) << 52);
    double s2 = mg_f64_of_bits((uint64_t)(n2 + 1023) << 52);
    return p * s1 * s2;
}

static inline double mg_tanh(double x) {
    double a = fabs(x), z = a * a;
    double e = mg_exp(-2.0 * a);
    /* One division serves both branches: t = a + a*(P/Q) (Cephes tanh rational) or (1-e)/(1+e). */
    double p = z * ((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                    - 1.61468768441708447952e3);
    double r = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
               + 4.84406305325125486048e3;
    double q = MG_SELD(a < 0.625, p, 1.0 - e) / MG_SELD(a < 0.625, r, 1.0 + e);
    return copysign(MG_SELD(a < 0.625, a + a * q, q), x);
}

static inline double mg_sigmoid(double x) {
    double e = mg_exp(-fabs(x));
    return MG_SELD(x >= 0.0, 1.0, e) / (1.0 + e);
}

/* The naive references' logistic function (csrc/activations.c, csrc/rnn_ref.c): libm in double,
 * in its stable two-sided form (exp never overflows), to be rounded to the kernel's type. */
static inline double mg_sigmoid_libm(double x) {
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

#define MG_EXP(x) _Generic((x), float: mg_expf, double: mg_exp)(x)
#define MG_TANH(x) _Generic((x), float: mg_tanhf, double: mg_tanh)(x)
#define MG_SIGMOID(x) _Generic((x), float: mg_sigmoidf, double: mg_sigmoid)(x)

#endif
