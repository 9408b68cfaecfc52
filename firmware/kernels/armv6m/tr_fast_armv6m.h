/*
 * The Cortex-M0/M0+ (Thumb-1) path behind tr_fast.h: every full block of 4 rows of a product (both inputs and the
 * requantisation; the activation stays in C) in the assembly routine tr_m0_blocks (tr_matvec_s16_s8_m0.S), and
 * the element-wise loops (activations, the GRU and LSTM cell updates) in Thumb-1 assembly
 * (tr_elementwise_m0.S). No layer-step hook. Include tr_fast.h, not this file.
 */
#ifndef TR_FAST_ARMV6M_H
#define TR_FAST_ARMV6M_H

#include "../tr_tables.h"
#include "tr_m0_job.h"

#define TR_M0_ROW_BLOCK 4           /* tr_m0_blocks is written for the layout's blocks of 4 rows */

/* tr_elementwise_m0.S: the loops of tr_sigmoid_q15 / tr_tanh_q15 (seg: tr_sigmoid_seg / tr_tanh_seg), of
 * tr_gru_step reset_after (`count` units from z; r, n, c follow z `units` words apart each) and of tr_lstm_step. */
void tr_m0_sigmoid_q15(int32_t *z, int n, const int32_t *seg);
void tr_m0_tanh_q15(int32_t *z, int n, const int32_t *seg);
void tr_m0_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units, const int32_t *tanh_seg);
void tr_m0_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c, const int32_t *tanh_seg);

/* The product's full blocks (tr_fast.h TR_FAST_MATVEC_BLOCKS; tr_m0_blocks writes back where the weights and the
 * requantisation stop); the remainder block and the activation follow in C. */
#define TR_FAST_MATVEC_BLOCKS(dense, groups_a, groups_b, rq2, a, b, out, out2, act, gru,                     \
                              row, activated, fused, w, rq, done_value)                                          \
    do {                                                                                                      \
        (void)(act), (void)(gru), (void)(activated), (void)(fused);                                    \
        if ((dense)->rows >= TR_M0_ROW_BLOCK) {                                                               \
            tr_m0_job_t job_;                                                                                 \
            job_.w = (w);                                                                                     \
            job_.rq = (rq);                                                                                   \
            job_.a = (a);                                                                                     \
            job_.b = (b);                                                                                     \
            job_.groups_a = (groups_a);                                                                       \
            job_.groups_b = (groups_b);                                                                       \
            job_.out = (out);                                                                                 \
            job_.rq2 = (rq2);                                                                                 \
            job_.out2 = (out2);                                                                               \
            job_.blocks = (dense)->rows / TR_M0_ROW_BLOCK;                                                    \
            tr_m0_blocks(&job_);                                                                              \
            (row) = (dense)->rows - (dense)->rows % TR_M0_ROW_BLOCK;                                          \
            (w) = job_.w;                                                                                     \
            (rq) = job_.rq;                                                                                   \
        }                                                                                                     \
    } while (0)

#define TR_FAST_SUPPLIES_ELEMENTWISE 1

static inline tr_fast_t tr_fast_sigmoid_q15(int32_t *z, int n)
{
    tr_m0_sigmoid_q15(z, n, tr_sigmoid_seg);
    return TR_FAST_DONE;
}

static inline tr_fast_t tr_fast_tanh_q15(int32_t *z, int n)
{
    tr_m0_tanh_q15(z, n, tr_tanh_seg);
    return TR_FAST_DONE;
}

static inline tr_fast_t tr_fast_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units)
{
    tr_m0_gru_update(z, h, count, units, tr_tanh_seg);
    return TR_FAST_DONE;
}

static inline tr_fast_t tr_fast_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c)
{
    tr_m0_lstm_update(i_gate, units, h, c, tr_tanh_seg);
    return TR_FAST_DONE;
}

#endif /* TR_FAST_ARMV6M_H */
