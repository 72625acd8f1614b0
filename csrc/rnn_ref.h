/* rnn_ref.h - naive reference versions of the fused recurrent step kernels of rnn_cells.h.
 *
 * Same signatures and the same contract as mg_{rnn,lstm,gru}_{forward,backward}_{f32,f64} (read
 * rnn_cells.h for the maths, the cache layouts and the variable-length rules), with `_ref` in the
 * name. Plain loops straight from the equations: slow, single-threaded, obviously right; the
 * tests compare the fused kernels against them and them against NumPy.
 *
 * Dimension legend: B batch, H hidden, G gates per cell (RNN 1, LSTM 4, GRU 3), GH = G*H.
 */
#ifndef MG_RNN_REF_H
#define MG_RNN_REF_H
#include <stdint.h>

// cdef-begin
void mg_rnn_forward_ref_f32(float *h, const float *gx_t, const float *h_prev, const float *w_hh,
                            const int64_t *lengths, int64_t t, int64_t B, int64_t H, int relu);
void mg_rnn_backward_ref_f32(float *dgates, float *dh_prev, const float *dh, const float *h,
                             const float *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                             int64_t H, int relu);
void mg_rnn_forward_ref_f64(double *h, const double *gx_t, const double *h_prev,
                            const double *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                            int64_t H, int relu);
void mg_rnn_backward_ref_f64(double *dgates, double *dh_prev, const double *dh, const double *h,
                             const double *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                             int64_t H, int relu);

void mg_lstm_forward_ref_f32(float *h, float *c, float *gates, float *tanh_c, const float *gx_t,
                             const float *h_prev, const float *c_prev, const float *w_hh,
                             const int64_t *lengths, int64_t t, int64_t B, int64_t H);
void mg_lstm_backward_ref_f32(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                              const float *dc, const float *gates, const float *tanh_c,
                              const float *c_prev, const float *w_hh, const int64_t *lengths,
                              int64_t t, int64_t B, int64_t H);
void mg_lstm_forward_ref_f64(double *h, double *c, double *gates, double *tanh_c,
                             const double *gx_t, const double *h_prev, const double *c_prev,
                             const double *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                             int64_t H);
void mg_lstm_backward_ref_f64(double *dgates, double *dh_prev, double *dc_prev, const double *dh,
                              const double *dc, const double *gates, const double *tanh_c,
                              const double *c_prev, const double *w_hh, const int64_t *lengths,
                              int64_t t, int64_t B, int64_t H);

void mg_gru_forward_ref_f32(float *h, float *gates, float *hn, const float *gx_t,
                            const float *h_prev, const float *w_hh, const float *b_hn,
                            const int64_t *lengths, int64_t t, int64_t B, int64_t H);
void mg_gru_backward_ref_f32(float *dgx, float *dgh, float *dh_prev, const float *dh,
                             const float *gates, const float *hn, const float *h_prev,
                             const float *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                             int64_t H);
void mg_gru_forward_ref_f64(double *h, double *gates, double *hn, const double *gx_t,
                            const double *h_prev, const double *w_hh, const double *b_hn,
                            const int64_t *lengths, int64_t t, int64_t B, int64_t H);
void mg_gru_backward_ref_f64(double *dgx, double *dgh, double *dh_prev, const double *dh,
                             const double *gates, const double *hn, const double *h_prev,
                             const double *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                             int64_t H);
// cdef-end

#endif
