/* rnn_cells.h - fused recurrent cell kernels (Elman RNN, LSTM, GRU): one time step forward and
 * backward, and whole-sequence drivers that run the time loop in C.
 *
 * Dimension legend: B batch, T time, H hidden, G gates per cell (RNN 1, LSTM 4, GRU 3), GH = G*H.
 * All arrays are C-contiguous row-major; conventions are PyTorch's:
 *
 *   Layout of the cuDNN plan. The layer computes the input projection for ALL steps as one GEMM,
 *     gx (T,B,GH) = X (T*B,I) @ W_ih^T + b_ih (+ the foldable part of b_hh, see below),
 *   so a step only does the recurrent GEMM  h_prev (B,H) @ W_hh^T  (W_hh stored (GH,H) as in
 *   PyTorch) plus the pointwise gate math, in one call, writing the caches backward needs.
 *   Backward writes pre-activation gate gradients into per-step (B,GH) slices of (T,B,GH)
 *   buffers, so the layer forms dW_ih, dW_hh, the biases and dX as big GEMMs over all steps.
 *
 *   RNN : h = act(gx + h_prev W_hh^T), act tanh or relu; b_hh folded into gx.
 *   LSTM: gate order i,f,g,o; [i f g o] = [sig sig tanh sig](gx + h_prev W_hh^T);
 *         c = f*c_prev + i*g;  h = o*tanh(c); both biases folded into gx.
 *   GRU : gate order r,z,n; gx holds W_i{r,z,n} x + b_i{r,z,n} + b_h{r,z} (b_hn NOT folded);
 *         hn = h_prev W_hn^T + b_hn;  r = sig(gx_r + h_prev W_hr^T), z likewise,
 *         n = tanh(gx_n + r*hn);  h = (1-z)*n + z*h_prev  (computed as n + z*(h_prev-n)).
 *
 * Variable lengths: `lengths` (B,) int64 or NULL (all rows full). Row b is active at step t iff
 * t < lengths[b]. Inactive rows pass the state through (h = h_prev, c = c_prev), their cached
 * gates are 0, and in backward dh/dc flow straight to dh_prev/dc_prev with zero gate gradients.
 *
 * Step-kernel contract: outputs never alias inputs. Backward WRITES the gate gradients and
 * ACCUMULATES (+=) into dh_prev / dc_prev (so the caller seeds them, e.g. with dL/dout[t-1]).
 * Every kernel returns 0, or -1 if its scratch buffers cannot be allocated.
 * Threads: the recurrent GEMM (prepacked W_hh, rnn_step.inc) is split over column slivers, the
 * pointwise part over batch rows. No reduction is ever split, so results are bitwise identical
 * for any thread count.
 */
#ifndef MG_RNN_CELLS_H
#define MG_RNN_CELLS_H
#include <stdint.h>

// cdef-begin
/* ---- Elman RNN step.  h, gx_t, h_prev: (B,H); w_hh: (H,H); dgates: (B,H).
 * h is its own cache: tanh' = 1 - h^2, relu' = (h > 0). relu != 0 selects relu. */
int mg_rnn_forward_f32(float *h, const float *gx_t, const float *h_prev, const float *w_hh,
                        const int64_t *lengths, int64_t t, int64_t B, int64_t H, int relu);
int mg_rnn_backward_f32(float *dgates, float *dh_prev, const float *dh, const float *h,
                         const float *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                         int64_t H, int relu);
int mg_rnn_forward_f64(double *h, const double *gx_t, const double *h_prev, const double *w_hh,
                        const int64_t *lengths, int64_t t, int64_t B, int64_t H, int relu);
int mg_rnn_backward_f64(double *dgates, double *dh_prev, const double *dh, const double *h,
                         const double *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                         int64_t H, int relu);

/* ---- LSTM step.  h, c, tanh_c, h_prev, c_prev, dh, dc, dh_prev, dc_prev: (B,H);
 * gx_t, gates (post-activation i,f,g,o cache), dgates (pre-activation grads): (B,4H);
 * w_hh: (4H,H). dc may be NULL (no gradient arriving through c). */
