/* crf_ref.c - the naive reference CRF kernels (see crf.h): one sequence after another, every
 * logsumexp computed exactly in log space (max-shifted, K*K exps a step), d trans accumulated
 * directly. Slow and obviously right; tests/test_crf.py checks the fast kernels against it and
 * both against brute-force enumeration of all K^T paths. `work` and `chunk` are unused. */
#include <math.h>
#include <stdint.h>
#include "crf.h"

/* logsumexp of n values x[k*stride]. */
static double lse(const double *x, int64_t n, int64_t stride) {
    double m = x[0];
    for (int64_t k = 1; k < n; k++) m = x[k * stride] > m ? x[k * stride] : m;
    double s = 0.0;
    for (int64_t k = 0; k < n; k++) s += exp(x[k * stride] - m);
    return m + log(s);
}

#define DEFINE_CRF_REF(T, SUF)                                                                   \
    /* the log-space forward algorithm; returns log Z, fills a (L, K); tmp: K scratch */         \
    static double alpha_ref_##SUF(double *a, double *tmp, const T *eb, const T *s, const T *e,   \
                                  const T *A, int64_t L, int64_t K, int64_t st) {                \
        for (int64_t j = 0; j < K; j++) a[j] = (double)s[j] + (double)eb[j];                     \
        for (int64_t t = 1; t < L; t++)                                                          \
            for (int64_t j = 0; j < K; j++) {                                                    \
                for (int64_t i = 0; i < K; i++)                                                  \
                    tmp[i] = a[(t - 1) * K + i] + (double)A[i * K + j];                          \
                a[t * K + j] = lse(tmp, K, 1) + (double)eb[t * st + j];                          \
            }                                                                                    \
        for (int64_t j = 0; j < K; j++) tmp[j] = a[(L - 1) * K + j] + (double)e[j];              \
        return lse(tmp, K, 1);                                                                   \
    }                                                                                            \
    void mg_crf_forward_ref_##SUF(double *nll, double *logz, double *alpha, double *work,        \
                                  const T *em, const int64_t *tags, const int64_t *lengths,      \
                                  const T *start, const T *end, const T *trans, int64_t B,       \
                                  int64_t T_, int64_t K, int64_t sb, int64_t st, int64_t chunk) {\
        for (int64_t b = 0; b < B; b++) {                                                        \
            const int64_t L = lengths[b], *y = tags + b * T_;                                    \
            const T *eb = em + b * sb;                                                           \
            logz[b] = alpha_ref_##SUF(alpha + b * T_ * K, work, eb, start, end, trans, L, K, st);\
            double sc = (double)start[y[0]] + (double)eb[y[0]] + (double)end[y[L - 1]];          \
            for (int64_t t = 1; t < L; t++)                                                      \
                sc += (double)trans[y[t - 1] * K + y[t]] + (double)eb[t * st + y[t]];            \
            nll[b] = logz[b] - sc;                                                               \
        }                                                                                        \
    }                                                                                            \
    /* work: beta (T, K) then K scratch */                                                       \
    void mg_crf_backward_ref_##SUF(T *dem, double *dstart, double *dend, double *dtrans,         \
                                   double *work, const double *g, const double *alpha,           \
                                   const double *logz, const T *em, const int64_t *tags,         \
                                   const int64_t *lengths, const T *start, const T *end,         \
                                   const T *trans, int64_t B, int64_t T_, int64_t K, int64_t sb, \
                                   int64_t st, int64_t chunk) {                                  \
        double *beta = work, *tmp = work + T_ * K;                                               \
        for (int64_t k = 0; k < K * K; k++) dtrans[k] = 0;                                       \
        for (int64_t k = 0; k < K; k++) dstart[k] = dend[k] = 0;                                 \
        for (int64_t b = 0; b < B; b++) {                                                        \
            const int64_t L = lengths[b], *y = tags + b * T_;                                    \
            const T *eb = em + b * sb;                                                           \
            const double *a = alpha + b * T_ * K, lz = logz[b], gb = g[b];                       \
            T *db = dem + b * sb;                                                                \
            for (int64_t i = 0; i < K; i++) beta[(L - 1) * K + i] = (double)end[i];              \
            for (int64_t t = L - 1; t > 0; t--)                                                  \
                for (int64_t i = 0; i < K; i++) {                                                \
                    for (int64_t j = 0; j < K; j++)                                              \
                        tmp[j] = (double)trans[i * K + j] + (double)eb[t * st + j]               \
                                 + beta[t * K + j];                                              \
                    beta[(t - 1) * K + i] = lse(tmp, K, 1);                                      \
                }                                                                                \
            for (int64_t t = 0; t < T_; t++)                                                     \
                for (int64_t j = 0; j < K; j++) {                                                \
                    if (t >= L) { db[t * st + j] = 0; continue; }                                \
                    const double p = exp(a[t * K + j] + beta[t * K + j] - lz);                   \
                    db[t * st + j] = (T)(gb * (p - (y[t] == j)));                                \
                    if (t == 0) dstart[j] += gb * (p - (y[0] == j));                             \
                    if (t == L - 1) dend[j] += gb * (p - (y[L - 1] == j));                       \
                }                                                                                \
            for (int64_t t = 1; t < L; t++)                                                      \
                for (int64_t i = 0; i < K; i++)                                                  \
                    for (int64_t j = 0; j < K; j++) {                                            \
                        const double xi = exp(a[(t - 1) * K + i] + (double)trans[i * K + j]      \
                                              + (double)eb[t * st + j] + beta[t * K + j] - lz);  \
                        dtrans[i * K + j] += gb * (xi - (y[t - 1] == i && y[t] == j));           \
                    }                                                                            \
        }                                                                                        \
    }                                                                                            \
    /* work: delta (T, K) */                                                                     \
    void mg_crf_viterbi_ref_##SUF(int64_t *best, double *score, int32_t *bp, double *work,       \
                                  const T *em, const int64_t *lengths, const T *start,           \
                                  const T *end, const T *trans, int64_t B, int64_t T_,           \
                                  int64_t K, int64_t sb, int64_t st, int64_t chunk) {            \
        double *d = work;                                                                        \
        for (int64_t b = 0; b < B; b++) {                                                        \
            const int64_t L = lengths[b];                                                        \
            const T *eb = em + b * sb;                                                           \
            int32_t *p = bp + b * T_ * K;                                                        \
            int64_t *y = best + b * T_;                                                          \
            for (int64_t j = 0; j < K; j++) d[j] = (double)start[j] + (double)eb[j];             \
            for (int64_t t = 1; t < L; t++)                                                      \
                for (int64_t j = 0; j < K; j++) {                                                \
                    int64_t arg = 0;                                                             \
                    for (int64_t i = 1; i < K; i++)                                              \
                        if (d[(t - 1) * K + i] + (double)trans[i * K + j]                        \
                            > d[(t - 1) * K + arg] + (double)trans[arg * K + j])                 \
                            arg = i;                                                             \
                    d[t * K + j] = d[(t - 1) * K + arg] + (double)trans[arg * K + j]             \
                                   + (double)eb[t * st + j];                                     \
                    p[t * K + j] = (int32_t)arg;                                                 \
                }                                                                                \
            int64_t arg = 0;                                                                     \
            for (int64_t j = 1; j < K; j++)                                                      \
                if (d[(L - 1) * K + j] + (double)end[j] > d[(L - 1) * K + arg] + (double)end[arg])\
                    arg = j;                                                                     \
            score[b] = d[(L - 1) * K + arg] + (double)end[arg];                                  \
            y[L - 1] = arg;                                                                      \
            for (int64_t t = L - 1; t > 0; t--) y[t - 1] = p[t * K + y[t]];                      \
            for (int64_t t = L; t < T_; t++) y[t] = -1;                                          \
        }                                                                                        \
    }

DEFINE_CRF_REF(float, f32)
DEFINE_CRF_REF(double, f64)
