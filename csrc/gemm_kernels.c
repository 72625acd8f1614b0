/* gemm_kernels.c - the GEMM micro-kernels and the unpacked small-matrix kernel.
 *
 * Dimension legend: M rows of C, N columns, K reduction; kc = depth of one packed block;
 * MR x NR = register tile (6x16 float32, 6x8 float64; see gemm_internal.h for packed layouts).
 *
 * The AVX2/FMA kernels are compiled through __attribute__((target("avx2,fma"))) (no -march
 * flags) and only called after mg_cpu_has_avx2_fma(). Each keeps its 6x2 accumulator vectors in
 * twelve NAMED variables: with an array GCC may keep the tile in memory; named locals stay in
 * the 16 ymm registers (12 accumulators + 2 B vectors + 1 broadcast A value).
 * One macro writes the kernel for both dtypes (only the intrinsic names differ).
 */
#include <math.h>
#include "gemm_internal.h"

#define MR MG_GEMM_MR

/* ------------------------------------------------------------------ generic C micro-kernel */
/* Also the reference for what the SIMD kernels compute. Plain loops over an accumulator array;
 * used when the CPU lacks AVX2/FMA or mg_set_simd(0). */
#define DEFINE_UKR_GENERIC(T, SUF, NR)                                                       \
    void mg_gemm_ukr_generic_##SUF(int64_t kc, const T *restrict a, const T *restrict b,    \
                                   T *restrict C, int64_t ldc, int mr, int nr, T alpha,     \
                                   T beta) {                                                \
        T acc[MR][NR] = {{0}};                                                              \
        for (int64_t p = 0; p < kc; p++, a += MR, b += NR)                                  \
            for (int r = 0; r < MR; r++)                                                    \
                for (int c = 0; c < NR; c++) acc[r][c] += a[r] * b[c];                      \
        for (int r = 0; r < mr; r++)                                                        \
            for (int c = 0; c < nr; c++) {                                                  \
                T *x = &C[r * ldc + c];                                                     \
                *x = (beta == 0) ? alpha * acc[r][c] : alpha * acc[r][c] + beta * *x;       \
            }                                                                               \
    }
DEFINE_UKR_GENERIC(float, f32, MG_GEMM_NR_F32)
DEFINE_UKR_GENERIC(double, f64, MG_GEMM_NR_F64)

/* ------------------------------------------------------------------ small direct kernel */
/* No packing: for tiny problems (a 4x4 step of a recurrent cell) packing costs more than the
 * multiply. Row i of C is built in place: C[i,:] = beta*C[i,:], then for each p the row
 * op(B)[p,:] scaled by alpha*op(A)[i,p] is added -- a unit-stride axpy over j that the compiler
 * vectorises. With trans_b the row of op(B) is strided, so that case uses dot products over p
 * (unit stride in B's storage). Instantiated twice: generic, and AVX2/FMA (same source, the
 * target attribute lets GCC use 256-bit vectors and FMA). */
