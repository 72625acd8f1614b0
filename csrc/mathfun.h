/* mathfun.h - scalar nonlinearities shared by the activation and recurrent-cell kernels.
 *
 * Inline so the compiler can fuse them into the surrounding loops. Type-generic access through
 * C11 _Generic: MG_TANH(x), MG_SIGMOID(x), MG_EXP(x) pick the float or double version.
 * Accuracy contract: within a few ulp of the correctly rounded value over the whole range,
 * no overflow for large |x| (sigmoid(-1000) == 0, tanh(1000) == 1).
 */
#ifndef MG_MATHFUN_H
#define MG_MATHFUN_H
#include <math.h>

static inline float mg_expf(float x) { return expf(x); }
static inline double mg_exp(double x) { return exp(x); }
static inline float mg_tanhf(float x) { return tanhf(x); }
static inline double mg_tanh(double x) { return tanh(x); }
/* sigmoid through exp(-|x|) so the exponential never overflows */
static inline float mg_sigmoidf(float x) {
    float e = expf(-fabsf(x));
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
static inline double mg_sigmoid(double x) {
    double e = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

#define MG_EXP(x) _Generic((x), float: mg_expf, double: mg_exp)(x)
#define MG_TANH(x) _Generic((x), float: mg_tanhf, double: mg_tanh)(x)
#define MG_SIGMOID(x) _Generic((x), float: mg_sigmoidf, double: mg_sigmoid)(x)

#endif
