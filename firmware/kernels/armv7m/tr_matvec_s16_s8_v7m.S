/*
 * The Cortex-M3 (ARMv7-M, no DSP extension) path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout
 * and the C path; tr_fast_armv7m.h hands this routine the full blocks). Twin: quantize/twin/params.py
 * Dense.product.
 *
 * Every full block of 4 rows (both inputs and the requantisation; the activation stays in C) in one assembly
 * routine, tr_v7m_blocks. The same integers as the C path, in fewer instructions:
 *  - sums, column by column: the input x (LDRSH) serves the halfword h = 256 w_B + w_A of both pairs of the block;
 *    per halfword LDRSH h, SMLAL S += h x (64-bit, exact), SXTB w_A, MLA acc_A += w_A x: 4 instructions for 2 MACs.
 *    At the end of an input acc_B = (S >> 8) - (acc_A >> 8) (both floor shifts, as the DSP path does; the low word
 *    of S >> 8 is enough, acc_B fits int32). The last loads of a group post-increment the pointers, so the group
 *    loop costs a CMP and a branch;
 *  - requantisation, (bias + acc_a mult_a + acc_b mult_b) >> 32: one LDMIA of the entry and two SMLAL (a zero
 *    multiplier adds nothing, as tr_requant_q14 skips it); the second requantisation of the GRU candidate,
 *    (bias2 + acc_b mult_a2) >> 32, one SMLAL.
 * The job (tr_v7m_job_t) and its field offsets (tr_v7m_job.h, checked there). Other targets assemble this file to
 * nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"
#include "tr_v7m_job.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_matvec_s16_s8_v7m.S"

#if TR_FAST_PATH_ARMV7M

    .syntax unified
    .thumb

/* The frame (sp offsets): the 4 row sums of input a, in the order STMIA writes r6, r7, r9, r11 */
#define F_ACC_A0 0
#define F_ACC_A2 4
#define F_ACC_A1 8
#define F_ACC_A3 12
#define F_SIZE 16

    weights .req r0
    input   .req r1
    end     .req r2                     /* the input's end */
    x       .req r3
    h01     .req r4                     /* the halfword of pair (0, 1), then its w_A */
    h23     .req r5                     /* the halfword of pair (2, 3), then its w_A */
    sum_a0    .req r6                     /* acc_A of row 0; acc_B of row 1 is S01 */
    sum_a2    .req r7                     /* acc_A of row 2; acc_B of row 3 is S23 */
    s01_lo  .req r8
    s01_hi  .req r9
    s23_lo  .req r10
    s23_hi  .req r11
    job     .req r12

/* Column c (0..3) of a group: x, then the halfword of each pair (pair (2, 3) is 8 bytes after pair (0, 1)).
 * Column 0 goes last: its loads advance the pointers to the next group. */
