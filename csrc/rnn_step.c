/* rnn_step.c - one time step of the fused RNN / LSTM / GRU cells, forward and backward
 * (contracts in rnn_cells.h). Dimension legend: B batch, H hidden, G gates, GH = G*H.
 *
 * Each kernel is written once, in rnn_step.inc, and instantiated here for float and double:
 * the template reads the scalar type from `scalar` and the name suffix from SUF.
 */
#include <string.h>

#include "gemm.h"
#include "mathfun.h"
#include "rnn_cells.h"
#include "runtime.h"

/* Threads for the pointwise loop over B rows of `per_row` elements: a transcendental costs
 * tens of cycles, so below ~8k of them waking a thread team costs more than it saves. */
static inline int pointwise_threads(int64_t B, int64_t per_row) {
    return B > 1 ? mg_threads_for((double)B * (double)per_row, 8192.0) : 1;
}

#define MG_CAT_(a, b) a##_##b
#define MG_CAT(a, b) MG_CAT_(a, b)
#define FN(name) MG_CAT(name, SUF)

#define scalar float
#define SUF f32
#include "rnn_step.inc"
#undef scalar
#undef SUF

#define scalar double
#define SUF f64
#include "rnn_step.inc"
#undef scalar
#undef SUF
