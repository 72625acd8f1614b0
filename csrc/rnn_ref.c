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
 *
 * The kernels themselves are in rnn_ref.inc, compiled below once per dtype (rnn_template.h).
 */
#include <math.h>
#include <stddef.h>

#include "mathfun.h"
#include "rnn_cells.h"
#include "rnn_ref.h"
#include "rnn_template.h"

#define scalar float
#define SUF f32
#include "rnn_ref.inc"
#undef scalar
#undef SUF

#define scalar double
#define SUF f64
#include "rnn_ref.inc"
#undef scalar
#undef SUF
