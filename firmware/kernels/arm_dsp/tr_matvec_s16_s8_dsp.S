/*
 * The Cortex-M4/M7/M33 (DSP extension) path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout,
 * the SMLALD/SXTB16 reading of it, and the C path). Twin: quantize/twin/params.py Dense.product, and for the
 * cell updates quantize/twin/cells.py tr_gru_step, tr_lstm_step.
 *
 * Every full block of 4 rows (both inputs, the requantisation and the optional activation or cell update) in
 * one assembly routine, tr_dsp_blocks, which runs a list of jobs: tr_fast_arm_dsp.h gives it one product, or
 * tr_dsp_layer_step.c a whole layer step and the head's product. The job (tr_dsp_job_t, tr_dsp_job.h), its field
 * offsets and modes (tr_layout.h, generated and checked there). Other targets assemble this file to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_matvec_s16_s8_dsp.S"

#if TR_FAST_PATH_ARM_DSP

#if TR_ASM_SIGMOID_SAT_BITS != 19 || TR_ASM_SIGMOID_SEG_BITS != 10 || TR_ASM_TANH_SAT_BITS != 18 \
    || TR_ASM_TANH_SEG_BITS != 9 || TR_ASM_TABLE_SEGMENTS != 512
#error "tr_dsp_blocks hard-codes the table geometry of tr_tables.h (TR_LSTM_CELL): update its activation code"
#endif
#if TR_DSP_MODE_PRODUCT != 0 || TR_DSP_MODE_SIGMOID != 1 || TR_DSP_MODE_TANH != 2 || TR_DSP_MODE_GRU != 3 \
    || TR_DSP_MODE_A_ONLY != 4 || TR_DSP_MODE_LSTM != 5
#error "tr_dsp_blocks dispatches on job.mode through .Ltr_dsp_rows_table: reorder the table with the numbering"
#endif

    .syntax unified
    .thumb

/* The routine's frame (sp offsets). The first words are the row code's (loaded with one LDM per block; rq and
 * out at the same place for every mode), then the sums of input a (and b, TR_DSP_MODE_GRU), the segments' set-up,
 * and the job list. LDM and STM take registers in ascending order from ascending addresses: the order of the
 * words below is that of the registers the row code loads them into. (#defines, not .equ: they stay out of the
 * symbol table.) */
#define F_ROW0 0                    /* job.rows first word: round, or z (TR_DSP_MODE_GRU: advanced) */
#define F_ROW1 4                    /* job.rows second word: table, or rq2 (TR_DSP_MODE_GRU: advanced) */
#define F_RQ 8                      /* requantisation of the next block (advanced) */
#define F_OUT 12                    /* output of the next block (advanced) */
#define F_GRU 16                    /* TR_DSP_MODE_GRU, 5 words (LDM after F_OUT): bytes from z[j] to r[j], bytes
                                     * from the new h[j] to the old one, the tanh table, 2^(tanh seg_bits - 1),
                                     * 2^14 */
#define F_LSTM 16                   /* TR_DSP_MODE_LSTM, 6 words (LDM): the i gate of the next unit (advanced), bytes
                                     * from i[j] to f[j] (and half those to g[j]), c of the next unit (advanced),
                                     * the next new h (advanced), the tanh table, 2^14 */
#define F_ACC_A 40                  /* 4 words: the sums of input a, rows 0..3 */
#define F_ACC_B 56                  /* 4 words: TR_DSP_MODE_GRU, the sums of input b */
#define F_A 72                      /* segment a: input, loop count (LDRD), entry */
#define F_B 84                      /* segment b: input, loop count (LDRD), entry */
#define F_ROW_CODE 96               /* the job's row code (by mode) */
#define F_SAVE 100                  /* TR_DSP_MODE_GRU, _LSTM: block counter and weight pointer while the cell
                                     * update runs (STRD) */
#define F_JOB 108                   /* the job, jobs left including it (STRD) */
#define F_SIZE 116
#define TR_GRU_ROUND 16384          /* 2^14: the rounding of (z (h - n) + 2^14) >> 15 and (o t + 2^14) >> 15 */
#define TR_TANH_ROUND (1 << (TR_ASM_TANH_SEG_BITS - 1))
#define TR_SEGMENT_TABLE_BYTES 20   /* tr_dsp_segment_table of a 4-group loop */

