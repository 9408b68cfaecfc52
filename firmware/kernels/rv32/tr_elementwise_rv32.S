/*
 * The RV32IM element-wise loops: the table activations over a vector (tr_activation.c) and the per-unit cell
 * updates of the GRU reset_after step (tr_gru.c) and the LSTM step (tr_lstm.c), which the C callers hand over whole
 * on this path (tr_fast_rv32.h declares them). Twin: quantize/twin/fixedpoint.py, quantize/twin/cells.py.
 *
 * Why assembly: GCC's code for these loops takes ~19 instructions a sigmoid and ~45 a GRU unit (a 64-bit product
 * rounded through a carry, the table word split by shifts, a pointer increment per array). Here two units (values)
 * a turn share the increments, the constants stay in registers, and the same integers are formed:
 *  - table lookup (TR_SYMMETRIC_INTERP): t = z + 2^(sat-1) is the offset from the table's first word, so the
 *    segment is t >> seg_bits (unsigned) and the fraction t & (2^seg_bits - 1) (the offset is whole segments); t
 *    is in range exactly when its segment is below TR_ASM_TABLE_SEGMENTS (a negative t, or one that wrapped, reads
 *    as a large unsigned one). Out of range, the sign of z picks the end, t = 0 or 2^sat - 1. The segment word's
 *    start and rise are its two halfwords, read sign-extended by LH (little-endian: tr_rv32_job.h checks);
 *  - tr_add_gate_mul_q15(a, g, v) = a + ((g v + 2^14) >> 15) with 0 <= g < 2^15 (a sigmoid output; the tables'
 *    largest value is 32767): with u = g << 17 (< 2^32, read unsigned) the 64-bit product v u is g v 2^17, whose
 *    high word (MULHSU) is floor(g v / 2^15) and whose low word's bit 31 (MUL) is bit 14 of g v, the rounding;
 *  - the GRU update needs no sat16: with 0 <= z <= 2^15 - 1 and d = h - nj, (z d + 2^14) >> 15 lies between 0 and
 *    d inclusive, so the new h lies between nj and h, both int16 (the twin's sat16 never clamps there).
 * An odd count enters the two-unit loop at its second unit with every pointer one unit back. The table geometry
 * comes from tr_layout.h (generated; tr_rv32_job.h checks it against tr_tables.h). Other targets assemble this
 * file to nothing.
 */
#include "../tr_fast_path.h"
#include "../tr_layout.h"

    /* on every target, so that even an empty object has a symbol table (MicroPython's mpy_ld requires one) */
    .file "tr_elementwise_rv32.S"

#if TR_FAST_PATH_RV32

/* A routine of its own section (the linker drops what is not called). */
.macro tr_rv32_function name
    .section .text.\name, "ax", @progbits
    .p2align 2
    .globl  \name
    .type   \name, @function
\name:
.endm

.macro tr_rv32_end name
    .size   \name, . - \name
.endm

/* Registers of every routine (the preprocessor substitutes them into the macros where these are defined): the
 * table (tr_*_seg: the cell loops' fifth argument), 2^(sat-1), TR_ASM_TABLE_SEGMENTS, 2^14 (the rounding of >> 15). */
#define seg a4
#define half a5
#define segments a6
#define round15 a7

/* out = the table value for z (clobbers t, idx, rise): t = z + half; the in-range path falls through, the
 * out-of-range one goes to label clamp, which sets t and idx by tr_rv32_clamp and comes back to label in. */
.macro tr_rv32_offset z, t, idx, seg_bits, clamp
    add     \t, \z, half
    srli    \idx, \t, \seg_bits
    bgeu    \idx, segments, \clamp
.endm

.macro tr_rv32_interp out, t, idx, rise, seg_bits
    slli    \idx, \idx, 2
    add     \idx, \idx, seg
    lh      \rise, 2(\idx)
    lh      \out, 0(\idx)               /* start */
    andi    \t, \t, ((1 << \seg_bits) - 1)  /* fraction */
    mul     \rise, \rise, \t
    addi    \rise, \rise, (1 << (\seg_bits - 1))
    srai    \rise, \rise, \seg_bits
    add     \out, \out, \rise
.endm

/* Out of range: t = 0 for a negative z, else 2^sat - 1; idx its segment; then back to label in. */
.macro tr_rv32_clamp z, t, idx, sat_bits, seg_bits, in
    srai    \t, \z, 31
    not     \t, \t
    srli    \t, \t, (32 - \sat_bits)
    srli    \idx, \t, \seg_bits
    j       \in
.endm

/* void name(int32_t *z, int n, const int32_t *seg): z[0..n) = act(z) in place (Q14 in, Q15 out) by the table seg
 * (tr_*_seg) of sat_bits / seg_bits. Two values a turn: a0 the pair (advanced), a1 the end. */
