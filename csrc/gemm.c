/* gemm.c - TEMPORARY simple GEMM (i-p-j loop order) until the packed BLIS-style kernels land.
 * Same contract as gemm.h. */
#include "gemm.h"

#define DEFINE_GEMM_SIMPLE(T, SUF)                                                            \
    void mg_gemm_##SUF(T *C, const T *A, const T *B, int64_t M, int64_t N, int64_t K,        \
                       int64_t ldc, int64_t lda, int64_t ldb, int trans_a, int trans_b,      \
                       T alpha, T beta) {                                                    \
        for (int64_t i = 0; i < M; i++) {                                                    \
            T *c = C + i * ldc;                                                              \
            for (int64_t j = 0; j < N; j++) c[j] = (beta == 0) ? 0 : beta * c[j];            \
            for (int64_t p = 0; p < K; p++) {                                                \
                T a = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);                   \
                if (trans_b)                                                                 \
                    for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + p];              \
                else                                                                         \
                    for (int64_t j = 0; j < N; j++) c[j] += a * B[p * ldb + j];              \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
    void mg_gemm_batched_##SUF(T *C, const T *A, const T *B, int64_t batch, int64_t M,       \
                               int64_t N, int64_t K, int64_t ldc, int64_t lda, int64_t ldb,  \
                               int64_t stride_c, int64_t stride_a, int64_t stride_b,         \
                               int trans_a, int trans_b, T alpha, T beta) {                  \
        for (int64_t b = 0; b < batch; b++)                                                  \
            mg_gemm_##SUF(C + b * stride_c, A + b * stride_a, B + b * stride_b, M, N, K,     \
                          ldc, lda, ldb, trans_a, trans_b, alpha, beta);                     \
    }

DEFINE_GEMM_SIMPLE(float, f32)
DEFINE_GEMM_SIMPLE(double, f64)