#define DEFINE_SMALL(T, NAME, ATTR)                                                          \
    ATTR void NAME(T *C, const T *A, const T *B, int64_t M, int64_t N, int64_t K,           \
                   int64_t ldc, int64_t lda, int64_t ldb, int trans_a, int trans_b, T alpha, \
                   T beta) {                                                                \
        for (int64_t i = 0; i < M; i++) {                                                   \
            T *restrict c = C + i * ldc;                                                    \
            if (!trans_b) {                                                                 \
                if (beta == 0)                                                              \
                    for (int64_t j = 0; j < N; j++) c[j] = 0;                               \
                else if (beta != 1)                                                         \
                    for (int64_t j = 0; j < N; j++) c[j] *= beta;                           \
                for (int64_t p = 0; p < K; p++) {                                           \
                    const T s = alpha * (trans_a ? A[p * lda + i] : A[i * lda + p]);        \
                    const T *restrict b = B + p * ldb;                                      \
                    for (int64_t j = 0; j < N; j++) c[j] += s * b[j];                       \
                }                                                                           \
            } else {                                                                        \
                for (int64_t j = 0; j < N; j++) {                                           \
                    const T *restrict b = B + j * ldb;                                      \
                    T acc = 0;                                                              \
                    if (trans_a)                                                            \
                        for (int64_t p = 0; p < K; p++) acc += A[p * lda + i] * b[p];       \
                    else                                                                    \
                        for (int64_t p = 0; p < K; p++) acc += A[i * lda + p] * b[p];       \
                    c[j] = (beta == 0) ? alpha * acc : alpha * acc + beta * c[j];           \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }
DEFINE_SMALL(float, mg_gemm_small_generic_f32, )
DEFINE_SMALL(double, mg_gemm_small_generic_f64, )

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define MG_AVX2 __attribute__((target("avx2,fma")))
DEFINE_SMALL(float, mg_gemm_small_avx2_f32, MG_AVX2)
DEFINE_SMALL(double, mg_gemm_small_avx2_f64, MG_AVX2)

/* ------------------------------------------------------------------ AVX2/FMA micro-kernel */
/* One source for both dtypes. Before each instantiation X is defined as the intrinsic suffix
 * (ps|pd) and VOP(op) pastes _mm256_<op>_<X> (two-level expansion so X is expanded first).
 * V: vector type, VL: lanes, NR = 2*VL columns, FMA1: the scalar fma.
 * Per p: load the NR-wide row of B into b0,b1; for each of the 6 rows broadcast one A value and
 * issue two FMAs: 12 FMAs per 2 loads + 6 broadcasts keeps both FMA pipes busy. */
#define VOP(op) VOP_(op, X)
#define VOP_(op, x) VOP__(op, x)
#define VOP__(op, x) _mm256_##op##_##x

#define UKR_ROW(r)                                                                           \
    if (MRV > r) {                                                                          \
        av = BCAST(a + r);                                                                  \
        c##r##0 = VOP(fmadd)(av, b0, c##r##0);                                              \
        c##r##1 = VOP(fmadd)(av, b1, c##r##1);                                              \
    }

/* write back one row of a full tile: beta == 0 -> alpha*acc, else fma(acc, alpha, beta*C) */
#define UKR_WB(lo, hi)                                                                       \
    if (beta == 0) {                                                                         \
        VOP(storeu)(c, VOP(mul)(va, lo));                                                    \
        VOP(storeu)(c + VL, VOP(mul)(va, hi));                                               \
    } else {                                                                                 \
        VOP(storeu)(c, VOP(fmadd)(lo, va, VOP(mul)(vb, VOP(loadu)(c))));                     \
        VOP(storeu)(c + VL, VOP(fmadd)(hi, va, VOP(mul)(vb, VOP(loadu)(c + VL))));           \
    }                                                                                        \
    c += ldc;

#define UKR_SPILL(r) VOP(store)(t + r * NR, c##r##0); VOP(store)(t + r * NR + VL, c##r##1);

/* The body takes the number of live rows MRV as a compile-time constant (always inlined into
 * one function per mr = 1..6), so a bottom-edge tile of 2 rows issues 4 FMAs per p, not 12: with
 * M = 32 = 5*6 + 2 (the recurrent batch) that saves the 1/6 of the work a padded tile wastes. */
#define DEFINE_UKR_AVX2(T, SUF, V, LANES, FMA1)                                                 \
    static inline __attribute__((always_inline)) MG_AVX2 void ukr_avx2_body_##SUF(           \
        int64_t kc, const T *restrict a, const T *restrict b, T *restrict C, int64_t ldc,    \
        int mr, int nr, T alpha, T beta, const int MRV) {                                    \
        enum { VL = LANES, NR = 2 * LANES };                                                 \
        V c00 = VOP(setzero)(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,       \
          c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                 \
        V b0, b1, av;                                                                        \
        for (int r = 0; r < mr; r++) _mm_prefetch((const char *)(C + r * ldc), _MM_HINT_T0); \
        _Pragma("GCC unroll 4") for (int64_t p = 0; p < kc; p++) {                           \
            b0 = VOP(load)(b);                                                               \
            b1 = VOP(load)(b + VL);                                                          \
            UKR_ROW(0) UKR_ROW(1) UKR_ROW(2) UKR_ROW(3) UKR_ROW(4) UKR_ROW(5)                \
            a += MR;                                                                         \
            b += NR;                                                                         \
        }                                                                                    \
        const V va = VOP(set1)(alpha), vb = VOP(set1)(beta);                                 \
        if (mr == MR && nr == NR) { /* full tile: straight to C */                           \
            T *c = C;                                                                        \
            UKR_WB(c00, c01) UKR_WB(c10, c11) UKR_WB(c20, c21)                               \
            UKR_WB(c30, c31) UKR_WB(c40, c41) UKR_WB(c50, c51)                               \
            return;                                                                          \
        }                                                                                    \
        /* edge tile: spill the accumulators and write back the valid mr x nr part with the  \
         * same arithmetic (a scalar fma rounds exactly like one lane of the vector fma) */  \
        T t[MR * NR] __attribute__((aligned(32)));                                           \
        UKR_SPILL(0) UKR_SPILL(1) UKR_SPILL(2) UKR_SPILL(3) UKR_SPILL(4) UKR_SPILL(5)        \
        for (int r = 0; r < mr; r++)                                                         \
            for (int j = 0; j < nr; j++) {                                                   \
                T *x = &C[r * ldc + j];                                                      \
                *x = (beta == 0) ? alpha * t[r * NR + j] : FMA1(t[r * NR + j], alpha, beta * *x); \
            }                                                                                \
    }                                                                                        \
    UKR_AVX2_MR(T, SUF, 1) UKR_AVX2_MR(T, SUF, 2) UKR_AVX2_MR(T, SUF, 3)                      \
    UKR_AVX2_MR(T, SUF, 4) UKR_AVX2_MR(T, SUF, 5) UKR_AVX2_MR(T, SUF, 6)                      \
    MG_AVX2 void mg_gemm_ukr_avx2_##SUF(int64_t kc, const T *restrict a, const T *restrict b, \
                                        T *restrict C, int64_t ldc, int mr, int nr, T alpha, \
                                        T beta) {                                            \
        switch (mr) {                                                                        \
        case 1: ukr_avx2_mr1_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta); break;            \
        case 2: ukr_avx2_mr2_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta); break;            \
        case 3: ukr_avx2_mr3_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta); break;            \
        case 4: ukr_avx2_mr4_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta); break;            \
        case 5: ukr_avx2_mr5_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta); break;            \
        default: ukr_avx2_mr6_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta); break;           \
        }                                                                                    \
    }

