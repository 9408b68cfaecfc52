/*
 * One LSTM step (docs/quantization.md, "LSTM step"; Keras gate order i, f, g, o).
 * Twin: quantize/twin.py tr_lstm_step.
 */
#include "tr_fixedpoint.h"
#include "tr_kernels.h"

void tr_lstm_step(const tr_layer_t *layer, uint16_t units, const int16_t *x, int16_t *h, int32_t *c,
                  int32_t *scratch)
{
    int32_t *i_gate = scratch;              /* [units] input gate */
    int32_t *f_gate = scratch + units;      /* [units] forget gate */
    int32_t *g_cand = scratch + 2 * units;  /* [units] cell candidate */
    int32_t *o_gate = scratch + 3 * units;  /* [units] output gate */
    int j;

    tr_matvec_s16_s8(&layer->gates, x, h, i_gate, TR_ACT_LSTM);     /* all four gates, Q15 */

    for (j = 0; j < units; j++) {
        /* c' = f c + i g: Q15 x Q14 -> Q14 (int64 product), Q15 x Q15 -> Q14 */
        c[j] = tr_round_shift64((int64_t)f_gate[j] * c[j], 15) + tr_round_shift(i_gate[j] * g_cand[j], 16);
        g_cand[j] = c[j];                               /* tanh(c') computed in place below */
    }
    tr_tanh_q15(g_cand, units);
    for (j = 0; j < units; j++) {
        h[j] = (int16_t)tr_round_shift(o_gate[j] * g_cand[j], 15);
    }
}
