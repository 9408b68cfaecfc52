/*
 * The RV32IM path of tr_matvec_s16_s8 in the byte layout (layout 3: ../tr_matvec_s16_s8.c has it and its reading in
 * C; tr_fast_rv32.h hands this routine every row). Twin: quantize/twin/params.py Dense.product.
 *
 * Every row of a product (both inputs and the requantisation; the activation stays in C) in one call: the full
 * blocks of 16 rows, then the last block of the other rows % 16 (the layout pads it to a width of 4, 8 or 16). The
 * same integers as the reference:
 *  - a row's sum over one input in int32, exact for every model the generator writes this layout for
 *    (docs/quantization.md, "32-bit accumulation"): per column, the input loaded once (LH) and the block's 16
 *    weights (LB at offsets 0..15 of one walking pointer) each multiplied into its row's sum: 3 instructions a MAC,
 *    4 columns a turn (then the last 0..3 one at a time): 199 instructions per 64 MACs; the first column
 *    of an input starts the sums (2 instructions a MAC); a last block of width 4 or 8 the same way, from zero;
 *  - the requantisation, the high word of bias + acc_a mult_a + acc_b mult_b: a MUL/MULH pair per product and
 *    the low words' carries (SLTU), 17 instructions a row; with a second requantisation (the GRU reset_after
 *    candidate, whose mult_b is 0: tr_kernels.h) the first output takes acc_a alone, 10, the second 10; a product
 *    without input b (a head: acc_b is 0) 10 a row, without a call for input b. A full block's rows are unrolled;
 *    of input a's sums, rows 0..3 stay in registers during input b (t1, t2, t4, t6: the row code works in t0, t3,
 *    t5 alone) and the others wait in the frame; the last block's sums of both inputs go to the frame, and a loop
 *    takes its rows.
 * The arguments: tr_rv32_job.h (which checks the offsets of tr_layout.h against C). Other targets assemble this file
 * to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"
#include "tr_rv32_job.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_bytes_rv32.S"

#if TR_FAST_PATH_RV32

/* Registers (ilp32): s0 the product (tr_dense_t), s1 the weights (walking); in an input's loop: a0 the input, a1 its
 * columns, t5 the end of its 4-column turns, t3 the column's input, t0 a product, the 16 row sums in a2..a7 and
 * s2..s11 (input a of a full block: rows 0..3 in t1, t2, t4, t6, which input b's loop leaves alone; its other sums
 * wait in the frame); during the requantisation a0 is rq, a1 out, t5 rq2, ra out2 (kept in the frame between
 * blocks, with the blocks left). */
#define dense s0
#define weights s1
#define input a0
#define cols a1

/* The frame: the callee-saved registers, ra, input a's 16 row sums (and the last block's sums of input b), the
 * requantisation's pointers. */
#define F_SAVED 0                   /* s0..s11, 48 bytes */
#define F_RA 48
#define F_SUMS_A 52                 /* 16 words */
#define F_SUMS_B 116                /* 16 words: the last block's */
#define F_RQ 180
#define F_OUT 184
#define F_RQ2 188
#define F_OUT2 192
#define F_BLOCKS 196
#define F_A 200
#define F_B 204
#define F_SIZE 208                  /* a multiple of 16 (the ilp32 stack alignment) */

/* One weight: sum += w[off] * x. */
.macro tr_rv32_mac off, x, sum
    lb      t0, \off(weights)
    mul     t0, t0, \x
    add     \sum, \sum, t0
.endm

/* One column (its 16 weights at byte off of the block's walking pointer) times x into the 16 row sums (rows 0..3
 * in r0..r3: a2..a5, or t1, t2, t4, t6 for input a of a full block). */
.macro tr_rv32_column off, x, r0, r1, r2, r3
    tr_rv32_mac (\off + 0), \x, \r0
    tr_rv32_mac (\off + 1), \x, \r1
    tr_rv32_mac (\off + 2), \x, \r2
    tr_rv32_mac (\off + 3), \x, \r3
    tr_rv32_mac (\off + 4), \x, a6
    tr_rv32_mac (\off + 5), \x, a7
    tr_rv32_mac (\off + 6), \x, s2
    tr_rv32_mac (\off + 7), \x, s3
    tr_rv32_mac (\off + 8), \x, s4
    tr_rv32_mac (\off + 9), \x, s5
    tr_rv32_mac (\off + 10), \x, s6
    tr_rv32_mac (\off + 11), \x, s7
    tr_rv32_mac (\off + 12), \x, s8
    tr_rv32_mac (\off + 13), \x, s9
    tr_rv32_mac (\off + 14), \x, s10
    tr_rv32_mac (\off + 15), \x, s11
