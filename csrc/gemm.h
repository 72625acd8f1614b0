/* gemm.h - general matrix multiply on row-major arrays, float32 and float64.
 *
 *   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C[M,N]
 *
 * op(A) = A (stored M x K, row stride lda) or A^T (trans_a: A stored K x M, row stride lda);
 * op(B) likewise (B stored K x N, or N x K when trans_b). beta == 0 overwrites C (NaNs in C are
 * ignored, as in BLAS). Transposes are handled by strided packing, never by copies.
 *
 * Batched: for b in [0, batch): C_b = alpha * op(A_b) @ op(B_b) + beta * C_b with
 * X_b = X + b * stride_x; a stride of 0 shares one matrix across the batch (e.g. a weight).
 *
 * mg_gemm_ref_* are the naive triple loops kept as the reference the tests compare against.
 *
 * mg_gemm_any / mg_gemm_batched_any: the same calls with untyped pointers and the dtype as a flag
 * (is_f64: 0 float32, 1 float64; alpha and beta are rounded to float for float32). They exist for
 * the Python binding: it can hand ffi.from_buffer(array) straight to C without a typed cast per
 * operand, which is a sizeable part of the cost of the tiny per-time-step GEMMs.
 */
#ifndef MG_GEMM_H
#define MG_GEMM_H
#include <stdint.h>

// cdef-begin
void mg_gemm_f32(float *C, const float *A, const float *B,
                 int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                 int trans_a, int trans_b, float alpha, float beta);
void mg_gemm_f64(double *C, const double *A, const double *B,
                 int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                 int trans_a, int trans_b, double alpha, double beta);

void mg_gemm_batched_f32(float *C, const float *A, const float *B, int64_t batch,
                         int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                         int64_t stride_c, int64_t stride_a, int64_t stride_b,
                         int trans_a, int trans_b, float alpha, float beta);
void mg_gemm_batched_f64(double *C, const double *A, const double *B, int64_t batch,
                         int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                         int64_t stride_c, int64_t stride_a, int64_t stride_b,
                         int trans_a, int trans_b, double alpha, double beta);

void mg_gemm_ref_f32(float *C, const float *A, const float *B,
                     int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                     int trans_a, int trans_b, float alpha, float beta);
void mg_gemm_ref_f64(double *C, const double *A, const double *B,
                     int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                     int trans_a, int trans_b, double alpha, double beta);
void mg_gemm_any(int is_f64, void *C, const void *A, const void *B,
                 int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                 int trans_a, int trans_b, double alpha, double beta);
void mg_gemm_batched_any(int is_f64, void *C, const void *A, const void *B, int64_t batch,
                         int64_t M, int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,
                         int64_t stride_c, int64_t stride_a, int64_t stride_b,
                         int trans_a, int trans_b, double alpha, double beta);
// cdef-end

#endif
