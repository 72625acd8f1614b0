/* gemm.c - the fast GEMM of the C core: packed, cache-blocked, register-tiled (BLIS style),
 * float32 and float64, contract in gemm.h. Dimension legend: M rows of C, N columns, K reduction.
 *
 * Pieces:
 *   gemm_kernels.c    micro-kernels (AVX2/FMA 6x16 f32, 6x8 f64, generic C) + small direct loop
 *   gemm_driver.inc   packing, blocking loops, threading; included below once per dtype
 *   this file         block sizes, thresholds, packed-buffer cache, batched loop
 * Path per call: tiny (M*N*K small) -> direct unpacked loop; otherwise the blocked driver.
 * AVX2/FMA is chosen at run time (mg_cpu_has_avx2_fma(), which mg_set_simd(0) turns off).
 */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#include "runtime.h"
#ifdef _OPENMP
#include <omp.h>
#define GEMM_OMP_BATCH_FOR _Pragma("omp parallel for num_threads(nt) schedule(static)")
#else
#define GEMM_OMP_BATCH_FOR
#endif

#define MR MG_GEMM_MR

/* ---------------------------------------------------------------- cache blocking
 * Target: AMD EPYC Zen 3/4 class core: L1d 32 KiB, L2 1 MiB private, L3 32 MiB shared.
 *  KC: one B sliver (KC x NR) must sit in L1 next to the A sliver streaming past it:
 *      KC=256 -> 256*16*4 = 16 KiB (f32) and 256*8*8 = 16 KiB (f64): half of L1, the other half
 *      for the A sliver (6*256*4|8 = 6|12 KiB) and the C tile.
 *  MC: the packed A block (MC x KC) lives in L2 and is re-read once per B sliver; take about a
 *      third of the 1 MiB so B slivers and C lines passing through do not evict it:
 *      f32 MC=288 -> 288 KiB, f64 MC=144 -> 288 KiB (multiples of MR=6).
 *  NC: the packed B panel (KC x NC) lives in L3 (shared by the two cores in the M-split):
 *      NC=4080 (a multiple of 16 and 8) -> 4 MiB f32 / 8 MiB f64, well inside 32 MiB.
 * These come from the cache sizes, not from a parameter sweep (the shared machine was too noisy
 * for one); single-threaded they reach OpenBLAS speed (bench/README.md). */
#ifndef MG_GEMM_KC
#define MG_GEMM_KC 256
#endif
#ifndef MG_GEMM_MC_F32
#define MG_GEMM_MC_F32 288
#endif
#ifndef MG_GEMM_MC_F64
#define MG_GEMM_MC_F64 144
#endif
#ifndef MG_GEMM_NC
#define MG_GEMM_NC 4080
#endif

/* Below these M*N*K the direct unpacked loop wins (packing costs more than it saves).
 * trans_b turns the direct loop into dot products, which vectorise worse: smaller limit. */
#ifndef MG_GEMM_SMALL_MNK
#define MG_GEMM_SMALL_MNK 32768.0
#endif
#ifndef MG_GEMM_SMALL_MNK_TB
#define MG_GEMM_SMALL_MNK_TB 4096.0
#endif
/* Flops (2*M*N*K) below which one thread does it all (~15 us of work): waking the team costs a
 * few us. Measured on a quiet machine, 1e6 is where 2 threads start to win (64x256x64 float32:
 * 0.75 -> 0.91 of OpenBLAS); 4e6 was only better while other processes shared the cores. */
#ifndef MG_GEMM_PAR_FLOPS
#define MG_GEMM_PAR_FLOPS 1.0e6
#endif

/* ---------------------------------------------------------------- packed-buffer cache
 * Each calling thread keeps one 64-byte aligned buffer (packed B panel + A blocks of the whole
 * team) and only grows it. Re-allocating per call would cost page faults on every call -- for
 * the recurrent-size GEMMs (tens of microseconds) that would be a large share. The size is
 * bounded by the block sizes (~5 MiB f32, ~9 MiB f64 for 2 threads). One buffer per thread
 * that ever called a blocked GEMM is kept until exit. */
static _Thread_local void *tls_buf;
static _Thread_local size_t tls_cap;

static void *mg_gemm_buffer(size_t bytes) {
    if (bytes > tls_cap) {
        free(tls_buf);
        bytes = (bytes + 4095) & ~(size_t)4095;
        tls_buf = aligned_alloc(64, bytes);
        tls_cap = tls_buf ? bytes : 0;
    }
    return tls_buf;
}

