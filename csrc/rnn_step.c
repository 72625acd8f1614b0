/* rnn_step.c - one time step of the fused RNN / LSTM / GRU cells, forward and backward
 * (contracts in rnn_cells.h), and the recurrent GEMM they share with the sequence drivers.
 * Dimension legend: B batch, H hidden, G gates, GH = G*H.
 *
 * Each kernel is written once, in rnn_step.inc (step kernels, recurrent GEMM) and rnn_rows.inc
 * (pointwise gate math of one row), and instantiated here for float and double; the row
 * functions also get an AVX2/FMA clone (rnn_rows.inc explains), picked at run time.
 */
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#include "mathfun.h"
#include "rnn_cells.h"
#include "rnn_template.h"
#include "runtime.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define RNN_HAVE_AVX2_CLONE 1
#else
#define RNN_HAVE_AVX2_CLONE 0
#endif

/* Flops of one step's recurrent GEMM (2*B*H*GH) below which the whole step runs on one thread:
 * waking the team costs a few microseconds. The pointwise part alone is worth threading from
 * ~8k transcendentals (tens of cycles each). */
#define RNN_PAR_FLOPS 1.0e6
#define RNN_PAR_POINTWISE 8192.0

/* Threads for one step of B rows, a GEMM with N = GH columns of depth K, G*H gate values a row. */
static int step_threads(int64_t B, int64_t N, int64_t K, int64_t per_row) {
    const int a = mg_threads_for(2.0 * (double)B * (double)N * (double)K, RNN_PAR_FLOPS);
    const int b = B > 1 ? mg_threads_for((double)B * (double)per_row, RNN_PAR_POINTWISE) : 1;
    return a > b ? a : b;
}

/* Depth blocks of the recurrent GEMM: ceil(K/256) nearly equal blocks, multiples of 4 (the rule
 * of the GEMM driver; a function of K only, so never of the thread count). */
static int64_t rg_kc(int64_t K) {
    const int64_t nb = (K + 255) / 256;
    int64_t kc = (K + nb - 1) / nb;
    kc = (kc + 3) & ~(int64_t)3;
    return kc < 256 ? kc : 256;
}

/* Row tile s of the M (= B) rows of the step GEMM: its first row in *r0, its row count returned.
 * MR-row tiles, except that a last tile of 1-2 rows is merged with the one before into two tiles
 * of 3-4 (M = 32: 6+6+6+6+4+4 rather than 6+6+6+6+6+2). The micro-kernel's time per tile is set
 * by its FMA chains: 4 rows keep 8 accumulators in flight (both FMA pipes full), 2 rows only 4,
 * so a 2-row tile costs about as much as a 4-row one. A function of M only: the tiling, and so
 * every result bit, never depends on the thread count. Packed slivers keep the MR stride. */
static inline int row_tile(int64_t s, int64_t msl, int64_t M, int64_t *r0) {
    const int64_t tail = M - (msl - 1) * MG_GEMM_MR; /* rows of the plain last tile, 1..MR */
    *r0 = s * MG_GEMM_MR;
    if (tail > 2 || msl < 2 || s < msl - 2)
        return (int)(M - *r0 < MG_GEMM_MR ? M - *r0 : MG_GEMM_MR);
    const int64_t pair = MG_GEMM_MR + tail, first = (pair + 1) / 2; /* 8 -> 4+4, 7 -> 4+3 */
    if (s == msl - 2) return (int)first;
    *r0 = (msl - 2) * MG_GEMM_MR + first;
    return (int)(pair - first);
}

/* Orphaned worksharing: inside the step's parallel region the loop is split over the team
 * (static schedule, implicit barrier at its end unless NOWAIT: the last loop of a region needs
 * none, the region's end waits); outside any region it runs serially. */
#ifdef _OPENMP
#include <omp.h>
static inline int mg_team_id(void) { return omp_get_thread_num(); }
#define MG_OMP_FOR _Pragma("omp for schedule(static)")
#define MG_OMP_FOR_NOWAIT _Pragma("omp for schedule(static) nowait")
#define MG_OMP_BARRIER _Pragma("omp barrier")
#define MG_TEAM(nt) _Pragma("omp parallel num_threads(nt) if(nt > 1)")
#else
static inline int mg_team_id(void) { return 0; }
#define MG_OMP_FOR
#define MG_OMP_FOR_NOWAIT
#define MG_OMP_BARRIER
#define MG_TEAM(nt) (void)(nt);
#endif

#define ROW(name) MG_CAT(MG_CAT(name, SUF), ROW_TAG)

#define scalar float
#define SUF f32
#define RNR MG_GEMM_NR_F32
#include "rnn_step_dtype.inc"
#undef scalar
#undef SUF
#undef RNR

#define scalar double
#define SUF f64
#define RNR MG_GEMM_NR_F64
#include "rnn_step_dtype.inc"
#undef scalar
#undef SUF
#undef RNR

void mg_rnn_plan_free(mg_rnn_plan *p) {
    free(p->wp);
    free(p->abuf);
    free(p->zeros);
    p->wp = p->abuf = p->zeros = NULL;
}

void mg_rnn_plan_delete(mg_rnn_plan *plan) {
    if (!plan) return;
    mg_rnn_plan_free(plan);
    free(plan);
}
