/*
 * What tr_matvec_s16_s8.c hands its assembly routines (tr_matvec_s16_s8_m0.c, tr_matvec_s16_s8_dsp.c): one
 * job struct per routine and the byte offset of every field the assembly reads, as named constants that the
 * asm strings splice in with TR_STR. The checks below refuse to compile where a constant and the C layout
 * disagree (checked on the target whose routine is built: the offsets are those of 32-bit pointers).
 * Twin: quantize/twin/params.py Dense.product.
 */
#ifndef TR_MATVEC_JOB_H
#define TR_MATVEC_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "tr_kernels.h"

#define TR_STR_(x) #x
#define TR_STR(x) TR_STR_(x)                /* a constant as asm text: TR_STR(TR_M0_JOB_RQ) is "4" */

/* A compile-time check that C99 accepts (no _Static_assert): an array of size -1 does not compile. */
#define TR_CHECK(cond, name) typedef char tr_check_##name[(cond) ? 1 : -1]

/* tr_requant_t (tinyrnn.h) as the assembly reads it: one 16-byte entry per row, bias as two words. */
#define TR_REQUANT_BIAS_LO 0                /* low word of bias (little-endian) */
#define TR_REQUANT_BIAS_HI 4                /* high word of bias */
#define TR_REQUANT_MULT_A 8
#define TR_REQUANT_MULT_B 12
#define TR_REQUANT_SIZE 16                  /* entries follow one another */

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
#define TR_M0_JOB_W 0
#define TR_M0_JOB_RQ 4
#define TR_M0_JOB_A 8
#define TR_M0_JOB_B 12
#define TR_M0_JOB_GROUPS_A 16
#define TR_M0_JOB_GROUPS_B 20
#define TR_M0_JOB_OUT 24
#define TR_M0_JOB_RQ2 28
#define TR_M0_JOB_OUT2 32
#define TR_M0_JOB_BLOCKS 36

void tr_m0_blocks(tr_m0_job_t *job);

/* Cortex-M4/M7/M33: tr_dsp_blocks does every full block of 4 rows (both inputs, the requantisation and the
 * optional activation). It reads the job once, into its frame, and writes back w and rq (advanced). */
typedef struct {
    const int16_t *w;               /* weights of the next block; advanced */
    const tr_requant_t *rq;         /* requantisation of the next block's rows; advanced */
    const int16_t *a;               /* input a, padded */
    const int16_t *b;               /* input b, padded (unused when groups_b == 0) */
    int32_t groups_a;               /* TR_PAD4(cols_a) / 4, >= 1 */
    int32_t groups_b;               /* TR_PAD4(cols_b) / 4, >= 0 */
    int32_t *out;                   /* first output row */
    int32_t blocks;                 /* full blocks, >= 1 */
    int32_t act;                    /* TR_ACT_NONE / TR_ACT_SIGMOID / TR_ACT_TANH, TR_DSP_DUAL or TR_DSP_LSTM */
    const void *aux;                /* activation: the segment table (tr_*_seg) at the word for z = 0 (word 256);
                                     * TR_DSP_DUAL: the second requantisation */
    int32_t aux2;                   /* activation: its rounding constant 2^(seg_bits - 1); TR_DSP_DUAL: bytes
                                     * from out[j] to the second output of row j */
    int32_t lstm_o_blocks;          /* TR_DSP_LSTM: blocks left <= this: the o gate (sigmoid) */
    int32_t lstm_g_blocks;          /* TR_DSP_LSTM: blocks left > this: the i, f gates (sigmoid); else g (tanh) */
    const int32_t *tanh_mid;        /* TR_DSP_LSTM, TR_DSP_GRU: the tanh segment table at the word for z = 0 */
    const int32_t *gru_z;           /* TR_DSP_GRU: the update gate z (Q15) of the first row; r follows z */
    int32_t gru_r_offset;           /* TR_DSP_GRU: bytes from z[j] to r[j] (4 units) */
    int32_t gru_h_offset;           /* TR_DSP_GRU: bytes from the new h[j] (at out, int16) to the old h[j] */
    int32_t a_half;                 /* 1: the last group of input a has 2 real columns (cols_a % 4 in 1..2,
                                     * groups_a >= 2); 0 otherwise */
    int32_t gru_copy;               /* TR_DSP_GRU: after the last block, copy this many blocks (4 units) of the new
                                     * h (at out) over the old one (0: the caller copies); 0 in other modes */
} tr_dsp_job_t;
#define TR_DSP_JOB_W 0
#define TR_DSP_JOB_RQ 4
#define TR_DSP_JOB_A 8
#define TR_DSP_JOB_B 12
#define TR_DSP_JOB_GROUPS_A 16
#define TR_DSP_JOB_GROUPS_B 20
#define TR_DSP_JOB_OUT 24
#define TR_DSP_JOB_BLOCKS 28
#define TR_DSP_JOB_ACT 32
#define TR_DSP_JOB_AUX 36
#define TR_DSP_JOB_AUX2 40
#define TR_DSP_JOB_LSTM_O_BLOCKS 44         /* LDRD: lstm_g_blocks is the next word */
#define TR_DSP_JOB_LSTM_G_BLOCKS 48
#define TR_DSP_JOB_TANH_MID 52
#define TR_DSP_JOB_GRU_Z 56                 /* LDRD: gru_r_offset is the next word */
#define TR_DSP_JOB_GRU_R_OFFSET 60
#define TR_DSP_JOB_GRU_H_OFFSET 64
#define TR_DSP_JOB_A_HALF 68
#define TR_DSP_JOB_GRU_COPY 72
/* job.act beyond the TR_ACT_* values the routine takes as they are (its jump table is indexed by act) */
#define TR_DSP_DUAL 3               /* out[j] from input a only, out2[j] from input b only */
#define TR_DSP_LSTM 4               /* TR_ACT_LSTM with units % 4 == 0 (no block straddles two gates) */
#define TR_DSP_GRU 5                /* TR_DSP_DUAL, then the GRU cell update: the new h (int16) at out (and over
                                     * the old h, out + gru_h_offset, after the last block: job.gru_copy) */

