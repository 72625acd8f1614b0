/* optim.c - fused optimizer updates (see optim.h for the formulas and the rounding contract). */
#include <math.h>
#include <stddef.h>
#include "optim.h"
#include "runtime.h"

/* Elements per chunk, and the size below which one thread does everything (waking a team costs
 * more than streaming a few hundred kilobytes). */
#define OPT_CHUNK 16384
#define OPT_PAR_THRESHOLD 65536.0

/* GCC contracts a*b + c into an FMA when the target has one (-march=native builds); the
 * contract above is one rounding per operation, so contraction is switched off here. */
#if defined(__GNUC__) && !defined(__clang__)
#define OPT_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define OPT_NO_CONTRACT
#endif

#ifdef _OPENMP
#define OPT_OMP_FOR _Pragma("omp parallel for num_threads(nt) schedule(static) if(nt > 1)")
#else
#define OPT_OMP_FOR
#endif

#define DEFINE_ADAM(T, SUF, SQRT)                                                             \
    /* elements [lo, hi) of w, m, v (, vmax) updated from g; scalars already rounded to T */  \
    OPT_NO_CONTRACT static void adam_range_##SUF(T *restrict w, T *restrict m, T *restrict v, \
                                                 T *restrict vmax, const T *restrict g, T c1, \
                                                 T b2, T c2, T step, T bc2s, T eps,           \
                                                 int64_t lo, int64_t hi) {                    \
        for (int64_t i = lo; i < hi; i++) {                                                   \
            const T gi = g[i];                                                                \
            const T mi = m[i] + (gi - m[i]) * c1;                                             \
            T vi = v[i] * b2 + (gi * gi) * c2;                                                \
            m[i] = mi;                                                                        \
            v[i] = vi;                                                                        \
            if (vmax) { /* vmax = np.maximum(vmax, v): a NaN on either side wins */            \
                const T vm = vmax[i];                                                         \
                vi = vmax[i] = (vm > vi || vm != vm) ? vm : vi;                               \
            }                                                                                 \
            const T denom = SQRT(vi) / bc2s + eps;                                            \
            w[i] = w[i] - (mi / denom) * step;                                                \
        }                                                                                     \
    }                                                                                         \
    void mg_adam_update_##SUF(T *w, T *m, T *v, T *vmax, const T *g, double c1, double beta2, \
                              double c2, double step_size, double bc2_sqrt, double eps,       \
                              int64_t n) {                                                    \
        if (n <= 0) return;                                                                   \
        const T c1t = (T)c1, b2t = (T)beta2, c2t = (T)c2, st = (T)step_size,                  \
                bt = (T)bc2_sqrt, et = (T)eps;                                                \
        const int nt = mg_threads_for((double)n, OPT_PAR_THRESHOLD);                          \
        const int64_t nchunks = (n + OPT_CHUNK - 1) / OPT_CHUNK;                              \
        (void)nt;                                                                             \
        OPT_OMP_FOR                                                                           \
        for (int64_t c = 0; c < nchunks; c++) {                                               \
            const int64_t lo = c * OPT_CHUNK, hi = lo + OPT_CHUNK < n ? lo + OPT_CHUNK : n;   \
            adam_range_##SUF(w, m, v, vmax, g, c1t, b2t, c2t, st, bt, et, lo, hi);            \
        }                                                                                     \
    }                                                                                         \
    /* K parameters (k = 0..K-1): parameter k is w[k], m[k], v[k], g[k] (, vmax[k]), n[k] */  \
    void mg_adam_update_many_##SUF(T *const *w, T *const *m, T *const *v, T *const *vmax,     \
                                   const T *const *g, const int64_t *n,                       \
                                   const double *step_size, const double *bc2_sqrt,           \
                                   double c1, double beta2, double c2, double eps,            \
                                   int64_t K) {                                               \
        for (int64_t k = 0; k < K; k++)                                                       \
            mg_adam_update_##SUF(w[k], m[k], v[k], vmax ? vmax[k] : NULL, g[k], c1, beta2,    \
                                 c2, step_size[k], bc2_sqrt[k], eps, n[k]);                   \
    }

DEFINE_ADAM(float, f32, sqrtf)
DEFINE_ADAM(double, f64, sqrt)