.endm

/* One column of a narrow last block (width 4 or 8: its weights at byte off) times x into the first width sums. */
.macro tr_rv32_column_narrow width, off, x
    tr_rv32_mac (\off + 0), \x, a2
    tr_rv32_mac (\off + 1), \x, a3
    tr_rv32_mac (\off + 2), \x, a4
    tr_rv32_mac (\off + 3), \x, a5
    .if \width > 4
    tr_rv32_mac (\off + 4), \x, a6
    tr_rv32_mac (\off + 5), \x, a7
    tr_rv32_mac (\off + 6), \x, s2
    tr_rv32_mac (\off + 7), \x, s3
    .endif
.endm

/* The input subroutine of a narrow last block (as .Linput, for `width` rows a column): the sums into a2..a5 (and
 * a6, a7, s2, s3 for width 8), from zero; 4 columns a turn, then the last 0..3 one at a time. */
.macro tr_rv32_input_narrow width
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    .if \width > 4
    li      a6, 0
    li      a7, 0
    li      s2, 0
    li      s3, 0
    .endif
    andi    t5, cols, -4                /* the columns of whole 4-column turns */
    slli    t5, t5, 1
    add     t5, t5, input
    beq     input, t5, 2f
1:
    lh      t3, 0(input)
    tr_rv32_column_narrow \width, 0, t3
    lh      t3, 2(input)
    tr_rv32_column_narrow \width, \width, t3
    lh      t3, 4(input)
    tr_rv32_column_narrow \width, (2 * \width), t3
    lh      t3, 6(input)
    tr_rv32_column_narrow \width, (3 * \width), t3
    addi    weights, weights, (4 * \width)
    addi    input, input, 8
    bne     input, t5, 1b
2:
    andi    cols, cols, 3               /* the last 0..3 columns */
    beqz    cols, 4f
3:
    lh      t3, 0(input)
    tr_rv32_column_narrow \width, 0, t3
    addi    weights, weights, \width
    addi    input, input, 2
    addi    cols, cols, -1
    bnez    cols, 3b
4:
    ret
.endm

/* The first n of the sums a2..a7, s2..s11 into the frame at off. */
.macro tr_rv32_store_sums n, off
    sw      a2, (\off + 0)(sp)
    sw      a3, (\off + 4)(sp)
    sw      a4, (\off + 8)(sp)
    sw      a5, (\off + 12)(sp)
    .if \n > 4
    sw      a6, (\off + 16)(sp)
    sw      a7, (\off + 20)(sp)
    sw      s2, (\off + 24)(sp)
    sw      s3, (\off + 28)(sp)
    .endif
    .if \n > 8
    sw      s4, (\off + 32)(sp)
    sw      s5, (\off + 36)(sp)
    sw      s6, (\off + 40)(sp)
    sw      s7, (\off + 44)(sp)
    sw      s8, (\off + 48)(sp)
    sw      s9, (\off + 52)(sp)
    sw      s10, (\off + 56)(sp)
    sw      s11, (\off + 60)(sp)
    .endif
.endm

/* The last block of `width` rows: both inputs' sums into the frame (F_SUMS_A, F_SUMS_B). */
.macro tr_rv32_last_block_sums input_sub, width
    lw      input, F_A(sp)
    lhu     cols, TR_DENSE_COLS_A(dense)
    jal     ra, \input_sub
    tr_rv32_store_sums \width, F_SUMS_A
    lw      input, F_B(sp)
    lhu     cols, TR_DENSE_COLS_B(dense)
    jal     ra, \input_sub
    tr_rv32_store_sums \width, F_SUMS_B
.endm

/* Row k: out[k] = high word of bias + acc_a mult_a + acc_b mult_b (rq entry k; rq in a0, out in a1). acc_a and
 * acc_b are clobbered; t0, t3 and t5 work (so that t1, t2, t4, t6 can hold sums across the rows). */
.macro tr_rv32_row k, acc_a, acc_b
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)(a0)
    mul     t3, \acc_a, t0
    mulh    \acc_a, \acc_a, t0
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_B)(a0)
    mul     t5, \acc_b, t0
    mulh    \acc_b, \acc_b, t0
    add     t3, t3, t5
    sltu    t5, t3, t5                  /* the carries out of the low words */
    add     \acc_a, \acc_a, \acc_b
    add     \acc_a, \acc_a, t5
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)(a0)
    add     t3, t3, t0
    sltu    t3, t3, t0
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)(a0)
    add     \acc_a, \acc_a, t0
    add     \acc_a, \acc_a, t3
    sw      \acc_a, (4 * \k)(a1)