void tr_dsp_blocks(tr_dsp_job_t *job);

#if TR_MATVEC_M0 || TR_MATVEC_DSP
#if defined(__ARM_BIG_ENDIAN)
#error "tr_matvec_job.h: the assembly reads tr_requant_t.bias as two little-endian words"
#endif
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4
         && sizeof(((tr_requant_t *)0)->bias) == 8, requant_bias);
TR_CHECK(offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A, requant_mult_a);
TR_CHECK(offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B, requant_mult_b);
TR_CHECK(sizeof(tr_requant_t) == TR_REQUANT_SIZE, requant_size);
#endif

#if TR_MATVEC_M0
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
#endif

#if TR_MATVEC_DSP
TR_CHECK(offsetof(tr_dsp_job_t, w) == TR_DSP_JOB_W, dsp_job_w);
TR_CHECK(offsetof(tr_dsp_job_t, rq) == TR_DSP_JOB_RQ, dsp_job_rq);
TR_CHECK(offsetof(tr_dsp_job_t, a) == TR_DSP_JOB_A, dsp_job_a);
TR_CHECK(offsetof(tr_dsp_job_t, b) == TR_DSP_JOB_B, dsp_job_b);
TR_CHECK(offsetof(tr_dsp_job_t, groups_a) == TR_DSP_JOB_GROUPS_A, dsp_job_groups_a);
TR_CHECK(offsetof(tr_dsp_job_t, groups_b) == TR_DSP_JOB_GROUPS_B, dsp_job_groups_b);
TR_CHECK(offsetof(tr_dsp_job_t, out) == TR_DSP_JOB_OUT, dsp_job_out);
TR_CHECK(offsetof(tr_dsp_job_t, blocks) == TR_DSP_JOB_BLOCKS, dsp_job_blocks);
TR_CHECK(offsetof(tr_dsp_job_t, act) == TR_DSP_JOB_ACT, dsp_job_act);
TR_CHECK(offsetof(tr_dsp_job_t, aux) == TR_DSP_JOB_AUX, dsp_job_aux);
TR_CHECK(offsetof(tr_dsp_job_t, aux2) == TR_DSP_JOB_AUX2, dsp_job_aux2);
TR_CHECK(offsetof(tr_dsp_job_t, lstm_o_blocks) == TR_DSP_JOB_LSTM_O_BLOCKS, dsp_job_lstm_o_blocks);
TR_CHECK(offsetof(tr_dsp_job_t, lstm_g_blocks) == TR_DSP_JOB_LSTM_G_BLOCKS
         && TR_DSP_JOB_LSTM_G_BLOCKS == TR_DSP_JOB_LSTM_O_BLOCKS + 4, dsp_job_lstm_g_blocks);
TR_CHECK(offsetof(tr_dsp_job_t, tanh_mid) == TR_DSP_JOB_TANH_MID, dsp_job_tanh_mid);
TR_CHECK(offsetof(tr_dsp_job_t, gru_z) == TR_DSP_JOB_GRU_Z, dsp_job_gru_z);
TR_CHECK(offsetof(tr_dsp_job_t, gru_r_offset) == TR_DSP_JOB_GRU_R_OFFSET
         && TR_DSP_JOB_GRU_R_OFFSET == TR_DSP_JOB_GRU_Z + 4, dsp_job_gru_r_offset);
TR_CHECK(offsetof(tr_dsp_job_t, gru_h_offset) == TR_DSP_JOB_GRU_H_OFFSET, dsp_job_gru_h_offset);
TR_CHECK(offsetof(tr_dsp_job_t, a_half) == TR_DSP_JOB_A_HALF, dsp_job_a_half);
TR_CHECK(offsetof(tr_dsp_job_t, gru_copy) == TR_DSP_JOB_GRU_COPY, dsp_job_gru_copy);
#endif

#endif /* TR_MATVEC_JOB_H */
