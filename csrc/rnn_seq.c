/* rnn_seq.c - whole-sequence drivers for the RNN / LSTM / GRU cells: the time loop runs in C,
 * calling the fused step kernels of rnn_step.c (contracts in rnn_cells.h).
 * Dimension legend: T time, B batch, H hidden, G gates, GH = G*H.
 *
 * One time loop serves all three cells: seq_forward / seq_backward in rnn_seq.inc take a cell
 * description (kind, relu) and dispatch to the matching step kernel; the public
 * mg_<cell>_seq_<forward|backward>_<suf> functions only name their arguments.
 */
#include <stdlib.h>
#include <string.h>

#include "rnn_cells.h"
#include "rnn_template.h"

enum cell_kind { CELL_RNN, CELL_LSTM, CELL_GRU };

typedef struct {
    enum cell_kind kind;
    int relu;              /* RNN only */
    int reverse;           /* process t = T-1..0 */
    int64_t T, B, H, G;    /* G: gates per cell */
    const int64_t *lengths;
} cell_spec;

/* Step t of the s-th iteration (s = 0..T-1) in processing order. */
static inline int64_t step_time(const cell_spec *cs, int64_t s) {
    return cs->reverse ? cs->T - 1 - s : s;
}


#define scalar float
#define SUF f32
#include "rnn_seq.inc"
#undef scalar
#undef SUF

#define scalar double
#define SUF f64
#include "rnn_seq.inc"
#undef scalar
#undef SUF
