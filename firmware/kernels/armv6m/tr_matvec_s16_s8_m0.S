/*
 * The Cortex-M0/M0+ (Thumb-1) path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout and the
 * C path; tr_fast_armv6m.h hands this routine the full blocks). Twin: quantize/twin/params.py Dense.product.
 *
 * Every full block of 4 rows (both inputs and the requantisation; the activation stays in C) in one assembly
 * routine, tr_m0_blocks. GCC's code spills the 11 live values of dot_block_c out of the 8 low registers and
 * calls the 64 x 64 multiply helper twice per row. The same integers:
 *  - sums, grouped by 2 columns: per pair and word W = (h0, h1) (LDR), S2 = h0 x0 + h1 x1 and
 *    A2 = w_A0 x0 + w_A1 x1, then acc_A += A2 and acc_B += (S2 - A2) >> 8. Exact in int32:
 *    |S2| <= 2 * 32639 * 32768 < 2^31 and S2 - A2 = 256 (w_B0 x0 + w_B1 x1), |w_B0 x0 + w_B1 x1| <= 2 * 127 *
 *    32768 < 2^23 (a third column would not fit). 15 instructions for 4 MACs; the 2 inputs of a half group
 *    (LDR, SXTH, ASRS) serve both pairs;
 *  - requantisation, (bias + acc_a mult_a + acc_b mult_b) >> 32: each product from 16-bit halves,
 *    a = 2^16 ah + al (al = a & 0xFFFF): al bl (unsigned, < 2^32), ah bl and al bh (signed, |.| < 2^31), ah bh
 *    (<= 2^30) each fit one MULS, added into the 64-bit sum with ADDS/ADCS (22 instructions a product); a zero
 *    multiplier skips its product, as in tr_requant_q14.
 * The job (tr_m0_job_t, tr_m0_job.h) and its field offsets (tr_layout.h, generated and checked there). Other
 * targets assemble this file to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_matvec_s16_s8_m0.S"

#if TR_FAST_PATH_ARMV6M

    .syntax unified
    .thumb

/* The frame (sp offsets; #defines, not .equ, so that they stay out of the symbol table) */
#define F_SUMS_A 0                    /* the 4 row sums of input a */
#define F_SUMS_B 16                   /* the 4 row sums of input b */
#define F_JOB 32                      /* the job */
#define F_OUT 36                      /* out (advanced per block) */
#define F_OUT2 40                     /* out2 (advanced per block) */
#define F_SIZE 44

/* The sums subroutine (.Ltr_m0_sums): weights in, advanced; input in; groups >= 1; r8..r11 the sums of rows
 * 0..3 out; r12 the input end. */
    weights .req r0
    input   .req r1
    sum0    .req r8
    sum1    .req r9
    sum2    .req r10
    sum3    .req r11

