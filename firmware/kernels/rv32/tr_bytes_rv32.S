/*
 * The RV32IM path of tr_matvec_s16_s8 in the byte layout (layout 3: ../tr_matvec_s16_s8.c has it and the reference
 * path; tr_fast_rv32.h hands this routine the full blocks). Twin: quantize/twin/params.py Dense.product.
 *
 * Every full block of 8 rows of a product (both inputs and the requantisation; the activation stays in C) in one
 * call per product. The same integers as the reference:
 *  - a row's sum over one input in int32, exact for every model the generator writes this layout for
 *    (docs/quantization.md, "32-bit accumulation"): per column, the input loaded once (LH) and the block's 8
 *    weights (LB at offsets 0..7 of one walking pointer) each multiplied into its row's sum: 3 instructions a MAC,
 *    4 columns a turn (then the last 0..3 one at a time);
 *  - the requantisation, the high word of bias + acc_a mult_a + acc_b mult_b: a MUL/MULH pair per product and
 *    the low words' carries (SLTU), 17 instructions a row; with a second requantisation (the GRU reset_after
 *    candidate, whose mult_b is 0: tr_kernels.h) the first output takes acc_a alone, 11, the second 11.
 * The job: tr_rv32_job_t (tr_rv32_job.h, which checks the offsets against C). Other targets assemble this file
 * to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"
#include "tr_rv32_job.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_bytes_rv32.S"

#if TR_FAST_PATH_RV32

/* Registers (ilp32): s0 the job, s1 the weights (walking), s2 rq, s3 out, s4 rq2 (0: none), s5 out2, s6 blocks
 * left; in an input's loop: a0 the input, a1 its columns, t5 the end of its 4-column turns, t3 the column's input,
 * t0 a product, the 8 row sums in a2..a5 and s7..s10. Input a's sums wait in the frame during input b. */
#define job s0
#define weights s1
#define rq s2
#define out s3
#define rq2 s4
#define out2 s5
#define blocks s6
#define input a0
#define cols a1

/* The frame: the callee-saved registers, ra, input a's 8 row sums. */
#define F_SAVED 0                   /* s0..s10, 44 bytes */
#define F_RA 44
#define F_SUMS_A 48                 /* 8 words */
#define F_SIZE 80                   /* a multiple of 16 (the ilp32 stack alignment) */

/* One weight: sum += w[off] * x. */
.macro tr_rv32_mac off, x, sum
    lb      t0, \off(weights)
    mul     t0, t0, \x
    add     \sum, \sum, t0
.endm

/* One column (its 8 weights at byte off of the block's walking pointer) times x into the 8 row sums. */
.macro tr_rv32_column off, x
    tr_rv32_mac (\off + 0), \x, a2
    tr_rv32_mac (\off + 1), \x, a3
    tr_rv32_mac (\off + 2), \x, a4
    tr_rv32_mac (\off + 3), \x, a5
    tr_rv32_mac (\off + 4), \x, s7
    tr_rv32_mac (\off + 5), \x, s8
    tr_rv32_mac (\off + 6), \x, s9
    tr_rv32_mac (\off + 7), \x, s10
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

/* Row k of a product with a second requantisation: out[k] = high word of bias + acc_a mult_a (mult_b is 0), and
 * out2[k] = high word of bias2 + acc_b mult_a2 (rq2 entry k). */
.macro tr_rv32_row_pair k, acc_a, acc_b
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)(rq)
    lw      t1, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)(rq)
    lw      t2, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)(rq)
    mul     a7, \acc_a, t2
    mulh    t2, \acc_a, t2
    add     t0, t0, a7
    sltu    a7, t0, a7
    add     t1, t1, t2
    add     t1, t1, a7
    sw      t1, (4 * \k)(out)
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

