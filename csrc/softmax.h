/* softmax.h - row-wise softmax, log_softmax and cross-entropy over (N, V) rows, forward and
 * backward, float32 and float64.
 *
 * Dimension legend: N = rows (batch * time steps), V = classes (vocabulary) per row. Every
 * (N, V) array is a C-contiguous buffer with the V entries of a row adjacent. softmax and
 * log_softmax also take I = inner: their arrays are (N, V, I) and the softmax runs along V for
 * each (n, i) (a non-last axis, read with stride I, no copy); I = 1 is the (N, V) row case.
 * The formulas below are written for rows.
 *
 *   softmax:      y[N, V] = exp(x - m) / s             m = max_c x[c], s = sum_c exp(x[c] - m)
 *                 backward  dx[N, V] += y * (dy - sum_c dy[c] y[c])
 *   log_softmax:  y[N, V] = x - m - log(s)
 *                 backward  dx[N, V] += dy - exp(y) * sum_c dy[c]
 *   cross_entropy (class-index targets t[N], optional class weights w[V], label smoothing eps):
 *                 forward   p[N, V] = softmax(x) and the per-row loss
 *                           loss[i] = (1 - eps) w[t_i] (lse_i - x[i, t_i])
 *                                     + eps / V * sum_c w_c (lse_i - x[i, c])
 *                           with lse_i = m_i + log(s_i), w = 1 when absent; loss[i] = 0 where
 *                           t_i == ignore_index (the caller reduces the N values).
 *                 backward  dx[i, c] += p[i, c] (a_i + b_i W) - a_i [c == t_i] - b_i w_c,
 *                           W = sum_c w_c, with the caller's row coefficients a[N] (the scale of
 *                           p - onehot) and b[N] (the smoothing scale; NULL when eps == 0).
 *                           Rows with t_i == ignore_index, or a_i == 0 and b_i == 0, are
 *                           skipped (they get no gradient).
 *
 * In place: forward outputs (y, p) may be the very buffer x (each row is read fully before it
 * is written, element by element in the last pass). Backward with accumulate = 1 ADDS into dx
 * (the project-wide convention for gradients); with accumulate = 0 it writes dx (whatever it
 * held is ignored: no zero-filled buffer to read), and skipped cross-entropy rows become 0.
 * dx overlaps nothing, except that the cross-entropy backward with accumulate = 0 may write
 * over p itself: the fused Linear -> cross-entropy keeps no second (N, V) array for backward.
 *
 * Special values, as PyTorch: an entry of -inf gets probability 0 (log-probability -inf); a row
 * that is all -inf, or holds a NaN or +inf, gives NaN everywhere in that row. A cross-entropy
 * row whose target is ignore_index gets loss 0 and (unlike PyTorch's NaN for an all -inf row)
 * gradient 0.
 *
 * Rows are independent: OpenMP splits the rows over threads and never splits a row, so results
 * are bitwise identical for any thread count. The fast kernels run an AVX2/FMA clone when the CPU
 * has it (generic C otherwise, or under mg_set_simd(0)). mg_<op>_ref_* are naive references in
 * double with libm, for the tests.
 */
#ifndef MG_SOFTMAX_H
#define MG_SOFTMAX_H
#include <stdint.h>

// cdef-begin
void mg_softmax_forward_f32(float *y, const float *x, int64_t n, int64_t v, int64_t inner);
void mg_softmax_backward_f32(float *dx, const float *dy, const float *y, int accumulate, int64_t n,
                             int64_t v, int64_t inner);
void mg_log_softmax_forward_f32(float *y, const float *x, int64_t n, int64_t v, int64_t inner);
void mg_log_softmax_backward_f32(float *dx, const float *dy, const float *y, int accumulate,
                                 int64_t n, int64_t v, int64_t inner);
void mg_cross_entropy_forward_f32(float *loss, float *p, const float *x, const int64_t *target,
                                  const float *weight, int64_t ignore_index, double label_smoothing,
                                  int64_t n, int64_t v);
void mg_cross_entropy_backward_f32(float *dx, const float *p, const int64_t *target,
                                   const float *weight, const float *a, const float *b,
                                   int64_t ignore_index, int accumulate, int64_t n, int64_t v);

void mg_softmax_forward_f64(double *y, const double *x, int64_t n, int64_t v, int64_t inner);
void mg_softmax_backward_f64(double *dx, const double *dy, const double *y, int accumulate, int64_t n,
                             int64_t v, int64_t inner);
void mg_log_softmax_forward_f64(double *y, const double *x, int64_t n, int64_t v, int64_t inner);
void mg_log_softmax_backward_f64(double *dx, const double *dy, const double *y, int accumulate,
                                 int64_t n, int64_t v, int64_t inner);
void mg_cross_entropy_forward_f64(double *loss, double *p, const double *x, const int64_t *target,
                                  const double *weight, int64_t ignore_index, double label_smoothing,
                                  int64_t n, int64_t v);
void mg_cross_entropy_backward_f64(double *dx, const double *p, const int64_t *target,
                                   const double *weight, const double *a, const double *b,
                                   int64_t ignore_index, int accumulate, int64_t n, int64_t v);

/* naive references (softmax_ref.c): same contracts, evaluated in double with libm */
void mg_softmax_ref_f32(float *y, const float *x, int64_t n, int64_t v);
void mg_log_softmax_ref_f32(float *y, const float *x, int64_t n, int64_t v);
void mg_cross_entropy_ref_f32(float *loss, float *p, const float *x, const int64_t *target,
                              const float *weight, int64_t ignore_index, double label_smoothing,
                              int64_t n, int64_t v);
void mg_softmax_ref_f64(double *y, const double *x, int64_t n, int64_t v);
void mg_log_softmax_ref_f64(double *y, const double *x, int64_t n, int64_t v);
void mg_cross_entropy_ref_f64(double *loss, double *p, const double *x, const int64_t *target,
                              const double *weight, int64_t ignore_index, double label_smoothing,
                              int64_t n, int64_t v);
// cdef-end

#endif
