/*
 * The RV32IM path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout and the reference path;
 * tr_fast_rv32.h hands this routine the full blocks). Twin: quantize/twin/params.py Dense.product.
 *
 * Every full block of 4 rows (both inputs and the requantisation; the activation stays in C) in one call per
 * product, two blocks at a time (the last of an odd count alone). GCC's code of the same loops in C spills ~26
 * registers around each input's loop (its scheduler loads a group's 16 weights first) and calls dot_block_c twice
 * a block. The same integers as the reference:
 *  - sums by 2 columns of a row pair, exact in int32 for every model the quantizer accepts (docs/quantization.md,
 *    "32-bit accumulation"): p = w_A[c0] x0 + w_A[c1] x1 (w_A by LB of the halfword's low byte) into acc_A, and
 *    (h[c0] x0 + h[c1] x1 - p) >> 8 = w_B[c0] x0 + w_B[c1] x1 into acc_B: 14 instructions for 4 MACs; the 4
 *    inputs of a group are loaded once for the 4 row pairs of two blocks (each block's weights by a pointer of
 *    its own: block B's start where block A's end);
 *  - an input whose last group holds 1 or 2 columns (n % 4 == 1, 2) skips that group's zero half;
 *  - the requantisation, the high word of bias + acc_a mult_a + acc_b mult_b: a MUL/MULH pair per product and
 *    the low words' carries (SLTU), 17 instructions a row; the GRU candidate's second output 10.
 * The job: tr_rv32_job_t (tr_rv32_job.h, which checks the offsets against C). Other targets assemble this file
 * to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"
#include "tr_rv32_job.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_matvec_s16_s8_rv32.S"

#if TR_FAST_PATH_RV32

/* Registers (ilp32): s0 the job, s1 the weights of block A (walking), s11 those of block B (two blocks at a time),
 * s2 rq, s3 out, s4 rq2 (0: none), s5 out2, s6 blocks left; in an input's loop: a0 the input, a1 its end,
 * t3..t6 the group's 4 inputs, t0..t2 and a6 products, the row sums in a2..a5 (block A: acc_A of rows 0 and 2 in
 * a2/a4, acc_B of rows 1 and 3 in a3/a5) and s7..s10 (block B, the same order). Input a's sums wait in the frame
 * (two blocks) or in s7..s10 (one block) during input b. Each input's loop is a subroutine of the routine
 * (.Linput_two, .Linput_one: one copy of each loop for both inputs). */
#define job s0
#define weights s1
#define weights_b s11
#define rq s2
#define out s3
#define rq2 s4
#define out2 s5
#define blocks s6
#define input a0
#define input_end a1

/* The frame: the callee-saved registers, the bytes of a block's weights, input a's 8 row sums of two blocks. */
#define F_SAVED 0                   /* s0..s11, 48 bytes */
#define F_BLOCK_BYTES 48
#define F_SUMS_A 52                 /* 8 words */
#define F_RA 84
#define F_SIZE 96                   /* a multiple of 16 (the ilp32 stack alignment) */

/* One row pair (byte offset off in the group at w), 2 columns with inputs xa, xb: acc_a += p, acc_b +=
 * (S2 - p) >> 8. */
.macro tr_rv32_duo w, off, xa, xb, acc_a, acc_b
    lb      t0, \off(\w)                /* w_A[c0] */
    lb      t1, (\off + 2)(\w)          /* w_A[c1] */
    lh      t2, \off(\w)                /* h[c0] = 256 w_B[c0] + w_A[c0] */
    lh      a6, (\off + 2)(\w)          /* h[c1] */
    mul     t0, t0, \xa
    mul     t1, t1, \xb
    add     t0, t0, t1                  /* p */
    add     \acc_a, \acc_a, t0
    mul     t2, t2, \xa
    mul     a6, a6, \xb
    add     t2, t2, a6                  /* S2 */
    sub     t2, t2, t0                  /* 256 (w_B[c0] x0 + w_B[c1] x1) */
    srai    t2, t2, 8
    add     \acc_b, \acc_b, t2
.endm

/* A group's 4 columns for one block's 2 row pairs (weights at w, sums s0..s3). */
.macro tr_rv32_group w, s0, s1, s2, s3
    tr_rv32_duo \w, 0, t3, t4, \s0, \s1     /* rows 0, 1: columns 0, 1 */
    tr_rv32_duo \w, 4, t5, t6, \s0, \s1     /* columns 2, 3 */
    tr_rv32_duo \w, 8, t3, t4, \s2, \s3     /* rows 2, 3 */
    tr_rv32_duo \w, 12, t5, t6, \s2, \s3
.endm

/* A last group of 2 columns (its columns 2, 3 are zero weights) for one block's 2 row pairs. */
.macro tr_rv32_half_group w, s0, s1, s2, s3
    tr_rv32_duo \w, 0, t3, t4, \s0, \s1
    tr_rv32_duo \w, 8, t3, t4, \s2, \s3
    addi    \w, \w, 16