/* Row k's acc_a from frame word k. */
.macro tr_rv32_rows_from_frame row_macro
    lw      t3, (F_SUMS_A + 0)(sp)
    \row_macro 0, t3, a2
    lw      t3, (F_SUMS_A + 4)(sp)
    \row_macro 1, t3, a3
    lw      t3, (F_SUMS_A + 8)(sp)
    \row_macro 2, t3, a4
    lw      t3, (F_SUMS_A + 12)(sp)
    \row_macro 3, t3, a5
    lw      t3, (F_SUMS_A + 16)(sp)
    \row_macro 4, t3, s7
    lw      t3, (F_SUMS_A + 20)(sp)
    \row_macro 5, t3, s8
    lw      t3, (F_SUMS_A + 24)(sp)
    \row_macro 6, t3, s9
    lw      t3, (F_SUMS_A + 28)(sp)
    \row_macro 7, t3, s10
.endm

/* void tr_rv32_bytes_blocks(tr_rv32_job_t *job): every full block of 8 rows; writes back w and rq (advanced). */
    .section .text.tr_rv32_bytes_blocks, "ax", @progbits
    .p2align 2
    .globl  tr_rv32_bytes_blocks
    .type   tr_rv32_bytes_blocks, @function
tr_rv32_bytes_blocks:
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
    sw      ra, F_RA(sp)
    mv      job, a0
    lw      weights, TR_RV32_JOB_W(job)
    lw      rq, TR_RV32_JOB_RQ(job)
    lw      out, TR_RV32_JOB_OUT(job)
    lw      rq2, TR_RV32_JOB_RQ2(job)
    lw      out2, TR_RV32_JOB_OUT2(job)
    lw      blocks, TR_RV32_JOB_BLOCKS(job)
.Lblock:
    lw      input, TR_RV32_JOB_A(job)
    lw      cols, TR_RV32_JOB_COLS_A(job)
    jal     ra, .Linput
    sw      a2, (F_SUMS_A + 0)(sp)
    sw      a3, (F_SUMS_A + 4)(sp)
    sw      a4, (F_SUMS_A + 8)(sp)
    sw      a5, (F_SUMS_A + 12)(sp)
    sw      s7, (F_SUMS_A + 16)(sp)
    sw      s8, (F_SUMS_A + 20)(sp)
    sw      s9, (F_SUMS_A + 24)(sp)
    sw      s10, (F_SUMS_A + 28)(sp)
    lw      input, TR_RV32_JOB_B(job)
    lw      cols, TR_RV32_JOB_COLS_B(job)
    jal     ra, .Linput
    bnez    rq2, .Lpair_rows
    tr_rv32_rows_from_frame tr_rv32_row
    j       .Lnext
.Lpair_rows:
    tr_rv32_rows_from_frame tr_rv32_row_pair
    addi    rq2, rq2, 8 * TR_REQUANT_SIZE
    addi    out2, out2, 32
.Lnext:
    addi    rq, rq, 8 * TR_REQUANT_SIZE
    addi    out, out, 32
    addi    blocks, blocks, -1
    bnez    blocks, .Lblock
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
    lw      ra, F_RA(sp)
    addi    sp, sp, F_SIZE
    ret

/* The input subroutine (its registers, called with JAL ra): the block's 8 row sums over `cols` columns of `input`
 * into a2..a5, s7..s10; advances the weights past them. */
.Linput:
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      s7, 0
    li      s8, 0
    li      s9, 0
    li      s10, 0
    andi    t5, cols, -4                /* the columns of whole 4-column turns */
    slli    t5, t5, 1
    add     t5, t5, input
    beq     input, t5, 2f
1:
    lh      t3, 0(input)
    tr_rv32_column 0, t3
    lh      t3, 2(input)
    tr_rv32_column 8, t3
    lh      t3, 4(input)
    tr_rv32_column 16, t3
    lh      t3, 6(input)
    tr_rv32_column 24, t3
    addi    weights, weights, 32
    addi    input, input, 8
    bne     input, t5, 1b
2:
    andi    cols, cols, 3               /* the last 0..3 columns */
    beqz    cols, 4f
3:
    lh      t3, 0(input)
    tr_rv32_column 0, t3
    addi    weights, weights, 8
    addi    input, input, 2
    addi    cols, cols, -1
    bnez    cols, 3b
4:
    ret
    .size   tr_rv32_bytes_blocks, . - tr_rv32_bytes_blocks

#endif /* TR_FAST_PATH_RV32 */