/* One separate (noinline) function per row count: inlining all six into one function made GCC's
 * register allocator spill an accumulator inside the hot loop (-30% measured). */
#define UKR_AVX2_MR(T, SUF, MRV)                                                             \
    static __attribute__((noinline)) MG_AVX2 void ukr_avx2_mr##MRV##_##SUF(                  \
        int64_t kc, const T *restrict a, const T *restrict b, T *restrict C, int64_t ldc,    \
        int mr, int nr, T alpha, T beta) {                                                   \
        ukr_avx2_body_##SUF(kc, a, b, C, ldc, mr, nr, alpha, beta, MRV);                     \
    }

#define X ps
#define BCAST _mm256_broadcast_ss
DEFINE_UKR_AVX2(float, f32, __m256, 8, fmaf)
#undef X
#undef BCAST
#define X pd
#define BCAST _mm256_broadcast_sd
DEFINE_UKR_AVX2(double, f64, __m256d, 4, fma)
#undef X
#undef BCAST

#else /* not x86: the dispatcher never selects these (mg_cpu_has_avx2_fma() is 0) */
void mg_gemm_ukr_avx2_f32(int64_t kc, const float *a, const float *b, float *C, int64_t ldc,
                          int mr, int nr, float alpha, float beta) {
    mg_gemm_ukr_generic_f32(kc, a, b, C, ldc, mr, nr, alpha, beta);
}
void mg_gemm_ukr_avx2_f64(int64_t kc, const double *a, const double *b, double *C, int64_t ldc,
                          int mr, int nr, double alpha, double beta) {
    mg_gemm_ukr_generic_f64(kc, a, b, C, ldc, mr, nr, alpha, beta);
}
DEFINE_SMALL(float, mg_gemm_small_avx2_f32, )
DEFINE_SMALL(double, mg_gemm_small_avx2_f64, )
#endif
