/* optim.h - fused optimizer updates: one pass over a parameter, its gradient and its state.
 *
 * Dimension legend: N = number of elements of one parameter (of any shape, seen flat). Every
 * array is a flat, C-contiguous buffer of N elements of one dtype.
 *
 * mg_adam_update: the Adam step of minigrad.optim.Adam (PyTorch's formulas and order of
 * operations), with the per-step scalars computed by the caller in double precision:
 *     m    = m + (g - m) * c1                        c1 = 1 - beta1     (running mean of g)
 *     v    = v * beta2 + (g * g) * c2                c2 = 1 - beta2     (running mean of g^2)
 *     vmax = max(vmax, v), then vmax is used as v    only when vmax != NULL (amsgrad)
 *     w    = w - (m / (sqrt(v) / bc2_sqrt + eps)) * step_size
 *                                  step_size = lr / (1 - beta1^t),  bc2_sqrt = sqrt(1 - beta2^t)
 * Every operation rounds to the array's dtype in exactly this order (no fused multiply-add),
 * so one pass gives the bits of the eleven NumPy passes it replaces. Elements are independent:
 * large N is split over threads in contiguous chunks, bitwise identical for any thread count.
 * The loop is its own naive reference (tests/test_optim.py checks it against NumPy).
 *
 * mg_adam_update_many: the same step over K parameters of one dtype in one call (an optimizer's
 * parameter group: w[k], m[k], v[k], g[k] of n[k] elements each; vmax NULL or K pointers). The
 * caller's per-parameter Python cost is one pointer, not a checked call; each parameter gets
 * exactly mg_adam_update's arithmetic (its own step_size[k], bc2_sqrt[k]: steps may differ), so
 * the results are bitwise those of K separate calls. Parameters run one after the other, each
 * split over threads as above.
 */
#ifndef MG_OPTIM_H
#define MG_OPTIM_H
#include <stdint.h>

// cdef-begin
void mg_adam_update_f32(float *w, float *m, float *v, float *vmax, const float *g, double c1,
                        double beta2, double c2, double step_size, double bc2_sqrt, double eps,
                        int64_t n);
void mg_adam_update_f64(double *w, double *m, double *v, double *vmax, const double *g,
                        double c1, double beta2, double c2, double step_size, double bc2_sqrt,
                        double eps, int64_t n);
void mg_adam_update_many_f32(float *const *w, float *const *m, float *const *v,
                             float *const *vmax, const float *const *g, const int64_t *n,
                             const double *step_size, const double *bc2_sqrt, double c1,
                             double beta2, double c2, double eps, int64_t K);
void mg_adam_update_many_f64(double *const *w, double *const *m, double *const *v,
                             double *const *vmax, const double *const *g, const int64_t *n,
                             const double *step_size, const double *bc2_sqrt, double c1,
                             double beta2, double c2, double eps, int64_t K);
// cdef-end

#endif