.endm

/* out[k] = high word of bias + acc mult_a of rq entry k (rq in register rq, out in register out): acc is
 * clobbered; t0 and t3 work. */
.macro tr_rv32_row_half k, acc, rq, out
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_MULT_A)(\rq)
    mul     t3, \acc, t0
    mulh    \acc, \acc, t0
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_LO)(\rq)
    add     t3, t3, t0
    sltu    t3, t3, t0                  /* the carry out of the low words */
    lw      t0, (\k * TR_REQUANT_SIZE + TR_REQUANT_BIAS_HI)(\rq)
    add     \acc, \acc, t0
    add     \acc, \acc, t3
    sw      \acc, (4 * \k)(\out)
.endm

/* Row k of a product with a second requantisation: out[k] = high word of bias + acc_a mult_a (mult_b is 0), and
 * out2[k] = high word of bias2 + acc_b mult_a2 (rq2 entry k; rq2 in t5, out2 in ra). */
.macro tr_rv32_row_pair k, acc_a, acc_b
    tr_rv32_row_half \k, \acc_a, a0, a1
    tr_rv32_row_half \k, \acc_b, t5, ra
.endm

/* A full block's 16 rows by row_macro: acc_a of rows 0..3 in t1, t2, t4, t6 (input a's subroutine .Linput_a left
 * them there), of row k >= 4 from frame word k (into t1, free once row 0 is done); acc_b in a2..a7, s2..s11. */
.macro tr_rv32_rows row_macro
    \row_macro 0, t1, a2
    \row_macro 1, t2, a3
    \row_macro 2, t4, a4
    \row_macro 3, t6, a5
    lw      t1, (F_SUMS_A + 16)(sp)
    \row_macro 4, t1, a6
    lw      t1, (F_SUMS_A + 20)(sp)
    \row_macro 5, t1, a7
    lw      t1, (F_SUMS_A + 24)(sp)
    \row_macro 6, t1, s2
    lw      t1, (F_SUMS_A + 28)(sp)
    \row_macro 7, t1, s3
    lw      t1, (F_SUMS_A + 32)(sp)
    \row_macro 8, t1, s4
    lw      t1, (F_SUMS_A + 36)(sp)
    \row_macro 9, t1, s5
    lw      t1, (F_SUMS_A + 40)(sp)
    \row_macro 10, t1, s6
    lw      t1, (F_SUMS_A + 44)(sp)
    \row_macro 11, t1, s7
    lw      t1, (F_SUMS_A + 48)(sp)
    \row_macro 12, t1, s8
    lw      t1, (F_SUMS_A + 52)(sp)
    \row_macro 13, t1, s9
    lw      t1, (F_SUMS_A + 56)(sp)
    \row_macro 14, t1, s10
    lw      t1, (F_SUMS_A + 60)(sp)
    \row_macro 15, t1, s11
.endm

/* void tr_rv32_bytes_blocks(const tr_dense_t *dense, const tr_requant_t *rq2, const int16_t *a, const int16_t *b,
 *                           int32_t *out, int32_t *out2) (tr_rv32_job.h): every row of the product: its full blocks of 16 rows, then the
 * last block of the rows % 16 others (padded to a width of 4, 8 or 16: their sums into the frame, then a loop over
 * the rows). */
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
    sw      s11, (F_SAVED + 44)(sp)
    sw      ra, F_RA(sp)
    mv      dense, a0
    sw      a1, F_RQ2(sp)
    sw      a2, F_A(sp)
    sw      a3, F_B(sp)
    sw      a4, F_OUT(sp)
    sw      a5, F_OUT2(sp)
    lw      weights, TR_DENSE_WEIGHTS(dense)
    lw      t0, TR_DENSE_REQUANT(dense)
    sw      t0, F_RQ(sp)
    lhu     t0, TR_DENSE_ROWS(dense)
    srli    t0, t0, 4
    sw      t0, F_BLOCKS(sp)
    beqz    t0, .Llast_block
