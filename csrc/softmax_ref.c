/* softmax_ref.c - naive reference softmax, log_softmax and cross-entropy forward (see
 * softmax.h). Slow and obviously right: three plain passes a row in double with libm (max, sum
 * of exp, write), rounded to T at the end. The tests compare the fast kernels of softmax.c with
 * these and with NumPy.
 *
 * Dimension legend: N rows, V entries a row.
 */
#include <math.h>

#include "softmax.h"

/* Row max and log(sum exp(x - max)) of x[V] in double; max NaN for a NaN or all -inf row. */
#define DEFINE_ROW_LSE(T, SUF)                                                                \
    static double row_lse_##SUF(const T *x, int64_t v, double *m_out) {                       \
        double m = -INFINITY;                                                                 \
        int bad = 0;                                                                          \
        for (int64_t c = 0; c < v; c++) {                                                     \
            bad |= isnan(x[c]);                                                               \
            if (x[c] > m) m = x[c];                                                           \
        }                                                                                     \
        if (bad || m == -INFINITY) m = NAN;                                                   \
        double s = 0;                                                                         \
        for (int64_t c = 0; c < v; c++) s += exp((double)x[c] - m);                           \
        *m_out = m;                                                                           \
        return log(s);                                                                        \
    }

#define DEFINE_SM_REF(T, SUF)                                                                 \
    DEFINE_ROW_LSE(T, SUF)                                                                    \
    /* y[N, V] = softmax(x[N, V]) */                                                          \
    void mg_softmax_ref_##SUF(T *y, const T *x, int64_t n, int64_t v) {                       \
        for (int64_t r = 0; r < n; r++) {                                                     \
            double m, ls = row_lse_##SUF(x + r * v, v, &m);                                   \
            for (int64_t c = 0; c < v; c++) y[r * v + c] = (T)exp((double)x[r * v + c] - m - ls); \
        }                                                                                     \
    }                                                                                         \
    /* y[N, V] = log_softmax(x[N, V]) */                                                      \
    void mg_log_softmax_ref_##SUF(T *y, const T *x, int64_t n, int64_t v) {                   \
        for (int64_t r = 0; r < n; r++) {                                                     \
            double m, ls = row_lse_##SUF(x + r * v, v, &m);                                   \
            for (int64_t c = 0; c < v; c++) y[r * v + c] = (T)(((double)x[r * v + c] - m) - ls); \
        }                                                                                     \
    }                                                                                         \
    /* loss[N] (unreduced, weighted, smoothed; 0 where ignored), p[N, V] = softmax(x) */      \
    void mg_cross_entropy_ref_##SUF(T *loss, T *p, const T *x, const int64_t *target,         \
                                    const T *weight, int64_t ignore_index,                    \
                                    double label_smoothing, int64_t n, int64_t v) {           \
        for (int64_t r = 0; r < n; r++) {                                                     \
            const T *xr = x + r * v;                                                          \
            const int64_t t = target[r];                                                      \
            double m, ls = row_lse_##SUF(xr, v, &m), l = 0;                                   \
            if (t != ignore_index) {                                                          \
                for (int64_t c = 0; c < v; c++) {                                             \
                    const double lp = ((double)xr[c] - m) - ls, wc = weight ? weight[c] : 1;  \
                    l -= label_smoothing / (double)v * wc * lp;                               \
                    if (c == t) l -= (1.0 - label_smoothing) * wc * lp;                       \
                }                                                                             \
            }                                                                                 \
            loss[r] = (T)l;                                                                   \
            for (int64_t c = 0; c < v; c++) p[r * v + c] = (T)exp((double)xr[c] - m - ls);    \
        }                                                                                     \
    }

DEFINE_SM_REF(float, f32)
DEFINE_SM_REF(double, f64)
