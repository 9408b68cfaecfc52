/*
 * What the Cortex-M4/M7/M33 hook (tr_fast_arm_dsp.h, tr_dsp_layer_step.c) hands tr_dsp_blocks
 * (tr_matvec_s16_s8_dsp.S): the job struct. Its field offsets and modes, as the assembly uses them, are generated
 * into tr_layout.h and checked against the C layout below (the offsets are those of 32-bit pointers: include this
 * header only where the path applies). Twin: quantize/twin/params.py Dense.product, quantize/twin/cells.py.
 */
#ifndef TR_DSP_JOB_H
#define TR_DSP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "../tr_kernels.h"
#include "../tr_layout.h"            /* the offsets and constants (generated) */
#include "../tr_tables.h"

/* Cortex-M4/M7/M33: tr_dsp_blocks runs a list of jobs in one call; a job is every full block of 4 rows of one
 * product (both inputs, the requantisation and the optional activation). The routine reads the product's shape,
 * weights and requantisation from its tr_dense_t and writes nothing back to the jobs. */
typedef union {                     /* the two words a job's row code reads first (by mode) */
    struct {
        int32_t round;              /* 2^(seg_bits - 1): the rounding of the interpolation */
        const int32_t *table;       /* tr_sigmoid_seg / tr_tanh_seg at the word for z = 0 (word 256) */
    } act;                          /* TR_DSP_MODE_SIGMOID, _TANH, _LSTM (sigmoid) */
    struct {
        const int32_t *z;           /* the update gate z (Q15) of row 0; r follows `rows` words later */
        const tr_requant_t *rq2;    /* the second requantisation */
    } gru;                          /* TR_DSP_MODE_GRU */
} tr_dsp_rows_t;
typedef struct {
    const tr_dense_t *dense;        /* the product (rows, cols_a, cols_b, weights, requant); NULL: go on with the
                                     * previous job's product, inputs and outputs after its last block */
    const int16_t *a;               /* input a, padded (TR_DSP_MODE_A_ONLY: the only input); NULL: the previous
                                     * job's inputs a and b (the same cols_a and cols_b) */
    const int16_t *b;               /* input b, padded (unused in TR_DSP_MODE_A_ONLY) */
    void *out;                      /* output of row 0: int32 rows (TR_DSP_MODE_GRU: the new h, int16) */
    int32_t blocks;                 /* blocks of 4 rows to do, >= 1 */
    int32_t mode;                   /* TR_DSP_MODE_* (tr_layout.h), below */
    tr_dsp_rows_t rows;             /* by mode; unused for TR_DSP_MODE_PRODUCT, _A_ONLY */
    int32_t h_offset;               /* GRU, LSTM modes: bytes from the new h[j] (at out, int16) to the old h[j] */
    const int32_t *tanh;            /* GRU, LSTM modes: tr_tanh_seg at the word for z = 0 */
    int32_t copy;                   /* GRU, LSTM modes: after the last block, copy this many blocks (4 units) of the
                                     * new h (at out) over the old one (0: the caller copies) */
    const int32_t *lstm_i;          /* TR_DSP_MODE_LSTM: the i gate (Q15) of unit 0; f and g follow 4 * blocks words
                                     * apart each */
    int32_t *lstm_c;                /* TR_DSP_MODE_LSTM: the cell state c (Q14) of unit 0, updated in place */
} tr_dsp_job_t;
/* The modes (job.mode; the routine's table of row code is indexed by it):
 *   TR_DSP_MODE_PRODUCT, _SIGMOID, _TANH  the requantised product (Q14), or its sigmoid or tanh (Q15)
 *   TR_DSP_MODE_GRU     the GRU reset_after candidate, its two sums requantised apart (n from input a with requant,
 *                       c from input b with rows.gru.rq2), then the cell update: the new h (int16) at out (and over
 *                       the old h, out + h_offset, after the last block: job.copy); one block is 4 units
 *   TR_DSP_MODE_A_ONLY  no input b (cols_b == 0), no activation: the head
 *   TR_DSP_MODE_LSTM    the o gate (sigmoid, job.rows.act), then the LSTM cell update from i, f, g (lstm_i): c in
 *                       place, the new h (int16) at out and over the old one as in TR_DSP_MODE_GRU; one block is
 *                       4 units */
void tr_dsp_blocks(const tr_dsp_job_t *job, int32_t jobs);

