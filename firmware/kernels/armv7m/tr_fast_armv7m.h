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

#endif /* TR_FAST_ARMV7M_H */