int mg_lstm_forward_f32(float *h, float *c, float *gates, float *tanh_c, const float *gx_t,
                         const float *h_prev, const float *c_prev, const float *w_hh,
                         const int64_t *lengths, int64_t t, int64_t B, int64_t H);
int mg_lstm_backward_f32(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                          const float *dc, const float *gates, const float *tanh_c,
                          const float *c_prev, const float *w_hh, const int64_t *lengths,
                          int64_t t, int64_t B, int64_t H);
int mg_lstm_forward_f64(double *h, double *c, double *gates, double *tanh_c, const double *gx_t,
                         const double *h_prev, const double *c_prev, const double *w_hh,
                         const int64_t *lengths, int64_t t, int64_t B, int64_t H);
int mg_lstm_backward_f64(double *dgates, double *dh_prev, double *dc_prev, const double *dh,
                          const double *dc, const double *gates, const double *tanh_c,
                          const double *c_prev, const double *w_hh, const int64_t *lengths,
                          int64_t t, int64_t B, int64_t H);

/* ---- GRU step.  h, hn (cache: h_prev W_hn^T + b_hn), h_prev, dh, dh_prev: (B,H);
 * gx_t, gates (post-activation r,z,n cache), dgx, dgh: (B,3H); w_hh: (3H,H); b_hn: (H,) or NULL.
 * dgx = grads of the input-side pre-activations (gx); dgh = grads of h_prev W_hh^T + b_hh:
 * its r,z parts equal dgx's, its n part is dgx_n * r. */
int mg_gru_forward_f32(float *h, float *gates, float *hn, const float *gx_t, const float *h_prev,
                        const float *w_hh, const float *b_hn, const int64_t *lengths, int64_t t,
                        int64_t B, int64_t H);
int mg_gru_backward_f32(float *dgx, float *dgh, float *dh_prev, const float *dh,
                         const float *gates, const float *hn, const float *h_prev,
                         const float *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                         int64_t H);
int mg_gru_forward_f64(double *h, double *gates, double *hn, const double *gx_t,
                        const double *h_prev, const double *w_hh, const double *b_hn,
                        const int64_t *lengths, int64_t t, int64_t B, int64_t H);
int mg_gru_backward_f64(double *dgx, double *dgh, double *dh_prev, const double *dh,
                         const double *gates, const double *hn, const double *h_prev,
                         const double *w_hh, const int64_t *lengths, int64_t t, int64_t B,
                         int64_t H);

/* ---- Whole-sequence drivers (one direction). gx: (T,B,GH); h0, c0, h_n, c_n: (B,H).
 * reverse != 0 runs t = T-1..0 (state flows from t+1 to t); lengths in [0, T].
 * All return 0, or -1 if their scratch (packed W_hh, a few (B,H) buffers) cannot be allocated.
 * Forward writes  out (T,B,H): h of every step, 0 at padded steps (t >= lengths[b]);
 *   hprev (T,B,H): the state ENTERING each step (the layer's dW_hh = dG^T @ hprev over all
 *   steps); LSTM cprev (T,B,H), gates (T,B,4H), tanh_c (T,B,H); GRU gates (T,B,3H), hn (T,B,H);
 *   h_n, c_n: the final state (padded rows carry their last real state through).
 *   Without lengths, out and hprev may be two views of one (T+1,B,H) buffer, out = buf[1:] and
 *   hprev = buf[:-1] (reverse: out = buf[:-1], hprev = buf[1:]): out[t] is then the state
 *   entering the next step, written once.
 *   LSTM only: gates may be gx itself -- the post-activation gates then replace gx in place and
 *   the layer saves a (T,B,4H) buffer (gx is not needed after the forward).
 * Backward WRITES dgates (T,B,GH) (GRU: dgx and dgh), dh0, dc0, from dout (T,B,H) (entries at
 *   padded steps are ignored), dh_n, dc_n; each of dout/dh_n/dc_n may be NULL (= zeros). */
int mg_rnn_seq_forward_f32(float *out, float *hprev, float *h_n, const float *gx, const float *h0,
                            const float *w_hh, const int64_t *lengths, int64_t T, int64_t B,
                            int64_t H, int reverse, int relu);