.Lblock:
    lw      input, F_A(sp)
    lhu     cols, TR_DENSE_COLS_A(dense)
    jal     ra, .Linput_a               /* rows 0..3 stay in t1, t2, t4, t6 (input b's subroutine keeps them) */
    sw      a6, (F_SUMS_A + 16)(sp)
    sw      a7, (F_SUMS_A + 20)(sp)
    sw      s2, (F_SUMS_A + 24)(sp)
    sw      s3, (F_SUMS_A + 28)(sp)
    sw      s4, (F_SUMS_A + 32)(sp)
    sw      s5, (F_SUMS_A + 36)(sp)
    sw      s6, (F_SUMS_A + 40)(sp)
    sw      s7, (F_SUMS_A + 44)(sp)
    sw      s8, (F_SUMS_A + 48)(sp)
    sw      s9, (F_SUMS_A + 52)(sp)
    sw      s10, (F_SUMS_A + 56)(sp)
    sw      s11, (F_SUMS_A + 60)(sp)
    lw      input, F_B(sp)
    lhu     cols, TR_DENSE_COLS_B(dense)
    jal     ra, .Linput
    lw      a0, F_RQ(sp)
    lw      a1, F_OUT(sp)
    lw      t5, F_RQ2(sp)
    bnez    t5, .Lpair_rows
    tr_rv32_rows tr_rv32_row
    j       .Lnext
.Lpair_rows:
    lw      ra, F_OUT2(sp)
    tr_rv32_rows tr_rv32_row_pair
    addi    t5, t5, 16 * TR_REQUANT_SIZE
    sw      t5, F_RQ2(sp)
    addi    ra, ra, 64
    sw      ra, F_OUT2(sp)
.Lnext:
    addi    a0, a0, 16 * TR_REQUANT_SIZE
    sw      a0, F_RQ(sp)
    addi    a1, a1, 64
    sw      a1, F_OUT(sp)
    lw      t0, F_BLOCKS(sp)
    addi    t0, t0, -1
    sw      t0, F_BLOCKS(sp)
    bnez    t0, .Lblock
.Llast_block:
    lhu     t4, TR_DENSE_ROWS(dense)
    andi    t4, t4, 15                  /* its rows */
    beqz    t4, .Lreturn
    sw      t4, F_BLOCKS(sp)
    li      t0, 8
    bgtu    t4, t0, .Llast_16
    li      t0, 4
    bgtu    t4, t0, .Llast_8
    lw      input, F_A(sp)              /* width 4 */
    lhu     cols, TR_DENSE_COLS_A(dense)
    jal     ra, .Linput_4
    lw      t5, F_RQ2(sp)               /* 4 rows over input a alone, without a second requantisation (a head */
    lw      t0, F_BLOCKS(sp)            /* of 4): acc_b is 0, so its product is too; the rows from registers */
    lhu     t1, TR_DENSE_COLS_B(dense)
    addi    t0, t0, -4
    or      t0, t0, t5
    or      t0, t0, t1
    bnez    t0, .Llast_4_both
    lw      a0, F_RQ(sp)
    lw      a1, F_OUT(sp)
    tr_rv32_row_half 0, a2, a0, a1
    tr_rv32_row_half 1, a3, a0, a1
    tr_rv32_row_half 2, a4, a0, a1
    tr_rv32_row_half 3, a5, a0, a1
    j       .Lreturn
.Llast_4_both:
    tr_rv32_store_sums 4, F_SUMS_A
    lw      input, F_B(sp)
    lhu     cols, TR_DENSE_COLS_B(dense)
    jal     ra, .Linput_4
    lw      t5, F_RQ2(sp)               /* 4 rows without a second requantisation (a head of 4): unrolled, input */
    lw      t0, F_BLOCKS(sp)            /* b's sums from their registers */
    addi    t0, t0, -4
    or      t0, t0, t5
    bnez    t0, .Llast_4_rows
    lw      a0, F_RQ(sp)
    lw      a1, F_OUT(sp)
    lw      t1, (F_SUMS_A + 0)(sp)
    tr_rv32_row 0, t1, a2
    lw      t1, (F_SUMS_A + 4)(sp)
    tr_rv32_row 1, t1, a3
    lw      t1, (F_SUMS_A + 8)(sp)
    tr_rv32_row 2, t1, a4
    lw      t1, (F_SUMS_A + 12)(sp)
    tr_rv32_row 3, t1, a5
    j       .Lreturn
.Llast_4_rows:
    tr_rv32_store_sums 4, F_SUMS_B
    j       .Llast_rows
.Llast_8:
    tr_rv32_last_block_sums .Linput_8, 8
    j       .Llast_rows
.Llast_16:
    tr_rv32_last_block_sums .Linput, 16
.Llast_rows:                            /* a3 walks the frame's sums (by 4 bytes a row) up to a4 */
    lw      a0, F_RQ(sp)
    lw      a1, F_OUT(sp)
    lw      t5, F_RQ2(sp)
    lw      ra, F_OUT2(sp)
    lw      a4, F_BLOCKS(sp)
    slli    a4, a4, 2
    add     a4, a4, sp
    mv      a3, sp
    bnez    t5, .Llast_pairs