.endm

/* The sums over one input (a0 the input, a1 its whole groups, a7 1 for a last half group) into a2..a5 of block A
 * and, with two = 1, s7..s10 of block B; advances the weights. */
.macro tr_rv32_input two
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
.if \two
    li      s7, 0
    li      s8, 0
    li      s9, 0
    li      s10, 0
.endif
    slli    input_end, input_end, 3     /* 4 halfwords a group */
    add     input_end, input_end, input
    beq     input, input_end, 2f
1:
    lh      t3, 0(input)
    lh      t4, 2(input)
    lh      t5, 4(input)
    lh      t6, 6(input)
    tr_rv32_group weights, a2, a3, a4, a5
.if \two
    tr_rv32_group weights_b, s7, s8, s9, s10
    addi    weights_b, weights_b, 16
.endif
    addi    weights, weights, 16
    addi    input, input, 8
    bne     input, input_end, 1b
2:
    beqz    a7, 3f
    lh      t3, 0(input)
    lh      t4, 2(input)
    tr_rv32_half_group weights, a2, a3, a4, a5
.if \two
    tr_rv32_half_group weights_b, s7, s8, s9, s10
.endif
3:
.endm

/* Call the input subroutine `routine` on the job's input (fields at ptr_off, groups_off, half_off). */
.macro tr_rv32_call_input routine, ptr_off, groups_off, half_off
    lw      input, \ptr_off(job)
    lw      input_end, \groups_off(job)
    lw      a7, \half_off(job)
    jal     ra, \routine
.endm

/* Row k: out[k] = high word of bias + acc_a mult_a + acc_b mult_b (rq entry k). */
.macro tr_rv32_row k, acc_a, acc_b
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)(rq)
    lw      t1, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)(rq)
    lw      t2, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)(rq)
    lw      a6, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_B)(rq)
    mul     a7, \acc_a, t2
    mulh    t2, \acc_a, t2
    add     t0, t0, a7
    sltu    a7, t0, a7                  /* the carry out of the low words */
    add     t1, t1, t2
    add     t1, t1, a7
    mul     a7, \acc_b, a6
    mulh    a6, \acc_b, a6
    add     t0, t0, a7
    sltu    a7, t0, a7
    add     t1, t1, a6
    add     t1, t1, a7
    sw      t1, (4 * \k)(out)
.endm

/* The same with acc_a from frame word k of input a's sums. */
.macro tr_rv32_row_frame k, acc_b
    lw      t3, (F_SUMS_A + 4 * \k)(sp)
    tr_rv32_row \k, t3, \acc_b
.endm

/* Row k's second output: out2[k] = high word of bias2 + acc_b mult_a2 (rq2 entry k). */
.macro tr_rv32_row2 k, acc_b
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)(rq2)
    lw      t1, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)(rq2)
    lw      t2, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)(rq2)
    mul     a7, \acc_b, t2
    mulh    t2, \acc_b, t2
    add     t0, t0, a7
    sltu    a7, t0, a7
    add     t1, t1, t2
    add     t1, t1, a7
    sw      t1, (4 * \k)(out2)
.endm

/* void tr_rv32_blocks(tr_rv32_job_t *job): every full block of 4 rows; writes back w and rq (advanced). */
    .section .text.tr_rv32_blocks, "ax", @progbits
    .p2align 2
    .globl  tr_rv32_blocks
    .type   tr_rv32_blocks, @function
tr_rv32_blocks:
    addi    sp, sp, -F_SIZE
    sw      s0, (F_SAVED + 0)(sp)
    sw      s1, (F_SAVED + 4)(sp)
    sw      s2, (F_SAVED + 8)(sp)
    sw      s3, (F_SAVED + 12)(sp)
    sw      s4, (F_SAVED + 16)(sp)
    sw      s5, (F_SAVED + 20)(sp)
    sw      s6, (F_SAVED + 24)(sp)
    sw      s7, (F_SAVED + 28)(sp)
    sw      s8, (F_SAVED + 32)(sp)
    sw      s9, (F_SAVED + 36)(sp)
    sw      s10, (F_SAVED + 40)(sp)
    sw      s11, (F_SAVED + 44)(sp)
    sw      ra, F_RA(sp)
    mv      job, a0
    lw      weights, TR_RV32_JOB_W(job)
    lw      rq, TR_RV32_JOB_RQ(job)
    lw      out, TR_RV32_JOB_OUT(job)
    lw      rq2, TR_RV32_JOB_RQ2(job)
    lw      out2, TR_RV32_JOB_OUT2(job)
    lw      blocks, TR_RV32_JOB_BLOCKS(job)
    lw      t0, TR_RV32_JOB_GROUPS_A(job)   /* a block's weights: every group stored whole, 16 bytes */
    lw      t1, TR_RV32_JOB_HALF_A(job)
    add     t0, t0, t1
    lw      t1, TR_RV32_JOB_GROUPS_B(job)
    add     t0, t0, t1
    lw      t1, TR_RV32_JOB_HALF_B(job)
    add     t0, t0, t1
    slli    t0, t0, 4
    sw      t0, F_BLOCK_BYTES(sp)