.macro tr_rv32_activation name, sat_bits, seg_bits
tr_rv32_function \name
    blez    a1, .L\name\()_ret
    mv      seg, a2
    andi    t0, a1, 1                   /* an odd count */
    slli    a1, a1, 2
    add     a1, a1, a0                  /* end */
    li      half, (1 << (\sat_bits - 1))
    li      segments, TR_ASM_TABLE_SEGMENTS
    beqz    t0, .L\name\()_first
    addi    a0, a0, -4                  /* odd: the first value as a pair's second */
    j       .L\name\()_second
.L\name\()_first:
    lw      t0, 0(a0)
    tr_rv32_offset t0, t1, t2, \seg_bits, .L\name\()_clamp0
.L\name\()_in0:
    tr_rv32_interp t3, t1, t2, t4, \seg_bits
    sw      t3, 0(a0)
.L\name\()_second:
    lw      t0, 4(a0)
    tr_rv32_offset t0, t1, t2, \seg_bits, .L\name\()_clamp1
.L\name\()_in1:
    tr_rv32_interp t3, t1, t2, t4, \seg_bits
    sw      t3, 4(a0)
    addi    a0, a0, 8
    bne     a0, a1, .L\name\()_first
.L\name\()_ret:
    ret
.L\name\()_clamp0:
    tr_rv32_clamp t0, t1, t2, \sat_bits, \seg_bits, .L\name\()_in0
.L\name\()_clamp1:
    tr_rv32_clamp t0, t1, t2, \sat_bits, \seg_bits, .L\name\()_in1
tr_rv32_end \name
.endm

tr_rv32_activation tr_rv32_sigmoid_q15, TR_ASM_SIGMOID_SAT_BITS, TR_ASM_SIGMOID_SEG_BITS
tr_rv32_activation tr_rv32_tanh_q15, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS


/* a + ((g v + 2^14) >> 15) into a (g is clobbered into g << 17, v into the high word; t works). */
.macro tr_rv32_add_gate_mul a, g, v, t
    slli    \g, \g, 17
    mul     \t, \v, \g
    mulhsu  \v, \v, \g
    srli    \t, \t, 31
    add     \a, \a, \v
    add     \a, \a, \t
.endm

/* void tr_rv32_gru_update(const int32_t *z, int16_t *h, int32_t count, int32_t units, const int32_t *tanh_seg):
 * the GRU reset_after cell update of count units from z (tr_gru.c): with r, n, c at z + units, + 2 units,
 * + 3 units, pre = n + round_shift(r c, 15), nj = tanh(pre), h = nj + ((z (h - nj) + 2^14) >> 15) (= its sat16:
 * above). Two units a turn: a0 z, t5 r, t6 n, a3 c (advanced), a1 h (advanced), a2 the end of z. */
#define zp a0
#define hp a1
#define z_end a2
#define cp a3
#define rp t5
#define np t6

/* Unit k of the turn: the registers t0..t4 work. */
.macro tr_rv32_gru_unit k
    lw      t0, (4 * \k)(rp)            /* r */
    lw      t1, (4 * \k)(cp)            /* c */
    lw      t2, (4 * \k)(np)            /* n */
    tr_rv32_add_gate_mul t2, t0, t1, t3 /* pre */
    tr_rv32_offset t2, t1, t3, TR_ASM_TANH_SEG_BITS, .Ltr_rv32_gru_clamp\k
.Ltr_rv32_gru_in\k:
    tr_rv32_interp t0, t1, t3, t4, TR_ASM_TANH_SEG_BITS   /* nj */
    lh      t1, (2 * \k)(hp)            /* h */
    lw      t3, (4 * \k)(zp)            /* z */
    sub     t1, t1, t0
    mul     t1, t1, t3
    add     t1, t1, round15
    srai    t1, t1, 15
    add     t1, t1, t0                  /* the new h, in range (no sat16: above) */
    sh      t1, (2 * \k)(hp)
.endm

tr_rv32_function tr_rv32_gru_update
    blez    a2, .Ltr_rv32_gru_ret
    slli    a3, a3, 2                   /* 4 units: bytes from z to r, r to n, n to c */
    add     rp, zp, a3
    add     np, rp, a3
    add     cp, np, a3
    slli    a2, a2, 2
    add     z_end, z_end, zp
    li      half, (1 << (TR_ASM_TANH_SAT_BITS - 1))
    li      segments, TR_ASM_TABLE_SEGMENTS
    li      round15, (1 << 14)
    sub     t0, z_end, zp
    andi    t0, t0, 4
    beqz    t0, .Ltr_rv32_gru_turn      /* an even count */
    addi    zp, zp, -4                  /* odd: the first unit as a turn's second */
    addi    rp, rp, -4
    addi    np, np, -4
    addi    cp, cp, -4
    addi    hp, hp, -2
    j       .Ltr_rv32_gru_second
.Ltr_rv32_gru_turn:
    tr_rv32_gru_unit 0
