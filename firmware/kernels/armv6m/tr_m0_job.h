/*
 * What tr_matvec_s16_s8's Cortex-M0/M0+ hook (tr_fast_armv6m.h) hands tr_m0_blocks (tr_matvec_s16_s8_m0.S): the
 * job struct. The byte offset of every field the assembly reads is generated into tr_layout.h and checked against
 * the C layout below (the offsets are those of 32-bit pointers: include this header only where the path applies).
 * Twin: quantize/twin/params.py Dense.product.
 */
#ifndef TR_M0_JOB_H
#define TR_M0_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "../tr_kernels.h"
#include "../tr_layout.h"            /* the offsets and constants (generated) */
#include "../tr_tables.h"

/* Cortex-M0/M0+: tr_m0_blocks does every full block of 4 rows (both inputs and the requantisation; the
 * activation stays in C). It writes back w, rq, out, rq2, out2 (advanced) and counts blocks down. */
typedef struct {
    const int16_t *w;               /* weights of the next block; advanced */
    const tr_requant_t *rq;         /* requantisation of the next block's rows; advanced */
    const int16_t *a;               /* input a, padded */
    const int16_t *b;               /* input b, padded (unused when groups_b == 0) */
    int32_t groups_a;               /* TR_PAD4(cols_a) / 4, >= 1 */
    int32_t groups_b;               /* TR_PAD4(cols_b) / 4, >= 0 */
    int32_t *out;                   /* first output row; advanced */
    const tr_requant_t *rq2;        /* NULL, or the second requantisation (out2 = (bias2 + acc_b mult_a2) >> 32) */
    int32_t *out2;                  /* first second output; advanced */
    int32_t blocks;                 /* full blocks, >= 1; counted down */
} tr_m0_job_t;

void tr_m0_blocks(tr_m0_job_t *job);

#if defined(__ARM_BIG_ENDIAN)
#error "tr_m0_job.h: the assembly reads tr_requant_t.bias as two little-endian words"
#endif
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4
         && sizeof(((tr_requant_t *)0)->bias) == 8, requant_bias);
TR_CHECK(offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A, requant_mult_a);
TR_CHECK(offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B, requant_mult_b);
TR_CHECK(sizeof(tr_requant_t) == TR_REQUANT_SIZE, requant_size);
TR_CHECK(TR_ASM_SIGMOID_SAT_BITS == TR_SIGMOID_SAT_BITS && TR_ASM_SIGMOID_SEG_BITS == TR_SIGMOID_SEG_BITS
         && TR_ASM_TANH_SAT_BITS == TR_TANH_SAT_BITS && TR_ASM_TANH_SEG_BITS == TR_TANH_SEG_BITS
         && TR_ASM_TABLE_SEGMENTS == TR_TABLE_SEGMENTS, table_geometry);
TR_CHECK(offsetof(tr_m0_job_t, w) == TR_M0_JOB_W, m0_job_w);
TR_CHECK(offsetof(tr_m0_job_t, rq) == TR_M0_JOB_RQ, m0_job_rq);
TR_CHECK(offsetof(tr_m0_job_t, a) == TR_M0_JOB_A, m0_job_a);
TR_CHECK(offsetof(tr_m0_job_t, b) == TR_M0_JOB_B, m0_job_b);
TR_CHECK(offsetof(tr_m0_job_t, groups_a) == TR_M0_JOB_GROUPS_A, m0_job_groups_a);
TR_CHECK(offsetof(tr_m0_job_t, groups_b) == TR_M0_JOB_GROUPS_B, m0_job_groups_b);
TR_CHECK(offsetof(tr_m0_job_t, out) == TR_M0_JOB_OUT, m0_job_out);
TR_CHECK(offsetof(tr_m0_job_t, rq2) == TR_M0_JOB_RQ2, m0_job_rq2);
TR_CHECK(offsetof(tr_m0_job_t, out2) == TR_M0_JOB_OUT2, m0_job_out2);
TR_CHECK(offsetof(tr_m0_job_t, blocks) == TR_M0_JOB_BLOCKS, m0_job_blocks);


#endif /* TR_M0_JOB_H */
