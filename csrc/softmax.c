/* softmax.c - row-wise softmax, log_softmax and cross-entropy kernels (contracts in softmax.h).
 *
 * Dimension legend: N rows, V entries a row (classes: the vocabulary of a language model).
 *
 * Two passes a row, for any V:
 *   1. block by block (blocks of up to a few KiB, still in L1 on the second look): the block's
 *      max mb and its sum sb of exp(x - mb), the exponentials written to the output when the op
 *      needs them (softmax, cross-entropy); then the row max m = max mb and
 *      s = sum_b sb exp(mb - m). Each block is shifted by its own max, so nothing overflows at
 *      |x| = 1e4 and no online rescaling is needed inside the loop; one exp per entry (plus one
 *      per block).
 *   2. write: softmax scales block b by exp(mb - m) / s; log_softmax writes (x - m) - log s.
 * The exponential is the branch-free MG_EXP of mathfun.h, vectorised by GCC in the row loops of
 * softmax_rows.inc, which is compiled twice per dtype: generic C and an AVX2/FMA clone, picked
 * at run time (SM_PICK, as ACT_PICK in activations.c).
 *
 * Along a non-last axis (x[N, V, I], I > 1) softmax and log_softmax run the column kernels of
 * softmax_cols.inc on the array as it lies (no copy moving the axis last).
 *
 * Threads: OpenMP over rows (the outermost independent loop; column chunks for I > 1) above
 * SM_PAR_THRESHOLD entries; a row is never split, so every result is bitwise the same for any
 * thread count.
 */
#include "softmax.h"

#include <math.h>
#include <stddef.h>

#include "mathfun.h"
#include "runtime.h"

#define SM_PAR_THRESHOLD 32768.0 /* below this many entries one thread is faster */
#define SM_BLOCK 1024            /* entries a block (4 KiB float, 8 KiB double) ... */
#define SM_MAXBLK 64             /* ... unless the row has more than 64 blocks of that size */
#define SM_COLS 64               /* columns a unit of the non-last-axis kernels (softmax_cols.inc) */
#define SM_SUMROWS 64            /* entries of V a partial sum of those kernels adds in T */

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define SM_HAVE_AVX2_CLONE 1
#else
#define SM_HAVE_AVX2_CLONE 0
#endif

/* Every argument a row loop may need (unused ones NULL / 0). Roles per op:
 *   forward:  out = y or loss[N], out2 = p, x = input, w = class weights
 *   backward: out = dx, x = dy (softmax, log_softmax) or p (cross-entropy), y = forward output
 *             (cross-entropy: the row coefficients a[N]), cb = coefficients b[N] */
typedef struct {
    void *out, *out2;
    const void *x, *y, *w, *cb;
    const int64_t *target;
    int64_t ignore_index, v;
    int64_t inner;      /* softmax / log_softmax: I, the columns after the softmax axis (1: rows) */
    int overwrite;      /* backward: out is written (=), not added to (+=) */
    double eps, wtotal; /* label smoothing; W = sum of the class weights (V without weights) */
} sm_args;

typedef void (*sm_loop)(const sm_args *a, int64_t r0, int64_t r1);

/* Block length for a row of v entries: SM_BLOCK, or longer (a multiple of 16) so that a row
 * never has more than SM_MAXBLK blocks. A function of v only. */
static inline int64_t sm_block(int64_t v) {
    int64_t b = (v + SM_MAXBLK - 1) / SM_MAXBLK;
    b = (b + 15) & ~(int64_t)15;
    return b < SM_BLOCK ? SM_BLOCK : b;
}

#define T float
#define IT int32_t
#define L 16
#define SEL MG_SELF
#define SUF f32
#include "softmax_isa.inc"
#undef T
#undef IT
#undef L
#undef SEL
#undef SUF

#define T double
#define IT int64_t
#define L 8
#define SEL MG_SELD
#define SUF f64
#include "softmax_isa.inc"
#undef T
#undef IT
#undef L
#undef SEL
#undef SUF

#if SM_HAVE_AVX2_CLONE
#define SM_PICK(name) (mg_cpu_has_avx2_fma() ? name##_avx2 : name##_gen)
#else
#define SM_PICK(name) (name##_gen)
#endif

/* Run `loop` over n units of work (rows, or column chunks of the non-last-axis kernels) of
 * `per_unit` entries each; threads (one contiguous range of units each) only when the total is
 * large. Each unit is computed the same way whatever range it falls in. */
static void run_units(sm_loop loop, const sm_args *a, int64_t n, int64_t per_unit) {
    if (n <= 0 || per_unit <= 0) return;
    const int nt = n > 1 ? mg_threads_for((double)n * (double)per_unit, SM_PAR_THRESHOLD) : 1;
    if (nt <= 1) {
        loop(a, 0, n);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t r = 0; r < n; r++) loop(a, r, r + 1);
}

static void run_rows(sm_loop loop, const sm_args *a, int64_t n) { run_units(loop, a, n, a->v); }

