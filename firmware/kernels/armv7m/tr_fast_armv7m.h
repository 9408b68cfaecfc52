/*
 * The Cortex-M3 (ARMv7-M without the DSP extension) path behind tr_fast.h: every full block of 4 rows of a product
 * (both inputs and the requantisation; the activation stays in C) in one call of the assembly routine
 * tr_v7m_blocks (tr_matvec_s16_s8_v7m.S). The element-wise hooks decline: the reference C is what GCC makes good
 * code of on Thumb-2. Include tr_fast.h, not this file.
 */
#ifndef TR_FAST_ARMV7M_H
#define TR_FAST_ARMV7M_H

#include "tr_v7m_job.h"

#define TR_V7M_ROW_BLOCK 4          /* tr_v7m_blocks is written for the layout's blocks of 4 rows */
/* Input a (cols columns) ends in a half group: 1 or 2 columns in its last group, after >= 1 whole group. */
#define TR_V7M_HALF_A(cols) ((cols) > 4 && ((cols) % 4 == 1 || (cols) % 4 == 2))
#define TR_FAST_HEAD_OUTPUTS(fn) typedef char tr_fast_no_head_outputs  /* not needed: no layer-step hook */

/* The product's full blocks (tr_fast.h TR_FAST_MATVEC_BLOCKS); the remainder block and the activation follow in
 * the reference C. */
#define TR_FAST_MATVEC_BLOCKS(dense, groups_a, groups_b, rq2, a, b, out, out2, act, gru,                     \
                              row, activated, fused, w, rq, done_value)                                          \
    do {                                                                                                      \
        (void)(act), (void)(gru), (void)(activated), (void)(fused);                                    \
        if ((dense)->rows >= TR_V7M_ROW_BLOCK) {                                                              \
            tr_v7m_job_t job_;                                                                                \
            job_.w = (w);                                                                                     \
            job_.rq = (rq);                                                                                   \
            job_.out = (out);                                                                                 \
            job_.rq2 = (rq2);                                                                                 \
            job_.out2 = (out2);                                                                               \
            job_.blocks = (dense)->rows / TR_V7M_ROW_BLOCK;                                                   \
            job_.a = (a);                                                                                     \
            job_.half_a = TR_V7M_HALF_A((dense)->cols_a);                                                     \
            job_.groups_a = (groups_a) - job_.half_a;                                                         \
            job_.b = (b);                                                                                     \
            job_.groups_b = (groups_b);                                                                       \
            tr_v7m_blocks(&job_);                                                                             \
            (row) = (dense)->rows - (dense)->rows % TR_V7M_ROW_BLOCK;                                         \
            (w) = job_.w;                                                                                     \
            (rq) = job_.rq;                                                                                   \
        }                                                                                                     \
    } while (0)

/* The element-wise loops stay the reference C: constants, whose arguments are not even evaluated. */
#define tr_fast_sigmoid_q15(z, n) TR_FAST_NONE
#define tr_fast_tanh_q15(z, n) TR_FAST_NONE
#define tr_fast_gru_update(z, h, count, units) TR_FAST_NONE
#define tr_fast_lstm_update(i_gate, units, h, c) TR_FAST_NONE
#define TR_FAST_CELL_GATES_RAW 0    /* the gates' product applies their activation */

/* No layer-step hook (as in tr_fast_reference.h). */
#define tr_fast_layer_step(model, l, x, h, c, scratch) TR_FAST_NONE

static inline void tr_fast_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y)
{
    (void)head, (void)k, (void)scratch, (void)y;    /* never called: tr_fast_layer_step returns no logits */
}

#endif /* TR_FAST_ARMV7M_H */
