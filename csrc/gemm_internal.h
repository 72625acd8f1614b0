/* gemm_internal.h - pieces shared by the GEMM driver (gemm.c + gemm_driver.inc) and the
 * micro-kernels (gemm_kernels.c). Internal: no cdef section, nothing here is called from Python.
 *
 * Dimension legend: M rows of C, N columns of C, K the reduction; mr x nr is one register tile
 * of C (mr <= MR, nr <= NR: smaller at the bottom/right edges of C), kc the depth of one packed
 * block.
 *
 * Packed layouts (see gemm_driver.inc):
 *   A sliver: MR rows of op(A) x kc, stored p-major:  a[p*MR + r]  (rows >= mr are zero)
 *   B sliver: kc x NR columns of op(B), p-major:      b[p*NR + c]  (cols >= nr are zero)
 * so the micro-kernel reads both with unit stride, one MR column of A and one NR row of B per p.
 */
#ifndef MG_GEMM_INTERNAL_H
#define MG_GEMM_INTERNAL_H
#include <stdint.h>

#define MG_GEMM_MR 6       /* rows of a register tile (both dtypes)                          */
#define MG_GEMM_NR_F32 16  /* columns: two __m256 of 8 floats  -> 6x16 tile = 12 accumulators */
#define MG_GEMM_NR_F64 8   /* columns: two __m256d of 4 doubles -> 6x8 tile = 12 accumulators */

/* Micro-kernel: C[0:mr, 0:nr] = alpha * (a_sliver @ b_sliver) + beta * C   (beta == 0: C is
 * not read). Always computes the full MR x NR tile in registers from the zero-padded slivers and
 * writes back only the valid mr x nr part. a, b are 32-byte aligned packed slivers. */
typedef void (*mg_ukr_f32_fn)(int64_t kc, const float *a, const float *b, float *C, int64_t ldc,
                              int mr, int nr, float alpha, float beta);
typedef void (*mg_ukr_f64_fn)(int64_t kc, const double *a, const double *b, double *C, int64_t ldc,
                              int mr, int nr, double alpha, double beta);

void mg_gemm_ukr_avx2_f32(int64_t kc, const float *a, const float *b, float *C, int64_t ldc,
                          int mr, int nr, float alpha, float beta);
void mg_gemm_ukr_avx2_f64(int64_t kc, const double *a, const double *b, double *C, int64_t ldc,
                          int mr, int nr, double alpha, double beta);
void mg_gemm_ukr_generic_f32(int64_t kc, const float *a, const float *b, float *C, int64_t ldc,
                             int mr, int nr, float alpha, float beta);
void mg_gemm_ukr_generic_f64(int64_t kc, const double *a, const double *b, double *C, int64_t ldc,
                             int mr, int nr, double alpha, double beta);

/* Unpacked direct GEMM for tiny problems (same contract as mg_gemm_*, K >= 1). */
void mg_gemm_small_avx2_f32(float *C, const float *A, const float *B, int64_t M, int64_t N,
                            int64_t K, int64_t ldc, int64_t lda, int64_t ldb, int trans_a,
                            int trans_b, float alpha, float beta);
void mg_gemm_small_avx2_f64(double *C, const double *A, const double *B, int64_t M, int64_t N,
                            int64_t K, int64_t ldc, int64_t lda, int64_t ldb, int trans_a,
                            int trans_b, double alpha, double beta);
void mg_gemm_small_generic_f32(float *C, const float *A, const float *B, int64_t M, int64_t N,
                               int64_t K, int64_t ldc, int64_t lda, int64_t ldb, int trans_a,
                               int trans_b, float alpha, float beta);
void mg_gemm_small_generic_f64(double *C, const double *A, const double *B, int64_t M, int64_t N,
                               int64_t K, int64_t ldc, int64_t lda, int64_t ldb, int trans_a,
                               int trans_b, double alpha, double beta);

#endif