#if defined(__ARM_BIG_ENDIAN)
#error "tr_dsp_job.h: the assembly reads tr_requant_t.bias as two little-endian words"
#endif
TR_CHECK(offsetof(tr_requant_t, bias) == TR_REQUANT_BIAS_LO && TR_REQUANT_BIAS_HI == TR_REQUANT_BIAS_LO + 4
         && sizeof(((tr_requant_t *)0)->bias) == 8, requant_bias);
TR_CHECK(offsetof(tr_requant_t, mult_a) == TR_REQUANT_MULT_A, requant_mult_a);
TR_CHECK(offsetof(tr_requant_t, mult_b) == TR_REQUANT_MULT_B, requant_mult_b);
TR_CHECK(sizeof(tr_requant_t) == TR_REQUANT_SIZE, requant_size);
TR_CHECK(TR_ASM_SIGMOID_SAT_BITS == TR_SIGMOID_SAT_BITS && TR_ASM_SIGMOID_SEG_BITS == TR_SIGMOID_SEG_BITS
         && TR_ASM_TANH_SAT_BITS == TR_TANH_SAT_BITS && TR_ASM_TANH_SEG_BITS == TR_TANH_SEG_BITS
         && TR_ASM_TABLE_SEGMENTS == TR_TABLE_SEGMENTS, table_geometry);
TR_CHECK(offsetof(tr_dsp_job_t, dense) == TR_DSP_JOB_DENSE, dsp_job_dense);
TR_CHECK(offsetof(tr_dsp_job_t, a) == TR_DSP_JOB_A, dsp_job_a);
TR_CHECK(offsetof(tr_dsp_job_t, b) == TR_DSP_JOB_B, dsp_job_b);
TR_CHECK(offsetof(tr_dsp_job_t, out) == TR_DSP_JOB_OUT, dsp_job_out);
TR_CHECK(offsetof(tr_dsp_job_t, blocks) == TR_DSP_JOB_BLOCKS, dsp_job_blocks);
TR_CHECK(offsetof(tr_dsp_job_t, mode) == TR_DSP_JOB_MODE && TR_DSP_JOB_MODE == TR_DSP_JOB_BLOCKS + 4, dsp_job_mode);
TR_CHECK(offsetof(tr_dsp_job_t, rows) == TR_DSP_JOB_ROWS && sizeof(tr_dsp_rows_t) == 8
         && offsetof(tr_dsp_rows_t, act.round) == 0 && offsetof(tr_dsp_rows_t, act.table) == 4
         && offsetof(tr_dsp_rows_t, gru.z) == 0 && offsetof(tr_dsp_rows_t, gru.rq2) == 4, dsp_job_rows);
TR_CHECK(offsetof(tr_dsp_job_t, h_offset) == TR_DSP_JOB_H_OFFSET, dsp_job_h_offset);
TR_CHECK(offsetof(tr_dsp_job_t, tanh) == TR_DSP_JOB_TANH && TR_DSP_JOB_TANH == TR_DSP_JOB_H_OFFSET + 4, dsp_job_tanh);
TR_CHECK(offsetof(tr_dsp_job_t, copy) == TR_DSP_JOB_COPY, dsp_job_copy);
TR_CHECK(offsetof(tr_dsp_job_t, lstm_i) == TR_DSP_JOB_LSTM_I, dsp_job_lstm_i);
TR_CHECK(offsetof(tr_dsp_job_t, lstm_c) == TR_DSP_JOB_LSTM_C && TR_DSP_JOB_LSTM_C == TR_DSP_JOB_LSTM_I + 4,
         dsp_job_lstm_c);
TR_CHECK(sizeof(tr_dsp_job_t) == TR_DSP_JOB_SIZE, dsp_job_size);
TR_CHECK(offsetof(tr_dense_t, rows) == TR_DENSE_ROWS && offsetof(tr_dense_t, cols_a) == TR_DENSE_COLS_A
         && TR_DENSE_COLS_A == TR_DENSE_ROWS + 2 && sizeof(((tr_dense_t *)0)->rows) == 2, dense_rows_cols_a);
TR_CHECK(offsetof(tr_dense_t, cols_b) == TR_DENSE_COLS_B && sizeof(((tr_dense_t *)0)->cols_b) == 2, dense_cols_b);
TR_CHECK(offsetof(tr_dense_t, weights) == TR_DENSE_WEIGHTS, dense_weights);
TR_CHECK(offsetof(tr_dense_t, requant) == TR_DENSE_REQUANT && TR_DENSE_REQUANT == TR_DENSE_WEIGHTS + 4,
         dense_requant);
#endif /* TR_DSP_JOB_H */
