/* crf.c - the fast linear-chain CRF kernels (see crf.h for the legend, the equations, the
 * exp-space fast path and the threading contract). The per-dtype kernels are in crf_dtype.inc,
 * compiled twice; the helpers here work on double vectors of K elements. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "crf.h"
#include "mathfun.h"
#include "runtime.h"

/* Below this many K*K multiply-adds in a call one thread does everything. */
#define CRF_PAR_WORK 2.0e4
/* A fast-path sum below this, or a pair-marginal scale above exp(CRF_MAX_LOG_SCALE), takes the
 * exact path (see crf.h). */
#define CRF_TINY 1e-250
#define CRF_MAX_LOG_SCALE 600.0
/* One chunk's workspace slot: d trans partial (K*K), d start and d end partials (K each),
 * scratch (4K). The workspace (crf.h) is
 * [W, or A^T for Viterbi (K*K) | A (K*K) | W^T (K*K, backward) | s (K) | e (K) | slots]. */
#define CRF_SLOT(K) ((K) * (K) + 6 * (K))

#ifdef _OPENMP
#define CRF_OMP_FOR _Pragma("omp parallel for num_threads(nt) schedule(static) if(nt > 1)")
#else
#define CRF_OMP_FOR
#endif

static double vmax(const double *a, int64_t K) {
    double m = a[0];
    for (int64_t i = 1; i < K; i++) m = a[i] > m ? a[i] : m;
    return m;
}

/* u[i] = exp(a[i] - max a); returns max a. (mg_exp: a few ulp, inline and vectorisable, unlike
 * a libm call in the loop; the references use libm.) u may be a. */
static double exp_shifted(double *u, const double *a, int64_t K) {
    const double m = vmax(a, K);
    for (int64_t i = 0; i < K; i++) u[i] = mg_exp(a[i] - m);
    return m;
}

/* logsumexp_i(a[i] + A[i*K + j]) for one column j, exactly (max-shifted). */
static double lse_col(const double *a, const double *A, int64_t j, int64_t K) {
    double m = a[0] + A[j];
    for (int64_t i = 1; i < K; i++) {
        const double v = a[i] + A[i * K + j];
        m = v > m ? v : m;
    }
    double s = 0.0;
    for (int64_t i = 0; i < K; i++) s += exp(a[i] + A[i * K + j] - m);
    return m + log(s);
}

/* logsumexp_j(A[i*K + j] + c[j]) for one row i, exactly (max-shifted). */
static double lse_row(const double *A, const double *c, int64_t i, int64_t K) {
    const double *r = A + i * K;
    double m = r[0] + c[0];
    for (int64_t j = 1; j < K; j++) m = r[j] + c[j] > m ? r[j] + c[j] : m;
    double s = 0.0;
    for (int64_t j = 0; j < K; j++) s += exp(r[j] + c[j] - m);
    return m + log(s);
}

/* out[j] = sum_i u[i] * W[i*K + j]: row-wise multiply-adds (contiguous, vectorisable). */
static void vec_mat(double *restrict out, const double *restrict u, const double *restrict W,
                    int64_t K) {
    memset(out, 0, (size_t)K * sizeof(double));
    for (int64_t i = 0; i < K; i++) {
        const double ui = u[i];
        if (ui == 0.0) continue;
        const double *restrict w = W + i * K;
        for (int64_t j = 0; j < K; j++) out[j] += ui * w[j];
    }
}

/* Sum the per-chunk partials (see CRF_SLOT) in chunk order into the outputs: the only
 * cross-sequence reduction, done by one thread. */
static void reduce_chunks(double *dstart, double *dend, double *dtrans, const double *slots,
                          int64_t nchunks, int64_t K) {
    const int64_t KK = K * K, slot = CRF_SLOT(K);
    memset(dtrans, 0, (size_t)KK * sizeof(double));
    memset(dstart, 0, (size_t)K * sizeof(double));
    memset(dend, 0, (size_t)K * sizeof(double));
    for (int64_t c = 0; c < nchunks; c++) {
        const double *s = slots + c * slot;
        for (int64_t i = 0; i < KK; i++) dtrans[i] += s[i];
        for (int64_t i = 0; i < K; i++) dstart[i] += s[KK + i];
        for (int64_t i = 0; i < K; i++) dend[i] += s[KK + K + i];
    }
}

#define scalar float
#define SUF f32
#include "crf_dtype.inc"
#undef scalar
#undef SUF

#define scalar double
#define SUF f64
#include "crf_dtype.inc"
#undef scalar
#undef SUF
