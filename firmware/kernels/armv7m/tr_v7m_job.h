/*
 * What tr_matvec_s16_s8's Cortex-M3 hook (tr_fast_armv7m.h) hands tr_v7m_blocks (tr_matvec_s16_s8_v7m.S): the
 * byte offsets of the job's fields as #defines (the assembler includes this file), and in C the job struct, checked
 * against them where the path applies (32-bit pointers). Twin: quantize/twin/params.py Dense.product.
 */
#ifndef TR_V7M_JOB_H
#define TR_V7M_JOB_H

#define TR_V7M_JOB_W 0
#define TR_V7M_JOB_RQ 4             /* rq and out: one LDRD */
#define TR_V7M_JOB_OUT 8
#define TR_V7M_JOB_RQ2 12           /* rq2 and out2: one LDRD */
#define TR_V7M_JOB_OUT2 16
#define TR_V7M_JOB_BLOCKS 20
#define TR_V7M_JOB_A 24             /* a and groups_a: one LDRD */
#define TR_V7M_JOB_GROUPS_A 28
#define TR_V7M_JOB_B 32             /* b and groups_b: one LDRD */
#define TR_V7M_JOB_GROUPS_B 36
#define TR_V7M_JOB_HALF_A 40

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "../tr_kernels.h"
#include "../tr_layout.h"

/* Every full block of 4 rows of one product (both inputs and the requantisation; the activation stays in C).
 * tr_v7m_blocks writes back w, rq, out, rq2, out2 (advanced past the full blocks) and counts blocks down. */
typedef struct {
    const int16_t *w;               /* weights of the next block; advanced */
    const tr_requant_t *rq;         /* requantisation of the next block's rows; advanced */
    int32_t *out;                   /* first output row; advanced */
    const tr_requant_t *rq2;        /* NULL, or the second requantisation (out2 = (bias2 + acc_b mult_a2) >> 32) */
    int32_t *out2;                  /* first second output; advanced */
    int32_t blocks;                 /* full blocks, >= 1; counted down */
    const int16_t *a;               /* input a, padded */
    int32_t groups_a;               /* whole groups of 4 columns of input a, >= 1 (the half group not counted) */
    const int16_t *b;               /* input b, padded (unused when groups_b == 0) */
    int32_t groups_b;               /* TR_PAD4(cols_b) / 4, >= 0 */
    int32_t half_a;                 /* 1: input a has a last group with only columns 0 and 1 (cols_a % 4 in 1..2, and
                                     * cols_a > 4); its zero half is skipped */
} tr_v7m_job_t;

void tr_v7m_blocks(tr_v7m_job_t *job);

#if defined(__ARM_BIG_ENDIAN)
#error "tr_v7m_job.h: the assembly reads tr_requant_t.bias as two little-endian words"
#endif
/* the assembly takes a requantisation entry with one LDMIA: bias low, bias high, mult_a, mult_b */
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_LO == 0
         && TR_REQUANT_BIAS_HI == 4 && offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A && TR_REQUANT_MULT_A == 8
         && offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B && TR_REQUANT_MULT_B == 12
         && sizeof(tr_requant_t) == TR_REQUANT_SIZE && TR_REQUANT_SIZE == 16, v7m_requant);
TR_CHECK(offsetof(tr_v7m_job_t, w) == TR_V7M_JOB_W && offsetof(tr_v7m_job_t, rq) == TR_V7M_JOB_RQ
         && offsetof(tr_v7m_job_t, out) == TR_V7M_JOB_OUT && offsetof(tr_v7m_job_t, rq2) == TR_V7M_JOB_RQ2
         && offsetof(tr_v7m_job_t, out2) == TR_V7M_JOB_OUT2 && offsetof(tr_v7m_job_t, blocks) == TR_V7M_JOB_BLOCKS
         && offsetof(tr_v7m_job_t, a) == TR_V7M_JOB_A && offsetof(tr_v7m_job_t, groups_a) == TR_V7M_JOB_GROUPS_A
         && offsetof(tr_v7m_job_t, b) == TR_V7M_JOB_B && offsetof(tr_v7m_job_t, groups_b) == TR_V7M_JOB_GROUPS_B
         && offsetof(tr_v7m_job_t, half_a) == TR_V7M_JOB_HALF_A,
         v7m_job);
#endif /* __ASSEMBLER__ */

#endif /* TR_V7M_JOB_H */