.Lpair:                                 /* two blocks: rows 0..7 */
    li      t0, 2
    blt     blocks, t0, .Lsingle
    lw      t0, F_BLOCK_BYTES(sp)
    add     weights_b, weights, t0
    tr_rv32_call_input .Linput_two, TR_RV32_JOB_A, TR_RV32_JOB_GROUPS_A, TR_RV32_JOB_HALF_A
    sw      a2, (F_SUMS_A + 0)(sp)
    sw      a3, (F_SUMS_A + 4)(sp)
    sw      a4, (F_SUMS_A + 8)(sp)
    sw      a5, (F_SUMS_A + 12)(sp)
    sw      s7, (F_SUMS_A + 16)(sp)
    sw      s8, (F_SUMS_A + 20)(sp)
    sw      s9, (F_SUMS_A + 24)(sp)
    sw      s10, (F_SUMS_A + 28)(sp)
    tr_rv32_call_input .Linput_two, TR_RV32_JOB_B, TR_RV32_JOB_GROUPS_B, TR_RV32_JOB_HALF_B
    tr_rv32_row_frame 0, a2
    tr_rv32_row_frame 1, a3
    tr_rv32_row_frame 2, a4
    tr_rv32_row_frame 3, a5
    tr_rv32_row_frame 4, s7
    tr_rv32_row_frame 5, s8
    tr_rv32_row_frame 6, s9
    tr_rv32_row_frame 7, s10
    addi    rq, rq, 8 * TR_REQUANT_SIZE
    addi    out, out, 32
    mv      weights, weights_b          /* past block B */
    addi    blocks, blocks, -2
    beqz    rq2, .Lpair
    tr_rv32_row2 0, a2
    tr_rv32_row2 1, a3
    tr_rv32_row2 2, a4
    tr_rv32_row2 3, a5
    tr_rv32_row2 4, s7
    tr_rv32_row2 5, s8
    tr_rv32_row2 6, s9
    tr_rv32_row2 7, s10
    addi    rq2, rq2, 8 * TR_REQUANT_SIZE
    addi    out2, out2, 32
    j       .Lpair
.Lsingle:                               /* the last block of an odd count: rows 0..3 */
    beqz    blocks, .Ldone
    tr_rv32_call_input .Linput_one, TR_RV32_JOB_A, TR_RV32_JOB_GROUPS_A, TR_RV32_JOB_HALF_A
    mv      s7, a2
    mv      s8, a3
    mv      s9, a4
    mv      s10, a5
    tr_rv32_call_input .Linput_one, TR_RV32_JOB_B, TR_RV32_JOB_GROUPS_B, TR_RV32_JOB_HALF_B
    tr_rv32_row 0, s7, a2
    tr_rv32_row 1, s8, a3
    tr_rv32_row 2, s9, a4
    tr_rv32_row 3, s10, a5
    addi    rq, rq, 4 * TR_REQUANT_SIZE
    beqz    rq2, .Ldone
    tr_rv32_row2 0, a2
    tr_rv32_row2 1, a3
    tr_rv32_row2 2, a4
    tr_rv32_row2 3, a5
.Ldone:
    sw      weights, TR_RV32_JOB_W(job)
    sw      rq, TR_RV32_JOB_RQ(job)
    lw      s0, (F_SAVED + 0)(sp)
    lw      s1, (F_SAVED + 4)(sp)
    lw      s2, (F_SAVED + 8)(sp)
    lw      s3, (F_SAVED + 12)(sp)
    lw      s4, (F_SAVED + 16)(sp)
    lw      s5, (F_SAVED + 20)(sp)
    lw      s6, (F_SAVED + 24)(sp)
    lw      s7, (F_SAVED + 28)(sp)
    lw      s8, (F_SAVED + 32)(sp)
    lw      s9, (F_SAVED + 36)(sp)
    lw      s10, (F_SAVED + 40)(sp)
    lw      s11, (F_SAVED + 44)(sp)
    lw      ra, F_RA(sp)
    addi    sp, sp, F_SIZE
    ret

/* The input subroutines of tr_rv32_blocks (its registers, called with JAL ra): two blocks, and one. */
.Linput_two:
    tr_rv32_input 1
    ret
.Linput_one:
    tr_rv32_input 0
    ret
    .size   tr_rv32_blocks, . - tr_rv32_blocks

#endif /* TR_FAST_PATH_RV32 */
