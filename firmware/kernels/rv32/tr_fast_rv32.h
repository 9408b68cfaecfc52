/*
 * The RV32IM path behind tr_fast.h (RV32IM, RV32IMC, RV32IMAC: a 32-bit multiplier, no 64-bit multiply-accumulate).
 * The kernels read the byte layout here (layout 3, tinyrnn.h TINYRNN_KERNEL_C_LAYOUT: int8 weights in blocks of 16
 * rows, column-major), whose every row of a product (both inputs and the requantisation; the activation stays in
 * C) goes to one call of the assembly routine tr_rv32_bytes_blocks (tr_bytes_rv32.S): a byte load, a multiply and an
 * add per MAC. The element-wise loops (activations, the GRU and LSTM cell updates) are RV32IM assembly
 * (tr_elementwise_rv32.S). Include tr_fast.h, not this file.
 */
#ifndef TR_FAST_RV32_H
#define TR_FAST_RV32_H

#include "../tr_tables.h"
#include "tr_rv32_job.h"
#include "tr_tables_rv32.h"

/* Every row of a product in the byte layout (tr_matvec_s16_s8.c, layout 3) in one call of the assembly routine:
 * TR_FAST_DONE (a constant: the reference loop after it is dead code here). */
static inline tr_fast_t tr_fast_byte_product(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a,
                                             const int16_t *b, int32_t *out, int32_t *out2)
{
    tr_rv32_bytes_blocks(dense, rq2, a, b, out, out2);
    return TR_FAST_DONE;
}

/* tr_elementwise_rv32.S: the loops of tr_sigmoid_q15 / tr_tanh_q15 (pairs: tr_sigmoid_pairs / tr_tanh_pairs), of
 * tr_gru_step reset_after (`count` units from z; r, n, c follow z `units` words apart each) and of tr_lstm_step;
 * the cell loops take the gates before their activation (TR_FAST_CELL_GATES_RAW) and apply it themselves. */
void tr_rv32_sigmoid_q15(int32_t *z, int n, const int32_t *pairs);
void tr_rv32_tanh_q15(int32_t *z, int n, const int32_t *pairs);
void tr_rv32_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units, const int32_t *tanh_pairs,
                        const int32_t *sigmoid_pairs);
void tr_rv32_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c, const int32_t *tanh_pairs,
                         const int32_t *sigmoid_pairs);

/* The cell updates look up their gates' activations (one load and store fewer per gate value than a pass of the
 * activation loop before them): the gates' product leaves them Q14. */
#define TR_FAST_CELL_GATES_RAW 1
#define TR_FAST_SUPPLIES_ELEMENTWISE 1

static inline tr_fast_t tr_fast_sigmoid_q15(int32_t *z, int n)
{
    tr_rv32_sigmoid_q15(z, n, tr_sigmoid_pairs);
    return TR_FAST_DONE;
}

static inline tr_fast_t tr_fast_tanh_q15(int32_t *z, int n)
{
    tr_rv32_tanh_q15(z, n, tr_tanh_pairs);
    return TR_FAST_DONE;
}

static inline tr_fast_t tr_fast_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units)
{
    tr_rv32_gru_update(z, h, count, units, tr_tanh_pairs, tr_sigmoid_pairs);
    return TR_FAST_DONE;
}

static inline tr_fast_t tr_fast_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c)
{
    tr_rv32_lstm_update(i_gate, units, h, c, tr_tanh_pairs, tr_sigmoid_pairs);
    return TR_FAST_DONE;
}

#endif /* TR_FAST_RV32_H */