/* softmax / log_softmax of x[N, V, I] along V: the row loop when I == 1, else the column-chunk
 * loop over N * ceil(I / SM_COLS) units. */
static void run_axis(sm_loop rows, sm_loop cols, const sm_args *a, int64_t n) {
    if (a->inner == 1) {
        run_rows(rows, a, n);
    } else if (a->inner > 1) {
        const int64_t ncc = (a->inner + SM_COLS - 1) / SM_COLS;
        run_units(cols, a, n * ncc, a->v * (a->inner < SM_COLS ? a->inner : SM_COLS));
    }
}

/* W = sum_c w[c] in double (V when there are no weights), the same for every row. */
#define DEFINE_WTOTAL(T, SUF)                                                                 \
    static double wtotal_##SUF(const T *w, int64_t v) {                                       \
        if (!w) return (double)v;                                                             \
        double s = 0;                                                                         \
        for (int64_t i = 0; i < v; i++) s += w[i];                                            \
        return s;                                                                             \
    }
DEFINE_WTOTAL(float, f32)
DEFINE_WTOTAL(double, f64)

#define DEFINE_SM_API(T, SUF)                                                                 \
    /* y[N, V, I] = softmax(x[N, V, I]) along V */                                            \
    void mg_softmax_forward_##SUF(T *y, const T *x, int64_t n, int64_t v, int64_t inner) {    \
        sm_args a = {.out = y, .x = x, .v = v, .inner = inner};                               \
        run_axis(SM_PICK(softmax_fwd_##SUF), SM_PICK(cols_softmax_fwd_##SUF), &a, n);         \
    }                                                                                         \
    /* dx[N, V, I] (+)= y * (dy - sum_V(dy * y)) */                                           \
    void mg_softmax_backward_##SUF(T *dx, const T *dy, const T *y, int accumulate, int64_t n, \
                                   int64_t v, int64_t inner) {                                \
        sm_args a = {.out = dx, .x = dy, .y = y, .v = v, .inner = inner,                      \
                     .overwrite = !accumulate};                                               \
        run_axis(SM_PICK(softmax_bwd_##SUF), SM_PICK(cols_softmax_bwd_##SUF), &a, n);         \
    }                                                                                         \
    /* y[N, V, I] = x - max - log(sum exp(x - max)) along V */                                \
    void mg_log_softmax_forward_##SUF(T *y, const T *x, int64_t n, int64_t v, int64_t inner) { \
        sm_args a = {.out = y, .x = x, .v = v, .inner = inner};                               \
        run_axis(SM_PICK(log_softmax_fwd_##SUF), SM_PICK(cols_log_softmax_fwd_##SUF), &a, n); \
    }                                                                                         \
    /* dx[N, V, I] (+)= dy - exp(y) * sum_V(dy) */                                            \
    void mg_log_softmax_backward_##SUF(T *dx, const T *dy, const T *y, int accumulate,        \
                                       int64_t n, int64_t v, int64_t inner) {                 \
        sm_args a = {.out = dx, .x = dy, .y = y, .v = v, .inner = inner,                      \
                     .overwrite = !accumulate};                                               \
        run_axis(SM_PICK(log_softmax_bwd_##SUF), SM_PICK(cols_log_softmax_bwd_##SUF), &a, n); \
    }                                                                                         \
    /* loss[N], p[N, V] = softmax(x[N, V]); target[N], weight[V] or NULL */                   \
    void mg_cross_entropy_forward_##SUF(T *loss, T *p, const T *x, const int64_t *target,     \
                                        const T *weight, int64_t ignore_index,                \
                                        double label_smoothing, int64_t n, int64_t v) {       \
        sm_args a = {.out = loss, .out2 = p, .x = x, .w = weight, .target = target,           \
                     .ignore_index = ignore_index, .v = v, .eps = label_smoothing,            \
                     .wtotal = wtotal_##SUF(weight, v)};                                      \
        if (v <= 0) return;                                                                   \
        run_rows(SM_PICK(ce_fwd_##SUF), &a, n);                                               \
    }                                                                                         \
    /* dx[N, V] (+)= p (a + b W) - a onehot(target) - b w; a[N], b[N] or NULL */              \
    void mg_cross_entropy_backward_##SUF(T *dx, const T *p, const int64_t *target,            \
                                         const T *weight, const T *a, const T *b,             \
                                         int64_t ignore_index, int accumulate, int64_t n,     \
                                         int64_t v) {                                         \
        sm_args args = {.out = dx, .x = p, .y = a, .cb = b, .w = weight, .target = target,    \
                        .ignore_index = ignore_index, .v = v, .overwrite = !accumulate,       \
                        .wtotal = b ? wtotal_##SUF(weight, v) : 0};                           \
        run_rows(SM_PICK(ce_bwd_##SUF), &args, n);                                            \
    }

DEFINE_SM_API(float, f32)
DEFINE_SM_API(double, f64)