1:
    lw      t1, F_SUMS_A(a3)
    lw      a2, F_SUMS_B(a3)
    tr_rv32_row 0, t1, a2
    addi    a0, a0, TR_REQUANT_SIZE
    addi    a1, a1, 4
    addi    a3, a3, 4
    bne     a3, a4, 1b
    j       .Lreturn
.Llast_pairs:
    lw      t1, F_SUMS_A(a3)
    lw      a2, F_SUMS_B(a3)
    tr_rv32_row_pair 0, t1, a2
    addi    a0, a0, TR_REQUANT_SIZE
    addi    a1, a1, 4
    addi    t5, t5, TR_REQUANT_SIZE
    addi    ra, ra, 4
    addi    a3, a3, 4
    bne     a3, a4, .Llast_pairs
.Lreturn:
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

/* The input subroutine (its registers, called with JAL ra): the block's 16 row sums over `cols` columns of `input`
 * into r0..r3 (rows 0..3), a6, a7, s2..s11; advances the weights past them. The first column starts the sums (MUL
 * into them: no zeroing, no ADD); an input without columns gives zeros. t1, t2, t4, t6 are not touched. */
.macro tr_rv32_input r0, r1, r2, r3
    beqz    cols, 5f
    lh      t3, 0(input)
    lb      t0, 0(weights)
    mul     \r0, t0, t3
    lb      t0, 1(weights)
    mul     \r1, t0, t3
    lb      t0, 2(weights)
    mul     \r2, t0, t3
    lb      t0, 3(weights)
    mul     \r3, t0, t3
    lb      t0, 4(weights)
    mul     a6, t0, t3
    lb      t0, 5(weights)
    mul     a7, t0, t3
    lb      t0, 6(weights)
    mul     s2, t0, t3
    lb      t0, 7(weights)
    mul     s3, t0, t3
    lb      t0, 8(weights)
    mul     s4, t0, t3
    lb      t0, 9(weights)
    mul     s5, t0, t3
    lb      t0, 10(weights)
    mul     s6, t0, t3
    lb      t0, 11(weights)
    mul     s7, t0, t3
    lb      t0, 12(weights)
    mul     s8, t0, t3
    lb      t0, 13(weights)
    mul     s9, t0, t3
    lb      t0, 14(weights)
    mul     s10, t0, t3
    lb      t0, 15(weights)
    mul     s11, t0, t3
    addi    weights, weights, 16
    addi    input, input, 2
    addi    cols, cols, -1
    andi    t5, cols, -4                /* the columns of whole 4-column turns */
    slli    t5, t5, 1
    add     t5, t5, input
    beq     input, t5, 2f
1:
    lh      t3, 0(input)
    tr_rv32_column 0, t3, \r0, \r1, \r2, \r3
    lh      t3, 2(input)
    tr_rv32_column 16, t3, \r0, \r1, \r2, \r3
    lh      t3, 4(input)
    tr_rv32_column 32, t3, \r0, \r1, \r2, \r3
    lh      t3, 6(input)
    tr_rv32_column 48, t3, \r0, \r1, \r2, \r3
    addi    weights, weights, 64
    addi    input, input, 8
    bne     input, t5, 1b
2:
    andi    cols, cols, 3               /* the last 0..3 columns */
    beqz    cols, 4f
3:
    lh      t3, 0(input)
    tr_rv32_column 0, t3, \r0, \r1, \r2, \r3
    addi    weights, weights, 16
    addi    input, input, 2
    addi    cols, cols, -1
    bnez    cols, 3b
4:
    ret
5:
    li      \r0, 0
    li      \r1, 0
    li      \r2, 0
    li      \r3, 0
    li      a6, 0
    li      a7, 0
    li      s2, 0
    li      s3, 0
    li      s4, 0
    li      s5, 0
    li      s6, 0
    li      s7, 0
    li      s8, 0
    li      s9, 0
    li      s10, 0
    li      s11, 0
    ret
.endm

.Linput:
    tr_rv32_input a2, a3, a4, a5
.Linput_a:                              /* input a of a full block: rows 0..3 into t1, t2, t4, t6 */
    tr_rv32_input t1, t2, t4, t6
.Linput_4:
    tr_rv32_input_narrow 4
.Linput_8:
    tr_rv32_input_narrow 8
    .size   tr_rv32_bytes_blocks, . - tr_rv32_bytes_blocks

#endif /* TR_FAST_PATH_RV32 */
