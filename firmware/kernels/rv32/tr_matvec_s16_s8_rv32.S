/*
 * The RV32IM path of tr_matvec_s16_s8 (../tr_matvec_s16_s8.c has the weight layout and the reference path;
 * tr_fast_rv32.h hands this routine the full blocks). Twin: quantize/twin/params.py Dense.product.
 *
 * Every full block of 4 rows (both inputs and the requantisation; the activation stays in C) in one call per
 * product. GCC's code of the same loops in C spills ~26 registers around each input's loop (its scheduler loads
 * a group's 16 weights first) and calls dot_block_c twice a block. The same integers as the reference:
 *  - sums by 2 columns of a row pair, exact in int32 for every model the quantizer accepts (docs/quantization.md,
 *    "32-bit accumulation"): p = w_A[c0] x0 + w_A[c1] x1 (w_A by LB of the halfword's low byte) into acc_A, and
 *    (h[c0] x0 + h[c1] x1 - p) >> 8 = w_B[c0] x0 + w_B[c1] x1 into acc_B: 14 instructions for 4 MACs; the 4
 *    inputs of a group are loaded once for the block's 2 row pairs;
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

/* Registers (ilp32): s0 the job, s1 the weights (walking), s2 rq, s3 out, s4 rq2 (0: none), s5 out2, s6 blocks
 * left, s7..s10 input a's 4 row sums; in an input's loop: a0 the input, a1 its end, a2..a5 the 4 row sums
 * (acc_A of rows 0 and 2 in a2/a4, acc_B of rows 1 and 3 in a3/a5), t3..t6 the group's 4 inputs, t0..t2 and a6
 * products. */
#define job s0
#define weights s1
#define rq s2
#define out s3
#define rq2 s4
#define out2 s5
#define blocks s6
#define input a0
#define input_end a1

/* One row pair (byte offset off in the group), 2 columns with inputs xa, xb: acc_a += p, acc_b += (S2 - p) >> 8. */
.macro tr_rv32_duo off, xa, xb, acc_a, acc_b
    lb      t0, \off(weights)           /* w_A[c0] */
    lb      t1, (\off + 2)(weights)     /* w_A[c1] */
    lh      t2, \off(weights)           /* h[c0] = 256 w_B[c0] + w_A[c0] */
    lh      a6, (\off + 2)(weights)     /* h[c1] */
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

/* The block's sums over one input (job fields at ptr_off, groups_off, half_off) into a2..a5; advances weights. */
.macro tr_rv32_input ptr_off, groups_off, half_off
    lw      input, \ptr_off(job)
    lw      input_end, \groups_off(job)
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    slli    input_end, input_end, 3     /* 4 halfwords a group */
    add     input_end, input_end, input
    beq     input, input_end, 2f
1:
    lh      t3, 0(input)
    lh      t4, 2(input)
    lh      t5, 4(input)
    lh      t6, 6(input)
    tr_rv32_duo 0, t3, t4, a2, a3       /* rows 0, 1: columns 0, 1 */
    tr_rv32_duo 4, t5, t6, a2, a3       /* columns 2, 3 */
    tr_rv32_duo 8, t3, t4, a4, a5       /* rows 2, 3 */
    tr_rv32_duo 12, t5, t6, a4, a5
    addi    weights, weights, 16
    addi    input, input, 8
    bne     input, input_end, 1b
2:
    lw      t0, \half_off(job)
    beqz    t0, 3f
    lh      t3, 0(input)                /* a last group of 2 columns (its columns 2, 3 are zero weights) */
    lh      t4, 2(input)
    tr_rv32_duo 0, t3, t4, a2, a3
    tr_rv32_duo 8, t3, t4, a4, a5
    addi    weights, weights, 16
3:
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
    addi    sp, sp, -48
    sw      s0, 0(sp)
    sw      s1, 4(sp)
    sw      s2, 8(sp)
    sw      s3, 12(sp)
    sw      s4, 16(sp)
    sw      s5, 20(sp)
    sw      s6, 24(sp)
    sw      s7, 28(sp)
    sw      s8, 32(sp)
    sw      s9, 36(sp)
    sw      s10, 40(sp)
    mv      job, a0
    lw      weights, TR_RV32_JOB_W(job)
    lw      rq, TR_RV32_JOB_RQ(job)
    lw      out, TR_RV32_JOB_OUT(job)
    lw      rq2, TR_RV32_JOB_RQ2(job)
    lw      out2, TR_RV32_JOB_OUT2(job)
    lw      blocks, TR_RV32_JOB_BLOCKS(job)
.Lblock:
    tr_rv32_input TR_RV32_JOB_A, TR_RV32_JOB_GROUPS_A, TR_RV32_JOB_HALF_A
    mv      s7, a2
    mv      s8, a3
    mv      s9, a4
    mv      s10, a5
    tr_rv32_input TR_RV32_JOB_B, TR_RV32_JOB_GROUPS_B, TR_RV32_JOB_HALF_B
    tr_rv32_row 0, s7, a2
    tr_rv32_row 1, s8, a3
    tr_rv32_row 2, s9, a4
    tr_rv32_row 3, s10, a5
    addi    rq, rq, 4 * TR_REQUANT_SIZE
    addi    out, out, 16
    beqz    rq2, .Lnext
    tr_rv32_row2 0, a2
    tr_rv32_row2 1, a3
    tr_rv32_row2 2, a4
    tr_rv32_row2 3, a5
    addi    rq2, rq2, 4 * TR_REQUANT_SIZE
    addi    out2, out2, 16
.Lnext:
    addi    blocks, blocks, -1
    bnez    blocks, .Lblock
    sw      weights, TR_RV32_JOB_W(job)
    sw      rq, TR_RV32_JOB_RQ(job)
    lw      s0, 0(sp)
    lw      s1, 4(sp)
    lw      s2, 8(sp)
    lw      s3, 12(sp)
    lw      s4, 16(sp)
    lw      s5, 20(sp)
    lw      s6, 24(sp)
    lw      s7, 28(sp)
    lw      s8, 32(sp)
    lw      s9, 36(sp)
    lw      s10, 40(sp)
    addi    sp, sp, 48
    ret
    .size   tr_rv32_blocks, . - tr_rv32_blocks

#endif /* TR_FAST_PATH_RV32 */
