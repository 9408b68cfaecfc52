/*
 * Activations by table lookup with linear interpolation (docs/quantization.md, "Activations").
 * Twin: quantize/twin/fixedpoint.py table_interp, sigmoid_q15, tanh_q15, exp_neg_q15.
 * The tables and their ranges are generated into tr_tables.{h,c} from quantize/twin/fixedpoint.py.
 */
#include "tr_fast.h"
#include "tr_fixedpoint.h"
#include "tr_kernels.h"
#include "tr_tables.h"

/* Interpolate `table` (TR_TABLE_SEGMENTS + 1 entries over [lo, lo + TR_TABLE_SEGMENTS << seg_bits))
 * at Q14 input z, clamped into the range. */
#define TR_TABLE_INTERP(table, lo, seg_bits, z, out)                                             \
    do {                                                                                           \
        const int32_t t_ = tr_clamp((z), (lo), (lo) + ((int32_t)TR_TABLE_SEGMENTS << (seg_bits)) - 1) - (lo); \
        const int32_t i_ = t_ >> (seg_bits);                                                       \
        (out) = tr_interp((table)[i_], (table)[i_ + 1], t_ & ((1 << (seg_bits)) - 1), (seg_bits)); \
    } while (0)

#if (TR_SIGMOID_LO != -(1 << (TR_SIGMOID_SAT_BITS - 1))) || (TR_TANH_LO != -(1 << (TR_TANH_SAT_BITS - 1)))
#error "tr_tables.h: sigmoid/tanh table ranges are not symmetric powers of two"
#endif

void tr_sigmoid_q15(int32_t *z, int n)
{
    int32_t *end = z + n;
    if (tr_fast_sigmoid_q15(z, n) != TR_FAST_NONE) {
        return;                                 /* an optimized path's loop (tr_fast.h) */
    }
    for (; z < end; z++) {
        TR_SYMMETRIC_INTERP(tr_sigmoid_seg, TR_SIGMOID_SAT_BITS, TR_SIGMOID_SEG_BITS, *z, *z);
    }
}

void tr_tanh_q15(int32_t *z, int n)
{
    int32_t *end = z + n;
    if (tr_fast_tanh_q15(z, n) != TR_FAST_NONE) {
        return;                                 /* an optimized path's loop (tr_fast.h) */
    }
    for (; z < end; z++) {
        TR_SYMMETRIC_INTERP(tr_tanh_seg, TR_TANH_SAT_BITS, TR_TANH_SEG_BITS, *z, *z);
    }
}

int32_t tr_exp_neg_q15(int32_t d)
{
    int32_t e;
    if (d >= 0) {
        return TR_EXP_ONE_Q15;       /* the largest logit: exactly 1.0 */
    }
    TR_TABLE_INTERP(tr_exp_table, TR_EXP_LO, TR_EXP_SEG_BITS, d, e);
    return e;
}
