/*
 * One GRU step (docs/quantization.md, "GRU step"; Keras gate order z, r, n).
 * Twin: quantize/twin/cells.py tr_gru_step.
 */
#include "tr_fast.h"
#include "tr_fixedpoint.h"
#include "tr_kernels.h"
#include "tr_tables.h"

void tr_gru_step(const tr_layer_t *layer, int reset_after, uint16_t units, const int16_t *x,
                 int16_t *h, int32_t *scratch)
{
    int32_t *z = scratch;              /* [units] update gate, Q14 then Q15 */
    int32_t *r = scratch + units;      /* [units] reset gate, Q14 then Q15 */
    int32_t *n = scratch + 2 * units;  /* [units] candidate: pre-activation Q14, then tanh Q15 */
    int j;

    /* z and r rows, one pass, Q15 (Q14 where the path's cell update applies the sigmoid: tr_fast.h) */
    tr_matvec_s16_s8(&layer->gates, x, h, z, reset_after && TR_FAST_CELL_GATES_RAW ? TR_ACT_NONE : TR_ACT_SIGMOID);

    if (reset_after) {
        int32_t *c = scratch + 3 * units;                       /* [units] U_n h + b_hn, Q14 */
        int16_t *h_new = (int16_t *)n;                          /* [done] where the pass builds the new h */
        int done;
        /* W_n x + b_in and U_n h + b_hn (Q14) in one pass: the generator stores [W_n | U_n] as the
         * candidate's weights; candidate_recurrent holds the second requantisation only. Units 0..done-1
         * also get their update in that pass (an optimized path: h[0..done) is the new h on return). */
        done = tr_matvec_gru_s16_s8(&layer->candidate, layer->candidate_recurrent.requant, x, h, z, h_new, n, c);
        /* the rest, unless an optimized path's element-wise loop does it (tr_fast.h) */
        if (tr_fast_gru_update(z + done, h + done, units - done, units) == TR_FAST_NONE) {
            /* one pointer over the 4 arrays of a unit (z, r, n, c are `units` words apart): fewer live
             * registers */
            const int32_t *g = z + done, *const end = z + units;
            int16_t *hj = h + done;
            for (; g < end; g++, hj++) {
                const int32_t pre = tr_add_gate_mul_q15(g[2 * units], g[units], g[3 * units]); /* n + round_shift(r c, 15) */
                int32_t nj;                                                  /* tanh(pre), Q15 */
                TR_SYMMETRIC_INTERP(tr_tanh_seg, TR_TANH_SAT_BITS, TR_TANH_SEG_BITS, pre, nj);
                /* h' = sat16(n + round_shift(z (h - n), 15)) = z h + (1 - z) n */
                *hj = (int16_t)TR_SAT_BITS(nj + (tr_mla(g[0], *hj - nj, 1 << 14) >> 15), 16);
            }
        }
        (void)r;
        return;
    }
    {
        int16_t *rh = (int16_t *)(scratch + 3 * units);        /* [TR_PAD4(units)] r * h, Q15 */
        for (j = 0; j < units; j++) {
            rh[j] = (int16_t)tr_round_shift(r[j] * h[j], 15);
        }
        for (; j < TR_PAD4(units); j++) {
            rh[j] = 0;
        }
        tr_matvec_s16_s8(&layer->candidate, x, rh, n, TR_ACT_TANH);
    }
    for (j = 0; j < units; j++) {                               /* h' = z h + (1 - z) n */
        h[j] = (int16_t)TR_SAT_BITS(n[j] + tr_round_shift(z[j] * (h[j] - n[j]), 15), 16);
    }
}
