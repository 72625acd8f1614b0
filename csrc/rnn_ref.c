/* rnn_ref.c - naive reference step kernels for the Elman RNN, LSTM and GRU cells (rnn_ref.h).
 *
 * Dimension legend: B batch, H hidden, G gates per cell (RNN 1, LSTM 4, GRU 3), GH = G*H.
 * Row-major arrays: x[b][j] is x[b*H + j] for a (B,H) array, x[b*GH + q*H + j] for gate block q
 * of a (B,GH) array, and W_hh (GH,H) has w[(q*H + j)*H + k] = weight from h_prev[k] to unit j
 * of gate q (PyTorch's layout).
 *
 * These are the slow, obviously right versions of the fused kernels in rnn_step.c: the same
 * signatures and contract (rnn_cells.h), written straight from the equations with plain loops,
 * one batch row at a time, a naive dot product inline for the recurrent matrix product, and libm
 * for the nonlinearities (evaluated in double, then rounded to the kernel's type). No threads, no
 * staging through the output buffers, no vectorisation tricks. The tests compare the fused
 * kernels against these, and these against NumPy.
 *
 * Contract, shared with the fused kernels:
 *   - a row b takes part in step t iff lengths == NULL or t < lengths[b]; an inactive row passes
 *     the state through (h = h_prev, c = c_prev) and caches zeros (gates, tanh_c, hn);
 *   - backward WRITES the gate gradients and ACCUMULATES (+=) into dh_prev / dc_prev; an inactive
 *     row gets zero gate gradients and passes dh (and dc) straight on to dh_prev (dc_prev).
 */
#include <math.h>
#include <stddef.h>

#include "rnn_ref.h"

static int row_active(const int64_t *lengths, int64_t b, int64_t t) {
    return lengths == NULL || t < lengths[b];
}

