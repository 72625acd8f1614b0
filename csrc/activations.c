/* activations.c - elementwise tanh / sigmoid kernels (see activations.h for the contract).
 *
 * Dimension legend: N = number of elements (flat contiguous buffers).
 *
 * exp is here too: it is the MG_EXP the recurrent cells use, exposed so it can be tested.
 *
 * Structure:
 *   - DEFINE_ACT_LOOPS(T, SUF, TAG, ATTR) writes the four inner loops over [lo, hi) once per
 *     dtype; instantiated twice per dtype: generic (SSE2 baseline) and an AVX2/FMA clone via
 *     __attribute__((target)). The loops are plain `for` loops calling the inline, branch-free
 *     MG_TANH / MG_SIGMOID, which GCC vectorises at -O3 (check: -fopt-info-vec, or ymm
 *     registers in `objdump -d` of the _avx2 functions).
 *   - run_chunks() splits [0, N) into fixed contiguous chunks and runs a loop on each, with
 *     OpenMP above ACT_PAR_THRESHOLD elements. Elementwise work, so the thread count cannot
 *     change any result.
 *   - DEFINE_ACT_API(T, SUF) writes the public entry points, which pick the AVX2 clone when
 *     mg_cpu_has_avx2_fma() says so.
 */
#include "activations.h"

#include <math.h>

#include "mathfun.h"
#include "runtime.h"

#define ACT_PAR_THRESHOLD 32768.0 /* below this many elements one thread is faster */
#define ACT_CHUNK 8192            /* elements per scheduling unit */

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define ACT_HAVE_AVX2_CLONE 1
#define ACT_AVX2 __attribute__((target("avx2,fma")))
#else
#define ACT_HAVE_AVX2_CLONE 0
#endif

/* One inner loop: out[lo:hi] from a[lo:hi] (and b[lo:hi] for backward). */
typedef void (*act_loop)(void *out, const void *a, const void *b, int64_t lo, int64_t hi);

/* Inner loops, f in {tanh, sigmoid, exp}. forward: y = f(x) (b unused);
 * backward: dx += dy * f'(x), f' written in terms of y, with a = dy, b = y. */
#define DEFINE_ACT_LOOPS(T, SUF, TAG, ATTR)                                                   \
    ATTR static void tanh_fwd_##SUF##TAG(void *out, const void *a, const void *b,             \
                                         int64_t lo, int64_t hi) {                            \
        T *y = (T *)out;                                                                      \
        const T *x = (const T *)a;                                                            \
        for (int64_t i = lo; i < hi; i++) y[i] = MG_TANH(x[i]);                               \
    }                                                                                         \
    ATTR static void tanh_bwd_##SUF##TAG(void *out, const void *a, const void *b,             \
                                         int64_t lo, int64_t hi) {                            \
        T *dx = (T *)out;                                                                     \
        const T *dy = (const T *)a, *y = (const T *)b;                                        \
        for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * ((T)1 - y[i] * y[i]);              \
    }                                                                                         \
    ATTR static void sigmoid_fwd_##SUF##TAG(void *out, const void *a, const void *b,          \
                                            int64_t lo, int64_t hi) {                         \
        T *y = (T *)out;                                                                      \
        const T *x = (const T *)a;                                                            \
        for (int64_t i = lo; i < hi; i++) y[i] = MG_SIGMOID(x[i]);                            \
    }                                                                                         \
    ATTR static void sigmoid_bwd_##SUF##TAG(void *out, const void *a, const void *b,          \
                                            int64_t lo, int64_t hi) {                         \
        T *dx = (T *)out;                                                                     \
        const T *dy = (const T *)a, *y = (const T *)b;                                        \
        for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * (y[i] * ((T)1 - y[i]));            \
    }                                                                                         \
    ATTR static void exp_fwd_##SUF##TAG(void *out, const void *a, const void *b,              \
                                        int64_t lo, int64_t hi) {                             \
        T *y = (T *)out;                                                                      \
        const T *x = (const T *)a;                                                            \
        for (int64_t i = lo; i < hi; i++) y[i] = MG_EXP(x[i]);                                \
    }                                                                                         \
    ATTR static void exp_bwd_##SUF##TAG(void *out, const void *a, const void *b,              \
                                        int64_t lo, int64_t hi) {                             \
        T *dx = (T *)out;                                                                     \
        const T *dy = (const T *)a, *y = (const T *)b;                                        \
        for (int64_t i = lo; i < hi; i++) dx[i] += dy[i] * y[i];                              \
    }