.macro tr_v7m_column c
.if \c == 0
    ldrsh  x, [input], #8
    ldrsh  h23, [weights, #8]
    ldrsh  h01, [weights], #16
.else
    ldrsh  x, [input, #(2 * \c)]
    ldrsh  h01, [weights, #(2 * \c)]
    ldrsh  h23, [weights, #(8 + 2 * \c)]
.endif
    smlal  s01_lo, s01_hi, h01, x
    sxtb   h01, h01
    mla    sum_a0, h01, x, sum_a0
    smlal  s23_lo, s23_hi, h23, x
    sxtb   h23, h23
    mla    sum_a2, h23, x, sum_a2
.endm

/* The sums of the block's 4 rows over one input (input, end set): rows 0, 1, 2, 3 in sum_a0, s01_hi, sum_a2,
 * s23_hi. input_b: the input may have no columns (end == input: zero sums); else it has >= 1 whole group, and
 * where job.half_a says so a last group of which only columns 0 and 1 hold weights (its zero half skipped). */
.macro tr_v7m_sums input_b
    movs   sum_a0, #0
    movs   sum_a2, #0
    mov    s01_lo, #0
    mov    s01_hi, #0
    mov    s23_lo, #0
    mov    s23_hi, #0
.if \input_b
    cmp    input, end
    beq    .Ltr_v7m_sums_done\@
.endif
.Ltr_v7m_group\@:
    tr_v7m_column 1
    tr_v7m_column 2
    tr_v7m_column 3
    tr_v7m_column 0
    cmp    input, end
    bne    .Ltr_v7m_group\@
.if \input_b == 0
    ldr    end, [job, #TR_V7M_JOB_HALF_A]     /* (the loop is done with end) */
    cbz    end, .Ltr_v7m_sums_done\@
    tr_v7m_column 1                     /* the half group: column 0 last, it steps over the group */
    tr_v7m_column 0
.endif
.Ltr_v7m_sums_done\@:
    lsr    s01_lo, s01_lo, #8           /* the low word of S >> 8 */
    orr    s01_lo, s01_lo, s01_hi, lsl #24
    sub    s01_hi, s01_lo, sum_a0, asr #8
    lsr    s23_lo, s23_lo, #8
    orr    s23_lo, s23_lo, s23_hi, lsl #24
    sub    s23_hi, s23_lo, sum_a2, asr #8
.endm

/* Row k's output: the high word of bias + acc_a mult_a + acc_b mult_b (the entry from r0, advanced; acc_a from the
 * frame), stored at lr (advanced). */
.macro tr_v7m_row f_acc_a, acc_b
    ldr    r1, [sp, #\f_acc_a]
    ldmia  r0!, {r2, r3, r4, r5}        /* bias low, bias high, mult_a, mult_b */
    smlal  r2, r3, r1, r4
    smlal  r2, r3, \acc_b, r5
    str    r3, [lr], #4
.endm

/* Row k's second output: the high word of bias2 + acc_b mult_a2, the same way. */
.macro tr_v7m_row2 acc_b
    ldmia  r0!, {r2, r3, r4, r5}        /* bias2 low, bias2 high, mult_a2, mult_b2 (unused) */
    smlal  r2, r3, \acc_b, r4
    str    r3, [lr], #4
.endm

/* void tr_v7m_blocks(tr_v7m_job_t *job): every full block of 4 rows (the job in r0, AAPCS); writes back w, rq,
 * out, rq2, out2 (advanced) and counts blocks down. */
    .section .text.tr_v7m_blocks, "ax", %progbits
    .p2align 2,,3
    .global tr_v7m_blocks
    .thumb_func
    .type tr_v7m_blocks, %function
tr_v7m_blocks:
    push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}
    sub    sp, sp, #F_SIZE
    mov    job, r0
    ldr    weights, [job, #TR_V7M_JOB_W]
.Ltr_v7m_block:
    ldrd   input, end, [job, #TR_V7M_JOB_A]         /* a, groups_a */
    add    end, input, end, lsl #3
    tr_v7m_sums 0
    stmia  sp, {sum_a0, sum_a2, s01_hi, s23_hi}         /* F_ACC_A0, _A2, _A1, _A3 */
    ldrd   input, end, [job, #TR_V7M_JOB_B]         /* b, groups_b (0: zero sums) */
    add    end, input, end, lsl #3
    tr_v7m_sums 1
    str    weights, [job, #TR_V7M_JOB_W]
    ldrd   r0, lr, [job, #TR_V7M_JOB_RQ]            /* rq, out */
    tr_v7m_row F_ACC_A0, sum_a0
    tr_v7m_row F_ACC_A1, s01_hi
    tr_v7m_row F_ACC_A2, sum_a2
    tr_v7m_row F_ACC_A3, s23_hi
    strd   r0, lr, [job, #TR_V7M_JOB_RQ]
    ldrd   r0, lr, [job, #TR_V7M_JOB_RQ2]           /* rq2, out2 */
    cbz    r0, .Ltr_v7m_block_end
    tr_v7m_row2 sum_a0
    tr_v7m_row2 s01_hi
    tr_v7m_row2 sum_a2
    tr_v7m_row2 s23_hi
    strd   r0, lr, [job, #TR_V7M_JOB_RQ2]
.Ltr_v7m_block_end:
    ldr    r1, [job, #TR_V7M_JOB_BLOCKS]
    ldr    weights, [job, #TR_V7M_JOB_W]
    subs   r1, r1, #1
    str    r1, [job, #TR_V7M_JOB_BLOCKS]
    bne    .Ltr_v7m_block
    add    sp, sp, #F_SIZE
    pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}
    .size tr_v7m_blocks, . - tr_v7m_blocks

    .unreq weights
    .unreq input
    .unreq end
    .unreq x
    .unreq h01
    .unreq h23
    .unreq sum_a0
    .unreq sum_a2
    .unreq s01_lo
    .unreq s01_hi
    .unreq s23_lo
    .unreq s23_hi
    .unreq job

#endif /* TR_FAST_PATH_ARMV7M */
