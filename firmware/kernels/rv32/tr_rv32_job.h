/*
 * What tr_matvec_s16_s8's RV32IM hook (tr_fast_rv32.h) hands tr_rv32_blocks (tr_matvec_s16_s8_rv32.S): the byte
 * offsets of the job's fields as #defines (the assembler includes this file), and in C the job struct, checked
 * against them where the path applies (32-bit pointers). Twin: quantize/twin/params.py Dense.product.
 */
#ifndef TR_RV32_JOB_H
#define TR_RV32_JOB_H

#define TR_RV32_JOB_W 0
#define TR_RV32_JOB_RQ 4
#define TR_RV32_JOB_A 8
#define TR_RV32_JOB_B 12
#define TR_RV32_JOB_GROUPS_A 16
#define TR_RV32_JOB_HALF_A 20
#define TR_RV32_JOB_GROUPS_B 24
#define TR_RV32_JOB_HALF_B 28
#define TR_RV32_JOB_OUT 32
#define TR_RV32_JOB_RQ2 36
#define TR_RV32_JOB_OUT2 40
#define TR_RV32_JOB_BLOCKS 44

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "../tr_kernels.h"
#include "../tr_layout.h"

/* An input of n columns is read as `groups` whole groups of 4 and, where n % 4 is 1 or 2 (`half` = 1), a last
 * group of which only columns 0 and 1 hold weights (the rest of that group is zero padding, skipped).
 * tr_rv32_blocks writes back w and rq (advanced past the full blocks). */
typedef struct {
    const int16_t *w;               /* weights of the first block; advanced */
    const tr_requant_t *rq;         /* requantisation of the first block's rows; advanced */
    const int16_t *a;               /* input a, padded */
    const int16_t *b;               /* input b, padded (unused when it has no columns) */
    int32_t groups_a, half_a;       /* input a: whole groups of 4 columns, and 1 for a last half group */
    int32_t groups_b, half_b;       /* input b: the same (0 and 0 when there is no b) */
    int32_t *out;                   /* first output row */
    const tr_requant_t *rq2;        /* NULL, or the second requantisation (out2 = (bias2 + acc_b mult_a2) >> 32) */
    int32_t *out2;                  /* first second output */
    int32_t blocks;                 /* full blocks, >= 1 */
} tr_rv32_job_t;

void tr_rv32_blocks(tr_rv32_job_t *job);

typedef char tr_rv32_requires_little_endian[__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 1 : -1];
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4
         && offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A && offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B
         && sizeof(tr_requant_t) == TR_REQUANT_SIZE, rv32_requant);
TR_CHECK(offsetof(tr_rv32_job_t, w) == TR_RV32_JOB_W && offsetof(tr_rv32_job_t, rq) == TR_RV32_JOB_RQ
         && offsetof(tr_rv32_job_t, a) == TR_RV32_JOB_A && offsetof(tr_rv32_job_t, b) == TR_RV32_JOB_B
         && offsetof(tr_rv32_job_t, groups_a) == TR_RV32_JOB_GROUPS_A
         && offsetof(tr_rv32_job_t, half_a) == TR_RV32_JOB_HALF_A
         && offsetof(tr_rv32_job_t, groups_b) == TR_RV32_JOB_GROUPS_B
         && offsetof(tr_rv32_job_t, half_b) == TR_RV32_JOB_HALF_B && offsetof(tr_rv32_job_t, out) == TR_RV32_JOB_OUT
         && offsetof(tr_rv32_job_t, rq2) == TR_RV32_JOB_RQ2 && offsetof(tr_rv32_job_t, out2) == TR_RV32_JOB_OUT2
         && offsetof(tr_rv32_job_t, blocks) == TR_RV32_JOB_BLOCKS, rv32_job);
#endif /* __ASSEMBLER__ */

#endif /* TR_RV32_JOB_H */