/* Logistic function in its stable two-sided form (exp never overflows). */
static double sigmoid_ref(double x) {
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

#define DEFINE_RNN_REF(T, SUF)                                                                 \
    static T sig_##SUF(T x) { return (T)sigmoid_ref((double)x); }                             \
    static T tanh_##SUF(T x) { return (T)tanh((double)x); }                                   \
                                                                                               \
    /* (h_prev @ W_hh^T)[b][row] = sum_k h_prev[b][k] * W_hh[row][k]: one output unit of the   \
     * recurrent product, for one batch row hp (H,) and one weight row (H,) */                 \
    static T dot_##SUF(const T *hp, const T *w_row, int64_t H) {                               \
        T acc = 0;                                                                             \
        for (int64_t k = 0; k < H; k++) acc += hp[k] * w_row[k];                               \
        return acc;                                                                            \
    }                                                                                          \
                                                                                               \
    /* dh_prev[b] (H,) += dgates[b] (GH,) @ W_hh (GH,H):                                        \
     * dh_prev[b][k] += sum_row dgates[b][row] * W_hh[row][k] */                               \
    static void back_product_##SUF(T *dhp, const T *dg, const T *w, int64_t GH, int64_t H) {   \
        for (int64_t k = 0; k < H; k++) {                                                      \
            T acc = 0;                                                                         \
            for (int64_t row = 0; row < GH; row++) acc += dg[row] * w[row * H + k];            \
            dhp[k] += acc;                                                                     \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* ------------------------------------------------------------------------ Elman RNN */ \
    /* h (B,H) = act(gx_t (B,H) + h_prev (B,H) @ w_hh^T (H,H)); act = relu ? relu : tanh */     \
    void mg_rnn_forward_ref_##SUF(T *h, const T *gx_t, const T *h_prev, const T *w_hh,         \
                                  const int64_t *lengths, int64_t t, int64_t B, int64_t H,     \
                                  int relu) {                                                  \
        for (int64_t b = 0; b < B; b++) {                                                      \
            const T *hp = h_prev + b * H;                                                      \
            int active = row_active(lengths, b, t);                                            \
            for (int64_t j = 0; j < H; j++) {                                                  \
                if (!active) {                                                                 \
                    h[b * H + j] = hp[j];                                                      \
                    continue;                                                                  \
                }                                                                              \
                T pre = gx_t[b * H + j] + dot_##SUF(hp, w_hh + j * H, H);                      \
                /* relu as `pre < 0 ? 0 : pre` so that NaN propagates, as in PyTorch */        \
                h[b * H + j] = relu ? (pre < 0 ? 0 : pre) : tanh_##SUF(pre);                   \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* dgates (B,H) = dh * act'(h), with tanh' = 1 - h^2 and relu' = (h > 0);                   \
     * dh_prev (B,H) += dgates @ w_hh (H,H)  (inactive rows: dgates = 0, dh_prev += dh) */      \
    void mg_rnn_backward_ref_##SUF(T *dgates, T *dh_prev, const T *dh, const T *h,             \
                                   const T *w_hh, const int64_t *lengths, int64_t t,           \
                                   int64_t B, int64_t H, int relu) {                           \
        for (int64_t b = 0; b < B; b++) {                                                      \
            T *dg = dgates + b * H, *dhp = dh_prev + b * H;                                    \
            const T *dhb = dh + b * H, *hb = h + b * H;                                        \
            if (!row_active(lengths, b, t)) {                                                  \
                for (int64_t j = 0; j < H; j++) {                                              \
                    dg[j] = 0;                                                                 \
                    dhp[j] += dhb[j];                                                          \
                }                                                                              \
                continue;                                                                      \
            }                                                                                  \
            for (int64_t j = 0; j < H; j++)                                                    \
                dg[j] = relu ? (hb[j] > 0 ? dhb[j] : 0) : dhb[j] * (1 - hb[j] * hb[j]);        \
            back_product_##SUF(dhp, dg, w_hh, H, H);                                           \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* ----------------------------------------------------------------------------- LSTM */ \
    /* Gate blocks q = 0..3 are i, f, g, o.  For each unit j of row b:                          \
     *   pre_q = gx_t[b][qH+j] + (h_prev @ w_hh^T)[b][qH+j]          (w_hh (4H,H))             \
     *   i = sig(pre_0), f = sig(pre_1), g = tanh(pre_2), o = sig(pre_3)                       \
     *   c = f*c_prev + i*g;  tanh_c = tanh(c);  h = o*tanh_c                                  \
     * h, c, tanh_c, h_prev, c_prev: (B,H); gates (cache of i,f,g,o), gx_t: (B,4H). */           \
    void mg_lstm_forward_ref_##SUF(T *h, T *c, T *gates, T *tanh_c, const T *gx_t,             \
                                   const T *h_prev, const T *c_prev, const T *w_hh,            \
                                   const int64_t *lengths, int64_t t, int64_t B, int64_t H) {  \
        const int64_t GH = 4 * H;                                                              \
        for (int64_t b = 0; b < B; b++) {                                                      \
            const T *hp = h_prev + b * H, *x = gx_t + b * GH;                                  \
            T *gb = gates + b * GH;                                                            \
            int active = row_active(lengths, b, t);                                            \
            for (int64_t j = 0; j < H; j++) {                                                  \
                int64_t s = b * H + j; /* index of unit j of row b in a (B,H) array */        \
                if (!active) {                                                                 \
                    gb[j] = gb[H + j] = gb[2 * H + j] = gb[3 * H + j] = 0;                     \
                    tanh_c[s] = 0;                                                             \
                    h[s] = hp[j];                                                              \
                    c[s] = c_prev[s];                                                          \
                    continue;                                                                  \
                }                                                                              \
                T i = sig_##SUF(x[j] + dot_##SUF(hp, w_hh + j * H, H));                        \
                T f = sig_##SUF(x[H + j] + dot_##SUF(hp, w_hh + (H + j) * H, H));              \
                T g = tanh_##SUF(x[2 * H + j] + dot_##SUF(hp, w_hh + (2 * H + j) * H, H));     \
                T o = sig_##SUF(x[3 * H + j] + dot_##SUF(hp, w_hh + (3 * H + j) * H, H));      \
                gb[j] = i;                                                                     \
                gb[H + j] = f;                                                                 \
                gb[2 * H + j] = g;                                                             \
                gb[3 * H + j] = o;                                                             \
                c[s] = f * c_prev[s] + i * g;                                                  \
                tanh_c[s] = tanh_##SUF(c[s]);                                                  \
                h[s] = o * tanh_c[s];                                                          \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* Chain rule of the forward, per unit (dc == NULL means dc = 0):                           \
     *   dc_tot = dc + dh*o*(1 - tanh_c^2)          (c reaches the loss directly and via h)    \
     *   di = dc_tot*g * i(1-i)   df = dc_tot*c_prev * f(1-f)                                   \
     *   dg = dc_tot*i * (1-g^2)  do = dh*tanh_c * o(1-o)      (pre-activation gradients)       \
     *   dc_prev += dc_tot*f;  dh_prev (B,H) += dgates (B,4H) @ w_hh (4H,H)                     \
     * Inactive rows: dgates = 0, dh_prev += dh, dc_prev += dc. */                              \
    void mg_lstm_backward_ref_##SUF(T *dgates, T *dh_prev, T *dc_prev, const T *dh,            \
                                    const T *dc, const T *gates, const T *tanh_c,              \
                                    const T *c_prev, const T *w_hh, const int64_t *lengths,    \
                                    int64_t t, int64_t B, int64_t H) {                         \
        const int64_t GH = 4 * H;                                                              \
        for (int64_t b = 0; b < B; b++) {                                                      \
            const T *gb = gates + b * GH;                                                      \
            T *dg = dgates + b * GH;                                                           \
            int active = row_active(lengths, b, t);                                            \
            for (int64_t j = 0; j < H; j++) {                                                  \
                int64_t s = b * H + j;                                                         \
                T dcs = dc ? dc[s] : 0;                                                        \
                if (!active) {                                                                 \
                    dg[j] = dg[H + j] = dg[2 * H + j] = dg[3 * H + j] = 0;                     \
                    dh_prev[s] += dh[s];                                                       \
                    dc_prev[s] += dcs;                                                         \
                    continue;                                                                  \
                }                                                                              \
                T i = gb[j], f = gb[H + j], g = gb[2 * H + j], o = gb[3 * H + j];              \
                T tc = tanh_c[s];                                                              \
                T dc_tot = dcs + dh[s] * o * (1 - tc * tc);                                    \
                dg[j] = dc_tot * g * i * (1 - i);                                              \
                dg[H + j] = dc_tot * c_prev[s] * f * (1 - f);                                  \
                dg[2 * H + j] = dc_tot * i * (1 - g * g);                                      \
                dg[3 * H + j] = dh[s] * tc * o * (1 - o);                                      \
                dc_prev[s] += dc_tot * f;                                                      \
            }                                                                                  \
            if (active) back_product_##SUF(dh_prev + b * H, dg, w_hh, GH, H);                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* ------------------------------------------------------------------------------ GRU */ \
    /* Gate blocks q = 0..2 are r, z, n.  For each unit j of row b (w_hh (3H,H)):               \
     *   r = sig(gx_t[b][j]    + (h_prev @ w_hh^T)[b][j])                                      \
     *   z = sig(gx_t[b][H+j]  + (h_prev @ w_hh^T)[b][H+j])                                    \
     *   hn = (h_prev @ w_hh^T)[b][2H+j] + b_hn[j]   (b_hn == NULL: no bias)                   \
     *   n = tanh(gx_t[b][2H+j] + r*hn)                                                        \
     *   h = (1-z)*n + z*h_prev, evaluated as n + z*(h_prev - n) (PyTorch's order, as the      \
     *   fused kernel documents)                                                               \
     * h, hn, h_prev: (B,H); gates (cache of r,z,n), gx_t: (B,3H). */                           \
    void mg_gru_forward_ref_##SUF(T *h, T *gates, T *hn, const T *gx_t, const T *h_prev,       \
                                  const T *w_hh, const T *b_hn, const int64_t *lengths,        \
                                  int64_t t, int64_t B, int64_t H) {                           \
        const int64_t GH = 3 * H;                                                              \
        for (int64_t b = 0; b < B; b++) {                                                      \
            const T *hp = h_prev + b * H, *x = gx_t + b * GH;                                  \
            T *gb = gates + b * GH;                                                            \
            int active = row_active(lengths, b, t);                                            \
            for (int64_t j = 0; j < H; j++) {                                                  \
                int64_t s = b * H + j;                                                         \
                if (!active) {                                                                 \
                    gb[j] = gb[H + j] = gb[2 * H + j] = 0;                                     \
                    hn[s] = 0;                                                                 \
                    h[s] = hp[j];                                                              \
                    continue;                                                                  \
                }                                                                              \
                T r = sig_##SUF(x[j] + dot_##SUF(hp, w_hh + j * H, H));                        \
                T z = sig_##SUF(x[H + j] + dot_##SUF(hp, w_hh + (H + j) * H, H));              \
                T hnj = dot_##SUF(hp, w_hh + (2 * H + j) * H, H) + (b_hn ? b_hn[j] : 0);       \
                T n = tanh_##SUF(x[2 * H + j] + r * hnj);                                      \
                gb[j] = r;                                                                     \
                gb[H + j] = z;                                                                 \
                gb[2 * H + j] = n;                                                             \
                hn[s] = hnj;                                                                   \
                h[s] = n + z * (hp[j] - n);                                                    \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
                                                                                               \
    /* Chain rule of the forward, per unit:                                                     \
     *   dn = dh*(1-z) * (1-n^2)        dz = dh*(h_prev-n) * z(1-z)                             \
     *   dr = dn*hn * r(1-r)            (pre-activation gradients)                             \
     *   dgx (B,3H) = [dr, dz, dn]  (w.r.t. gx_t);                                             \
     *   dgh (B,3H) = [dr, dz, dn*r]  (w.r.t. h_prev @ w_hh^T + b_hh: n sees it through r*hn)  \
     *   dh_prev (B,H) += dh*z + dgh @ w_hh (3H,H)                                             \
     * Inactive rows: dgx = dgh = 0, dh_prev += dh. */                                          \
    void mg_gru_backward_ref_##SUF(T *dgx, T *dgh, T *dh_prev, const T *dh, const T *gates,    \
                                   const T *hn, const T *h_prev, const T *w_hh,                \
                                   const int64_t *lengths, int64_t t, int64_t B, int64_t H) {  \
        const int64_t GH = 3 * H;                                                              \
        for (int64_t b = 0; b < B; b++) {                                                      \
            const T *gb = gates + b * GH;                                                      \
            T *dx = dgx + b * GH, *dg = dgh + b * GH;                                          \
            int active = row_active(lengths, b, t);                                            \
            for (int64_t j = 0; j < H; j++) {                                                  \
                int64_t s = b * H + j;                                                         \
                if (!active) {                                                                 \
                    dx[j] = dx[H + j] = dx[2 * H + j] = 0;                                     \
                    dg[j] = dg[H + j] = dg[2 * H + j] = 0;                                     \
                    dh_prev[s] += dh[s];                                                       \
                    continue;                                                                  \
                }                                                                              \
                T r = gb[j], z = gb[H + j], n = gb[2 * H + j];                                 \
                T dn = dh[s] * (1 - z) * (1 - n * n);                                          \
                T dz = dh[s] * (h_prev[s] - n) * z * (1 - z);                                  \
                T dr = dn * hn[s] * r * (1 - r);                                               \
                dx[j] = dg[j] = dr;                                                            \
                dx[H + j] = dg[H + j] = dz;                                                    \
                dx[2 * H + j] = dn;                                                            \
                dg[2 * H + j] = dn * r;                                                        \
                dh_prev[s] += dh[s] * z;                                                       \
            }                                                                                  \
            if (active) back_product_##SUF(dh_prev + b * H, dg, w_hh, GH, H);                  \
        }                                                                                      \
    }

DEFINE_RNN_REF(float, f32)
DEFINE_RNN_REF(double, f64)
