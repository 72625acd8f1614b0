/* rnn_template.h - the one templating style of the recurrent kernels: a .inc file holds the code
 * for one dtype, written with `scalar` for the element type and FN(name) for every name that
 * exists once per dtype; the .c file includes it twice:
 *
 *     #define scalar float            #define scalar double
 *     #define SUF f32                 #define SUF f64
 *     #include "rnn_step_dtype.inc"   #include "rnn_step_dtype.inc"
 *     #undef scalar / #undef SUF      #undef scalar / #undef SUF
 *
 * so FN(mg_lstm_forward_planned) is mg_lstm_forward_planned_f32 in the first copy and _f64 in the
 * second (rnn_step.c, rnn_seq.c, rnn_ref.c). The prototypes are declared once, in rnn_cells.h
 * and rnn_ref.h.
 */
#ifndef MG_RNN_TEMPLATE_H
#define MG_RNN_TEMPLATE_H

#define MG_CAT_(a, b) a##_##b
#define MG_CAT(a, b) MG_CAT_(a, b)   /* MG_CAT(x, f32) -> x_f32, after expanding both arguments */
#define FN(name) MG_CAT(name, SUF)

#endif
