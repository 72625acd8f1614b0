/* gemm_ref.c - the naive reference GEMM (see gemm.h). Slow and obviously right: the tests
 * compare the packed kernels in gemm.c against it and against NumPy. Dimensions: M rows of C,
 * N columns of C, K the reduction. */
#include "gemm.h"

#define DEFINE_GEMM_REF(T, SUF)                                                              \
    void mg_gemm_ref_##SUF(T *C, const T *A, const T *B, int64_t M, int64_t N, int64_t K,   \
                           int64_t ldc, int64_t lda, int64_t ldb, int trans_a, int trans_b, \
                           T alpha, T beta) {                                               \
        for (int64_t i = 0; i < M; i++)                                                     \
            for (int64_t j = 0; j < N; j++) {                                               \
                T acc = 0;                                                                  \
                for (int64_t p = 0; p < K; p++) {                                           \
                    T a = trans_a ? A[p * lda + i] : A[i * lda + p];                        \
                    T b = trans_b ? B[j * ldb + p] : B[p * ldb + j];                        \
                    acc += a * b;                                                           \
                }                                                                           \
                T *c = &C[i * ldc + j];                                                     \
                *c = (beta == 0 ? 0 : beta * *c) + alpha * acc;                             \
            }                                                                               \
    }

DEFINE_GEMM_REF(float, f32)
DEFINE_GEMM_REF(double, f64)
