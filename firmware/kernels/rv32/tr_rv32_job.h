/*
 * What the RV32IM hook (tr_fast_rv32.h) hands tr_rv32_bytes_blocks (tr_bytes_rv32.S): the byte offsets of the job's
 * fields as #defines (the assembler includes this file), and in C the job struct, checked against them where the
 * path applies (32-bit pointers). Twin: quantize/twin/params.py Dense.product.
 */
#ifndef TR_RV32_JOB_H
#define TR_RV32_JOB_H

#define TR_RV32_JOB_W 0
#define TR_RV32_JOB_RQ 4
#define TR_RV32_JOB_A 8
#define TR_RV32_JOB_B 12
#define TR_RV32_JOB_COLS_A 16
#define TR_RV32_JOB_COLS_B 20
#define TR_RV32_JOB_OUT 24
#define TR_RV32_JOB_RQ2 28
#define TR_RV32_JOB_OUT2 32
#define TR_RV32_JOB_ROWS 36

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "../tr_kernels.h"
#include "../tr_layout.h"
#include "../tr_tables.h"

/* Every row of one product in the byte layout (tinyrnn.h TINYRNN_KERNEL_C_LAYOUT 3): the full blocks of 16 rows
 * and the last block of the remainder (padded to a width of 4, 8 or 16). */
typedef struct {
    const int8_t *w;                /* weights of the first block */
    const tr_requant_t *rq;         /* requantisation of the first row */
    const int16_t *a;               /* input a */
    const int16_t *b;               /* input b (unused when it has no columns) */
    int32_t cols_a, cols_b;         /* columns of each input (0 when there is no b) */
    int32_t *out;                   /* first output row */
    const tr_requant_t *rq2;        /* NULL, or the second requantisation (out2 = (bias2 + acc_b mult_a2) >> 32) */
    int32_t *out2;                  /* first second output */
    int32_t rows;                   /* rows of the product, >= 1 */
} tr_rv32_job_t;

void tr_rv32_bytes_blocks(tr_rv32_job_t *job);

typedef char tr_rv32_requires_little_endian[__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 1 : -1];
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4
         && offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A && offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B
         && sizeof(tr_requant_t) == TR_REQUANT_SIZE, rv32_requant);
TR_CHECK(offsetof(tr_rv32_job_t, w) == TR_RV32_JOB_W && offsetof(tr_rv32_job_t, rq) == TR_RV32_JOB_RQ
         && offsetof(tr_rv32_job_t, a) == TR_RV32_JOB_A && offsetof(tr_rv32_job_t, b) == TR_RV32_JOB_B
         && offsetof(tr_rv32_job_t, cols_a) == TR_RV32_JOB_COLS_A
         && offsetof(tr_rv32_job_t, cols_b) == TR_RV32_JOB_COLS_B && offsetof(tr_rv32_job_t, out) == TR_RV32_JOB_OUT
         && offsetof(tr_rv32_job_t, rq2) == TR_RV32_JOB_RQ2 && offsetof(tr_rv32_job_t, out2) == TR_RV32_JOB_OUT2
         && offsetof(tr_rv32_job_t, rows) == TR_RV32_JOB_ROWS, rv32_job);
/* tr_elementwise_rv32.S: the table geometry it assembles with (tr_layout.h) is the tables' own. */
TR_CHECK(TR_ASM_SIGMOID_SAT_BITS == TR_SIGMOID_SAT_BITS && TR_ASM_SIGMOID_SEG_BITS == TR_SIGMOID_SEG_BITS
         && TR_ASM_TANH_SAT_BITS == TR_TANH_SAT_BITS && TR_ASM_TANH_SEG_BITS == TR_TANH_SEG_BITS
         && TR_ASM_TABLE_SEGMENTS == TR_TABLE_SEGMENTS, rv32_table_geometry);
#endif /* __ASSEMBLER__ */

#endif /* TR_RV32_JOB_H */
