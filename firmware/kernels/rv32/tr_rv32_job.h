/*
 * The arguments of tr_rv32_bytes_blocks (tr_bytes_rv32.S), which the RV32IM hook (tr_fast_rv32.h) calls with every
 * row of a product, and the checks of the offsets the assembly reads (tr_layout.h, generated) against C where the
 * path applies (32-bit pointers). Twin: quantize/twin/params.py Dense.product.
 */
#ifndef TR_RV32_JOB_H
#define TR_RV32_JOB_H

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "../tr_kernels.h"
#include "../tr_layout.h"
#include "../tr_tables.h"

/* Every row of `dense` in the byte layout (tinyrnn.h TINYRNN_KERNEL_C_LAYOUT 3) over inputs a and b (b unused when
 * dense->cols_b is 0): out[j] = (bias + acc_a mult_a + acc_b mult_b) >> 32; with rq2 (not NULL: the GRU reset_after
 * candidate, mult_b 0) out[j] takes acc_a alone and out2[j] = (rq2[j].bias + acc_b rq2[j].mult_a) >> 32. */
void tr_rv32_bytes_blocks(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
                          int32_t *out, int32_t *out2);

typedef char tr_rv32_requires_little_endian[__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 1 : -1];
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4
         && offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A && offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B
         && sizeof(tr_requant_t) == TR_REQUANT_SIZE, rv32_requant);
/* tr_bytes_rv32.S reads rows, cols_a and cols_b by LHU, weights and requant by LW. */
TR_CHECK(offsetof(tr_dense_t, rows) == TR_DENSE_ROWS && offsetof(tr_dense_t, cols_a) == TR_DENSE_COLS_A
         && offsetof(tr_dense_t, cols_b) == TR_DENSE_COLS_B && offsetof(tr_dense_t, weights) == TR_DENSE_WEIGHTS
         && offsetof(tr_dense_t, requant) == TR_DENSE_REQUANT && sizeof(((tr_dense_t *)0)->rows) == 2
         && sizeof(((tr_dense_t *)0)->cols_a) == 2 && sizeof(((tr_dense_t *)0)->cols_b) == 2, rv32_dense);
/* tr_elementwise_rv32.S: the table geometry it assembles with (tr_layout.h) is the tables' own. */
TR_CHECK(TR_ASM_SIGMOID_SAT_BITS == TR_SIGMOID_SAT_BITS && TR_ASM_SIGMOID_SEG_BITS == TR_SIGMOID_SEG_BITS
         && TR_ASM_TANH_SAT_BITS == TR_TANH_SAT_BITS && TR_ASM_TANH_SEG_BITS == TR_TANH_SEG_BITS
         && TR_ASM_TABLE_SEGMENTS == TR_TABLE_SEGMENTS, rv32_table_geometry);
#endif /* __ASSEMBLER__ */

#endif /* TR_RV32_JOB_H */