int mg_rnn_seq_backward_f32(float *dgates, float *dh0, const float *dout, const float *dh_n,
                            const float *out, const float *w_hh, const int64_t *lengths,
                            int64_t T, int64_t B, int64_t H, int reverse, int relu);
int mg_rnn_seq_forward_f64(double *out, double *hprev, double *h_n, const double *gx,
                            const double *h0, const double *w_hh, const int64_t *lengths,
                            int64_t T, int64_t B, int64_t H, int reverse, int relu);
int mg_rnn_seq_backward_f64(double *dgates, double *dh0, const double *dout, const double *dh_n,
                            const double *out, const double *w_hh, const int64_t *lengths,
                            int64_t T, int64_t B, int64_t H, int reverse, int relu);

int mg_lstm_seq_forward_f32(float *out, float *hprev, float *cprev, float *gates, float *tanh_c,
                             float *h_n, float *c_n, const float *gx, const float *h0,
                             const float *c0, const float *w_hh, const int64_t *lengths,
                             int64_t T, int64_t B, int64_t H, int reverse);
int mg_lstm_seq_backward_f32(float *dgates, float *dh0, float *dc0, const float *dout,
                             const float *dh_n, const float *dc_n, const float *gates,
                             const float *tanh_c, const float *cprev, const float *w_hh,
                             const int64_t *lengths, int64_t T, int64_t B, int64_t H,
                             int reverse);
int mg_lstm_seq_forward_f64(double *out, double *hprev, double *cprev, double *gates,
                             double *tanh_c, double *h_n, double *c_n, const double *gx,
                             const double *h0, const double *c0, const double *w_hh,
                             const int64_t *lengths, int64_t T, int64_t B, int64_t H,
                             int reverse);
int mg_lstm_seq_backward_f64(double *dgates, double *dh0, double *dc0, const double *dout,
                             const double *dh_n, const double *dc_n, const double *gates,
                             const double *tanh_c, const double *cprev, const double *w_hh,
                             const int64_t *lengths, int64_t T, int64_t B, int64_t H,
                             int reverse);

int mg_gru_seq_forward_f32(float *out, float *hprev, float *gates, float *hn, float *h_n,
                            const float *gx, const float *h0, const float *w_hh,
                            const float *b_hn, const int64_t *lengths, int64_t T, int64_t B,
                            int64_t H, int reverse);
int mg_gru_seq_backward_f32(float *dgx, float *dgh, float *dh0, const float *dout,
                            const float *dh_n, const float *gates, const float *hn,
                            const float *hprev, const float *w_hh, const int64_t *lengths,
                            int64_t T, int64_t B, int64_t H, int reverse);
int mg_gru_seq_forward_f64(double *out, double *hprev, double *gates, double *hn, double *h_n,
                            const double *gx, const double *h0, const double *w_hh,
                            const double *b_hn, const int64_t *lengths, int64_t T, int64_t B,
                            int64_t H, int reverse);
int mg_gru_seq_backward_f64(double *dgx, double *dgh, double *dh0, const double *dout,
                            const double *dh_n, const double *gates, const double *hn,
                            const double *hprev, const double *w_hh, const int64_t *lengths,
                            int64_t T, int64_t B, int64_t H, int reverse);

/* ---- Step plans, for callers that run one step at a time (the unrolled layer). A plan holds
 * W_hh packed ONCE for the recurrent GEMM (forward: op = W_hh^T; backward: op = W_hh) -- a copy
 * taken at creation -- plus scratch for B rows. The step kernels above build one per call; the
 * *_planned kernels below take one built by mg_rnn_plan_new_<suf> (NULL: out of memory) for
 * that cell's G (RNN 1, LSTM 4, GRU 3), B, H and direction, and reuse it step after step.
 * They cannot fail. Free with mg_rnn_plan_delete. */
typedef struct mg_rnn_plan mg_rnn_plan;
mg_rnn_plan *mg_rnn_plan_new_f32(const float *w_hh, int64_t B, int64_t H, int64_t G, int backward);
mg_rnn_plan *mg_rnn_plan_new_f64(const double *w_hh, int64_t B, int64_t H, int64_t G, int backward);
void mg_rnn_plan_delete(mg_rnn_plan *plan);
void mg_rnn_forward_planned_f32(float *h, const float *gx_t, const float *h_prev,
                                const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                int64_t B, int64_t H, int relu);