/* ---------------------------------------------------------------- the two instantiations */
#define T float
#define SUF f32
#define NR MG_GEMM_NR_F32
#define MC MG_GEMM_MC_F32
#define KC MG_GEMM_KC
#define NC MG_GEMM_NC
#define UKR_T mg_ukr_f32_fn
#include "gemm_driver.inc"
#undef T
#undef SUF
#undef NR
#undef MC
#undef UKR_T

#define T double
#define SUF f64
#define NR MG_GEMM_NR_F64
#define MC MG_GEMM_MC_F64
#define UKR_T mg_ukr_f64_fn
#include "gemm_driver.inc"
#undef T
#undef SUF
#undef NR
#undef MC
#undef KC
#undef NC
#undef UKR_T

/* ---------------------------------------------------------------- public entry points */
#define DEFINE_GEMM_API(T, SUF)                                                               \
    void mg_gemm_##SUF(T *C, const T *A, const T *B, int64_t M, int64_t N, int64_t K,        \
                       int64_t ldc, int64_t lda, int64_t ldb, int trans_a, int trans_b,      \
                       T alpha, T beta) {                                                    \
        gemm_dispatch_##SUF(C, A, B, M, N, K, ldc, lda, ldb, trans_a, trans_b, alpha, beta,  \
                            1 << 30);                                                        \
    }                                                                                        \
    /* Batched: when one item is too small to be worth threading but the batch has work for  \
     * every thread, threads take whole items (each item single-threaded, so the result is   \
     * identical); otherwise items run one after another, each threaded inside. */           \
    void mg_gemm_batched_##SUF(T *C, const T *A, const T *B, int64_t batch, int64_t M,       \
                               int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,  \
                               int64_t stride_c, int64_t stride_a, int64_t stride_b,         \
                               int trans_a, int trans_b, T alpha, T beta) {                  \
        const double item = 2.0 * (double)M * (double)N * (double)K;                         \
        const int nt = (batch > 1 && mg_threads_for(item, MG_GEMM_PAR_FLOPS) == 1)           \
                           ? mg_threads_for(item * (double)batch, MG_GEMM_PAR_FLOPS)         \
                           : 1;                                                              \
        if (nt > 1) {                                                                        \
            GEMM_OMP_BATCH_FOR                                                               \
            for (int64_t b = 0; b < batch; b++)                                              \
                gemm_dispatch_##SUF(C + b * stride_c, A + b * stride_a, B + b * stride_b, M, \
                                    N, K, ldc, lda, ldb, trans_a, trans_b, alpha, beta, 1);  \
        } else {                                                                             \
            for (int64_t b = 0; b < batch; b++)                                              \
                gemm_dispatch_##SUF(C + b * stride_c, A + b * stride_a, B + b * stride_b, M, \
                                    N, K, ldc, lda, ldb, trans_a, trans_b, alpha, beta,      \
                                    1 << 30);                                                \
        }                                                                                    \
    }
DEFINE_GEMM_API(float, f32)
DEFINE_GEMM_API(double, f64)

void mg_gemm_any(int is_f64, void *C, const void *A, const void *B, int64_t M, int64_t N,
                 int64_t K, int64_t ldc, int64_t lda, int64_t ldb, int trans_a, int trans_b,
                 double alpha, double beta) {
    if (is_f64)
        mg_gemm_f64((double *)C, (const double *)A, (const double *)B, M, N, K, ldc, lda, ldb,
                    trans_a, trans_b, alpha, beta);
    else
        mg_gemm_f32((float *)C, (const float *)A, (const float *)B, M, N, K, ldc, lda, ldb,
                    trans_a, trans_b, (float)alpha, (float)beta);
}

void mg_gemm_batched_any(int is_f64, void *C, const void *A, const void *B, int64_t batch,
                         int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                         int64_t stride_c, int64_t stride_a, int64_t stride_b, int trans_a,
                         int trans_b, double alpha, double beta) {
    if (is_f64)
        mg_gemm_batched_f64((double *)C, (const double *)A, (const double *)B, batch, M, N, K,
                            ldc, lda, ldb, stride_c, stride_a, stride_b, trans_a, trans_b, alpha,
                            beta);
    else
        mg_gemm_batched_f32((float *)C, (const float *)A, (const float *)B, batch, M, N, K, ldc,
                            lda, ldb, stride_c, stride_a, stride_b, trans_a, trans_b,
                            (float)alpha, (float)beta);
}