/* Registers in the segments (the sums of a block): the weight pointer, the input pointer, the loop count, and
 * the job's blocks left (the row code leaves that one alone, but for the cell updates, which save it). */
    weights .req r11
    input   .req r12
    loops   .req lr
    blocks  .req r10

/* One group of 4 columns for the 4 rows, as pairs P = rows (0, 1) and Q = rows (2, 3): LDRD of 4 int16
 * inputs (r4 = x c0 c1, r5 = x c2 c3), per pair LDM of its 2 weight words (r8 = halfwords c0 c1, r9 = c2 c3),
 * per word SMLALD into the pair's 64-bit S (256 acc_B + acc_A), then SXTB16 in place (w_A) and SMLAD into
 * acc_A: 15 instructions for 16 MACs. Sums: r0 = acc_A(P), r2:r1 = S(P), r3 = acc_A(Q), r7:r6 = S(Q).
 * start: "first" in the first group (it starts the sums: SMUAD of the halfwords cannot overflow,
 * 2 * 32639 * 32768 < 2^31, and ASR sign-extends it into the high word of S), "next" after it. */
.macro tr_dsp_pair start, acc, lo, hi
    ldmia  weights!, {r8, r9}
.ifc \start, first
    smuad  \lo, r8, r4
    asr    \hi, \lo, #31
    sxtb16 r8, r8
    smuad  \acc, r8, r4
.else
    smlald \lo, \hi, r8, r4
    sxtb16 r8, r8
    smlad  \acc, r8, r4, \acc
.endif
    smlald \lo, \hi, r9, r5
    sxtb16 r9, r9
    smlad  \acc, r9, r5, \acc
.endm

.macro tr_dsp_group start
    ldrd   r4, r5, [input], #8
    tr_dsp_pair \start, r0, r1, r2
    tr_dsp_pair \start, r3, r6, r7
.endm

/* The start of a segment: the input and the loop count from the frame (at seg), the first group (it starts the
 * sums), then the rest of the groups from the entry the prologue chose (at seg + 8): the loop (tr_dsp_loop)
 * entered part-way, or its end when groups == 1. */
