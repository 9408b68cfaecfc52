/*
 * The Cortex-M4/M7/M33 (DSP extension) path behind tr_fast.h: every full block of 4 rows of a product (both
 * inputs, the requantisation and the activation or the GRU cell update) in the assembly routine tr_dsp_blocks
 * (tr_matvec_s16_s8_dsp.S), and a whole layer step with the head's product in one call of it
 * (tr_dsp_layer_step.c). The element-wise hooks decline: the reference C is what GCC makes good code of here.
 * Include tr_fast.h, not this file.
 */
#ifndef TR_FAST_ARM_DSP_H
#define TR_FAST_ARM_DSP_H

#include "../tr_tables.h"
#include "tr_dsp_job.h"

#define TR_DSP_ROW_BLOCK 4          /* tr_dsp_blocks is written for the layout's blocks of 4 rows */

/* tr_dsp_layer_step.c: layer l's whole step (tr_gru_step reset_after or tr_lstm_step: the products and the cell
 * update) in one call of the block routine, where units % 4 == 0, and after the last layer the head's product
 * over the new h too (tr_head's logits into scratch[0..rows), where the head's rows % 4 == 0).
 * h: the layer's state h; c: its LSTM cell state. */
tr_fast_t tr_dsp_layer_step(const tinyrnn_model_t *model, int l, const int16_t *x, int16_t *h, int32_t *c,
                            int32_t *scratch);

/* The product's full blocks as one job (tr_fast.h TR_FAST_MATVEC_BLOCKS); returns done_value from the caller when
 * no row is left (every row's activation done too, and for the GRU candidate the new h copied: job.copy). */
#define TR_FAST_MATVEC_BLOCKS(dense, groups_a, groups_b, rq2, a, b, out, out2, act, gru,                     \
                              row, activated, fused, w, rq, done_value)                                          \
    do {                                                                                                      \
        (void)(out2);                                                                                         \
        if ((dense)->rows >= TR_DSP_ROW_BLOCK) {                                                              \
            tr_dsp_job_t job_;                                                                                \
            const int blocks_ = (dense)->rows / TR_DSP_ROW_BLOCK;                                             \
            job_.dense = (dense);                                                                             \
            job_.a = (a);                                                                                     \
            job_.b = (b);                                                                                     \
            job_.out = (out);                                                                                 \
            job_.blocks = blocks_;                                                                            \
            job_.mode = TR_DSP_MODE_PRODUCT;  /* TR_ACT_LSTM here (units % 4 != 0): activations follow in C */ \
            if ((gru) != NULL) {                                                                              \
                job_.mode = TR_DSP_MODE_GRU;                                                                  \
                job_.out = (gru)->h_new;      /* the routine writes int16 there in this mode */               \
                job_.rows.gru.z = (gru)->z;                                                                   \
                job_.rows.gru.rq2 = (rq2);                                                                    \
                job_.h_offset = (int32_t)((const char *)(gru)->h - (const char *)(gru)->h_new);               \
                job_.tanh = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;                                              \
                /* the routine copies the new h over the old when no remainder block still reads the old h */ \
                job_.copy = (dense)->rows % TR_DSP_ROW_BLOCK == 0 ? blocks_ : 0;                              \
                (fused) = blocks_ * TR_DSP_ROW_BLOCK;                                                         \
            } else if ((dense)->cols_b == 0) {                                                                \
                job_.mode = TR_DSP_MODE_A_ONLY;  /* the activation (none for the head) follows in C */        \
            } else if ((act) == TR_ACT_SIGMOID) {                                                             \
                job_.mode = TR_DSP_MODE_SIGMOID;                                                              \
                job_.rows.act.round = 1 << (TR_SIGMOID_SEG_BITS - 1);                                         \
                job_.rows.act.table = tr_sigmoid_seg + TR_TABLE_SEGMENTS / 2;                                 \
                (activated) = blocks_ * TR_DSP_ROW_BLOCK;                                                     \
            } else if ((act) == TR_ACT_TANH) {                                                                \
                job_.mode = TR_DSP_MODE_TANH;                                                                 \
                job_.rows.act.round = 1 << (TR_TANH_SEG_BITS - 1);                                            \
                job_.rows.act.table = tr_tanh_seg + TR_TABLE_SEGMENTS / 2;                                    \
                (activated) = blocks_ * TR_DSP_ROW_BLOCK;                                                     \
            }                                                                                                 \
            tr_dsp_blocks(&job_, 1);                                                                          \
            (row) = blocks_ * TR_DSP_ROW_BLOCK;                                                               \
            if ((row) == (dense)->rows && ((activated) == (row) || (act) == TR_ACT_NONE)) {                   \
                return (done_value);          /* every row done: the caller's result */                       \
            }                                                                                                 \
            (w) += (size_t)(row) * 2 * (size_t)((groups_a) + (groups_b));  /* 8 halfwords a block and group */ \
            (rq) += (row);                                                                                    \
        }                                                                                                     \
    } while (0)

#define TR_FAST_SUPPLIES_LAYER_STEP 1   /* the element-wise hooks decline (tr_fast_reference.h) */

static inline tr_fast_t tr_fast_layer_step(const tinyrnn_model_t *model, int l, const int16_t *x, int16_t *h,
                                           int32_t *c, int32_t *scratch)
{
    return tr_dsp_layer_step(model, l, x, h, c, scratch);
}

/* tr_head's second half, over the logits the layer step left in scratch */
#define TR_FAST_HEAD_OUTPUTS(fn)                                                                        \
    void tr_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y)                             \
    {                                                                                                   \
        fn(head, k, scratch, y);                                                                        \
    }                                                                                                   \
    typedef char tr_fast_head_outputs_defined

static inline void tr_fast_head_outputs(uint8_t head, int k, int32_t *scratch, int32_t *y)
{
    tr_head_outputs(head, k, scratch, y);
}

#endif /* TR_FAST_ARM_DSP_H */
