/*
 * The RV32IM path behind tr_fast.h (RV32IM, RV32IMC, RV32IMAC: a 32-bit multiplier, no 64-bit multiply-accumulate).
 * Its speed is in the weight layout, not in assembly: the kernels read layout 3 here (tinyrnn.h
 * TINYRNN_KERNEL_C_LAYOUT), int8 weights in blocks of 8 rows, column-major, whose products tr_matvec_s16_s8.c sums
 * in C at a byte load, a multiply and an add per MAC. Every hook declines: the reference C runs. Include tr_fast.h,
 * not this file.
 */
#ifndef TR_FAST_RV32_H
#define TR_FAST_RV32_H

#define TR_FAST_HEAD_OUTPUTS(fn) typedef char tr_fast_no_head_outputs  /* not needed: no layer-step hook */

/* Layout 3's matvec in tr_matvec_s16_s8.c takes no block hook; defined for the layout-2 code it replaces. */
#define TR_FAST_MATVEC_BLOCKS(dense, groups_a, groups_b, rq2, a, b, out, out2, act, gru,                     \
                              row, activated, fused, w, rq, done_value)                                          \
    do {                                                                                                      \
    } while (0)

/* The element-wise loops stay the reference C: constants, whose arguments are not even evaluated. */
#define tr_fast_sigmoid_q15(z, n) TR_FAST_NONE
#define tr_fast_tanh_q15(z, n) TR_FAST_NONE
#define tr_fast_gru_update(z, h, count, units) TR_FAST_NONE
#define tr_fast_lstm_update(i_gate, units, h, c) TR_FAST_NONE

/* No layer-step hook (as in tr_fast_reference.h). */
#define tr_fast_layer_step(model, l, x, h, c, scratch) TR_FAST_NONE

static inline void tr_fast_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y)
{
    (void)head, (void)k, (void)scratch, (void)y;    /* never called: tr_fast_layer_step returns no logits */
}

#endif /* TR_FAST_RV32_H */