/* One pair, 2 columns: r5 = the word (h0, h1) at weights + off, r2/r3 = x0/x1; r4..r7 work. */
.macro tr_m0_pair off, acc_a, acc_b
    ldr    r5, [weights, #\off]
    sxth   r4, r5                       /* h0 */
    sxtb   r6, r5                       /* w_A0 */
    asrs   r5, r5, #16                  /* h1 */
    sxtb   r7, r5                       /* w_A1 */
    muls   r4, r2, r4
    muls   r5, r3, r5
    adds   r4, r4, r5                   /* S2 */
    muls   r6, r2, r6
    muls   r7, r3, r7
    adds   r6, r6, r7                   /* A2 */
    add    \acc_a, r6
    subs   r4, r4, r6
    asrs   r4, r4, #8
    add    \acc_b, r4
.endm

/* The 2 inputs x0 (r2), x1 (r3) of a half group at input + off. */
.macro tr_m0_inputs off
    ldr    r3, [input, #\off]
    sxth   r2, r3
    asrs   r3, r3, #16
.endm

/* r1:r0 += r2 * r3 (signed 32 x 32 -> 64); r2..r6 clobbered. MOVS #0 keeps the carry. */
.macro tr_m0_mac64
    uxth   r4, r2                       /* al */
    asrs   r2, r2, #16                  /* ah */
    uxth   r5, r3                       /* bl */
    asrs   r3, r3, #16                  /* bh */
    movs   r6, r4
    muls   r6, r5, r6                   /* al bl */
    adds   r0, r0, r6
    movs   r6, #0
    adcs   r1, r6
    muls   r5, r2, r5                   /* ah bl */
    muls   r4, r3, r4                   /* al bh */
    muls   r2, r3, r2                   /* ah bh */
    adds   r1, r1, r2
    lsls   r6, r5, #16
    asrs   r5, r5, #16
    adds   r0, r0, r6
    adcs   r1, r5
    lsls   r6, r4, #16
    asrs   r4, r4, #16
    adds   r0, r0, r6
    adcs   r1, r4
.endm

/* Row k of the block: r1 = the high word of bias + acc_a mult_a + acc_b mult_b (the requantisation entries from
 * r7, the sums in the frame), stored to out[k]. */
.macro tr_m0_row k
    ldr    r0, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)]
    ldr    r1, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)]
    ldr    r3, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)]
    cmp    r3, #0
    beq    1f
    ldr    r2, [sp, #(F_SUMS_A + 4 * \k)]
    tr_m0_mac64
1:
    ldr    r3, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_B)]
    cmp    r3, #0
    beq    2f
    ldr    r2, [sp, #(F_SUMS_B + 4 * \k)]
    tr_m0_mac64
2:
    ldr    r4, [sp, #F_OUT]
    str    r1, [r4, #(4 * \k)]
.endm

/* Second output of row k (job->rq2, entries from r7): the high word of bias2 + acc_b mult_a2, stored to out2[k]. */
.macro tr_m0_row2 k
    ldr    r0, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)]
    ldr    r1, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)]
    ldr    r3, [r7, #(\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)]
    cmp    r3, #0
    beq    1f
    ldr    r2, [sp, #(F_SUMS_B + 4 * \k)]
    tr_m0_mac64
1:
    ldr    r4, [sp, #F_OUT2]
    str    r1, [r4, #(4 * \k)]
.endm

/* void tr_m0_blocks(tr_m0_job_t *job): every full block of 4 rows (the job in r0, AAPCS); writes back w, rq, out,
 * rq2, out2 (advanced) and counts blocks down. */
    .section .text.tr_m0_blocks, "ax", %progbits
    .p2align 2,,3
    .global tr_m0_blocks
    .thumb_func
    .type tr_m0_blocks, %function
tr_m0_blocks:
    push   {r4, r5, r6, r7, lr}
    mov    r4, r8
    mov    r5, r9
    mov    r6, r10
    mov    r7, r11
    push   {r4, r5, r6, r7}
    sub    sp, sp, #F_SIZE
    str    r0, [sp, #F_JOB]
    ldr    r1, [r0, #TR_M0_JOB_OUT]
    str    r1, [sp, #F_OUT]
    ldr    r1, [r0, #TR_M0_JOB_OUT2]
    str    r1, [sp, #F_OUT2]
.Ltr_m0_block:
    ldr    r7, [sp, #F_JOB]
    ldr    weights, [r7, #TR_M0_JOB_W]
    ldr    input, [r7, #TR_M0_JOB_A]
    ldr    r2, [r7, #TR_M0_JOB_GROUPS_A]
    bl     .Ltr_m0_sums
    mov    r3, sum0
    mov    r4, sum1
    mov    r5, sum2
    mov    r6, sum3
    mov    r1, sp                       /* F_SUMS_A */
    stmia  r1!, {r3, r4, r5, r6}
    ldr    r7, [sp, #F_JOB]
    ldr    r2, [r7, #TR_M0_JOB_GROUPS_B]
    movs   r3, #0                       /* no input b: zero sums */
    movs   r4, #0
    movs   r5, #0
    movs   r6, #0
    cmp    r2, #0
    beq    .Ltr_m0_b_done
    ldr    input, [r7, #TR_M0_JOB_B]
    bl     .Ltr_m0_sums
    mov    r3, sum0
    mov    r4, sum1
    mov    r5, sum2
    mov    r6, sum3
.Ltr_m0_b_done:
    add    r1, sp, #F_SUMS_B
    stmia  r1!, {r3, r4, r5, r6}
    ldr    r7, [sp, #F_JOB]
    str    weights, [r7, #TR_M0_JOB_W]
    ldr    r7, [r7, #TR_M0_JOB_RQ]
    tr_m0_row 0
    tr_m0_row 1
    tr_m0_row 2
    tr_m0_row 3
    adds   r7, #(4 * TR_REQUANT_SIZE)
    ldr    r4, [sp, #F_JOB]
    str    r7, [r4, #TR_M0_JOB_RQ]
    ldr    r5, [sp, #F_OUT]
    adds   r5, #16                      /* 4 outputs */
    str    r5, [sp, #F_OUT]
    ldr    r7, [r4, #TR_M0_JOB_RQ2]
    cmp    r7, #0
    bne    .Ltr_m0_dual
    b      .Ltr_m0_block_end            /* (conditional branches reach +-256 bytes) */
.Ltr_m0_dual:
    tr_m0_row2 0
    tr_m0_row2 1
    tr_m0_row2 2
    tr_m0_row2 3
    adds   r7, #(4 * TR_REQUANT_SIZE)
    ldr    r4, [sp, #F_JOB]
    str    r7, [r4, #TR_M0_JOB_RQ2]
    ldr    r5, [sp, #F_OUT2]
    adds   r5, #16                      /* 4 outputs */
    str    r5, [sp, #F_OUT2]
.Ltr_m0_block_end:
    ldr    r4, [sp, #F_JOB]
    ldr    r5, [r4, #TR_M0_JOB_BLOCKS]
    subs   r5, #1
    str    r5, [r4, #TR_M0_JOB_BLOCKS]
    beq    .Ltr_m0_end
    b      .Ltr_m0_block
.Ltr_m0_end:
    ldr    r5, [sp, #F_OUT]
    str    r5, [r4, #TR_M0_JOB_OUT]
    ldr    r5, [sp, #F_OUT2]
    str    r5, [r4, #TR_M0_JOB_OUT2]
    add    sp, sp, #F_SIZE
    pop    {r4, r5, r6, r7}
    mov    r8, r4
    mov    r9, r5
    mov    r10, r6
    mov    r11, r7
    pop    {r4, r5, r6, r7, pc}

/* The sums of one input over r2 groups (>= 1), 2 groups per pass; an odd count enters at the second. */
.Ltr_m0_sums:
    lsls   r3, r2, #3
    adds   r3, r3, input
    mov    r12, r3                      /* the input end */
    movs   r3, #0
    mov    sum0, r3
    mov    sum1, r3
    mov    sum2, r3
    mov    sum3, r3
    lsrs   r2, r2, #1
    bcc    .Ltr_m0_group
    subs   weights, #16                 /* the second copy reads 16 (weights) and 8 (input) further */
    subs   input, #8
    b      .Ltr_m0_group2
.Ltr_m0_group:
    tr_m0_inputs 0
    tr_m0_pair 0, sum0, sum1
    tr_m0_pair 8, sum2, sum3
    tr_m0_inputs 4
    tr_m0_pair 4, sum0, sum1
    tr_m0_pair 12, sum2, sum3
.Ltr_m0_group2:
    tr_m0_inputs 8
    tr_m0_pair 16, sum0, sum1
    tr_m0_pair 24, sum2, sum3
    tr_m0_inputs 12
    tr_m0_pair 20, sum0, sum1
    tr_m0_pair 28, sum2, sum3
    adds   weights, #32
    adds   input, #16
    cmp    input, r12
    beq    .Ltr_m0_sums_end
    b      .Ltr_m0_group                /* (a conditional branch reaches 256 bytes back) */
.Ltr_m0_sums_end:
    bx     lr
    .size tr_m0_blocks, . - tr_m0_blocks

    .unreq weights
    .unreq input
    .unreq sum0
    .unreq sum1
    .unreq sum2
    .unreq sum3

#endif /* TR_FAST_PATH_ARMV6M */