.Ltr_rv32_gru_second:
    tr_rv32_gru_unit 1
    addi    zp, zp, 8
    addi    rp, rp, 8
    addi    np, np, 8
    addi    cp, cp, 8
    addi    hp, hp, 4
    bne     zp, z_end, .Ltr_rv32_gru_turn
.Ltr_rv32_gru_ret:
    ret
.Ltr_rv32_gru_clamp0:
    tr_rv32_clamp t2, t1, t3, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS, .Ltr_rv32_gru_in0
.Ltr_rv32_gru_clamp1:
    tr_rv32_clamp t2, t1, t3, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS, .Ltr_rv32_gru_in1
tr_rv32_end tr_rv32_gru_update

#undef zp
#undef hp
#undef z_end
#undef cp
#undef rp
#undef np

/* void tr_rv32_lstm_update(const int32_t *i_gate, int32_t units, int16_t *h, int32_t *c, const int32_t *tanh_seg):
 * the LSTM cell update of units units (tr_lstm.c): with f, g, o at i + units, + 2 units, + 3 units,
 * c = round_shift(i g, 16) + round_shift(f c, 15) (int64 product), h = (o tanh(c) + 2^14) >> 15. Two units a
 * turn: a0 i, t5 f, t6 g, s0 o, a3 c, a2 h (advanced), a1 the end of i; s1 2^15 (the rounding of >> 16). */
#define ip a0
#define i_end a1
#define hp a2
#define cp a3
#define fp_ t5
#define gp_ t6
#define op s0
#define round16 s1

/* Unit k of the turn: the registers t0..t4 work. */
.macro tr_rv32_lstm_unit k
    lw      t0, (4 * \k)(fp_)           /* f */
    lw      t1, (4 * \k)(cp)            /* c */
    lw      t2, (4 * \k)(ip)            /* i */
    lw      t3, (4 * \k)(gp_)           /* g */
    mul     t2, t2, t3
    add     t2, t2, round16
    srai    t2, t2, 16                  /* round_shift(i g, 16) */
    tr_rv32_add_gate_mul t2, t0, t1, t3 /* the new c */
    sw      t2, (4 * \k)(cp)
    tr_rv32_offset t2, t1, t3, TR_ASM_TANH_SEG_BITS, .Ltr_rv32_lstm_clamp\k
.Ltr_rv32_lstm_in\k:
    tr_rv32_interp t0, t1, t3, t4, TR_ASM_TANH_SEG_BITS   /* tanh(c) */
    lw      t1, (4 * \k)(op)            /* o */
    mul     t1, t1, t0
    add     t1, t1, round15
    srai    t1, t1, 15
    sh      t1, (2 * \k)(hp)
.endm

tr_rv32_function tr_rv32_lstm_update
    blez    a1, .Ltr_rv32_lstm_ret
    addi    sp, sp, -16
    sw      s0, 0(sp)
    sw      s1, 4(sp)
    slli    a1, a1, 2                   /* 4 units: bytes from i to f, f to g, g to o */
    add     fp_, ip, a1
    add     gp_, fp_, a1
    add     op, gp_, a1
    add     i_end, i_end, ip
    li      half, (1 << (TR_ASM_TANH_SAT_BITS - 1))
    li      segments, TR_ASM_TABLE_SEGMENTS
    li      round15, (1 << 14)
    li      round16, (1 << 15)
    sub     t0, i_end, ip
    andi    t0, t0, 4
    beqz    t0, .Ltr_rv32_lstm_turn     /* an even count */
    addi    ip, ip, -4                  /* odd: the first unit as a turn's second */
    addi    fp_, fp_, -4
    addi    gp_, gp_, -4
    addi    op, op, -4
    addi    cp, cp, -4
    addi    hp, hp, -2
    j       .Ltr_rv32_lstm_second
.Ltr_rv32_lstm_turn:
    tr_rv32_lstm_unit 0
.Ltr_rv32_lstm_second:
    tr_rv32_lstm_unit 1
    addi    ip, ip, 8
    addi    fp_, fp_, 8
    addi    gp_, gp_, 8
    addi    op, op, 8
    addi    cp, cp, 8
    addi    hp, hp, 4
    bne     ip, i_end, .Ltr_rv32_lstm_turn
    lw      s0, 0(sp)
    lw      s1, 4(sp)
    addi    sp, sp, 16
.Ltr_rv32_lstm_ret:
    ret
.Ltr_rv32_lstm_clamp0:
    tr_rv32_clamp t2, t1, t3, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS, .Ltr_rv32_lstm_in0
.Ltr_rv32_lstm_clamp1:
    tr_rv32_clamp t2, t1, t3, TR_ASM_TANH_SAT_BITS, TR_ASM_TANH_SEG_BITS, .Ltr_rv32_lstm_in1
tr_rv32_end tr_rv32_lstm_update

#undef ip
#undef i_end
#undef hp
#undef cp
#undef fp_
#undef gp_
#undef op
#undef round16
#undef seg
#undef half
#undef segments
#undef round15

#endif /* TR_FAST_PATH_RV32 */
