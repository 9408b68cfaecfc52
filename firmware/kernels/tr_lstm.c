/*
 * One LSTM step (docs/quantization.md, "LSTM step"; Keras gate order i, f, g, o).
 * Twin: quantize/twin/cells.py tr_lstm_step.
 */
#include "tr_fast.h"
#include "tr_fixedpoint.h"
#include "tr_kernels.h"
#include "tr_tables.h"

void tr_lstm_step(const tr_layer_t *layer, uint16_t units, const int16_t *x, int16_t *h, int32_t *c,
                  int32_t *scratch)
{
    int32_t *i_gate = scratch;              /* [units] input gate */
    int32_t *f_gate = scratch + units;      /* [units] forget gate */
    int32_t *g_cand = scratch + 2 * units;  /* [units] cell candidate */
    int32_t *o_gate = scratch + 3 * units;  /* [units] output gate */
    int j;

    /* all four gates, Q15 (Q14 where the path's cell update applies the activations: tr_fast.h) */
    tr_matvec_s16_s8(&layer->gates, x, h, i_gate, TR_FAST_CELL_GATES_RAW ? TR_ACT_NONE : TR_ACT_LSTM);

    if (tr_fast_lstm_update(i_gate, units, h, c) != TR_FAST_NONE) {
        return;                 /* an optimized path's loop (tr_fast.h; it finds f, g, o from i_gate and units) */
    }
    for (j = 0; j < units; j++) {
        /* c' = f c + i g: Q15 x Q14 -> Q14 (int64 product), Q15 x Q15 -> Q14 */
        const int32_t cj = tr_add_gate_mul_q15(tr_round_shift(i_gate[j] * g_cand[j], 16), f_gate[j], c[j]);
        int32_t t;                                                          /* tanh(c'), Q15 */
        TR_SYMMETRIC_INTERP(tr_tanh_seg, TR_TANH_SAT_BITS, TR_TANH_SEG_BITS, cj, t);
        c[j] = cj;
        h[j] = (int16_t)(tr_mla(o_gate[j], t, 1 << 14) >> 15);     /* o tanh(c'), rounded: Q15 */
    }
}