void mg_rnn_backward_planned_f32(float *dgates, float *dh_prev, const float *dh, const float *h,
                                 const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                 int64_t B, int64_t H, int relu);
void mg_lstm_forward_planned_f32(float *h, float *c, float *gates, float *tanh_c,
                                 const float *gx_t, const float *h_prev, const float *c_prev,
                                 const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                 int64_t B, int64_t H);
void mg_lstm_backward_planned_f32(float *dgates, float *dh_prev, float *dc_prev, const float *dh,
                                  const float *dc, const float *gates, const float *tanh_c,
                                  const float *c_prev, const mg_rnn_plan *pl,
                                  const int64_t *lengths, int64_t t, int64_t B, int64_t H);
void mg_gru_forward_planned_f32(float *h, float *gates, float *hn, const float *gx_t,
                                const float *h_prev, const mg_rnn_plan *pl, const float *b_hn,
                                const int64_t *lengths, int64_t t, int64_t B, int64_t H);
void mg_gru_backward_planned_f32(float *dgx, float *dgh, float *dh_prev, const float *dh,
                                 const float *gates, const float *hn, const float *h_prev,
                                 const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                 int64_t B, int64_t H);
void mg_rnn_forward_planned_f64(double *h, const double *gx_t, const double *h_prev,
                                const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                int64_t B, int64_t H, int relu);
void mg_rnn_backward_planned_f64(double *dgates, double *dh_prev, const double *dh,
                                 const double *h, const mg_rnn_plan *pl, const int64_t *lengths,
                                 int64_t t, int64_t B, int64_t H, int relu);
void mg_lstm_forward_planned_f64(double *h, double *c, double *gates, double *tanh_c,
                                 const double *gx_t, const double *h_prev, const double *c_prev,
                                 const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                 int64_t B, int64_t H);
void mg_lstm_backward_planned_f64(double *dgates, double *dh_prev, double *dc_prev,
                                  const double *dh, const double *dc, const double *gates,
                                  const double *tanh_c, const double *c_prev,
                                  const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                  int64_t B, int64_t H);
void mg_gru_forward_planned_f64(double *h, double *gates, double *hn, const double *gx_t,
                                const double *h_prev, const mg_rnn_plan *pl, const double *b_hn,
                                const int64_t *lengths, int64_t t, int64_t B, int64_t H);
void mg_gru_backward_planned_f64(double *dgx, double *dgh, double *dh_prev, const double *dh,
                                 const double *gates, const double *hn, const double *h_prev,
                                 const mg_rnn_plan *pl, const int64_t *lengths, int64_t t,
                                 int64_t B, int64_t H);
// cdef-end

/* ---- Internal: the plan's contents: packed op(W_hh), scratch for the packed left operand (one
 * per thread), the thread count and the SIMD choice. The sequence drivers keep one on the stack
 * per sequence (mg_rnn_plan_init_<suf>: 0, or -1 if out of memory; mg_rnn_plan_free). */
struct mg_rnn_plan {
    void *wp, *abuf;
    void *zeros; /* forward plans: one zero row of G*H, the "gx" of an in-place LSTM step */
    int nt, simd;
};
void mg_rnn_plan_free(mg_rnn_plan *p);

/* Fill a caller-owned plan (the *_planned prototypes are declared once, above). */
int mg_rnn_plan_init_f32(mg_rnn_plan *pl, const float *w_hh, int64_t B, int64_t H, int64_t G,
                         int backward);
int mg_rnn_plan_init_f64(mg_rnn_plan *pl, const double *w_hh, int64_t B, int64_t H, int64_t G,
                         int backward);

/* Row b takes part in step t iff t < lengths[b] (lengths == NULL: every row is full). */
static inline int mg_row_active(const int64_t *lengths, int64_t b, int64_t t) {
    return lengths == NULL || t < lengths[b];
}

#endif