.macro tr_dsp_segment_start seg
    ldrd   input, loops, [sp, #\seg]
    tr_dsp_group first
    ldr    pc, [sp, #(\seg + 8)]
.endm

/* Group i of a loop pass, labelled as an entry: \label\()_g\i. */
.macro tr_dsp_loop_group label, i
\label\()_g\i:
    tr_dsp_group next
.endm

/* The loop over the groups after the first, unrolled by 4 (segment a: inputs x are small) or 8 (segment b: the
 * 7 groups after the first of h = 32 take one pass, 2 instructions of loop control per block instead of 4).
 * label: a unique label prefix. */
.macro tr_dsp_loop label, unroll
    tr_dsp_loop_group \label, 0
    tr_dsp_loop_group \label, 1
    tr_dsp_loop_group \label, 2
    tr_dsp_loop_group \label, 3
.if \unroll == 8
    tr_dsp_loop_group \label, 4
    tr_dsp_loop_group \label, 5
    tr_dsp_loop_group \label, 6
    tr_dsp_loop_group \label, 7
.endif
    subs   loops, loops, #1
    bne    \label\()_g0
.endm

/* The end of a segment: the sums of the 4 rows into r0 (row 0), r1 (row 1), r3 (row 2), r2 (row 3), with
 * acc_B = (S >> 8) - (acc_A >> 8) per pair (the low word of S >> 8 is lo >> 8 | hi << 24; the result fits
 * int32). */
.macro tr_dsp_segment_end
    lsr    r1, r1, #8
    orr    r1, r1, r2, lsl #24
    sub    r1, r1, r0, asr #8
    lsr    r6, r6, #8
    orr    r6, r6, r7, lsl #24
    sub    r2, r6, r3, asr #8
.endm

/* The last group of input a when only its first 2 columns are real (cols_a % 4 in 1..2, groups_a >= 2): the
 * word (c0, c1) of the input and of each pair, 9 instructions instead of 15 (the zero weights of c2, c3 are
 * stepped over). A second copy of segment a's loop ends in it. */
.macro tr_dsp_half_group
    ldr    r4, [input]
    ldr    r8, [weights], #8            /* pair P, c0 c1 (c2 c3 skipped) */
    ldr    r9, [weights], #8            /* pair Q, c0 c1 */
    smlald r1, r2, r8, r4
    sxtb16 r8, r8
    smlad  r0, r8, r4, r0
    smlald r6, r7, r9, r4
    sxtb16 r9, r9
    smlad  r3, r9, r4, r3
.endm

/* After segment a: its sums to the frame (segment b needs every register but r10). */
.macro tr_dsp_after_a
    tr_dsp_segment_end
    strd   r0, r1, [sp, #F_ACC_A]
    strd   r3, r2, [sp, #(F_ACC_A + 8)]
.endm

/* The entry table of a segment: the loop copies, then the end (groups == 1); Thumb addresses (bit 0 set) for
 * LDR PC. */
.macro tr_dsp_segment_table label, unroll
.if \unroll == 8
    .word  \label\()_g0 + 1, \label\()_g1 + 1, \label\()_g2 + 1, \label\()_g3 + 1
    .word  \label\()_g4 + 1, \label\()_g5 + 1, \label\()_g6 + 1, \label\()_g7 + 1, \label\()_done + 1
.else
    .word  \label\()_g0 + 1, \label\()_g1 + 1, \label\()_g2 + 1, \label\()_g3 + 1, \label\()_done + 1
.endif
.endm

/* Once per job: r9 = groups - 1 >= 0, r3 = the segment's entry table -> r4 = loop count
 * ceil((groups - 1) / unroll), r5 = entry address (copy -(groups - 1) & (unroll - 1), or the end). */
.macro tr_dsp_segment_setup unroll, log2
    add    r4, r9, #(\unroll - 1)
    lsr    r4, r4, #\log2
    rsbs   r5, r9, #0
    and    r5, r5, #(\unroll - 1)
    it     eq
    moveq  r5, #\unroll
    ldr    r5, [r3, r5, lsl #2]
.endm

/* Table activation of z in r5 (Q14 -> Q15, docs/quantization.md "Activations"): SSAT clamps to the table
 * range, table points at the segment word for z = 0 (tr_*_seg: start T[i] in the low halfword, rise in the
 * high one), so the signed segment index needs no offset; round holds the rounding constant 2^(fb-1);
 * y = T[i] + (rise * frac + 2^(fb-1)) >> fb (SMLATB: rise and frac < 2^fb are signed halfwords). Uses r4, r6, r7. */
.macro tr_dsp_act sat, fb, table, round, out
    ssat   r5, #\sat, r5
    asr    r6, r5, #\fb
    ldr    r7, [\table, r6, lsl #2]
    ubfx   r4, r5, #0, #\fb
    smlatb r6, r7, r4, \round
    sxth   r7, r7
    add    \out, r7, r6, asr #\fb
.endm

/* act: sigmoid or tanh (table r9, rounding r8). */
.macro tr_dsp_act_by act, out
.ifc \act, sigmoid
    tr_dsp_act TR_ASM_SIGMOID_SAT_BITS, TR_ASM_SIGMOID_SEG_BITS, r9, r8, \out
.else
    tr_dsp_act TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS, r9, r8, \out
.endif
.endm

/* Row k of the block: (bias + acc_b * mult_b + acc_a * mult_a) >> 32 with two SMLAL (acc_b in a register,
 * which then takes acc_a from the frame: that keeps r8 free for the rounding constant, and r10 for the block
 * counter). r12 walks the requant entries; LDMIA takes a whole entry in the order of TR_REQUANT_*: r4:r5 bias,
 * r6 mult_a, r7 mult_b. */
.macro tr_dsp_row_sum acc, k
    ldmia  r12!, {r4, r5, r6, r7}
    smlal  r4, r5, \acc, r7
    ldr    \acc, [sp, #(F_ACC_A + \k)]
    smlal  r4, r5, \acc, r6
.endm

/* The 4 rows with an activation: each row's result goes to the register of its sums, and lr takes them two by
 * two. */
.macro tr_dsp_rows_act act
    tr_dsp_row_sum r0, 0
    tr_dsp_act_by \act, r0
    tr_dsp_row_sum r1, 4
    tr_dsp_act_by \act, r1
    strd   r0, r1, [lr], #8
    tr_dsp_row_sum r3, 8
    tr_dsp_act_by \act, r3
    tr_dsp_row_sum r2, 12
    tr_dsp_act_by \act, r2
    strd   r3, r2, [lr], #8
.endm

/* Without activation: the high word of each sum as it is. */
.macro tr_dsp_rows_none
    tr_dsp_row_sum r0, 0
    str    r5, [lr], #4
    tr_dsp_row_sum r1, 4
    str    r5, [lr], #4
    tr_dsp_row_sum r3, 8
    str    r5, [lr], #4
    tr_dsp_row_sum r2, 12
    str    r5, [lr], #4
.endm

/* TR_DSP_MODE_A_ONLY, a row: the one input went through segment b, so its sums are in registers:
 * (bias + acc * mult_a) >> 32. */
.macro tr_dsp_a_only_row acc
    ldmia  r12!, {r4, r5, r6, r7}
    smlal  r4, r5, \acc, r6
    str    r5, [lr], #4
.endm

/* TR_DSP_MODE_GRU row k: n = (bias + acc_a * mult_a) >> 32 (mult_b is 0 there) and c = (bias2 + acc_b * mult_a2)
 * >> 32 from the second requantisation (both sums from the frame), then the cell update of tr_gru_step kept in
 * registers: pre = n + round_shift(r c, 15) (tr_add_gate_mul_q15: LSL, AND, ADD, SMMLAR), nj = tanh(pre) (table
 * r11, rounding r12), h' = nj + ((z (h - nj) + 2^14) >> 15) (lr = 2^14), stored as int16 at r3. h' needs no
 * saturation: 0 <= z < 2^15 puts it between nj and h, both int16. r0 walks z, r1 the second requantisation,
 * r2 the first; r9 = bytes from z[j] to r[j], r10 = bytes from the new h[j] to the old one. */
.macro tr_dsp_gru_row k
    ldmia  r2!, {r4, r5, r6, r7}
    ldr    r8, [sp, #(F_ACC_A + \k)]
    smlal  r4, r5, r8, r6               /* r5 = n */
    ldmia  r1!, {r4, r6, r7, r8}        /* bias2 (r4:r6), mult_a2, mult_b2 (unused) */
    ldr    r8, [sp, #(F_ACC_B + \k)]
    smlal  r4, r6, r8, r7               /* r6 = c */
    ldr    r4, [r0, r9]                 /* r */
    lsl    r4, r4, #17
    and    r7, r6, r4, asr #31
    add    r7, r7, r5
    smmlar r5, r6, r4, r7               /* r5 = pre */
    tr_dsp_act TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS, r11, r12, r5   /* r5 = nj */
    ldr    r6, [r0], #4                 /* z */
    ldrsh  r4, [r3, r10]                /* h */
    sub    r4, r4, r5
    mla    r4, r6, r4, lr
    add    r5, r5, r4, asr #15
    strh   r5, [r3], #2
.endm

/* TR_DSP_MODE_LSTM, the cell update of the unit whose o gate (Q15) is in o (tr_lstm_step):
 * c' = round_shift(i g, 16) + round_shift(f c, 15) (SMMULR of i << 16 by g; then tr_add_gate_mul_q15 as in
 * tr_dsp_gru_row), t = tanh(c') and h' = (o t + 2^14) >> 15 (lr = 2^14; the interpolation takes frac << 6 so
 * that the same constant rounds it: (rise frac 2^6 + 2^14) >> 15 = (rise frac + 2^8) >> 9). c' in place (r10), h'
 * as int16 at r11. r8 walks i, r9 = bytes from i[j] to f[j] (g[j] at twice that), r12 = the tanh table. */
.macro tr_dsp_lstm_cell o
    ldr    r4, [r8, r9, lsl #1]         /* g */
    ldr    r5, [r8, r9]                 /* f */
    ldr    r6, [r8], #4                 /* i */
    lsl    r6, r6, #16
    smmulr r6, r6, r4                   /* round_shift(i g, 16) */
    ldr    r4, [r10]                    /* c */
    lsl    r5, r5, #17
    and    r7, r4, r5, asr #31
    add    r7, r7, r6
    smmlar r5, r4, r5, r7               /* c' */
    str    r5, [r10], #4
    ssat   r5, #18, r5
    asr    r6, r5, #9
    ldr    r7, [r12, r6, lsl #2]
    ubfx   r4, r5, #0, #9
    lsl    r4, r4, #6
    smlatb r6, r7, r4, lr
    sxth   r7, r7
    add    r5, r7, r6, asr #15          /* t */
    mla    r5, \o, r5, lr
    asr    r5, r5, #15
    strh   r5, [r11], #2
.endm

/* The end of a block: the row pointers back to the frame, the block counter down, the next block from top or
 * the job's end. */
.macro tr_dsp_block_end top
    strd   r12, lr, [sp, #F_RQ]
    subs   blocks, blocks, #1
    bne    \top
    b      .Ltr_dsp_job_end
.endm

/* void tr_dsp_blocks(const tr_dsp_job_t *job, int32_t jobs): every job of the list (r0, r1: AAPCS), each its
 * blocks of 4 rows. Registers in the segments: r0..r3, r6, r7 sums (tr_dsp_group), r4/r5 inputs, r8/r9 weights,
 * and the aliases above. Per job, the prologue makes every decision once: the loop count and entry of each
 * segment, the address of the job's row code, and the row code's first words (F_ROW0..F_OUT, F_GRU, F_LSTM), so
 * a block reads its set-up with LDRD and LDM and dispatches with LDR PC. A job without a tr_dense_t goes on where
 * the previous one stopped (the weight pointer, the requant and output pointers and the segments as they are:
 * the i and f, g, o gates of the LSTM); a job without input a keeps the previous job's segments (the GRU
 * candidate). */
    .section .text.tr_dsp_blocks, "ax", %progbits
    .p2align 2,,3
    .global tr_dsp_blocks
    .thumb_func
    .type tr_dsp_blocks, %function
tr_dsp_blocks:
    push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}
    sub    sp, sp, #F_SIZE
.Ltr_dsp_job:                           /* r0 = the job, r1 = jobs left including it */
    strd   r0, r1, [sp, #F_JOB]
    ldrd   blocks, r2, [r0, #TR_DSP_JOB_BLOCKS]     /* blocks, mode */
    adr    r3, .Ltr_dsp_rows_table
    ldr    r3, [r3, r2, lsl #2]
    str    r3, [sp, #F_ROW_CODE]
    ldrd   r4, r5, [r0, #TR_DSP_JOB_ROWS]
    strd   r4, r5, [sp, #F_ROW0]
    cmp    r2, #TR_DSP_MODE_LSTM
    bne    .Ltr_dsp_not_lstm
    ldrd   r4, r6, [r0, #TR_DSP_JOB_LSTM_I]         /* i, c */
    lsl    r5, blocks, #4               /* f[j] is units = 4 * blocks words after i[j] */
    ldr    r7, [r0, #TR_DSP_JOB_OUT]
    ldr    r8, [r0, #TR_DSP_JOB_TANH]
    mov    r9, #TR_GRU_ROUND
    add    r3, sp, #F_LSTM
    stmia  r3, {r4, r5, r6, r7, r8, r9}
.Ltr_dsp_not_lstm:
    ldr    r1, [r0, #TR_DSP_JOB_DENSE]
    cmp    r1, #0
    beq    .Ltr_dsp_top                 /* go on with the previous product */
    ldrd   weights, r4, [r1, #TR_DENSE_WEIGHTS]     /* weights, requant */
    ldr    r5, [r0, #TR_DSP_JOB_OUT]
    strd   r4, r5, [sp, #F_RQ]
    ldr    r6, [r1, #TR_DENSE_ROWS]     /* rows | cols_a << 16 */
    ldrh   r7, [r1, #TR_DENSE_COLS_B]
    cmp    r2, #TR_DSP_MODE_GRU
    bne    .Ltr_dsp_not_gru
    ubfx   r4, r6, #0, #16
    lsl    r4, r4, #2                   /* r[j] is `rows` words after z[j] */
    ldrd   r5, r8, [r0, #TR_DSP_JOB_H_OFFSET]       /* h offset, tanh table */
    mov    r9, #TR_TANH_ROUND
    mov    r12, #TR_GRU_ROUND
    add    r3, sp, #F_GRU
    stmia  r3, {r4, r5, r8, r9, r12}
.Ltr_dsp_not_gru:
    ldr    r1, [r0, #TR_DSP_JOB_A]
    cbz    r1, .Ltr_dsp_inputs_set      /* the previous job's inputs and their set-up */
    lsr    r8, r6, #16                  /* cols_a */
    cmp    r2, #TR_DSP_MODE_A_ONLY
    beq    .Ltr_dsp_b_setup             /* the one input goes through segment b */
    sub    r9, r8, #1
    lsr    r9, r9, #2                   /* groups after the first */
    adr    r3, .Ltr_dsp_a_table
    cmp    r8, #4
    bls    .Ltr_dsp_a_setup
    sub    r4, r8, #1
    tst    r4, #2                       /* cols_a % 4 in 1..2: the last group is a half group */
    itt    eq
    subeq  r9, r9, #1
    addeq  r3, r3, #TR_SEGMENT_TABLE_BYTES          /* .Ltr_dsp_ah_table */
.Ltr_dsp_a_setup:
    tr_dsp_segment_setup 4, 2
    str    r1, [sp, #F_A]
    strd   r4, r5, [sp, #(F_A + 4)]
    ldr    r1, [r0, #TR_DSP_JOB_B]
    mov    r8, r7                       /* cols_b */
.Ltr_dsp_b_setup:
    sub    r9, r8, #1
    lsr    r9, r9, #2
    adr    r3, .Ltr_dsp_b_table
    tr_dsp_segment_setup 8, 3
    str    r1, [sp, #F_B]
    strd   r4, r5, [sp, #(F_B + 4)]
.Ltr_dsp_inputs_set:
    cmp    r2, #TR_DSP_MODE_A_ONLY
    beq    .Ltr_dsp_b_top
.Ltr_dsp_top:                           /* a block */
    tr_dsp_segment_start F_A
    tr_dsp_loop .Ltr_dsp_a, 4
.Ltr_dsp_a_done:
    tr_dsp_after_a
.Ltr_dsp_b_top:
    tr_dsp_segment_start F_B
    tr_dsp_loop .Ltr_dsp_b, 8
.Ltr_dsp_b_done:
    tr_dsp_segment_end
    ldr    pc, [sp, #F_ROW_CODE]
    tr_dsp_loop .Ltr_dsp_ah, 4          /* segment a ending in a half group */
.Ltr_dsp_ah_done:
    tr_dsp_half_group
    tr_dsp_after_a
    tr_dsp_segment_start F_B            /* a copy of segment b's start: no branch back */
.Ltr_dsp_sigmoid:
    ldmia  sp, {r8, r9, r12, lr}        /* round, table, rq, out */
    tr_dsp_rows_act sigmoid
    tr_dsp_block_end .Ltr_dsp_top
.Ltr_dsp_tanh:
    ldmia  sp, {r8, r9, r12, lr}
    tr_dsp_rows_act tanh
    tr_dsp_block_end .Ltr_dsp_top
.Ltr_dsp_none:
    ldrd   r12, lr, [sp, #F_RQ]
    tr_dsp_rows_none
    tr_dsp_block_end .Ltr_dsp_top
.Ltr_dsp_a_only:
    ldrd   r12, lr, [sp, #F_RQ]
    tr_dsp_a_only_row r0
    tr_dsp_a_only_row r1
    tr_dsp_a_only_row r3
    tr_dsp_a_only_row r2
    tr_dsp_block_end .Ltr_dsp_b_top
.Ltr_dsp_gru:
    strd   r10, r11, [sp, #F_SAVE]
    strd   r0, r1, [sp, #F_ACC_B]       /* sums of input b, rows 0..3 */
    strd   r3, r2, [sp, #(F_ACC_B + 8)]
    /* z, rq2, rq, out (F_ROW0..F_OUT), r offset, h offset, tanh table, the two rounding constants */
    ldmia  sp, {r0, r1, r2, r3, r9, r10, r11, r12, lr}
    tr_dsp_gru_row 0
    tr_dsp_gru_row 4
    tr_dsp_gru_row 8
    tr_dsp_gru_row 12
    stmia  sp, {r0, r1, r2, r3}
    ldrd   r10, r11, [sp, #F_SAVE]
    subs   blocks, blocks, #1
    bne    .Ltr_dsp_top
    b      .Ltr_dsp_copy_h
.Ltr_dsp_lstm:
    ldmia  sp, {r8, r9, r12, lr}        /* round, table (sigmoid), rq, out (unused) */
    tr_dsp_row_sum r0, 0                /* o of the 4 units in r0, r1, r3, r2 */
    tr_dsp_act_by sigmoid, r0
    tr_dsp_row_sum r1, 4
    tr_dsp_act_by sigmoid, r1
    tr_dsp_row_sum r3, 8
    tr_dsp_act_by sigmoid, r3
    tr_dsp_row_sum r2, 12
    tr_dsp_act_by sigmoid, r2
    str    r12, [sp, #F_RQ]
    strd   r10, r11, [sp, #F_SAVE]
    add    r4, sp, #F_LSTM
    ldmia  r4, {r8, r9, r10, r11, r12, lr}          /* i, f offset, c, new h, tanh table, 2^14 */
    tr_dsp_lstm_cell r0
    tr_dsp_lstm_cell r1
    tr_dsp_lstm_cell r3
    tr_dsp_lstm_cell r2
    add    r4, sp, #F_LSTM
    stmia  r4, {r8, r9, r10, r11}
    ldrd   r10, r11, [sp, #F_SAVE]
    subs   blocks, blocks, #1
    bne    .Ltr_dsp_top
.Ltr_dsp_copy_h:                        /* TR_DSP_MODE_GRU, _LSTM: the new h over the old one */
    ldr    r0, [sp, #F_JOB]
    ldr    r2, [r0, #TR_DSP_JOB_COPY]
    cbz    r2, .Ltr_dsp_job_end
    ldr    r1, [r0, #TR_DSP_JOB_OUT]
    ldr    r3, [r0, #TR_DSP_JOB_H_OFFSET]
    add    r3, r3, r1
    lsrs   r2, r2, #1                   /* 2 blocks (16 bytes) per LDM; carry: one more block */
    bcc    .Ltr_dsp_copy_pairs
    ldrd   r4, r5, [r1], #8
    strd   r4, r5, [r3], #8
.Ltr_dsp_copy_pairs:
    cbz    r2, .Ltr_dsp_job_end
.Ltr_dsp_copy:
    ldmia  r1!, {r4, r5, r6, r7}
    stmia  r3!, {r4, r5, r6, r7}
    subs   r2, r2, #1
    bne    .Ltr_dsp_copy
.Ltr_dsp_job_end:
    ldrd   r0, r1, [sp, #F_JOB]
    subs   r1, r1, #1
    itt    ne
    addne  r0, r0, #TR_DSP_JOB_SIZE
    bne    .Ltr_dsp_job
    add    sp, sp, #F_SIZE
    pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}
    .align 2
.Ltr_dsp_rows_table:                    /* by job->mode: TR_DSP_MODE_PRODUCT, SIGMOID, TANH, GRU, A_ONLY, LSTM */
    .word  .Ltr_dsp_none + 1, .Ltr_dsp_sigmoid + 1, .Ltr_dsp_tanh + 1, .Ltr_dsp_gru + 1
    .word  .Ltr_dsp_a_only + 1, .Ltr_dsp_lstm + 1
.Ltr_dsp_a_table:
    tr_dsp_segment_table .Ltr_dsp_a, 4
.Ltr_dsp_ah_table:                      /* must follow .Ltr_dsp_a_table (TR_SEGMENT_TABLE_BYTES) */
    tr_dsp_segment_table .Ltr_dsp_ah, 4
.Ltr_dsp_b_table:
    tr_dsp_segment_table .Ltr_dsp_b, 8
    .size tr_dsp_blocks, . - tr_dsp_blocks

    .unreq weights
    .unreq input
    .unreq loops
    .unreq blocks

#endif /* TR_FAST_PATH_ARM_DSP */