DEFINE_ACT_LOOPS(float, f32, _gen, )
DEFINE_ACT_LOOPS(double, f64, _gen, )
#if ACT_HAVE_AVX2_CLONE
DEFINE_ACT_LOOPS(float, f32, _avx2, ACT_AVX2)
DEFINE_ACT_LOOPS(double, f64, _avx2, ACT_AVX2)
#define ACT_PICK(name) (mg_cpu_has_avx2_fma() ? name##_avx2 : name##_gen)
#else
#define ACT_PICK(name) (name##_gen)
#endif

/* Run `loop` over [0, n) in ACT_CHUNK pieces; threads only when n is large. */
static void run_chunks(act_loop loop, void *out, const void *a, const void *b, int64_t n) {
    if (n <= 0) return;
    int nt = mg_threads_for((double)n, ACT_PAR_THRESHOLD);
    if (nt <= 1) {
        loop(out, a, b, 0, n);
        return;
    }
    int64_t nchunks = (n + ACT_CHUNK - 1) / ACT_CHUNK;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t lo = c * ACT_CHUNK, hi = lo + ACT_CHUNK < n ? lo + ACT_CHUNK : n;
        loop(out, a, b, lo, hi);
    }
}

/* Naive references: libm in double, then rounded to T (sigmoid: mg_sigmoid_libm of mathfun.h). */

#define DEFINE_ACT_API(T, SUF)                                                                \
    /* y[N] = tanh(x[N]) */                                                                   \
    void mg_tanh_forward_##SUF(T *y, const T *x, int64_t n) {                                 \
        run_chunks(ACT_PICK(tanh_fwd_##SUF), y, x, NULL, n);                                  \
    }                                                                                         \
    /* dx[N] += dy[N] * (1 - y[N]^2) */                                                       \
    void mg_tanh_backward_##SUF(T *dx, const T *dy, const T *y, int64_t n) {                  \
        run_chunks(ACT_PICK(tanh_bwd_##SUF), dx, dy, y, n);                                   \
    }                                                                                         \
    /* y[N] = 1 / (1 + exp(-x[N])) */                                                         \
    void mg_sigmoid_forward_##SUF(T *y, const T *x, int64_t n) {                              \
        run_chunks(ACT_PICK(sigmoid_fwd_##SUF), y, x, NULL, n);                               \
    }                                                                                         \
    /* dx[N] += dy[N] * y[N] * (1 - y[N]) */                                                  \
    void mg_sigmoid_backward_##SUF(T *dx, const T *dy, const T *y, int64_t n) {               \
        run_chunks(ACT_PICK(sigmoid_bwd_##SUF), dx, dy, y, n);                                \
    }                                                                                         \
    /* y[N] = exp(x[N]) */                                                                    \
    void mg_exp_forward_##SUF(T *y, const T *x, int64_t n) {                                  \
        run_chunks(ACT_PICK(exp_fwd_##SUF), y, x, NULL, n);                                   \
    }                                                                                         \
    /* dx[N] += dy[N] * y[N] */                                                               \
    void mg_exp_backward_##SUF(T *dx, const T *dy, const T *y, int64_t n) {                   \
        run_chunks(ACT_PICK(exp_bwd_##SUF), dx, dy, y, n);                                    \
    }                                                                                         \
    void mg_tanh_ref_##SUF(T *y, const T *x, int64_t n) {                                     \
        for (int64_t i = 0; i < n; i++) y[i] = (T)tanh((double)x[i]);                         \
    }                                                                                         \
    void mg_sigmoid_ref_##SUF(T *y, const T *x, int64_t n) {                                  \
        for (int64_t i = 0; i < n; i++) y[i] = (T)mg_sigmoid_libm((double)x[i]);               \
    }                                                                                         \
    void mg_exp_ref_##SUF(T *y, const T *x, int64_t n) {                                      \
        for (int64_t i = 0; i < n; i++) y[i] = (T)exp((double)x[i]);                          \
    }

DEFINE_ACT_API(float, f32)
DEFINE_ACT_API(double, f64)
