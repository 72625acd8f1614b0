/* activations.h - elementwise tanh, sigmoid (and exp), forward and backward, float32 and float64.
 *
 * Dimension legend: N = number of elements. Every array is a flat, C-contiguous buffer of N
 * elements (an activation of any shape is seen through its flat view).
 *
 *   forward:  y[N]  = f(x[N])                      (y may be the same buffer as x: in place)
 *   backward: dx[N] += dy[N] * f'(x), with f' taken from the forward output y[N]:
 *             tanh: f' = 1 - y^2     sigmoid: f' = y * (1 - y)     exp: f' = y
 *             Backward ACCUMULATES into dx (the project-wide convention for gradients):
 *             pass a zeroed dx to get the plain gradient.
 *
 * The fast kernels use the branch-free vectorisable MG_TANH / MG_SIGMOID / MG_EXP of mathfun.h
 * (a few ulp from the correctly rounded result) and an AVX2/FMA clone chosen at run time; large
 * N is split over threads in contiguous chunks, so results are bitwise identical for any thread
 * count. exp is exposed mainly so that the MG_EXP used inside the recurrent cells is tested.
 * mg_<op>_ref_* are the naive libm versions (evaluated in double) kept for the tests.
 */
#ifndef MG_ACTIVATIONS_H
#define MG_ACTIVATIONS_H
#include <stdint.h>

// cdef-begin
void mg_tanh_forward_f32(float *y, const float *x, int64_t n);
void mg_tanh_backward_f32(float *dx, const float *dy, const float *y, int64_t n);
void mg_sigmoid_forward_f32(float *y, const float *x, int64_t n);
void mg_sigmoid_backward_f32(float *dx, const float *dy, const float *y, int64_t n);
void mg_tanh_ref_f32(float *y, const float *x, int64_t n);
void mg_sigmoid_ref_f32(float *y, const float *x, int64_t n);
void mg_exp_forward_f32(float *y, const float *x, int64_t n);
void mg_exp_backward_f32(float *dx, const float *dy, const float *y, int64_t n);
void mg_exp_ref_f32(float *y, const float *x, int64_t n);

void mg_tanh_forward_f64(double *y, const double *x, int64_t n);
void mg_tanh_backward_f64(double *dx, const double *dy, const double *y, int64_t n);
void mg_sigmoid_forward_f64(double *y, const double *x, int64_t n);
void mg_sigmoid_backward_f64(double *dx, const double *dy, const double *y, int64_t n);
void mg_tanh_ref_f64(double *y, const double *x, int64_t n);
void mg_sigmoid_ref_f64(double *y, const double *x, int64_t n);
void mg_exp_forward_f64(double *y, const double *x, int64_t n);
void mg_exp_backward_f64(double *dx, const double *dy, const double *y, int64_t n);
void mg_exp_ref_f64(double *y, const double *x, int64_t n);
// cdef-end

#endif
